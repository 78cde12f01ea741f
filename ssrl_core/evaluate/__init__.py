"""Evaluation after training: embeddings, kNN, linear readout, 2-D maps.

``evaluate_trained`` writes what the pages show into the run folder, cheapest first, so a
page can show the PCA map and the accuracies while the UMAP is still being computed.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ..runs import artifacts as art
from .collapse import collapse_stats
from .embed import embed, embed_features
from .knn import KNN_K, knn_accuracy
from .linear import linear_probe_accuracy
from .project import pca_2d, umap_2d

__all__ = ["evaluate_trained", "embed", "knn_accuracy", "linear_probe_accuracy", "pca_2d", "umap_2d"]


def evaluate_trained(trained, run_dir: Path, on_event: Callable[[dict], None] | None = None,
                     with_umap: bool = True) -> dict:
    """Embed the whole set, score kNN and linear readout, write the maps.
    Returns the metrics dict (also merged into ``run_dir/metrics.json``). Its
    ``linear_seconds`` and ``umap_seconds`` include, in a process that has not loaded them yet,
    scikit-learn's and UMAP's imports (about 1.5 s and 2.8 s, most of a ``train`` command's
    numbers: the fit itself takes 0.1 s on digits); a worker loads them while it waits
    (``worker.preload_imports``), so its runs' numbers are the work alone."""
    emit = on_event or (lambda e: None)
    ds = trained.dataset
    t0 = time.perf_counter()
    emit({"kind": "phase", "phase": "embedding"})
    feats = embed(trained.method.encoder, ds.images, trained.device)
    art.save_npy(run_dir / art.EMBEDDINGS, feats)
    art.save_npy(run_dir / art.MAP_PCA, pca_2d(feats))

    head = trained.method.embedder()
    z = embed_features(head, feats, trained.device) if head is not None else None
    metrics: dict = {"embed_seconds": round(time.perf_counter() - t0, 3), **collapse_stats(feats, z)}
    tr, te = ds.train_idx.numpy(), ds.test_idx.numpy()
    y = ds.labels.numpy()
    tr, te = tr[y[tr] >= 0], te[y[te] >= 0]
    metrics["test_images"] = int(len(te))  # what the accuracies are scored on: their noise (``readouts.noise_band``)
    if len(tr) and len(te):
        emit({"kind": "phase", "phase": "knn"})
        metrics["knn_accuracy"] = knn_accuracy(feats[tr], y[tr], feats[te], y[te], ds.num_classes, k=KNN_K, tau=0.07)
        emit({"kind": "phase", "phase": "linear probe"})
        t1 = time.perf_counter()
        metrics["linear_accuracy"] = linear_probe_accuracy(feats[tr], y[tr], feats[te], y[te])
        metrics["linear_seconds"] = round(time.perf_counter() - t1, 3)
    else:
        metrics["knn_accuracy"] = metrics["linear_accuracy"] = None
    art.write_json(run_dir / art.METRICS, metrics)
    emit({"kind": "metrics", **metrics})

    if with_umap:
        emit({"kind": "phase", "phase": "umap"})
        t2 = time.perf_counter()
        art.save_npy(run_dir / art.MAP_UMAP, umap_2d(feats, seed=trained.config.seed))
        metrics["umap_seconds"] = round(time.perf_counter() - t2, 3)
        art.write_json(run_dir / art.METRICS, metrics)
    metrics["eval_seconds"] = round(time.perf_counter() - t0, 3)
    art.write_json(run_dir / art.METRICS, metrics)
    return metrics
