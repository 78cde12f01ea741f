"""Time to insight: from submitting the default digits SimCLR run (10 epochs, cnn-small) to
its map, kNN accuracy and linear probe being ready in the run folder, with a background
worker already serving (as the app keeps one), against the time the common reference
pipeline (torchvision PIL transforms in a DataLoader, NCHW) needs just to train the same
10 epochs.

    python -m bench.time_to_insight [--runs 2] [--epochs 10] [--idle-first S] [--no-reference]

Runs in a fresh SSRL_HOME: the first run pays the one-off costs of a new home (numba's
compiled UMAP layout, the shared random-encoder reference), later runs show the usual case.
Prints one JSON line per run and one for the reference.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ready(run_dir: Path) -> dict[str, bool]:
    from ssrl_core.runs.artifacts import read_json

    metrics = read_json(run_dir / "metrics.json") or {}
    probes = read_json(run_dir / "probes.json") or {}
    return {
        "knn": metrics.get("knn_accuracy") is not None,
        "linear_probe": metrics.get("linear_accuracy") is not None,
        "map": (run_dir / "map_umap.npy").exists(),
        "label_efficiency": sum(k.startswith("linear/label/") for k in probes) >= 5,  # every budget
        "summary": (run_dir / "summary.json").exists(),
    }


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2, help="runs in a row in the same fresh home (default 2)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--idle-first", type=float, default=0.0, metavar="SECONDS",
                    help="let the new worker sit idle this long before the first submit (as while a user "
                         "chooses settings), so its background warm-up can finish (default 0)")
    return ap


def main() -> None:
    args = build_parser().parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SSRL_HOME"] = str(Path(tmp) / "home")
        from ssrl_core.config import RunConfig
        from ssrl_core.runs.store import FINISHED, RunStore
        from ssrl_core.runs.worker import worker_alive

        cfg = RunConfig(dataset="digits", method="simclr", encoder="cnn-small", epochs=args.epochs)
        store = RunStore()
        log = open(Path(tmp) / "worker.log", "w")
        worker = subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker"], cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        try:
            while not worker_alive():
                time.sleep(0.1)
            time.sleep(args.idle_first)
            for i in range(args.runs):
                t0 = time.perf_counter()
                rid = store.submit(cfg)
                seen: dict[str, float] = {}
                run_dir = Path(store.get(rid)["run_dir"])
                while True:
                    run = store.get(rid)
                    for k, ok in _ready(run_dir).items():
                        if ok and k not in seen:
                            seen[k] = round(time.perf_counter() - t0, 2)
                    if run["status"] in FINISHED:
                        break
                    time.sleep(0.1)
                summary = json.loads((run_dir / "summary.json").read_text()) if run["status"] == "done" else {}
                insight = max(seen.get(k, float("nan")) for k in ("knn", "linear_probe", "map"))
                print(json.dumps({
                    "bench": "time_to_insight", "run": i + 1, "status": run["status"], "error": run.get("error"),
                    "epochs": args.epochs, "time_to_insight_s": insight, "ready_after_s": seen,
                    **{k: summary.get(k) for k in ("train_seconds", "images_per_s", "eval_seconds", "umap_seconds",
                                                   "probe_seconds", "evolution_seconds", "total_seconds",
                                                   "knn_accuracy", "linear_accuracy", "device", "precision")},
                }), flush=True)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            log.close()
        if not args.no_reference:
            from ssrl_core.speed import reference_training_seconds

            print(json.dumps({"bench": "reference_training", "epochs": args.epochs,
                              "batch_size": cfg.batch, **reference_training_seconds(cfg)}), flush=True)


if __name__ == "__main__":
    main()
