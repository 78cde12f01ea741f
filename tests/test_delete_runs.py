"""Deleting runs: the store's row and events, the run folder and the app's export go; what
is not the playground's stays; an active run, or one whose probes are computing, is refused
with nothing changed."""
import sqlite3
from pathlib import Path

from ssrl_core import paths
from ssrl_core.cli import main
from ssrl_core.config import RunConfig
from ssrl_core.evaluate.suite import JOB_PENDING
from ssrl_core.runs.store import RunStore


def test_delete_removes_a_run_and_its_files_and_refuses_what_it_must_not_touch(finished_run, tmp_path, capsys):
    store = RunStore()
    rid = finished_run("random")
    folder = Path(store.get(rid)["run_dir"])
    exports = paths.ssrl_home() / "exports"
    (exports / rid).mkdir(parents=True)
    (exports / rid / "run_card.md").write_text("card")
    (exports / f"{rid}.zip").write_bytes(b"0" * 2_000_000)
    queued = store.submit(RunConfig(method="random", seed=1))

    # refused, nothing changed: a queued run, a run whose probes are being computed, an unknown id
    assert main(["delete", queued]) == 2 and f"run {queued} is queued: cancel it first" in capsys.readouterr().err
    (folder / JOB_PENDING).touch()
    assert main(["delete", rid]) == 2 and "probes are being computed" in capsys.readouterr().err
    assert store.get(rid) and folder.is_dir() and (exports / f"{rid}.zip").exists()
    (folder / JOB_PENDING).unlink()
    assert main(["delete", "nope"]) == 2 and "no run with id 'nope'" in capsys.readouterr().err

    assert main(["delete", rid]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"deleted {rid} (") and "MB freed)" in out and float(out.split("(")[1].split()[0]) >= 2
    assert store.get(rid) is None and store.events(rid) == [] and not folder.exists()
    assert not (exports / rid).exists() and not (exports / f"{rid}.zip").exists()
    assert [p.name for p in paths.runs_dir().iterdir()] == []  # nothing left half deleted
    assert store.get(queued)["status"] == "queued"  # the other run is untouched

    # a row whose folder is not the store's own (moved, or made by hand) loses its row, never that folder
    other = store.submit(RunConfig(method="random", seed=2))
    store.request_cancel(other)
    mine = tmp_path / "my-results"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    with sqlite3.connect(store.path) as c:
        c.execute("UPDATE runs SET run_dir=? WHERE id=?", (str(mine), other))
    assert main(["delete", other]) == 0
    assert "its folder stays" in capsys.readouterr().out and (mine / "keep.txt").read_text() == "mine"
    assert store.get(other) is None
