"""Kill-and-resume figures: SIGKILL the worker training a run, mid-epoch, again and again.

    python -m bench.kill_resume [--kills 3] [--epochs 5] [--restart-delay 0]

In a fresh SSRL_HOME one worker trains SimCLR on digits (cnn-small, batch 256, basic
evaluation). Each time the run is about half-way through an epoch after the last kill's
resume, the worker is killed with SIGKILL and a new worker is started ``--restart-delay``
seconds later (as the app does for an empty slot on its next page load). Prints JSON, one
entry per kill:

- ``at_epoch``: where training was when killed (epochs, fractional)
- ``resumed_from``: the checkpoint's epoch the new attempt started from
- ``epochs_lost``: ``at_epoch - resumed_from`` (the epoch in progress, at most 1)
- ``kill_to_requeued_s``: kill to the run back in the queue (the new worker's first look)
- ``kill_to_resumed_s``: kill to the new attempt's checkpoint loaded (training starts)
- ``kill_to_training_s``: kill to the first progress report of the new attempt (a second
  of training or an epoch's end, whichever first); all three include the new process's
  start (Python, torch, the dataset)

and for the run: its final status, epochs asked, epochs ended (each counted once) and attempts.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--restart-delay", type=float, default=0.0, help="seconds between the kill and the new worker")
    return ap


def main() -> int:
    ap = build_parser()
    args = ap.parse_args()
    if args.kills >= args.epochs:
        ap.error("--kills must be fewer than --epochs (one kill per epoch)")

    with tempfile.TemporaryDirectory(prefix="ssrl-kill-") as tmp:
        os.environ["SSRL_HOME"] = str(Path(tmp) / "home")
        os.environ["SSRL_WORKERS"] = "1"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        from ssrl_core.config import RunConfig
        from ssrl_core.runs.store import FINISHED, RunStore

        store = RunStore()
        rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=args.epochs, batch_size=256,
                                     encoder="cnn-small", evaluation="basic"))
        log = open(Path(tmp) / "worker.log", "w")

        def start():
            return subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker"], cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)

        def wait(pred, timeout=600):
            end = time.time() + timeout
            while time.time() < end:
                if pred():
                    return
                time.sleep(0.05)
            log.flush()
            raise SystemExit("timed out; the worker said:\n" + (Path(tmp) / "worker.log").read_text()[-3000:])

        load = os.getloadavg()
        worker = start()
        kills = []
        for k in range(args.kills):
            # half-way through the epoch after the last resume
            target = k + 1.5
            wait(lambda: (store.get(rid)["progress"] or 0) * args.epochs >= target)
            at = store.get(rid)["progress"] * args.epochs
            t_kill = time.time()
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            time.sleep(args.restart_delay)
            worker = start()
            wait(lambda: any(e["t"] > t_kill for e in store.events(rid, kind="step")))
            requeued = [e for e in store.events(rid, kind="requeued") if e["t"] > t_kill][0]
            resumed = [e for e in store.events(rid, kind="resumed") if e["t"] > t_kill][0]
            first_step = [e for e in store.events(rid, kind="step") if e["t"] > t_kill][0]
            kills.append({"at_epoch": round(at, 2), "resumed_from": resumed["epoch"],
                          "epochs_lost": round(at - resumed["epoch"], 2),
                          "kill_to_requeued_s": round(requeued["t"] - t_kill, 2),
                          "kill_to_resumed_s": round(resumed["t"] - t_kill, 2),
                          "kill_to_training_s": round(first_step["t"] - t_kill, 2)})
        wait(lambda: store.get(rid)["status"] in FINISHED)
        worker.terminate()
        worker.wait(30)
        run = store.get(rid)
        ended = [e["epoch"] for e in store.events(rid, kind="epoch_end")]
        print(json.dumps({
            "kills": kills,
            "mean_epochs_lost": round(sum(k["epochs_lost"] for k in kills) / len(kills), 2),
            "max_kill_to_training_s": max(k["kill_to_training_s"] for k in kills),
            "run": {"status": run["status"], "error": run["error"], "epochs_asked": args.epochs,
                    "epochs_ended": sorted(ended), "each_epoch_once": len(ended) == len(set(ended)),
                    "attempts": run["attempts"]},
            "restart_delay_s": args.restart_delay, "cpu_count": os.cpu_count(),
            "load_at_start": [round(x, 2) for x in load],
        }, indent=2))
        return 0 if run["status"] == "done" and run["epoch"] == args.epochs else 1


if __name__ == "__main__":
    sys.exit(main())
