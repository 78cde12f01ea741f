"""The tool at the size of a real downloadable set (CIFAR-10's 60,000 images): what is
done per point or per image is done without a Python loop per item where a page reruns it.
Small synthetic sets only; no timings are asserted, only the work that scales."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssrl_core.figures import PALETTE, UNKNOWN, colour_of, embedding_map


def _array(v) -> np.ndarray:
    """A trace's array, from a Figure or from its JSON (where numpy arrays are base64 bytes)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v)


def drawn_colours(marker) -> list[str]:
    """The colour Plotly draws each point of a trace in: its ``marker.color`` when that lists
    colours, else each number looked up in ``marker.colorscale`` between ``cmin`` and ``cmax``
    as plotly.js does, where it must fall inside a band of one colour (not between two)."""
    get = marker.get if isinstance(marker, dict) else lambda k: getattr(marker, k)
    colour = get("color")
    if not isinstance(colour, dict) and len(colour) and isinstance(colour[0], str):
        return [str(c) for c in colour]
    scale = [(float(pos), c) for pos, c in get("colorscale")]
    at = (_array(colour).astype(np.float64) - get("cmin")) / (get("cmax") - get("cmin"))
    out = []
    for t in at:
        below = [c for pos, c in scale if pos <= t]
        above = [c for pos, c in scale if pos >= t]
        assert below and above and below[-1] == above[0], f"{t} is not inside one colour's band"
        out.append(below[-1])
    return out


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
    drawn = np.asarray(points.customdata, dtype=np.int64)  # each point's row, in the shuffled order it is drawn in
    assert sorted(drawn) == list(range(n)) and list(drawn[:3]) != [0, 1, 2]
    assert drawn_colours(points.marker) == colour_of(values[drawn], names)
    # ... sent as one byte per point through a stepped colorscale, not 10-character strings
    assert points.marker.color.dtype == np.uint8 and points.customdata.dtype == np.uint16
    assert list(points.text) == [names[v] if 0 <= v < len(names) else "unknown" for v in values[drawn]]
    assert np.allclose(np.column_stack([points.x, points.y]), coords[drawn])
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
    assert sorted(fig.data[0].customdata) == [10, 20, 30, 40]  # (drawn in a shuffled order)
    at = {int(r): (x, y) for r, x, y in zip(fig.data[0].customdata, fig.data[0].x, fig.data[0].y)}
    assert at[40] == (0.0, 1.0) and at[20] == (6.0, 7.0)  # each row at its own place


def test_the_probe_buttons_say_minutes_for_a_large_set():
    from app.readouts import PROBES_TAKE_MINUTES, probe_cost

    small = {"summary": {"n_images": 1797}}
    large = {"summary": {"n_images": 60000}}
    assert probe_cost([small]) == "seconds per run"
    assert probe_cost([{"summary": None}]) == "seconds per run"  # a run without a summary: nothing to go on
    assert probe_cost([small, large]) == "minutes per run on a CPU for 60,000 images"
    assert probe_cost([{"summary": {"n_images": PROBES_TAKE_MINUTES}}]) == "seconds per run"


def test_explore_reads_the_export_files_only_when_a_button_is_clicked(finished_run, monkeypatch):
    from pathlib import Path

    from .test_app import open_page

    rid = finished_run("simclr")
    at = open_page("explore", run=rid)
    at.button(key="explore_export").click().run()
    assert not at.exception
    from app.services import ExportFile

    read = []
    real, member = Path.read_bytes, ExportFile.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or real(self))
    monkeypatch.setattr(ExportFile, "read_bytes", lambda self: read.append(self.name) or member(self))
    at.run()  # a rerun with the export shown
    assert not at.exception
    buttons = at.get("download_button")
    assert len(buttons) >= 8 and all(b.proto.deferred_file_id for b in buttons)
    assert not [n for n in read if n.startswith(("embeddings", "checkpoint", "map", "ssrl-run", rid))], read
    assert all(b.proto.help.endswith(("kB", "MB")) for b in buttons)  # each says its size


def _evaluating_run(dataset: str = "digits") -> str:
    """A run a worker elsewhere has trained and is now embedding (its first phase event)."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    rid = store.submit(RunConfig(dataset=dataset, method="simclr", epochs=1))
    store.claim("host:123:0")
    store.record(rid, {"kind": "epoch_end", "epoch": 1, "epochs": 1, "loss": 2.0})
    store.record(rid, {"kind": "phase", "phase": "embedding"})
    return rid


def test_a_run_past_its_training_shows_how_long_its_evaluation_has_left(finished_run):
    from ssrl_core.runs.store import RunStore

    from .test_app import open_page

    done = RunStore().get(finished_run("simclr"))
    tail = done["summary"]["total_seconds"] - done["summary"]["train_seconds"]
    _evaluating_run()
    at = open_page("pretrain")
    metrics = {m.label: m.value for m in at.metric}
    assert "ETA (evaluation)" in metrics and "ETA (training)" not in metrics, metrics
    assert "images/s (training)" in metrics and "images/s" not in metrics  # its training's last speed, said so
    minutes, seconds = map(int, metrics["ETA (evaluation)"].split(":"))
    assert 0 <= minutes * 60 + seconds <= round(tail)


def test_a_first_run_on_a_dataset_shows_the_time_in_its_evaluation_step():
    from .test_app import open_page

    _evaluating_run()  # nothing on digits has finished here: no estimate, but the step's time so far
    at = open_page("pretrain")
    metrics = {m.label: m.value for m in at.metric}
    assert "this step so far" in metrics and metrics["this step so far"].startswith("0:"), metrics


def test_a_run_its_worker_is_starting_shows_no_evaluation_step():
    """A run just claimed (or resumed) is 'starting': its worker loads the data and the
    checkpoint. The panel gave it the evaluation's slot, "starting: so far –", whose help
    spoke of "this evaluation step"."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    from .test_app import open_page

    store = RunStore()
    store.submit(RunConfig(dataset="digits", method="simclr", epochs=3))
    store.claim("host:123:0")
    metrics = {m.label: m.value for m in open_page("pretrain").metric}
    assert metrics.get("ETA (training)") == "–" and not any("so far" in k for k in metrics), metrics


def test_a_command_piped_into_a_reader_that_stops_early_says_nothing():
    """`runs --json | head` on a store of many runs: the reader closes the pipe; that is no
    error of the path or its permissions."""
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        done = subprocess.run([sys.executable, "-m", "ssrl_core", "list", "methods", "--json"], cwd=ROOT,
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 0 and "error" not in done.stderr and "Broken pipe" not in done.stderr, done.stderr


def test_neighbours_come_from_an_index_of_the_features_which_are_read_once_and_not_kept(finished_run,
                                                                                        monkeypatch):
    """The index is made from embeddings.npy (no second copy of it on disk), and holds the only
    copy of the features a page that asks for neighbours keeps in memory (61 MB at CIFAR-10's size)."""
    from ssrl_core.evaluate.embed import l2_normalize
    from ssrl_core.runs.artifacts import RunArtifacts
    from ssrl_core.runs.store import RunStore

    run_dir = RunStore().get(finished_run("simclr"))["run_dir"]
    feats = l2_normalize(np.load(f"{run_dir}/embeddings.npy"))
    loads = []
    real = np.load
    monkeypatch.setattr(np, "load", lambda path, *a, **k: loads.append((str(path), k.get("mmap_mode"))) or real(path, *a, **k))
    art = RunArtifacts(run_dir)
    assert art.embedding_dim() == feats.shape[1]
    for row in (0, 17, len(feats) - 1):
        got = art.neighbours(row, k=5)
        sims = feats @ feats[row]
        sims[row] = -np.inf
        assert [i for i, _ in got] == list(np.argsort(-sims, kind="stable")[:5])
        assert np.allclose([s for _, s in got], np.sort(sims)[::-1][:5], atol=1e-5)
    assert len([p for p, mmap in loads if p.endswith("embeddings.npy") and mmap is None]) == 1, loads  # read once
    assert "embeddings" not in art.__dict__  # ... and not kept beside the index
    assert not (Path(run_dir) / "index.faiss").exists()


def test_the_served_app_skips_streamlits_full_garbage_collection_after_each_rerun(monkeypatch, tmp_path, capsys):
    """A live panel reruns every 2 s. Streamlit's default collects all garbage after every
    run, fragments included: with torch and scikit-learn loaded, half a second of CPU per
    tick, so one open Pretrain tab slowed the run it showed from 45 s to 103 s on 2 cores
    (``python -m bench.watching --streamlit-gc``). Read through Streamlit's own parser, so a
    misspelt option (ignored by Streamlit without a word) fails here."""
    from streamlit import config

    from .conftest import ROOT

    monkeypatch.chdir(ROOT)  # Streamlit reads .streamlit/config.toml of the working folder
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("runner.postScriptGC") is False
        assert config.get_option("server.fileWatcherType") == "none"  # nothing edits a served app's sources
        assert config.get_option("server.maxUploadSize") == 200  # the file is the one read
        from app import services

        assert services.unread_config.__wrapped__(str(ROOT)) is None
        # started from another folder (a service with no working directory): the file is not read, and the server's
        # log says so once, with how to start it (it sent usage statistics to Streamlit, a review's browser saw)
        monkeypatch.chdir(tmp_path)
        config.get_config_options(force_reparse=True)
        said = services.unread_config.__wrapped__(str(ROOT))
        assert said.startswith(f"SSRL Playground: Streamlit did not read {ROOT / '.streamlit' / 'config.toml'}")
        assert f"({tmp_path})" in said and said.endswith(f"cd {ROOT} && python -m streamlit run app/main.py")
        assert said in capsys.readouterr().err
    finally:
        monkeypatch.undo()
        config.get_config_options(force_reparse=True)


def test_a_large_maps_groups_are_circles_drawn_in_a_shuffled_order():
    """At 60,000 points (CIFAR-10) 5-px marker shapes cannot be told apart and their areas
    differ: one group's x marks took 23% of the map's pixels for its 10% of the images. Above
    SHAPES_UP_TO points every group is a circle; and every map draws its points in a shuffled
    order, so that a set stored class by class does not draw its last classes over the rest."""
    from ssrl_core.figures import GROUP_SYMBOLS, SHAPES_UP_TO

    rng = np.random.default_rng(1)
    n = SHAPES_UP_TO + 1
    values = np.repeat(np.arange(10), n // 10 + 1)[:n]  # class by class, as an import's folders
    fig = embedding_map(rng.normal(size=(n, 2)), values, [str(d) for d in range(10)])
    points = fig.data[0]
    assert set(np.asarray(points.marker.symbol).tolist()) == {0}
    assert {t.marker.symbol for t in fig.data[1:] if t.name in [str(d) for d in range(10)]} == {0}
    last = np.asarray(points.customdata, dtype=np.int64)[-n // 10:]  # the last tenth drawn: every class, not one
    assert len(set(values[last])) == 10
    small = embedding_map(rng.normal(size=(50, 2)), np.arange(50) % 10, [str(d) for d in range(10)])
    rows = np.asarray(small.data[0].customdata, dtype=np.int64)
    assert list(small.data[0].marker.symbol) == [GROUP_SYMBOLS[r % 10] for r in rows]  # shapes, each its group's


def test_every_mark_on_a_shuffled_map_names_its_own_rows_label():
    """The star on the image picked and the rings on its neighbours hovered as another image's
    label ("selected: row 7 / class2"): they looked their rows up in the names after these
    were shuffled into the drawing order."""
    names = [f"class{i}" for i in range(10)]
    coords = np.random.default_rng(2).normal(size=(100, 2))
    fig = embedding_map(coords, np.arange(100) % 10, names, rows=np.arange(100) + 1000, highlight=[1003, 1005],
                        selected=1007, landing=[(1009, 0.9)])
    marks = {t.name: t for t in fig.data}
    assert list(marks["neighbours"].text) == ["class3", "class5"] and list(marks["selected"].text) == ["class7"]
    assert np.allclose(marks["selected"].x, coords[7, 0]) and list(marks["neighbours"].customdata) == [1003, 1005]
    points = fig.data[0]
    assert [f"class{(int(r) - 1000) % 10}" for r in points.customdata] == list(points.text)  # each point's own
    assert np.allclose(marks["your image (among its neighbours)"].x, coords[9, 0])
