"""What colour augmentation buys on ``shapes``, through the CLI (the README's colour table):

    python -m ssrl_core train --dataset shapes --method simclr --encoder cnn-small --epochs 10
                              --seed S --augment AUG --no-umap --out DIR
    python -m ssrl_core invariance --run DIR
    python -m ssrl_core probe --run DIR --target color|shape --labels-per-class 2 --seeds 10
    python -m ssrl_core probe --run DIR --target color --labels-per-class 0

for every augmentation set and seed, each a fresh process. Prints one JSON line per run
(the invariance score for ``color_jitter``, the colour and shape probes with 2 labels per
value over ``--draws`` draws, the colour probe with every label), then one summary line per
augmentation set: the means over the seeds and, for every set but the first reference
(``crop,flip``), the colour probe's drop from the reference in points, per seed (the same
seed against the same seed) and on average.

    python -m bench.colour_invariance [--seeds 0,1,2] [--epochs 10] [--draws 10]
                                      [--augments 'crop,flip;crop,flip,color_jitter,grayscale']
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import mean

AUGMENTS = "crop,flip;crop,flip,color_jitter,grayscale;crop,flip,color_jitter(hue=0.5),grayscale"


def cli(root: Path, env: dict, *args: str) -> dict:
    res = subprocess.run([sys.executable, "-m", "ssrl_core", *args], cwd=root, env=env, capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise SystemExit(f"`python -m ssrl_core {' '.join(args)}` failed: {res.stderr.strip()[-500:]}")
    return json.loads(res.stdout)  # every command used here prints one JSON document (train: the summary)


def measure(root: Path, env: dict, out: Path, augment: str, seed: int, epochs: int, draws: int) -> dict:
    summary = cli(root, env, "train", "--dataset", "shapes", "--method", "simclr", "--encoder", "cnn-small", "--epochs",
        str(epochs), "--seed", str(seed), "--augment", augment, "--no-umap", "--out", str(out))
    run = str(out)
    inv = cli(root, env, "invariance", "--run", run)["invariance"]["color_jitter"]["score"]
    probe = lambda target, n: cli(root, env, "probe", "--run", run, "--target", target, "--labels-per-class",  # noqa: E731
                                  str(n), "--seeds", str(draws), "--no-references")
    colour2, shape2, colour_all = probe("color", 2), probe("shape", 2), probe("color", 0)
    return {"bench": "colour_invariance", "augment": augment, "seed": seed, "epochs": epochs,
            "invariance_color_jitter": inv, "color_probe_2": colour2["accuracy"], "color_probe_2_std": colour2["std"],
            "shape_probe_2": shape2["accuracy"], "shape_probe_2_std": shape2["std"],
            "color_probe_all": colour_all["accuracy"], "train_seconds": summary.get("train_seconds")}


def summarise(rows: list[dict], augments: list[str]) -> list[dict]:
    ref = {r["seed"]: r["color_probe_2"] for r in rows if r["augment"] == augments[0]}
    out = []
    for aug in augments:
        rs = [r for r in rows if r["augment"] == aug]
        line = {"bench": "colour_invariance", "summary": aug, "seeds": [r["seed"] for r in rs]}
        for k in ("invariance_color_jitter", "color_probe_2", "shape_probe_2", "color_probe_all"):
            line[k] = round(mean(r[k] for r in rs), 4)
        if aug != augments[0]:
            drops = [round(100 * (ref[r["seed"]] - r["color_probe_2"]), 1) for r in rs if r["seed"] in ref]
            line.update(color_drop_points=drops, color_drop_mean=round(mean(drops), 1) if drops else None)
        out.append(line)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated pretraining seeds (default 0,1,2)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--draws", type=int, default=10, help="draws of the labelled images per probe (default 10)")
    ap.add_argument("--augments", default=AUGMENTS,
                    help="';'-separated augmentation sets; the first is the reference the drops are taken from")
    return ap


def main() -> None:
    args = build_parser().parse_args()
    augments = args.augments.split(";")
    root = Path(__file__).resolve().parents[1]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SSRL_HOME=os.environ.get("SSRL_HOME") or str(Path(tmp) / "home"))
        for seed in (int(s) for s in args.seeds.split(",")):
            for i, aug in enumerate(augments):
                row = measure(root, env, Path(tmp) / f"s{seed}-{i}", aug, seed, args.epochs, args.draws)
                rows.append(row)
                print(json.dumps(row), flush=True)
    for line in summarise(rows, augments):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
