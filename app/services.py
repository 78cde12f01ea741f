"""The app's side of the run store and the library, cached per Streamlit server.

Pages call these instead of touching SQLite, files or torch directly. Cached resources
are keyed by ``SSRL_HOME`` so tests that switch homes never see another home's state.
"""
from __future__ import annotations

import json
import os
import time
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import streamlit as st

from ssrl_core import device, paths
from ssrl_core.data import (DATASETS, ImageSet, available_datasets, check_files, files_stamp, load_dataset,
                            unknown_dataset)
from ssrl_core.data.custom import custom_root, import_images
from ssrl_core.runs import artifacts as art
from ssrl_core.runs.artifacts import PROBES, RunArtifacts
from ssrl_core.runs.store import ACTIVE, STATUSES, RunStore, folder_gone, lessons_own
from ssrl_core.text import about, agree, code, count, md, not_written, said, visible
from ssrl_core.runs import estimate, ray_backend
from ssrl_core.runs import worker as local_worker

from . import readouts

device.serve_pages_on_cpu()  # this process serves pages: it stays off the GPU the workers train on



def home() -> str:
    return str(paths.ssrl_home())


def home_problem() -> str | None:
    """Why SSRL_HOME cannot hold the app's state (``paths.home_problem``), or None."""
    return paths.home_problem()


@st.cache_resource(show_spinner=False)
def _store(home_dir: str) -> RunStore:
    return RunStore(Path(home_dir) / paths.STORE)


_REMADE: set[str] = set()  # the stores this server made anew after theirs went (``store``)


def store() -> RunStore:
    made = _store(home())
    if not made.path.exists():  # SSRL_HOME deleted or moved while the app ran: a new store, as a restart makes
        _store.clear()
        made = _store(home())
        _REMADE.add(str(made.path))
    return made


def store_remade_text() -> str | None:
    """While the store this server made anew (its own was deleted or moved with SSRL_HOME while
    the app ran) holds no run yet, what that means and what to do: the class's runs had gone
    from every page with no word (an admin moved the home with the app running)."""
    path = Path(home()) / paths.STORE
    if path.exists() and str(path) not in _REMADE:  # (not opened: a damaged store is said by the pages that open it)
        return None
    made = store()  # made anew here if it is gone
    if str(made.path) not in _REMADE:
        return None
    if made.count(STATUSES):
        _REMADE.discard(str(made.path))
        return None
    return (f"The run store at {code(made.path)} was gone (moved aside, or SSRL_HOME deleted or moved while the app "
            "ran), so this is a new, empty one: the runs made before are not listed. If the folder was moved, restart "
            "the app with SSRL_HOME set to where it is now; if the store was moved aside (a damaged one), "
            f"{code('python -m ssrl_core restore-runs --yes')} lists the run folders here in it again.")


LAUNCHED = "launched_run"  # session state: the id of the run this session launched last (Pretrain says it is queued)
LAUNCHED_ON_START = "launched_on_start"  # ... and whether Start's quick start launched it: Pretrain says so at its top


# a browser on a phone or a tablet says so in its User-Agent (iPadOS Safari passes for a Mac, and is missed)
TOUCH_AGENTS = ("Mobi", "Android", "iPhone", "iPad", "Tablet")


def touch_screen() -> bool:
    """Whether this session's browser is a phone's or a tablet's (its User-Agent): a swipe
    there that began on a chart moved the chart, not the page, and a tap on a map chose the
    point tapped before it (Plotly on touch screens)."""
    try:
        agent = st.context.headers.get("User-Agent") or ""
    except Exception:  # noqa: BLE001 - no browser behind the session (AppTest, bare mode)
        return False
    return any(word in agent for word in TOUCH_AGENTS)


def browser_time(ts: float) -> datetime:
    """``ts`` (seconds since the epoch) as a date and time in the timezone of this session's
    browser (``st.context.timezone``), or the server's where the browser says none (AppTest,
    bare mode) or one this machine does not know. The runs table wrote the server's clock
    (a container's is UTC: a class an hour east read each run's time an hour off), and only
    its hour, minute and second: yesterday's runs and today's sorted by time of day."""
    try:
        tz = ZoneInfo(st.context.timezone or "")
    except Exception:  # noqa: BLE001 - no browser behind the session, no zone said, or a name not known here
        return datetime.fromtimestamp(ts)  # (naive: a fixed offset each would differ across a change of summer time)
    return datetime.fromtimestamp(ts, tz)



def spoken_time(ts: float, now: float | None = None) -> str:
    """When ``ts`` was, as a sentence says it in the browser's time zone: "at 04:30" today,
    "yesterday at 04:30", "on 7 Dec at 04:30" this year, "on 7 Dec 2025 at 04:30" before. A
    stopped job's note gave the hour alone, and a job stopped days ago read as this morning's."""
    at, today = browser_time(ts), browser_time(time.time() if now is None else now).date()
    clock = at.strftime("%H:%M")
    if at.date() == today:
        return f"at {clock}"
    if at.date() == today - timedelta(days=1):
        return f"yesterday at {clock}"
    return f"on {at.day} {at:%b}{'' if at.year == today.year else f' {at.year}'} at {clock}"


def worker_alive() -> bool:
    """Whether something runs queued runs for this SSRL_HOME: the local worker, or the Ray
    dispatcher when ``SSRL_BACKEND=ray`` (a flock check, microseconds)."""
    if ray_backend.backend() == "ray":
        return ray_backend.dispatcher_alive()
    return local_worker.worker_alive()


# the code this server runs: its modules (app/, ssrl_core/) are imported once, the pages read afresh on every run, so
# after a checkout of another version under a running server a page failed on a name its old modules lack
# ("ImportError: cannot import name ... from ssrl_core...") with nothing saying why
_CODE_ROOTS = (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "ssrl_core")
SERVED_CODE = local_worker.code_stamp(*_CODE_ROOTS)
_CODE_LOOKED: list[float] = [0.0, 0.0]  # when the files were last looked at, and whether they differed then
CODE_LOOK_S = 10.0


def code_changed() -> bool:
    """Whether the app's or the library's files changed after this server imported them
    (``worker.code_stamp``; looked at once in ``CODE_LOOK_S``, a millisecond)."""
    import time

    if time.monotonic() - _CODE_LOOKED[0] >= CODE_LOOK_S:
        _CODE_LOOKED[:] = [time.monotonic(), float(local_worker.code_stamp(*_CODE_ROOTS) != SERVED_CODE)]
    return bool(_CODE_LOOKED[1])


def older_workers_text() -> str | None:
    """What to do about workers of an older version still running on this home
    (``worker.older_workers``: after an upgrade they train with the old code), or None."""
    try:
        if ray_backend.backend() == "ray":
            return None
    except ValueError:  # a bad SSRL_BACKEND: ``ensure_worker`` said so
        return None
    older = local_worker.older_workers()
    return local_worker.older_workers_text(older) if older else None  # (its own Markdown: code in backticks)


def replacing_text() -> str:
    """What the live panel says while ``replacing_worker``: the logs of the empty slots, by path."""
    held = {w["slot"] for w in local_worker.live_workers()}
    empty = [s for s in range(local_worker.worker_count()) if s not in held]
    said = " or ".join(f"`{Path(home()) / f'worker-{s}.log'}`" for s in empty) + " says why"
    if not any(local_worker.code_file(s).exists() for s in empty):  # no worker ever held these slots: a first start
        return f"The worker is starting: the queue's runs begin in a few seconds (if they do not, {said})."
    return (f"The worker stopped; a new one is starting (within a minute of the last start; if none does, {said}). "
            "A run it was training goes back to the queue and continues from its last finished epoch.")


def replacing_worker() -> bool:
    """``ensure_worker`` for a page that found no worker alive, and whether a local worker is
    being started for an empty slot: not under Ray (the dispatcher's start, whose last error
    ``no_worker_text`` says), nor beside an older version's worker (none is started then), nor
    with autostart off."""
    starting = ensure_worker()
    try:
        return starting and ray_backend.backend() != "ray" and not local_worker.legacy_worker()
    except ValueError:  # a bad SSRL_BACKEND: ``ensure_worker`` said so
        return False


def no_worker_text() -> str:
    """What a page says while queued runs have no worker: under Ray, the reason the last
    dispatcher gave for stopping, from its log (a cluster it could not reach was in the log
    only, and the page said "No worker")."""
    if ray_backend.backend() != "ray":
        return ("No worker is running, so queued runs wait. The app starts one when it can; "
                "or start it yourself: `python -m ssrl_core worker`.")
    why = ray_backend.last_error()
    return ("No Ray dispatcher is running, so queued runs wait. "
            + (f"The last one stopped: {md(why)}. " if why else "")
            + "The app starts one when it can; or start it yourself: `python -m ssrl_core worker --backend ray` "
            "(its log: `SSRL_HOME/dispatcher.log`).")


def start_estimates(runs: list[dict]) -> dict[str, float]:
    """Seconds until each queued run starts (``ssrl_core.runs.estimate``), with the local
    workers alive now; none under Ray (its cluster decides) or with no worker."""
    try:
        if ray_backend.backend() == "ray":
            return {}
        workers = len(local_worker.live_workers())
    except ValueError:
        return {}
    return estimate.start_estimates(runs, workers, local_worker.device_type())


def evaluation_time(run: dict) -> tuple[float | None, float | None]:
    """For a running run past its training: (seconds left, from the finished runs like it
    (``estimate.History.evaluation_left``), or None; seconds since its current phase began,
    or None before any phase)."""
    import time

    claims = store().events(run["id"], kind="claimed")  # this attempt's (a run resumed or requeued had others)
    phases = store().events(run["id"], kind="phase", after=claims[-1]["id"] if claims else 0)  # the first: training ended
    if not phases:
        return None, None
    now = time.time()
    left = estimate.History(store().list(status="done"), local_worker.device_type()).evaluation_left(run, now - phases[0]["t"])
    return left, now - phases[-1]["t"]


def loss_steps(run_id: str) -> list[dict]:
    """A run's ``step`` events as it trained, one per step: a run that resumed from its
    checkpoint (cancelled and resumed, or its worker lost) redid the steps after it, so the
    latest attempt's replace the earlier one's, and steps the earlier attempt got to but the
    latest has not yet are left out."""
    steps = store().events(run_id, kind="step")
    if not steps:
        return []
    by_step = {e["step"]: e for e in steps}  # in event order: a later attempt's step wins
    return [by_step[k] for k in sorted(by_step) if k <= steps[-1]["step"]]


def busy(over: float = 1.5) -> str:
    """How busy this machine is, in words ("load 5.2 on 2 cores"), when its 1-minute load is over
    ``over`` runs per core, else "": a time measured on an idle machine does not hold then. (The
    load is the machine's, so it is read against all its cores, not the ones a container or
    ``taskset`` leaves this process.)"""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except OSError:  # no load average here
        return ""
    return f"load {load:.1f} on {count(cores, 'core')}" if load > over * cores else ""


# what a finished run shares with a run it times (``estimate.History``), in the words of "No time estimate yet"
LIKE_RUN = ("the same dataset, method, encoder and evaluation, the same method options that change an epoch's work, "
            "and on a GPU batch size")


def run_seconds(configs: list[dict]) -> float | None:
    """Seconds the runs of ``configs`` take one after another, each from the newest finished runs
    like it here (``estimate.History.duration``: their median training per epoch, then their
    evaluation); None when one of them has no such run (nothing is guessed)."""
    history = estimate.History(store().list(status="done"), local_worker.device_type())
    each = [history.duration(c) for c in configs]
    return None if not each or None in each else float(sum(each))


def wait_text(seconds: float | None) -> str:
    """'starts within a minute' / 'starts in about 7 min'; empty when unknown."""
    if seconds is None:
        return ""
    return "starts within a minute" if seconds < 60 else f"starts in {about(seconds)}"


def ensure_worker() -> bool:
    """Start a background worker for every empty worker slot of this SSRL_HOME (flock
    checks, microseconds; ``SSRL_WORKERS`` slots, default one per GPU or one on a CPU), or
    with ``SSRL_BACKEND=ray`` the one dispatcher that sends runs to the Ray cluster. They
    outlive the app. ``SSRL_NO_AUTOSTART=1`` turns this off (tests drive workers
    themselves). Returns whether one is alive or was started."""
    try:
        if ray_backend.backend() == "ray":
            if ray_backend.dispatcher_alive():
                return True
            if os.environ.get("SSRL_NO_AUTOSTART") == "1":
                return False
            ray_backend.start_dispatcher_process()
            return True
        if len(local_worker.live_workers()) >= local_worker.worker_count():
            return True
        if os.environ.get("SSRL_NO_AUTOSTART") == "1":
            return local_worker.worker_alive()
        local_worker.start_workers()
    except ValueError as e:  # a bad SSRL_WORKERS or SSRL_BACKEND: say so instead of failing the page
        st.error(f"No worker started: {e}")
        return local_worker.worker_alive()
    return True


def current_nickname() -> str:
    """This browser session's nickname (the sidebar box), or its guest name when the box is
    empty: every session counts against the per-nickname limit. No login."""
    import secrets

    guest = st.session_state.setdefault("_guest_nickname", f"guest-{secrets.token_hex(2)}")
    typed = visible(st.session_state.get("nickname") or "").strip()  # (one copied from a page holds a word joiner)
    # the lessons' own ("lesson:collapse"): typed, it gave a student the lesson's runs to cancel and resume as theirs
    return typed if typed and not lessons_own(typed) else guest


def active_twin(cfg) -> str | None:
    """``RunStore.active_twin`` for this browser session's nickname."""
    return store().active_twin(cfg, current_nickname())


def twin_run(cfg) -> dict | None:
    """The run, anyone's, whose resolved config is ``cfg``'s (the same seed: the same result):
    the newest done one, else one training, else one queued; None when there is none."""
    from ssrl_core.lessons import best_runs

    row = best_runs({"run": cfg}, store(), local_worker.device_type())["run"]
    return row if row and row["status"] in ("done", "running", "queued") else None


def submit(cfg) -> tuple[str | None, str | None]:
    """Queue ``cfg`` under this browser session's nickname and make sure a worker runs it:
    (run id, None), or (None, the message of the classroom limit that refused it)."""
    try:
        rid = store().submit(cfg, nickname=current_nickname())
    except ValueError as e:  # LimitReached, or a limit variable set to something that is not a number
        return None, f"Not launched: {e}."
    ensure_worker()
    return rid, None


def resume(run_id: str) -> str | None:
    """Put a cancelled or failed run back in the queue (``RunStore.resume``) and make sure a
    worker runs it: None, or why not (the run is no longer cancelled, a classroom limit...)."""
    try:
        store().resume(run_id)
    except (KeyError, ValueError) as e:
        return f"Not resumed: {said(e)}."
    ensure_worker()
    return None


def delete_run(run_id: str) -> tuple[str | None, str | None]:
    """Delete an ended run, its folder and its export (``ssrl_core.runs.remove``):
    (what was done, None) or (None, why not)."""
    from ssrl_core.runs.remove import delete_run as delete

    try:
        done = delete(store(), run_id)
    except (KeyError, ValueError, OSError) as e:
        return None, f"Not deleted: {said(e)}."
    return (f"Deleted run {run_id} ({done['freed_mb']:g} MB freed)"
            + (f"; its folder stays: {done['kept']}" if done["kept"] else "") + "."), None


def probe_job_running(run_dir: str) -> bool:
    from ssrl_core.runs.artifacts import job_running

    return job_running(Path(run_dir))


def probe_job_progress(run_dir: str) -> dict | None:
    """The progress of the job computing the run's probes (``jobs.progress``), or None."""
    from ssrl_core.evaluate import jobs

    return jobs.progress(Path(run_dir))


def probe_job_failure(run_dir: str) -> dict | None:
    from ssrl_core.evaluate import jobs

    return jobs.failure(Path(run_dir))


def probe_job_lasting_failure(run_dir: str) -> str | None:
    from ssrl_core.evaluate import jobs

    return jobs.lasting_failure(Path(run_dir))


def probe_job_run_seconds(run_dir: str) -> float | None:
    """How long fine-tuning a run like this one took the last probe job here (``jobs.per_run_seconds``)."""
    from ssrl_core.evaluate import jobs

    return jobs.per_run_seconds(Path(run_dir))


def stop_probe_job(run_dir: str) -> bool:
    from ssrl_core.evaluate import jobs

    return jobs.stop(Path(run_dir), by=current_nickname())


def start_probe_jobs(run_dirs: list[str], finetune: bool = False) -> str | None:
    """Compute the runs' missing probes in one detached process, one run after another (the
    page polls their progress). Runs whose probes a job computes already are left to it.
    Returns None (started, or nothing to start), or why none was started: the server runs
    ``SSRL_MAX_PROBE_JOBS`` jobs already."""
    from ssrl_core.evaluate import jobs
    from ssrl_core.locks import exclusive
    from ssrl_core.runs.store import Limits
    from ssrl_core.runs.worker import spawn_detached

    try:
        limit = Limits.from_env().probe_jobs
    except ValueError as e:  # a limit variable that is not a number
        return str(e)
    with exclusive(paths.ssrl_home() / "probe_jobs.lock"):  # two clicks at once cannot both take the last place
        todo = [d for d in run_dirs if not probe_job_running(d)]
        if not todo:
            return None
        if limit and jobs.running() >= limit:
            return (f"{count(limit, 'probe job')} already {agree(limit, 'runs', 'run')} on this server, the most it "
                    "runs at once (SSRL_MAX_PROBE_JOBS)")
        who = current_nickname()
        try:
            job = jobs.mark_pending([Path(d) for d in todo], finetune=finetune, who=who)
        except ValueError as e:  # a run folder that cannot be written: said, nothing started
            return str(e)
    spawn_detached(["-m", "ssrl_core.evaluate.jobs", *todo, "--job", job, *(["--finetune"] if finetune else []),
                    *([f"--who={who}"] if who else [])], "probes.log")
    return None


@st.cache_resource(show_spinner=False)
def unread_config(root: str) -> str | None:
    """Why the project's ``.streamlit/config.toml`` was not read, printed once to the server's
    log, or None when it was. Streamlit reads the one under the folder it is started from: a
    server started elsewhere (a service without a working directory) sent usage statistics to
    Streamlit's servers, collected garbage after every rerun and watched every module's file.
    Told by ``runner.postScriptGC``, which only that file turns off."""
    import sys

    if st.get_option("runner.postScriptGC") is False:
        return None
    said = (f"SSRL Playground: Streamlit did not read {Path(root) / '.streamlit' / 'config.toml'}, since it reads the "
            f"one under the folder it is started from ({Path.cwd()}): usage statistics are sent to Streamlit, and "
            "every rerun collects garbage (half a core while a page watches a run). Start it from the project's "
            f"folder: cd {root} && python -m streamlit run app/main.py")
    print(said, file=sys.stderr, flush=True)
    return said


def datasets() -> dict[str, str]:
    """Every dataset a run can use, built-in and imported: name -> description."""
    return available_datasets()


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=4)
def _dataset(name: str, home_dir: str, stamp: int) -> ImageSet:
    return load_dataset(name)


def dataset_stamp(name: str) -> int:
    """Changes when the imported set ``name`` is replaced, or when the files of the
    torchvision set ``name`` are fixed, broken or moved on disk (a few ``stat`` calls); 0
    for digits and shapes: for caches of a set and of what is drawn from its images."""
    if name in DATASETS:
        stamp = files_stamp(name)
        return zlib.crc32(repr(stamp).encode()) if stamp else 0
    meta = custom_root() / name / "meta.json"
    return meta.stat().st_mtime_ns if meta.exists() else 0


@st.cache_data(show_spinner=False, max_entries=16)
def _default_query(name: str, home_dir: str, stamp: int) -> int:
    return readouts.clear_example(_dataset(name, home_dir, stamp))


def default_query(name: str) -> int:
    """The image a query opens on for dataset ``name`` (``readouts.clear_example``), cached per set."""
    return _default_query(name, home(), dataset_stamp(name))


@st.cache_data(show_spinner=False, max_entries=16)
def _op_strip(name: str, home_dir: str, stamp: int) -> tuple[int, list]:
    import torch

    from ssrl_core.augment import OPS
    from ssrl_core.evaluate.invariance import op_at_full_probability, to_uint8

    from .images import to_hwc

    ds = _dataset(name, home_dir, stamp)
    row = readouts.showcase_image(ds)
    x = ds.images[row : row + 1].float() / 255
    gen = torch.Generator().manual_seed(0)
    pics = [ds.images[row]] + [to_uint8(op_at_full_probability(op)(x, gen))[0] for op in OPS]
    return row, [to_hwc(p, 3) for p in pics]


def op_strip(name: str) -> tuple[int, list]:
    """Invariance's picture of each op: (the image's row, [it, then it after each of ``OPS`` at
    its default strength, applied with probability 1]), cached per set: the same for every
    session, and redrawn on each rerun it was most of the page's rerun time (0.13 to 0.175 s
    against 0.056 s cached, the profiler's review)."""
    return _op_strip(name, home(), dataset_stamp(name))


def run_dataset(run: dict) -> tuple[ImageSet | None, str | None]:
    """``dataset`` of a run's set; where the set is not here (deleted, imported elsewhere), the
    message names the archive the run's images came from and says the run's files are intact,
    not the names of every set there is and a command to type."""
    gone = artifacts(run["run_dir"]).dataset_gone(run["dataset"], how="on the Data page, and this run's map, "
                                                  "neighbours and probes come back")
    return (None, gone) if gone else dataset(run["dataset"])


def dataset(name: str, download: bool = False) -> tuple[ImageSet | None, str | None]:
    """(dataset, None) or (None, a message saying what is missing and what to do). A
    torchvision set not on disk is downloaded only with ``download`` (Launch, the Data page's
    button): a page load looks at the disk alone (choosing STL-10 on Data started a 2.6 GB
    download on the class's server, the student's page waiting for it)."""
    if name not in datasets():
        return None, unknown_dataset(name)
    if not download and (missing := check_files(name)) is not None:
        return None, str(missing)
    try:
        return _dataset(name, home(), dataset_stamp(name)), None
    except Exception as e:  # DatasetMissing and damaged files carry their own advice
        return None, str(e)


@st.cache_resource(show_spinner=False, max_entries=16)
def _artifacts(run_dir: str, stamp: tuple) -> RunArtifacts:
    return RunArtifacts(run_dir)


def download(name: str) -> str | None:
    """Download the files of the torchvision set ``name`` into the data folder, parsing nothing
    (the page's rerun loads it once; a load here cached it under the stamp of before, and the
    rerun parsed it again); None when done, else the message saying why not."""
    from ssrl_core.data.torchvision_sets import fetch_files

    try:
        fetch_files(name, paths.data_dir())
    except Exception as e:  # DatasetMissing with its advice
        return str(e)
    return None


def downloadable(name: str) -> str | None:
    """For a torchvision set whose files are not on disk and whose download has not just
    failed: how much a download fetches ("about 170 MB"), for the Data page's button; else None."""
    missing = check_files(name)
    if missing is None or missing.reason is not None:
        return None
    from ssrl_core.data.torchvision_sets import download_size

    return download_size(name)


def artifacts(run_dir: str) -> RunArtifacts:
    """A cached reader for a run folder; a new one when the map files change (the UMAP
    arrives after the PCA)."""
    p = Path(run_dir)
    stamp = tuple((p / f).exists() for f in (art.MAP_UMAP, art.EMBEDDINGS, art.SUMMARY))
    return _artifacts(run_dir, stamp)


def epochs_text(run: dict, short: bool = True) -> str:
    """A run's training length in words: "3 ep" ("3 epochs"), or "untrained" for a method
    that does not train (the random encoder), whatever epochs its config asked for."""
    from ssrl_core.pretext import METHODS

    method = METHODS.get(run["config"]["method"])
    if method is not None and not method.trainable:
        return "untrained"
    n = run["config"]["epochs"]
    return f"{n} ep" if short else f"{n} epoch" + ("" if n == 1 else "s")


def encoder_here(run: dict) -> str:
    """The encoder a run trained, or for one not finished with encoder "auto", "auto
    (cnn-small)": what this machine's workers will choose for it (``RunConfig.resolved``;
    the runs table said "auto" for every queued run)."""
    enc = readouts.encoder_of(run) or "auto"
    if enc != "auto":
        return enc
    planned = estimate.resolved(run["config"], local_worker.device_type())  # (each config resolved once)
    return enc if planned is None else f"auto ({planned.encoder})"  # (None: a method this code no longer has)


def run_label(run: dict, tag: str = "", who: bool = False) -> str:
    """How a run is named: method, dataset, encoder, epochs, score, id. ``tag``, what tells it
    apart from runs of its method (``readouts.run_names``' " · aug: crop,flip"), comes right
    after the method, where a phone's box, which cuts the label's end, still shows it. ``who``
    (the pickers' labels, plain text) adds who made it, so that typing "by Ada" in a picker
    finds her runs (a TA's six SimCLR runs of six students read alike but for their ids); the
    Markdown that names a run says whose in its own words, escaped."""
    cfg = run["config"]
    knn = (run.get("summary") or {}).get("knn_accuracy")
    score = f" · kNN {knn:.3f}" if knn is not None else ""
    enc = readouts.encoder_of(run) or "auto"  # a finished run's resolved one: "auto" was cnn-small on a CPU
    enc = "" if enc == "auto" else f" · {enc}"
    by = f" · by {run['nickname']}" if who and run.get("nickname") else ""
    return f"{cfg['method']}{tag} · {cfg['dataset']}{enc} · {epochs_text(run)}{score}{by} · {run['id']}"


MAPPED_PHASES = ("umap", "probes", "map evolution")  # a run's phases once its accuracies and PCA map are written


def mapped(run: dict) -> bool:
    """Whether a running run has its accuracies and a map written (PCA during its UMAP, then
    the UMAP while its probes and map-evolution frames are computed)."""
    return run["status"] == "running" and (run["phase"] or "").startswith(MAPPED_PHASES)


def finished_runs(dataset_name: str | None = None, with_mapping: bool = False) -> list[dict]:
    """Done runs, newest first; ``with_mapping`` adds running runs whose accuracies and map
    are written (``mapped``): from the UMAP's computation to the end of the probes."""
    # every done run: the newest 500 rows of any status were read, so on a class's server a run finished before a few
    # hundred cancelled ones was on no results page at all (a review's 550-row store showed 25 of 70)
    runs = store().list(status=("done", "running") if with_mapping else "done", limit=-1)
    # (not a done run whose folder is gone: Pretrain's list and `runs` say so, with what to do)
    runs = [r for r in runs if (r["status"] == "done" or mapped(r)) and not folder_gone(r)]
    if dataset_name:
        runs = [r for r in runs if r["dataset"] == dataset_name]
    return runs


def not_offered(run_id: str) -> str:
    """Why a link's run id is not among a page's runs: it does not exist, has not finished
    yet, or ended without a result."""
    run = store().get(run_id)
    if run is None:
        return "no run has that id: never made on this server, or deleted since"
    if run["status"] in ACTIVE:
        return f"that run is still {run['status']}: it can be shown once it is done"
    if run["status"] != "done":
        return f"that run {run['status']}, so it has no result to show" if run["status"] == "failed" else \
            f"that run was {run['status']}, so it has no result to show"
    if gone := folder_gone(run):
        return f"that run has no result to show here: {gone} (Pretrain's list)"
    return "that run is not one of those offered here (another dataset, or not trained)"


def import_archive(upload, name: str, size: int, replace: bool = False) -> dict:
    """Import an uploaded zip (a file-like object) as a dataset; returns the report dict.
    Raises ValueError (ArchiveRejected and NameTaken included) with the reason; ``replace``
    replaces an imported dataset of that name, unless a run on it is training
    (``runs.remove.check_replaceable``)."""
    from ssrl_core.runs.remove import check_replaceable

    def replaceable():  # before the decoding, and again under the import's lock before replacing
        check_replaceable(name, store())

    if replace:
        replaceable()
    return import_images(upload, name=name, size=size, replace=replace, before_replacing=replaceable,
                         imported_by=current_nickname()).to_dict()


def preflight(cfg) -> str | None:
    """None when the run can start, else the reason (e.g. colorization on grayscale data)."""
    from ssrl_core.train import preflight as check

    try:
        check(cfg)
    except ValueError as e:
        return str(e)
    return None


def data_check(cfg, ds: ImageSet) -> tuple[str | None, list[str]]:
    """(the reason a run's options cannot train on ``ds``'s training split at its batch, or
    None; the warnings of options that train there but degenerately), from the library's
    rules (``train.data_warnings``: a MoCo queue longer than the set, too many clusters...), and
    an encoder slow on the workers' device (``train.device_cautions``: resnet18 on a CPU)."""
    from ssrl_core.train import data_warnings, device_cautions

    try:
        cautions = data_warnings(cfg, ds)
    except ValueError as e:
        return str(e), []
    try:
        here = ray_backend.backend() != "ray"  # (a Ray cluster's nodes may have the GPU this host lacks)
    except ValueError:  # a bad SSRL_BACKEND: ``ensure_worker`` said so
        here = False
    return None, cautions + (device_cautions(cfg, local_worker.device_type()) if here else [])


@st.cache_data(show_spinner=False, max_entries=512)
def refusal(dataset: str, method: str, encoder: str, options_json: str, shape: tuple) -> str | None:
    """``preflight`` of one combination (the method built once on the dataset and encoder),
    cached per server. ``shape`` (the dataset's channels, classes and training images, what
    a method is built from and checked against) makes a re-imported set checked anew."""
    from ssrl_core.config import RunConfig

    return preflight(RunConfig(dataset=dataset, method=method, encoder=encoder, options=json.loads(options_json)))


def label_budgets(name: str) -> tuple[int, ...]:
    """The label budgets (labels per class; 0 = all) a label-efficiency curve on ``name`` has:
    all of them on a built-in set (each has hundreds of images per class), so only an import
    is loaded to find out."""
    from ssrl_core.evaluate.probes import BUDGETS, budgets_for

    if name in DATASETS:
        return BUDGETS
    ds, _ = dataset(name)
    return BUDGETS if ds is None else budgets_for(ds.labels.numpy()[ds.train_idx.numpy()])


def dataset_mismatch(run: dict) -> str | None:
    """Why a finished run's embeddings no longer belong to its dataset's images (re-imported
    since: ``RunArtifacts.dataset_mismatch``), or None (also when the set cannot be loaded:
    the page says that itself). A built-in set is not loaded to find out: only an import
    replaces a set under its name."""
    if run["dataset"] in DATASETS:
        return None
    ds, _ = dataset(run["dataset"])
    return artifacts(run["run_dir"]).dataset_mismatch(ds) if ds is not None else None


def scored_images(run: dict) -> int | None:
    """How many test images a finished run's accuracies were scored on: its summary's
    ``test_images``, or for a run made before that was written, its dataset's labelled test
    images (loaded, as the pages load it; None where it is gone or was re-imported since)."""
    n = (run.get("summary") or {}).get("test_images")
    if n:
        return int(n)
    ds, _ = dataset(run["dataset"])
    return None if ds is None or dataset_mismatch(run) else ds.scored_test_images


def train_images(name: str) -> int | None:
    """How many labelled train images the set ``name`` has, the ones its kNN accuracy lets vote
    (the note under a kNN-over-epochs chart: up to ``MEMORY`` of them vote there); None where the
    set cannot be loaded. The set is loaded as the pages load it (cached)."""
    ds, _ = dataset(name)
    return None if ds is None else ds.labelled_train_images


def dataset_caveats(name: str) -> list[str]:
    """Why accuracies of runs on ``name`` say little (``ImageSet.evaluation_caveats``), or [].
    Only an imported set can be that small, so no built-in set is loaded to find out."""
    if not (custom_root() / name / "meta.json").exists():
        return []
    ds, _ = dataset(name)
    return ds.evaluation_caveats() if ds is not None else []


def refused_methods(dataset: str, methods: list[str], shape: tuple, encoder: str = "auto") -> dict[str, str]:
    """The methods the pre-launch check refuses on ``dataset`` with ``encoder`` (and default
    options), each with the gist of why, for a dropdown: "needs a colour dataset such as
    shapes or cifar10"."""
    out = {}
    for m in methods:
        why = refusal(dataset, m, encoder, "{}", shape)
        if why:
            gist = why.split(": ")[0]
            out[m] = gist[len(m) + 1:] if gist.startswith(f"{m} ") else gist
    return out


@st.cache_resource(show_spinner="Loading the run's encoder…", max_entries=2)
def _trained(run_dir: str, stamp: int):
    from ssrl_core.train import load_trained

    return load_trained(Path(run_dir), device="cpu")  # one image's features: not worth a CUDA context here


def query_neighbours(run_dir: str, data: bytes, channels: int, size: int, k: int = 8) -> dict:
    """Nearest dataset images of an uploaded image file in a run's feature space.
    Raises ValueError (with advice) for files that are not readable images."""
    from ssrl_core.evaluate.encode import placed, typical_of
    from ssrl_core.evaluate.retrieval import query_features, query_tensor
    from ssrl_core.evaluate.suite import PROBES, Cache

    ckpt = Path(run_dir) / art.CHECKPOINT
    t = _trained(run_dir, ckpt.stat().st_mtime_ns if ckpt.exists() else 0)
    image = query_tensor(data, channels, size, t.dataset.background)  # (transparency: the set's own)
    feats = query_features(t.method.encoder, t.device, image)
    memory = artifacts(run_dir).embeddings
    found = placed(memory, t.dataset, typical_of(Cache(Path(run_dir) / PROBES), memory), ["upload"], feats[None])
    return {"image": image[0], "neighbours": artifacts(run_dir).search(feats, k),
            "unlike": bool(found.unlike_the_dataset[0]),  # as `embed` says it
            "predicted": None if found.predicted is None else (found.predicted[0], float(found.predicted_share[0]))}


@st.cache_data(show_spinner="Drawing the pictures…", max_entries=8)
def learn_pictures(dataset_name: str, run_dir: str | None, home_dir: str) -> dict:
    """The Learn page's pictures (``app.images.learn_pictures``), made once per dataset and
    run: clustered on ``run_dir``'s embeddings when given, else on pixels."""
    from .images import learn_pictures as make
    from ssrl_core.config import DEFAULT_AUGMENT

    ds, error = dataset(dataset_name)
    if error:
        raise ValueError(error)
    a = artifacts(run_dir) if run_dir else None
    feats = a.embeddings if a and not a.dataset_mismatch(ds) and a.has_embeddings() else None  # else pixels
    return make(ds, feats, augment=DEFAULT_AUGMENT.get(dataset_name, "simclr"))


@st.cache_data(show_spinner=False, max_entries=256)
def _thumbnail(run_dir: str, dataset_name: str, stamp: tuple) -> bytes | str:
    from ssrl_core.figures import map_png

    coords, _ = artifacts(run_dir).map()
    if coords is None:
        return "no map"
    if dataset_name not in datasets():  # deleted here, or imported elsewhere: a short line on each card, not the advice
        return f"no map: {dataset_name} is not on this server (deleted, or imported elsewhere): the Data page imports it"
    ds, error = dataset(dataset_name)
    if error:
        return f"no map: {error}"
    if stale := artifacts(run_dir).dataset_mismatch(ds):  # a map of other images, which are gone
        return f"no map: {stale}"
    return map_png(coords, ds.labels.numpy(), size=240)


def map_thumbnail(run: dict) -> bytes | str:
    """A small PNG of a run's map coloured by label, or why there is none (the run has no
    map, its set was re-imported since it trained). Redrawn when the UMAP replaces the PCA
    and when the set is replaced."""
    p = Path(run["run_dir"])
    return _thumbnail(run["run_dir"], run["dataset"], (*((p / f).exists() for f in (art.MAP_UMAP, art.MAP_PCA)),
                                                       dataset_stamp(run["dataset"])))


EXPORT_MIME = {".md": "text/markdown", ".json": "application/json", ".npz": "application/octet-stream",
               ".csv": "text/csv", ".safetensors": "application/octet-stream", ".html": "text/html",
               ".png": "image/png", ".sh": "text/x-shellscript", ".zip": "application/zip", ".jsonl": "application/jsonl"}


def size_text(n: int) -> str:
    """A size in bytes in words: "820 kB", "149 MB"."""
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


class ExportFile:
    """One file of a run's export, read from its zip when asked (a download button's data): the
    app keeps the zip alone, where it kept the folder beside it too (each export 1.6 times the
    folder's size on the server, until the run was deleted)."""

    def __init__(self, zipped: Path, member: str, size: int):
        self.zipped, self.member, self.size = zipped, member, size
        self.name = member.rsplit("/", 1)[-1]
        self.suffix = Path(self.name).suffix

    def read_bytes(self) -> bytes:
        import zipfile

        with zipfile.ZipFile(self.zipped) as z:
            return z.read(self.member)

    def read_text(self) -> str:
        return self.read_bytes().decode("utf-8")  # (as the export writes its text files)


def export_run(run: dict) -> dict:
    """The export of a finished run (``ssrl_core.runs.export``) as SSRL_HOME/exports/ID.zip, its
    files in a folder named after the run, written once (again when the run's summary or probes
    are newer). Returns {file name: ``ExportFile``}, and the zip's path under "all". Written
    beside and moved into place whole (``os.replace``), under a lock: an export cut short (a full
    disk) is never served as complete, a session reading the zip meanwhile reads the old one or
    the new one, and two sessions exporting one run write it once. ValueError says why it was
    not written."""
    import shutil
    import tempfile
    import zipfile

    from ssrl_core.locks import exclusive
    from ssrl_core.runs.export import export_run as export

    exports = Path(home()) / "exports"
    zipped, summary = exports / f"{run['id']}.zip", Path(run["run_dir"]) / art.SUMMARY

    def current() -> bool:  # (written again once the summary or the probes, which it carries, are newer)
        return zipped.exists() and not any(
            f.exists() and f.stat().st_mtime > zipped.stat().st_mtime for f in (summary, summary.with_name(PROBES)))

    def deleted() -> None:  # from another tab or the command line, before or while this waited for the lock
        if store().get(run["id"]) is None:
            raise ValueError(f"run {run['id']} was deleted meanwhile (from another tab or the command line): there is "
                             "nothing left to export")

    deleted()
    exports.mkdir(parents=True, exist_ok=True)
    if not current():
        with exclusive(exports / f".{run['id']}.lock"):  # (a deletion takes it too, and waits for this export)
            deleted()
            if not current():  # (another session may have written it while this one waited)
                ds, error = dataset(run["dataset"])
                if error:
                    raise ValueError(error)
                for left in exports.glob(f".{run['id']}-*"):  # a writer killed mid-export (none runs: the lock)
                    shutil.rmtree(left, ignore_errors=True)
                tmp = Path(tempfile.mkdtemp(prefix=f".{run['id']}-", dir=exports))
                try:
                    export(run["run_dir"], tmp / run["id"], run=run, dataset=ds, home_refused=False)
                    # its files in a folder named after the run: unzipped beside another run's zip in one Downloads
                    # folder, their files mixed (run_card.md of one, probes.json of the other)
                    shutil.make_archive(str(tmp / run["id"]), "zip", root_dir=tmp, base_dir=run["id"])
                    os.replace(tmp / zipped.name, zipped)
                except OSError as e:
                    raise ValueError(f"nothing of it is kept: {not_written(e, exports)}, then try again") from None
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    if (exports / run["id"]).is_dir():  # the folder an older version kept beside its zip (the zip is what is served)
        shutil.rmtree(exports / run["id"], ignore_errors=True)
    with zipfile.ZipFile(zipped) as z:
        files: dict = {i.filename.rsplit("/", 1)[-1]: ExportFile(zipped, i.filename, i.file_size)
                       for i in sorted(z.infolist(), key=lambda i: i.filename) if not i.is_dir()}
    files["all"] = zipped
    return files
