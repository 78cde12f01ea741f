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


def knn_predict(memory: np.ndarray, memory_labels: np.ndarray, queries: np.ndarray, num_classes: int,
                k: int = KNN_K, tau: float = 0.07) -> np.ndarray:
    mem = l2_normalize(memory)
    q = l2_normalize(queries)
    k = min(k, len(mem))
    sims, idx = build_index(mem).search(q, k)  # [Q, k]
    weights = np.exp(sims / tau)
    votes = np.zeros((len(q), num_classes), dtype=np.float64)
    np.add.at(votes, (np.arange(len(q))[:, None].repeat(k, 1), memory_labels[idx]), weights)
    return votes.argmax(1)


def knn_accuracy(memory: np.ndarray, memory_labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray,
                 num_classes: int, k: int = KNN_K, tau: float = 0.07) -> float:
    pred = knn_predict(memory, memory_labels, queries, num_classes, k, tau)
    return float((pred == query_labels).mean())
