"""Plotly figure builders for the pages. Plain functions of data; no Streamlit.

The map is one ``Scattergl`` trace whose ``customdata`` is the dataset row of each point,
coloured per point (not one trace per class), so a click always names one row however
the points are coloured. Legend entries are empty traces that hold no points.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363",
]
UNKNOWN = "#c7c7c7"


def colour_of(values: np.ndarray) -> list[str]:
    """One colour per integer value (-1, unknown, in light gray)."""
    return [UNKNOWN if v < 0 else PALETTE[int(v) % len(PALETTE)] for v in values]


def embedding_map(coords: np.ndarray, values: np.ndarray, value_names: Sequence[str], rows: np.ndarray | None = None,
                  highlight: Sequence[int] = (), selected: int | None = None, title: str = "",
                  height: int = 560) -> go.Figure:
    """The 2-D map of a run: points coloured by ``values`` (ints indexing ``value_names``).

    ``customdata`` of every point, in every trace, is its dataset row, so a selection event
    reads the row directly. ``highlight`` rows (neighbours) and the ``selected`` row are
    drawn again on top, larger and outlined.
    """
    n = len(coords)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    names = np.array([value_names[v] if 0 <= v < len(value_names) else "unknown" for v in values], dtype=object)
    fig = go.Figure()
    fig.add_trace(go.Scattergl(
        x=coords[:, 0], y=coords[:, 1], mode="markers", name="images", showlegend=False,
        customdata=rows, text=names,
        hovertemplate="row %{customdata}<br>%{text}<extra></extra>",
        marker=dict(size=5 if n > 3000 else 7, color=colour_of(values), opacity=0.8, line=dict(width=0)),
    ))
    present = sorted({int(v) for v in values})
    for v in present[:40]:  # legend only: empty traces
        fig.add_trace(go.Scattergl(
            x=[None], y=[None], mode="markers", name=value_names[v] if 0 <= v < len(value_names) else "unknown",
            marker=dict(size=9, color=UNKNOWN if v < 0 else PALETTE[v % len(PALETTE)]), hoverinfo="skip",
        ))
    pos = {int(r): i for i, r in enumerate(rows)}
    hl = [pos[r] for r in highlight if r in pos]
    if hl:
        fig.add_trace(go.Scattergl(
            x=coords[hl, 0], y=coords[hl, 1], mode="markers", name="neighbours", customdata=rows[hl],
            text=names[hl], hovertemplate="neighbour: row %{customdata}<br>%{text}<extra></extra>",
            marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(width=2, color="#111")),
        ))
    if selected is not None and selected in pos:
        i = pos[selected]
        fig.add_trace(go.Scattergl(
            x=[coords[i, 0]], y=[coords[i, 1]], mode="markers", name="selected", customdata=[selected],
            text=[names[i]], hovertemplate="selected: row %{customdata}<br>%{text}<extra></extra>",
            marker=dict(size=16, symbol="star", color="#ffd400", line=dict(width=1.5, color="#111")),
        ))
    fig.update_layout(
        title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"), dragmode="pan",
        legend=dict(itemsizing="constant", title=None, yanchor="top", y=0.92), plot_bgcolor="white", clickmode="event+select",
    )
    return fig


def loss_curve(steps: Sequence[float], losses: Sequence[float], epochs_at: Sequence[float] = (),
               title: str = "pretext loss") -> go.Figure:
    fig = go.Figure(go.Scatter(x=list(steps), y=list(losses), mode="lines", name="loss", line=dict(width=2)))
    for s in epochs_at:
        fig.add_vline(x=s, line=dict(width=1, dash="dot", color="#bbb"))
    fig.update_layout(title=title, height=260, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="step", yaxis_title="loss", showlegend=False)
    return fig


def accuracy_bars(labels: Sequence[str], series: dict[str, Sequence[float | None]], title: str = "") -> go.Figure:
    """Grouped bars: one group per run (``labels``), one bar per metric in ``series``."""
    fig = go.Figure()
    for i, (name, vals) in enumerate(series.items()):
        fig.add_trace(go.Bar(
            x=list(labels), y=[None if v is None else v for v in vals], name=name, marker_color=PALETTE[i],
            text=[("" if v is None else f"{v:.3f}") for v in vals], textposition="outside",
            width=min(0.3, 0.8 / max(1, len(series))),
        ))
    fig.update_layout(title=title or None, barmode="group", height=380, margin=dict(l=10, r=10, t=40, b=10),
                      yaxis=dict(title="accuracy on the test split", range=[0, 1.08]), legend=dict(orientation="h"))
    return fig


def curves(series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]], x_title: str,
           y_title: str = "accuracy", title: str = "", log_x: bool = False, dashed: Sequence[str] = (),
           tickvals: Sequence[float] | None = None, ticktext: Sequence[str] | None = None, height: int = 360) -> go.Figure:
    """Overlaid lines, one per name: (x, y, error bar or None). Names in ``dashed`` (the
    references) are drawn dashed and gray-toned."""
    fig = go.Figure()
    for i, (name, (x, y, err)) in enumerate(series.items()):
        ref = name in dashed
        fig.add_trace(go.Scatter(
            x=list(x), y=list(y), mode="lines+markers", name=name,
            error_y=dict(type="data", array=list(err), visible=True, thickness=1) if err is not None else None,
            line=dict(width=2, dash="dash" if ref else "solid", color=("#555" if name.startswith("random") else "#999")
                      if ref else PALETTE[i % len(PALETTE)]),
        ))
    fig.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis=dict(title=x_title, type="log" if log_x else "linear", tickvals=tickvals, ticktext=ticktext),
                      yaxis=dict(title=y_title), legend=dict(orientation="h", y=-0.25))
    return fig


def bars(categories: Sequence[str], series: dict[str, Sequence[float | None]], y_title: str, title: str = "",
         chance: Sequence[float] | None = None, y_range: tuple[float, float] | None = None) -> go.Figure:
    """Grouped bars per category (one bar per name in ``series``); ``chance`` per category
    is drawn as a short black line over its group."""
    fig = go.Figure()
    for i, (name, vals) in enumerate(series.items()):
        fig.add_trace(go.Bar(x=list(categories), y=list(vals), name=name, marker_color=PALETTE[i % len(PALETTE)],
                             text=[("n/a" if v is None else f"{v:.2f}") for v in vals], textposition="outside"))
    if chance is not None:
        fig.add_trace(go.Scatter(x=list(categories), y=list(chance), mode="markers", name="chance",
                                 marker=dict(symbol="line-ew", size=40, line=dict(width=3, color="#111"))))
    fig.update_layout(title=title or None, barmode="group", height=380, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      yaxis=dict(title=y_title, range=list(y_range) if y_range else None), legend=dict(orientation="h"))
    return fig


def label_efficiency(series: dict, references: dict, height: int = 360) -> go.Figure:
    """Accuracy against labelled images per class (log axis, ticks 1, 5, 10, 50, "all (N)"):
    ``series`` solid, ``references`` dashed; each value is (x, mean, std) as from
    ``readouts.budget_curve``."""
    from .readouts import budget_ticks

    ticks, names = budget_ticks(list(series.values()) + list(references.values()))
    return curves({**series, **references}, "labelled images per class (log scale)", log_x=True,
                  dashed=list(references), tickvals=ticks, ticktext=names, height=height)
