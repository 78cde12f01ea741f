"""The worker as a real process: claims, executes, reports, cancels, survives a kill."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ssrl_core.config import RunConfig
from ssrl_core.runs import artifacts as art
from ssrl_core.runs.store import RunStore
from ssrl_core.runs.worker import worker_alive

ROOT = Path(__file__).resolve().parents[1]


def _start_worker(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_runs_the_queue_and_writes_results():
    store = RunStore()
    ok = store.submit(RunConfig(dataset="digits", method="random"))
    bad = store.submit(RunConfig(dataset="cifar10", method="random"))  # no files here
    proc = _start_worker("--once")
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    run = store.get(ok)
    assert run["status"] == "done", run["error"]
    assert run["summary"]["knn_accuracy"] > 0.5 and run["summary"]["linear_accuracy"] > 0.5
    a = art.RunArtifacts(run["run_dir"])
    coords, kind = a.map()
    assert kind == "umap" and coords.shape == (1797, 2)
    nbrs = a.neighbours(0, k=8)
    assert len(nbrs) == 8 and all(i != 0 for i, _ in nbrs)
    failed = store.get(bad)
    assert failed["status"] == "failed" and "dataset missing" in failed["error"] and "cifar" in failed["error"]


def test_only_one_worker_per_home_and_a_killed_run_resumes():
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=3, batch_size=256))
    first = _start_worker()
    try:
        _wait(lambda: store.get(rid)["epoch"] >= 1, 120, "the first epoch")
        assert worker_alive()
        second = _start_worker("--once")
        out, _ = second.communicate(timeout=60)
        assert "already running" in out  # the lock admits one worker
        first.send_signal(signal.SIGKILL)  # die mid-run, no cleanup
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert store.get(rid)["status"] == "running"  # orphaned...
    _wait(lambda: not worker_alive(), 10, "the lock to be released")
    third = _start_worker("--once")
    out, _ = third.communicate(timeout=240)
    run = store.get(rid)
    assert run["status"] == "done", (run["error"], out)
    assert run["attempts"] == 2
    kinds = [e["kind"] for e in store.events(rid)]
    assert "requeued" in kinds and "resumed" in kinds
    resumed = next(e for e in store.events(rid) if e["kind"] == "resumed")
    assert resumed["epoch"] >= 1  # it went on from a checkpoint, not from scratch


def test_cancel_a_running_run_through_the_store():
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="rotation", epochs=20, batch_size=128))
    proc = _start_worker("--once")
    try:
        _wait(lambda: store.get(rid)["phase"] == "training", 120, "training to start")
        t0 = time.time()
        store.request_cancel(rid)
        _wait(lambda: store.get(rid)["status"] == "cancelled", 30, "the cancel")
        assert time.time() - t0 < 10
        assert "cancelled" in store.get(rid)["error"]
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_new_home_gets_its_umap_layout_compiled_in_the_background(tmp_path, monkeypatch):
    """The first map of a fresh SSRL_HOME must not wait ~20 s for numba: the worker starts a
    low-priority process that fills the cache, and does nothing once it is warm."""
    from ssrl_core.evaluate.project import layout_cache_warm
    from ssrl_core.runs.worker import warm_caches

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert not layout_cache_warm()
    proc = warm_caches()
    assert proc is not None
    assert proc.wait(timeout=300) == 0
    assert layout_cache_warm()
    assert warm_caches() is None  # warm: nothing started
