"""Every method on a dataset through the CLI, one fresh process each:

    python -m ssrl_core train --dataset D --method M --encoder cnn-small --epochs 10 --no-umap --out DIR

Prints one JSON line per run (knn_accuracy, linear_accuracy, embedding_std,
effective_rank, train_seconds, ...) and, with ``--markdown``, a table at the end. With
``--seeds 0,1,2`` every run is repeated per seed (``--seed S``; the random encoder too, as
its weights depend on the seed) and the table gives each figure's mean ± standard
deviation over the seeds, and "vs random" as the mean of the per-seed differences from the
random encoder of the same seed, with the smallest of them.
Runs are skipped with a reason when the method refuses the dataset (colorization on a
grayscale set) or needs another encoder (mae: vit-tiny, used instead).

    python -m bench.methods_table --datasets digits,shapes [--methods simclr,byol] [--epochs 10]
                                  [--seeds 0,1,2] [--markdown]
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
from statistics import mean, stdev

KEYS = ("knn_accuracy", "linear_accuracy", "embedding_std", "effective_rank", "train_seconds", "total_seconds",
        "images_per_s")
ENCODER_FOR = {"mae": "vit-tiny"}


def run(method: str, dataset: str, epochs: int, root: Path, env: dict, extra: list[str], seed: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        enc = ENCODER_FOR.get(method, "cnn-small")
        cmd = [sys.executable, "-m", "ssrl_core", "train", "--dataset", dataset, "--method", method, "--encoder", enc,
               "--epochs", str(epochs), "--seed", str(seed), "--no-umap", "--out", str(out), *extra]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        row = {"bench": "methods_table", "method": method, "dataset": dataset, "encoder": enc, "epochs": epochs, "seed": seed,
               "wall_seconds": round(time.perf_counter() - t0, 1)}
        if res.returncode != 0:
            return {**row, "skipped": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "failed"}
        summary = json.loads((out / "summary.json").read_text())
        return {**row, **{k: summary.get(k) for k in KEYS}}


def markdown(rows: list[dict]) -> str:
    """One line per (dataset, method): mean ± std over the seeds it ran with."""
    def fmt(values, p):
        values = [v for v in values if v is not None]
        if not values:
            return "–"
        return f"{mean(values):.{p}f}" + (f" ± {stdev(values):.{p}f}" if len(values) > 1 else "")

    randoms = {(r["dataset"], r["seed"]): r["knn_accuracy"] for r in rows if r["method"] == "random" and "skipped" not in r}
    lines = ["| dataset | method | encoder | kNN acc | vs random (points) | linear acc | embedding std | eff. rank | train s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["method"], r["encoder"]), []).append(r)
    for (dataset, method, enc), rs in groups.items():
        if any("skipped" in r for r in rs):
            lines.append(f"| {dataset} | `{method}` | {enc} | {rs[0].get('skipped', '')} | | | | | |")
            continue
        col = lambda k: [r.get(k) for r in rs]  # noqa: E731
        gains = [100 * (r["knn_accuracy"] - randoms[(dataset, r["seed"])]) for r in rs
                 if method != "random" and (dataset, r["seed"]) in randoms]
        vs = "" if not gains else f"{mean(gains):+.1f}" + (f" (min {min(gains):+.1f})" if len(gains) > 1 else "")
        lines.append(f"| {dataset} | `{method}` | {enc} | {fmt(col('knn_accuracy'), 3)} | {vs} | "
                     f"{fmt(col('linear_accuracy'), 3)} | {fmt(col('embedding_std'), 4)} | "
                     f"{fmt(col('effective_rank'), 1)} | {fmt(col('train_seconds'), 1)} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="digits")
    ap.add_argument("--methods", default=None, help="comma-separated; default: every registered method")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", default="0", help="comma-separated seeds, each a run per method (default 0)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--extra", default="", help="more flags for train, e.g. '--option stop_gradient=false'")
    return ap


def main() -> None:
    args = build_parser().parse_args()
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
            for seed in (int(x) for x in args.seeds.split(",")):
                row = run(method, dataset, args.epochs, root, env, args.extra.split(), seed)
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.markdown:
        print(markdown(rows))


if __name__ == "__main__":
    main()
