"""faiss inner-product indexes: on the GPU when faiss sees one, on the CPU otherwise."""
from __future__ import annotations

import numpy as np

from ..device import faiss_use_gpu

_GPU_RES = None


def _on_device(index):
    """The index on the GPU when faiss sees one (one set of GPU resources per process)."""
    if not faiss_use_gpu():
        return index
    import faiss

    global _GPU_RES
    if _GPU_RES is None:
        _GPU_RES = faiss.StandardGpuResources()
    return faiss.index_cpu_to_gpu(_GPU_RES, 0, index)


def build_index(vectors: np.ndarray):
    """An exact inner-product index over float32 vectors [N, D]."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = _on_device(faiss.IndexFlatIP(vectors.shape[1]))
    index.add(vectors)
    return index


def build_ivf_index(vectors: np.ndarray, nprobe: int):
    """An approximate inner-product index over float32 vectors [N, D], on the CPU: faiss's
    inverted file (IVF) with about sqrt(N) k-means lists, searching each query's ``nprobe``
    nearest lists only. For the kNN graph of a large map, where the exact index costs
    O(N^2 D) (15 s for CIFAR-10's 60,000 x 256 on 2 cores); ``bench/knn_graph.py`` measures
    its recall against the exact index."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    nlist = max(1, int(round(np.sqrt(len(vectors)))))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(vectors.shape[1]), vectors.shape[1], nlist,
                               faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add(vectors)
    index.nprobe = min(nprobe, nlist)
    return index
