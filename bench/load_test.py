"""Load test of the run store and the local workers: a classroom submitting at once.

    python -m bench.load_test [--workers 2] [--clients 30] [--runs 60] [--timeout 1200]

In a fresh SSRL_HOME, ``--workers`` real worker processes serve the queue while
``--clients`` threads (each a browser session with its own nickname and its own store
connection, as Streamlit sessions are threads of one server) submit ``--runs`` short runs
at the same moment. The mix: mostly ``random`` runs (nothing to train; basic evaluation),
every tenth a 1-epoch SimCLR, and runs that must end otherwise: a NaN loss (SimCLR with
temperature 1e-40: 'diverged'), a missing dataset (cifar10 with no files), and runs their
client cancels 0.5-3 s into their training. Three clients try one run more than the
per-nickname limit allows, and the queue limit refuses what comes in while the queue is
full. Then it waits for the queue to drain and prints JSON:

- ``done``, ``cancelled``, ``failed_with_reason`` (by reason), ``refused_at_submit`` (by limit)
- ``lost``: accepted runs not in a final state at the end, or failed / cancelled without a
  reason, or done without a summary
- ``duplicated``: runs claimed more than once, or with more epochs trained than asked
- ``unexpected``: runs whose final state is not the one their kind must end in
- ``cancel_to_stopped_s``: cancel request to final state, for each cancelled run (it was training)
- ``wall_s``: first submit to an empty queue (CPU contention inflates it; see ``load``)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PER_NICKNAME = 2
QUEUED = 50


def kind_of(j: int) -> str:
    return {5: "nan", 10: "missing", 15: "cancel"}.get(j % 20, "simclr" if j % 10 == 3 else "random")


EXPECT = {"random": "done", "simclr": "done", "nan": "failed", "missing": "failed", "cancel": "cancelled"}


def config_for(kind: str):
    from ssrl_core.config import RunConfig

    basic = dict(dataset="digits", batch_size=256, evaluation="basic")
    if kind == "simclr":
        return RunConfig(method="simclr", epochs=1, **basic)
    if kind == "nan":
        return RunConfig(method="simclr", epochs=1, options={"temperature": 1e-40}, **basic)
    if kind == "cancel":  # long enough to be cancelled while it trains
        return RunConfig(method="simclr", epochs=20, **basic)
    if kind == "missing":
        return RunConfig(dataset="cifar10", method="random", epochs=0, evaluation="basic")
    return RunConfig(method="random", epochs=0, **basic)


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--timeout", type=float, default=1200, help="seconds to wait for the queue to drain")
    return ap


def main() -> int:
    args = build_parser().parse_args()

    with tempfile.TemporaryDirectory(prefix="ssrl-load-") as tmp:
        env = dict(os.environ, SSRL_HOME=str(Path(tmp) / "home"), SSRL_WORKERS=str(args.workers),
                   SSRL_MAX_ACTIVE_PER_NICKNAME=str(PER_NICKNAME), SSRL_MAX_QUEUED=str(QUEUED),
                   PYTHONPATH=str(ROOT))
        env.setdefault("SSRL_TORCH_THREADS", str(max(1, (os.cpu_count() or 1) // args.workers)))
        os.environ.update({k: env[k] for k in ("SSRL_HOME", "SSRL_WORKERS", "SSRL_MAX_ACTIVE_PER_NICKNAME",
                                               "SSRL_MAX_QUEUED")})
        from ssrl_core.runs.store import FINISHED, LimitReached, RunStore

        store = RunStore()
        for kind in EXPECT:
            config_for(kind)  # validate the mix before anything starts
        load = os.getloadavg()
        workers = [subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker", "--slot", str(i)], cwd=ROOT,
                                    env=env, stdout=open(Path(tmp) / f"worker-{i}.log", "w"),
                                    stderr=subprocess.STDOUT) for i in range(args.workers)]
        accepted: dict[str, str] = {}  # run id -> kind
        refused: Counter = Counter()
        cancel_times: dict[str, float] = {}
        lock = threading.Lock()
        barrier = threading.Barrier(args.clients)
        plan = {c: [j for j in range(args.runs) if j % args.clients == c] for c in range(args.clients)}

        def client(c: int) -> None:
            rng = random.Random(c)
            s = RunStore()
            nickname = f"student-{c:02d}"
            jobs = [kind_of(j) for j in plan[c]] + (["random"] if c < 3 else [])  # one too many for three
            barrier.wait()
            mine = []
            for kind in jobs:
                try:
                    rid = s.submit(config_for(kind), nickname=nickname)
                except LimitReached as e:
                    with lock:
                        refused["per nickname" if "already has" in str(e) else "queue full"] += 1
                    continue
                with lock:
                    accepted[rid] = kind
                mine.append((rid, kind))
            for rid, kind in mine:
                if kind == "cancel":  # once it trains, let it train a moment, then cancel it
                    while (r := s.get(rid))["status"] in ("queued", "running") and r["phase"] != "training":
                        time.sleep(0.2)
                    time.sleep(rng.uniform(0.5, 3.0))
                    t = time.time()
                    try:
                        s.request_cancel(rid)
                        cancel_times[rid] = t
                    except ValueError:  # it ended first: 'unexpected' reports it
                        pass

        t0 = time.time()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            if all(store.get(r)["status"] in FINISHED for r in accepted):
                break
            time.sleep(0.5)
        wall = time.time() - t0
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(60)

        runs = {r: store.get(r) for r in accepted}
        status = Counter(r["status"] for r in runs.values())
        reasons = Counter(r["error"].split(":")[0] for r in runs.values() if r["status"] == "failed" and r["error"])
        lost = [r["id"] for r in runs.values()
                if r["status"] not in FINISHED
                or (r["status"] in ("failed", "cancelled") and not r["error"])
                or (r["status"] == "done" and not r["summary"])]
        duplicated = []
        for rid, r in runs.items():
            trained = [e["epoch"] for e in store.events(rid, kind="epoch_end") if e["epoch"] > 0]
            if len(store.events(rid, kind="claimed")) > 1 or r["attempts"] > 1 or len(trained) > r["epochs"]:
                duplicated.append(rid)
        unexpected = {rid: f"{accepted[rid]} ended {r['status']}: {r['error']}" for rid, r in runs.items()
                      if r["status"] != EXPECT[accepted[rid]]}
        cancel_s = sorted(round(runs[r]["finished"] - t, 2) for r, t in cancel_times.items() if runs[r]["finished"])
        print(json.dumps({
            "workers": args.workers, "clients": args.clients, "runs_planned": args.runs,
            "extra_attempts_over_the_nickname_limit": 3,
            "limits": {"per_nickname": PER_NICKNAME, "queued": QUEUED},
            "torch_threads_per_worker": int(env["SSRL_TORCH_THREADS"]), "cpu_count": os.cpu_count(),
            "load_at_start": [round(x, 2) for x in load],
            "accepted": len(accepted), "accepted_by_kind": dict(Counter(accepted.values())),
            "done": status["done"], "cancelled": status["cancelled"], "failed_with_reason": dict(reasons),
            "failed_without_reason": sum(1 for r in runs.values() if r["status"] == "failed" and not r["error"]),
            "refused_at_submit": dict(refused),
            "lost": len(lost), "duplicated": len(duplicated), "unexpected": unexpected,
            "cancel_to_stopped_s": cancel_s,
            "workers_used": len({e["worker"] for r in runs for e in store.events(r, kind="claimed")}),
            "wall_s": round(wall, 1),
        }, indent=2))
        return 0 if not lost and not duplicated and not unexpected else 1


if __name__ == "__main__":
    sys.exit(main())
