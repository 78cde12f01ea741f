import threading
import time

import pytest

from ssrl_core.config import RunConfig
from ssrl_core.runs.store import RunStore


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
    assert [e["kind"] for e in s.events(rid)] == ["step", "epoch_end"]
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


def test_stale_running_runs_go_back_to_the_queue():
    s = RunStore()
    rid = s.submit(RunConfig(method="random"))
    s.claim("dead-worker")
    assert s.requeue_stale(max_age_s=60) == []  # still fresh
    time.sleep(0.05)
    assert s.requeue_stale(max_age_s=0.01) == [rid]
    run = s.get(rid)
    assert run["status"] == "queued" and run["worker"] is None
    assert s.claim("w2")["attempts"] == 2
