"""How long a 2-D map takes in a fresh process: ssrl_core's UMAP (faiss kNN graph + numpy
fuzzy set + umap-learn's cached layout) against ``umap.UMAP`` itself, on the features of a
random cnn-small over a dataset. Prints one JSON line.

    python -m bench.umap_map [--dataset digits] [--impl ours|umap-learn|both]

Each implementation runs in its own new process (the cost a worker or a CLI run pays),
twice: ``first_s`` includes numba compilation, ``again_s`` is the same call repeated.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
import numpy as np
x = np.load(sys.argv[1]); impl = sys.argv[2]
def ours():
    from ssrl_core.evaluate.project import umap_2d
    return umap_2d(x, seed=0)
def reference():
    import umap
    return umap.UMAP(n_components=2, n_neighbors=15, metric="cosine", random_state=0, n_jobs=1).fit_transform(x)
f = ours if impl == "ours" else reference
t = time.perf_counter(); f(); first = time.perf_counter() - t
t = time.perf_counter(); f(); again = time.perf_counter() - t
print(json.dumps({"first_s": round(first, 2), "again_s": round(again, 2)}))
"""


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--impl", default="both", choices=["ours", "umap-learn", "both"])
    return ap


def main() -> None:
    args = build_parser().parse_args()

    import numpy as np
    import torch

    from ssrl_core.data import load_dataset
    from ssrl_core.evaluate.embed import embed
    from ssrl_core.models import build_encoder

    ds = load_dataset(args.dataset)
    torch.manual_seed(0)
    feats = embed(build_encoder("cnn-small", ds.channels), ds.images, torch.device("cpu"))
    out = {"bench": "umap_map", "dataset": args.dataset, "n": len(feats), "dim": feats.shape[1]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.npy"
        np.save(path, feats)
        for impl in (["ours", "umap-learn"] if args.impl == "both" else [args.impl]):
            res = subprocess.run([sys.executable, "-c", CHILD, str(path), impl], capture_output=True, text=True,
                                 check=True, cwd=Path(__file__).resolve().parents[1])
            out[impl] = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
