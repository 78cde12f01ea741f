"""The tool at the size of a real downloadable set (CIFAR-10's 60,000 images): what is
done per point or per image is done without a Python loop per item where a page reruns it.
Small synthetic sets only; no timings are asserted, only the work that scales."""
from __future__ import annotations

import numpy as np
import pytest

from ssrl_core.figures import PALETTE, UNKNOWN, colour_of, embedding_map


def test_the_map_draws_every_point_in_its_colour_and_name_without_checking_each_one(monkeypatch):
    from _plotly_utils import basevalidators

    calls = {"n": 0}
    check = basevalidators.ColorValidator.validate_coerce

    def counted(self, v, *a, **k):
        calls["n"] += 1
        return check(self, v, *a, **k)

    monkeypatch.setattr(basevalidators.ColorValidator, "validate_coerce", counted)
    rng = np.random.default_rng(0)
    n = 5000
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    values = rng.integers(-1, 4, size=n)
    values[:3] = [7, -1, 2]  # 7: a value without a name is "unknown" and takes its palette colour
    names = ["a", "b", "c", "d"]
    fig = embedding_map(coords, values, names, highlight=[5, 6], selected=9, landing=[(5, 0.9)])
    assert calls["n"] < 100  # the legend's and marks' few colours, not one check per point
    points = fig.data[0]
    assert list(points.marker.color) == colour_of(values, names)
    assert list(points.text) == [names[v] if 0 <= v < len(names) else "unknown" for v in values]
    assert list(points.customdata[:3]) == [0, 1, 2]
    legend = [t for t in fig.data[1:] if t.name in (*names, "unknown")]
    assert [t.name for t in legend] == ["unknown", "a", "b", "c", "d", "unknown"][:len(legend)]
    assert legend[0].marker.color == UNKNOWN and legend[1].marker.color == PALETTE[0]
    marks = {t.name: t for t in fig.data if t.name in ("neighbours", "selected")}
    assert list(marks["neighbours"].customdata) == [5, 6] and list(marks["selected"].customdata) == [9]
    assert np.allclose([marks["selected"].x[0], marks["selected"].y[0]], coords[9])
    with pytest.raises(ValueError):  # what is added after the points' trace is still checked
        fig.add_trace(dict(type="scattergl", bogus=1))


def test_the_map_of_a_subset_marks_rows_by_their_dataset_row():
    rows = np.array([40, 10, 30, 20])
    coords = np.arange(8, dtype=np.float32).reshape(4, 2)
    fig = embedding_map(coords, np.array([0, 1, 0, 1]), ["x", "y"], rows=rows, highlight=[30, 99], selected=20)
    marks = {t.name: t for t in fig.data if t.name in ("neighbours", "selected")}
    assert list(marks["neighbours"].customdata) == [30] and list(marks["neighbours"].x) == [4.0]
    assert list(marks["selected"].customdata) == [20] and list(marks["selected"].x) == [6.0]
    assert list(fig.data[0].customdata) == [40, 10, 30, 20]
