"""2-D maps of embeddings: PCA (instant) and UMAP (McInnes, Healy, Melville 2018).

UMAP here is umap-learn's layout optimiser fed with a neighbour graph built our own way:

1. the k nearest neighbours of every point by cosine similarity, from an exact faiss
   inner-product index over the L2-normalised features (distance = 1 - cosine), or from
   20,000 points on, on a CPU, an approximate one (``knn_graph``);
2. the fuzzy simplicial set of UMAP's paper (sec. 3.1, eqs. in Def. 8-9): per point,
   rho_i = distance to its nearest neighbour, sigma_i found by bisection so that
   sum_j exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k); edge weights
   w_ij = exp(-max(0, d_ij - rho_i) / sigma_i), then the fuzzy union
   W = P + P^T - P * P^T;
3. ``umap.umap_.simplicial_set_embedding`` (the same SGD layout ``umap.UMAP`` runs).

Why not ``umap.UMAP`` directly: its neighbour search (pynndescent) and graph step are
numba functions that are compiled again in every new process (about 14 s on a 2-core
CPU, for any size of data), while the steps above cost milliseconds; the layout optimiser
is numba-cached in ``SSRL_HOME/cache/numba``. The graph matches umap-learn's own to
within 0.005 per edge weight (tested). ``bench/umap_map.py`` measures both.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import paths


def pca_2d(x: np.ndarray) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    x = x - x.mean(0, keepdims=True)
    with threadpool_limits(1):  # as the linear readout (linear.py): two BLAS threads beside a busy core stall (6.1 s)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
    return (x @ vt[:2].T).astype(np.float32)


# From this many points on, on a CPU, the neighbour graph is searched approximately (faiss
# IVF, ``index.build_ivf_index``) with this many of its ~sqrt(N) lists probed: for CIFAR-10's
# 60,000 images it takes a quarter to a third of the exact search's time (5.3 s against 16 s
# on 2 cores; 10 s against 44 s when they were shared) and finds 98.4% of the 15 true nearest
# of an untrained encoder's features, 99.7% of a trained one's; the map made from it keeps
# each point's true neighbours as well as the exact graph's map (``bench/knn_graph.py``).
# Below it (digits, shapes, the per-epoch maps' subsets) the graph is exact and the map is
# byte for byte what it was; on a GPU, where the exact search takes milliseconds, exact too.
APPROX_FROM = 20_000
APPROX_NPROBE = 8


def knn_graph(x: np.ndarray, k: int, approximate: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine distances [N, k] of every point's k nearest (itself included):
    exact, or approximate where ``approximate`` says (by default from ``APPROX_FROM`` points
    on, unless faiss has a GPU)."""
    from ..device import faiss_use_gpu
    from .embed import l2_normalize
    from .index import build_index, build_ivf_index

    xn = l2_normalize(x)
    if approximate is None:
        approximate = len(xn) >= APPROX_FROM and not faiss_use_gpu()
    index = build_ivf_index(xn, APPROX_NPROBE) if approximate else build_index(xn)
    sims, idx = index.search(xn, k)
    return idx, np.clip(1.0 - sims, 0.0, 2.0)


def fuzzy_simplicial_set(idx: np.ndarray, dist: np.ndarray, n_iter: int = 64):
    """UMAP's symmetric fuzzy graph (scipy COO) from a kNN graph; see the module docstring."""
    import scipy.sparse as sp

    n, k = idx.shape
    w = memberships(dist, n_iter)
    w[idx == np.arange(n)[:, None]] = 0.0
    w[idx < 0] = 0.0
    rows = np.repeat(np.arange(n), k)
    p = sp.csr_matrix((w.ravel(), (rows, np.maximum(idx, 0).ravel())), shape=(n, n))
    p.eliminate_zeros()
    pt = p.T.tocsr()
    return (p + pt - p.multiply(pt)).tocoo()


def memberships(dist: np.ndarray, n_iter: int = 64) -> np.ndarray:
    """UMAP's membership strengths [n, k] of each point's k nearest, from their distances [n, k]
    (the point itself first, at 0): exp(-(d - rho) / sigma), rho its nearest positive distance and
    sigma set by bisection so that its neighbours' strengths (itself left out) sum to log2(k).
    The nearest count most, the rest fall off at the point's own scale."""
    n, k = dist.shape
    d = dist.astype(np.float64)
    positive = np.where(d > 0, d, np.inf)
    rho = positive.min(1)
    rho[~np.isfinite(rho)] = 0.0
    target = np.log2(k)
    lo, hi, sigma = np.zeros(n), np.full(n, np.inf), np.ones(n)
    for _ in range(n_iter):  # bisection on sigma, all points at once (first column is the point itself)
        psum = np.exp(-np.maximum(d[:, 1:] - rho[:, None], 0.0) / sigma[:, None]).sum(1)
        too_wide = psum > target
        hi = np.where(too_wide, sigma, hi)
        lo = np.where(too_wide, lo, sigma)
        sigma = np.where(np.isinf(hi), sigma * 2, (lo + hi) / 2)
    floor = 1e-3 * np.where(rho > 0, d.mean(1), d.mean())  # umap's MIN_K_DIST_SCALE
    sigma = np.maximum(sigma, floor)
    return np.exp(-np.maximum(d - rho[:, None], 0.0) / sigma[:, None])


def numba_cache() -> Path:
    """Where numba keeps the compiled layout functions: ``NUMBA_CACHE_DIR`` when set, else
    ``SSRL_HOME/cache/numba`` (then exported, so numba and child processes use it)."""
    if "NUMBA_CACHE_DIR" not in os.environ:  # (not made in SSRL_HOME when it is set elsewhere)
        os.environ["NUMBA_CACHE_DIR"] = str(paths.numba_cache_dir())
    return Path(os.environ["NUMBA_CACHE_DIR"])


def umap_2d(x: np.ndarray, seed: int = 0, n_neighbors: int = 15, n_epochs: int = 200,
            init: np.ndarray | str = "spectral", min_dist: float = 0.1) -> np.ndarray:
    """A 2-D UMAP of features [N, D] (cosine metric). ``init`` may be an [N, 2] array (e.g.
    the previous map, so successive maps stay aligned)."""
    n = len(x)
    if n < 4:
        return pca_2d(x) if n > 1 else np.zeros((n, 2), np.float32)
    numba_cache()  # set before numba loads
    from umap.umap_ import find_ab_params, simplicial_set_embedding

    k = min(n_neighbors, n - 1)
    idx, dist = knn_graph(x, k)
    graph = fuzzy_simplicial_set(idx, dist)
    a, b = find_ab_params(1.0, min_dist)
    if isinstance(init, np.ndarray):
        init = np.asarray(init, dtype=np.float64)
    emb, _ = simplicial_set_embedding(
        x, graph, 2, 1.0, a, b, 1.0, 5, n_epochs, init, np.random.RandomState(seed), "cosine", {},
        False, {}, False,
    )
    return np.nan_to_num(emb).astype(np.float32)


def layout_cache_warm() -> bool:
    """Whether numba's cache holds the layout's compiled code: whether ``warm_layout_cache``
    ran to its end into it for this install of umap-learn (``warm_marker``). Any compiled file
    was taken for a warm cache: the first of some 38 is written 4 s into the 20 s compile, so
    a warm-up cut short there left every map of the home to wait for the rest."""
    return warm_marker(numba_cache()).exists()


def warm_marker(cache: Path) -> Path:
    """The file ``warm_layout_cache`` writes in ``cache`` once it has compiled everything,
    named for this install of umap-learn (its module's path and time: another install's
    compiled code is not this one's). Found without importing umap (3 s)."""
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("umap")
    origin = (spec.origin or "") if spec else ""
    try:
        origin += f":{os.stat(origin).st_mtime_ns}"
    except OSError:
        pass
    return cache / f"ssrl-layout-{hashlib.sha1(origin.encode()).hexdigest()[:12]}.compiled"


def warm_layout_cache() -> None:
    """Compile UMAP's layout functions into the numba cache with a tiny map (the types match
    every real map's), so the first map of a new SSRL_HOME does not wait for the compiler
    (about 20 s on 2 cores), then mark the cache warm (``warm_marker``). The worker runs this
    at low priority when it starts."""
    x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    umap_2d(x, n_epochs=5)
    marker = warm_marker(numba_cache())
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


if __name__ == "__main__":  # python -m ssrl_core.evaluate.project --warm
    import sys

    if sys.argv[1:] != ["--warm"]:
        sys.exit("usage: python -m ssrl_core.evaluate.project --warm")
    if hasattr(os, "nice"):
        os.nice(10)  # behind any training that runs meanwhile
    warm_layout_cache()
