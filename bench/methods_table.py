"""Every method on a dataset through the CLI, one fresh process each:

    python -m ssrl_core train --dataset D --method M --encoder cnn-small --epochs 10 --no-umap --out DIR

Prints one JSON line per run (knn_accuracy, linear_accuracy, embedding_std,
effective_rank, train_seconds, ...) and, with ``--markdown``, a table at the end.
Runs are skipped with a reason when the method refuses the dataset (colorization on a
grayscale set) or needs another encoder (mae: vit-tiny, used instead).

    python -m bench.methods_table --datasets digits,shapes [--methods simclr,byol] [--epochs 10] [--markdown]
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

KEYS = ("knn_accuracy", "linear_accuracy", "embedding_std", "effective_rank", "train_seconds", "total_seconds",
        "images_per_s")
ENCODER_FOR = {"mae": "vit-tiny"}


def run(method: str, dataset: str, epochs: int, root: Path, env: dict, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        enc = ENCODER_FOR.get(method, "cnn-small")
        cmd = [sys.executable, "-m", "ssrl_core", "train", "--dataset", dataset, "--method", method, "--encoder", enc,
               "--epochs", str(epochs), "--no-umap", "--out", str(out), *extra]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        row = {"bench": "methods_table", "method": method, "dataset": dataset, "encoder": enc, "epochs": epochs,
               "wall_seconds": round(time.perf_counter() - t0, 1)}
        if res.returncode != 0:
            return {**row, "skipped": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "failed"}
        summary = json.loads((out / "summary.json").read_text())
        return {**row, **{k: summary.get(k) for k in KEYS}}


def markdown(rows: list[dict]) -> str:
    fmt = lambda v, p: "–" if v is None else f"{v:.{p}f}"  # noqa: E731
    lines = ["| dataset | method | encoder | kNN acc | linear acc | embedding std | eff. rank | train s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['dataset']} | `{r['method']}` | {r['encoder']} | {r['skipped']} | | | | |")
            continue
        lines.append(f"| {r['dataset']} | `{r['method']}` | {r['encoder']} | {fmt(r['knn_accuracy'], 3)} | "
                     f"{fmt(r['linear_accuracy'], 3)} | {fmt(r['embedding_std'], 4)} | {fmt(r['effective_rank'], 1)} | "
                     f"{fmt(r['train_seconds'], 1)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="digits")
    ap.add_argument("--methods", default=None, help="comma-separated; default: every registered method")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--extra", default="", help="more flags for train, e.g. '--option stop_gradient=false'")
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env.setdefault("SSRL_HOME", str(Path(tempfile.gettempdir()) / "ssrl-bench-home"))
    if args.methods:
        methods = args.methods.split(",")
    else:
        from ssrl_core.pretext import METHODS

        methods = list(METHODS)
    rows = []
    for dataset in args.datasets.split(","):
        for method in methods:
            row = run(method, dataset, args.epochs, root, env, args.extra.split())
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.markdown:
        print(markdown(rows))


if __name__ == "__main__":
    main()
