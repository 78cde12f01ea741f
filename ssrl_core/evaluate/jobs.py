"""The background job that computes finished runs' missing probes: what the Evaluate and
Invariance buttons start, one process per click, which computes the clicked runs one after
another (``python -m ssrl_core.evaluate.jobs RUN_DIR... [--finetune] [--who NICKNAME]``).

One process, not one per run: on a CPU, two jobs only share its cores (each slower, and
every run's curve later than the first one's would be alone), and one click with every run
picked started as many processes as runs. Each run's progress is in ``RUN/probe_job.json``
(``progress``), which the page polls for its progress bar and time left, and a Stop on the
page ends the job (``stop``): what it cached so far stays, the rest is computed by the next
click.

Files:

    RUN/probe_job.lock        held by the job from its start until that run is done, so the run
                              reads as being computed (queued or running) the whole time
    RUN/probe_job.pending     touched by whoever starts the job, removed once it holds the lock
    RUN/probe_job.json        the job's progress on the run (``progress``)
    RUN/probe_job_failed.json why the last job failed on the run, or who stopped it (``failure``),
                              until the next job starts; a failure that another try would repeat
                              (damaged weights: ``lasting_failure``) is not offered a next job
    SSRL_HOME/probe_jobs/ID.lock, ID.pending   the same pair for the job itself: what the
                              server's cap on jobs at once (``SSRL_MAX_PROBE_JOBS``) counts
    SSRL_HOME/probe_jobs/ID.stopped.json   who stopped the job (``stop``), read by it as it ends
    SSRL_HOME/probe_pace.json the last job's pace per dataset and encoder (``per_run_seconds``):
                              the next job's first estimate, and the Evaluate button's
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Callable

from .. import paths
from ..locks import exclusive, guards, job_active, lock_held, try_lock
from ..runs import artifacts as art
from ..stops import Interrupted
from ..text import not_written, said

PROGRESS = "probe_job.json"
FAILED = "probe_job_failed.json"  # how the last job on the run ended short: said on the page until the next job
PACE = "probe_pace.json"  # in SSRL_HOME, not in probe_jobs/, whose every lock file is a job
# seconds per unit of ``finetune.draws_cost`` (a file's older "s_per_cost" counted no step overhead: not read)
RATE = "s_per_cost_unit"
_CORES: dict[str, int] = {}  # "cores": torch's own thread count in this process, before a job changed it
GRACE_S = 60.0  # how long a started job counts before it holds its lock (a new process imports torch first)


def _jobs_dir() -> Path:
    d = paths.ssrl_home() / "probe_jobs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def running() -> int:
    """How many probe jobs run on this server now (or were started less than a minute ago).
    Files of jobs that died without cleaning up (killed) are removed on the way."""
    n, d = 0, _jobs_dir()
    for stem in {p.stem for p in d.glob("*.lock")} | {p.stem for p in d.glob("*.pending")}:
        lock, pending = d / f"{stem}.lock", d / f"{stem}.pending"
        if job_active(lock, pending, GRACE_S):
            n += 1
        else:
            lock.unlink(missing_ok=True)
            pending.unlink(missing_ok=True)
    return n


def mark_pending(run_dirs: list[Path], finetune: bool = False, who: str | None = None) -> str:
    """Before starting a job for ``run_dirs``: its id, with it and its runs marked as started
    (``art.job_running`` is true for them from now on, and ``progress`` says "starting")."""
    job = uuid.uuid4().hex[:12]
    (_jobs_dir() / f"{job}.pending").touch()
    marked: list[Path] = []
    for d in run_dirs:
        try:
            (Path(d) / art.JOB_PENDING).touch()
            marked.append(Path(d))
            (Path(d) / FAILED).unlink(missing_ok=True)
            art.write_json(Path(d) / PROGRESS, {"job": job, "pid": None, "who": who, "finetune": finetune,
                                                "state": "starting", "after": []})
        except OSError as e:  # a run folder made read-only: the page showed a traceback, and the job's pending
            # file, left behind, counted as a running job against SSRL_MAX_PROBE_JOBS for a minute
            (_jobs_dir() / f"{job}.pending").unlink(missing_ok=True)
            for m in marked:
                (m / art.JOB_PENDING).unlink(missing_ok=True)
                if (art.read_json(m / PROGRESS) or {}).get("job") == job:  # no "starting" left for a job never started
                    (m / PROGRESS).unlink(missing_ok=True)
            raise ValueError(f"nothing was started: {not_written(e, Path(d))}") from None
    return job


def pace_key(run_dir: Path) -> str:
    """What a job's pace depends on: "DATASET/ENCODER", the encoder the run trained (its
    summary's, resolved from "auto")."""
    cfg = {**(art.read_json(Path(run_dir) / art.CONFIG) or {}), **{
        k: v for k, v in (art.read_json(Path(run_dir) / art.SUMMARY) or {}).items() if k == "encoder" and v}}
    return f"{cfg.get('dataset')}/{cfg.get('encoder')}"


def _paces() -> dict:
    return art.read_json(paths.ssrl_home() / PACE) or {}


def per_run_seconds(run_dir: Path) -> float | None:
    """How long the fine-tuning and supervised steps of a run like ``run_dir`` (same dataset and
    encoder) took the last job here, all budgets together (None before any job timed one)."""
    return (_paces().get(pace_key(run_dir)) or {}).get("run_s")


def _remember_pace(key: str, rate: float, run_cost: int) -> None:
    home = paths.home_path()
    if not home.is_dir():  # deleted or moved while the step computed: not made anew for this
        return
    with exclusive(home / f"{PACE}.lock"):
        paces = _paces()
        paces[key] = {RATE: rate, "run_s": rate * run_cost}
        art.write_json(home / PACE, paces)


def progress(run_dir: Path) -> dict | None:
    """The progress of the job computing ``run_dir``'s probes, while one does:
    {"state": "starting" | "queued" | "running", "after": ids of the job's runs still ahead of it,
    "step": what it computes now, "done": steps done, "total": steps in all, "started":
    when this run's first step began (epoch seconds), "at": when this was written, "eta_s":
    seconds left for this run as of "at" (None until a step that trains a network has been
    timed), "job", "pid" (None while starting), "who", "finetune": whether the job fine-tunes}.
    None when no job computes the run; {"state": "starting"} for one marked by an app from before
    progress files."""
    if not art.job_running(Path(run_dir)):
        return None
    return art.read_json(Path(run_dir) / PROGRESS) or {"state": "starting", "after": []}


def failure(run_dir: Path) -> dict | None:
    """How the last job on ``run_dir`` ended when it did not compute everything: {"error": why,
    "at": epoch seconds, and "lasting": the checkpoint's ``_stamp`` when its weights are damaged}
    or {"stopped_by": nickname or None, "at": epoch seconds}; None when it did, or none ran. A job
    whose process was killed (SIGKILL, the machine restarted) wrote no such note but left its
    progress file, and holds no lock: said as such (the page offered the button again as if no
    job had run)."""
    if got := art.read_json(Path(run_dir) / FAILED):
        return got
    left = art.read_json(Path(run_dir) / PROGRESS)
    if left and not art.job_running(Path(run_dir)):
        return {"error": "its last background job ended before finishing (its process stopped: killed, or the "
                         "machine restarted); what it computed is kept, and the button computes the rest",
                "at": left.get("at")}
    return None


def _stamp(run_dir: Path) -> list[int] | None:
    """The run's checkpoint's size and modification time (None: there is none)."""
    try:
        st = (Path(run_dir) / art.CHECKPOINT).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def lasting_failure(run_dir: Path) -> str | None:
    """Why the last job on ``run_dir`` could not compute it, when trying again would fail the
    same way: its trained weights are damaged (``train.DamagedWeights``) and the checkpoint is
    the same file since. None otherwise (no failure, a stop, or one worth another try)."""
    how = failure(run_dir)
    if not how or "lasting" not in how or how["lasting"] != _stamp(run_dir):
        return None
    return how["error"]


def stop(run_dir: Path, by: str | None = None) -> bool:
    """End the job computing ``run_dir`` (and the runs queued in it) at once; what it cached
    stays, and each of its runs says it was stopped, by ``by`` (``failure``). False when none
    runs (it has just ended, or has not begun)."""
    p = progress(run_dir)
    if not p or not p.get("pid") or not lock_held(_jobs_dir() / f"{p['job']}.lock"):
        return False  # the pid is only signalled while its job is alive (never a reused pid)
    art.write_json(_jobs_dir() / f"{p['job']}.stopped.json", {"by": by, "at": time.time()})
    try:
        os.kill(int(p["pid"]), signal.SIGTERM)
    except (ProcessLookupError, PermissionError, ValueError):
        return False
    return True


class RunGone(Exception):
    """The run's folder is gone between two of its steps (SSRL_HOME deleted or moved): nothing
    is left to write its results, its progress or its failure to."""


class Stopped(Interrupted):
    """The job was asked to stop (SIGTERM, from ``stop``)."""


def _steps(run_dir: Path, finetune: bool) -> list[tuple[str, Callable[[], object], int]]:
    """(what, compute, cost) for each step of one run's job. ``cost``: the work of a step that
    trains a network per training step, summed over its draws of labelled images, in images
    (``finetune.draws_cost``; 0 for the rest), what the time left is estimated in: with one label
    per class a batch is 10 digits, with ten it is 64, and every label is one draw, not three."""
    from ..text import count
    from .finetune import STEPS, draws_cost
    from .probes import SEEDS
    from .suite import RunProbes, supervised_scratch

    from .probes import budget_key
    from .suite import references_of

    rp = RunProbes(run_dir)
    steps = [("kNN, linear readouts and invariance of the frozen features", rp.standard, 0)]
    if finetune and rp.dataset.has_labels:
        y = rp.train_labels()
        n_classes = len(set(y.tolist()))
        # computed already (a stopped job's, or a reference another run of this seed shares): read back, no cost
        have, shared = rp.cache.read(), references_of(rp.trained).read()
        for b in rp.budgets():
            n = count(b, "label") + " per class" if b else "every label"
            cost = draws_cost(b, n_classes, len(y), SEEDS)
            steps += [(f"fine-tuning with {n}", lambda b=b: rp.finetune(b),
                       0 if budget_key("finetune", "label", b, SEEDS, STEPS) in have else cost),
                      (f"supervised from scratch with {n}", lambda b=b: supervised_scratch(rp.trained, b),
                       0 if budget_key("supervised-scratch", "label", b, SEEDS, STEPS) in shared else cost)]
    return steps


def run(run_dirs: list[Path], finetune: bool = False, job: str | None = None, who: str | None = None) -> int:
    """Compute the runs' standard probes and, with ``finetune``, their fine-tuning curves and
    supervised references, one run after another, each run's progress in its ``PROGRESS``
    file. Every run's lock is taken at the start (a run another job holds is left to it), so
    the queued ones read as being computed. Returns 0, or 1 when every run was another's."""
    job = job or uuid.uuid4().hex[:12]
    with contextlib.ExitStack() as stack:
        job_fh = stack.enter_context(open(_jobs_dir() / f"{job}.lock", "a"))
        try_lock(job_fh)
        stack.callback((_jobs_dir() / f"{job}.lock").unlink, missing_ok=True)
        (_jobs_dir() / f"{job}.pending").unlink(missing_ok=True)
        held = []
        for d in map(Path, run_dirs):
            if not d.is_dir():  # deleted since the click: nothing to compute
                continue
            fh = stack.enter_context(open(d / art.JOB_LOCK, "a"))
            got = try_lock(fh)
            (d / art.JOB_PENDING).unlink(missing_ok=True)
            if got:
                held.append((d, fh))
                stack.callback((d / PROGRESS).unlink, missing_ok=True)
        if not held:
            return 1
        base = {"job": job, "pid": os.getpid(), "who": who, "finetune": finetune}
        ids = [d.name for d, _ in held]
        paces: dict[str, list[float]] = {}  # seconds and cost of the steps that trained a network, per kind of run
        for i, (d, fh) in enumerate(held):
            for j in range(i + 1, len(held)):  # the runs still queued behind this one
                try:
                    art.write_json(held[j][0] / PROGRESS, {**base, "state": "queued", "after": ids[i:j]})
                except FileNotFoundError:  # its folder gone meanwhile: said when its turn comes (``RunGone``)
                    pass
            try:
                _compute(d, finetune, base, paces, fh)
            except Stopped:  # each of the job's runs not done says so, with who stopped it, until the next job
                how = art.read_json(_jobs_dir() / f"{job}.stopped.json") or {}
                (_jobs_dir() / f"{job}.stopped.json").unlink(missing_ok=True)
                for left, _ in held[i:]:
                    art.write_json(left / FAILED, {"stopped_by": how.get("by"), "at": how.get("at", time.time())})
                raise
            except Interrupted:
                raise
            except Exception as e:  # this run's: said on its page; the runs after it are still computed
                if isinstance(e, RunGone) or not guards(fh, d / art.JOB_LOCK):  # (the folder went during a step)
                    # a job went on for minutes on a deleted home, then made it anew for its pace and progress
                    print(f"{d}: the run's folder is gone (deleted, or moved with SSRL_HOME?); its probes are not "
                          "computed", flush=True)
                    continue
                traceback.print_exc()  # into SSRL_HOME/probes.log
                from ..train import DamagedWeights

                lasting = {"lasting": _stamp(d)} if isinstance(e, DamagedWeights) else {}
                art.write_json(d / FAILED, {"error": said(e), "at": time.time(), **lasting})
            (d / PROGRESS).unlink(missing_ok=True)
            fh.close()  # this run is done: its lock goes now, not when the last run is
    return 0


def share_cores(cores: int) -> int:
    """The CPU threads a job's torch should use now, of ``cores``: ``SSRL_TORCH_THREADS`` when
    set, else the cores shared out between the processes computing here, the runs training on
    this machine's workers and the probe jobs (this one counted). On 2 cores a 5-label fine-tuning
    step took 25 s alone; beside a training run, 107 to 162 s with 2 threads and 32 to 37 s with
    1, and the training 256 s and 96 s where it took 35 s alone (docs/performance.md): two
    processes of 2 threads each on 2 cores wait on each other far more than they compute."""
    from ..runs.ray_backend import backend
    from ..runs.store import RunStore
    from ..runs.worker import torch_threads

    explicit = os.environ.get("SSRL_TORCH_THREADS", "").strip()
    if explicit:
        return torch_threads(1) or cores
    training = RunStore().count(("running",)) if backend() == "local" else 0  # a Ray run trains elsewhere
    return max(1, cores // max(1, training + running()))


def _compute(run_dir: Path, finetune: bool, base: dict, paces: dict[str, list[float]], lock=None) -> None:
    """One run's steps, its progress written before each; RunGone before a step when the run's
    job lock file, held open as ``lock``, is no longer in its folder. ``paces``: [seconds, cost] of the
    job's steps that trained a network so far, per ``pace_key`` (a ResNet's pace says nothing
    of a small CNN's), what the time left is estimated from; before the job has timed one, the
    last job's pace on such runs."""
    import torch

    started = time.time()
    cores = _CORES.setdefault("cores", torch.get_num_threads())  # torch's own choice, before this job changed it
    steps = _steps(run_dir, finetune)
    key, run_cost = pace_key(run_dir), sum(c for _, _, c in steps)  # what is left of the run, cached steps at 0
    pace = paces.setdefault(key, [0.0, 0])
    before = (_paces().get(key) or {}).get(RATE)
    for k, (what, compute, cost) in enumerate(steps):
        if lock is not None and not guards(lock, run_dir / art.JOB_LOCK):
            raise RunGone(run_dir)
        if cost:  # a step that trains a network: on the cores it has now (a run may have started training since)
            torch.set_num_threads(share_cores(cores))
        left = sum(c for _, _, c in steps[k:])
        rate = pace[0] / pace[1] if pace[1] else before
        eta = 0.0 if not left else (rate * left if rate is not None else None)
        art.write_json(run_dir / PROGRESS, {**base, "state": "running", "after": [], "step": what, "done": k,
                                            "total": len(steps), "started": started, "at": time.time(), "eta_s": eta,
                                            "share": 1 - left / run_cost if run_cost else k / len(steps)})
        t0 = time.time()
        compute()
        if cost and time.time() - t0 > 1.0:  # a step read back from the cache says nothing of the pace
            pace[0] += time.time() - t0
            pace[1] += cost
            _remember_pace(key, pace[0] / pace[1], run_cost)


def _stop_on_sigterm() -> None:
    def handler(signum, frame):
        raise Stopped("stopped from the page")

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m ssrl_core.evaluate.jobs",
                                description="Compute finished runs' missing probes, one run after another (what the "
                                            "app's probe buttons start in the background).")
    p.add_argument("run_dirs", nargs="+", type=Path, help="run folders")
    p.add_argument("--finetune", action="store_true", help="also fine-tuning and the supervised reference")
    p.add_argument("--job", help="the job id the app marked as started (mark_pending)")
    p.add_argument("--who", help="the nickname of whoever started it")
    a = p.parse_args(argv)
    _stop_on_sigterm()
    try:
        return run(a.run_dirs, a.finetune, a.job, a.who)
    except Stopped:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
