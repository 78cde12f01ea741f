"""What is measured during pretraining, once before the first epoch and after each one, on a
fixed subset of images (one forward pass, well under a second on a CPU for cnn-small):

- collapse diagnostics (``embedding_std`` of the method's embedding, ``effective_rank`` of
  the encoder's features; see ``collapse.py``) of up to 512 train images;
- ``epoch_knn``: weighted kNN accuracy (k=20) of up to 512 test images against a memory of
  up to 1,024 labelled train images, so every run has an accuracy-over-pretraining curve
  (lower than the final ``knn_accuracy``, whose memory is the whole train split);
- a snapshot of the subset's features (float16) for the map-evolution slider, kept for
  every epoch of runs up to 20 epochs and for 21 evenly spaced epochs of longer ones.

Records go to ``RUN/epochs.jsonl`` (one JSON object per epoch, epoch 0 = the initial
encoder) and snapshots to ``RUN/snapshots/``; a resumed run drops records of epochs it
will train again.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..runs import artifacts as art
from .collapse import collapse_stats
from .embed import embed, embed_features
from .knn import knn_accuracy

EPOCHS_LOG = "epochs.jsonl"
SNAPSHOTS = "snapshots"
MEMORY, QUERIES, COLLAPSE = 1024, 512, 512


def snapshot_epochs(epochs: int) -> set[int]:
    if epochs <= 20:
        return set(range(epochs + 1))
    return {int(e) for e in np.unique(np.linspace(0, epochs, 21).round())}


def read_epochs(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / EPOCHS_LOG
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash
        if isinstance(entry, dict):  # one epoch's record; anything else is no epoch
            out.append(entry)
    return out


def read_snapshots(run_dir: Path) -> tuple[np.ndarray | None, dict[int, np.ndarray]]:
    """(dataset rows of the subset, {epoch: features [n, D] float32})."""
    d = Path(run_dir) / SNAPSHOTS
    try:
        rows = np.load(d / "rows.npy")
    except (FileNotFoundError, ValueError):
        return None, {}
    snaps = {}
    for p in sorted(d.glob("e*.npy")):
        try:
            snaps[int(p.stem[1:])] = np.load(p).astype(np.float32)
        except (ValueError, OSError):
            continue
    return rows, snaps


class EpochProbe:
    def __init__(self, dataset, run_dir: Path, seed: int, epochs: int, device: torch.device, precision=None):
        rng = np.random.default_rng(seed)
        y = dataset.labels.numpy()
        tr, te = dataset.train_idx.numpy(), dataset.test_idx.numpy()
        labelled = dataset.has_labels
        if labelled:
            tr, te = tr[y[tr] >= 0], te[y[te] >= 0]
        mem = rng.permutation(tr)[:MEMORY]
        queries = rng.permutation(te)[:QUERIES] if labelled else te[:0]
        self.rows = np.concatenate([mem, queries])
        self.n_mem = len(mem)
        self.labels = y[self.rows]
        self.labelled = labelled and len(queries) > 0
        self.num_classes = dataset.num_classes
        self.images = dataset.images[torch.as_tensor(self.rows)].to(device)
        # the training's precision (device.Precision; None: float32): the probe is a progress reading after every epoch,
        # and in float32 it took a quarter of an epoch's time on a CPU that trains in bfloat16 (0.47 s against 0.25 s;
        # epoch_knn 0.9415 either way). The run's final evaluation stays in float32.
        self.device, self.precision = device, precision
        self.dir = Path(run_dir)
        self.keep = snapshot_epochs(epochs)
        (self.dir / SNAPSHOTS).mkdir(parents=True, exist_ok=True)
        art.save_npy(self.dir / SNAPSHOTS / "rows.npy", self.rows)

    def start(self, start_epoch: int) -> list[dict]:
        """Forget records after ``start_epoch``, the last epoch the checkpoint holds (the ones
        after it are about to be trained again); a fresh start (0) forgets them all. Returns
        the records kept."""
        kept = [r for r in read_epochs(self.dir) if r.get("epoch", 0) <= start_epoch] if start_epoch else []
        (self.dir / EPOCHS_LOG).write_text("".join(json.dumps(r) + "\n" for r in kept))
        return kept

    def __call__(self, encoder: torch.nn.Module, epoch: int, record: dict | None = None,
                 embedder: torch.nn.Module | None = None) -> dict:
        """Measure, append the epoch's record (with ``record``'s fields) and return the measures.
        ``embedder`` (a method's ``embedder()``, applied to the features just computed) gives
        the embedding ``embedding_std`` reads."""
        f = embed(encoder, self.images, self.device, precision=self.precision)
        n = min(self.n_mem, COLLAPSE)
        z = embed_features(embedder, f[:n], self.device) if embedder is not None else None
        out = collapse_stats(f[:n], z)
        if self.labelled:
            out["epoch_knn"] = knn_accuracy(f[: self.n_mem], self.labels[: self.n_mem], f[self.n_mem :],
                                            self.labels[self.n_mem :], self.num_classes)
        if epoch in self.keep:
            art.save_npy(self.dir / SNAPSHOTS / f"e{epoch:05d}.npy", f.astype(np.float16))
        with open(self.dir / EPOCHS_LOG, "a") as fh:
            fh.write(json.dumps({**(record or {}), "epoch": epoch, **out}) + "\n")
        return out


MAPS = "maps.npz"


def evolution_maps(run_dir: Path, seed: int = 0, on_epoch=None) -> dict[int, np.ndarray]:
    """UMAP of every snapshot, each initialised from the previous epoch's map (the first
    from a spectral layout) so the points move continuously from frame to frame; each map
    centred and scaled to unit spread. Cached in ``snapshots/maps.npz``."""
    from .project import umap_2d

    d = Path(run_dir) / SNAPSHOTS
    cached = read_maps(run_dir)
    rows, snaps = read_snapshots(run_dir)
    if rows is None or not snaps:
        return {}
    if cached and set(cached) == set(snaps):
        return cached
    maps: dict[int, np.ndarray] = {}
    prev = None
    for epoch in sorted(snaps):
        m = umap_2d(snaps[epoch], seed=seed, init=prev if prev is not None else "spectral",
                    n_epochs=200 if prev is None else 100)
        m = (m - m.mean(0)) / max(float(m.std()), 1e-8)
        maps[epoch] = m.astype(np.float32)
        prev = m
        if on_epoch:
            on_epoch(epoch)
    art.write_whole(d / MAPS, lambda f: np.savez(f, epochs=np.array(sorted(maps)),
                                                 maps=np.stack([maps[e] for e in sorted(maps)])))
    return maps


def read_maps(run_dir: Path) -> dict[int, np.ndarray]:
    try:
        with np.load(Path(run_dir) / SNAPSHOTS / MAPS) as z:
            return {int(e): z["maps"][i] for i, e in enumerate(z["epochs"])}
    except (FileNotFoundError, ValueError, KeyError, OSError):
        return {}
