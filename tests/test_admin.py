"""What whoever runs the server meets: a full disk, a home moved, copied or given as a relative
path, a damaged run store, a damaged checkpoint. Each is said in one line with what to do,
and nothing is lost or left half-written."""
import errno
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from ssrl_core import cli, paths
from ssrl_core.runs import store as store_module
from ssrl_core.runs.store import RunStore


class _FullDisk:
    """A SQLite connection on a disk with no room left: what writes, or commits a write, fails
    as SQLite says it (``fail`` such statements in all, then it works again)."""

    def __init__(self, conn, fail: list):
        object.__setattr__(self, "_c", conn)
        object.__setattr__(self, "_fail", fail)

    def execute(self, sql, *args):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "COMMIT")) and self._fail[0] > 0:
            self._fail[0] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return self._c.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._c, name)

    def __setattr__(self, name, value):
        setattr(self._c, name, value)


def full_disk(monkeypatch, statements: int = 10**9) -> None:
    connect, fail = sqlite3.connect, [statements]
    monkeypatch.setattr(store_module.sqlite3, "connect", lambda *a, **k: _FullDisk(connect(*a, **k), fail))


def test_a_full_disk_under_the_store_is_said_as_such(monkeypatch, capsys, ssrl_home):
    RunStore()  # made while there was room
    full_disk(monkeypatch)
    rc = cli.main(["submit", "--dataset", "digits", "--method", "random", "--epochs", "0"])
    assert rc == 2 and capsys.readouterr().err.endswith(
        f"error: the disk holding {ssrl_home / 'store.sqlite'} is full: free some space there (deleting ended runs "
        "frees the most), then try again\n")
    # SQLite says only "disk I/O error" when it cannot grow its shared-memory file: a full disk all the same
    said = RunStore()._said(sqlite3.OperationalError("disk I/O error"))
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    assert RunStore()._said(sqlite3.OperationalError("disk I/O error")).errno == errno.ENOSPC
    assert said is None  # with room on the disk it is not a full disk, and stays as SQLite said it
    # too full to be opened at all, the store could not record a deletion either: what else can go is said
    def no_room(*a, **k):  # what connecting to a store with no room for its shared-memory file raises
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store_module.sqlite3, "connect", no_room)
    assert cli.main(["runs"]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: the disk holding the run store {ssrl_home / 'store.sqlite'} is full, so the store cannot even be "
        f"opened: free some space on it ({ssrl_home / 'cache'} and ")


def test_deleting_a_run_on_a_full_disk_frees_its_files_first(finished_run, monkeypatch):
    rid = finished_run("random")
    folder = Path(RunStore().get(rid)["run_dir"])
    full_disk(monkeypatch, statements=1)  # the deletion cannot be recorded until its files are gone
    assert cli.main(["delete", rid]) == 0
    assert RunStore().get(rid) is None and not folder.exists()
    assert not list(folder.parent.glob(".deleting-*"))


def test_a_failed_delete_for_another_reason_keeps_the_run_and_its_files(finished_run, monkeypatch):
    rid = finished_run("random")
    folder = Path(RunStore().get(rid)["run_dir"])

    def refused(self, run_id, while_locked=None):
        while_locked()
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(RunStore, "delete", refused)
    assert cli.main(["delete", rid]) == 2
    assert RunStore().get(rid)["status"] == "done" and (folder / "checkpoint.safetensors").exists()


def test_a_delete_whose_store_stays_busy_keeps_the_run_and_its_folder_in_place(finished_run, monkeypatch):
    """The store's write failed with no disk error (busy past its timeout, damaged): the row
    stays, and so does the folder where the run's pages look for it (not moved aside)."""
    from ssrl_core.runs.remove import delete_run

    rid = finished_run("random")
    folder = Path(RunStore().get(rid)["run_dir"])

    def busy(self, run_id, while_locked=None):
        while_locked()
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(RunStore, "delete", busy)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        delete_run(RunStore(), rid)
    assert RunStore().get(rid)["status"] == "done" and (folder / "checkpoint.safetensors").exists()
    assert not list(folder.parent.glob(".deleting-*"))


def test_a_moved_or_copied_home_finds_its_own_run_folders(finished_run, ssrl_home, tmp_path, monkeypatch, capsys):
    from ssrl_core.config import RunConfig

    rid = finished_run("random")
    queued = RunStore().submit(RunConfig(method="random", epochs=0))  # no folder yet
    moved = tmp_path / "bigger disk" / "home"
    shutil.copytree(ssrl_home, moved)  # a copy: the original stays, and must not be read or written through it
    original = {p: p.read_bytes() for p in (ssrl_home / "runs" / rid).iterdir() if p.is_file()}
    monkeypatch.setenv("SSRL_HOME", str(moved))
    assert RunStore().get(rid)["run_dir"] == str(moved / "runs" / rid)
    assert RunStore().claim("w")["run_dir"] == str(moved / "runs" / queued)  # trained in the copy, not the original
    assert cli.main(["export", "--run", rid, "--out", str(tmp_path / "out")]) == 0
    assert cli.main(["probe", "--run", rid, "--labels-per-class", "1", "--seeds", "1", "--no-references"]) == 0
    assert "linear/label/1/s1" in (moved / "runs" / rid / "probes.json").read_text()
    assert {p: p.read_bytes() for p in (ssrl_home / "runs" / rid).iterdir() if p.is_file()} == original
    shutil.rmtree(ssrl_home)  # moved, not copied
    assert cli.main(["delete", rid]) == 0 and not (moved / "runs" / rid).exists()
    assert "its folder stays" not in capsys.readouterr().out


def test_a_damaged_store_is_named_with_what_to_do(ssrl_home, capsys):
    RunStore()
    (ssrl_home / "store.sqlite").write_bytes(b"this is not a database, it was overwritten" * 100)
    assert cli.main(["runs"]) == 2
    err = capsys.readouterr().err
    path = ssrl_home / "store.sqlite"
    there = " ".join(str(p) for p in (path, ssrl_home / "store.sqlite-wal", ssrl_home / "store.sqlite-shm")
                     if p.exists())  # those there: a mv of one missing failed ("cannot stat")
    assert err.startswith(f"error: the run store {path} is damaged (file is not a database): move it aside with its "
                          f"-wal and -shm files (mkdir {path}.damaged && mv {there} {path}.damaged/)"), err
    assert "then `python -m ssrl_core restore-runs --yes` lists the runs of" in err and "\n" not in err.rstrip("\n")
    from .test_app import open_page  # the app says it in a box: as a traceback it read as the app's crash

    for page in ("home", "pretrain", "gallery"):
        at = open_page(page)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "is damaged (file is not a database): move it aside" in at.error[0].value, page
    assert (ssrl_home / "store.sqlite").read_bytes().startswith(b"this is not a database")  # left as it was


def test_a_relative_home_is_made_absolute_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSRL_HOME", "classroom")
    assert paths.ssrl_home() == tmp_path / "classroom"
    # the workers and probe jobs the app starts run in the repository's folder: they inherit the absolute path
    assert os.environ["SSRL_HOME"] == str(tmp_path / "classroom")
    monkeypatch.chdir("/")
    assert paths.ssrl_home() == tmp_path / "classroom"


def test_a_home_that_is_a_file_is_said_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "home").write_text("")
    monkeypatch.setenv("SSRL_HOME", str(tmp_path / "home"))
    assert cli.main(["runs"]) == 2
    assert capsys.readouterr().err == (f"error: SSRL_HOME ({tmp_path / 'home'}) is a file, not a folder: point "
                                       "SSRL_HOME at a folder this user can write (it is made when missing)\n")


@pytest.fixture
def exported(finished_run, tmp_path):
    rid = finished_run("random")
    out = tmp_path / "export"
    assert cli.main(["export", "--run", rid, "--out", str(out)]) == 0
    return rid, out, {p.name: p.read_bytes() for p in out.iterdir()}


def test_saying_a_disk_is_full_makes_no_home(tmp_path, monkeypatch):
    """`train --out` elsewhere on a full disk is explained without making the SSRL_HOME that
    command never used (its advice names the home's disk all the same)."""
    from ssrl_core.text import not_written

    home = tmp_path / "never used"
    monkeypatch.setenv("SSRL_HOME", str(home))
    said = not_written(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "out" / "run")
    assert said == f"the disk holding {tmp_path / 'out' / 'run'} is full: free some space there (deleting ended runs frees the most)"
    assert not home.exists()


def test_an_export_cut_short_leaves_the_earlier_one_whole(exported, monkeypatch, capsys):
    from ssrl_core.runs import export

    rid, out, before = exported

    def full(*args, **kwargs):  # the disk fills on the last files, after the card and the embeddings
        raise OSError(errno.ENOSPC, "No space left on device", str(args[3] / "map.html"))

    monkeypatch.setattr(export, "write_figures", full)
    capsys.readouterr()
    assert cli.main(["export", "--run", rid, "--out", str(out)]) == 2
    assert f"the disk holding {out} is full" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing half-written, nothing left over


def test_an_export_into_another_runs_export_is_refused_and_one_of_the_same_run_replaces_it_whole(
        exported, finished_run, capsys):
    """A review exported a second run into the first's folder: both exit 0, and the first run's probes.json stayed
    beside the second's card (which had none), read as the second run's label efficiency and invariance."""
    import os

    rid, out, before = exported
    other = finished_run("simclr")
    capsys.readouterr()
    assert cli.main(["export", "--run", other, "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: {out} holds the export of run {rid} (its run_card.json): give a new "
                                       "folder for this run's export, or delete that one first; nothing was written\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    (out / "notes.txt").write_text("mine")  # a file of the user's own stays
    (out / "probes.json").write_text("{}")  # as if an earlier export of this run had carried probes it now has not
    (Path(RunStore().get(rid)["run_dir"]) / "probes.json").unlink(missing_ok=True)
    assert cli.main(["export", "--run", rid, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted({*before, "notes.txt"} - {"probes.json"})
    assert os.access(out / "reproduce.sh", os.X_OK)  # `./reproduce.sh` said "Permission denied"
    # a folder of the user's own (no export in it) keeps every file the export does not write, even one of an export
    # file's name (a review's own probes.json was deleted)
    mine = out.parent / "mine"
    mine.mkdir()
    (mine / "probes.json").write_text('{"mine": 1}')
    assert cli.main(["export", "--run", rid, "--out", str(mine)]) == 0
    assert (mine / "probes.json").read_text() == '{"mine": 1}' and (mine / "run_card.json").exists()


def test_an_export_into_the_playgrounds_own_folders_is_refused(exported, ssrl_home, capsys):
    """`export --out $SSRL_HOME` wrote twelve files beside store.sqlite, and `--out $SSRL_HOME/exports/ID` overwrote
    the app's own export of the run (its zip left as it was)."""
    rid, out, before = exported
    capsys.readouterr()
    for where, said in ((ssrl_home, "the playground's home (SSRL_HOME)"),
                        (ssrl_home / "exports" / rid, f"inside {ssrl_home.resolve() / 'exports'}, which the playground "
                                                      "keeps")):
        assert cli.main(["export", "--run", rid, "--out", str(where)]) == 2
        assert capsys.readouterr().err == (f"error: --out {where} is {said}: give a folder of your own to write into; "
                                           "nothing was written\n")
    assert not (ssrl_home / "run_card.json").exists() and not (ssrl_home / "exports" / rid).exists()
    assert cli.main(["export", "--run", rid, "--out", str(ssrl_home / "my-exports")]) == 0  # a folder of one's own
    elsewhere = ssrl_home.parent / "big-disk" / "exports"  # the home's exports on another disk, through a link
    elsewhere.mkdir(parents=True)
    (ssrl_home / "exports").rmdir() if (ssrl_home / "exports").exists() else None
    (ssrl_home / "exports").symlink_to(elsewhere)
    assert cli.main(["export", "--run", rid, "--out", str(elsewhere / rid)]) == 2
    assert "which the playground keeps" in capsys.readouterr().err and not (elsewhere / rid).exists()


def test_an_export_of_a_damaged_checkpoint_is_refused(exported, capsys):
    rid, out, before = exported
    ckpt = Path(RunStore().get(rid)["run_dir"]) / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])  # cut short
    capsys.readouterr()
    assert cli.main(["export", "--run", rid, "--out", str(out.parent / "again")]) == 2
    err = capsys.readouterr().err
    assert "is not a readable safetensors checkpoint" in err and "the run's trained weights are damaged" in err
    assert err.rstrip().endswith("nothing was exported") and not (out.parent / "again").exists()


def test_runs_says_when_a_running_runs_worker_is_gone(capsys):
    import socket

    from ssrl_core.config import RunConfig
    from ssrl_core.locks import hold
    from ssrl_core.runs.worker import slot_lock

    store = RunStore()
    store.submit(RunConfig(method="random", epochs=0))
    worker = f"{socket.gethostname()}:4242:0"
    store.claim(worker)  # then the worker was killed: nothing holds its slot
    assert cli.main(["runs"]) == 0
    assert ("its worker is gone (starting: loading the data and the model): start one (`python -m ssrl_core worker`) "
            "and the run resumes from its last finished epoch") in capsys.readouterr().out
    lock = hold(slot_lock(0))  # a live worker of that id holds it
    lock.seek(0)
    lock.truncate()
    lock.write(worker)
    lock.flush()
    assert cli.main(["runs"]) == 0 and "worker is gone" not in capsys.readouterr().out
    lock.close()


def test_numpys_short_write_on_a_full_disk_is_said_as_a_full_disk(ssrl_home):
    from ssrl_core.text import not_written

    said = not_written(OSError("6144000 requested and 3145600 written"), ssrl_home / "data" / "custom")
    assert said == (f"the disk holding {ssrl_home / 'data' / 'custom'} is full: free some space there (deleting ended "
                    "runs frees the most)")


def test_runs_unlisted_by_a_replaced_store_are_restored_from_their_folders(finished_run, ssrl_home, capsys):
    """A damaged store moved aside, or a zero-length one, opens as a new empty store: every run
    was gone from every page, its folder still there. ``restore-runs`` lists them again."""
    import json

    from ssrl_core.config import RunConfig
    from ssrl_core.runs.worker import Worker

    done = finished_run("simclr")  # a copy of a prepared run's folder: no record of who queued it
    stopped = finished_run("random")
    folder = Path(RunStore().get(stopped)["run_dir"])
    (folder / "summary.json").unlink()  # it stopped before its evaluation ended
    (folder / "submitted.json").write_text(json.dumps({"nickname": "ada\nrm -rf", "created": "yesterday"}))  # edited
    store = RunStore()  # ada's run, as a worker runs it: it records who queued it, and when
    adas = store.submit(RunConfig(dataset="digits", method="random", epochs=0, evaluation="basic"), nickname="ada")
    worker = Worker(store)
    assert worker.run_one(store.claim(worker.id)) == "done"
    queued_at = store.get(adas)["created"]
    (ssrl_home / "runs" / "notes").mkdir()  # a folder of someone's own: no run in it
    (ssrl_home / "runs" / "newer").mkdir()  # a run of a later version, with a setting this one does not know
    (ssrl_home / "runs" / "newer" / "config.json").write_text(json.dumps({"method": "simclr", "warp": 9}))
    summary = RunStore().get(done)["summary"]
    (ssrl_home / "store.sqlite").unlink()
    for extra in ("store.sqlite-wal", "store.sqlite-shm"):
        (ssrl_home / extra).unlink(missing_ok=True)
    (ssrl_home / "store.sqlite").write_bytes(b"")  # a zero-length store: SQLite opens it as a new one
    assert RunStore().list() == []
    capsys.readouterr()
    assert cli.main(["restore-runs"]) == 0
    said = capsys.readouterr()
    assert "3 runs to restore: nothing restored yet; add --yes to go on" in said.out and RunStore().list() == []
    [adas_line] = [line for line in said.out.splitlines() if line.startswith(adas)]
    assert adas_line.split()[-1] == "ada" and " untrained " in adas_line  # as `runs` says it, not "epoch 0/0"
    assert f"left as it is: {ssrl_home / 'runs' / 'notes'}: no readable config.json nor checkpoint" in said.err
    assert (f"left as it is: {ssrl_home / 'runs' / 'newer'}: its config.json is not a run's settings this version "
            "reads (unknown") in said.err
    assert cli.main(["restore-runs", "--yes"]) == 0 and "restored 3 runs" in capsys.readouterr().out
    again = RunStore().get(done)
    assert again["status"] == "done" and again["summary"] == json.loads(json.dumps(summary))
    assert again["method"] == "simclr" and again["run_dir"] == str(ssrl_home / "runs" / done)
    assert again["nickname"] is None
    back = RunStore().get(adas)  # ada's again: hers to resume or delete, in its place in time
    assert back["status"] == "done" and back["nickname"] == "ada" and back["created"] == queued_at
    paused = RunStore().get(stopped)
    assert paused["status"] == "cancelled" and "resume it to continue" in paused["error"]
    assert paused["nickname"] is None and paused["created"] == (folder / "config.json").stat().st_mtime
    RunStore().resume(stopped)  # and it continues: back in the queue
    assert RunStore().get(stopped)["status"] == "queued"
    assert cli.main(["restore-runs"]) == 0 and "nothing to restore" in capsys.readouterr().out


def test_a_run_stopped_during_pretraining_is_restored_from_its_checkpoints_settings(ssrl_home, capsys):
    """``config.json`` is written once pretraining ends: a run cancelled, failed or killed
    during training has a checkpoint and no config, and restore-runs left every such folder
    out ("no readable config.json") where the README promised it back, resumable."""
    from ssrl_core import paths
    from ssrl_core.config import RunConfig
    from ssrl_core.stops import Cancelled
    from ssrl_core.train import pretrain

    cfg = RunConfig(dataset="digits", method="simclr", epochs=3, batch_size=256, evaluation="basic")
    folder = paths.runs_dir() / "20261205-stopped"
    ended = []
    with pytest.raises(Cancelled):  # stopped after its first epoch, as a cancel or a killed worker leaves it
        pretrain(cfg, folder, on_event=lambda e: ended.append(e) if e.get("kind") == "epoch_end" else None,
                 should_cancel=lambda: len(ended) >= 1)
    assert (folder / "checkpoint.safetensors").exists() and not (folder / "config.json").exists()
    assert cli.main(["restore-runs", "--yes"]) == 0 and "restored 1 run" in capsys.readouterr().out
    back = RunStore().get("20261205-stopped")
    assert back["status"] == "cancelled" and back["epoch"] == 1 and back["epochs"] == 3
    assert back["config"]["method"] == "simclr" and back["config"]["batch_size"] == 256
    assert "stopped at epoch 1 of 3; resume it to continue" in back["error"]
    RunStore().resume("20261205-stopped")
    assert RunStore().get("20261205-stopped")["status"] == "queued"


def test_a_run_given_by_id_or_folder_is_found_or_refused_with_advice(finished_run, ssrl_home, tmp_path):
    from ssrl_core.config import RunConfig
    from ssrl_core.runs import run_folder
    from ssrl_core.train import load_trained

    rid = finished_run("random")
    folder = ssrl_home / "runs" / rid
    assert run_folder(rid) == folder and run_folder(str(folder)) == folder
    assert load_trained(rid).config.method == "random"  # an id where a folder is taken
    with pytest.raises(ValueError, match=r"^no run was given \(an empty name\)"):
        run_folder("  ")
    queued = RunStore().submit(RunConfig(method="random", epochs=0))
    with pytest.raises(ValueError, match=f"^run {queued} is queued: this needs a finished run"):
        run_folder(queued)
    with pytest.raises(ValueError, match=f"^run {queued} is queued and has no checkpoint yet: wait for its first"):
        load_trained(queued)
    shutil.move(folder, tmp_path / "elsewhere")
    with pytest.raises(ValueError, match=f"^run {rid} \\(done\\) has no checkpoint in .*: its folder was moved"):
        run_folder(rid)
    assert run_folder(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert cli.main(["export", "--run", str(tmp_path / "elsewhere"), "--out", str(tmp_path / "export")]) == 0
    with pytest.raises(ValueError, match=r"export\b.* is an export of a run \(its run_card.json\), not the run's "
                                         "folder: give the run's own folder or its id"):
        run_folder(tmp_path / "export")


def test_a_deletion_killed_midway_is_finished_or_undone_by_the_next(finished_run, ssrl_home, capsys):
    runs = ssrl_home / "runs"
    recorded, unrecorded, other = (finished_run("random") for _ in range(3))
    store = RunStore()
    # killed after the store recorded the deletion: the folder moved aside stays behind
    store.delete(recorded, while_locked=lambda: (runs / recorded).rename(runs / f".deleting-{recorded}"))
    # killed before it did: the row is there, its folder moved aside
    (runs / unrecorded).rename(runs / f".deleting-{unrecorded}")
    assert cli.main(["delete", other]) == 0
    assert sorted(p.name for p in runs.iterdir()) == [unrecorded]
    assert (runs / unrecorded / "checkpoint.safetensors").exists() and store.get(unrecorded)["status"] == "done"
    assert cli.main(["export", "--run", unrecorded, "--out", str(ssrl_home.parent / "out")]) == 0


def test_a_folder_a_killed_deletion_moved_aside_is_not_restored_as_a_run(finished_run, ssrl_home, capsys):
    """restore-runs lists again the run folders the store does not know; ``.deleting-ID``, the
    folder of a run whose deletion was recorded before a kill, is no run to bring back (it was
    listed as a run of id ".deleting-ID")."""
    runs = ssrl_home / "runs"
    rid = finished_run("random")
    RunStore().delete(rid, while_locked=lambda: (runs / rid).rename(runs / f".deleting-{rid}"))
    capsys.readouterr()
    assert cli.main(["restore-runs", "--yes"]) == 0
    assert "nothing to restore" in capsys.readouterr().out and RunStore().list() == []


def test_a_cancelled_runs_deletion_killed_before_it_was_recorded_is_undone_when_a_worker_starts(
        ssrl_home, monkeypatch, capsys):
    """A deletion killed after moving the folder aside, before the store recorded it: the run is
    still listed (cancelled, not only done), so the next worker puts its folder back, whole."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs import worker as worker_mod

    store = RunStore()
    rid = store.submit(RunConfig(method="random", seed=1))
    store.request_cancel(rid)
    folder = Path(store.get(rid)["run_dir"])
    folder.mkdir(parents=True)
    (folder / "checkpoint.safetensors").write_bytes(b"weights")
    folder.rename(ssrl_home / "runs" / f".deleting-{rid}")
    monkeypatch.setattr(worker_mod, "warm_caches", lambda: None)
    capsys.readouterr()
    assert worker_mod.Worker(store).serve(once=True) == 0
    assert f"run {rid}: a deletion killed midway left its folder; put back" in capsys.readouterr().out
    assert (folder / "checkpoint.safetensors").read_bytes() == b"weights" and store.get(rid)["status"] == "cancelled"
    assert sorted(p.name for p in (ssrl_home / "runs").iterdir()) == [rid]


def test_ordinals_of_ranks_and_percentiles():
    from ssrl_core.text import ordinal

    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th", "112th"]
    assert [ordinal(x) for x in (0.1, 99.9, 2.5, 50.0)] == ["0.1st", "99.9th", "2.5th", "50th"]


def test_counts_durations_lists_and_near_names_as_the_messages_say_them():
    from ssrl_core.text import about, count, csv_text, listing, meant, minutes, nearest

    assert [count(n, "run") for n in (0, 1, 2, 1438)] == ["0 runs", "1 run", "2 runs", "1,438 runs"]
    assert count(2, "copy", "copies") == "2 copies"
    assert [about(s) for s in (0, 59, 60, 89, 91, 170, 3600)] == [
        "less than a minute", "less than a minute", "about 1 min", "about 1 min", "about 2 min", "about 3 min",
        "about 60 min"]
    assert minutes(5) == 1  # at least one
    assert [listing(x) for x in ([], ["a"], ["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d"])] == [
        "", "a", "a and b", "a, b and c", "a, b, c and d"]
    assert nearest("digts", ["shapes", "digits"]) == "digits" and nearest("pets", ["shapes", "digits"]) is None
    assert meant("simclear", ["byol", "simclr"]) == " (did you mean 'simclr'?)" and meant("pets", ["shapes"]) == ""
    # a spreadsheet runs a cell starting with any of these as a formula (a tab or return, then one: OWASP)
    assert [csv_text(v) for v in ("=1+1", "+1", "-x", "@SUM(A1)", "\t=1", "\r=1", "cat", "", -3)] == [
        "'=1+1", "'+1", "'-x", "'@SUM(A1)", "'\t=1", "'\r=1", "cat", "", -3]


def test_the_apps_export_is_written_once_and_again_only_when_its_summary_is_newer(finished_run):
    """A second "Prepare the export" of an unchanged run serves the zip already written (it
    was written again on every click); a summary changed since writes it anew."""
    from app import services

    rid = finished_run("simclr")
    run = RunStore().get(rid)
    zipped = Path(services.export_run(run)["all"])
    first = zipped.stat().st_ino
    services.export_run(run)
    assert zipped.stat().st_ino == first  # not replaced
    summary = Path(run["run_dir"]) / "summary.json"
    later = zipped.stat().st_mtime + 10
    os.utime(summary, (later, later))
    services.export_run(run)
    assert zipped.stat().st_ino != first
