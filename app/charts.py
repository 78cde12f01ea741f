"""Plotly figure builders for the pages. Plain functions of data; no Streamlit. The map
(``embedding_map``) and the palette live in ``ssrl_core.figures``, shared with the export."""
from __future__ import annotations

import html
import math
from typing import Sequence

import plotly.graph_objects as go

from ssrl_core import figures
from ssrl_core.figures import PALETTE

# chart text in px: Plotly's default of 12 (ticks, legends, axis titles) is a quarter smaller than the
# page's 16 px text and could not be read from the back of a classroom on a 1024x768 projector
FONT = 15


# Plotly's toolbar (its "modebar": download, zoom, reset, and Streamlit's fullscreen) floats over the figure's top right
# corner, 26 px high and 2 px below its top edge. A touch screen has no hover, so there it is shown all the time: on a
# 390 px phone it was 224 px wide and sat on the titles ("kNN over epochs", a map's "simclr (12dd) · umap") and on the
# top of the plot (Evaluate's label-efficiency curves end there). The figure's top ``TOOLBAR_PX`` are left to it.
TOOLBAR_PX = 30
TITLE_PX = 30  # a title's line (``FONT`` + 3) with a few pixels under it, below the toolbar's strip
# the toolbar's buttons that add nothing: a curve or a bar chart keeps download, box zoom and reset (a drag zooms, a
# double click resets too, but a phone has no double click); a map keeps pan and the zoom buttons, which are a
# phone's only zoom (no pinch in Plotly); autoscale is reset's twin on these charts
TOOLBAR_REMOVED = ("pan2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "select2d", "lasso2d")
MAP_TOOLBAR_REMOVED = ("autoScale2d", "select2d", "lasso2d")
# what every chart is shown with (``widgets.chart``): the mouse wheel scrolls the page, never zooms a chart (over a
# map half the page wide, a teacher scrolling down to the neighbours was stuck on it); the toolbar still zooms
CONFIG = {"scrollZoom": False, "displaylogo": False}


def readable(fig: go.Figure) -> go.Figure:
    """``fig`` with the app's chart text size and its top left to the toolbar (``clear_of_toolbar``):
    every chart on the pages goes through here."""
    # each part by name: Streamlit's chart theme sets the ticks', legend's and titles' sizes itself
    fig.update_layout(font=dict(size=FONT), legend=dict(font=dict(size=FONT)), title=dict(font=dict(size=FONT + 3)),
                      modebar=dict(remove=list(TOOLBAR_REMOVED)))
    fig.update_xaxes(tickfont=dict(size=FONT, color=MUTED_INK), title=dict(font=dict(size=FONT, color=MUTED_INK)))
    fig.update_yaxes(tickfont=dict(size=FONT, color=MUTED_INK), title=dict(font=dict(size=FONT, color=MUTED_INK)))
    # a bar's value above it in the ticks' ink: Streamlit's theme drew it 3.7:1 on white, under the 4.5:1 text needs
    fig.update_traces(textfont=dict(size=FONT - 1), outsidetextfont=dict(size=FONT - 1, color=MUTED_INK),
                      selector=dict(type="bar"))
    # a bar's label that does not fit at ``LABEL_FONT`` is hidden, not shrunk: on a phone Evaluate's "0.451" were drawn
    # 7 px high over their bars, and Plotly had shrunk Invariance's to 9 px (the hover gives a bar's value)
    fig.update_layout(uniformtext=dict(minsize=LABEL_FONT, mode="hide"))
    for trace in fig.data:  # a legend's long names on lines of their own (``legend_name``)
        if trace.name and trace.showlegend is not False:
            trace.name = legend_name(trace.name)
    return clear_of_toolbar(fig)


# a legend's line: at ``FONT`` some 300 px, which with its symbol fits a 390 px phone's chart and a third of a 1280 px page
# (Compare's curves); "simclr (0001) · aug: crop,flip,color_jitter,grayscale · temperature=0.2" ran past its edge
LEGEND_CHARS = 40


def legend_name(name: str) -> str:
    """``name`` on lines of at most ``LEGEND_CHARS`` characters, broken only between its " · "
    parts (each part kept whole, "aug: crop,flip"), as ``wrap`` breaks a label between words.
    Plotly's legend does not wrap: a long entry was cut at the chart's edge."""
    if len(name) <= LEGEND_CHARS or "<br>" in name:
        return name
    whole = " · ".join(part.replace(" ", "\u00a0") for part in name.split(" · "))
    # a part longer than a line is broken between its words ("supervised from scratch (aug crop,flip,color_jitter,
    # grayscale)" has no " · " and ran 97 px past Compare's chart)
    lines = [line.replace("\u00a0", " ") for line in wrap(whole, LEGEND_CHARS).split("<br>")]
    return "<br>".join(wrap(line, LEGEND_CHARS) if len(line) > LEGEND_CHARS else line for line in lines)


def clear_of_toolbar(fig: go.Figure) -> go.Figure:
    """``fig`` with its top ``TOOLBAR_PX`` left empty for the toolbar, the title (if any) below that strip, and
    the height grown by what the top margin grew, so that the plot keeps its size. Nothing else is drawn up
    there: a legend is under the plot or beside it, below the top margin."""
    lay = fig.layout
    top = lay.margin.t if lay.margin.t is not None else 100  # (Plotly's default)
    titled = bool(lay.title.text)
    need = TOOLBAR_PX + (TITLE_PX if titled else 0)
    if top < need:
        fig.update_layout(margin=dict(t=need))
        if lay.height is not None:
            fig.update_layout(height=lay.height + need - top)
    if titled:  # its top edge at the strip's bottom, whatever the margin (Plotly puts an 18 px title's 24 px line
        # 6 px above the padding it is given)
        fig.update_layout(title=dict(yref="container", y=1, yanchor="top", pad=dict(t=TOOLBAR_PX + 6)))
    return fig


def as_text(value):
    """``value`` (a string, or a list of them) with every ``<`` and ``>`` that is not one of the
    line breaks the charts write (``<br>``) as an entity: Plotly reads ``<a href>``, ``<span
    style>`` and ``<b>`` in a trace's name, hover text, text and tick labels, and a nickname
    ('<a href="http://e.example">x</a>', 27 characters) made a link in a classmate's legend.
    ``&`` is left alone: a name escaped already (the map's class names) is not escaped twice."""
    if isinstance(value, str):
        return "<br>".join(part.replace("<", "&lt;").replace(">", "&gt;") for part in value.split("<br>"))
    if isinstance(value, (list, tuple)):
        return type(value)(as_text(v) for v in value)
    return value


def text_only(fig: go.Figure) -> go.Figure:
    """``fig`` with the names and labels it shows made text (``as_text``), in place: every
    trace's name, text, hover text and legend group title, every axis's tick labels and title,
    the annotations and the title. The hover templates, which are the charts' own, are kept."""
    def mend(obj, field):  # set only where something changes: a setter validates again (the map's 60,000
        old = obj[field]  # points' arrays, built unchecked for speed, are escaped already and left as they are)
        if isinstance(old, (str, list, tuple)) and (new := as_text(old)) != old:
            obj[field] = new

    for t in fig.data:
        for field in ("name", "text", "hovertext"):
            if field in t:
                mend(t, field)
        if "legendgrouptitle" in t:
            mend(t.legendgrouptitle, "text")
    layout = fig.layout
    for axis in [layout[k] for k in layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]:
        mend(axis, "ticktext")
        mend(axis.title, "text")
    for a in layout.annotations or ():
        mend(a, "text")
    mend(layout.title, "text")
    return fig


def describe(fig: go.Figure) -> str:
    """A chart in a sentence, for screen readers (``st.plotly_chart``'s ``alt``): what it plots
    and the names of its series, or for a map how many images it shows and what colours them."""
    lay, data = fig.layout, fig.data
    title = _plain(lay.title.text or "")
    # a chart that shows no legend names no series (the loss curve's "loss by step; loss."): none where the layout
    # hides it, or, as Plotly does by default, where one series alone would be in it
    named = [_plain(t.name) for t in data if t.name and t.showlegend is not False]
    legend = named if (lay.showlegend if lay.showlegend is not None else len(named) > 1) else []
    if lay.xaxis.visible is False:  # the embedding map: points without axes
        n = len(data[0].x) if data and data[0].x is not None else 0
        colours = [_plain(t.name) for t in data[1:] if t.x is not None and tuple(t.x) == (None,)]  # legend-only traces
        marks = [_plain(t.name) for t in data[1:] if t.name and _plain(t.name) not in colours]  # selected, neighbours, ...
        return (f"{title + ': ' if title else ''}map of {n:,} images, each a point placed near images with similar "
                f"features, coloured by {', '.join(colours[:20]) or 'one value'}"
                + ("; each group's name is written where most of its points are" if lay.annotations else "")
                + (f"; marked: {', '.join(marks)}" if marks else ""))
    kind = "bar chart" if any(t.type == "bar" for t in data) else "line chart"
    value, category = lay.yaxis.title.text, lay.xaxis.title.text
    if any(t.type == "bar" and t.orientation == "h" for t in data):  # bars lying down: the values along x
        value, category = category, value
    # an axis without a title is not named: "test accuracy by category" said a placeholder (the values name each bar)
    what = f"{value or 'value'}" + (f" by {category}" if category else "")
    # each series' values, which a screen reader reached nowhere else (hover needs a mouse; an accessibility review)
    values = [f"{_plain(t.name)}: {said}" for t in data
              if t.name and t.showlegend is not False and (said := _values(t))]
    return (f"{kind}{' ' + repr(title) if title else ''}: {what}" + ("; " + ", ".join(legend) if legend else "")
            + (". Values: " + "; ".join(values) + "." if values else ""))


def _plain(text: str) -> str:
    """A name as Plotly shows it, as plain text: its line breaks as spaces and its HTML entities
    read ('&lt;img' is Plotly's escape of a class folder's '<img'; Streamlit escapes the alt text
    again, and a screen reader read out '&amp;lt;img')."""
    return html.unescape(str(text).replace("<br>", " "))


DESCRIBED_POINTS = 12  # a series with more points is said by its first and last (the kNN after each of 100 epochs)


def _values(trace) -> str:
    """A series' points as "x 0.812, y 0.901": a line's true x (``curves`` moves it aside on a log
    axis and keeps the true one in its customdata), a bar's true value (``bars`` keeps a value cut
    at the axis's edge in its customdata); "" for a series with none."""
    bar = trace.type == "bar"
    if bar and trace.orientation == "h":  # lying down: the categories along y, the values along x
        xs, ys = list(trace.y if trace.y is not None else []), list(trace.x if trace.x is not None else [])
    else:
        xs = list(trace.x if bar or trace.customdata is None else trace.customdata) if trace.x is not None else []
        ys = list(trace.customdata if bar and trace.customdata is not None else trace.y if trace.y is not None else [])
    pairs = [(x, y) for x, y in zip(xs, ys) if x is not None and isinstance(y, (int, float))]
    if len(pairs) > DESCRIBED_POINTS:
        pairs = [pairs[0], pairs[-1]]
    return ", ".join(f"{x:g} {y:.3f}" if isinstance(x, (int, float)) else f"{_plain(x)} {y:.3f}"
                     for x, y in pairs)


def embedding_map(*args, legend_below: bool = False, **kwargs) -> go.Figure:
    """``ssrl_core.figures.embedding_map`` (the export's too) with the app's text size. With
    ``legend_below`` the legend runs in rows under the map instead of a column beside it: a
    map keeps its aspect ratio, so in a column narrower than it is high (Explore's, on a
    projector, a tablet or a phone) the legend's column was taken from the map's width and
    the height left empty (on a 390 px phone the points spanned 242 px of 358)."""
    fig = readable(figures.embedding_map(*args, **kwargs))
    fig.update_layout(modebar=dict(remove=list(MAP_TOOLBAR_REMOVED)))  # pan and zoom: a map is looked into
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


# A bar chart's categories (Evaluate's runs, Invariance's ops and factors) are written level under their bars, each on
# lines of at most ``TICK_CHARS`` characters. Plotly slants labels that do not fit level by 30 degrees, and a slanted
# last label reaches past the plot's right edge, where Streamlit's automargin made room for it out of the plot: at
# 390x844 (a phone) Evaluate's bars had 165 px of its chart's 358 ("random encoder (seed 0)" slanted beside two runs),
# Invariance's factor probes 241. Wrapped, three of Evaluate's labels fit level on a phone. Where labels do not fit
# level they are slanted the other way, each ending at its tick: the first reaches left under the value axis's
# labels, which leave room there, and none past the right edge (the factor probes' five on a phone). Where slanted
# ones overlap too (four runs and more, Invariance's nine ops) they are written upright: height, never width.
TICK_CHARS = 10  # "(seed 0)", "cnn-small", "rotation" on a line: some 60 px at ``FONT``; a longer word keeps its line
TICK_ANGLES = [0, -30, 90]  # level, else slanted up to the tick, else upright: Plotly's 30 degrees reach rightwards
TICK_LINE_PX = 20  # a line of tick text at ``FONT`` (Plotly's line is 1.3 em): what each line more adds to the height


def wrap(label: str, chars: int = TICK_CHARS) -> str:
    """``label`` on lines of at most ``chars`` characters, joined by "<br>": broken at spaces, a
    " · " kept at the end of the line before it (a line never starts with one); a word longer
    than ``chars`` keeps a line of its own, whole. Each "<br>" stands for one space: the label
    comes back with ``label.replace("<br>", " ")``."""
    words = label.split(" ")
    glued: list[str] = []  # each "·" glued to the word before it
    for w in words:
        if w == "·" and glued:
            glued[-1] += " ·"
        else:
            glued.append(w)
    lines: list[str] = []
    for w in glued:
        if lines and len(lines[-1]) + 1 + len(w) <= chars:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return "<br>".join(lines)


def category_axis(categories: Sequence[str]) -> tuple[dict, int]:
    """The x axis of a bar chart over ``categories`` (its settings for ``update_layout``): each
    category's label ``wrap``ped, level where they fit, else slanted to end at its tick, else
    upright (``TICK_ANGLES``), and how many lines the tallest label has. A hover's ``%{x}`` is then
    the tick's wrapped text: a bar names its category whole by its ``hovertext``."""
    text, lines = wrapped(categories)
    axis = dict(tickmode="array", tickvals=list(categories), ticktext=text, autotickangles=TICK_ANGLES, automargin=True)
    return axis, lines


def wrapped(labels: Sequence[str]) -> tuple[list[str], int]:
    """Each of ``labels`` ``wrap``ped, and how many lines the tallest has."""
    text = [wrap(label) for label in labels]
    return text, max([t.count("<br>") + 1 for t in text] or [1])


# a legend in a row along the chart's bottom edge, placed in the figure's coordinates: one placed
# below the plot area by a fraction of its height sat on the axis title in a short chart
BELOW = dict(orientation="h", yref="container", yanchor="bottom", y=0)
# value axes' titles short enough for a phone's plot, some 190 px high under upright categories and a legend: "accuracy
# on the test split" read "accuracy on the test sp", "invariance score (1 = unchanged)" "invariance score (1 ="
ACCURACY_AXIS = "test accuracy"
INVARIANCE_AXIS = "invariance (1 = unchanged)"


# a run's row in ``accuracy_bars``: its two bars and the gap between runs; a label of several lines makes every row as high
# as its lines (``TICK_LINE_PX`` each) with a few pixels to spare
BAR_ROW_PX = 44
VALUE_ROOM_PX = 50  # beyond the plot's right edge for a value written past a bar that reaches 1 ("0.987")


def accuracy_bars(labels: Sequence[str], series: dict[str, Sequence[float | None]], title: str = "",
                  references: Sequence[str] = (), classes: int | None = None) -> go.Figure:
    """Grouped bars, lying down: one row per run (``labels``, top to bottom), one bar per metric
    in ``series``, each value written level at its bar's end. Each run in its colour (the
    palette's, in ``labels``' order, as ``curves`` gives the runs theirs: by metric, orange was
    the linear probe here and the second run in the charts under it) and each metric in its fill
    pattern. The rows named in ``references`` (untrained encoders) are drawn in grays, one per
    metric (``REF_GRAYS``), with the metric's pattern, as ``bars`` draws them on Invariance: in
    the runs' colours they read as more runs. Each run's name is wrapped onto short level lines
    beside its row (``wrap``): standing under upright bars, seven runs' names were turned upright
    and on a phone ran into each other (6 of 6 overlapped at 358 px), and the plot kept 172 px
    of a 380 px chart. The chart grows by a row per run; a bar's hover names its run whole. With
    ``classes``, a dotted line at chance (1 / classes, a guess's accuracy), named in the legend:
    shapes' 0.41 read as poor beside digits' 0.93 with nothing saying that a guess scores 0.17
    there (a statistician's review)."""
    fig = go.Figure()
    runs = [label for label in labels if label not in references]
    text, lines = wrapped(labels)
    row = max(BAR_ROW_PX, TICK_LINE_PX * lines + 8)
    for i, (name, vals) in enumerate(series.items()):
        fig.add_trace(go.Bar(
            y=list(labels), x=[None if v is None else v for v in vals], name=name, orientation="h",
            marker=dict(color=[REF_GRAYS[i % len(REF_GRAYS)] if label in references else
                               PALETTE[runs.index(label) % len(PALETTE)] for label in labels],
                        pattern=dict(shape=PATTERNS[i % len(PATTERNS)])),  # the metric: not by colour
            text=[("" if v is None else f"{v:.3f}") for v in vals], textposition="outside", cliponaxis=False,
            constraintext="none",  # (past the plot's edge, in its right margin: a bar that reaches 1 keeps its value)
            # the run whole: a hover's %{y} is its tick's text, wrapped
            hovertext=list(labels), hovertemplate="%{hovertext}: %{x:.3f}<extra>%{fullData.name}</extra>",
        ))
    if classes:
        chance = 1 / classes
        fig.add_shape(type="line", x0=chance, x1=chance, y0=0, y1=1, yref="paper",
                      line=dict(color=LABEL_INK, width=2, dash=DOTTED))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"chance (1 in {classes}: {chance:.2f})",
                                 line=dict(color=LABEL_INK, width=2, dash=DOTTED), hoverinfo="skip"))
    # the first run at the top, as the table under the chart lists them; within a run, the first metric on top
    yaxis = dict(tickmode="array", tickvals=list(labels), ticktext=text, automargin=True, autorange="reversed")
    # on a phone the legend takes a row per entry, from the plot's height: a third entry (chance) squeezed three rows
    # of three-line names into 161 px, one name onto the next
    entries = len(series) + bool(classes)
    fig.update_layout(title=title or None, barmode="group", bargap=0.25,
                      height=130 + LEGEND_ROW_PX * max(0, entries - 2) + row * max(1, len(labels)),
                      margin=dict(l=10, r=VALUE_ROOM_PX, t=40, b=10), yaxis=yaxis,
                      xaxis=dict(title=ACCURACY_AXIS, range=[0, 1]), legend=dict(BELOW, traceorder="normal"))
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


# a log axis says so in its title, from here (``curves`` draws every log axis the pages show): Compare's label-efficiency
# axis read "labels per class" and Evaluate's kNN-vs-k one "k (neighbours voting)", 1, 5, 20 and 100 evenly apart on
# both, as if the steps were equal (a statistician's review); only Evaluate's label efficiency said it
LOG_SCALE = " (log scale)"


def log_title(title: str) -> str:
    """``title`` marked as a log axis's, once: "labels per class (log scale)"; a title that ends
    in brackets takes the mark inside them, "k (neighbours voting; log scale)", not two brackets
    in a row. A hover names the axis by what comes before the brackets ("k")."""
    if LOG_SCALE.strip(" ()") in title:
        return title
    return title[:-1] + "; " + LOG_SCALE.strip(" (") if title.endswith(")") else title + LOG_SCALE


ACCURACY_SPAN = figures.ACCURACY_SPAN  # an accuracy curve's y axis spans at least 10 points (``curves``' min_span)
LEGEND_ROOM = 3  # legend lines a curves chart's given height leaves room for ...
LEGEND_ROW_PX = 24  # ... and what each line more adds to it (a legend row at FONT)
# how far apart, in decades of a log axis, the first and the last curve's points at one x are drawn: under half the
# 0.3 decades between the budgets 5 and 10, so the points of two budgets never mix
DODGE_DECADES = 0.12


def curves(series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]], x_title: str,
           y_title: str = "accuracy", title: str = "", log_x: bool = False, dashed: Sequence[str] = (),
           tickvals: Sequence[float] | None = None, ticktext: Sequence[str] | None = None, height: int = 360,
           run_of: dict[str, str] | None = None, dotted: Sequence[str] = (), min_span: float = 0.0,
           colour_order: Sequence[str] = ()) -> go.Figure:
    """Overlaid lines, one per name: (x, y, error bar or None). Names in ``dashed`` (the
    references) are drawn gray-toned, each kind (random, supervised) in its own gray, and
    several of one kind (seeds, encoders) each in its own dash pattern; the runs are solid lines
    in the palette's colours, each with its own marker (``SYMBOLS``). ``run_of``: the run each
    line belongs to, where a run has several (its linear and fine-tuned curves): they share its
    colour and marker, kept as the runs come, so a run's colour does not move when a curve is
    added; names in ``dotted`` are drawn dotted. ``min_span``: the y axis spans at least this
    much, centred on the values (``ACCURACY_SPAN``: a kNN curve from 0.312 to 0.297 filled the
    chart's height and read as a collapse). ``colour_order``: runs (as ``run_of`` names them) that take
    the first colours and markers in this order, drawn here or not, so a run keeps its colour in
    charts of some of the runs (Compare's per-dataset charts of runs on several datasets). On a
    log axis each curve is drawn a little aside of the others (``DODGE_DECADES`` from the first to
    the last), its hover giving its true x, and the axis's title ends in "(log scale)" (``log_title``)."""
    fig = go.Figure()
    seen: dict[str, int] = {}  # references drawn so far, per gray
    run_of = run_of or {}
    runs = list(dict.fromkeys([*colour_order, *(run_of.get(n, n) for n in series if n not in dashed)]))
    # on a log axis (budgets, k) every curve has a point at the same few x, with whiskers: each is moved aside a little,
    # in its order, so that markers and whiskers of close values do not sit on each other; the hover says the true x
    step = DODGE_DECADES / max(1, len(series) - 1) if log_x and len(series) > 1 else 0.0
    for k, (name, (x, y, err)) in enumerate(series.items()):
        ref = name in dashed
        gray = RANDOM_GRAY if name.startswith("random") else OTHER_GRAY
        if ref:
            seen[gray] = seen.get(gray, -1) + 1
        i = 0 if ref else runs.index(run_of.get(name, name))
        shift = 10 ** (step * (k - (len(series) - 1) / 2))
        fig.add_trace(go.Scatter(
            x=[v * shift for v in x], y=list(y), mode="lines+markers", name=name,
            # the tick's words where the point has a tick ("all (144)", not 143.8 labelled images per class)
            customdata=[_tick_word(v, tickvals, ticktext) for v in x],
            hovertemplate=f"{x_title.split(' (')[0]}: %{{customdata}}<br>%{{y:.3f}}<extra>%{{fullData.name}}</extra>",
            error_y=dict(type="data", array=list(err), visible=True, thickness=1) if err is not None else None,
            line=dict(width=2, dash=DASHES[seen[gray] % len(DASHES)] if ref else DOTTED if name in dotted else "solid",
                      color=gray if ref else PALETTE[i % len(PALETTE)]),
            # a reference's kind by its marker too: the random encoder's and supervised training's dashed grays differ
            # in shade alone, and at one label per class their markers sat on each other (a review)
            marker=dict(size=8, symbol=(REF_SYMBOLS[gray] if ref else SYMBOLS[i % len(SYMBOLS)])),
        ))
    # one value: Plotly would span -0.5..1.5 around it; close values: it would stretch their difference to full height
    y_range = figures.span_range([v for _, y, _ in series.values() for v in y], min_span)
    xs = [float(v) for x, _, _ in series.values() for v in x]
    # whole numbers (epochs) over a short span: Plotly would tick 0.5, 1.5 between them
    whole = not log_x and tickvals is None and bool(xs) and all(v.is_integer() for v in xs) and max(xs) - min(xs) <= 10
    # the legend below takes rows from the given height: beyond LEGEND_ROOM lines, the chart grows by a row each
    # (Compare's third-of-a-page charts hold one name a row: six lines left its plot 42 px of 340)
    height += LEGEND_ROW_PX * max(0, sum(legend_name(n).count("<br>") + 1 for n in series) - LEGEND_ROOM)
    fig.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis=dict(title=log_title(x_title) if log_x else x_title, type="log" if log_x else "linear",
                                 tickvals=tickvals, ticktext=ticktext, dtick=1 if whole else None),
                      yaxis=dict(title=y_title, range=y_range),
                      legend=BELOW,
                      showlegend=True)  # a single line is named too: which run it is
    return readable(fig)


def _tick_word(v: float, tickvals: Sequence[float] | None, ticktext: Sequence[str] | None):
    """``v`` as a hover says it: its tick's words where they are more than the number ("all
    (144)" for 143.8 labelled images per class), else ``v``."""
    if tickvals is not None and ticktext is not None and v in list(tickvals):
        word = ticktext[list(tickvals).index(v)]
        return v if word == f"{v:g}" else word
    return v


# a curve of references' gray (both 3:1 or more on white, apart from each other) and its marker: filled circles for the
# random encoder, open hexagons, which no run is given (``SYMBOLS``), for the others (supervised from scratch): open
# diamonds read as the third run's filled ones
RANDOM_GRAY, OTHER_GRAY = "#444", "#808080"
REF_SYMBOLS = {RANDOM_GRAY: "circle", OTHER_GRAY: "hexagon-open"}
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


# How many bars carry their value, from the narrowest plot the pages meet: a 1024 px projector with the sidebar open
# leaves the plot about 620 px (the chart is stretched to the column; Plotly has no rule for annotations by width).
# A value label is never written under ``LABEL_FONT``: Plotly shrank a label that did not fit its bar to 9 px, and 27
# bars' upright 12 px labels sat on their whisker caps, side by side (a browser review: unreadable).
PLOT_PX = 620
LABEL_FONT = FONT - 1  # 14 px, level or upright
LEVEL_LABEL_PX = 32  # a bar's width that holds "-0.62" written level at LABEL_FONT, with a gap to the next one
UPRIGHT_LABEL_PX = 18  # ... and written upright: the line's height and a gap (27 bars, two runs and their untrained
# network over the nine ops, which Invariance opens on, keep their values: a class at a projector cannot hover)
CROWDED_BARS = int(PLOT_PX * (1 - BARGAP) // LEVEL_LABEL_PX)  # 15: beyond, values are written upright
PACKED_BARS = int(PLOT_PX * (1 - BARGAP) // UPRIGHT_LABEL_PX)  # 27: beyond, only cut bars are labelled (hover, axis)
# Those counts hold for a plot ``PLOT_PX`` wide; the figure never learns how wide it is drawn (a 390 px phone gives it
# some 250 px, and Invariance's labels ran together there: "0.210.210.20"). So each value is written by the browser,
# which knows: inside a bar of its own (a "carrier": clear, untouchable, from the end of the bar's whisker to the
# axis's edge, in the bar's place), where Plotly hides a text that would have to shrink below ``LABEL_FONT`` to fit
# between the carrier's sides, less its padding of ``TEXT_PAD_PX`` each side (``uniformtext``). A carrier as wide as
# its bar holds a level label with that padding, so level labels shown are 6 px apart at least. An upright label is a
# line (``LINE_PX``) thick, and its carrier wider than its bar by the padding: shown where the bar is a line wide, and
# then never on its neighbour's (the line's box holds some 8 px of space around the digits). 27 fit a 1024 px
# projector's chart (a bar 19.6 px wide) and a 1280 px one's (26.7 px); on a phone they are left to the hover.
TEXT_PAD_PX = 3  # Plotly's padding around a text inside a bar, on each side (its TEXTPAD)
LINE_PX = 19  # a line of LABEL_FONT text as the browser measures it (Source Sans, the app's font; Plotly's own: 16)
UPRIGHT_CARRIER = (LINE_PX + 2 * TEXT_PAD_PX) / LINE_PX  # an upright label's carrier's width, per bar width
LABEL_INK = "#31333f"  # the page's text colour (12.6:1 on white): a label inside a clear carrier gets no contrast colour
# the axes' and captions' gray: Streamlit's chart theme wrote ticks and axis titles in rgb(128,132,149), 3.72:1 on white,
# and its captions at 60% opacity came out #81807f, 3.94:1 (an accessibility review); this is 6.1:1 on white and 5.4:1
# on the sidebar's #f0f2f6, still lighter than the page's text
MUTED_INK = "#5f6270"
VALUE_LABELS = "values"  # the carriers' traces' name (no legend entry, no hover)


def bars(categories: Sequence[str], series: dict[str, Sequence[float | None]], y_title: str, title: str = "",
         chance: Sequence[float] | None = None, y_range: tuple[float, float] | None = None,
         errors: Sequence[Sequence[float | None]] | None = None, references: Sequence[str] = (),
         colour_order: Sequence[str] = ()) -> go.Figure:
    """Grouped bars per category (one bar per name in ``series``); ``chance`` per category
    is drawn as a short black line over its group. With ``y_range``, a value beyond it is
    drawn to the range's edge (cut) and labelled inside the plot at that edge, where the label
    stays visible; hovering shows every value. The value axis starts at 0 where no bar or
    whisker goes below it, else a little below the lowest one (``_headroom``), never below
    ``y_range``'s bottom. ``errors`` (one list per series, in its order) draws ± error bars on
    the bars that are not cut. Each value is written beyond its bar's end, or its whisker's, by a
    few pixels (``TEXT_PAD_PX``): not as the bar's own text, which would sit on the whisker, but
    in a clear bar of the trace ``VALUE_LABELS`` over it, and only where it fits at
    ``LABEL_FONT``, at the width the chart is drawn (a phone's narrow chart leaves its values to
    the hover rather than run them together). Past ``CROWDED_BARS`` the labels are upright, past
    ``PACKED_BARS`` left to the hover but for cut bars'. Names in ``references`` are drawn in
    grays, the runs in the palette's colours, each with its own fill pattern (``PATTERNS``), the
    runs named in ``colour_order`` first in its order, drawn here or not (as ``curves``: a run
    keeps its colour in a chart that lacks a run before it). A
    None value is "n/a": labelled so on its bar's place, or once over a category where every
    value is None. The categories are written as ``category_axis`` writes them: level, or upright
    where they do not fit, never reaching past the plot's right edge."""
    fig = go.Figure()
    lo, hi = y_range if y_range else (None, None)
    refs = [n for n in series if n in references]
    runs = [n for n in series if n not in references]
    order = list(dict.fromkeys([*colour_order, *runs]))
    colour = {**{n: PALETTE[order.index(n) % len(PALETTE)] for n in runs},
              **{n: REF_GRAYS[i % len(REF_GRAYS)] for i, n in enumerate(refs)}}
    width = (1 - BARGAP) / len(series)  # each bar's share of a category's group, as Plotly lays them out
    # many bars side by side are narrower than a label ("1.001.001.00" ran together): their values are written
    # upright; with more still, left to the hover and the axis (which a projector's class cannot hover), but for a cut
    # bar's, which the axis cannot give
    crowded = len(series) * len(categories) > CROWDED_BARS
    packed = len(series) * len(categories) > PACKED_BARS
    angle = -90 if crowded else 0
    label_font = dict(size=LABEL_FONT, color=LABEL_INK)
    # a category no series has a value for (a colour op on grayscale images) has no bar to carry a label, crowded or
    # not: one "n/a" over its place says so
    empty = {j for j in range(len(categories)) if all(vals[j] is None for vals in series.values())}
    for j in sorted(empty):
        fig.add_annotation(x=j, y=0, text="n/a", showarrow=False, yanchor="bottom", font=label_font)
    shown_errors, cuts = [], []
    for i, (name, vals) in enumerate(series.items()):
        cut = [v is not None and ((lo is not None and v < lo) or (hi is not None and v > hi)) for v in vals]
        err = list(errors[i]) if errors is not None else [None] * len(vals)
        shown_err = [0 if c or e is None else e for e, c in zip(err, cut)]
        shown_errors.append(shown_err)
        cuts.append(cut)
        for j, v in enumerate(vals):
            if cut[j]:  # at the axis's edge, on white: inside a patterned bar its value could not be read
                x = j - (1 - BARGAP) / 2 + width * (i + 0.5)
                fig.add_annotation(x=x, y=lo if v < lo else hi, text=f"{v:.2f}", showarrow=False, textangle=angle,
                                   yanchor="bottom" if v < lo else "top", bgcolor="rgba(255,255,255,0.9)",
                                   font=label_font, borderpad=1)
        fig.add_trace(go.Bar(
            error_y=dict(type="data", array=shown_err, visible=True, thickness=1.2) if any(shown_err) else None,
            x=list(categories), y=[min(max(v, lo), hi) if c else v for v, c in zip(vals, cut)], name=name,
            offsetgroup=str(i),  # its place in the group, which its labels' carriers share
            marker=dict(color=colour[name],
                        pattern=dict(shape=PATTERNS[order.index(name) % len(PATTERNS)] if name in runs else "")),
            customdata=list(vals),
            text=[("n/a" if v is None else f"{v:.2f}") for v in vals], textposition="none",  # (the hover's)
            hovertext=list(categories),  # (%{x} would be its tick's text: wrapped)
            hovertemplate="%{hovertext}: %{text}<extra>%{fullData.name}</extra>"))
    if chance is not None:
        fig.add_trace(go.Scatter(x=list(categories), y=list(chance), mode="markers", name="chance",
                                 marker=dict(symbol="line-ew", size=40, line=dict(width=3, color="#111"))))
    y_axis = _headroom(series, shown_errors, y_range, labels="none" if packed else "upright" if crowded else "level")
    if y_axis is not None and not packed:
        for i, vals in enumerate(series.values()):
            fig.add_trace(_carriers(categories, vals, shown_errors[i], cuts[i], empty, y_axis, i,
                                    width * (UPRIGHT_CARRIER if crowded else 1), angle))
    xaxis, lines = category_axis(categories)
    fig.update_layout(title=title or None, barmode="group", bargap=BARGAP, height=380 + TICK_LINE_PX * (lines - 1),
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      yaxis=dict(title=y_title, range=y_axis), xaxis=xaxis, legend=BELOW)
    return readable(fig)  # (a label that does not fit its carrier at LABEL_FONT is hidden: ``uniformtext``)


def _carriers(categories: Sequence[str], vals: Sequence[float | None], err: Sequence[float], cut: Sequence[bool],
              empty: set[int], y_axis: Sequence[float], i: int, width: float, angle: int) -> go.Bar:
    """The clear bars that write the values of ``bars``' ``i``-th series (``vals``, its whiskers ``err``): each
    from its bar's end (or its whisker's) to the axis's edge ``y_axis``, its value inside at that end, in the
    bar's place (``offsetgroup``). None where a bar gets no label there (cut, in an empty category, or its
    whisker beyond the axis); "n/a" from 0 up for a value that is None."""
    base, length, text = [], [], []
    for j, v in enumerate(vals):
        start = 0.0 if v is None else v + err[j] if v >= 0 else v - err[j]
        edge = y_axis[1] if v is None or v >= 0 else y_axis[0]
        ok = not cut[j] and j not in empty and (edge - start > 0 if v is None or v >= 0 else edge - start < 0)
        base.append(start if ok else None)
        length.append(edge - start if ok else None)
        text.append(("n/a" if v is None else f"{v:.2f}") if ok else "")
    return go.Bar(x=list(categories), base=base, y=length, text=text, name=VALUE_LABELS, offsetgroup=str(i),
                  width=width, showlegend=False, hoverinfo="skip", marker=dict(color="rgba(0,0,0,0)", line=dict(width=0)),
                  textposition="inside", insidetextanchor="start", textangle=angle,
                  insidetextfont=dict(size=LABEL_FONT, color=LABEL_INK),  # (Plotly's contrast colour for it: white)
                  constraintext="inside")


# room beyond the lowest or highest bar's end for its label, as a share of the axis's span: an upright "-0.62" at
# LABEL_FONT with its carrier's padding is about 38 px of the plot's 250 or so, a level one 25 px of a phone's 200 (its
# legend takes rows); a label that does not fit inside the plot is hidden
LABEL_ROOM = {"level": 0.15, "upright": 0.2, "none": 0.03}


def _headroom(series: dict[str, Sequence[float | None]], errors, limits: tuple[float, float] | None = None,
              labels: str = "level") -> list[float] | None:
    """The value axis's range for bars and their whiskers (``errors``, one list per series), with
    room beyond the tallest and the lowest for their labels (``LABEL_ROOM[labels]``): Plotly's
    own range ended at the bar's top, and the label written above it was cut off (a lesson's
    0.94 at the chart's top edge). It starts at 0 where nothing goes below 0, else below the
    lowest end by that room, rounded down to a tenth of the span's order of magnitude (from -0.2,
    not -0.1837, on an axis of about 1). With ``limits`` (where bars are cut) the range ends at
    its top, or higher where the highest bar that is not cut needs the room for its label (a
    label is written inside the plot: 1.00 under a top of 1.1 was hidden), and starts no lower
    than its bottom: the invariance chart's fixed -1 left half the chart empty where every score
    was above 0. None (Plotly's range) when there is no value and no ``limits``."""
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
    highest = max([0.0] + [v for v in ends if ceiling is None or v < ceiling])  # (a cut bar's label is at the edge)
    if ceiling is not None:
        hi = max(hi, ceiling)  # the axis's top stays where the cut is, so bars compare across charts ...
    span = (hi - lo) or 1.0
    pad = LABEL_ROOM[labels] * span
    tick = 10.0 ** math.floor(math.log10(span)) / 10
    bottom = math.floor(round((lo - pad) / tick, 9)) * tick if lo < 0 else 0.0
    if floor is not None:
        bottom = max(bottom, floor)
    # ... unless the label over the highest bar needs more room: a label has to fit inside the plot, or it is hidden
    top = max(hi, round(highest + pad, 9) if highest > 0 else hi) if ceiling is not None \
        else hi + (pad if hi > 0 else 0.0)
    return [round(bottom, 9), top]


def label_efficiency(series: dict, references: dict, height: int = 360, colour_order: Sequence[str] = ()) -> go.Figure:
    """Accuracy against labelled images per class (log axis, ticks 1, 5, 10, 50, "all (N)"):
    ``series`` solid ("RUN linear"; "RUN fine-tuned" dotted, in its run's colour), ``references``
    dashed; each value is (x, mean, std) as from ``readouts.budget_curve``. ``colour_order``: the
    runs (without " linear") in the order that gives their colours, as ``curves`` takes it."""
    from .readouts import budget_ticks

    ticks, names = budget_ticks(list(series.values()) + list(references.values()))
    run_of = {n: n.removesuffix(" linear").removesuffix(" fine-tuned") for n in series}
    return curves({**series, **references}, "labelled images per class", log_x=True,
                  dashed=list(references), tickvals=ticks, ticktext=names, height=height, run_of=run_of,
                  dotted=[n for n in series if n.endswith(" fine-tuned")], colour_order=colour_order)
