"""Write a full-size CIFAR-10 (60,000 32x32 colour images) in its real on-disk format, for
trying the tool at the scale of a real downloadable set where there is no network.

    python -m bench.fake_cifar10 [--root SSRL_HOME/data] [--per-batch 10000] [--test 10000]

The files are the python pickles of ``cifar-10-python.tar.gz`` (``data_batch_1`` ..
``data_batch_5``, ``test_batch``, ``batches.meta``, protocol 2 with bytes keys, as the
originals), in ``ROOT/cifar10/cifar-10-batches-py/``. The images are procedural: each class
has its own hue and blob shape (disc, square, ring, bar, cross, ...) at a random position,
size and brightness on a noisy background of a random colour, so that a method can learn
something, but nothing here is CIFAR's content. Prints one JSON line: where, how many,
seconds, bytes.
"""
from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# one hue per class (RGB in 0..1); two pairs share a hue and differ only in shape
_HUES = np.array([
    [0.9, 0.2, 0.2], [0.2, 0.8, 0.2], [0.2, 0.3, 0.9], [0.9, 0.8, 0.2], [0.8, 0.3, 0.8],
    [0.2, 0.8, 0.8], [0.95, 0.55, 0.1], [0.5, 0.5, 0.5], [0.2, 0.3, 0.9], [0.9, 0.2, 0.2],
], dtype=np.float32)


def draw(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 [N, 3, 32, 32] images of ``labels``, drawn in one vectorised pass."""
    n = len(labels)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    cx = rng.uniform(9, 23, size=(n, 1, 1)).astype(np.float32)
    cy = rng.uniform(9, 23, size=(n, 1, 1)).astype(np.float32)
    r = rng.uniform(5, 10, size=(n, 1, 1)).astype(np.float32)
    dx, dy = (xx - cx) / r, (yy - cy) / r
    d2 = dx * dx + dy * dy
    shape = labels % 5  # 0 disc, 1 square, 2 ring, 3 bar, 4 cross
    masks = np.stack([
        d2 <= 1,
        (np.abs(dx) <= 0.8) & (np.abs(dy) <= 0.8),
        (d2 <= 1) & (d2 >= 0.45),
        (np.abs(dx) <= 1) & (np.abs(dy) <= 0.3),
        ((np.abs(dx) <= 0.25) | (np.abs(dy) <= 0.25)) & (d2 <= 1),
    ], axis=1)  # [n, 5, 32, 32]
    mask = masks[np.arange(n), shape].astype(np.float32)[:, None]  # [n, 1, 32, 32]
    fg = _HUES[labels] * rng.uniform(0.6, 1.0, size=(n, 1)).astype(np.float32)  # [n, 3]
    bg = rng.uniform(0, 0.6, size=(n, 3)).astype(np.float32)
    img = mask * fg[:, :, None, None] + (1 - mask) * bg[:, :, None, None]
    img += rng.normal(0, 0.06, size=img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def write(root: Path, per_batch: int = 10000, n_test: int = 10000, seed: int = 0) -> dict:
    folder = Path(root) / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0, total = time.perf_counter(), 0
    for fname, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        labels = rng.integers(0, 10, size=n)
        data = draw(labels, rng).reshape(n, 3072)  # each row: the R, then G, then B plane
        d = {b"batch_label": fname.encode(), b"labels": [int(v) for v in labels], b"data": data,
             b"filenames": [f"{fname}_{i}.png".encode() for i in range(n)]}
        (folder / fname).write_bytes(pickle.dumps(d, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps(
        {b"num_cases_per_batch": per_batch, b"label_names": [s.encode() for s in NAMES], b"num_vis": 3072},
        protocol=2))
    total = sum(p.stat().st_size for p in folder.iterdir())
    return {"folder": str(folder), "images": 5 * per_batch + n_test, "seconds": round(time.perf_counter() - t0, 2),
            "bytes": total}


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))  # (its first sentence whole)
    p.add_argument("--root", default=None, help="the data folder (default SSRL_HOME/data)")
    p.add_argument("--per-batch", type=int, default=10000)
    p.add_argument("--test", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    return p


def main() -> None:
    from ssrl_core import paths

    a = build_parser().parse_args()
    print(json.dumps(write(Path(a.root) if a.root else paths.data_dir(), a.per_batch, a.test, a.seed)))


if __name__ == "__main__":
    main()
