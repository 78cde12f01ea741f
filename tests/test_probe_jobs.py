"""The background probe job (``ssrl_core.evaluate.jobs``): one process computes the clicked
runs one after another, says each run's step and time left, can be stopped from the page,
and says why a run could not be computed; the Evaluate page shows all of it."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.text import quiet_icon
from ssrl_core.evaluate import jobs
from ssrl_core.locks import try_lock
from ssrl_core.runs import artifacts as art
from ssrl_core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def _dirs(finished_run, *names: str) -> list[Path]:
    store = RunStore()
    return [Path(store.get(finished_run(n))["run_dir"]) for n in names]


class Clock:
    """``time.time`` for the job: each step advances it by what the step says it took."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_job_computes_its_runs_in_turn_saying_each_ones_place_step_and_time_left(finished_run, monkeypatch):
    first, second = _dirs(finished_run, "simclr", "rotation")
    clock = Clock()
    seen = []

    def step(d: Path, what: str, seconds: float):
        def compute():
            seen.append((d.name, what, jobs.progress(d), jobs.progress(second if d == first else first)))
            clock.now += seconds
        return compute

    # a frozen-feature step, then two that train a network: costs 30 and 150 (one and five labels per class)
    monkeypatch.setattr(jobs, "_steps", lambda d, finetune: [
        ("probes", step(d, "probes", 5.0), 0), ("ft1", step(d, "ft1", 12.0), 30), ("ft5", step(d, "ft5", 60.0), 150)])
    job = jobs.mark_pending([first, second])
    assert art.job_running(first) and art.job_running(second) and jobs.running() == 1
    monkeypatch.setattr(jobs.time, "time", clock)  # also the locks' clock: a pending marker reads as fresh
    assert jobs.run([first, second], finetune=True, job=job, who="ada") == 0

    (_, _, p, other), *_ = seen
    assert p["state"] == "running" and p["step"] == "probes" and (p["done"], p["total"]) == (0, 3)
    assert p["who"] == "ada" and p["eta_s"] is None  # nothing timed yet: no estimate rather than a wrong one
    assert other["state"] == "queued" and other["after"] == [first.name]  # the second waits for the first
    by_step = {(d, w): p for d, w, p, _ in seen}
    assert by_step[first.name, "ft5"]["eta_s"] == pytest.approx(12.0 / 30 * 150)  # the pace of ft1, by cost
    assert by_step[first.name, "ft5"]["started"] == 1000.0
    assert by_step[first.name, "ft5"]["share"] == pytest.approx(30 / 180)  # the bar: of the run's work, by cost
    # the second run starts with the first's pace: its whole estimate is known from its first step
    assert by_step[second.name, "probes"]["eta_s"] == pytest.approx(72.0 / 180 * 180)
    assert by_step[second.name, "ft1"]["done"] == 1
    assert [p for _, _, _, p in seen[3:]] == [None] * 3  # the first run is done: no progress, no lock
    # done: no job is said to run, no file of it is left
    assert not art.job_running(first) and not art.job_running(second) and jobs.running() == 0
    assert not list(jobs._jobs_dir().iterdir())
    assert not (first / jobs.PROGRESS).exists() and not (second / jobs.PROGRESS).exists()

    # the pace is remembered for runs of that dataset and encoder: the next job's first estimate
    assert jobs.pace_key(first) == jobs.pace_key(second) == "digits/cnn-small"  # "auto" as it resolved
    assert jobs.per_run_seconds(first) == pytest.approx(144.0 / 360 * 180)
    seen.clear()
    monkeypatch.setattr(jobs, "_steps", lambda d, finetune: [("probes", step(d, "probes", 5.0), 0),
                                                             ("ft1", step(d, "ft1", 12.0), 30)])
    jobs.run([first])
    assert seen[0][2]["eta_s"] == pytest.approx(144.0 / 360 * 30)  # before this job has timed a step


def test_a_run_that_fails_is_said_and_the_runs_after_it_are_still_computed(finished_run, monkeypatch):
    first, second = _dirs(finished_run, "simclr", "rotation")
    done = []

    def steps(d, finetune):
        def compute():
            if d == first:
                raise ValueError("no probes computed: digits was re-imported since this run trained")
            done.append(d)
        return [("probes", compute, 0)]

    monkeypatch.setattr(jobs, "_steps", steps)
    assert jobs.run([first, first.parent / "deleted-since", second], job=jobs.mark_pending([first, second])) == 0
    assert done == [second]
    assert jobs.failure(first) == {"error": "no probes computed: digits was re-imported since this run trained",
                                   "at": jobs.failure(first)["at"]}
    assert jobs.failure(second) is None
    jobs.mark_pending([first])  # the next job starts afresh: the old failure is not said beside it
    assert jobs.failure(first) is None


def test_a_run_with_damaged_weights_is_not_offered_a_job_that_would_fail_again(finished_run):
    """A damaged checkpoint failed every job the same way, and the page offered the button
    again after each. Now it says why, once, and offers no job until the file changes."""
    rid = finished_run("simclr", references=False)  # lacks its random encoder's readouts: the button is offered
    d = Path(RunStore().get(rid)["run_dir"])
    good = (d / art.CHECKPOINT).read_bytes()
    (d / art.CHECKPOINT).write_bytes(good[: len(good) // 2])  # cut short, as by a full disk
    assert jobs.run([d], job=jobs.mark_pending([d])) == 0
    assert "the run's trained weights are damaged" in jobs.lasting_failure(d)
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.query_params["runs"] = rid
    at.switch_page("../pages/evaluate.py")
    at.run()
    said = [w.value for w in at.warning]
    assert sum("its probes could not be computed" in w and "Train it again" in w for w in said) == 1, said
    assert not any("lacks probes" in w for w in said), said
    assert not [b for b in at.button if b.key in ("eval_probe_missing", "eval_finetune")]
    (d / art.CHECKPOINT).write_bytes(good)  # put back from a copy: worth another try
    assert jobs.lasting_failure(d) is None
    at.run()
    assert [b for b in at.button if b.key == "eval_probe_missing"]


def test_runs_another_job_computes_are_left_to_it(finished_run, monkeypatch):
    first, second = _dirs(finished_run, "simclr", "rotation")
    computed = []
    monkeypatch.setattr(jobs, "_steps", lambda d, finetune: [("probes", lambda: computed.append(d), 0)])
    with open(first / art.JOB_LOCK, "a") as fh:  # another job holds the first run
        assert try_lock(fh)
        assert jobs.run([first, second]) == 0
        assert computed == [second]
        assert jobs.run([first]) == 1  # nothing left for this job
    assert computed == [second]


def test_a_run_folder_that_cannot_be_written_starts_no_job_and_leaves_no_mark(finished_run, monkeypatch):
    """A run folder made read-only (chattr +i): Evaluate's button showed a PermissionError's
    traceback and left the job's pending file, counted as a running job against the cap."""
    import errno

    from app import services

    first, second = _dirs(finished_run, "simclr", "rotation")
    write = art.write_json

    def read_only(path, data):
        if Path(path).parent == second:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
        return write(path, data)

    monkeypatch.setattr(art, "write_json", read_only)
    monkeypatch.setattr(services, "current_nickname", lambda: "ada")  # (no session here)
    said = services.start_probe_jobs([str(first), str(second)])
    assert said == (f"nothing was started: {second} could not be written (Operation not permitted): check that the "
                    "folder can be written")
    assert jobs.running() == 0 and not list(jobs._jobs_dir().iterdir())
    assert not (first / art.JOB_PENDING).exists() and not (second / art.JOB_PENDING).exists()
    assert not (first / jobs.PROGRESS).exists()  # no "starting" for a job that never started


def test_a_click_leaves_the_runs_a_job_computes_already_to_it(tmp_path, monkeypatch):
    """Two classmates click Compute on the same runs: the second click starts a job only for the runs no job
    computes yet. A second job on a run it computes would take a place under SSRL_MAX_PROBE_JOBS and write
    "starting" over the first job's progress."""
    from app import services
    from ssrl_core.runs import worker

    spawned = []
    monkeypatch.setattr(worker, "spawn_detached", lambda args, log, env=None: spawned.append(args))
    monkeypatch.setattr(services, "current_nickname", lambda: "bo")  # (no session here)
    taken, free = tmp_path / "taken", tmp_path / "free"
    taken.mkdir(), free.mkdir()
    jobs.mark_pending([taken], who="ada")  # ada's job, started a moment ago
    assert services.start_probe_jobs([str(taken)]) is None  # nothing left to start
    assert spawned == [] and jobs.running() == 1
    assert services.start_probe_jobs([str(taken), str(free)]) is None
    [args] = spawned
    assert str(free) in args and str(taken) not in args and jobs.running() == 2
    assert jobs.progress(taken)["who"] == "ada" and jobs.progress(free)["who"] == "bo"


def test_dead_jobs_do_not_count_against_the_cap(ssrl_home):
    d = jobs._jobs_dir()
    (d / "killed.lock").touch()  # a job killed with SIGKILL leaves its lock file, not its lock
    fresh = d / "starting.pending"
    fresh.touch()
    assert jobs.running() == 1
    assert not (d / "killed.lock").exists()  # cleaned up on the way
    old = time.time() - 2 * jobs.GRACE_S
    __import__("os").utime(fresh, (old, old))  # started long ago and never took its lock: it died
    assert jobs.running() == 0 and not fresh.exists()


def test_stop_ends_a_real_fine_tuning_job_and_keeps_what_it_cached(finished_run):
    [run_dir] = _dirs(finished_run, "simclr")
    (run_dir / art.PROBES).unlink()  # so the job has the frozen-feature probes to compute first
    job = jobs.mark_pending([run_dir], finetune=True, who="ada")
    proc = subprocess.Popen([sys.executable, "-m", "ssrl_core.evaluate.jobs", str(run_dir), "--job", job,
                             "--finetune", "--who=ada"], cwd=ROOT)
    try:
        t0 = time.time()
        assert jobs.progress(run_dir)["state"] == "starting" and not jobs.stop(run_dir)  # no process to stop yet
        while not ((p := jobs.progress(run_dir)) and p.get("step", "").startswith("fine-tuning")):
            assert proc.poll() is None and time.time() - t0 < 180, (proc.returncode, p)
            time.sleep(0.2)
        assert p["pid"] == proc.pid and p["who"] == "ada" and p["done"] == 1 and p["total"] == 11
        assert p["step"] == "fine-tuning with 1 label per class"
        assert jobs.stop(run_dir, by="bob")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert not art.job_running(run_dir) and jobs.running() == 0 and jobs.progress(run_dir) is None
    how = jobs.failure(run_dir)  # stopped, not failed: and by whom, for the page of the one who started it
    assert how["stopped_by"] == "bob" and "error" not in how and time.time() - how["at"] < 60
    probes = art.read_json(run_dir / art.PROBES)
    assert "knn_k" in probes and not any(k.startswith("finetune/") for k in probes)  # the first step's results stay
    assert not jobs.stop(run_dir)  # nothing left to stop


def test_evaluate_shows_each_runs_step_time_left_and_queue_place_and_stops_after_confirming(finished_run, monkeypatch):
    store = RunStore()
    a, b = finished_run("simclr"), finished_run("rotation")
    da, db = Path(store.get(a)["run_dir"]), Path(store.get(b)["run_dir"])
    now = time.time()
    art.write_json(da / jobs.PROGRESS, {"job": "j1", "pid": 1, "who": "ada", "state": "running", "after": [],
                                         "step": "fine-tuning with 5 labels per class", "done": 3, "total": 11,
                                         "started": now - 130, "at": now, "eta_s": 400.0})
    art.write_json(db / jobs.PROGRESS, {"job": "j1", "pid": 1, "who": "ada", "state": "queued", "after": [a]})
    stopped = []
    monkeypatch.setattr(jobs, "stop", lambda d, by=None: stopped.append((Path(d), by)) or True)
    with open(da / art.JOB_LOCK, "a") as fa, open(db / art.JOB_LOCK, "a") as fb:
        assert try_lock(fa) and try_lock(fb)
        at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
        at.query_params["runs"] = f"{a},{b}"
        at.switch_page("../pages/evaluate.py")
        at.run()
        assert not at.exception
        [bar] = at.get("progress")
        assert bar.proto.text.startswith(f"simclr ({a[-4:]}): fine-tuning with 5 labels per class · step 4 of 11 · 2:1")
        assert bar.proto.text.endswith(" so far · about 7 min left") and bar.proto.value == 27  # 3 of 11 steps
        assert f"rotation ({b[-4:]}): queued in the same job, after simclr ({a[-4:]})." in [c.value for c in at.caption]
        assert "Computing probes for 2 runs in the background, one run after another" in " ".join(
            m.value for m in at.markdown)
        # ada started it, not this guest: Stop is behind a confirmation that says whose it is
        assert "**ada** started this, not you" in " ".join(m.value for m in at.markdown)
        at.button(key="eval_probe_missing_jobs_stop").click().run()
        assert sorted(stopped) == sorted([(da, at.session_state["_guest_nickname"]), (db, at.session_state[
            "_guest_nickname"])])

        # a fine-tuning job shows under the label-efficiency chart, where its button is, not at the top
        for d in (da, db):
            p = art.read_json(d / jobs.PROGRESS)
            art.write_json(d / jobs.PROGRESS, {**p, "finetune": True, "who": None, "at": time.time()})
        jobs._remember_pace(jobs.pace_key(db), rate=0.5, run_cost=640)  # a rotation run took 320 s the last job
        at.run()
        assert not at.exception
        keys = [b.key for b in at.button]
        assert "eval_ft_jobs_stop" in keys and "eval_probe_missing_jobs_stop" not in keys, keys
        heads = [m.value for m in at.markdown]
        assert any(h.startswith(f"{quiet_icon('hourglass_top')} Fine-tuning and training the supervised reference for 2 runs "
                                "in the background, one run after another, about 12 min left in all") for h in heads)
        assert (f"rotation ({b[-4:]}): queued in the same job, after simclr ({a[-4:]}); about 5 min once it starts, "
                "at the last such job's pace.") in [c.value for c in at.caption]
        assert "eval_finetune" not in keys  # no second start while it runs


def test_evaluate_says_what_fine_tuning_will_take_from_the_last_jobs_pace(finished_run):
    rid = finished_run("simclr")
    run_dir = Path(RunStore().get(rid)["run_dir"])
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.switch_page("../pages/evaluate.py")
    at.run()
    said = " ".join(c.value for c in at.caption)
    # no job has run here: a guess from the run's training speed (it said "many minutes per run")
    from app import readouts
    from app.text import about

    guess = readouts.finetune_guess([RunStore().get(rid)], (1, 5, 10, 50, 0), 10)
    assert (f"1,200 steps per budget and run: {about(guess)} for the 1 run here, guessed from their training speed "
            "(no such job has run here yet to time one).") in said
    jobs._remember_pace(jobs.pace_key(run_dir), rate=0.5, run_cost=1080)  # 9 minutes a run, as a job measured
    at.run()
    said = " ".join(c.value for c in at.caption)
    assert ("1,200 steps per budget and run: about 9 min for the 1 run here at the pace of the last such job on this "
            "machine, which moves with what else it is doing (less where some budgets are computed already).") in said


def test_a_job_takes_its_share_of_the_cores_beside_training_runs(finished_run, monkeypatch):
    """Beside a run in training, a fine-tuning step with every core took 89 to 147 s on 2 cores
    and 43 to 46 s with one (bench/probe_threads): the job shares the cores out between the
    runs training here and the probe jobs, at each step that trains a network."""
    import torch

    from ssrl_core.config import RunConfig

    [run_dir] = _dirs(finished_run, "simclr")
    monkeypatch.delenv("SSRL_TORCH_THREADS", raising=False)
    assert jobs.share_cores(4) == 4  # nothing else computes here: every core
    store = RunStore()
    store.submit(RunConfig(dataset="digits", method="simclr", epochs=5))
    store.claim("w")
    job = jobs.mark_pending([run_dir])  # this job counts itself from its start
    assert jobs.share_cores(4) == 2 and jobs.share_cores(1) == 1
    monkeypatch.setenv("SSRL_TORCH_THREADS", "3")  # the operator's word over the share
    assert jobs.share_cores(4) == 3
    monkeypatch.delenv("SSRL_TORCH_THREADS")

    seen = []
    monkeypatch.setattr(jobs, "_steps", lambda d, finetune: [
        ("probes", lambda: seen.append(torch.get_num_threads()), 0),
        ("ft1", lambda: seen.append(torch.get_num_threads()), 30)])
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # not the share below, on any machine (on 2 cores torch's own choice is the share)
    monkeypatch.setitem(jobs._CORES, "cores", 4)
    try:
        jobs.run([run_dir], job=job)
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 2]  # the frozen-feature step is left as it was; the training step gets its share



def test_a_stopped_job_says_who_stopped_it_on_every_page_that_shows_its_runs(finished_run):
    """ada's job stopped by bob: her page showed the panel vanish and the button come back,
    without a word. Each run the job had not finished now says so, once a page."""
    store = RunStore()
    a, b = finished_run("simclr"), finished_run("rotation")
    for rid in (a, b):  # 2025-12-07 09:30 UTC
        art.write_json(Path(store.get(rid)["run_dir"]) / jobs.FAILED, {"stopped_by": "bob", "at": 1_765_099_800.0})
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.query_params["runs"] = f"{a},{b}"
    at.context = {"timezone": "America/New_York"}  # the time as the student's clock says it, not the server's
    at.switch_page("../pages/evaluate.py")
    at.run()
    said = [i.value for i in at.info]
    assert sum("was stopped by **bob** on 7 Dec 2025 at 04:30." in i for i in said) == 1, said  # once, though two
    # panels show jobs; with its day (it said "at 04:30" alone, as if this morning)
    [note] = [i for i in said if "was stopped" in i]
    assert note.startswith(f"The background job for simclr ({a[-4:]}) and rotation ({b[-4:]}) was stopped by ")
    assert note.endswith("What it computed stays; the button computes the rest.")
    jobs.mark_pending([Path(store.get(a)["run_dir"])])  # the next job: the note goes
    at.run()
    assert [i for i in at.info if "was stopped" in i.value][0].value.startswith(
        f"The background job for rotation ({b[-4:]}) was stopped")


def test_steps_read_back_from_the_cache_cost_nothing_in_the_time_left(finished_run):
    """The supervised reference that runs of one seed share was counted in each run's time left,
    though the second run reads it back at once: the estimate was off by up to 10 times."""
    from ssrl_core.evaluate.finetune import STEP_OVERHEAD
    from ssrl_core.evaluate.suite import Cache, reference_cache
    from ssrl_core.runs.artifacts import RunArtifacts

    [run_dir] = _dirs(finished_run, "simclr")
    point = {"mean": 0.5, "std": 0.0, "labels_per_class": 1, "n_labels": 10}
    reference_cache(RunArtifacts(run_dir).run_config()).get("supervised-scratch/label/1/s3/t200", lambda: point)
    Cache(run_dir / art.PROBES).get("finetune/label/5/s3/t200", lambda: point)
    costs = {what: cost for what, _, cost in jobs._steps(run_dir, finetune=True)}
    # each training step's images and its work beside them (a homework's 1-label steps, counted in images alone, paced
    # the rest at twice their time)
    assert costs["fine-tuning with 1 label per class"] == 3 * (10 + STEP_OVERHEAD)  # 3 draws of a batch of 10 digits
    assert costs["supervised from scratch with 1 label per class"] == 0  # shared, computed by another run
    assert costs["fine-tuning with 5 labels per class"] == 0  # computed before the job was stopped
    assert costs["supervised from scratch with 5 labels per class"] == 3 * (50 + STEP_OVERHEAD)
    assert costs["fine-tuning with every label"] == 64 + STEP_OVERHEAD  # one draw of a full batch


def test_a_job_killed_mid_way_is_said_on_the_page_not_forgotten(finished_run):
    """A fine-tuning job killed with SIGKILL left its progress file saying "running" and no lock:
    the page offered its button again as if no job had run, without a word."""
    [d] = _dirs(finished_run, "simclr")
    jobs.mark_pending([d], finetune=True, who="ada")
    (d / art.JOB_PENDING).unlink()  # its process took its lock, then was killed: no pending mark, no lock held
    (jobs._jobs_dir() / next(p.name for p in jobs._jobs_dir().iterdir())).unlink()
    said = jobs.failure(d)
    assert said["error"].startswith("its last background job ended before finishing (its process stopped")
    rid = RunStore().list()[0]["id"]
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app" / "main.py"), default_timeout=120)
    at.query_params["runs"] = rid
    at.run()
    at.switch_page("../pages/evaluate.py")
    at.run()
    assert any("its probes could not be computed: its last background job ended before finishing" in w.value
               for w in at.warning), [w.value for w in at.warning]


def test_a_started_job_says_who_started_it_and_whether_it_fine_tunes(finished_run):
    """What the page shows before the job's process has begun: whose it is (Stop asks for a
    confirmation when it is someone else's) and the panel it belongs under."""
    first, second = _dirs(finished_run, "simclr", "rotation")
    jobs.mark_pending([first], finetune=True, who="ada")
    jobs.mark_pending([second])
    assert {k: jobs.progress(first)[k] for k in ("state", "who", "finetune", "pid")} == {
        "state": "starting", "who": "ada", "finetune": True, "pid": None}
    assert {k: jobs.progress(second)[k] for k in ("who", "finetune")} == {"who": None, "finetune": False}


def test_a_stop_says_so_on_every_run_of_the_job_and_computes_none_after_it(finished_run, monkeypatch):
    """Stopped on its first run, a job of three: each of the three says who stopped it (the
    queued ones too, not only the one it was computing), none is computed further, and no
    file of the job is left."""
    import signal

    dirs = _dirs(finished_run, "simclr", "rotation", "simclr")
    computed = []

    def steps(d, finetune):
        def compute():
            computed.append(d)
            assert jobs.stop(d, by="bob")  # the Stop button: SIGTERM to this process, which raises at once
        return [("probes", compute, 0)]

    monkeypatch.setattr(jobs, "_steps", steps)
    before = signal.getsignal(signal.SIGTERM)
    jobs._stop_on_sigterm()  # as the job's process does (main)
    try:
        with pytest.raises(jobs.Stopped):
            jobs.run(dirs, job=jobs.mark_pending(dirs, who="ada"), who="ada")
    finally:
        signal.signal(signal.SIGTERM, before)
    assert computed == dirs[:1]
    for d in dirs:
        assert jobs.failure(d)["stopped_by"] == "bob" and not art.job_running(d) and jobs.progress(d) is None, d
        assert not (d / jobs.PROGRESS).exists()
    assert jobs.running() == 0 and not list(jobs._jobs_dir().iterdir())


def test_a_job_without_fine_tuning_computes_the_frozen_feature_probes_alone(finished_run):
    [run_dir] = _dirs(finished_run, "simclr")
    assert [what for what, _, _ in jobs._steps(run_dir, finetune=False)] == [
        "kNN, linear readouts and invariance of the frozen features"]
    whats = [what for what, _, _ in jobs._steps(run_dir, finetune=True)]
    assert whats[0] == "kNN, linear readouts and invariance of the frozen features"  # the cheap step first
    assert whats[1:3] == ["fine-tuning with 1 label per class", "supervised from scratch with 1 label per class"]
    assert len(whats) == 11


def test_the_time_left_paces_a_full_batch_from_a_one_label_step_as_measured():
    """digits, cnn-small, 2 cores: a draw of a batch of 10 took 3.6 s, one of a batch of 64 8.4 to
    9.9 s. The time left paces every step by the first timed one's seconds per unit of cost: from
    the 1-label step the full batch's draw must come out within 10% of what it took (counted in
    images alone, 23 s)."""
    from ssrl_core.evaluate.finetune import draws_cost

    per_draw_of_10 = draws_cost(1, 10, 1437, 3) / 3  # 1 label per class, 3 draws
    per_draw_of_64 = draws_cost(0, 10, 1437, 3)  # every label: one draw of a full batch
    assert 8.4 * 0.9 <= 3.6 * per_draw_of_64 / per_draw_of_10 <= 9.9 * 1.1


def test_the_time_left_follows_this_jobs_own_pace_once_it_has_timed_a_step(finished_run, monkeypatch):
    """The last job's pace is the first estimate only: once this job has timed a step that trains
    a network, the time left follows what it measured (the machine may be busier or idler than
    it was), and a run whose remaining steps train nothing has none left, not an unknown."""
    [d] = _dirs(finished_run, "simclr")
    jobs._remember_pace(jobs.pace_key(d), rate=1.0, run_cost=180)  # the last such job: 1 s per unit of cost
    clock = Clock()
    seen = []

    def step(what: str, seconds: float):
        def compute():
            seen.append((what, jobs.progress(d)["eta_s"]))
            clock.now += seconds
        return compute

    monkeypatch.setattr(jobs, "_steps", lambda d, finetune: [
        ("ft1", step("ft1", 3.0), 30), ("ft5", step("ft5", 15.0), 150), ("probes", step("probes", 0.5), 0)])
    monkeypatch.setattr(jobs.time, "time", clock)
    assert jobs.run([d], finetune=True) == 0
    assert seen == [("ft1", pytest.approx(180.0)),  # the last job's pace, before this one has timed anything
                    ("ft5", pytest.approx(3.0 / 30 * 150)),  # this job's own: ten times faster
                    ("probes", 0.0)]
    assert jobs.per_run_seconds(d) == pytest.approx(18.0)  # and the next job's first estimate is this one's


def test_a_damaged_checkpoint_put_back_from_a_copy_of_the_same_size_is_worth_another_try(finished_run):
    """Weights damaged in place (the same size, unreadable) and then copied back from a backup:
    the file changed, so the page offers the job again, though its size is the same."""
    [d] = _dirs(finished_run, "simclr")
    good = (d / art.CHECKPOINT).read_bytes()
    (d / art.CHECKPOINT).write_bytes(bytes(len(good)))  # zeroed, as by a disk fault
    assert jobs.run([d], job=jobs.mark_pending([d])) == 0
    assert "the run's trained weights are damaged" in jobs.lasting_failure(d)
    time.sleep(0.05)  # (a later modification time on any file system's clock)
    (d / art.CHECKPOINT).write_bytes(good)
    assert jobs.lasting_failure(d) is None


def test_stop_before_the_job_has_begun_its_first_run_says_nothing_runs_yet(finished_run):
    """Between its process taking the job's lock and its first step (loading the run's data can
    take seconds) a run still says "starting", with no process id: Stop answers that nothing is
    running yet, as before the process began, rather than failing on the missing id."""
    from ssrl_core.locks import try_lock

    [d] = _dirs(finished_run, "simclr")
    job = jobs.mark_pending([d], who="ada")
    with open(jobs._jobs_dir() / f"{job}.lock", "a") as fh:  # the job's process has its lock
        assert try_lock(fh)
        assert jobs.progress(d)["state"] == "starting" and jobs.progress(d)["pid"] is None
        assert jobs.stop(d, by="bob") is False


def test_a_job_ended_by_a_sigterm_from_elsewhere_says_it_was_stopped_and_when(finished_run, monkeypatch):
    """``kill PID`` or a shutdown, not the page's Stop: no one is named, but the run says it was
    stopped, and when, as the page's note reads it."""
    import os
    import signal

    [d] = _dirs(finished_run, "simclr")
    monkeypatch.setattr(jobs, "_steps", lambda d, finetune: [("probes", lambda: os.kill(os.getpid(), signal.SIGTERM), 0)])
    before = signal.getsignal(signal.SIGTERM)
    jobs._stop_on_sigterm()
    try:
        with pytest.raises(jobs.Stopped):
            jobs.run([d], job=jobs.mark_pending([d]))
    finally:
        signal.signal(signal.SIGTERM, before)
    how = jobs.failure(d)
    assert how["stopped_by"] is None and time.time() - how["at"] < 60, how


def test_a_job_whose_home_is_deleted_while_it_computes_stops_and_makes_nothing_there_again(finished_run, ssrl_home,
                                                                                            monkeypatch, capsys):
    """SSRL_HOME deleted during a fine-tuning step (a reset between classes): the job went on for the minutes of
    its other steps, writing its results, progress and pace into the home, made anew. It stops, saying why."""
    import shutil

    from ssrl_core.config import RunConfig
    from ssrl_core.evaluate.suite import Cache, reference_cache

    [d] = _dirs(finished_run, "simclr")
    clock = Clock()
    done = []

    def step(what: str, delete: bool = False):
        def compute():
            done.append(what)
            clock.now += 30.0  # a step long enough to time the job's pace by
            if delete:
                shutil.rmtree(ssrl_home)
                # what a step writes: the supervised reference (shared, in the home), then its result in the run's
                with pytest.raises(FileNotFoundError):
                    reference_cache(RunConfig(dataset="digits", method="supervised")).get("scratch", lambda: 0.4)
                Cache(d / "probes.json").get("finetune/1", lambda: 0.5)
        return compute

    monkeypatch.setattr(jobs, "_steps", lambda d, finetune: [("ft1", step("ft1", delete=True), 30),
                                                             ("ft5", step("ft5"), 150)])
    monkeypatch.setattr(jobs.time, "time", clock)
    assert jobs.run([d], finetune=True) == 0
    assert done == ["ft1"] and not ssrl_home.exists()
    assert "the run's folder is gone (deleted, or moved with SSRL_HOME?)" in capsys.readouterr().out


def test_a_job_goes_on_with_its_other_runs_when_the_folder_of_one_queued_behind_is_deleted(finished_run, monkeypatch,
                                                                                           capsys):
    """A job of three runs whose third run's folder went during the first's steps (deleted by hand, as `delete`
    refuses while its probes are computed): the job died writing the third's place in its queue, and the second's
    probes were never computed."""
    import shutil

    d1, d2, d3 = _dirs(finished_run, "simclr", "rotation", "random")
    done = []

    def steps(d, finetune):
        def compute():
            done.append(d.name)
            if d == d1:
                shutil.rmtree(d3)
        return [("probes", compute, 0)]

    monkeypatch.setattr(jobs, "_steps", steps)
    assert jobs.run([d1, d2, d3]) == 0
    assert done == [d1.name, d2.name]
    assert f"{d3}: the run's folder is gone" in capsys.readouterr().out
    assert jobs.progress(d2) is None and jobs.failure(d2) is None  # computed, and done


def test_a_probe_job_counts_as_running_from_its_start_until_it_lets_go_of_its_lock(tmp_path):
    """Asked for (``probe_job.pending`` touched), a job counts as running for a minute while
    its new process imports, then while it holds the lock; a pending file older than that with
    no lock held is a job that never started, and a lock file left unheld one that ended."""
    import os

    assert not art.job_running(tmp_path)  # never asked for
    (tmp_path / art.JOB_PENDING).touch()
    assert art.job_running(tmp_path)
    old = time.time() - 120
    os.utime(tmp_path / art.JOB_PENDING, (old, old))
    assert not art.job_running(tmp_path)
    (tmp_path / art.JOB_PENDING).unlink()  # as the job does once it has the lock
    with open(tmp_path / art.JOB_LOCK, "a") as held:  # another open file: another holder, as far as flock goes
        assert try_lock(held)
        assert art.job_running(tmp_path)
    assert not art.job_running(tmp_path)


def test_a_running_jobs_time_left_is_its_estimate_less_the_time_since_never_below_nothing():
    """Past its estimate (a slower machine), a step has nothing left, not a negative time that took minutes off the
    whole job's "left in all"."""
    from app.widgets import _time_left

    now = time.time()
    assert _time_left({"run_dir": "x"}, {"state": "running", "eta_s": 400.0, "at": now - 100}) == pytest.approx(300, abs=5)
    assert _time_left({"run_dir": "x"}, {"state": "running", "eta_s": 100.0, "at": now - 300}) == 0.0
    assert _time_left({"run_dir": "x"}, {"state": "running", "eta_s": None, "at": now}) is None  # not timed yet


def test_a_time_is_said_with_its_day_unless_it_is_today():
    """``services.spoken_time``: the hour alone for today, then yesterday, then the date (with
    its year only when it is not this one). No browser here: the server's time zone."""
    from datetime import datetime

    from app import services

    at = datetime(2026, 3, 5, 4, 30).timestamp()
    said = {when: services.spoken_time(at, now=datetime(*when).timestamp())
            for when in [(2026, 3, 5, 23, 59), (2026, 3, 6, 0, 1), (2026, 3, 7, 12), (2026, 12, 31), (2027, 1, 2)]}
    assert list(said.values()) == ["at 04:30", "yesterday at 04:30", "on 5 Mar at 04:30", "on 5 Mar at 04:30",
                                   "on 5 Mar 2026 at 04:30"]
