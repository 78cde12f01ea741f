"""The walking skeleton's acceptance figures: ``python -m ssrl_core train --dataset digits
--method M --encoder cnn-small --epochs 10 --out DIR`` for simclr, rotation and random, each as a
fresh CLI process (imports, training, evaluation, UMAP: everything a user waits for).
Prints one JSON line per method.

    python -m bench.walking_skeleton [--methods simclr,rotation,random] [--epochs 10] [--dataset digits]
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

KEYS = ("knn_accuracy", "linear_accuracy", "train_seconds", "total_seconds", "images_per_s", "umap_seconds",
        "eval_seconds", "device", "precision")


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="simclr,rotation,random")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--dataset", default="digits")
    return ap


def main() -> None:
    args = build_parser().parse_args()
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SSRL_HOME=os.environ.get("SSRL_HOME") or str(Path(tmp) / "home"))
        for method in args.methods.split(","):
            out = Path(tmp) / method
            cmd = [sys.executable, "-m", "ssrl_core", "train", "--dataset", args.dataset, "--method", method,
                   "--encoder", "cnn-small", "--epochs", str(args.epochs), "--out", str(out)]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=root, env=env, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            summary = json.loads((out / "summary.json").read_text())
            print(json.dumps({"bench": "walking_skeleton", "method": method, "dataset": args.dataset,
                              "epochs": args.epochs, "wall_seconds": round(wall, 1),
                              **{k: summary.get(k) for k in KEYS}}), flush=True)


if __name__ == "__main__":
    main()
