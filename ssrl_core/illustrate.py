"""Pictures of what each family of pretext tasks sees, made from a dataset with the methods'
own code (the rotations of RotNet, the masks of inpainting and MAE, the library's
augmentations, faiss k-means as in DeepCluster). Plain tensors out, [N, C, H, W] floats in
[0, 1]; the app lays them out (``app.images.grid``). Cheap: a few images each, and k-means
on a few hundred rows.
"""
from __future__ import annotations

import numpy as np
import torch

from .augment import parse_augment
from .data import ImageSet
from .pretext.deepcluster import kmeans
from .pretext.inpainting import square_mask
from .pretext.mae import random_keep
from .pretext.rotation import rotate_all

MAE_PATCH = 4  # vit-tiny's patch side (64 patches on a 32x32 image)


def sample_rows(ds: ImageSet, n: int, seed: int = 0, distinct: bool = False) -> torch.Tensor:
    """``n`` image rows drawn without replacement, the same for the same seed; with
    ``distinct``, of different labels while there are labels left to show."""
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))
    if not distinct:
        return perm[:n]
    labels = ds.labels[perm].tolist()
    first = {}
    for i, lab in enumerate(labels):
        first.setdefault(lab, i)
    picked = sorted(first.values())[:n]
    taken = set(picked)
    rest = [i for i in range(min(len(perm), 2 * n)) if i not in taken][: n - len(picked)]
    return perm[picked + rest]


def _floats(ds: ImageSet, rows: torch.Tensor) -> torch.Tensor:
    return ds.images[rows].float() / 255


def rotation_grid(ds: ImageSet, n: int = 4, seed: int = 0) -> torch.Tensor:
    """Each of ``n`` images rotated by 0, 90, 180 and 270 degrees (RotNet's four inputs),
    one image per row: [n * 4, C, H, W]."""
    x = _floats(ds, sample_rows(ds, n, seed, distinct=True))
    n = len(x)  # fewer on a set of fewer images
    rots, _ = rotate_all(x)  # [4n]: all images at 0°, then at 90°, ...
    return rots.reshape(4, n, *rots.shape[1:]).transpose(0, 1).reshape(4 * n, *rots.shape[1:])


def masked_inputs(ds: ImageSet, n: int = 4, seed: int = 0, mask_fraction: float = 0.25,
                  mask_ratio: float = 0.75) -> torch.Tensor:
    """Per image, one row of four: the original; inpainting's central square and a random
    square filled with the batch's mean colour (Context Encoders); MAE's random 75% of
    4x4 patches removed (drawn mid-gray here: the encoder never sees them). [n * 4, C, H, W]."""
    x = _floats(ds, sample_rows(ds, n, seed, distinct=True))
    b, c, h, w = x.shape
    fill = x.mean(dim=(0, 2, 3), keepdim=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        central = torch.where(square_mask(b, h, w, mask_fraction, "central"), fill, x)
        random = torch.where(square_mask(b, h, w, mask_fraction, "random"), fill, x)
        gh, gw = h // MAE_PATCH, w // MAE_PATCH
        _, masked = random_keep(b, gh * gw, mask_ratio)
    pixel_mask = masked.reshape(b, 1, gh, gw).repeat_interleave(MAE_PATCH, 2).repeat_interleave(MAE_PATCH, 3)
    mae = torch.where(pixel_mask, torch.full_like(x, 0.5), x) if h % MAE_PATCH == 0 == w % MAE_PATCH else random
    return torch.stack([x, central, random, mae], dim=1).reshape(4 * b, c, h, w)


def positive_pairs(ds: ImageSet, spec: str, n: int = 4, seed: int = 0) -> torch.Tensor:
    """Per image, a row of three: the original and two views made by the augmentation
    ``spec`` (a positive pair of SimCLR/BYOL/...). [n * 3, C, H, W]."""
    x = _floats(ds, sample_rows(ds, n, seed, distinct=True))
    g = torch.Generator().manual_seed(seed)
    pipe = parse_augment(spec)
    v1, v2 = pipe(x, g), pipe(x, g)
    return torch.stack([x, v1, v2], dim=1).reshape(3 * len(x), *x.shape[1:])


def cluster_examples(ds: ImageSet, features: np.ndarray | None = None, k: int = 6, per_cluster: int = 8,
                     subset: int = 600, seed: int = 0) -> list[dict]:
    """k-means (faiss, DeepCluster's clustering step) on ``subset`` images, described by
    ``features`` [N, D] (a run's embeddings) or by their pixels when None. Returns the
    clusters largest first: {cluster, size, rows (up to ``per_cluster`` members), majority
    label name, its share and its share in the whole set (labels were not used to cluster),
    and ``factor``: a ground-truth factor the cluster follows plainly more than its label
    (``_factor_majority``), else None (a run's clusters on shapes were each one colour, a
    mix of shapes: captioned by shape alone, the picture hid what grouped them)}."""
    rows = sample_rows(ds, min(subset, len(ds)), seed).numpy()
    x = (np.asarray(features)[rows] if features is not None else
         ds.images[rows].reshape(len(rows), -1).float().numpy() / 255).astype(np.float32)
    x = x - x.mean(0)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    k = min(k, len(rows))  # an imported set of fewer images than clusters (faiss refuses)
    assign, _ = kmeans(np.ascontiguousarray(x), k, iters=20, seed=seed)
    rng = np.random.default_rng(seed)
    labels = ds.labels.numpy()
    label_rates = _rates(labels)
    # the named factors other than the label (shapes' "shape" is it), each with its rates in the whole set, once
    factors = [(name, values, _rates(values)) for name in ds.discrete_factors() if name in ds.factor_names
               for values in [ds.factors[name].numpy()] if not np.array_equal(values, labels)]
    out = []
    for c in range(k):
        members = rows[assign == c]
        if len(members) == 0:
            continue
        top, share, base = _majority(labels, members, label_rates)
        out.append({"cluster": c, "size": int(len(members)),
                    "rows": [int(r) for r in rng.permutation(members)[:per_cluster]],
                    "majority": ds.label_name(int(members[labels[members] == top][0])) if top >= 0 else None,
                    "majority_share": share if top >= 0 else None, "majority_base": base if top >= 0 else None,
                    "factor": _factor_majority(ds, factors, members, lift(share, base) if top >= 0 else 0.0)})
    return sorted(out, key=lambda d: -d["size"])


def label_purity(clusters: list[dict]) -> float | None:
    """The share of the clustered images whose label is their cluster's most common one
    (``cluster_examples``' clusters: each majority's share, weighted by the cluster's size);
    None where no cluster has a known label."""
    known = [c for c in clusters if c["majority_share"] is not None]
    size = sum(c["size"] for c in known)
    return sum(c["majority_share"] * c["size"] for c in known) / size if size else None


def _factor_majority(ds: ImageSet, factors: list[tuple], members: np.ndarray, label_lift: float) -> dict | None:
    """Of ``factors`` ([(name, values, rates in the whole set)]), the one whose most common
    value among ``members`` is shared by more of them beyond its base rate than their majority
    label is (``lift``: (share - base) / (1 - base), 0 at the rate in the whole set, 1 for all
    of them; by at least 0.2 and to at least 0.3, so a caption names it only where the cluster
    plainly follows it), as {factor, value, share, base}; None otherwise."""
    best = None
    for name, values, rates in factors:
        top, share, base = _majority(values, members, rates)
        if top < 0:
            continue
        got = {"factor": name, "value": ds.factor_names[name][top], "share": share, "base": base,
               "lift": lift(share, base)}
        if got["lift"] >= max(label_lift + 0.2, 0.3) and (best is None or got["lift"] > best["lift"]):
            best = got
    return best


def _rates(values: np.ndarray) -> np.ndarray:
    """Each known value's share of the whole set (-1, unknown, left out)."""
    known = values[values >= 0]
    return np.bincount(known) / len(known) if len(known) else np.zeros(0)


def _majority(values: np.ndarray, members: np.ndarray, rates: np.ndarray) -> tuple[int, float, float]:
    """(the most common known value among ``members``, its share there, its share in the whole
    set, from ``rates``: ``_rates(values)``); (-1, 0, 0) where none is known."""
    mine = values[members]
    mine = mine[mine >= 0]
    if not len(mine):
        return -1, 0.0, 0.0
    top = int(np.bincount(mine).argmax())
    return top, float((mine == top).mean()), float(rates[top])


def lift(share: float, base: float) -> float:
    """How far ``share`` is from a value's ``base`` rate toward all: 0 at the base, 1 at 100%."""
    return (share - base) / (1 - base) if base < 1 else 0.0
