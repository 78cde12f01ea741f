"""The UMAP map's neighbour graph for a large set: the exact faiss search against the
approximate one (IVF) that ``ssrl_core.evaluate.project.knn_graph`` uses from
``APPROX_FROM`` points on, each timed on the whole set, and the approximate graph's
recall@k (the share of each point's k true nearest it finds), on ``--queries`` rows drawn
at random. Prints one JSON line per number of lists probed. With ``--map`` it then
makes the whole UMAP map (``umap_2d``) from each graph and prints how long each took and how
many of the sampled rows' k true nearest (in the features) are among their k nearest on
each map: the map's own faithfulness, which an approximate graph should not lower.

    python -m bench.knn_graph --embeddings RUN_DIR/embeddings.npy [--nprobe 8 16] [--queries 2000] [--map]

Use a finished CIFAR-10 run's embeddings (``bench/fake_cifar10.py``, then ``submit`` and
``worker``): a trained encoder's features and an untrained (``random``) one's, whose
classes lie less apart, differ in how hard the search is.
"""
from __future__ import annotations

import argparse
import json
import time


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", required=True, help="a run folder's embeddings.npy")
    ap.add_argument("--nprobe", type=int, nargs="+", default=None, help="lists probed (default: the library's)")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--k", type=int, default=15)
    ap.add_argument("--skip-exact", action="store_true", help="do not time the exact graph of the whole set")
    ap.add_argument("--map", action="store_true", help="also make the UMAP map from each graph (minutes)")
    return ap


def main() -> None:
    args = build_parser().parse_args()
    import numpy as np

    from ssrl_core.evaluate import project
    from ssrl_core.evaluate.embed import l2_normalize
    from ssrl_core.evaluate.index import build_index

    x = np.load(args.embeddings)
    n, k = len(x), args.k
    rows = np.sort(np.random.default_rng(0).choice(n, min(n, args.queries), replace=False))
    xn = l2_normalize(x)
    _, truth = build_index(xn).search(xn[rows], k)
    exact_s = None
    if not args.skip_exact:
        t0 = time.perf_counter()
        project.knn_graph(x, k, approximate=False)
        exact_s = round(time.perf_counter() - t0, 2)
    for nprobe in args.nprobe or [project.APPROX_NPROBE]:
        default = project.APPROX_NPROBE
        project.APPROX_NPROBE = nprobe
        t0 = time.perf_counter()
        idx, _ = project.knn_graph(x, k, approximate=True)
        approx_s = round(time.perf_counter() - t0, 2)
        project.APPROX_NPROBE = default
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(idx[rows], truth)]))
        print(json.dumps({"bench": "knn_graph", "points": n, "dim": x.shape[1], "k": k, "nprobe": nprobe,
                          "exact_s": exact_s, "approximate_s": approx_s, f"recall@{k}": round(recall, 4),
                          "worst_point_recall": round(float(min(len(set(a) & set(b)) / k
                                                                for a, b in zip(idx[rows], truth))), 3)}),
              flush=True)
    if args.map:
        out = {"bench": "knn_graph_map", "points": n}
        for name, start in (("exact", n + 1), ("approximate", 0)):
            default = project.APPROX_FROM
            project.APPROX_FROM = start
            t0 = time.perf_counter()
            m = project.umap_2d(x, seed=0)
            out[f"{name}_map_s"] = round(time.perf_counter() - t0, 1)
            project.APPROX_FROM = default
            _, near = _map_neighbours(m, rows, k)
            out[f"{name}_map_keeps"] = round(float(np.mean([len(set(a) & set(b)) / k for a, b in zip(near, truth)])), 4)
        print(json.dumps(out), flush=True)


def _map_neighbours(m, rows, k):
    """(distances, indices) of each sampled row's k nearest on the 2-D map (itself included)."""
    import faiss
    import numpy as np

    m = np.ascontiguousarray(m, dtype=np.float32)
    index = faiss.IndexFlatL2(2)
    index.add(m)
    return index.search(m[rows], k)


if __name__ == "__main__":
    main()
