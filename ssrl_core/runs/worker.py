"""Background workers: each claims queued runs from the store and executes them in its own
process, reporting progress, honouring cancel and the disk budget, and turning failures
into plain advice.

A ``SSRL_HOME`` has ``worker_count()`` worker slots (``SSRL_WORKERS``, default one per GPU,
or one on a CPU machine). A worker holds an exclusive lock on its slot's file,
``SSRL_HOME/workers/slot-N.lock``, for as long as it lives, and writes its id
(``host:pid:N``) into it; the OS releases the lock when the process dies however it dies.
The lock is how the app knows which workers are alive (``start_workers`` starts the
missing ones) and how a worker knows that another worker's running run is orphaned: a
run whose worker no longer holds its slot goes back to the queue at once and resumes from
its last checkpoint; a live worker's run is never taken from it. Runs claimed by workers
on other hosts (no slot lock here) go back when their heartbeat is ``STALE_S`` old.

A worker outlives the app that started it, so after an upgrade (``git pull``, the app
restarted) it would go on training with the code it was started from: it writes the code's
stamp (``code_stamp``) beside its slot file (``code_file``) and, between runs, restarts itself
when the code on disk has changed. A worker of a version before that (no stamp; or one of the
older single ``SSRL_HOME/worker.lock``) cannot be told to: ``older_workers`` finds it, the app
says to stop it, and no worker of this version starts beside it.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from .. import paths
from ..config import RunConfig
from ..locks import guards, lock_held, try_lock
from ..stops import Cancelled, Interrupted
from ..text import disk_full, not_written
from . import artifacts as art
from .store import ClaimLost, Limits, RunStore, phase_text, worker_parts

HEARTBEAT_S = 1.0  # the watcher beats, polls cancel requests and sizes the run folder this often
STALE_S = 30.0  # a run of a worker on another host is orphaned after this long without a beat
DISK_CHECK_S = 2.0
ORPHANS_S = 5.0  # a busy worker still looks for other workers' orphaned runs this often
STOP_GRACE_S = 3.0  # a run not stopped by then (a long native call) is stopped by restarting the worker
SHARE_S = 5.0  # a training run looks this often whether probe jobs have started or ended beside it
STARTING_S = 60.0  # a slot whose worker was started this recently is left alone while it imports
CODE_CHECK_S = 5.0  # an idle or finishing worker looks this often whether its code changed on disk
# the one worker lock of versions before the slots (November 2026): a worker of such a version, still running after
# an upgrade, took this version's runs and failed them ("unknown config keys evaluation, precision")
LEGACY_LOCK = "worker.lock"


class DiskBudgetExceeded(Interrupted):
    """The run folder grew past the per-run disk budget."""


# -- slots ------------------------------------------------------------------------------------
def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def device_type() -> str:
    """Where this machine's workers train ("cuda" or "cpu"): what a run's resolved config,
    and so a lesson's reuse of a finished run and an estimate from past runs, depend on."""
    return "cuda" if gpu_count() else "cpu"


def worker_count() -> int:
    """How many local workers a home has: ``SSRL_WORKERS``, else one per GPU, else one."""
    raw = os.environ.get("SSRL_WORKERS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"SSRL_WORKERS must be a whole number of at least 1, got {raw!r}")
        return int(raw)
    return max(1, gpu_count())


def usable_cores() -> int:
    """The CPU cores this process may run on: a container's cpuset or ``taskset`` narrows them
    (``taskset -c 0`` on 2 cores: ``os.cpu_count()`` 2, this 1), as torch's default thread count
    does."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # macOS has no affinity call
        return os.cpu_count() or 1


def torch_threads(n_workers: int) -> int | None:
    """CPU threads for one worker's torch: ``SSRL_TORCH_THREADS``, else the cores shared
    out between the workers when there are several (None: torch's default)."""
    raw = os.environ.get("SSRL_TORCH_THREADS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"SSRL_TORCH_THREADS must be a whole number of at least 1, got {raw!r}")
        return int(raw)
    if n_workers > 1:
        return max(1, usable_cores() // n_workers)
    return None


def slots_dir() -> Path:
    d = paths.ssrl_home() / paths.WORKERS
    d.mkdir(parents=True, exist_ok=True)
    return d


def slot_lock(slot: int) -> Path:
    return slots_dir() / f"slot-{slot}.lock"


def dispatcher_lock() -> Path:
    """Held by the Ray dispatcher of this home (``SSRL_BACKEND=ray``), with its pid."""
    return paths.ssrl_home() / "dispatcher.lock"


def code_stamp(*roots: Path) -> str:
    """Which code a worker runs: how many of ``ssrl_core``'s Python files there are and the
    newest one's modification time (a checkout of another commit changes it). About 1 ms.
    ``roots``: other folders' files instead (the app server's: its own and ``ssrl_core``'s)."""
    newest, n = 0, 0
    for f in (f for root in roots or (Path(__file__).resolve().parents[1],) for f in root.rglob("*.py")):
        try:
            newest = max(newest, f.stat().st_mtime_ns)
            n += 1
        except OSError:  # removed while looked at (a checkout under way): the next look sees the rest
            continue
    return f"{n}-{newest}"


def code_file(slot: int) -> Path:
    """Where slot ``slot``'s worker writes "ID STAMP" (``code_stamp``): beside its lock file, not
    in it, whose one line an older version's pages and workers compare with a worker's id (a
    second line there read as every worker gone, and their runs as orphans to take)."""
    return slots_dir() / f"slot-{slot}.code"


def _holder(path: Path) -> tuple[str, str | None]:
    """(the id, the code stamp or None) of a slot's worker: its lock file's line and the stamp
    its code file gives for that id (None for a worker of a version before stamps)."""
    try:
        wid = path.read_text().strip()
    except OSError:
        return "", None
    try:
        written = (path.parent / (path.stem + ".code")).read_text().split()
    except OSError:
        written = []
    return wid, (written[1] if len(written) == 2 and written[0] == wid else None)


def live_workers() -> list[dict]:
    """The workers alive in this home now: ``{"slot", "id", "pid", "code"}`` for every held
    slot (``code``: the stamp of the code it runs, None for a worker of an older version)."""
    out = []
    for p in sorted(slots_dir().glob("slot-*.lock")):
        if lock_held(p):
            wid, code = _holder(p)
            pid = worker_parts(wid)[1]
            out.append({"slot": int(p.stem.split("-")[1]), "id": wid, "pid": int(pid) if pid else None, "code": code})
    return out


def legacy_worker() -> dict | None:
    """``{"pid", "where"}`` of a worker of a version before the slots, holding the single
    ``worker.lock`` (its pid None where the file does not say it), or None."""
    legacy = paths.ssrl_home() / LEGACY_LOCK
    if not lock_held(legacy):
        return None
    pid = next((p for p in reversed(_holder(legacy)[0].split(":")) if p.isdigit()), None)
    return {"pid": int(pid) if pid else None, "where": str(legacy)}


def older_workers() -> list[dict]:
    """The workers alive in this home that run an older version of the code and cannot be
    told to restart: ``{"pid", "where"}`` for the single ``worker.lock`` of versions before the
    slots, held, and for a held slot whose worker wrote no code stamp. Their pid is None where
    their file does not say it."""
    legacy = legacy_worker()
    out = [legacy] if legacy else []
    for w in live_workers():
        if w["code"] is None:
            out.append({"pid": w["pid"], "where": str(slot_lock(w["slot"]))})
    return out


def older_workers_text(workers: list[dict]) -> str:
    """What to do about ``older_workers``, in one paragraph (the app's pages and the CLI)."""
    from ..text import agree

    n = len(workers)
    pids = [str(w["pid"]) for w in workers if w["pid"]]
    which = f" ({agree(len(pids), 'process', 'processes')} {', '.join(pids)})" if pids else ""
    how = f"`kill {' '.join(pids)}`" if pids else f"the process holding `{workers[0]['where']}`"
    return (f"{agree(n, 'A worker', f'{n} workers')} of an older version of SSRL Playground {agree(n, 'is', 'are')} "
            f"still running on this SSRL_HOME{which}: {agree(n, 'it trains', 'they train')} queued runs with the code "
            f"{agree(n, 'it was', 'they were')} started from, and can fail runs made by this version. Stop "
            f"{agree(n, 'it', 'them')} ({how}): the run {agree(n, 'it is', 'they are')} training goes back to the queue "
            "and resumes from its last epoch, and a worker of this version starts in its place (the app starts one; or "
            "`python -m ssrl_core worker`).")


def worker_alive() -> bool:
    """True when at least one worker process serves this SSRL_HOME."""
    return bool(live_workers())


def worker_pids() -> list[int]:
    return [w["pid"] for w in live_workers() if w["pid"]]


def worker_state(worker_id: str | None) -> bool | None:
    """Whether the worker that claimed a run is alive: True / False for a worker or Ray
    dispatcher of this host (its slot lock, or the dispatcher lock, is held, by it), None
    when this host cannot tell (another host, or an id without a slot): the store then
    goes by the heartbeat."""
    if not worker_id:
        return False
    host, pid, slot = worker_parts(worker_id)
    if worker_id.startswith("ray:"):  # a Ray dispatcher (ray:host:pid): its lock holds its pid
        if host != socket.gethostname():
            return None
        path = dispatcher_lock()
        try:
            return lock_held(path) and path.read_text().strip() == pid
        except OSError:
            return False
    if slot is None or host != socket.gethostname():
        return None
    path = slot_lock(int(slot))
    if not lock_held(path):
        return False
    return _holder(path)[0] == worker_id


def spawn_detached(args: list[str], log_name: str, env: dict | None = None) -> subprocess.Popen:
    """``python ARGS`` in a new session (it outlives the caller), output to SSRL_HOME/LOG_NAME;
    reaped when it ends (no zombie is left in a caller that lives on, the app)."""
    root = Path(__file__).resolve().parents[2]
    env = dict(env or os.environ, SSRL_HOME=str(paths.ssrl_home()))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    log = open(paths.ssrl_home() / log_name, "ab")
    proc = subprocess.Popen([sys.executable, *args], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()  # the child has its own copy
    # waited for in the background: the app lives for days, and each job it started stayed a zombie (an entry in
    # the process table) until the next start happened to reap it
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc


def claim_start(marker: Path) -> bool:
    """Whether to start the process ``marker`` stands for: False when one was started there in
    the last ``STARTING_S`` (still importing, or failing at once: it was started again on every
    page view), else True, the start marked now."""
    try:
        if time.time() - marker.stat().st_mtime < STARTING_S:
            return False
    except FileNotFoundError:
        pass
    marker.touch()
    return True


def home_gone(who: str, lock_file, store: RunStore, error: FileNotFoundError | None = None) -> bool:
    """Whether the home of an idle worker or dispatcher (``who``) is gone, deleted or moved, said
    as it stops: the lock file it holds open (``lock_file``) no longer the file at its path
    (``locks.guards``), or, given the ``error`` its store raised (``RunStore._conn``), the
    store's file gone. An idle worker had polled a deleted home for ever, made it anew and
    died on a traceback."""
    if error is None:
        gone = None if guards(lock_file, Path(lock_file.name)) else lock_file.name
    else:
        gone = None if store.path.exists() else store.path
    if gone is not None:
        print(f"{who}: {gone} was removed or replaced (SSRL_HOME deleted or moved?); stopping, so that nothing is "
              "written there again", flush=True)
    return gone is not None


def start_workers(idle_exit_s: float | None = None) -> list[subprocess.Popen]:
    """Start a detached worker (it outlives the caller) for every slot that has none and
    was not just started; with several GPUs, slot N sees GPU N mod count only."""
    n = worker_count()
    gpus = gpu_count() if n > 1 else 0
    started = []
    if legacy_worker():  # an older version's worker: none beside it (``older_workers``)
        return started
    for slot in range(n):
        if lock_held(slot_lock(slot)) or not claim_start(slots_dir() / f"slot-{slot}.starting"):
            continue
        env = dict(os.environ)
        if gpus > 1 and "CUDA_VISIBLE_DEVICES" not in env:
            env["CUDA_VISIBLE_DEVICES"] = str(slot % gpus)
        cmd = ["-m", "ssrl_core", "worker", "--slot", str(slot)]
        if idle_exit_s is not None:
            cmd += ["--idle-exit", str(idle_exit_s)]
        started.append(spawn_detached(cmd, f"worker-{slot}.log", env))
    return started


# -- failures ---------------------------------------------------------------------------------
# how ``explain_failure`` begins a failure of what was around a run, not of its settings: once that is
# mended (space freed, the dataset back) the run resumes from its checkpoint (the app offers Resume)
AROUND_THE_RUN = ("disk full:", "dataset missing:")


def explain_failure(exc: BaseException) -> str:
    """A failure in plain words, with what to do about it."""
    import torch

    from ..data import DatasetMissing
    from ..train import Diverged
    from .execute import RunBusy

    if isinstance(exc, Diverged):
        return (f"diverged: {exc}. Lower the learning rate (--lr) and try again; if the method has a temperature, "
                "a very small one overflows, so raise it.")
    if isinstance(exc, (DiskBudgetExceeded, RunBusy)):
        return str(exc)
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or "out of memory" in str(exc).lower():
        # PyTorch's own words end it: on a GPU they say how much was asked, how much is free and which
        # other processes hold memory there (another worker, a probe job)
        said = " ".join(str(exc).split())
        return ("out of memory: lower the batch size or use a smaller encoder (cnn-small is the smallest); if it ran "
                "out in the evaluation, `--evaluation basic` makes no UMAP."
                + (f" ({said[:400]}{'...' if len(said) > 400 else ''})" if said else ""))
    if isinstance(exc, DatasetMissing):
        return f"dataset missing: {exc}"
    if disk_full(exc):  # numpy's short write too, which has no errno
        return (f"disk full: {not_written(exc, exc.filename or paths.ssrl_home())}, then resume the run (Resume, or "
                "`python -m ssrl_core resume` with its id): it continues from the last epoch it finished.")
    if isinstance(exc, ValueError):
        return f"invalid run: {exc}"
    return f"{type(exc).__name__}: {exc}"


def folder_mb(path: Path) -> float:
    """Bytes of every file under ``path``, in MB (1e6 bytes)."""
    total = 0
    stack = [Path(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except FileNotFoundError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                elif e.is_file(follow_symlinks=False):
                    total += e.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                pass
    return total / 1e6


def over_budget(run_dir: Path, limits: Limits) -> str | None:
    """Why ``run_dir`` is over the per-run disk budget (``SSRL_RUN_DISK_MB``), or None."""
    budget = limits.run_disk_mb
    if not budget:
        return None
    size = folder_mb(run_dir)
    if size <= budget:
        return None
    return (f"disk budget exceeded: the run folder holds {size:.1f} MB, over the per-run budget of "
            f"{budget:g} MB (SSRL_RUN_DISK_MB). Use fewer epochs or a smaller encoder or dataset, or ask "
            f"whoever runs the server to raise the budget; what the run wrote so far is kept in {run_dir}.")


def cancelled_reason(where: str, done: int | None = None, epochs: int | None = None) -> str:
    """A cancelled run's reason: ``where`` it stopped ("at epoch 5 of 10, step 12", "during
    evaluation") and what resuming it does, from ``done`` of ``epochs`` epochs in its
    checkpoint when known. Short, because `runs` prints it on the run's line."""
    if done is None or epochs is None:
        then = "resuming continues from the last epoch it finished"
    elif done >= epochs:
        then = "its training had finished: resuming runs only the evaluation"
    elif done:
        then = f"the checkpoint of epoch {done} is kept: resuming continues with epoch {done + 1}"
    else:
        then = "no epoch had finished: resuming starts it over"
    return f"cancelled {where}; {then}"


def end_of(exc: BaseException, phase: str = "training", done: int | None = None,
           epochs: int | None = None) -> tuple[str, str]:
    """How a run that raised ``exc`` ends: ('cancelled' or 'failed', the reason in plain
    words); ``phase`` is where a cancel that did not say where it stopped came in, ``done``
    of ``epochs`` the epochs its checkpoint holds when the caller knows (the loop's own
    cancel says)."""
    if isinstance(exc, Cancelled):  # the loop says where it stopped; the evaluation by its phase
        if exc.done is not None:
            return "cancelled", cancelled_reason(str(exc).removeprefix("cancelled "), exc.done, exc.epochs)
        words = phase_text(phase)  # the step in words, as the live panel says it ("knn" read as code)
        where = ("while starting" if phase == "starting" else
                 f"while evaluating ({words.removeprefix('evaluating: ')})" if words.startswith("evaluating: ") else
                 f"during {words}")
        if phase == "training" and done is not None and epochs and done >= epochs:
            where = "after its last epoch"  # ("cancelled during training; its training had finished" read as nonsense)
        return "cancelled", cancelled_reason(where, done, epochs)
    return "failed", explain_failure(exc)


def warm_caches() -> subprocess.Popen | None:
    """In a new SSRL_HOME, compile the UMAP layout into numba's cache in a low-priority
    process while the worker waits or trains, so the first run's map does not wait for the
    compiler (about 20 s on 2 cores). Nothing to do once the cache is warm."""
    from ..evaluate.project import layout_cache_warm

    if layout_cache_warm():  # also exports NUMBA_CACHE_DIR for the child
        return None
    if compile_started():  # several workers start at once: one compiles
        return None
    (paths.ssrl_home() / WARM_MARKER).touch()
    return spawn_detached(["-m", "ssrl_core.evaluate.project", "--warm"], "warm.log")


WARM_MARKER = "warm.starting"


def compile_started() -> bool:
    """Whether a worker started compiling the layout in the last 5 minutes (it may still be)."""
    try:
        return time.time() - (paths.ssrl_home() / WARM_MARKER).stat().st_mtime < 300
    except FileNotFoundError:
        return False


PRELOADED = ("torch._dynamo", "sklearn.linear_model", "faiss")


def preload_imports() -> None:
    """Import what the first run would import while training and evaluating: PyTorch's
    compiler front end (its optimiser loads it on first use), scikit-learn's readout and
    faiss. A worker does this, and ``preload_layout``, while it first waits for a run, so a
    class's first run after the app starts does not wait for them (docs/performance.md,
    "Time to insight")."""
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)


def preload_layout() -> None:
    """Load UMAP and its layout, compiled in numba's cache, into this process by drawing a tiny
    map (only once the cache holds it: this never compiles)."""
    from ..evaluate.project import warm_layout_cache

    warm_layout_cache()


class Worker:
    """claim -> run_one -> finish, one run at a time, until stopped.

    A watcher thread beats for the current run, polls its cancel request and measures its
    folder against the disk budget; the training loop and the evaluation see a stop
    request at their next step or phase boundary. A run that does not stop within
    ``STOP_GRACE_S`` (inside one long native call, e.g. a UMAP layout) is ended in the
    store by the watcher, which then restarts the worker process in place (``serve`` with
    ``restartable=True``, as the ``worker`` command does)."""

    def __init__(self, store: RunStore | None = None, poll_s: float = 0.5, slot: int | None = None,
                 limits: Limits | None = None):
        self.store = store or RunStore()
        self.poll_s = poll_s
        self.slot = slot
        self.limits = limits or Limits.from_env()
        self.id = f"{socket.gethostname()}:{os.getpid()}"
        self.code: str | None = None  # the stamp of the code it runs (``code_stamp``), once it holds a slot
        self.current: str | None = None
        self._dir: Path | None = None
        self._phase = "starting"
        self._stop_request: tuple[str, str] | None = None  # (status, message) for the current run
        self._stop_since = 0.0
        self._restart_argv: list[str] | None = None
        self._halt = threading.Event()
        self._finishing = threading.Lock()
        self._watching = False
        self._lock_file = None
        self._own_threads: int | None = None  # this worker's torch threads with no probe job beside it
        self._shared_at = -SHARE_S

    # -- the slot ----------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take the requested slot, or the first free one; False when none is free."""
        for slot in ([self.slot] if self.slot is not None else range(worker_count())):
            fh = open(slot_lock(slot), "a+")
            if not try_lock(fh):
                fh.close()
                continue
            self.slot, self._lock_file = slot, fh
            self.id = f"{socket.gethostname()}:{os.getpid()}:{slot}"
            self.code = code_stamp()
            code_file(slot).write_text(f"{self.id} {self.code}\n")  # (first: a page reading the id then finds it)
            fh.seek(0)
            fh.truncate()
            fh.write(self.id + "\n")
            fh.flush()
            (slots_dir() / f"slot-{slot}.starting").unlink(missing_ok=True)
            return True
        return False

    # -- the watcher thread ------------------------------------------------------------
    def _watch(self) -> None:
        last_disk = last_orphans = 0.0
        while not self._halt.wait(HEARTBEAT_S):
            run_id, run_dir = self.current, self._dir
            if not run_id:
                continue
            try:
                if time.monotonic() - last_orphans > ORPHANS_S:  # idle workers look every poll
                    last_orphans = time.monotonic()
                    self.store.requeue_orphans(worker_state, STALE_S)
                self.store.heartbeat(run_id, self.id)
                if self._stop_request is None:
                    if self.store.cancel_requested(run_id):
                        self._request_stop(run_id, "cancelled", "")
                    elif time.monotonic() - last_disk > DISK_CHECK_S and run_dir is not None:
                        last_disk = time.monotonic()
                        over = over_budget(run_dir, self.limits)
                        if over:
                            self._request_stop(run_id, "failed", over)
                elif self._restart_argv and time.monotonic() - self._stop_since > STOP_GRACE_S:
                    self._hard_stop(run_id)
            except Exception as e:  # noqa: BLE001 -- the watcher must outlive a busy database
                print(f"watcher: {type(e).__name__}: {e}", flush=True)

    def _ensure_watcher(self) -> None:
        if not self._watching:
            self._watching = True
            threading.Thread(target=self._watch, daemon=True, name="watcher").start()

    def _request_stop(self, run_id: str, status: str, message: str) -> None:
        if self.current == run_id and self._stop_request is None:
            self._stop_since = time.monotonic()
            self._stop_request = (status, message)

    def _stop_message(self, status: str, message: str) -> str:
        if status != "cancelled":
            return message
        run = self.store.get(self.current) or {}
        return end_of(Cancelled(), self._phase, run.get("epoch"), run.get("epochs"))[1]

    def _hard_stop(self, run_id: str) -> None:
        """End the run in the store and restart this process in place (its slot lock is
        released by exec and taken again by the new image)."""
        status, message = self._stop_request
        with self._finishing:
            if self.current != run_id:
                return
            self.store.finish(run_id, status, worker=self.id,
                              error=self._stop_message(status, message) + " (stopped inside a step that could "
                              "not be interrupted; its worker restarted)")
            self.current = None
        self._restart(f"run {run_id}: {status}; restarting the worker to stop it")

    def _restart(self, why: str) -> None:
        """Say ``why`` and restart this process in place (``serve``'s ``restartable``): the slot
        lock is released by exec and taken again by the new image."""
        print(why, flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(self._restart_argv[0], self._restart_argv)

    # -- the loop ------------------------------------------------------------------------
    @staticmethod
    def stop_on_sigterm() -> None:
        """SIGTERM (a service manager's stop, ``kill``, a CI job cancelled) as Ctrl-C: the run
        in hand goes back to the queue (``run_one``) instead of the process ending mid-run."""
        import signal

        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)

    def serve(self, once: bool = False, idle_exit_s: float | None = None, restartable: bool = False) -> int:
        """Run queued runs until stopped; ``once``: exit when the queue is empty.
        ``restartable``: this process may restart itself to stop a run (see the class)."""
        if legacy := legacy_worker():
            print(older_workers_text([legacy]), flush=True)
            return 1
        if not self.acquire():
            n = worker_count()
            which = (f"slot {self.slot} of this SSRL_HOME is" if self.slot is not None else
                     "this SSRL_HOME's worker slot is" if n == 1 else f"all {n} worker slots of this SSRL_HOME are")
            # a script's `submit` then `worker --once` went on as if the queue were done: the other worker runs it
            print(f"{which} taken: another worker is already running there, and it serves the queue; exiting "
                  "(`python -m ssrl_core wait ID` waits for a run to end)", flush=True)
            return 0
        if restartable:
            self._restart_argv = [sys.executable, "-m", "ssrl_core", "worker", "--slot", str(self.slot),
                                  *(["--once"] if once else []),
                                  *(["--idle-exit", str(idle_exit_s)] if idle_exit_s is not None else [])]
        threads = torch_threads(worker_count())
        if threads:
            import torch

            torch.set_num_threads(threads)
        print(f"worker {self.id} serving {self.store.path} (torch threads: {threads or 'default'})", flush=True)
        from .remove import settle_killed_deletions

        for run_id, how in settle_killed_deletions(self.store):
            print(f"run {run_id}: a deletion killed midway left its folder; {how}", flush=True)
        from ..evaluate.project import layout_cache_warm

        warming = warm_caches()
        compiling_here = warming is not None
        # what the first run would load, loaded while waiting for it (a worker for the runs queued
        # now, ``once``, has no waiting to use)
        imports_loaded = layout_loaded = once
        self._ensure_watcher()
        idle_since = looked = time.monotonic()
        try:
            while not self._halt.is_set():
                if self._home_gone(warming):
                    return 1
                if warming is not None and warming.poll() is not None:
                    warming = None  # reaped: an ended child left unwaited stays a zombie while the worker lives
                if self._restart_argv and time.monotonic() - looked >= CODE_CHECK_S:
                    looked = time.monotonic()
                    if code_stamp() != self.code:  # an upgrade: no run trained with the code it replaced
                        self._restart(f"worker {self.id}: the code changed on disk since it started (an upgrade?); "
                                      "restarting to run it")
                try:
                    self.store.requeue_orphans(worker_state, STALE_S)
                    run = self.store.claim(self.id)
                except FileNotFoundError as e:  # the store removed, the slot file maybe not yet
                    if not self._home_gone(warming, e):
                        raise
                    return 1
                if run is None:
                    if once or (idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s):
                        return 0
                    if not imports_loaded:
                        imports_loaded = True
                        self._preload(preload_imports, "what a run imports")
                        continue
                    # once no compile is under way (this worker's ended, or none another started lately):
                    # the layout loaded if the cache holds it, never compiled (a run compiles it itself)
                    if not layout_loaded and warming is None and (compiling_here or not compile_started()):
                        layout_loaded = True
                        if layout_cache_warm():
                            self._preload(preload_layout, "UMAP's compiled layout")
                            continue
                    time.sleep(self.poll_s)
                    continue
                self.run_one(run)
                imports_loaded = True  # the run loaded them (the layout too if it drew a map: then loading it is 0.05 s)
                idle_since = time.monotonic()
        finally:
            self._halt.set()
        return 0

    def _home_gone(self, warming: subprocess.Popen | None, error: FileNotFoundError | None = None) -> bool:
        """``home_gone`` for this worker, and if so the layout compile it started (``warming``)
        stopped: numba, compiling, made its cache folders there anew."""
        if not home_gone(f"worker {self.id}", self._lock_file, self.store, error):
            return False
        if warming is not None:
            warming.kill()
        return True

    def _preload(self, load: Callable[[], None], what: str) -> None:
        """``load()`` while waiting, said in the worker's log; a failure is said, not raised: the
        run that needs it loads it then, or fails saying why."""
        t = time.perf_counter()
        try:
            load()
        except Exception as e:  # noqa: BLE001
            print(f"worker {self.id}: could not load {what} ahead ({type(e).__name__}: {e})", flush=True)
            return
        print(f"worker {self.id}: loaded {what} in {time.perf_counter() - t:.1f} s", flush=True)

    def _share_cores(self) -> None:
        """Leave the probe jobs running beside this run their share of the cores, as they leave
        this run its own (``evaluate.jobs.share_cores``): this worker's threads over 1 + the
        jobs, looked at every ``SHARE_S`` from the run's own thread (OpenMP's thread count is
        the calling thread's), and given back when they end. Not with ``SSRL_TORCH_THREADS``,
        which fixes every process's threads. Measured on 2 cores (``python -m bench.probe_threads``,
        docs/performance.md): a 15-epoch run beside a fine-tuning job at 1 thread took 97 s at
        2 threads and 48 s at 1, its own time alone at 1 thread, and the job's steps 42 to 48 s
        and 30 to 31 s."""
        if os.environ.get("SSRL_TORCH_THREADS", "").strip() or time.monotonic() - self._shared_at < SHARE_S:
            return
        self._shared_at = time.monotonic()
        import torch

        from ..evaluate.jobs import running

        if self._own_threads is None:
            self._own_threads = torch.get_num_threads()
        jobs = running()
        want = max(1, self._own_threads // (1 + jobs))
        if want != torch.get_num_threads():
            torch.set_num_threads(want)
            print(f"worker {self.id}: torch threads {want}" + (f", beside {jobs} probe job{'s' * (jobs > 1)}"
                                                             if jobs else ", no probe job beside it"), flush=True)

    def run_one(self, run: dict) -> str:
        """Execute one claimed run and finish it: done, cancelled or failed with a reason."""
        from .execute import execute

        run_id, run_dir = run["id"], Path(run["run_dir"])
        self._stop_request, self._phase = None, "starting"
        self.current, self._dir = run_id, run_dir
        self._shared_at = -SHARE_S  # its first event looks for probe jobs
        self._ensure_watcher()

        def should_cancel() -> bool:
            if self._stop_request is None:
                return False
            if self._stop_request[0] == "cancelled":
                return True
            raise DiskBudgetExceeded(self._stop_request[1])

        def on_event(e: dict) -> None:
            self._share_cores()
            if e.get("kind") == "phase":
                self._phase = e["phase"]
            elif e.get("kind") in ("step", "epoch_end"):
                self._phase = "training"
            if should_cancel():
                if e.get("kind") == "epoch_end":  # its checkpoint is written: the store's epoch is where Resume goes on
                    self.store.record(run_id, e, worker=self.id)
                raise Cancelled("cancelled")
            if e.get("kind") in ("epoch_end", "phase"):  # the folder just grew: size it now (microseconds)
                over = over_budget(run_dir, self.limits)
                if over:
                    raise DiskBudgetExceeded(over)
            self.store.record(run_id, e, worker=self.id)

        print(f"run {run_id}: {run['method']} on {run['dataset']} (attempt {run['attempts']})", flush=True)
        summary, error = None, None
        try:
            cfg = RunConfig.from_dict(run["config"])
            summary = execute(cfg, run_dir, on_event=on_event, should_cancel=should_cancel,
                              submitted=art.submission(run))
            over = over_budget(run_dir, self.limits)
            if over:
                raise DiskBudgetExceeded(over)
            status = "done"
        except ClaimLost as e:
            status = "lost"
            print(f"run {run_id}: {e}; leaving it to its new worker", flush=True)
        except KeyboardInterrupt:
            # Ctrl-C, or SIGTERM (``stop_on_sigterm``): the worker was stopped, not killed by its run. Left running,
            # the next worker took it for a death of the run's (``_deaths_at``), and three stops of a foreground worker
            # failed the run "most likely out of memory"; back in the queue now, no death counted, resumed from its
            # last epoch
            with self._finishing:
                if self.current == run_id:
                    self.store.requeue(run_id, self.id, "its worker was stopped (Ctrl-C or SIGTERM)")
                self.current, self._dir, self._stop_request = None, None, None
            print(f"run {run_id}: back in the queue (its worker was stopped)", flush=True)
            raise
        except Exception as e:  # every failure ends the run with a reason
            now = self.store.get(run_id) or {}  # the epochs its checkpoint holds, as the store recorded them
            status, error = end_of(e, self._phase, now.get("epoch"), now.get("epochs"))
        with self._finishing:
            if status != "lost" and self.current == run_id:
                if not self.store.finish(run_id, status, summary=summary, error=error, worker=self.id):
                    status = "lost"
            self.current, self._dir, self._stop_request = None, None, None
        # what the run's tensors left cached on a GPU goes back to the device: an idle worker kept it, short
        # for the other slots' workers and the probe jobs sharing the GPU
        from ..device import release_cached_memory

        release_cached_memory()
        print(f"run {run_id}: {status}", flush=True)
        return status
