"""Collapse diagnostics of a set of embeddings (logged every epoch and in the summary).

- ``embedding_std``: the standard deviation over samples of the L2-normalised embeddings,
  averaged over dimensions (SimSiam, Chen & He 2021, sec. 4.1). A complete collapse (every
  image mapped to one point) gives 0. Spread evenly over the sphere of dimension d, it is
  about 1/sqrt(d); features after a ReLU are non-negative, so a healthy encoder's value sits
  below that (on digits with cnn-small: random 0.005, SimCLR 0.02, against 1/sqrt(256) =
  0.0625) and the number is best read as a trend over epochs and against 0.
- ``effective_rank``: exp of the entropy of the normalised eigenvalues of the embedding
  covariance (Roy & Vetterli 2007): 1 when all variance lies along one direction
  (dimensional collapse), up to d when it is spread over all of them.
"""
from __future__ import annotations

import numpy as np


def collapse_stats(features: np.ndarray) -> dict[str, float]:
    x = np.asarray(features, dtype=np.float64)
    if len(x) < 2:
        return {"embedding_std": 0.0, "effective_rank": 1.0}
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    std = float(xn.std(0).mean())
    xc = x - x.mean(0)
    ev = np.clip(np.linalg.svd(xc, compute_uv=False) ** 2, 0, None)
    total = ev.sum()
    if total <= 1e-20 * max(1.0, float((x ** 2).sum())):
        return {"embedding_std": std, "effective_rank": 1.0}
    p = ev[ev > 0] / total
    return {"embedding_std": std, "effective_rank": float(np.exp(-(p * np.log(p)).sum()))}
