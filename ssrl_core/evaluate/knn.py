"""Weighted kNN classification on frozen features (Wu et al. 2018, "Unsupervised Feature
Learning via Non-Parametric Instance Discrimination", sec. 3.4).

Features are L2-normalised and searched by inner product (cosine similarity) in a faiss
index of the memory (train split). Each of the k nearest neighbours votes for its class
with weight exp(s_i / tau); the class with the largest total wins. tau=0.07 as in the
paper; k=20 here, where the paper and its code use k=200 on ImageNet (digits has only
about 144 training images a class).
"""
from __future__ import annotations

import numpy as np

from ..data.imageset import KNN_K
from .embed import l2_normalize
from .index import build_index


def checked(memory, memory_labels, queries, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arguments as float32 features [M, D], [Q, D] and integer labels [M] in [0,
    num_classes), or ValueError saying which is wrong (a library user's swapped or misaligned
    arrays met numpy's "axis 1 is out of bounds" or "index 1435 is out of bounds")."""
    memory, queries = (np.asarray(a, dtype=np.float32) for a in (memory, queries))  # torch CPU tensors too
    memory_labels = np.asarray(memory_labels)
    if memory.ndim == 2 and not len(memory):  # (faiss's bare AssertionError)
        raise ValueError("kNN needs a memory of at least one labelled image; it is empty")
    if memory.ndim != 2 or queries.ndim != 2 or memory.shape[1] != queries.shape[1]:
        raise ValueError(f"kNN needs features [M, D] (the memory, train split) and [Q, D] (the queries) of one D; got "
                         f"{list(memory.shape)} and {list(queries.shape)}: the arguments are memory, memory_labels, "
                         "queries(, query_labels), num_classes")
    if memory_labels.shape != (len(memory),) or not np.issubdtype(memory_labels.dtype, np.integer):
        raise ValueError(f"kNN needs one integer label per memory row: {len(memory)} rows, labels of shape "
                         f"{list(memory_labels.shape)} and type {memory_labels.dtype}")
    if len(memory_labels) and memory_labels.min() < 0:  # -1 voted for the last class (numpy's negative index)
        raise ValueError("the memory holds unlabelled images (label -1), which cannot vote: leave them out "
                         "(``probes.labelled_split`` gives the labelled rows)")
    if len(memory_labels) and memory_labels.max() >= num_classes:
        raise ValueError(f"the memory's labels run up to {memory_labels.max()}, above num_classes - 1 = "
                         f"{num_classes - 1}: give num_classes above the largest label")
    return memory, memory_labels, queries


def knn_votes(memory: np.ndarray, memory_labels: np.ndarray, queries: np.ndarray, num_classes: int,
              ks, tau: float = 0.07) -> dict[int, np.ndarray]:
    """Each query's vote totals [Q, num_classes] for each k of ``ks``, from one search for the
    largest k: the k nearest neighbours are the first k of the largest k's, best first."""
    memory, memory_labels, queries = checked(memory, memory_labels, queries, num_classes)
    if bad := [k for k in ks if not (isinstance(k, (int, np.integer)) and k >= 1)]:
        raise ValueError(f"k must be a whole number of neighbours, 1 or more; got {bad[0]!r}")
    mem = l2_normalize(memory)
    q = l2_normalize(queries)
    ks = {k: min(k, len(mem)) for k in ks}
    sims, idx = build_index(mem).search(q, max(ks.values()))  # [Q, max k], most similar first
    weights = np.exp(sims / tau)
    votes = np.zeros((len(q), num_classes), dtype=np.float64)
    rows = np.arange(len(q))
    out, done = {}, 0
    for k, used in sorted(ks.items(), key=lambda kv: kv[1]):  # each k adds the neighbours the last one had not
        for j in range(done, used):  # one neighbour per query: no index repeats, so += adds each weight
            votes[rows, memory_labels[idx[:, j]]] += weights[:, j]
        done = used
        out[k] = votes.copy()
    return out


def knn_predict(memory: np.ndarray, memory_labels: np.ndarray, queries: np.ndarray, num_classes: int,
                k: int = KNN_K, tau: float = 0.07) -> np.ndarray:
    return knn_votes(memory, memory_labels, queries, num_classes, (k,), tau)[k].argmax(1)


def knn_accuracies(memory: np.ndarray, memory_labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray,
                   num_classes: int, ks, tau: float = 0.07) -> dict[int, float]:
    """Accuracy on the queries for each k of ``ks`` (one search: ``knn_votes``)."""
    if np.shape(query_labels) != (len(queries),):
        raise ValueError(f"kNN accuracy needs one label per query: {len(queries)} queries, labels of shape "
                         f"{list(np.shape(query_labels))}")
    query_labels = np.asarray(query_labels)
    return {k: float((votes.argmax(1) == query_labels).mean())
            for k, votes in knn_votes(memory, memory_labels, queries, num_classes, ks, tau).items()}


def knn_accuracy(memory: np.ndarray, memory_labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray,
                 num_classes: int, k: int = KNN_K, tau: float = 0.07) -> float:
    return knn_accuracies(memory, memory_labels, queries, query_labels, num_classes, (k,), tau)[k]
