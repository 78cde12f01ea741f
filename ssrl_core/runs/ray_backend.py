"""The Ray backend: queued runs execute as Ray tasks on a cluster, with no shared filesystem.

``SSRL_BACKEND=ray`` makes the app start a *dispatcher* instead of local workers
(``python -m ssrl_core worker --backend ray``). The dispatcher runs on the app's host and
claims queued runs from the run store exactly as a local worker does (claim, heartbeat,
record, finish), up to the cluster's capacity at once: one run per GPU when the cluster
has GPUs (each task asks for one), else one per ``cpus_per_run`` CPUs. It connects to
the cluster named by ``RAY_ADDRESS``; without it, it starts a local Ray instance bound to
127.0.0.1 that lives as long as the dispatcher.

What runs where:

- on the host: the run store, the run folders, the dispatcher (one thread per run in
  flight, and a small :class:`CancelBoard` actor that carries cancel requests to tasks);
- on a node: :func:`run_task`, a streaming-generator task. It loads the dataset on the
  node, trains and evaluates into a temporary folder under the node's own ``SSRL_HOME``
  (``ray-runs/``), and yields plain messages back: every progress event, and the run
  folder's new or changed files as a zip after every epoch (the checkpoint) and at
  every phase, then a last ``end`` message (status, summary, reason, the shared
  reference results). The code itself travels with the job (Ray ``py_modules``); the
  nodes need the same Python packages as the host.

The dispatcher unpacks each zip into the run's folder on the host, refusing absolute,
``..`` and link members (:func:`unpack`). Because the checkpoint arrives after every epoch,
a run whose node (or worker process) is lost is put back in the queue and resumes,
on whichever node takes it, from the last epoch the host received. Cancel: the
dispatcher sees the store's cancel flag, tells the board, and the task polls the board
between steps (``execute``'s ``should_cancel``), stops, and sends what it made.

This module imports Ray only inside the dispatcher and the task, so the app and the
local worker never pay for it.
"""
from __future__ import annotations

import io
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from .. import paths
from ..locks import hold, lock_held
from .store import ClaimLost, Limits, RunStore
from ..text import count
from .worker import (HEARTBEAT_S, STALE_S, DiskBudgetExceeded, claim_start, dispatcher_lock, end_of, explain_failure,
                     home_gone, over_budget, spawn_detached, worker_state)

BACKENDS = ("local", "ray")
FILES = "files"  # a message carrying a zip of new or changed run-folder files
END = "end"  # the last message of a task: status, summary, error, references
MAX_ATTEMPTS = 3  # a run whose node is lost this many times (since it was last resumed) fails instead of being requeued
LOST = "its Ray node or worker process was lost"  # how a requeue for a lost node begins (the count above reads it)
CONNECT_S = 10.0  # a cluster's head that does not accept a connection by then is said to be unreachable
CANCEL_POLL_S = 0.5
STOP_GRACE_S = 10.0  # the most a stopping dispatcher waits for its loop, then for Ray (a cancel, its shutdown)
_SKIP = re.compile(r"\.tmp|\.lock$|\.pending$|\.part\d*$")  # files being written, locks, markers


def backend() -> str:
    """The executor named by ``SSRL_BACKEND``: 'local' (default) or 'ray'."""
    name = (os.environ.get("SSRL_BACKEND") or "local").strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"SSRL_BACKEND={name!r} is not a backend: set it to 'local' (the default) or 'ray'")
    return name


# -- one dispatcher per SSRL_HOME ----------------------------------------------------------------
def dispatcher_alive() -> bool:
    """True when a Ray dispatcher holds the lock for this SSRL_HOME."""
    return lock_held(dispatcher_lock())


def start_dispatcher_process(idle_exit_s: float | None = None):
    """Start a detached dispatcher (it outlives the caller) unless one is alive already or was
    started in the last ``STARTING_S`` (one that cannot reach its cluster ends in seconds: the
    app started one on every page view). ValueError, before anything starts, for settings it
    would refuse (``SSRL_RAY_CPUS_PER_RUN``): the page says so, not only its log."""
    _cpus_from_env()
    if dispatcher_alive() or not claim_start(paths.ssrl_home() / "dispatcher.starting"):
        return None
    cmd = ["-m", "ssrl_core", "worker", "--backend", "ray"]
    if idle_exit_s is not None:
        cmd += ["--idle-exit", str(idle_exit_s)]
    return spawn_detached(cmd, "dispatcher.log")


def last_error() -> str | None:
    """The reason the last dispatcher gave for stopping (its log's last ``error:`` line), or
    None: what a page says beside "no dispatcher is running"."""
    try:
        with open(paths.ssrl_home() / "dispatcher.log", "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 64_000))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("dispatcher ") and " serving " in line:
            return None  # a dispatcher started after it, and served
        if line.startswith("error: "):
            return line[len("error: "):].strip()
    return None


# -- run folders as bytes ------------------------------------------------------------------------
def _files(run_dir: Path) -> dict[str, tuple[int, int]]:
    """Complete files of a run folder: relative posix name -> (size, mtime_ns)."""
    out = {}
    for p in sorted(run_dir.rglob("*")):
        if _SKIP.search(p.name):
            continue
        try:
            st = p.lstat()
        except FileNotFoundError:
            continue
        if p.is_file() and not p.is_symlink():
            out[p.relative_to(run_dir).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def pack(run_dir: Path, sent: dict | None = None) -> bytes | None:
    """A zip (stored, not compressed: the arrays do not shrink) of the run folder's files
    that are new or changed since ``sent`` (updated in place); None when nothing is."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    sent = {} if sent is None else sent
    buf = io.BytesIO()
    n = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, stamp in _files(run_dir).items():
            if sent.get(name) == stamp:
                continue
            try:
                zf.write(run_dir / name, name)
            except FileNotFoundError:
                continue
            sent[name] = stamp
            n += 1
    return buf.getvalue() if n else None


def unpack(data: bytes, dest: Path) -> list[str]:
    """Write a zip's files into ``dest``, each replaced atomically (a page reading the folder
    never sees half a file). Every member is checked before anything is written: an
    absolute or ``..`` name, a link or an encrypted member refuses the whole archive
    (``ArchiveRejected``), as for uploads. Returns the names written."""
    from ..data.custom import ArchiveRejected, _member_path

    dest = Path(dest)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise ArchiveRejected(f"the run files sent back are not a zip archive ({e})") from None
    with zf:
        root = dest.resolve()
        members = []
        for info in zf.infolist():
            rel = _member_path(info)  # absolute, '..', links, encryption
            if info.is_dir():
                continue
            target = dest.joinpath(*rel.parts)
            if not rel.parts or not target.resolve().is_relative_to(root):
                raise ArchiveRejected(f"member {info.filename!r} would be written outside the run folder: refusing")
            members.append((info, target))
        written = []
        for info, target in members:
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(f"{target.name}.part{os.getpid()}")
            with zf.open(info) as src, open(part, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(part, target)
            written.append(info.filename)
    return written


# -- the node's side ---------------------------------------------------------------------------
class CancelBoard:
    """A tiny actor on the cluster: the dispatcher posts cancel requests, tasks poll them."""

    def __init__(self):
        self._ids: set[str] = set()

    def cancel(self, run_id: str) -> None:
        self._ids.add(run_id)

    def forget(self, run_id: str) -> None:
        self._ids.discard(run_id)

    def is_cancelled(self, run_id: str) -> bool:
        return run_id in self._ids


def _check_data_on_node(name: str) -> None:
    """An imported dataset lives in the host's SSRL_HOME; on a node it must have been copied."""
    from ..data import DATASETS, DatasetMissing
    from ..data.custom import custom_datasets, custom_root

    if name not in DATASETS and name not in custom_datasets():
        raise DatasetMissing(f"the imported dataset {name!r} is not on cluster node {socket.gethostname()}: "
                             f"copy SSRL_HOME/data/custom/{name} from the app's host to "
                             f"{custom_root() / name} on every Ray node")


def _reason(exc: BaseException, cfg) -> tuple[str, str]:
    """The run's end on a node: the local worker's status and reason, plus where data must be."""
    from ..data import DATASETS, DatasetMissing

    status, reason = end_of(exc)
    if isinstance(exc, DatasetMissing) and cfg is not None and cfg.dataset in DATASETS:
        folder = cfg.data_dir or paths.data_dir()
        reason += (f" On a Ray cluster the data folder must exist on every node: this run ran on "
                   f"{socket.gethostname()}, which has no {cfg.dataset} files in {folder}.")
    return status, reason


def run_task(run_id: str, config: dict, seed: bytes | None, board, cpus: float, submitted: dict | None = None):
    """A Ray streaming-generator task: execute one run on this node, yielding messages.

    ``seed`` is the host's run folder as a zip (the checkpoint of a run that resumes);
    ``submitted``, who queued the run and when, recorded in the folder (``execute``).
    Messages: progress events (``kind`` as the training loop emits them, plus one
    ``placement``), ``files`` (a zip of new or changed files, sent before the event that
    announces them) and a last ``end``.
    """
    import torch

    from ..config import RunConfig
    from ..evaluate.suite import reference_cache
    from ..runs import artifacts as art
    from .execute import execute

    torch.set_num_threads(max(1, int(cpus)))
    work = paths.ssrl_home() / "ray-runs"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob(f"{run_id}-*"):  # left by an earlier attempt whose process was killed
        shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"{run_id}-", dir=work) as tmp:
        run_dir = Path(tmp)
        if seed:
            unpack(seed, run_dir)
        sent = dict(_files(run_dir))  # the host has these already
        out: queue.SimpleQueue = queue.SimpleQueue()
        last_poll = [0.0]

        def ship() -> None:
            data = pack(run_dir, sent)
            if data:
                out.put({"kind": FILES, "archive": data})

        def on_event(event: dict) -> None:
            if event.get("kind") in ("epoch_end", "phase", "metrics"):
                ship()  # the checkpoint (or the maps) reach the host before the event does
            out.put(event)

        def should_cancel() -> bool:
            now = time.monotonic()
            if now - last_poll[0] < CANCEL_POLL_S:
                return False
            last_poll[0] = now
            try:
                import ray

                return bool(ray.get(board.is_cancelled.remote(run_id), timeout=10))
            except Exception:  # noqa: BLE001 - a board that cannot answer cancels nothing
                return False

        def work_() -> None:
            cfg = None
            end: dict = {"kind": END}
            try:
                _check_data_on_node(config.get("dataset"))
                cfg = RunConfig.from_dict(config)
                end.update(status="done", summary=execute(cfg, run_dir, on_event=on_event, should_cancel=should_cancel,
                                                            submitted=submitted))
            except BaseException as e:  # noqa: BLE001 - every failure ends the run with a reason
                end["status"], end["error"] = _reason(e, cfg)
            try:
                ship()  # what it produced comes back whatever the end
                resolved = art.read_json(run_dir / art.CONFIG)
                if resolved:
                    end["references"] = reference_cache(RunConfig.from_dict(resolved)).read()
            except BaseException as e:  # noqa: BLE001
                if end["status"] == "done":
                    end["status"], end["error"] = _reason(e, cfg)
            out.put(end)

        yield {"kind": "placement", "node": socket.gethostname(), "pid": os.getpid(), "folder": str(run_dir),
               "resumed_from": len(sent)}
        thread = threading.Thread(target=work_, name=f"run-{run_id}", daemon=True)
        thread.start()
        while True:
            msg = out.get()
            yield msg
            if msg["kind"] == END:
                break
        thread.join()


# -- the host's side ---------------------------------------------------------------------------
def _prepare_ray_env(address: str | None) -> None:
    """Before ``import ray``: a local instance listens on 127.0.0.1 only and uses a token
    kept in memory (nothing written to the home folder)."""
    if address:
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray's switch for loopback-only
    if not os.environ.get("RAY_AUTH_MODE") and not os.environ.get("RAY_AUTH_TOKEN"):
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)


def merge_references(config: dict, results: dict) -> None:
    """Fold the shared reference results a node computed into the host's cache."""
    from ..config import RunConfig
    from ..evaluate.suite import reference_cache

    cache = reference_cache(RunConfig.from_dict(config))
    for key, value in results.items():
        cache.get(key, lambda value=value: value)


def _cpus_from_env() -> float | None:
    raw = os.environ.get("SSRL_RAY_CPUS_PER_RUN")
    if not raw:
        return None
    try:
        cpus = float(raw)
    except ValueError:
        cpus = 0.0
    if not 0 < cpus < float("inf"):  # also nan
        raise ValueError(f"SSRL_RAY_CPUS_PER_RUN must be a number above 0 (the CPUs each run asks for), got {raw!r}")
    return cpus


def _answers(address: str) -> None:
    """RuntimeError unless something accepts a connection at ``address`` (HOST:PORT, the
    head's GCS) within ``CONNECT_S``: ``ray.init`` retried an unreachable head for ever, its
    dispatcher holding this home's lock, and the pages said nothing. Ray's own forms
    ("auto", "ray://...") are left to Ray."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RuntimeError(f"RAY_ADDRESS={address!r} is not HOST:PORT: give the head node's address and the port of "
                           "its `ray start --head --port=PORT` (6379 by default), e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_S).close()
    except OSError as e:  # (refused at once, or no answer in CONNECT_S: "within 10 s" was said of both)
        why = f"nothing answered there within {CONNECT_S:.0f} s" if isinstance(e, TimeoutError) else \
            f"the connection failed ({e.strerror or e})"
        raise RuntimeError(f"cannot connect to the Ray cluster at RAY_ADDRESS={address}: {why}. Start it with "
                           f"`ray start --head --port={port}` on its head node (and `ray start --address=...` on this one), or unset RAY_ADDRESS for a local "
                           "instance") from None


class _Flight:
    """One attempt of one run in flight: its claimed row, the thread driving it, its task."""

    def __init__(self, run: dict):
        self.run = run
        self.id = run["id"]
        self.thread: threading.Thread | None = None
        self.gen = None  # the task's ObjectRefGenerator once launched
        self.taken = False  # another process requeued the run under us: drop it, never finish it


class Dispatcher:
    """Claims queued runs and executes each as a Ray task (see the module docstring)."""

    def __init__(self, store: RunStore | None = None, cpus_per_run: float | None = None, poll_s: float = 0.5,
                 address: str | None = None, limits: Limits | None = None):
        self.store = store or RunStore()
        self.limits = limits or Limits.from_env()
        self.cpus_per_run = cpus_per_run or _cpus_from_env()
        self.poll_s = poll_s
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.id = f"ray:{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._lock_file = None
        self._flights: dict[str, _Flight] = {}
        self._claimed = threading.Lock()  # a claim becoming a flight, or stopping's look at the flights
        self._slots: tuple[float, int, dict] = (0.0, 1, {})
        self.board = None

    def acquire(self) -> bool:
        self._lock_file = hold(dispatcher_lock())
        return self._lock_file is not None

    def connect(self) -> None:
        _prepare_ray_env(self.address)
        try:
            import ray
        except ImportError:
            raise RuntimeError("SSRL_BACKEND=ray needs Ray on the app's host and on every node: "
                               "pip install -r requirements.txt -c constraints.txt") from None
        if self.address:
            print(f"connecting to the Ray cluster at RAY_ADDRESS={self.address}", flush=True)
            _answers(self.address)
        package = Path(__file__).resolve().parents[1]  # ssrl_core travels with the job
        kwargs = {} if self.address else {"_node_ip_address": "127.0.0.1"}
        try:
            ray.init(address=self.address, include_dashboard=False, logging_level="WARNING",
                     runtime_env={"py_modules": [str(package)], "excludes": ["__pycache__", "*.pyc"]}, **kwargs)
        except Exception as e:  # noqa: BLE001 - a wrong address, a cluster that is down, a bad token
            raise RuntimeError(f"cannot connect to the Ray cluster at RAY_ADDRESS={self.address}: {e}. Start it with "
                               "`ray start --head` on its head node, or unset RAY_ADDRESS for a local instance") from None
        self.board = ray.remote(num_cpus=0, max_restarts=-1)(CancelBoard).remote()
        self._task = ray.remote(max_retries=0)(run_task)

    def slots(self) -> tuple[int, dict]:
        """How many runs the cluster's nodes take at once, and what each task asks for (re-read
        every 10 s: nodes come and go): one per GPU with the CPUs it asks for beside it, else one
        per ``cpus_per_run`` CPUs of a node (0.5: two runs a CPU). 0 when no node can take one (a
        task asking for more CPUs than any node has waited in Ray for ever, its run "running"):
        runs stay queued, and the log says why once."""
        import ray

        t, n, opts = self._slots
        if time.monotonic() - t < 10:
            return n, opts
        nodes = [node.get("Resources") or {} for node in ray.nodes() if node.get("Alive")]
        gpus = any(r.get("GPU", 0) >= 1 for r in nodes)
        cpus = self.cpus_per_run or (1 if gpus else 2)
        opts = {"num_gpus": 1, "num_cpus": cpus} if gpus else {"num_cpus": cpus}
        n = sum(min(int(r.get("GPU", 0)), int(r.get("CPU", 0) // cpus)) if gpus else int(r.get("CPU", 0) // cpus)
                for r in nodes)
        if not n and self._slots[1]:
            most = max((r.get("CPU", 0) for r in nodes if not gpus or r.get("GPU", 0) >= 1), default=0)
            print(f"no run can start: each asks for {cpus:g} CPUs{' and a GPU' if gpus else ''}, and no node of "
                  f"the cluster has as many (the most a node has: {most:g}): lower SSRL_RAY_CPUS_PER_RUN (or "
                  "--cpus-per-run), or add a node that has them; runs stay queued meanwhile", flush=True)
        self._slots = (time.monotonic(), n, opts)
        return n, opts

    def _beat(self) -> None:
        """Every 0.5 s: pass on cancel requests; every 2 s: beat, and stop the task of a run
        that is no longer ours (another process requeued it), so that it never runs twice."""
        import ray

        last_beat = 0.0
        while not self._stop.wait(CANCEL_POLL_S):
            beat = time.monotonic() - last_beat >= HEARTBEAT_S
            for f in list(self._flights.values()):
                try:
                    if beat:
                        self.store.heartbeat(f.id, self.id)
                        row = self.store.get(f.id)
                        if row is None or row["status"] != "running" or row["worker"] != self.id:
                            if f.thread.is_alive() and not f.taken:
                                f.taken = True
                                if f.gen is not None:
                                    ray.cancel(f.gen, force=True)
                            continue
                    if self.store.cancel_requested(f.id):  # posted every tick: a restarted board forgets
                        self.board.cancel.remote(f.id)
                except Exception:  # noqa: BLE001 - a busy database is tried again next tick
                    pass
            if beat:
                last_beat = time.monotonic()

    def serve(self, once: bool = False, idle_exit_s: float | None = None) -> int:
        """Dispatch queued runs until stopped; ``once``: exit when nothing is queued or running."""
        if not self.acquire():
            try:
                holder = f" (process {int(dispatcher_lock().read_text())})"
            except (OSError, ValueError):
                holder = ""
            print(f"another Ray dispatcher{holder} is already running for this SSRL_HOME; exiting", flush=True)
            return 0
        try:
            # the runs of a dispatcher that died (its cluster lost: Ray ends the process) go back to the queue
            # before connecting, which may fail: they said "training" for ever behind a dispatcher that could not
            self.store.requeue_orphans(worker_state, STALE_S)
            self.connect()
        except BaseException:
            self._lock_file.close()
            raise
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())  # after ray.init, which sets its own
        n, opts = self.slots()
        where = self.address or "a local Ray instance (127.0.0.1)"
        print(f"dispatcher {self.id} serving {self.store.path} on {where}: {count(n, 'run')} at once, each {opts}",
              flush=True)
        threading.Thread(target=self._beat, daemon=True).start()
        # The loop runs beside the main thread, which only waits for it or for a signal: Python runs a signal's
        # handler in the main thread between two of its steps, and a Ray call there that did not return (ray.nodes()
        # with the cluster's head gone waits a minute for it, then Ray ends the process) left SIGTERM unheard, the
        # runs "training" until another dispatcher took them back as orphans.
        ended: list = []

        def loop():
            try:
                ended.append(self._dispatch(once, idle_exit_s))
            except BaseException as e:  # noqa: BLE001 - raised below, in the main thread
                ended.append(e)

        thread = threading.Thread(target=loop, name="dispatch", daemon=True)
        thread.start()
        try:
            while thread.is_alive() and not self._stop.is_set():
                thread.join(0.5)
        finally:  # also Ctrl-C, raised here
            self._stop.set()
            # the loop ends at its next wait (a poll away), unless a Ray call holds it; a run it claims meanwhile
            # goes back to the queue all the same
            thread.join(min(STOP_GRACE_S, self.poll_s + 2))
            self._wind_down()
        if ended and isinstance(ended[0], BaseException):
            raise ended[0]
        return ended[0] if ended else 0

    def _dispatch(self, once: bool, idle_exit_s: float | None) -> int:
        """Claim queued runs while there are slots for them, until stopped (or idle, or the home gone)."""
        idle_since = last_stale = time.monotonic()
        while not self._stop.is_set():
            # SSRL_HOME deleted or moved while idle: stop, as an idle worker does
            if not self._flights and home_gone(f"dispatcher {self.id}", self._lock_file, self.store):
                return 1
            for run_id, f in list(self._flights.items()):
                if not f.thread.is_alive():
                    del self._flights[run_id]
            n, _ = self.slots()
            try:
                if time.monotonic() - last_stale > 5:
                    self.store.requeue_orphans(worker_state, STALE_S)  # runs of a worker or dispatcher that died
                    last_stale = time.monotonic()
                while (len(self._flights) < n and not self._stop.is_set()
                       and (run := self.store.claim(self.id)) is not None):
                    with self._claimed:  # _wind_down looks at the flights under it, once stopped
                        if self._stop.is_set():  # stopped while claiming: the flights it put back lack this one
                            if self.store.requeue(run["id"], self.id, "the Ray dispatcher stopped"):
                                print(f"dispatcher {self.id}: run {run['id']} put back in the queue", flush=True)
                            break
                        f = _Flight(run)
                        f.thread = threading.Thread(target=self._drive, args=(f,), name=f"drive-{f.id}", daemon=True)
                        self._flights[f.id] = f
                        f.thread.start()
            except FileNotFoundError as e:  # the store removed, the lock file maybe not yet
                if self._flights or not home_gone(f"dispatcher {self.id}", self._lock_file, self.store, e):
                    raise
                return 1
            if self._flights:
                idle_since = time.monotonic()
            elif once or (idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s):
                return 0
            self._stop.wait(self.poll_s)
        return 0

    def _wind_down(self) -> None:
        """Put the runs in flight back in the queue and say so, then stop their tasks and leave
        the cluster, waiting for Ray at most ``STOP_GRACE_S``: a cluster whose head is gone does
        not answer, and the process ends without it rather than hang (Ray's exit hooks would)."""
        with self._claimed:  # (stopped already: a claim under way puts its run back itself)
            flights = list(self._flights.values())
        back = 0
        for f in flights:
            try:
                back += self.store.requeue(f.id, self.id, "the Ray dispatcher stopped")
            except Exception as e:  # noqa: BLE001 - its home deleted under it: Ray is left all the same (below)
                print(f"dispatcher {self.id}: run {f.id} could not be put back in the queue: {e}", flush=True)
        # the operator's log said nothing of its own when it stopped
        print(f"dispatcher {self.id} stopping" + (f": {count(back, 'run')} put back in the queue" if back else ""),
              flush=True)
        if self.board is None:
            return  # never connected (a test's dispatcher): the Ray in this process is not its to shut down

        def leave():
            import ray

            for f in flights:
                if f.gen is not None:
                    try:
                        ray.cancel(f.gen, force=True)
                    except Exception:  # noqa: BLE001
                        pass
            ray.shutdown()

        thread = threading.Thread(target=leave, name="leave-ray", daemon=True)
        thread.start()
        thread.join(STOP_GRACE_S)
        if thread.is_alive():
            print(f"dispatcher {self.id}: the Ray cluster did not answer within {STOP_GRACE_S:g} s; exiting without it",
                  flush=True)
            sys.stderr.flush()
            os._exit(0)

    def _drive(self, f: _Flight) -> None:
        """Run one claimed run as a task and fold its messages into the store and folder."""
        import ray
        from ray import exceptions as rex

        from . import artifacts as art

        run, run_id, run_dir = f.run, f.id, Path(f.run["run_dir"])
        print(f"run {run_id}: {run['method']} on {run['dataset']} (attempt {run['attempts']})", flush=True)
        status, error, summary = "failed", None, None
        try:
            _, opts = self.slots()
            f.gen = self._task.options(num_returns="streaming", **opts).remote(
                run_id, run["config"], pack(run_dir), self.board, opts["num_cpus"], art.submission(run))
            end = None
            for ref in f.gen:
                msg = ray.get(ref)
                if f.taken or self._stop.is_set():
                    return  # someone else's now, or serve() requeues it
                if msg["kind"] == FILES:
                    unpack(msg["archive"], run_dir)
                    over = over_budget(run_dir, self.limits)  # the host's disk: what SSRL_RUN_DISK_MB guards
                    if over:
                        raise DiskBudgetExceeded(over)  # below: the task is stopped, the run fails saying so
                elif msg["kind"] == END:
                    end = msg
                else:
                    self.store.record(run_id, msg, worker=self.id)  # ClaimLost once it is not ours
            if end is None:
                raise RuntimeError("the Ray task ended without a result")
            status, error, summary = end["status"], end.get("error"), end.get("summary")
            resolved = art.read_json(run_dir / art.CONFIG)
            if end.get("references") and resolved:
                merge_references(resolved, end["references"])
        except ClaimLost:  # requeued under us (the dispatcher looked dead): its new owner runs it
            f.taken = True
            ray.cancel(f.gen, force=True)
            return
        except rex.RayTaskError as e:  # the task's own code failed outside execute (e.g. an import)
            cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else e
            status, error = "failed", explain_failure(cause) + (
                " The cluster node could not run the task: install requirements.txt (the same versions as the app's "
                "host) on every Ray node." if isinstance(cause, ImportError) else "")
        except rex.OutOfMemoryError:
            status, error = "failed", explain_failure(MemoryError("Ray stopped the task: its node ran out of memory"))
        except rex.RuntimeEnvSetupError as e:
            status, error = "failed", (f"the cluster could not set up the app's code on a node: {str(e)[:300]}. "
                                       "Check that every Ray node runs the same Python and Ray versions as the host.")
        except rex.RayError as e:  # the node, its worker process or the connection was lost
            if f.taken or self._stop.is_set():
                return
            reason = f"{LOST} ({type(e).__name__})"
            lost = self.store.requeues(run_id, LOST) + 1  # not the claims: a cancel and resume, a dispatcher stopped
            if lost < MAX_ATTEMPTS and self.store.requeue(run_id, self.id, reason):
                print(f"run {run_id}: requeued, {reason}", flush=True)
                return
            status, error = "failed", (f"{reason}, {count(lost, 'time')} since it was last resumed: check the "
                                       "cluster's nodes (`ray status`), then resume it (`python -m ssrl_core resume "
                                       f"{run_id}`), which continues from its last finished epoch")
        except Exception as e:  # noqa: BLE001 - the host's side failed (disk full, a refused archive)
            if f.gen is not None:
                try:
                    ray.cancel(f.gen, force=True)
                except Exception:  # noqa: BLE001
                    pass
            status, error = "failed", explain_failure(e)
        finally:
            if self.board is not None:
                self.board.forget.remote(run_id)
        if f.taken or (self._stop.is_set() and status == "failed"):
            return  # someone else's now, or stopping mid-run (serve() requeues it)
        if self.store.finish(run_id, status, summary=summary, error=error, worker=self.id):
            print(f"run {run_id}: {status}", flush=True)
