import json
import threading
import time

import pytest

from ssrl_core.config import RunConfig
from ssrl_core.runs.store import _SCHEMA, LimitReached, RunStore


def test_submit_list_and_progress_events():
    s = RunStore()
    rid = s.submit(RunConfig(dataset="digits", method="simclr", epochs=3), nickname="ada")
    run = s.get(rid)
    assert run["status"] == "queued" and run["epochs"] == 3 and run["nickname"] == "ada"
    assert run["config"]["method"] == "simclr" and run["method"] == "simclr"
    assert [r["id"] for r in s.list()] == [rid]
    s.claim("w1")
    s.record(rid, {"kind": "step", "epoch": 1, "epochs": 3, "step": 5, "total_steps": 10, "loss": 2.5,
                   "images_per_s": 100.0, "eta_s": 3.0})
    s.record(rid, {"kind": "epoch_end", "epoch": 1, "epochs": 3, "loss": 2.4})
    run = s.get(rid)
    assert run["epoch"] == 1 and run["loss"] == 2.4 and run["progress"] == pytest.approx(1 / 3)
    assert [e["kind"] for e in s.events(rid)] == ["claimed", "step", "epoch_end"]
    assert s.events(rid, kind="claimed")[0]["worker"] == "w1"
    assert s.events(rid, kind="step")[0]["loss"] == 2.5


def test_a_run_is_claimed_by_exactly_one_of_many_workers():
    s = RunStore()
    ids = {s.submit(RunConfig(method="random")) for _ in range(5)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(n):
        st = RunStore()
        while (run := st.claim(f"w{n}")) is not None:
            with lock:
                claimed.append(run["id"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # each exactly once


def test_cancel_queued_running_and_finished():
    s = RunStore()
    a = s.submit(RunConfig(method="random"))
    assert s.request_cancel(a) == "cancelled" and s.get(a)["status"] == "cancelled"
    b = s.submit(RunConfig(method="random"))
    s.claim("w")
    assert s.request_cancel(b) == "running" and s.cancel_requested(b)
    s.finish(b, "cancelled", error="stopped")
    with pytest.raises(ValueError, match="already ended"):
        s.request_cancel(b)
    with pytest.raises(KeyError, match="no run with id"):
        s.request_cancel("nope")


def test_a_cancelled_run_resumes_at_the_end_of_the_line_and_nothing_else_resumes(monkeypatch):
    s = RunStore()
    early = s.submit(RunConfig(method="random"), nickname="ada")
    first = s.claim("w")
    assert first["claimed_at"] == first["started"] and first["claimed_epoch"] == 0
    s.record(early, {"kind": "epoch_end", "epoch": 2, "epochs": 5, "loss": 1.0}, worker="w")
    s.request_cancel(early)
    s.finish(early, "cancelled", error="cancelled at epoch 2, step 3", worker="w")
    later = s.submit(RunConfig(method="random", seed=1), nickname="bo")  # queued after early was submitted
    s.resume(early)
    run = s.get(early)
    assert run["status"] == "queued" and run["error"] is None and run["finished"] is None
    assert not run["cancel_requested"] and run["phase"] == "resumed"
    assert [e["kind"] for e in s.events(early)][-1] == "queued_again"
    # submitted first, but resumed after `later` was queued: it waits behind it
    s.request_cancel(early)  # cancelled again while it waits: not "before it started"
    assert s.get(early)["error"] == "cancelled while queued to continue from epoch 2"
    s.resume(early)
    assert s.claim("w")["id"] == later
    again = s.claim("w")  # this attempt: claimed now, continuing from epoch 2; started: the first attempt's
    assert again["id"] == early and again["claimed_epoch"] == 2
    assert again["claimed_at"] > again["started"] == first["started"]
    s.finish(early, "done", worker="w")
    s.finish(later, "failed", error="boom", worker="w")
    with pytest.raises(ValueError, match="is done: only a cancelled or failed run can be resumed"):
        s.resume(early)
    s.resume(later)  # failed (a full disk, say, since freed): back in the queue, to continue from its checkpoint
    assert s.get(later)["status"] == "queued" and s.get(later)["error"] is None
    assert s.claim("w")["id"] == later
    s.finish(later, "failed", error="boom", worker="w")
    queued = s.submit(RunConfig(method="random", seed=2))
    with pytest.raises(ValueError, match="is queued: only a cancelled or failed run"):
        s.resume(queued)
    with pytest.raises(KeyError, match="no run with id"):
        s.resume("nope")
    # the classroom limits count a resumed run for its nickname, as a submit
    monkeypatch.setenv("SSRL_MAX_ACTIVE_PER_NICKNAME", "1")
    mine = s.submit(RunConfig(method="random", seed=3), nickname="cy")
    s.request_cancel(mine)
    s.submit(RunConfig(method="random", seed=4), nickname="cy")
    with pytest.raises(LimitReached, match="'cy' already has 1 run "):
        s.resume(mine)
    assert s.get(mine)["status"] == "cancelled"  # refused: nothing changed
    # a lesson's runs are the class's: its Launch does not count them per nickname, nor does resume
    from dataclasses import replace

    from ssrl_core.runs.store import Limits

    lesson = s.submit_many([RunConfig(method="random", seed=n) for n in (5, 6)], nickname="lesson:tiny",
                           limits=replace(Limits.from_env(), per_nickname=0))
    for rid in lesson:
        s.request_cancel(rid)
    for rid in lesson:
        s.resume(rid)
    assert {s.get(rid)["status"] for rid in lesson} == {"queued"}


def test_an_older_store_gets_the_new_columns_and_recent_lists_every_active_run(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as c:  # a store made before queued_at existed
        c.executescript(_SCHEMA.replace(",\n    queued_at REAL", ""))
        c.execute("INSERT INTO runs (id, created, status, config, run_dir) VALUES ('old', 1, 'cancelled', ?, '/x')",
                  (RunConfig(method="random").to_json(),))
    assert "queued_at" not in {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(runs)")}
    s = RunStore(path)
    assert s.get("old")["queued_at"] is None and s.get("old")["status"] == "cancelled"
    news = [s.submit(RunConfig(method="random", seed=i)) for i in range(3)]
    for rid in news:
        s.request_cancel(rid)
    s.resume("old")  # the oldest run, queued again
    assert [r["id"] for r in s.list(limit=2)] == news[:0:-1]  # the newest two by submission
    assert {r["id"] for r in s.recent(2)} == {"old", *news[1:]}  # and the active one besides
    assert [r["id"] for r in s.list(("queued", "running"))] == ["old"]


def test_stale_running_runs_go_back_to_the_queue():
    s = RunStore()
    rid = s.submit(RunConfig(method="random"))
    s.claim("remote-worker")
    cannot_tell = lambda worker: None  # noqa: E731 - another host: the heartbeat decides
    assert s.requeue_orphans(cannot_tell, stale_s=60) == []  # still fresh
    time.sleep(0.05)
    assert s.requeue_orphans(cannot_tell, stale_s=0.01) == [rid]
    run = s.get(rid)
    assert run["status"] == "queued" and run["worker"] is None
    assert s.claim("w2")["attempts"] == 2


def _submit_at_once(n: int, nickname_of, limits) -> tuple[list[str], list[str]]:
    """``n`` threads, each with its own connection, submit one run at the same moment."""
    from ssrl_core.runs.store import LimitReached

    barrier = threading.Barrier(n)
    ok, refused, lock = [], [], threading.Lock()

    def client(i):
        try:
            st = RunStore()  # (inside: a thread that failed here left the others at the barrier for ever)
            barrier.wait(timeout=120)
            rid = st.submit(RunConfig(method="random", epochs=0), nickname=nickname_of(i), limits=limits)
            with lock:
                ok.append(rid)
        except LimitReached as e:
            with lock:
                refused.append(str(e))
        except Exception as e:  # anything else would kill the thread silently and only skew the counts
            with lock:
                errors.append(repr(e))

    errors: list[str] = []
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return ok, refused


def test_a_new_store_opened_while_another_connection_makes_it_is_not_an_error(tmp_path, monkeypatch):
    """30 threads opening a new store at once: one got "database is locked" at once from the
    switch to WAL (SQLite's busy timeout did not apply) and its thread died. Opening the store
    now tries again while another connection holds it, as every other operation waits."""
    import sqlite3

    from ssrl_core.runs import store as store_module

    connect, refusals = sqlite3.connect, [2]

    class Switching:  # a connection that finds the store locked the first two times it switches it to WAL
        def __init__(self, c):
            object.__setattr__(self, "_c", c)

        def __getattr__(self, name):
            return getattr(self._c, name)

        def __setattr__(self, name, value):
            setattr(self._c, name, value)

        def execute(self, sql, *args):
            if sql == "PRAGMA journal_mode=WAL" and refusals[0]:
                refusals[0] -= 1
                raise sqlite3.OperationalError("database is locked")
            return self._c.execute(sql, *args)

    monkeypatch.setattr(store_module.sqlite3, "connect", lambda *a, **k: Switching(connect(*a, **k)))
    s = RunStore(tmp_path / "store.sqlite")
    assert refusals == [0] and s.submit(RunConfig(method="random", epochs=0))
    refusals[0] = 1000  # a store that stays locked: said after 30 s (here, a clock that jumps past them)
    clock = iter([0.0, 31.0])
    monkeypatch.setattr(store_module.time, "monotonic", lambda: next(clock))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        RunStore(tmp_path / "store.sqlite")
    assert refusals == [999]


def test_classroom_limits_hold_under_30_simultaneous_submits():
    from ssrl_core.runs.store import Limits

    # per nickname: 3 nicknames, at most 4 active runs each
    ok, refused = _submit_at_once(30, lambda i: "abc"[i % 3], Limits(per_nickname=4, queued=0))
    assert len(ok) == 12 and len(refused) == 18
    assert all("queued or running (the limit is 4)" in m for m in refused)
    s = RunStore()
    assert sorted(r["nickname"] for r in s.list()) == sorted("abc" * 4)
    # a finished or cancelled run frees its place
    s.request_cancel(next(r["id"] for r in s.list() if r["nickname"] == "a"))
    s.submit(RunConfig(method="random", epochs=0), nickname="a", limits=Limits(per_nickname=4, queued=0))
    # the queue: 30 different nicknames, room for 15 more waiting runs
    ok, refused = _submit_at_once(30, lambda i: f"s{i}", Limits(per_nickname=4, queued=27))
    assert len(ok) == 15 and all("the queue is full" in m for m in refused)


def test_a_nickname_typed_in_another_case_shares_its_limit():
    """"Ada" at her limit of 3 queued a fourth run as "ada" (a review of a class's end of term)."""
    from ssrl_core.runs.store import LimitReached, Limits

    s, limits = RunStore(), Limits(per_nickname=2, queued=0)
    for seed in range(2):
        s.submit(RunConfig(method="random", epochs=0, seed=seed), nickname="Ada", limits=limits)
    for typed in ("ada", "ADA", "Ada"):
        with pytest.raises(LimitReached, match=f"'{typed}' already has 2 runs queued or running"):
            s.submit(RunConfig(method="random", epochs=0, seed=9), nickname=typed, limits=limits)
    s.submit(RunConfig(method="random", epochs=0, seed=9), nickname="Adam", limits=limits)  # another student


def test_a_nickname_is_one_person_whatever_its_case_in_every_query():
    """The limit counted "Élodie" and "élodie" as one person but ``runs --nickname`` and the
    runs table's box (SQLite's NOCASE folds ASCII letters only) found one of them."""
    from ssrl_core.runs.store import LimitReached, Limits

    s, limits = RunStore(), Limits(per_nickname=2, queued=0)
    first = s.submit(RunConfig(method="random", epochs=0, seed=0), nickname="Élodie", limits=limits)
    second = s.submit(RunConfig(method="random", epochs=0, seed=1), nickname="ÉLODIE", limits=limits)
    s.submit(RunConfig(method="random", epochs=0, seed=2), nickname="Elodie", limits=limits)  # another student
    with pytest.raises(LimitReached, match="'élodie' already has 2 runs"):
        s.submit(RunConfig(method="random", epochs=0, seed=3), nickname="élodie", limits=limits)
    for typed in ("élodie", "ÉLODIE", "Élodie"):
        assert {r["id"] for r in s.list(nickname=typed)} == {first, second}
        assert s.count(("queued",), nickname=typed) == 2
    s.submit(RunConfig(method="random", epochs=0, seed=4), nickname="Straße", limits=limits)
    assert [r["nickname"] for r in s.list(nickname="STRASSE")] == ["Straße"]  # as str.casefold folds it
    assert s.nicknames() == ["Elodie", "Straße", "ÉLODIE"]  # one name per person, as the runs table's box offers them


def test_limits_come_from_the_environment(monkeypatch):
    from ssrl_core.runs.store import LimitReached, Limits

    monkeypatch.setenv("SSRL_MAX_ACTIVE_PER_NICKNAME", "1")
    monkeypatch.setenv("SSRL_RUN_DISK_MB", "0.5")
    assert Limits.from_env() == Limits(per_nickname=1, queued=50, run_disk_mb=0.5)
    s = RunStore()
    s.submit(RunConfig(method="random"), nickname="ada")
    with pytest.raises(LimitReached, match="'ada' already has 1 run queued or running"):
        s.submit(RunConfig(method="random"), nickname="ada")
    s.submit(RunConfig(method="random"))  # no nickname (CLI default): only the queue limit applies
    monkeypatch.setenv("SSRL_MAX_QUEUED", "lots")
    with pytest.raises(ValueError, match="SSRL_MAX_QUEUED must be a number"):
        Limits.from_env()


def test_orphans_go_back_by_their_workers_liveness_and_a_lost_claim_writes_nothing():
    from ssrl_core.runs.store import ClaimLost

    s = RunStore()
    live, dead, remote = (s.submit(RunConfig(method="random")) for _ in range(3))
    s.claim("live")
    s.claim("dead")
    s.claim("remote")
    with s._conn() as c:  # every heartbeat long stale
        c.execute("UPDATE runs SET heartbeat=0")
    state = {"live": True, "dead": False, "remote": None}
    assert s.requeue_orphans(state.get, stale_s=3600) == [dead, remote]  # a live worker keeps its run
    assert s.get(live)["status"] == "running"
    for rid in (dead, remote):
        assert s.get(rid)["status"] == "queued" and s.get(rid)["worker"] is None
    s.claim("remote2")  # a fresh heartbeat: a remote worker is trusted until it goes stale
    assert s.requeue_orphans({"live": True}.get, stale_s=3600) == []
    # the old worker of a requeued run can no longer write to it
    with pytest.raises(ClaimLost):
        s.record(dead, {"kind": "step", "epoch": 1, "epochs": 1, "step": 1, "total_steps": 2, "loss": 1.0}, worker="dead")
    assert not s.finish(dead, "done", worker="dead")
    assert s.get(dead)["status"] in ("queued", "running") and s.events(dead, kind="step") == []


def test_cli_submit_refused_by_a_limit_says_why(monkeypatch, capsys):
    from ssrl_core.cli import main

    monkeypatch.setenv("SSRL_MAX_QUEUED", "1")
    args = ["submit", "--dataset", "digits", "--method", "random", "--epochs", "0", "--nickname", "ada"]
    assert main(args) == 0
    assert main(args) == 4  # a limit: try again later (a run that cannot start: 2)
    err = capsys.readouterr().err
    assert err.startswith("error: the queue is full (1 run waiting, the limit is 1)")
    assert [r["nickname"] for r in RunStore().list()] == ["ada"]


def test_a_run_that_keeps_killing_its_worker_fails_instead_of_holding_the_queue():
    """A run whose worker dies at the same point again and again (a batch the machine's memory
    cannot hold: the kernel kills the worker) used to go back to the queue for ever, ahead of
    the whole class's runs. The third death without an epoch finished in between fails it; a run
    that gets further between deaths (a machine restarted) is requeued each time."""
    from ssrl_core.runs.store import MAX_STALLED_DEATHS

    s = RunStore()
    poison = s.submit(RunConfig(method="simclr", epochs=5))
    behind = s.submit(RunConfig(method="random"))
    for n in range(1, MAX_STALLED_DEATHS):
        assert s.claim(f"w{n}")["id"] == poison  # the oldest: claimed first every time
        assert s.requeue_orphans({f"w{n}": False}.get) == [poison]
    assert s.claim("last")["id"] == poison
    assert s.requeue_orphans({"last": False}.get) == []
    run = s.get(poison)
    assert run["status"] == "failed" and f"stopped {MAX_STALLED_DEATHS} times" in run["error"]
    assert "Lower the batch size" in run["error"]
    assert s.claim("next")["id"] == behind  # the queue moves on

    healthy = s.submit(RunConfig(method="simclr", epochs=5))
    for n in range(1, MAX_STALLED_DEATHS + 2):  # one epoch further before each death
        s.claim(f"h{n}")
        s.record(healthy, {"kind": "epoch_end", "epoch": n, "epochs": 5, "loss": 1.0}, worker=f"h{n}")
        assert s.requeue_orphans({f"h{n}": False, "next": True}.get) == [healthy]
    assert s.get(healthy)["status"] == "queued"

    # killed each time after an epoch's checkpoint was written and before that epoch's end was recorded (its probe
    # takes seconds): each new worker resumes a checkpoint an epoch further, which the row follows, so no two deaths
    # are at one epoch; the row stood at epoch 0 and the third death failed the run "after epoch 0"
    s.request_cancel(healthy)  # (out of the line)
    late = s.submit(RunConfig(method="simclr", epochs=5))
    assert s.claim("l0")["id"] == late
    assert s.requeue_orphans({"l0": False, "next": True}.get) == [late]  # killed after epoch 1's checkpoint
    for n in range(1, MAX_STALLED_DEATHS + 2):
        assert s.claim(f"l{n}")["id"] == late
        s.record(late, {"kind": "resumed", "epoch": n, "epochs": 5}, worker=f"l{n}")
        assert s.get(late)["epoch"] == n and s.get(late)["progress"] == n / 5
        assert s.requeue_orphans({f"l{n}": False, "next": True}.get) == [late]
    assert s.get(late)["status"] == "queued"


def test_a_resumed_run_gets_a_fresh_count_of_worker_deaths():
    """A person who cancels a run that killed its worker twice, frees memory and resumes it
    gives it a fresh try: the deaths before the resume no longer count toward failing it."""
    from ssrl_core.runs.store import MAX_STALLED_DEATHS

    s = RunStore()
    rid = s.submit(RunConfig(method="simclr", epochs=5))
    for n in range(1, MAX_STALLED_DEATHS):
        s.claim(f"w{n}")
        assert s.requeue_orphans({f"w{n}": False}.get) == [rid]
    s.request_cancel(rid)  # queued: cancelled at once
    s.resume(rid)
    for n in range(1, MAX_STALLED_DEATHS):  # as many deaths again: still requeued each time
        s.claim(f"r{n}")
        assert s.requeue_orphans({f"r{n}": False}.get) == [rid]
    s.claim("last")
    assert s.requeue_orphans({"last": False}.get) == []
    assert s.get(rid)["status"] == "failed"


def test_count_counts_runs_by_status(tmp_path):
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore(tmp_path / "s.sqlite")
    ids = [store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=s)) for s in range(3)]
    store.claim("w")
    store.finish(ids[0], "done", summary={})
    assert store.count(("done",)) == 1 and store.count(("queued", "running")) == 2 and store.count(("failed",)) == 0


def test_list_selects_runs_by_their_settings():
    s = RunStore()
    a = s.submit(RunConfig(method="simclr", seed=0))
    b = s.submit(RunConfig(method="moco", seed=1))
    c = s.submit(RunConfig(method="simclr", seed=1, dataset="shapes"))
    assert [r["id"] for r in s.list(settings={"method": ("simclr",)})] == [c, a]  # newest first
    assert [r["id"] for r in s.list(settings={"method": ("simclr", "moco"), "seed": (1,)})] == [c, b]
    assert [r["id"] for r in s.list("queued", settings={"dataset": ("digits",), "seed": (0, 2)})] == [a]
    assert s.list("done", settings={"method": ("simclr",)}) == []
    with pytest.raises(ValueError, match="'nickname' is not a run setting: one of augment, batch_size"):
        s.list(settings={"nickname": ("ann",)})  # never a column name from outside the code


def test_a_new_run_id_never_repeats_one_in_the_store(monkeypatch):
    """Ids are the second and 4 random hex digits: a class submitting in one second can draw
    one twice, which failed the submit with an IntegrityError."""
    from ssrl_core.runs import store as store_mod

    drawn = iter(["20261202-120000-aaaa", "20261202-120000-aaaa", "20261202-120000-aaaa", "20261202-120000-bbbb"])
    monkeypatch.setattr(store_mod, "new_run_id", lambda: next(drawn))
    s = RunStore()
    first = s.submit(RunConfig(method="random"))
    second = s.submit(RunConfig(method="random", seed=1))
    assert (first, second) == ("20261202-120000-aaaa", "20261202-120000-bbbb")


def test_a_runs_phase_is_said_in_words():
    """The live panel said "running, umap" and "probes: the random encoder's invariance": the
    code's names for the phases a run records."""
    from ssrl_core.runs.store import phase_text

    assert phase_text("umap") == "evaluating: the UMAP map"
    assert phase_text("probes: the random encoder's invariance") == "evaluating: the untrained encoder's invariance"
    assert phase_text("probes: label efficiency (1 per class)") == "evaluating: label efficiency (1 per class)"
    assert phase_text("knn") == "evaluating: kNN accuracy" and phase_text("training") == "training"
    assert phase_text(None) == "" and phase_text("") == ""


def test_a_nickname_is_one_line_of_plain_text():
    """A line break or tab is refused with what to change; a no-break space, which the app's text keeps
    (``one_line``), is a nickname's like any space."""
    s = RunStore()
    for bad in ("ada\nbo", "ada\tbo", "ada\x1b[31m"):
        with pytest.raises(ValueError, match="line break, tab or other control character"):
            s.submit(RunConfig(method="random"), nickname=bad)
    rid = s.submit(RunConfig(method="random"), nickname="ada\u00a0lovelace")
    assert s.get(rid)["nickname"] == "ada\u00a0lovelace"


def test_a_run_whose_worker_went_silent_says_so_with_what_to_do(capsys, monkeypatch):
    """A worker stopped with SIGSTOP (or hung) keeps its slot: its run said "training" for ever,
    its cancel did nothing and the queue behind it waited, with nothing saying why."""
    import time

    from ssrl_core.cli import main
    from ssrl_core.runs.store import SILENT_S, silence

    s = RunStore()
    rid = s.submit(RunConfig(method="simclr", epochs=5))
    s.claim("host:4242:0")
    assert silence(s.get(rid)) is None  # beating
    with s._conn() as c:
        c.execute("UPDATE runs SET heartbeat=? WHERE id=?", (time.time() - SILENT_S - 5, rid))
    said = silence(s.get(rid))
    assert said.startswith(f"no word from its worker (process 4242) for {int(SILENT_S) + 5} s: it may be stopped")
    assert "`kill -CONT 4242`" in said and "`kill 4242`" in said
    import ssrl_core.cli as cli

    monkeypatch.setattr(cli, "worker_gone", lambda run: False)  # its process still holds the slot: stopped, not gone
    capsys.readouterr()
    assert main(["runs"]) == 0 and "no word from its worker (process 4242)" in capsys.readouterr().out
    assert main(["runs", "--json"]) == 0  # a script sees it too, as it sees a gone worker
    [said] = json.loads(capsys.readouterr().out)
    assert said["silent"] is True and said["worker_gone"] is False
    from .test_app import open_page

    at = open_page("pretrain")  # the live panel says it too
    assert any(w.value.startswith("No word from its worker (process 4242) for ") for w in at.warning), \
        [w.value for w in at.warning]


def test_a_silent_ray_dispatcher_is_named_with_its_process_and_its_log():
    """Under Ray the run's worker is the dispatcher, "ray:HOST:PID": the advice read `kill PID`
    literally, and nothing said the cluster may be gone (a Ray operator's review)."""
    import time

    from ssrl_core.runs.store import silence

    s = RunStore()
    rid = s.submit(RunConfig(method="simclr", epochs=5))
    s.claim("ray:somehost:6751")
    with s._conn() as c:
        c.execute("UPDATE runs SET heartbeat=? WHERE id=?", (time.time() - 300, rid))
    said = silence(s.get(rid))
    assert said.startswith("no word from its Ray dispatcher (process 6751) for 300 s: it may have lost the cluster")
    assert "dispatcher.log" in said and "`kill 6751`" in said and "PID" not in said


def test_a_run_asked_to_stop_whose_worker_died_ends_cancelled():
    """Its cancel was never seen: the run went back to the queue, was claimed again (sent to a
    Ray node again) only to stop at its first step."""
    s = RunStore()
    rid = s.submit(RunConfig(method="simclr", epochs=5))
    s.claim("elsewhere:1:0")
    s.request_cancel(rid)
    assert s.requeue_orphans(lambda worker: False) == []
    run = s.get(rid)
    assert run["status"] == "cancelled" and run["error"] == ("cancelled before its first epoch ended: its worker "
                                                              "stopped before the cancel reached it")
    assert s.claim("another:2:0") is None  # nothing to run


def test_a_run_back_in_the_queue_counts_only_its_finished_epochs_as_done():
    """Back in the queue (its worker died, or a person resumed it), a run continues from its
    last finished epoch's checkpoint: the steps of the epoch it was in are done again. Its
    progress said otherwise: the Pretrain panel showed "epoch 1/10 · 20% of the training done"
    while its new worker started, and `runs --json` 0.2, for a run that had finished 1 of 10."""
    s = RunStore()
    rid = s.submit(RunConfig(method="simclr", epochs=10))
    s.claim("w")
    s.record(rid, {"kind": "epoch_end", "epoch": 1, "epochs": 10, "loss": 2.0}, worker="w")
    s.record(rid, {"kind": "step", "epoch": 2, "epochs": 10, "step": 20, "total_steps": 100, "loss": 1.9}, worker="w")
    assert s.get(rid)["progress"] == pytest.approx(0.2)
    assert s.requeue_orphans({"w": False}.get) == [rid]
    assert s.get(rid)["progress"] == pytest.approx(0.1) and s.get(rid)["epoch"] == 1
    assert s.claim("w2")["progress"] == pytest.approx(0.1)
    s.record(rid, {"kind": "step", "epoch": 2, "epochs": 10, "step": 15, "total_steps": 100, "loss": 1.9}, worker="w2")
    s.request_cancel(rid)
    s.finish(rid, "cancelled", error="cancelled at epoch 2, step 5", worker="w2")
    assert s.get(rid)["progress"] == pytest.approx(0.15)  # the record of where it stopped
    s.resume(rid)
    assert s.get(rid)["progress"] == pytest.approx(0.1)
    untrained = s.submit(RunConfig(method="random", epochs=0))  # no epochs: its progress is left as it was
    assert s.claim("w3")["id"] == rid and s.claim("w4")["id"] == untrained
    s.record(untrained, {"kind": "epoch_end", "epoch": 0, "epochs": 0}, worker="w4")
    assert s.requeue_orphans({"w3": True, "w4": False}.get) == [untrained]
    assert s.get(untrained)["status"] == "queued" and s.get(untrained)["progress"] == 1.0
