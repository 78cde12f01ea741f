"""Deleting runs: the store's row and events, the run folder and the app's export go; what
is not the playground's stays; an active run, or one whose probes are computing, is refused
with nothing changed."""
import sqlite3
from pathlib import Path

from ssrl_core import paths
from ssrl_core.cli import main
from ssrl_core.config import RunConfig
from ssrl_core.runs.artifacts import JOB_PENDING
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
    # the preview counts what deleting frees, the app's export too (it said the folder's 11.1 MB of 46.4 freed)
    assert main(["delete", "--status", "done"]) == 0
    preview = capsys.readouterr().out.splitlines()
    mb = float(preview[-1].split(", ")[1].split()[0])
    assert preview[-1] == (f"1 run, {mb:.1f} MB in their folders and the app's exports of them: nothing deleted yet; "
                           "add --yes to go on") and mb >= 2 and f"{mb:.1f} MB" in preview[0]

    # refused, nothing changed: a queued run, a run whose probes are being computed, an unknown id
    assert main(["delete", queued]) == 2 and f"run {queued} is queued: cancel it first" in capsys.readouterr().err
    (folder / JOB_PENDING).touch()
    assert main(["delete", rid]) == 2 and "probes are being computed" in capsys.readouterr().err
    assert store.get(rid) and folder.is_dir() and (exports / f"{rid}.zip").exists()
    (folder / JOB_PENDING).unlink()
    assert main(["delete", "nope"]) == 2 and "no run with id 'nope'" in capsys.readouterr().err

    assert main(["delete", rid]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"deleted {rid} (") and "MB freed)" in out and float(out.split("(")[1].split()[0]) == mb
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


def test_a_resume_that_arrives_while_the_files_move_waits_and_finds_no_run(finished_run, monkeypatch):
    """Deleting a cancelled run while someone resumes it: the resume must not put the run back
    in the queue (where a worker would take it up) after its folder has been moved away."""
    import threading

    from ssrl_core.runs.remove import delete_run

    store = RunStore()
    rid = store.submit(RunConfig(method="random", seed=3))
    store.request_cancel(rid)
    folder = Path(store.get(rid)["run_dir"])
    (folder / "checkpoint.pt").parent.mkdir(parents=True, exist_ok=True)
    (folder / "checkpoint.pt").write_bytes(b"0" * 1000)
    resumed: dict = {}
    rename = Path.rename

    def resume() -> None:
        try:
            RunStore().resume(rid)
            resumed["status"] = RunStore().get(rid)["status"]
        except KeyError as e:
            resumed["error"] = str(e)

    def racing_rename(self, target):  # a classmate presses Resume just as the folder moves
        if self == folder:
            other = threading.Thread(target=resume)
            other.start()
            other.join(0.5)
            resumed["waited"] = other.is_alive()
            resumed["thread"] = other
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", racing_rename)
    assert delete_run(store, rid)["id"] == rid
    resumed.pop("thread").join(10)
    assert resumed.get("waited") and f"no run with id '{rid}'" in resumed.get("error", ""), resumed
    assert store.get(rid) is None and not folder.exists()
    assert [p.name for p in paths.runs_dir().iterdir()] == []


def test_a_resumed_runs_card_does_not_count_its_pause_as_its_wall_time(finished_run):
    from ssrl_core.runs.export import run_card

    store = RunStore()
    run = store.get(finished_run("random"))
    run.update(started=1000.0, finished=1090.0)
    assert run_card(run["run_dir"], run)["durations_s"]["wall_seconds"] == 90
    card = run_card(run["run_dir"], {**run, "queued_at": 5000.0, "finished": 5030.0})  # cancelled, resumed later
    assert "wall_seconds" not in card["durations_s"] and card["times"]["resumed"] == 5000.0
    # how many attempts its training time is of, and what it leaves out (374 s read as a run's time, of 515 s over
    # three attempts)
    from ssrl_core.runs.export import card_markdown

    assert "attempts" not in card["times"] and "attempts" not in card_markdown(card)
    card = run_card(run["run_dir"], {**run, "queued_at": 5000.0, "finished": 5030.0, "attempts": 3})
    assert card["times"]["attempts"] == 3
    assert "Trained in 3 attempts (resumed after an interruption: a cancel, a stopped worker, or a failure mended " \
           "since): `train` counts the time of the epochs the run kept, not the pauses" in card_markdown(card)


def test_a_selection_is_listed_first_and_deleted_only_with_yes(capsys):
    store = RunStore()

    def ended(seed, status, nickname, days_ago):
        rid = store.submit(RunConfig(method="random", seed=seed), nickname=nickname)
        store.claim("w")
        store.finish(rid, status, error=None if status == "done" else "why", worker="w")
        with sqlite3.connect(store.path) as c:
            c.execute("UPDATE runs SET finished=? WHERE id=?", (store.get(rid)["finished"] - days_ago * 86400, rid))
        Path(store.get(rid)["run_dir"]).mkdir(parents=True)
        return rid

    old_failed = ended(0, "failed", "ada", 3)
    new_failed = ended(1, "failed", "ada", 0)
    old_done = ended(2, "done", "bo", 3)
    old_cancelled = ended(3, "cancelled", "bo", 3)
    active = store.submit(RunConfig(method="random", seed=4), nickname="bo")

    assert main(["delete", "--status", "failed,cancelled", "--older-than", "1"]) == 0
    out = capsys.readouterr().out
    assert {old_failed, old_cancelled} == {line.split()[0] for line in out.splitlines()[:-1]}
    assert "2 runs" in out and "add --yes" in out and len(store.list()) == 5  # listed, nothing deleted
    assert main(["delete", "--status", "failed,cancelled", "--older-than", "1", "--yes"]) == 0
    assert {r["id"] for r in store.list()} == {new_failed, old_done, active}
    assert main(["delete", "--nickname", "Bo", "--yes"]) == 0  # every ended run of bo's, any case; the queued one stays
    assert {r["id"] for r in store.list()} == {new_failed, active}
    assert main(["delete", "--nickname", "nobody"]) == 0 and "nothing deleted" in capsys.readouterr().out

    for argv, said in ((["delete"], "say which runs"), (["delete", new_failed, "--status", "done"], "not both"),
                       (["delete", "--status", "queued"], "ended statuses"),
                       (["delete", "--older-than", "-1"], "0 or more")):
        assert main(argv) == 2 and said in capsys.readouterr().err, argv
    assert {r["id"] for r in store.list()} == {new_failed, active}


def test_a_run_deleted_while_the_app_exports_it_waits_for_the_export_and_leaves_nothing(finished_run, monkeypatch):
    """A run deleted from the command line while a tab wrote its export: the export failed with
    "exports could not be written (No such file or directory): check that the folder can be
    written" (its folder moved away mid-read), and a click after the deletion exported nothing
    but said the same (a review of several tabs at once)."""
    import threading
    import time

    import pytest

    from app import services
    from ssrl_core.runs import export
    from ssrl_core.runs.remove import delete_run

    store = RunStore()
    rid = finished_run("simclr")
    run = store.get(rid)
    writing = threading.Event()
    real = export.export_run

    def slow(*args, **kwargs):  # the export reads the run's folder for a second
        writing.set()
        time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "export_run", slow)
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(files=services.export_run(run)))
    thread.start()
    assert writing.wait(30)
    assert delete_run(store, rid)["id"] == rid  # waits for the export, then removes it with the run
    thread.join(30)
    assert "all" in outcome.get("files", {})  # the export finished whole before the run went
    exports = paths.ssrl_home() / "exports"
    assert sorted(p.name for p in exports.iterdir()) == []
    with pytest.raises(ValueError, match=f"run {rid} was deleted meanwhile \\(from another tab or the command line\\)"):
        services.export_run(run)  # a stale page's click
    assert sorted(p.name for p in exports.iterdir()) == []  # no lock file left for a run that is gone


def test_the_space_a_deletion_frees_is_the_runs_own_folder_and_the_apps_export_of_it(finished_run, tmp_path, capsys):
    """"N MB freed" (and the preview's N) is what goes: the run's folder plus the app's export of
    it; a folder elsewhere that a row names stays, so it is not counted."""
    store = RunStore()
    rid = finished_run("random")
    folder = Path(store.get(rid)["run_dir"])
    exports = paths.ssrl_home() / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    (exports / f"{rid}.zip").write_bytes(b"0" * 1_500_000)
    (exports / rid / "figures").mkdir(parents=True)  # the folder an older version exported into, files in subfolders
    (exports / rid / "figures" / "map.png").write_bytes(b"0" * 500_000)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
    assert size > 0.1
    assert main(["delete", rid]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"deleted {rid} (") and float(out.split("(")[1].split()[0]) == round(size + 2.0, 1)
    assert not (exports / rid).exists() and not (exports / f"{rid}.zip").exists()

    other = store.submit(RunConfig(method="random", seed=5))
    store.request_cancel(other)
    mine = tmp_path / "my-results"
    mine.mkdir()
    (mine / "big.bin").write_bytes(b"0" * 3_000_000)
    with sqlite3.connect(store.path) as c:
        c.execute("UPDATE runs SET run_dir=? WHERE id=?", (str(mine), other))
    assert main(["delete", other]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"deleted {other} (0 MB freed); its folder stays") and (mine / "big.bin").exists()


def test_the_apps_delete_message_names_a_folder_only_when_one_stays(finished_run):
    """"its folder stays: …" is said of a folder a deletion could not remove, never of one it did."""
    from app import services

    rid = finished_run("simclr")
    folder = Path(RunStore().get(rid)["run_dir"])
    said, error = services.delete_run(rid)
    assert error is None and not folder.exists()
    assert said.startswith(f"Deleted run {rid} (") and said.endswith(" MB freed).") and "stays" not in said
