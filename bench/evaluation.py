"""The evaluation issue's acceptance measurements, through the CLI, one JSON line each:

1. colour invariance on shapes: SimCLR with ``crop,flip,color_jitter,grayscale`` against
   ``crop,flip`` (same seed, 10 epochs): the invariance score of ``color_jitter`` and the
   colour- and shape-factor probes with 2 labels per value;
2. labels are expensive on digits: SimCLR (10 epochs) + linear readout against supervised
   training from scratch with the same augmentations, at every label budget.

    python -m bench.evaluation [--epochs 10] [--only colour|labels] [--out DIR]

Run folders are kept in ``--out`` (default: a temporary folder), so a second call reuses
the trained runs and cached probes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> dict:
    res = subprocess.run([sys.executable, "-m", "ssrl_core", *args], cwd=ROOT, env=os.environ.copy(),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"`ssrl_core {' '.join(args)}` failed: {res.stderr.strip()[-500:]}")
    return json.loads(res.stdout)


def train(out: Path, dataset: str, augment: str | None, epochs: int) -> dict:
    if (out / "summary.json").exists():
        return json.loads((out / "summary.json").read_text())
    args = ["train", "--dataset", dataset, "--method", "simclr", "--encoder", "cnn-small", "--epochs", str(epochs),
            "--no-umap", "--out", str(out)]
    return cli(*args, *(["--augment", augment] if augment else []))


def colour(root: Path, epochs: int) -> dict:
    row = {"bench": "evaluation", "measure": "colour invariance on shapes", "epochs": epochs}
    for name, aug in (("with_color", "crop,flip,color_jitter,grayscale"), ("without_color", "crop,flip")):
        summary = train(root / f"shapes-{name}", "shapes", aug, epochs)
        inv = cli("invariance", "--run", str(root / f"shapes-{name}"))
        probes = json.loads((root / f"shapes-{name}" / "probes.json").read_text())["factors"]
        row[name] = {"augment": aug, "knn_accuracy": summary["knn_accuracy"], "train_seconds": summary["train_seconds"],
                     "invariance": {op: v.get("score") for op, v in inv["invariance"].items()},
                     "color_probe_2": probes["color"]["2"]["mean"], "shape_probe_2": probes["shape"]["2"]["mean"],
                     "color_probe_all": probes["color"]["all"]["mean"], "shape_probe_all": probes["shape"]["all"]["mean"]}
    w, wo = row["with_color"], row["without_color"]
    row["color_jitter_invariance_rise"] = w["invariance"]["color_jitter"] - wo["invariance"]["color_jitter"]
    row["color_probe_2_drop_points"] = 100 * (wo["color_probe_2"] - w["color_probe_2"])
    return row


def labels(root: Path, epochs: int) -> dict:
    summary = train(root / "digits-simclr", "digits", None, epochs)
    curve = cli("probe", "--run", str(root / "digits-simclr"))["results"]
    return {"bench": "evaluation", "measure": "label efficiency on digits", "epochs": epochs,
            "knn_accuracy": summary["knn_accuracy"],
            "curve": {b: {"simclr_linear": v["accuracy"], "std": v["std"], "random_linear": v["random_linear"],
                          "supervised_scratch": v["supervised_scratch"]} for b, v in curve.items()},
            "gain_over_supervised_at_1_points": 100 * (curve["1"]["accuracy"] - curve["1"]["supervised_scratch"])}


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--only", choices=["colour", "labels"], default=None)
    ap.add_argument("--out", default=None, help="folder for the run folders (kept; reused on a second call)")
    return ap


def main() -> None:
    args = build_parser().parse_args()
    os.environ.setdefault("SSRL_HOME", str(Path(tempfile.gettempdir()) / "ssrl-bench-home"))
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="ssrl-bench-eval-"))
    root.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "labels"):
        print(json.dumps(labels(root, args.epochs)), flush=True)
    if args.only in (None, "colour"):
        print(json.dumps(colour(root, args.epochs)), flush=True)


if __name__ == "__main__":
    main()
