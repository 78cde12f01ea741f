"""2-D maps of embeddings: PCA (instant) and UMAP (McInnes et al. 2018; cosine metric)."""
from __future__ import annotations

import os

import numpy as np

from .. import paths


def pca_2d(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return (x @ vt[:2].T).astype(np.float32)


def umap_2d(x: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    # numba's compiled functions are cached under SSRL_HOME so later UMAPs skip compiling
    os.environ.setdefault("NUMBA_CACHE_DIR", str(paths.numba_cache_dir()))
    import umap

    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(x) - 1), metric="cosine",
                        random_state=seed, n_jobs=1, init="pca" if len(x) > 3 else "random")
    return reducer.fit_transform(x).astype(np.float32)
