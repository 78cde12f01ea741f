"""The worker as a real process: claims, executes, reports, cancels, survives a kill."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ssrl_core.config import RunConfig
from ssrl_core.runs import artifacts as art
from ssrl_core.runs.store import FINISHED, RunStore
from ssrl_core.runs.worker import Worker, live_workers

from .conftest import ctrl_c_as_at_a_terminal

ROOT = Path(__file__).resolve().parents[1]


def _start_worker(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=ctrl_c_as_at_a_terminal)


def _remove(folder: Path) -> None:
    """``rm -rf FOLDER`` while a worker polls the store in it, tried again as a person would: a poll that opened the
    store just before the removal can make SQLite's -wal and -shm files there as it goes ("Directory not empty")."""
    import shutil

    for _ in range(50):
        try:
            shutil.rmtree(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(folder)


def _wait(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_runs_the_queue_and_writes_results():
    store = RunStore()
    ok = store.submit(RunConfig(dataset="digits", method="random"), nickname="ada")
    bad = store.submit(RunConfig(dataset="cifar10", method="random"))  # no files here
    proc = _start_worker("--once")
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    assert "loaded" not in out  # a worker for the runs queued now loads nothing ahead: it has no waiting to use
    run = store.get(ok)
    assert run["status"] == "done", run["error"]
    assert run["summary"]["knn_accuracy"] > 0.5 and run["summary"]["linear_accuracy"] > 0.5
    a = art.RunArtifacts(run["run_dir"])
    coords, kind = a.map()
    assert kind == "umap" and coords.shape == (1797, 2)
    nbrs = a.neighbours(0, k=8)
    assert len(nbrs) == 8 and all(i != 0 for i, _ in nbrs)
    # who queued it and when, recorded in the folder for restore-runs
    assert art.read_json(Path(run["run_dir"]) / art.SUBMITTED) == {"nickname": "ada", "created": run["created"]}
    failed = store.get(bad)
    assert failed["status"] == "failed" and "dataset missing" in failed["error"] and "cifar" in failed["error"]


def _final(store, ids):
    return all(store.get(i)["status"] in FINISHED for i in ids)


def test_two_workers_share_the_queue_a_killed_ones_run_resumes_and_stops_say_why(monkeypatch):
    """Two worker slots on one home: every run ends once, with the right outcome; SIGKILL of
    the worker training a run sends it back to the queue and the other worker resumes it
    from its checkpoint; a NaN loss ends as 'diverged'; a cancel during the evaluation stops
    it there."""
    monkeypatch.setenv("SSRL_WORKERS", "2")
    monkeypatch.setenv("SSRL_TORCH_THREADS", "1")  # two processes on two cores
    store = RunStore()
    basic = dict(dataset="digits", batch_size=256, evaluation="basic")
    long = store.submit(RunConfig(method="simclr", epochs=2, **basic))
    in_eval = store.submit(RunConfig(dataset="digits", method="random", epochs=0))  # full evaluation
    # a loss term weighted past float32's range: infinite at the first step (a temperature of 1e-40 is refused now)
    nan = store.submit(RunConfig(method="vicreg", epochs=1, options={"sim_weight": 1e39}, **basic))
    quick = store.submit(RunConfig(method="random", epochs=0, **basic))
    ids = [long, in_eval, nan, quick]
    procs = [_start_worker(), _start_worker()]
    try:
        _wait(lambda: len(live_workers()) == 2, 60, "two workers")
        assert not Worker().acquire()  # both slots are taken: no third worker
        # cancel the full-evaluation run inside its UMAP layout, one native call: its worker
        # ends it within seconds (restarting itself in place if the layout outlasts the grace)
        _wait(lambda: (store.get(in_eval)["phase"] or "").startswith(("umap", "probes")), 120, "the UMAP")
        store.request_cancel(in_eval)
        # kill whoever trains the long run, mid-run: the other worker takes it over
        _wait(lambda: store.get(long)["epoch"] >= 1, 120, "the first epoch")
        victim = int(store.get(long)["worker"].rsplit(":", 2)[1])
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: _final(store, ids), 240, "every run to end")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            p.wait(30)
    run = store.get(long)
    assert run["status"] == "done" and run["epoch"] == 2 and run["attempts"] == 2, run["error"]
    kinds = [e["kind"] for e in store.events(long)]
    assert "requeued" in kinds and kinds.count("resumed") == 1
    assert store.events(long, kind="resumed")[0]["epoch"] >= 1  # from the checkpoint, not from scratch
    trained = [e["epoch"] for e in store.events(long, kind="epoch_end")]
    assert max(trained) == 2 and len(trained) == len(set(trained))  # no epoch trained twice
    assert f":{victim}:" in store.events(long, kind="requeued")[0]["worker"]  # taken back from the dead one
    for rid in ids[1:]:
        assert store.get(rid)["attempts"] == 1 and len(store.events(rid, kind="claimed")) == 1  # by one worker
    cancelled = store.get(in_eval)
    assert cancelled["status"] == "cancelled" and "cancelled while evaluating (" in cancelled["error"], cancelled["error"]
    folder = Path(cancelled["run_dir"])
    assert (folder / "checkpoint.safetensors").exists() and not (folder / art.SUMMARY).exists()  # stopped in it
    failed = store.get(nan)
    assert failed["status"] == "failed" and "diverged" in failed["error"]
    assert "lower the learning rate" in failed["error"].lower()
    assert store.get(quick)["status"] == "done"


def test_cancel_a_running_run_through_the_store_and_resume_it_from_its_checkpoint(capsys, small):
    from ssrl_core.cli import main

    store = RunStore()
    epochs = 10  # half a second each on the small set: the cancel lands mid-run (after epoch 2 here)
    rid = store.submit(RunConfig(dataset=small, method="simclr", epochs=epochs, batch_size=16, evaluation="basic"))
    proc = _start_worker("--once")
    try:
        _wait(lambda: store.get(rid)["epoch"] >= 1, 120, "an epoch to finish")
        store.request_cancel(rid)
        _wait(lambda: store.get(rid)["status"] == "cancelled", 60, "the cancel")  # at its next step
        stopped = store.get(rid)
        proc.communicate(timeout=30)
        assert 1 <= stopped["epoch"] <= epochs  # (all on a machine so loaded that the cancel came after the last)
        # its reason says where it stopped and where a resume goes on, as `runs` and the app show it
        assert stopped["error"].startswith("cancelled ") and (
            f"the checkpoint of epoch {stopped['epoch']} is kept: resuming continues with epoch {stopped['epoch'] + 1}"
            if stopped["epoch"] < epochs else "resuming runs only the evaluation") in stopped["error"], stopped["error"]
        assert main(["resume", rid]) == 0
        assert capsys.readouterr().out.strip() == f"{rid}: queued: continues from epoch {stopped['epoch']} of {epochs}"
        proc = _start_worker("--once")
        _wait(lambda: store.get(rid)["status"] in FINISHED, 120, "the resumed run")
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = store.get(rid)
    assert run["status"] == "done" and run["error"] is None, run["error"]
    # the second attempt took over at the checkpoint: it trained the epochs left, not all of them
    assert [e["epoch"] for e in store.events(rid, kind="resumed")] == [stopped["epoch"]]
    assert [e["epoch"] for e in store.events(rid, kind="epoch_end")] == list(range(1, epochs + 1))  # none trained twice
    assert main(["resume", rid]) == 2 and "is done: only a cancelled or failed run can be resumed" in capsys.readouterr().err


def test_a_cancelled_runs_reason_says_where_it_stopped_and_what_resuming_does():
    from ssrl_core.runs.worker import end_of
    from ssrl_core.train import Cancelled

    in_loop = Cancelled("cancelled at epoch 5 of 10, step 12", done=4, epochs=10)
    assert end_of(in_loop, "training", 3, 10) == (  # the loop knows best: the store may lag an epoch
        "cancelled", "cancelled at epoch 5 of 10, step 12; the checkpoint of epoch 4 is kept: resuming continues "
                     "with epoch 5")
    assert end_of(Cancelled(), "starting", 0, 10)[1] == \
        "cancelled while starting; no epoch had finished: resuming starts it over"
    assert end_of(Cancelled(), "umap", 10, 10)[1] == \
        "cancelled while evaluating (the UMAP map); its training had finished: resuming runs only the evaluation"
    assert end_of(Cancelled(), "training")[1] == \
        "cancelled during training; resuming continues from the last epoch it finished"  # (a Ray node: not known)
    assert end_of(Cancelled(), "training", 10, 10)[1] == \
        "cancelled after its last epoch; its training had finished: resuming runs only the evaluation"  # not "during"
    assert end_of(ValueError("x"))[0] == "failed"


@pytest.mark.first
def test_a_new_home_gets_its_umap_layout_compiled_in_the_background(tmp_path, monkeypatch):
    """The first map of a fresh SSRL_HOME must not wait ~20 s for numba: the worker starts a
    low-priority process that fills the cache, and does nothing once it is warm.

    Collected first (conftest): where the session's numba cache is still cold (a fresh
    machine, as CI's: a new venv's umap has compiled nothing), the process fills that cache,
    and every later map of the session loads what it compiled instead of compiling again (20
    to 40 s). Where it is warm already, a copy of it without the mark of a finished warm-up
    stands for one whose warm-up was cut short after its first compiled files: not warm (it
    was, once any file was there), so warmed again, which finishes in seconds (compiling
    into an empty one of its own cost this test 20 s on every run but the first)."""
    import shutil

    from ssrl_core.evaluate.project import layout_cache_warm, numba_cache, warm_marker
    from ssrl_core.runs.worker import warm_caches

    if layout_cache_warm():
        cut_short = tmp_path / "numba"
        shutil.copytree(numba_cache(), cut_short, ignore=shutil.ignore_patterns(warm_marker(cut_short).name))
        monkeypatch.setenv("NUMBA_CACHE_DIR", str(cut_short))
        assert any(cut_short.rglob("*.nbi"))
    assert not layout_cache_warm()
    proc = warm_caches()
    assert proc is not None
    assert proc.wait(timeout=300) == 0
    assert layout_cache_warm()
    assert warm_caches() is None  # warm: nothing started


def test_failures_are_explained_with_advice(ssrl_home):
    import errno

    import torch

    from ssrl_core.runs.worker import explain_failure

    oom = explain_failure(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total "
                                                 "capacity of 15.7 GiB of which 1.1 GiB is free.\nProcess 4242 has "
                                                 "9.2 GiB memory in use."))
    assert oom.startswith("out of memory") and "lower the batch size" in oom and "cnn-small" in oom
    # PyTorch's words kept, on one line: which other process holds the GPU's memory
    assert "(CUDA out of memory. Tried to allocate 2.00 GiB." in oom and "Process 4242 has 9.2 GiB" in oom
    assert "\n" not in oom
    assert explain_failure(RuntimeError("DefaultCPUAllocator: can't allocate memory: out of memory")).startswith("out of memory")
    assert explain_failure(MemoryError()).startswith("out of memory")
    where = ssrl_home / "runs" / "a" / "embeddings.npy"
    full = explain_failure(OSError(errno.ENOSPC, "No space left on device", str(where)))
    assert full == (f"disk full: the disk holding {where} is full: free some space there "
                    "(deleting ended runs frees the most), then resume the run (Resume, or `python -m ssrl_core resume` "
                    "with its id): it continues from the last epoch it finished.")
    short = explain_failure(OSError(f"{2**20} requested and 4096 written"))  # numpy's full disk, without an errno
    assert short.startswith(f"disk full: the disk holding {ssrl_home} is full")
    other = explain_failure(OSError(errno.EACCES, "Permission denied", "f"))
    assert not other.startswith("disk full")


def test_a_run_over_the_disk_budget_fails_and_nothing_else_is_deleted(ssrl_home):
    from ssrl_core.runs.store import Limits

    store = RunStore()
    keep = ssrl_home / "runs" / "someone-elses-run" / "checkpoint.safetensors"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"x" * 2_000_000)  # bigger than the budget, but not this run's
    rid = store.submit(RunConfig(dataset="digits", method="random", epochs=0, evaluation="basic"))
    worker = Worker(store, limits=Limits(run_disk_mb=0.05))
    assert worker.run_one(store.claim(worker.id)) == "failed"
    run = store.get(rid)
    assert run["status"] == "failed" and run["error"].startswith("disk budget exceeded"), run["error"]
    assert "0.05 MB" in run["error"] and "SSRL_RUN_DISK_MB" in run["error"]
    assert keep.exists() and (Path(run["run_dir"]) / "checkpoint.safetensors").exists()


def test_a_run_whose_folder_another_process_trains_into_fails_saying_so_and_writes_nothing(ssrl_home):
    """`train --out` pointed at a queued run's folder: the worker used to train into it as well."""
    import os

    from ssrl_core.locks import hold

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="random", epochs=0, evaluation="basic"))
    run_dir = Path(store.get(rid)["run_dir"])
    run_dir.mkdir(parents=True)
    lock = hold(run_dir / "training.lock")  # as that other process holds it (flock: another open file, refused)
    try:
        worker = Worker(store)
        assert worker.run_one(store.claim(worker.id)) == "failed"
    finally:
        lock.close()
    assert store.get(rid)["error"] == (f"another process (pid {os.getpid()}) is training into {run_dir} now: wait "
                                       "for it to end or stop it, then try again (the run continues from its last "
                                       "finished epoch); nothing was written")
    assert [p.name for p in run_dir.iterdir()] == ["training.lock"]


def test_a_run_that_ended_leaves_no_training_lock(tmp_path, monkeypatch):
    """Finished run folders kept training.lock with the pid of a process long gone. Removed as
    the run ends: done (test_cli's --epochs 0 run), failed, cancelled or stopped with Ctrl-C."""
    from ssrl_core.runs import execute as ex
    from ssrl_core.stops import Cancelled

    cfg = RunConfig(dataset="digits", method="random", epochs=0, evaluation="basic")
    for error in (RuntimeError("a failure"), Cancelled("cancelled"), KeyboardInterrupt()):
        def ending(*args, error=error):
            assert (tmp_path / "run" / "training.lock").read_text() == f"{os.getpid()}\n"  # held while it runs
            raise error

        monkeypatch.setattr(ex, "_execute", ending)
        with pytest.raises(type(error)):
            ex.execute(cfg, tmp_path / "run")
        assert not (tmp_path / "run" / "training.lock").exists()


def test_a_lock_taken_on_a_file_its_holder_removed_is_let_go_for_the_one_now_there(tmp_path, monkeypatch):
    """With the lock file removed as its holder ends, a process that opened it just before (and
    locks it just after) holds a lock on a file no one else will open: ``hold`` checks and
    takes the file now at the path instead, so two processes cannot both think they hold it."""
    from ssrl_core import locks

    path = tmp_path / "training.lock"
    first = locks.hold(path)
    early = open(path, "a+")  # the other process's open, before the holder removes the file
    locks.let_go(first, path)
    assert not path.exists()
    opened = []

    def open_early_first(*args, **kwargs):
        opened.append(args[0])
        return early if len(opened) == 1 else open(*args, **kwargs)

    monkeypatch.setattr(locks, "open", open_early_first, raising=False)
    fh = locks.hold(path)
    try:
        assert fh is not None and len(opened) == 2
        assert os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino and early.closed
        monkeypatch.undo()
        assert locks.hold(path) is None  # held: a third is refused
    finally:
        fh.close()


def test_a_held_lock_guards_its_path_only_while_it_is_the_file_there(tmp_path):
    """What an idle worker looks at before each poll (``Worker._home_gone``): removed, replaced, or its folder made
    a file (a stat that fails otherwise than "not found" crashed the worker instead of stopping it)."""
    import shutil

    from ssrl_core.locks import guards, hold

    path = tmp_path / "workers" / "slot-0.lock"
    path.parent.mkdir()
    fh = hold(path)
    try:
        assert guards(fh, path)
        path.unlink()
        assert not guards(fh, path)
        path.write_text("another worker's\n")
        assert not guards(fh, path)
        shutil.rmtree(path.parent)
        path.parent.write_text("not a folder")
        assert not guards(fh, path)
    finally:
        fh.close()


def test_only_the_worker_holding_a_runs_slot_counts_as_alive(monkeypatch):
    import socket

    from ssrl_core.runs.worker import worker_alive, worker_pids, worker_state

    monkeypatch.setenv("SSRL_WORKERS", "2")
    assert not worker_alive() and worker_pids() == []
    w = Worker()
    assert w.acquire() and w.slot == 0
    me = socket.gethostname()
    assert worker_state(w.id) is True and worker_alive() and worker_pids() == [os.getpid()]
    assert worker_state(f"{me}:1:0") is False  # an earlier worker of slot 0: gone
    assert worker_state(f"{me}:1:1") is False  # slot 1: nobody holds it
    assert worker_state("another-host:1:0") is None  # cannot tell: the heartbeat decides
    assert worker_state(None) is False
    second = Worker()
    assert second.acquire() and second.slot == 1 and not Worker().acquire()
    second._lock_file.close()  # as when its process dies
    assert worker_state(second.id) is False
    w._lock_file.close()


def test_a_ray_dispatchers_runs_are_its_own_while_it_holds_its_lock():
    """The local workers and the Ray dispatcher can share a store: a live dispatcher's run
    is never requeued by a worker, a dead one's goes back at once."""
    import socket

    from ssrl_core.locks import hold
    from ssrl_core.runs.worker import STALE_S, dispatcher_lock, worker_state

    me = socket.gethostname()
    fh = hold(dispatcher_lock())  # as Dispatcher.acquire does: the lock holds the pid
    dispatcher = f"ray:{me}:{os.getpid()}"
    assert worker_state(dispatcher) is True
    assert worker_state(f"ray:{me}:1") is False  # an earlier dispatcher of this home
    assert worker_state("ray:another-host:1") is None  # the heartbeat decides
    store = RunStore()
    rid = store.submit(RunConfig(method="random", dataset="digits"))
    assert store.claim(dispatcher)["id"] == rid
    assert store.requeue_orphans(worker_state, STALE_S) == []
    fh.close()  # the dispatcher dies
    assert worker_state(dispatcher) is False
    assert store.requeue_orphans(worker_state, STALE_S) == [rid]
    assert store.get(rid)["status"] == "queued"


def test_a_cancel_noticed_as_an_epoch_ends_still_records_that_epoch_which_its_checkpoint_keeps(monkeypatch):
    """train.pretrain writes an epoch's checkpoint, then says the epoch ended: a cancel seen at
    that event must not drop it from the store, whose epoch says where Resume continues."""
    import ssrl_core.runs.execute as ex

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="rotation", epochs=3, evaluation="basic"))
    worker = Worker(store)

    def execute(cfg, run_dir, on_event=None, should_cancel=None, submitted=None):
        on_event({"kind": "epoch_end", "epoch": 1, "epochs": 3, "loss": 1.0, "images_per_s": 10.0})
        worker._request_stop(rid, "cancelled", "")  # the cancel comes while epoch 2's checkpoint is written
        on_event({"kind": "epoch_end", "epoch": 2, "epochs": 3, "loss": 0.9, "images_per_s": 10.0})
        raise AssertionError("the cancel was not seen")

    monkeypatch.setattr(ex, "execute", execute)
    try:
        assert worker.run_one(store.claim(worker.id)) == "cancelled"
    finally:
        worker._halt.set()
    assert store.get(rid)["epoch"] == 2


def test_a_worker_stopped_by_ctrl_c_or_sigterm_puts_its_run_back_without_counting_a_death():
    """A foreground worker stopped mid-run left its run 'running'; the next worker took that
    for the run killing its worker, and the third such stop failed the run "most likely out of
    memory". Ctrl-C and SIGTERM now put it back in the queue at once, as no death of the run's,
    and the worker exits as an interrupted command does."""
    from ssrl_core.runs.store import MAX_STALLED_DEATHS

    store = RunStore()
    run = store.submit(RunConfig(dataset="digits", method="simclr", epochs=50, batch_size=256, evaluation="basic"))
    # as many stops as deaths at one epoch fail a run (each stop lands in the run's first epoch, 50 to go): Ctrl-C,
    # SIGTERM, Ctrl-C
    for stop in ([signal.SIGINT, signal.SIGTERM] * MAX_STALLED_DEATHS)[:MAX_STALLED_DEATHS]:
        proc = _start_worker()
        try:
            _wait(lambda: store.get(run)["status"] == "running" and store.get(run)["phase"] == "training", 120,
                  "the run training")
            proc.send_signal(stop)
            out, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 130, out
        assert f"run {run}: back in the queue (its worker was stopped)" in out and "Traceback" not in out
        assert store.get(run)["status"] == "queued", store.get(run)["error"]
    # the requeues no deaths: a worker that now dies running it (its first death) sends it back to the queue, where
    # three deaths at one epoch would fail it "most likely out of memory"
    assert store.claim("w-dies")["id"] == run
    assert store.requeue_orphans(lambda w: False) == [run] and store.get(run)["status"] == "queued", store.get(run)["error"]


def test_idle_exit_0_exits_as_soon_as_the_queue_is_empty(monkeypatch):
    """`worker --idle-exit 0` (0 or more is accepted) exits when there is nothing to do; 0
    read as false had made it serve for ever."""
    import threading

    from ssrl_core.runs import worker as worker_mod

    monkeypatch.setattr(worker_mod, "warm_caches", lambda: None)
    done = []
    t = threading.Thread(target=lambda: done.append(Worker().serve(idle_exit_s=0)), daemon=True)
    t.start()
    t.join(timeout=30)
    assert done == [0]


def test_a_worker_whose_home_is_deleted_stops_and_makes_nothing_there_again(ssrl_home, monkeypatch, capsys):
    """Deleting SSRL_HOME (a reset, a test's folder thrown away) left its idle worker polling the
    path for ever: it made the home anew (an empty store.sqlite, numba's cache folders) and then
    died on a traceback. It stops, saying why, and stops the compile it started there."""
    import threading

    from ssrl_core.runs import worker as worker_mod

    compiling = []

    def warm():  # a stand-in for the layout's compile, a child process of the worker's
        compiling.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]))
        return compiling[0]

    monkeypatch.setattr(worker_mod, "warm_caches", warm)
    for load in ("preload_imports", "preload_layout"):  # (seconds, and beside the point here)
        monkeypatch.setattr(worker_mod, load, lambda: None)
    done = []
    w = Worker()
    w.poll_s = 0.05
    t = threading.Thread(target=lambda: done.append(w.serve()), daemon=True)
    t.start()
    try:
        _wait(lambda: live_workers() and compiling, 30, "the worker to take its slot")
        _remove(ssrl_home)
        t.join(timeout=30)
        assert done == [1]
        assert not ssrl_home.exists()
        assert compiling[0].wait(timeout=10) is not None
        said = capsys.readouterr().out
        assert "was removed or replaced (SSRL_HOME deleted or moved?); stopping" in said, said  # (its slot file or store)
    finally:
        w._halt.set()
        for proc in compiling:
            proc.kill()
        t.join(timeout=30)


def test_a_waiting_worker_loads_what_its_first_run_needs(tmp_path):
    """The first run after the app starts used to import PyTorch's compiler front end,
    scikit-learn and faiss, and load UMAP's compiled layout, while someone waited (6 s of its
    evaluation, docs/performance.md); a worker loads them while it first waits. (One started
    for the runs queued now, ``--once``, does not: ``test_worker_runs_the_queue_and_writes_results``.)"""
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # numba's cache: the session's (compiled by the first test)
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            _wait(lambda: "loaded UMAP's compiled layout in" in log.read_text() or proc.poll() is not None, 180,
                  "the waiting worker to load what a run needs")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    said = log.read_text()
    assert "loaded what a run imports in" in said and "loaded UMAP's compiled layout in" in said, said
    assert said.index("imports in") < said.index("layout in")


def test_stopping_a_served_apps_workers_stops_its_homes_processes_that_hold_no_lock_yet(ssrl_home, tmp_path):
    """A worker the app started just before the test's server stopped was still importing (no slot
    lock yet) and idled on for good beside the rest of the suite; a probe job holds no slot lock
    either. Another home's processes are left alone."""
    from app.serve import stop_workers

    def started(home: str, module: str = "ssrl_core") -> subprocess.Popen:  # as `python -m MODULE ...` shows
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", module],
                                env=dict(os.environ, SSRL_HOME=home))

    mine, job = started(str(ssrl_home)), started(f"{ssrl_home}/", "ssrl_core.evaluate.jobs")  # (however it is written)
    others = [started(str(tmp_path / "another_home")), started(str(ssrl_home), "/src/ssrl_core/cli.py")]  # (an editor)
    try:
        stop_workers()
        assert mine.wait(timeout=10) == -signal.SIGKILL and job.wait(timeout=10) == -signal.SIGKILL
        assert all(p.poll() is None for p in others)
    finally:
        for proc in (mine, job, *others):
            proc.kill()
            proc.wait()


def test_a_detached_process_is_reaped_when_it_ends(ssrl_home):
    """The app never waited for the jobs it started: each stayed a zombie (`[python] <defunct>`)
    under the server for as long as it ran, found after a probe job ended."""
    import os

    from ssrl_core.runs.worker import spawn_detached

    proc = spawn_detached(["-c", "print('done')"], "reap.log")
    t0 = time.time()
    while True:  # a zombie still exists for the kernel (signal 0 reaches it); a reaped process does not
        try:
            os.kill(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.time() - t0 < 30, open(f"/proc/{proc.pid}/status").read()[:200]
        time.sleep(0.1)
    assert (ssrl_home / "reap.log").read_text() == "done\n"


def test_a_training_run_leaves_probe_jobs_beside_it_their_share_of_the_cores(ssrl_home, monkeypatch, capsys):
    """On 2 cores a run training beside a fine-tuning job took 97 s at 2 threads and 48 s at 1
    (bench/probe_threads): the run gives up its share while a job runs, and takes it back after."""
    import torch

    from ssrl_core.evaluate import jobs
    from ssrl_core.runs import execute, worker as worker_mod

    monkeypatch.delenv("SSRL_TORCH_THREADS", raising=False)
    monkeypatch.setattr(worker_mod, "SHARE_S", 0.0)  # look at every event, not every 5 s
    pending = jobs._jobs_dir() / "a-classmates-job.pending"  # a job started a moment ago
    seen = []

    def training(cfg, run_dir, on_event, should_cancel, submitted):
        for job in (False, True, True, False):
            pending.touch() if job else pending.unlink(missing_ok=True)
            on_event({"kind": "step", "epoch": 1, "epochs": 1, "step": 1, "total_steps": 4, "loss": 1.0})
            seen.append(torch.get_num_threads())
        return {"train_seconds": 1.0}

    monkeypatch.setattr(execute, "execute", training)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # a worker with 2 cores
    try:
        store = RunStore()
        store.submit(RunConfig(dataset="digits", method="simclr", epochs=1, evaluation="basic"))
        w = Worker(store)
        assert w.run_one(store.claim(w.id)) == "done"
        assert seen == [2, 1, 1, 2]
        assert "torch threads 1, beside 1 probe job" in capsys.readouterr().out
        monkeypatch.setenv("SSRL_TORCH_THREADS", "2")  # set by whoever runs the server: left as it is
        seen.clear()
        store.submit(RunConfig(dataset="digits", method="simclr", epochs=1, evaluation="basic"))
        assert w.run_one(store.claim(w.id)) == "done"
        assert seen == [2, 2, 2, 2]
    finally:
        torch.set_num_threads(before)


def test_a_worker_restarts_itself_between_runs_when_its_code_changes_on_disk(tmp_path):
    """A worker outlives the app that started it: after an upgrade (``git pull``, the app
    restarted) it went on training with the code it was started from. It writes its code's
    stamp beside its id in its slot file and, between runs, restarts itself in place (same pid,
    same slot) when the code on disk has changed. Run from a copy of ``ssrl_core``, whose file
    this test touches, so that no other worker sees a change."""
    import shutil

    from ssrl_core.runs.worker import code_file, slot_lock

    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "ssrl_core", pkg / "ssrl_core", ignore=shutil.ignore_patterns("__pycache__"))
    log = tmp_path / "worker.log"
    env = dict(os.environ, PYTHONPATH=str(pkg))
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker", "--slot", "0"], cwd=pkg, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            written = lambda: code_file(0).read_text().split() if code_file(0).exists() else []  # noqa: E731
            _wait(lambda: len(written()) == 2 or proc.poll() is not None, 120, "the worker to take its slot")
            wid, code = written()
            # the lock file keeps the id alone, which an older version's pages compare with a worker's
            _wait(lambda: slot_lock(0).read_text() == wid + "\n", 10, "the id in the lock file")  # (written after)
            assert wid.split(":")[1] == str(proc.pid)
            assert live_workers()[0]["code"] == code
            touched = pkg / "ssrl_core" / "text.py"
            later = time.time() + 5
            os.utime(touched, (later, later))  # a checkout of another commit
            _wait(lambda: "the code changed on disk" in log.read_text() or proc.poll() is not None, 60,
                  "the worker to see its code changed")
            _wait(lambda: len(written()) == 2 and written()[1] != code or proc.poll() is not None, 120,
                  "the restarted worker to take its slot again")
            assert proc.poll() is None and written()[0] == wid  # the same process, in place, in its slot
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    said = log.read_text()
    assert said.count("serving") == 2 and "Traceback" not in said, said


def test_a_worker_of_an_older_version_is_named_and_none_starts_beside_it(ssrl_home, capsys):
    """A worker of a version before the slots held ``SSRL_HOME/worker.lock``: after an upgrade
    the app started one of its own beside it, and the old one took the new version's runs and
    failed them ("unknown config keys evaluation, precision"). One of the slots' versions
    before code stamps held slot 0 and trained them with its old code. Both are named with
    their pid and what to do; no worker of this version starts beside the first, and one
    started by hand says why it exits."""
    from ssrl_core.runs.worker import code_file, older_workers, older_workers_text, slot_lock, start_workers

    def held(path: Path) -> subprocess.Popen:  # a process of its own holds it, as an old worker does
        return subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
                                 "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                                 str(path)], stdout=subprocess.PIPE, text=True)

    assert older_workers() == []
    (ssrl_home / "worker.lock").write_text("vm:17179\n")
    holder = held(slot_lock(0))
    try:
        keeper = held(ssrl_home / "worker.lock")
        try:
            assert holder.stdout.readline() == "held\n" and keeper.stdout.readline() == "held\n"
            slot_lock(0).write_text("vm:4242:0\n")  # an id and no code stamp: a worker of 2026-12-03
            code_file(0).write_text("vm:1:0 70-1\n")  # (a stamp of an earlier worker of the slot: not this one's)
            older = older_workers()
            assert [w["pid"] for w in older] == [17179, 4242]
            text = older_workers_text(older)
            assert text.startswith("2 workers of an older version of SSRL Playground are still running on this "
                                   "SSRL_HOME (processes 17179, 4242)") and "`kill 17179 4242`" in text
            assert "resumes from its last epoch" in text
            assert start_workers() == []  # none beside the old one
            assert Worker().serve(once=True) == 1
            assert "older version" in capsys.readouterr().out
        finally:
            keeper.kill()
            keeper.wait()
    finally:
        holder.kill()
        holder.wait()
    assert older_workers() == []


def test_a_worker_finding_its_slot_taken_says_the_other_one_serves_the_queue(capsys):
    """A script's `submit` then `worker --once` beside the app's worker exited 0 saying only "taken ... exiting",
    and the script went on as if the queue were done."""
    first = Worker()
    assert first.acquire()
    try:
        assert Worker().serve(once=True) == 0
        assert capsys.readouterr().out == (
            "this SSRL_HOME's worker slot is taken: another worker is already running there, and it serves the "
            "queue; exiting (`python -m ssrl_core wait ID` waits for a run to end)\n")
    finally:
        first._lock_file.close()


def test_a_worker_sees_its_code_changed_when_a_file_is_only_removed(tmp_path):
    """An upgrade that only removes a module (the newest file's time unchanged) is another code."""
    from ssrl_core.runs.worker import code_stamp

    (tmp_path / "old.py").write_text("x = 1\n")
    (tmp_path / "new.py").write_text("y = 2\n")
    os.utime(tmp_path / "old.py", (1_000_000, 1_000_000))
    before = code_stamp(tmp_path)
    assert code_stamp(tmp_path) == before  # the same code: the same stamp
    (tmp_path / "old.py").unlink()
    assert code_stamp(tmp_path) != before


def test_a_lock_holds_its_holders_pid_alone_is_taken_on_a_file_put_in_its_place_and_leaves_no_trace(tmp_path,
                                                                                                    monkeypatch):
    """``hold`` writes its pid over a killed holder's; a lock taken on a file another process
    replaced between this one's open and its lock is let go and the file now at the path
    locked instead; ``let_go`` leaves no file behind."""
    from ssrl_core import locks

    path = tmp_path / "slot-0.lock"
    path.write_text("99999\n")  # a killed holder's pid
    fh = locks.hold(path)
    assert path.read_text() == f"{os.getpid()}\n" and locks.lock_held(path) and locks.guards(fh, path)
    assert locks.hold(path) is None  # held: another open file is refused
    locks.let_go(fh, path)
    assert not path.exists() and not locks.lock_held(path)

    real = locks.try_lock

    def replaced_meanwhile(f, where=None):  # the holder removes the file and lets go, another makes it anew
        monkeypatch.setattr(locks, "try_lock", real)
        path.unlink()
        path.write_text("4242\n")
        return real(f, where)

    path.write_text("")
    monkeypatch.setattr(locks, "try_lock", replaced_meanwhile)
    fh = locks.hold(path)
    try:
        assert fh is not None and path.read_text() == f"{os.getpid()}\n"
        assert os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino and locks.lock_held(path)
        path.unlink()
        assert not locks.guards(fh, path)  # its SSRL_HOME deleted, say: the lock guards nothing now
    finally:
        fh.close()
