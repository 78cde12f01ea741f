"""Plotly figure builders for the pages. Plain functions of data; no Streamlit. The map
(``embedding_map``) and the palette live in ``ssrl_core.figures``, shared with the export."""
from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go

from ssrl_core import figures
from ssrl_core.figures import PALETTE

# chart text in px: Plotly's default of 12 (ticks, legends, axis titles) is a quarter smaller than the
# page's 16 px text and could not be read from the back of a classroom on a 1024x768 projector
FONT = 15


def readable(fig: go.Figure) -> go.Figure:
    """``fig`` with the app's chart text size (every chart on the pages goes through here)."""
    # each part by name: Streamlit's chart theme sets the ticks', legend's and titles' sizes itself
    fig.update_layout(font=dict(size=FONT), legend=dict(font=dict(size=FONT)), title=dict(font=dict(size=FONT + 3)))
    fig.update_xaxes(tickfont=dict(size=FONT), title=dict(font=dict(size=FONT)))
    fig.update_yaxes(tickfont=dict(size=FONT), title=dict(font=dict(size=FONT)))
    fig.update_traces(textfont=dict(size=FONT - 1), selector=dict(type="bar"))
    return fig


def describe(fig: go.Figure) -> str:
    """A chart in a sentence, for screen readers (``st.plotly_chart``'s ``alt``): what it plots
    and the names of its series, or for a map how many images it shows and what colours them."""
    lay, data = fig.layout, fig.data
    title = lay.title.text or ""
    legend = [t.name for t in data if t.name and t.showlegend is not False]
    if lay.xaxis.visible is False:  # the embedding map: points without axes
        n = len(data[0].x) if data and data[0].x is not None else 0
        colours = [t.name for t in data[1:] if t.x is not None and tuple(t.x) == (None,)]  # legend-only traces
        marks = [t.name for t in data[1:] if t.name and t.name not in colours]  # selected, neighbours, your image
        return (f"{title + ': ' if title else ''}map of {n:,} images, each a point placed near images with similar "
                f"features, coloured by {', '.join(colours[:20]) or 'one value'}"
                + ("; each group's name is written where most of its points are" if lay.annotations else "")
                + (f"; marked: {', '.join(marks)}" if marks else ""))
    kind = "bar chart" if any(t.type == "bar" for t in data) else "line chart"
    what = f"{lay.yaxis.title.text or 'value'} by {lay.xaxis.title.text or 'category'}"
    return f"{kind}{' ' + repr(title) if title else ''}: {what}; " + ", ".join(legend)


def embedding_map(*args, legend_below: bool = False, **kwargs) -> go.Figure:
    """``ssrl_core.figures.embedding_map`` (the export's too) with the app's text size. With
    ``legend_below`` the legend runs in rows under the map instead of a column beside it: a
    map keeps its aspect ratio, so in a column narrower than it is high (Explore's, on a
    projector, a tablet or a phone) the legend's column was taken from the map's width and
    the height left empty (on a 390 px phone the points spanned 242 px of 358)."""
    fig = readable(figures.embedding_map(*args, **kwargs))
    if legend_below:
        fig.update_layout(legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, x=0,
                                      xanchor="left"))
    return fig


def loss_curve(steps: Sequence[float], losses: Sequence[float], epochs_at: Sequence[float] = (),
               title: str = "pretext loss") -> go.Figure:
    fig = go.Figure(go.Scatter(x=list(steps), y=list(losses), mode="lines", name="loss", line=dict(width=2)))
    for s in epochs_at:
        fig.add_vline(x=s, line=dict(width=1, dash="dot", color="#bbb"))
    fig.update_layout(title=title, height=260, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="step", yaxis_title="loss", showlegend=False)
    return readable(fig)


# a legend in a row along the chart's bottom edge, placed in the figure's coordinates: one placed
# below the plot area by a fraction of its height sat on the axis title in a short chart
BELOW = dict(orientation="h", yref="container", yanchor="bottom", y=0)


def accuracy_bars(labels: Sequence[str], series: dict[str, Sequence[float | None]], title: str = "",
                  references: Sequence[str] = ()) -> go.Figure:
    """Grouped bars: one group per run (``labels``), one bar per metric in ``series``, each
    metric in its colour and fill pattern. The groups named in ``references`` (untrained
    encoders) are drawn in grays, one per metric (``REF_GRAYS``), with the metric's pattern, as
    ``bars`` draws them on Invariance: in the runs' colours they read as two more runs."""
    fig = go.Figure()
    for i, (name, vals) in enumerate(series.items()):
        fig.add_trace(go.Bar(
            x=list(labels), y=[None if v is None else v for v in vals], name=name,
            marker=dict(color=[REF_GRAYS[i % len(REF_GRAYS)] if label in references else PALETTE[i] for label in labels],
                        pattern=dict(shape=PATTERNS[i % len(PATTERNS)])),  # not colour alone
            text=[("" if v is None else f"{v:.3f}") for v in vals], textposition="outside",
            width=min(0.3, 0.8 / max(1, len(series))),
        ))
    fig.update_layout(title=title or None, barmode="group", height=380, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="run", yaxis=dict(title="accuracy on the test split", range=[0, 1.08]), legend=BELOW)
    return readable(fig)


# one per reference of a kind (seeds, encoders), each a dashed line, as the pages' notes call the references ("the
# dashed line is the random encoder"): "dot" was the second's, and a seed-0 random encoder drawn after a seed-1 one was
# dotted, as a run's fine-tuned curve (``DOTTED``) is
DASHES = ("dash", "longdash", "dashdot", "longdashdot")
DOTTED = "dot"  # a run's second curve in its colour (label efficiency: fine-tuned beside the solid linear readout)
# a second cue beside colour, one per run in a chart's order: the palette's third and fourth colours
# (green, red) are 7 CIELAB units apart for a deuteranope and its second and third (orange, green)
# 5 for a protanope, where two lines or bars of a four-run lesson read as one colour
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down")
PATTERNS = ("", "/", ".", "x", "\\", "+", "-", "|")


ACCURACY_SPAN = 0.1  # an accuracy curve's y axis spans at least 10 points (``curves``' min_span)


def curves(series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]], x_title: str,
           y_title: str = "accuracy", title: str = "", log_x: bool = False, dashed: Sequence[str] = (),
           tickvals: Sequence[float] | None = None, ticktext: Sequence[str] | None = None, height: int = 360,
           run_of: dict[str, str] | None = None, dotted: Sequence[str] = (), min_span: float = 0.0) -> go.Figure:
    """Overlaid lines, one per name: (x, y, error bar or None). Names in ``dashed`` (the
    references) are drawn gray-toned, each kind (random, supervised) in its own gray, and
    several of one kind (seeds, encoders) each in its own dash pattern; the runs are solid lines
    in the palette's colours, each with its own marker (``SYMBOLS``). ``run_of``: the run each
    line belongs to, where a run has several (its linear and fine-tuned curves): they share its
    colour and marker, kept as the runs come, so a run's colour does not move when a curve is
    added; names in ``dotted`` are drawn dotted. ``min_span``: the y axis spans at least this
    much, centred on the values (``ACCURACY_SPAN``: a kNN curve from 0.312 to 0.297 filled the
    chart's height and read as a collapse)."""
    fig = go.Figure()
    seen: dict[str, int] = {}  # references drawn so far, per gray
    run_of = run_of or {}
    runs = list(dict.fromkeys(run_of.get(n, n) for n in series if n not in dashed))
    for name, (x, y, err) in series.items():
        ref = name in dashed
        gray = "#444" if name.startswith("random") else "#808080"  # both 3:1 or more on white, apart from each other
        if ref:
            seen[gray] = seen.get(gray, -1) + 1
        i = 0 if ref else runs.index(run_of.get(name, name))
        fig.add_trace(go.Scatter(
            x=list(x), y=list(y), mode="lines+markers", name=name,
            error_y=dict(type="data", array=list(err), visible=True, thickness=1) if err is not None else None,
            line=dict(width=2, dash=DASHES[seen[gray] % len(DASHES)] if ref else DOTTED if name in dotted else "solid",
                      color=gray if ref else PALETTE[i % len(PALETTE)]),
            marker=dict(size=8, symbol="circle" if ref else SYMBOLS[i % len(SYMBOLS)]),
        ))
    ys = [float(v) for _, y, _ in series.values() for v in y if v is not None]
    # one value: Plotly would span -0.5..1.5 around it; close values: it would stretch their difference to full height
    narrow = bool(ys) and max(ys) - min(ys) < max(min_span, 1e-9)
    mid, half = (max(ys) + min(ys)) / 2 if ys else 0.0, max(min_span, 0.1) / 2
    xs = [float(v) for x, _, _ in series.values() for v in x]
    # whole numbers (epochs) over a short span: Plotly would tick 0.5, 1.5 between them
    whole = not log_x and tickvals is None and bool(xs) and all(v.is_integer() for v in xs) and max(xs) - min(xs) <= 10
    fig.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis=dict(title=x_title, type="log" if log_x else "linear", tickvals=tickvals, ticktext=ticktext,
                                 dtick=1 if whole else None),
                      yaxis=dict(title=y_title, range=[mid - half, mid + half] if narrow else None),
                      legend=BELOW,
                      showlegend=True)  # a single line is named too: which run it is
    return readable(fig)


BARGAP = 0.2  # between categories' groups of bars (Plotly's default, named: the labels above whiskers use it)
# bars of references (untrained encoders): each 3:1 or more against the white page (WCAG's bar for
# graphics), neighbours in the list far apart in lightness
REF_GRAYS = ("#8c8c8c", "#4d4d4d", "#767676", "#333333")


def luminance(colour: str) -> float:
    """WCAG's relative luminance of "#rrggbb" or "#rgb" (0 black to 1 white)."""
    digits = colour.lstrip("#")
    digits = "".join(c * 2 for c in digits) if len(digits) == 3 else digits
    r, g, b = (int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG's contrast ratio of two colours, 1 to 21."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def ink(colour: str) -> str:
    """Text colour for a label inside a bar of ``colour``: black or white, whichever contrasts
    more with it (white on orange or on a light gray read at 2:1)."""
    return max(("#000000", "#ffffff"), key=lambda text: contrast(text, colour))


# How many bars carry their value, from the narrowest plot the pages meet: a 1024 px projector with the sidebar open
# leaves the plot about 620 px (the chart is stretched to the column; Plotly has no rule for annotations by width).
# A value label is never written under ``LABEL_FONT``: Plotly shrank a label that did not fit its bar to 9 px, and 27
# bars' upright 12 px labels sat on their whisker caps, side by side (a browser review: unreadable).
PLOT_PX = 620
LABEL_FONT = FONT - 1  # 14 px, level or upright
LEVEL_LABEL_PX = 32  # a bar's width that holds "-0.62" written level at LABEL_FONT, with a gap to the next one
UPRIGHT_LABEL_PX = 18  # ... and written upright: the line's height and a gap (27 bars, two runs and their untrained
# network over the nine ops, which Invariance opens on, keep their values: a class at a projector cannot hover)
WHISKER_GAP_PX = 4  # between a whisker's cap and the label beyond it
CROWDED_BARS = int(PLOT_PX * (1 - BARGAP) // LEVEL_LABEL_PX)  # 15: beyond, values are written upright
PACKED_BARS = int(PLOT_PX * (1 - BARGAP) // UPRIGHT_LABEL_PX)  # 27: beyond, only cut bars are labelled (hover, axis)


def bars(categories: Sequence[str], series: dict[str, Sequence[float | None]], y_title: str, title: str = "",
         chance: Sequence[float] | None = None, y_range: tuple[float, float] | None = None,
         errors: Sequence[Sequence[float | None]] | None = None, references: Sequence[str] = ()) -> go.Figure:
    """Grouped bars per category (one bar per name in ``series``); ``chance`` per category
    is drawn as a short black line over its group. With ``y_range``, a value beyond it is
    drawn to the range's edge (cut) and labelled inside the plot at that edge, where the label
    stays visible; hovering shows every value. The value axis starts at 0 where no bar or
    whisker goes below it, else a little below the lowest one (``_headroom``), never below
    ``y_range``'s bottom. ``errors`` (one list per series, in its order) draws ± error bars on
    the bars that are not cut; such a bar's label sits beyond its whisker, clear of the cap (an
    annotation: a bar's own outside label would sit on the whisker). Past ``CROWDED_BARS`` the
    labels are upright, past ``PACKED_BARS`` left to the hover but for cut bars', and never
    under ``LABEL_FONT`` (Plotly hides a bar's label that would have to shrink). Names in
    ``references`` are drawn in grays, the runs in the palette's colours, each with its own
    fill pattern (``PATTERNS``). A None value is "n/a": labelled so on its bar's place, or once
    over a category where every value is None."""
    fig = go.Figure()
    lo, hi = y_range if y_range else (None, None)
    refs = [n for n in series if n in references]
    runs = [n for n in series if n not in references]
    colour = {**{n: PALETTE[i % len(PALETTE)] for i, n in enumerate(runs)},
              **{n: REF_GRAYS[i % len(REF_GRAYS)] for i, n in enumerate(refs)}}
    width = (1 - BARGAP) / len(series)  # each bar's share of a category's group, as Plotly lays them out
    # many bars side by side are narrower than a label ("1.001.001.00" ran together): their values are written
    # upright; with more still, left to the hover and the axis (which a projector's class cannot hover), but for a cut
    # bar's, which the axis cannot give
    crowded = len(series) * len(categories) > CROWDED_BARS
    packed = len(series) * len(categories) > PACKED_BARS
    angle = -90 if crowded else 0
    label_font = dict(size=LABEL_FONT)
    # a category no series has a value for (a colour op on grayscale images) has no bar to carry a label, crowded or
    # not: one "n/a" over its place says so
    empty = {j for j in range(len(categories)) if all(vals[j] is None for vals in series.values())}
    for j in sorted(empty):
        fig.add_annotation(x=j, y=0, text="n/a", showarrow=False, yanchor="bottom", font=label_font)
    shown_errors = []
    for i, (name, vals) in enumerate(series.items()):
        cut = [v is not None and ((lo is not None and v < lo) or (hi is not None and v > hi)) for v in vals]
        err = list(errors[i]) if errors is not None else [None] * len(vals)
        shown_err = [0 if c or e is None else e for e, c in zip(err, cut)]
        shown_errors.append(shown_err)
        above = [bool(e) and v is not None and not packed for v, e in zip(vals, shown_err)]  # above its whisker
        for j, v in enumerate(vals):
            x = j - (1 - BARGAP) / 2 + width * (i + 0.5)
            if above[j]:  # beyond the whisker's cap by a few pixels, not touching it
                top = v + shown_err[j] if v >= 0 else v - shown_err[j]
                fig.add_annotation(x=x, y=top, text=f"{v:.2f}", showarrow=False, textangle=angle,
                                   yanchor="bottom" if v >= 0 else "top", font=label_font,
                                   yshift=WHISKER_GAP_PX if v >= 0 else -WHISKER_GAP_PX)
            elif cut[j]:  # at the axis's edge, on white: inside a patterned bar its value could not be read
                fig.add_annotation(x=x, y=lo if v < lo else hi, text=f"{v:.2f}", showarrow=False, textangle=angle,
                                   yanchor="bottom" if v < lo else "top", bgcolor="rgba(255,255,255,0.9)",
                                   font=label_font, borderpad=1)
        fig.add_trace(go.Bar(
            error_y=dict(type="data", array=shown_err, visible=True, thickness=1.2) if any(shown_err) else None,
            x=list(categories), y=[min(max(v, lo), hi) if c else v for v, c in zip(vals, cut)], name=name,
            marker=dict(color=colour[name],
                        pattern=dict(shape=PATTERNS[runs.index(name) % len(PATTERNS)] if name in runs else "")),
            customdata=list(vals),
            text=[("n/a" if v is None else f"{v:.2f}") for v in vals],
            textposition=["none" if c or a or packed or j in empty else "outside"
                          for j, (c, a) in enumerate(zip(cut, above))],
            textangle=angle, outsidetextfont=label_font,
            hovertemplate="%{x}: %{text}<extra>%{fullData.name}</extra>"))
    if chance is not None:
        fig.add_trace(go.Scatter(x=list(categories), y=list(chance), mode="markers", name="chance",
                                 marker=dict(symbol="line-ew", size=40, line=dict(width=3, color="#111"))))
    fig.update_layout(title=title or None, barmode="group", bargap=BARGAP, height=380, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      yaxis=dict(title=y_title, range=_headroom(series, shown_errors, y_range,
                                                                labels="none" if packed else "upright" if crowded else "level")),
                      xaxis=dict(automargin=True), legend=BELOW,
                      # a bar's own label that does not fit its bar at LABEL_FONT is hidden (the hover has it), not
                      # shrunk to an unreadable 9 px
                      uniformtext=dict(minsize=LABEL_FONT, mode="hide"))
    return readable(fig)


# room beyond the lowest or highest bar's end for its label, as a share of the axis's span: an upright "-0.62" at
# LABEL_FONT is about 35 px of the plot's 250 or so, a level one 17 px
LABEL_ROOM = {"level": 0.12, "upright": 0.2, "none": 0.03}


def _headroom(series: dict[str, Sequence[float | None]], errors, limits: tuple[float, float] | None = None,
              labels: str = "level") -> list[float] | None:
    """The value axis's range for bars and their whiskers (``errors``, one list per series), with
    room beyond the tallest and the lowest for their labels (``LABEL_ROOM[labels]``): Plotly's
    own range ended at the bar's top, and the label written above it was cut off (a lesson's
    0.94 at the chart's top edge). It starts at 0 where nothing goes below 0, else below the
    lowest end by that room, rounded down to a tenth of the span's order of magnitude (from -0.2,
    not -0.1837, on an axis of about 1). With ``limits`` (where bars are cut) the range ends at
    its top and starts no lower than its bottom: the invariance chart's fixed -1 left half the
    chart empty where every score was above 0. None (Plotly's range) when there is no value and no ``limits``."""
    ends = [v + sign * abs(e or 0)  # both whiskers' ends: one of a bar just above 0 can reach below it
            for i, vals in enumerate(series.values())
            for v, e in zip(vals, list(errors[i]) if errors is not None else [None] * len(vals)) if v is not None
            for sign in (1, -1)]
    floor, ceiling = limits if limits else (None, None)
    if floor is not None:
        ends = [max(min(v, ceiling), floor) for v in ends]  # a cut bar ends at the limit
    if not ends:
        return list(limits) if limits else None
    lo, hi = min(0.0, *ends), max(0.0, *ends)
    if ceiling is not None:
        hi = max(hi, ceiling)  # the axis's top stays where the cut is, so bars compare across charts
    span = (hi - lo) or 1.0
    pad = LABEL_ROOM[labels] * span
    tick = 10.0 ** math.floor(math.log10(span)) / 10
    bottom = math.floor(round((lo - pad) / tick, 9)) * tick if lo < 0 else 0.0
    if floor is not None:
        bottom = max(bottom, floor)
    top = hi if ceiling is not None else hi + (pad if hi > 0 else 0.0)
    return [round(bottom, 9), top]


def label_efficiency(series: dict, references: dict, height: int = 360) -> go.Figure:
    """Accuracy against labelled images per class (log axis, ticks 1, 5, 10, 50, "all (N)"):
    ``series`` solid ("RUN linear"; "RUN fine-tuned" dotted, in its run's colour), ``references``
    dashed; each value is (x, mean, std) as from ``readouts.budget_curve``."""
    from .readouts import budget_ticks

    ticks, names = budget_ticks(list(series.values()) + list(references.values()))
    run_of = {n: n.removesuffix(" linear").removesuffix(" fine-tuned") for n in series}
    return curves({**series, **references}, "labelled images per class (log scale)", log_x=True,
                  dashed=list(references), tickvals=ticks, ticktext=names, height=height, run_of=run_of,
                  dotted=[n for n in series if n.endswith(" fine-tuned")])
