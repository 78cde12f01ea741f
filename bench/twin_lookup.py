"""How long the app takes to find a finished run with the very settings of the form (Start's
and Pretrain's "this very run has finished" link, a lesson's plan: ``lessons.best_runs``) in
a class's run store.

    python -m bench.twin_lookup [--runs 2000] [--repeat 5]

In a fresh SSRL_HOME, ``--runs`` finished runs of ten methods on digits, 30 nicknames, one
seed per ten runs; every MoCo run gets a small checkpoint (a tenth of them with the BN'd
head of MoCo runs trained before 2026-12-02), since a MoCo run's checkpoint is read to tell
the two heads apart. Prints one JSON line per method asked for: the seconds of each
``best_runs`` call and whether it found the run.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

METHODS = ("simclr", "moco", "byol", "rotation", "swav", "simsiam", "barlow_twins", "vicreg", "random", "mae")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2000, help="finished runs in the store (default 2000)")
    ap.add_argument("--repeat", type=int, default=5, help="calls timed per method asked for (default 5)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ["SSRL_HOME"] = tempfile.mkdtemp(prefix="twin-lookup-")
    os.environ["SSRL_NO_AUTOSTART"] = "1"

    import torch
    from safetensors.torch import save_file

    from ssrl_core import lessons
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.artifacts import CHECKPOINT
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    t0 = time.perf_counter()
    for i in range(args.runs):
        method = METHODS[i % len(METHODS)]
        rid = store.submit(RunConfig(dataset="digits", method=method, epochs=10, seed=i // 10), nickname=f"s{i % 30}")
        store.claim("bench")
        if method == "moco":
            run_dir = Path(store.get(rid)["run_dir"])
            run_dir.mkdir(parents=True, exist_ok=True)
            bn = {"model.projector.1.running_mean": torch.zeros(4)} if i % 100 == 1 else {}
            save_file({"model.projector.0.weight": torch.zeros(4, 4), **bn}, str(run_dir / CHECKPOINT),
                      metadata={"meta": json.dumps({"epoch": 10})})
        store.finish(rid, "done", summary={"knn_accuracy": 0.9})
    print(json.dumps({"runs": args.runs, "made_s": round(time.perf_counter() - t0, 1)}), flush=True)
    for method in ("simclr", "moco"):
        want = {"run": RunConfig(dataset="digits", method=method, epochs=10, seed=3)}
        seconds, found = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            found = lessons.best_runs(want, store, "cpu")["run"]
            seconds.append(round(time.perf_counter() - t, 4))
        print(json.dumps({"method": method, "best_runs_s": seconds, "found": found is not None}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
