"""Figures that are plain functions of data, shared by the app and the export: the
embedding map as a Plotly figure and as a PNG drawn directly with PIL (no browser, no
kaleido or matplotlib needed), and the one colour palette both use.

The map is one ``Scattergl`` trace whose ``customdata`` is the dataset row of each point,
coloured per point (not one trace per class), so a click always names one row however
the points are coloured. Legend entries are empty traces that hold no points.
"""
from __future__ import annotations

import html
import io
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

# Plotly's D3 colours, with orange, pink, olive and cyan darkened to 3:1 or more against the white
# page (WCAG 1.4.11: a line or marker a student must tell apart; they were 2.5, 2.7, 2.0 and 2.3:1,
# an accessibility review), hue kept: among the first ten, no pair drew closer for a deuteranope or
# a protanope (Machado simulation, CIELAB distance; tests/test_readouts.py checks both)
PALETTE = [
    "#1f77b4", "#e76c00", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e068bb", "#7f7f7f",
    "#97981b", "#1298a6", "#393b79", "#ad494a", "#637939", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363",
]
UNKNOWN = "#c7c7c7"
# values that are colours are drawn in their own colour (shapes' ``color`` factor: a red
# point is a red shape), toned so that each is 3:1 or more on white, but for yellow and white:
# a yellow dark enough (#b48f04) is 3.8 CIELAB units from green for a protanope (20 now), and
# white cannot be; the map writes each group's name and gives it a marker shape
NAMED_COLOURS = {
    "red": "#d62728", "orange": "#e76c00", "yellow": "#e3b505", "green": "#2ca02c", "cyan": "#1298a6",
    "blue": "#1f3fd6", "purple": "#7b2cbf", "magenta": "#d633c7", "pink": "#f458aa", "brown": "#8c564b",
    "black": "#111111", "gray": "#7f7f7f", "grey": "#7f7f7f", "white": "#e8e8e8",
}


# an accuracy curve's y axis spans at least 10 points, centred on its values: a kNN curve from 0.312 to 0.297 filled a
# chart's height and read as a collapse, and the export's per-epoch kNN (0.861 to 0.914) made 5 points look huge. Here,
# not in app/charts.py, so that the app's curves and the export's training.html (ssrl_core never imports app) share it
ACCURACY_SPAN = 0.1


def span_range(values: Sequence[float | None], min_span: float = 0.0) -> list[float] | None:
    """A y axis's range, ``[low, high]``, at least ``min_span`` wide and centred on ``values``
    where they spread less than that; None (Plotly's own range) where they spread more. Equal
    values get 0.1 around them whatever ``min_span``: Plotly spans one value -0.5..1.5."""
    ys = [float(v) for v in values if v is not None]
    if not ys or max(ys) - min(ys) >= max(min_span, 1e-9):
        return None
    mid, half = (max(ys) + min(ys)) / 2, max(min_span, 0.1) / 2
    return [mid - half, mid + half]


LANDING_GROUP = 0.05  # of a map's diagonal: how close neighbours must lie on it to be one group for ``landing_point``


def landing_point(where: np.ndarray, similarities: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Where on a map an image from outside it lands: among its nearest neighbours (positions
    ``where`` [k, 2]), weighted by UMAP's membership strengths of their cosine distances
    (``memberships``: the nearest weigh most, as UMAP starts a new point), and, given the map's
    diagonal ``scale``, among the group of them that lie together on the map (within
    ``LANDING_GROUP`` of it) and weigh most. A mean over neighbours in two groups fell between
    them, where none of them is: by similarity, nearly equal (eight neighbours at 0.99), on a
    digits run 13 of 400 images, uploaded, were put 10 points' spacings from any point; by
    strength 6 (a 4-and-4 split stays even); in the heaviest group none, and the 90th percentile
    of their distance from their own point went from 3.3% of the map's diagonal to 1.0%."""
    from .evaluate.project import memberships

    where, similarities = np.asarray(where, np.float64), np.asarray(similarities, np.float64)
    same = similarities >= 1.0 - 1e-6  # a dataset image itself (uploaded as a file): on it, not between it and the next
    if same.any():
        return where[same].mean(0)
    d = np.concatenate([[0.0], np.clip(1.0 - similarities, 0.0, 2.0)])  # itself first, at 0
    w = memberships(d[None])[0, 1:] + 1e-12
    if scale:
        together = np.linalg.norm(where[:, None] - where[None], axis=-1) <= LANDING_GROUP * scale
        group = together[int(np.argmax(together @ w))]  # (a tie: the group of the most similar)
        where, w = where[group], w[group]
    return (where * w[:, None]).sum(0) / w.sum()


def palette_for(value_names: Sequence[str] | None) -> list[str]:
    """The colour of each value: its own when every value is a colour's name, otherwise
    ``PALETTE`` in order."""
    names = [str(n).lower() for n in value_names or ()]
    if names and all(n in NAMED_COLOURS for n in names):
        return [NAMED_COLOURS[n] for n in names]
    return PALETTE


def _colour_codes(values, value_names: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Each value's colour as an index into a table of colours: ``palette_for`` then
    ``UNKNOWN`` (for -1, unknown); (indexes [N] uint8, the table)."""
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    palette = palette_for(value_names)
    codes = np.where(values >= 0, values % len(palette), len(palette)).astype(np.uint8)
    return codes, [*palette, UNKNOWN]


def stepped_colorscale(table: Sequence[str]) -> list[list]:
    """A Plotly colorscale that draws the number i in ``table[i]`` exactly, given
    ``cmin=-0.5, cmax=len(table)-0.5``: one flat band per colour, i at its middle."""
    m = len(table)
    return [[pos, c] for i, c in enumerate(table) for pos in (i / m, (i + 1) / m)]


def colour_of(values, value_names: Sequence[str] | None = None) -> list[str]:
    """One colour per integer value (``_colour_codes``), made without a Python loop over the
    points (a 60,000-point map's)."""
    codes, table = _colour_codes(values, value_names)
    return np.array(table)[codes].tolist()


# groups named on the map itself at most: more names than this cover the points they name
MAX_NAMED = 20
# the share of the points around a group's name that must be of its group: a name written on a
# cluster that holds two classes alike said that the encoder had told them apart
MIN_SHARE = 0.6


def group_anchors(coords: np.ndarray, values: np.ndarray, n_values: int,
                  max_groups: int = MAX_NAMED) -> dict[int, tuple[float, float]]:
    """Where to write each value's name on the map: at the point of that value with the most
    points of its value within a tenth of the map's width, i.e. in the thick of its largest
    island. A UMAP often splits one class into islands, with stragglers elsewhere; the
    median or mean of its points then lies between islands, on other classes or in empty
    space. Counted on at most 400 of each value's points, evenly spread over its rows
    (deterministic, and milliseconds for a 60,000-point map). Only values 0..n_values-1
    that have points, and none at all when more than ``max_groups`` are present (or when
    every point is in one group: a single name says nothing the legend does not). A group is
    not named where its points are under ``MIN_SHARE`` of all the points within half that
    distance: its thickest place is mixed with other groups, which a name over it would hide."""
    coords = np.asarray(coords, dtype=np.float64)
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    ok = np.isfinite(coords).all(axis=1) & (values >= 0) & (values < n_values)
    present = np.flatnonzero(np.bincount(values[ok], minlength=n_values))
    if len(present) < 2 or len(present) > max_groups:
        return {}
    placed, kinds = coords[ok], values[ok]  # filtered once, not once a group
    radius = 0.1 * float(max(placed.max(0) - placed.min(0))) or 1.0
    anchors = {}
    for v in present:
        pts = placed[kinds == v]
        pts = pts[np.linspace(0, len(pts) - 1, min(len(pts), 400)).astype(int)]
        sq = (pts ** 2).sum(1)
        near = ((sq[:, None] + sq[None, :] - 2 * pts @ pts.T) <= radius ** 2).sum(1)  # |a-b|² without an [n, n, 2] array
        at = pts[int(np.argmax(near))]  # the first of equals: a lone point, or a tie, is still a point of v
        # every point there, of any group, within half the radius: its core (a digit's island beside another's
        # has a share of 0.47 within the radius and 0.85 within half of it; shapes' mixed groups 0.14 to 0.24)
        around = ((placed - at) ** 2).sum(1) <= (radius / 2) ** 2
        if (kinds[around] == v).mean() >= MIN_SHARE:
            anchors[int(v)] = (float(at[0]), float(at[1]))
    return anchors


# how near (a share of the map's span) a group's name is to the selected image for the name to move up off its star
NAME_CLEARANCE = 0.06
# each group's marker shape, by its value, in Plotly's numbered symbols (circle, square, diamond, triangle-up, x,
# triangle-down, cross, pentagon, hexagon, star): colour alone told digits 0 and 4, 6 and 9, 2 and 3 apart, and for
# a deuteranope those pairs are one colour (an accessibility review: CIEDE2000 distances of 3.3 to 6.2 after a
# Machado simulation); the legend shows the same shapes. Sent as one byte a point, as the colours are
GROUP_SYMBOLS = (0, 1, 2, 5, 4, 6, 3, 13, 14, 17)
# above this many points a map draws every group as circles: at 60,000 points (CIFAR-10) 5-px shapes cannot be told
# apart, and their areas differ (an x covers more than a triangle), so one group's colour took 23% of the map's
# pixels for its 10% of the images
SHAPES_UP_TO = 20_000


def embedding_map(coords: np.ndarray, values: np.ndarray, value_names: Sequence[str], rows: np.ndarray | None = None,
                  highlight: Sequence[int] = (), selected: int | None = None, title: str = "",
                  height: int = 560, landing: Sequence[tuple[int, float]] = (),
                  name_groups: bool = True) -> go.Figure:
    """The 2-D map of a run: points coloured by ``values`` (ints indexing ``value_names``).

    With ``name_groups`` each value's name is also written on the map where its points are
    (``group_anchors``), in a box edged with its colour: the map can then be read without
    telling ten colours apart (a colour-blind student, a washed-out projector), and it says
    at a glance which groups the encoder put together. A teacher who wants the class to
    guess first turns it off.

    ``customdata`` of every point, in every trace, is its dataset row, so a selection event
    reads the row directly. ``highlight`` rows (neighbours) and the ``selected`` row are
    drawn again on top, larger and outlined, with no legend entries: the legend would gain a
    row when an image is clicked and the map, its height fixed, shrink under the pointer (the
    page's caption says what the marks are). ``landing``: an outside image's (row,
    similarity) neighbours; it is drawn as a cross where UMAP would start it among them
    (``landing_point``: the layout cannot place a new point itself), with no row of its own.
    """
    n = len(coords)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    known = (values >= 0) & (values < len(value_names))
    # per point as numpy string arrays, made without a Python loop: Plotly copies a list item by item
    # Plotly reads tags in text (<a href>, <span style>, <b>): an imported set's class folder is shown as named
    shown = [html.escape(str(v), quote=False) for v in value_names]
    names = np.array([*shown, "unknown"])[np.where(known, values, len(value_names))]
    # each point's colour is a small integer, drawn through a stepped colorscale in exactly the
    # colour ``colour_of`` names: the browser gets 1 byte per point, not a 10-byte string it parses
    # (for 60,000 points: 0.66 MB of 2.1 MB of JSON; bench/map_figure.py). Coordinates go as float32
    # and rows as uint16 where they fit, the precision Plotly draws and hovers them with anyway
    codes, table = _colour_codes(values, value_names)
    xy = np.asarray(coords, dtype=np.float32)
    ids = rows.astype(np.uint16) if rows.dtype.kind in "iu" and n and 0 <= rows.min() and rows.max() <= 65535 else rows
    shapes = n <= SHAPES_UP_TO
    symbols = (np.asarray(GROUP_SYMBOLS, dtype=np.uint8)[np.where(known, values, 0) % len(GROUP_SYMBOLS)] if shapes
               else np.zeros(n, np.uint8))
    # drawn in a shuffled order (the same every time): in row order, a set stored class by class (an import's folders)
    # drew its last classes over the others wherever they meet; customdata keeps each point's row
    order = np.random.default_rng(0).permutation(n)
    xy, ids, drawn, codes, symbols = xy[order], ids[order], names[order], codes[order], symbols[order]
    # (``names``, ``coords`` and ``rows`` stay in row order: the marks below look their rows up in them)
    # the points' trace is built without Plotly's validation, which is switched back on for
    # everything after it: Plotly checks a list of colours one string at a time, 5 s for a
    # 60,000-point map (CIFAR-10) on every rerun of a page, against 0.05 s unchecked; every value
    # of this trace is made here from arrays, so there is nothing for the check to catch
    fig = go.Figure(data=[dict(
        type="scattergl", x=xy[:, 0], y=xy[:, 1], mode="markers", name="images", showlegend=False,
        customdata=ids, text=drawn,
        hovertemplate="row %{customdata}<br>%{text}<extra></extra>",
        marker=dict(size=5 if n > 3000 else 7, color=codes, colorscale=stepped_colorscale(table),
                    cmin=-0.5, cmax=len(table) - 0.5, autocolorscale=False, showscale=False,
                    symbol=symbols, opacity=0.8, line=dict(width=0)),
    )], _validate=False)
    fig._validate = fig.layout._validate = True
    present = [int(v) for v in np.unique(values)]
    for v in present[:40]:  # legend only: empty traces
        fig.add_trace(go.Scattergl(
            x=[None], y=[None], mode="markers", name=shown[v] if 0 <= v < len(value_names) else "unknown",
            marker=dict(size=9, color=colour_of([v], value_names)[0],
                        symbol=GROUP_SYMBOLS[v % len(GROUP_SYMBOLS)] if shapes and 0 <= v < len(value_names) else 0),
            hoverinfo="skip",
        ))
    # where the rows the map marks are among its points (a dict of those few, not of every point)
    marked = [*highlight, *([] if selected is None else [selected]), *(r for r, _ in landing)]
    pos = {int(rows[i]): int(i) for i in np.flatnonzero(np.isin(rows, np.asarray(marked, dtype=np.int64)))}
    hl = [pos[r] for r in highlight if r in pos]
    if hl:
        fig.add_trace(go.Scattergl(
            x=coords[hl, 0], y=coords[hl, 1], mode="markers", name="neighbours", customdata=rows[hl], showlegend=False,
            text=names[hl], hovertemplate="neighbour: row %{customdata}<br>%{text}<extra></extra>",
            marker=dict(size=13, color="rgba(0,0,0,0)", line=dict(width=2.5, color="#111")),  # seen inside a dense group
        ))
    if selected is not None and selected in pos:
        i = pos[selected]
        fig.add_trace(go.Scattergl(
            x=[coords[i, 0]], y=[coords[i, 1]], mode="markers", name="selected", customdata=[selected], showlegend=False,
            text=[names[i]], hovertemplate="selected: row %{customdata}<br>%{text}<extra></extra>",
            marker=dict(size=22, symbol="star", color="#ffd400", line=dict(width=2, color="#111")),  # over the group's name
        ))
    finite = coords[np.isfinite(coords).all(axis=1)]
    extent = np.ptp(finite, axis=0) if len(finite) else np.zeros(2)  # the map's width and height
    near = [(pos[int(r)], float(sim)) for r, sim in landing if int(r) in pos]
    if near:
        at = landing_point(coords[[i for i, _ in near]], np.array([sim for _, sim in near]),
                           float(np.linalg.norm(extent)) or None)
        fig.add_trace(go.Scattergl(
            x=[at[0]], y=[at[1]], mode="markers", name="your image (among its neighbours)", customdata=[None],
            showlegend=False,
            hovertemplate="your image, placed among its nearest neighbours<extra></extra>",
            marker=dict(size=18, symbol="x", color="#e4007c", line=dict(width=1.5, color="#111")),
        ))
    if name_groups:
        # a name is drawn over the points: one on the selected image's star, the centre of a group, moves up clear of it
        star, clearance = None, 0.0
        if selected is not None and selected in pos:
            star = coords[pos[selected]]
            clearance = NAME_CLEARANCE * float(extent.max())
        for v, (x, y) in group_anchors(coords, values, len(value_names)).items():
            on_star = star is not None and abs(x - star[0]) < clearance and abs(y - star[1]) < clearance
            fig.add_annotation(x=x, y=y, text=shown[v], showarrow=False, bgcolor="rgba(255,255,255,0.8)",
                               bordercolor=colour_of([v], value_names)[0], borderwidth=2, borderpad=2,
                               font=dict(color="#111"), yshift=28 if on_star else 0)
    fig.update_layout(
        title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"), dragmode="pan",
        legend=dict(itemsizing="constant", title=None, yanchor="top", y=0.92), plot_bgcolor="white", clickmode="event+select",
    )
    return fig


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def map_png(coords: np.ndarray, values: np.ndarray, size: int = 600, point: int | None = None,
            value_names: Sequence[str] | None = None) -> bytes:
    """The 2-D map as PNG bytes, drawn with PIL from the coordinates and the same colours as
    ``embedding_map``; ``value_names`` adds a legend strip on the right and each value's
    name on the map where its points are (``group_anchors``). Cheap (milliseconds for a few
    thousand points), so the gallery draws thumbnails on the fly."""
    from PIL import Image, ImageDraw, ImageFont

    coords = np.asarray(coords, dtype=np.float64)
    values = np.asarray(values)
    legend = 110 if value_names else 0
    img = Image.new("RGB", (size + legend, size), "white")
    draw = ImageDraw.Draw(img)
    r = point if point is not None else max(1, round(size / 160))
    ok = np.isfinite(coords).all(axis=1)
    if ok.any():
        lo, hi = coords[ok].min(0), coords[ok].max(0)
        span = float(max(hi - lo)) or 1.0
        margin = r + 2
        scale = (size - 2 * margin) / span
        centre = (size - (hi - lo) * scale) / 2  # keep the aspect ratio, centred

        def to_px(x: float, y: float) -> tuple[float, float]:
            return centre[0] + (x - lo[0]) * scale, size - (centre[1] + (y - lo[1]) * scale)  # y up, as in the chart

        for (x, y), c in zip(coords[ok], colour_of(values[ok], value_names)):
            px, py = to_px(x, y)
            draw.ellipse((px - r, py - r, px + r, py + r), fill=_rgb(c))
        if value_names:
            font = ImageFont.load_default(size=max(10, size // 50))
            for v, (x, y) in group_anchors(coords, values, len(value_names)).items():
                px, py = to_px(x, y)
                left, top, right, bottom = draw.textbbox((px, py), str(value_names[v])[:24], font=font, anchor="mm")
                # a name at the map's edge is moved in, whole, rather than cut by it
                dx = max(0.0, 4 - left) - max(0.0, right + 4 - size)
                dy = max(0.0, 4 - top) - max(0.0, bottom + 4 - size)
                px, py, left, top, right, bottom = px + dx, py + dy, left + dx, top + dy, right + dx, bottom + dy
                draw.rectangle((left - 3, top - 3, right + 3, bottom + 3), fill=(255, 255, 255),
                               outline=_rgb(colour_of([v], value_names)[0]), width=2)
                draw.text((px, py), str(value_names[v])[:24], fill=(17, 17, 17), font=font, anchor="mm")
    if value_names:
        present = sorted({int(v) for v in values})[:40]
        for i, v in enumerate(present):
            y = 10 + i * 16
            draw.rectangle((size + 8, y, size + 18, y + 10), fill=_rgb(colour_of([v], value_names)[0]))
            name = value_names[v] if 0 <= v < len(value_names) else "unknown"
            draw.text((size + 24, y - 1), str(name)[:14], fill=(40, 40, 40))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
