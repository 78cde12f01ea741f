"""The background worker: claims queued runs from the store and executes them in its own
process, reporting progress, honouring cancel, and turning failures into plain advice.

One local worker per ``SSRL_HOME`` holds an exclusive lock on ``worker.lock`` for as long
as it lives; the lock is how the app (and a second worker) knows one is alive, and the
OS releases it when the process dies however it dies.
"""
from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .. import paths
from ..locks import lock_held, try_lock
from ..config import RunConfig
from .store import RunStore

HEARTBEAT_S = 2.0
STALE_S = 20.0


def _lock_path() -> Path:
    return paths.ssrl_home() / "worker.lock"


def worker_alive() -> bool:
    """True when a worker process holds the lock for this SSRL_HOME."""
    return lock_held(_lock_path())


def spawn_detached(args: list[str], log_name: str) -> subprocess.Popen:
    """``python ARGS`` in a new session (it outlives the caller), output to SSRL_HOME/LOG_NAME."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, SSRL_HOME=str(paths.ssrl_home()))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    log = open(paths.ssrl_home() / log_name, "ab")
    return subprocess.Popen([sys.executable, *args], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def start_worker_process(idle_exit_s: float | None = None) -> subprocess.Popen | None:
    """Start a detached worker (it outlives the caller) unless one is alive already."""
    if worker_alive():
        return None
    cmd = ["-m", "ssrl_core", "worker"]
    if idle_exit_s:
        cmd += ["--idle-exit", str(idle_exit_s)]
    return spawn_detached(cmd, "worker.log")


def explain_failure(exc: BaseException) -> str:
    """A failure in plain words, with what to do about it."""
    import torch

    from ..data import DatasetMissing
    from ..train import Diverged

    if isinstance(exc, Diverged):
        return f"diverged: {exc}. Lower the learning rate (--lr) or the temperature and try again."
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or "out of memory" in str(exc).lower():
        return "out of memory: lower the batch size or use the cnn-small encoder."
    if isinstance(exc, DatasetMissing):
        return f"dataset missing: {exc}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"disk full while writing the run ({exc.filename or paths.ssrl_home()}): free some space and resubmit."
    if isinstance(exc, ValueError):
        return f"invalid run: {exc}"
    return f"{type(exc).__name__}: {exc}"


def end_of(exc: BaseException) -> tuple[str, str]:
    """How a run that raised ``exc`` ends: ('cancelled' or 'failed', the reason in plain words)."""
    from ..train import Cancelled

    if isinstance(exc, Cancelled):
        return "cancelled", f"{exc}; the last finished epoch's checkpoint is kept"
    return "failed", explain_failure(exc)


def warm_caches() -> subprocess.Popen | None:
    """In a new SSRL_HOME, compile the UMAP layout into numba's cache in a low-priority
    process while the worker waits or trains, so the first run's map does not wait for the
    compiler (about 20 s on 2 cores). Nothing to do once the cache is warm."""
    from ..evaluate.project import layout_cache_warm

    if layout_cache_warm():  # also exports NUMBA_CACHE_DIR for the child
        return None
    return spawn_detached(["-m", "ssrl_core.evaluate.project", "--warm"], "warm.log")


class Worker:
    def __init__(self, store: RunStore | None = None, poll_s: float = 0.5):
        self.store = store or RunStore()
        self.poll_s = poll_s
        self.id = f"{socket.gethostname()}:{os.getpid()}"
        self.current: str | None = None
        self._stop = threading.Event()
        self._lock_file = None

    def acquire(self) -> bool:
        self._lock_file = open(_lock_path(), "a+")
        if not try_lock(self._lock_file):
            self._lock_file.close()
            self._lock_file = None
            return False
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"{os.getpid()}\n")
        self._lock_file.flush()
        return True

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if self.current:
                try:
                    self.store.heartbeat(self.current, self.id)
                except Exception:
                    pass

    def serve(self, once: bool = False, idle_exit_s: float | None = None) -> int:
        """Run queued runs until stopped; ``once``: exit when the queue is empty."""
        if not self.acquire():
            print("another worker is already running for this SSRL_HOME; exiting", flush=True)
            return 0
        print(f"worker {self.id} serving {self.store.path}", flush=True)
        warm_caches()
        threading.Thread(target=self._beat, daemon=True).start()
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                # this process holds the only lock, so any other 'running' run is orphaned
                self.store.requeue_stale(0.0, exclude_worker=self.id)
                run = self.store.claim(self.id)
                if run is None:
                    if once or (idle_exit_s and time.monotonic() - idle_since > idle_exit_s):
                        return 0
                    time.sleep(self.poll_s)
                    continue
                self.run_one(run)
                idle_since = time.monotonic()
        finally:
            self._stop.set()
        return 0

    def run_one(self, run: dict) -> str:
        from .execute import execute

        run_id = run["id"]
        self.current = run_id
        last_check = [0.0]

        def should_cancel() -> bool:
            now = time.monotonic()
            if now - last_check[0] < 0.5:
                return False
            last_check[0] = now
            return self.store.cancel_requested(run_id)

        print(f"run {run_id}: {run['method']} on {run['dataset']} (attempt {run['attempts']})", flush=True)
        try:
            cfg = RunConfig.from_dict(run["config"])
            summary = execute(cfg, Path(run["run_dir"]), on_event=lambda e: self.store.record(run_id, e),
                              should_cancel=should_cancel)
            self.store.finish(run_id, "done", summary=summary)
            status = "done"
        except Exception as e:  # every failure ends the run with a reason
            status, error = end_of(e)
            self.store.finish(run_id, status, error=error)
        finally:
            self.current = None
        print(f"run {run_id}: {status}", flush=True)
        return status
