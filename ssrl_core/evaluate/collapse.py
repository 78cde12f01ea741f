"""Collapse diagnostics (logged every epoch and in the summary).

- ``embedding_std``: SimSiam's collapse metric (Chen & He 2021, sec. 4.1, Fig. 2): the
  standard deviation over samples of the L2-normalised embedding z, averaged over its d
  dimensions. It is read where the paper reads it, on the embedding the method's objective
  compares (its projector's output, ``PretextMethod.embedder`` on the features), and on the encoder's
  features for methods without one. A complete collapse (every image mapped to one point)
  gives 0; embeddings spread over the sphere give about 1/sqrt(d) (``embedding_dim`` is d).
  Encoder features come after a ReLU, so they are non-negative and even a healthy encoder
  sits well below 1/sqrt(d) there (digits, cnn-small: random 0.005, against 1/sqrt(256) =
  0.0625); for those methods the number is a trend to read over epochs and against 0.
- ``effective_rank``: Roy & Vetterli's (2007) effective rank, exp of the entropy of the
  normalised singular values, taken of the covariance matrix of the encoder's features, the
  representation every probe reads: its singular values are its eigenvalues, the squared
  singular values of the centred features. 1 when all variance lies along one direction
  (dimensional collapse), up to d when it is spread evenly over all of them. RankMe
  (Garrido et al. 2023) applies the same measure to the singular values of the feature
  matrix itself (not squared, not centred), so its numbers differ from these.
"""
from __future__ import annotations

import numpy as np


def embedding_std(embeddings: np.ndarray) -> float:
    x = np.asarray(embeddings, dtype=np.float64)
    if len(x) < 2:
        return 0.0
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return float(xn.std(0).mean())


def effective_rank(features: np.ndarray) -> float:
    x = np.asarray(features, dtype=np.float64)
    if len(x) < 2:
        return 1.0
    xc = x - x.mean(0)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # a small SVD: 0.018 s on one BLAS thread, 0.044 s on two, 3.4 s beside a busy core
        ev = np.clip(np.linalg.svd(xc, compute_uv=False) ** 2, 0, None)
    total = ev.sum()
    if total <= 1e-20 * max(1.0, float((x ** 2).sum())):
        return 1.0
    p = ev[ev > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def collapse_stats(features: np.ndarray, embeddings: np.ndarray | None = None) -> dict[str, float]:
    """``embedding_std`` of ``embeddings`` (the features when None), ``embedding_dim`` and
    ``effective_rank`` of ``features``."""
    z = features if embeddings is None else embeddings
    return {"embedding_std": embedding_std(z), "embedding_dim": int(np.shape(z)[1]),
            "effective_rank": effective_rank(features)}
