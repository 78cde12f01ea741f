"""Small image helpers for the pages: uint8 tensors to displayable arrays, grids.

Plain numpy; no Streamlit. Dataset images are tiny (28-96 px), so they are enlarged with
nearest-neighbour sampling to stay crisp in the browser.
"""
from __future__ import annotations

import numpy as np
import torch

from app import readouts


def to_hwc(img: torch.Tensor | np.ndarray, scale: int = 4) -> np.ndarray:
    """One image [C,H,W] (uint8, or float in [0,1]) to uint8 [H*s, W*s, 3]."""
    a = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    a = np.transpose(a, (1, 2, 0))
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if scale > 1:
        a = a.repeat(scale, axis=0).repeat(scale, axis=1)
    return a


def grid(images: torch.Tensor | np.ndarray, cols: int, scale: int = 3, pad: int = 2,
         background: int = 255) -> np.ndarray:
    """A batch [N,C,H,W] as one uint8 picture [rows*(H*s+pad), cols*(W*s+pad), 3]."""
    n = len(images)
    if n == 0:
        return np.full((1, 1, 3), background, np.uint8)
    tiles = [to_hwc(images[i], scale) for i in range(n)]
    h, w = tiles[0].shape[:2]
    rows = (n + cols - 1) // cols
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, 3), background, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = t
    return out


def learn_pictures(ds, features: np.ndarray | None = None, augment: str = "simclr", seed: int = 0) -> dict:
    """The Learn page's pictures of one dataset, made with the methods' own code
    (``ssrl_core.illustrate``): one grid per family, and one grid per k-means cluster
    with its caption. ``features``: a finished run's embeddings to cluster (pixels when None)."""
    from ssrl_core import illustrate

    clusters = illustrate.cluster_examples(ds, features, seed=seed)
    # the same k-means on the same images' pixels, to hold the features' clusters against (on digits the pixels
    # group by label better than a 10-epoch SimCLR run's features: 54% against 45%, and the page said nothing);
    # None where the clusters are of pixels already
    pixel_purity = None if features is None else illustrate.label_purity(illustrate.cluster_examples(ds, None, seed=seed))
    return {
        "rotation": grid(illustrate.rotation_grid(ds, seed=seed), cols=4, scale=3),
        "masked": grid(illustrate.masked_inputs(ds, seed=seed), cols=4, scale=3),
        "pairs": grid(illustrate.positive_pairs(ds, augment, seed=seed), cols=3, scale=3),
        "clusters": [grid(ds.images[c["rows"]], cols=len(c["rows"]), scale=2) for c in clusters],
        "clustered": sum(c["size"] for c in clusters),  # 600, or the whole of a smaller set
        "cluster_captions": [cluster_caption(c) for c in clusters],
        "purity": illustrate.label_purity(clusters), "pixel_purity": pixel_purity,
        "purity_ceiling": purity_ceiling(ds.labels.numpy(), len(clusters)),
    }


def purity_ceiling(labels: np.ndarray, k: int) -> float | None:
    """The most that ``k`` clusters can give of images carrying their cluster's most common
    label: the share of the ``k`` largest classes (each its own cluster, the rest mixed in), 1
    with as many clusters as classes. Six clusters over digits' ten classes reach 61% at most,
    and a statistician's review read 54% against it as poor. None without labels."""
    known = labels[labels >= 0]
    if not len(known) or not k:
        return None
    shares = np.sort(np.bincount(known))[::-1] / len(known)
    return float(min(1.0, shares[:k].sum()))


def cluster_caption(c: dict) -> str:
    """"cluster of 59: 97% are yellow (colour; vs 17% of all images); 24% are heart (vs 17% of
    all images)": the factor that groups a cluster more than its label, then the label, each
    beside its rate in the whole set (``illustrate.cluster_examples``; 71% in the middle-centre
    cell says little where 64% of all images are; "(10% of all)" read as the cluster's size)."""
    said = []
    if f := c.get("factor"):
        words = readouts.FACTOR_OPS.get(f["factor"], (f["factor"],))[0]
        said.append(f"{f['share']:.0%} are {f['value']} ({words}; vs {f['base']:.0%} of all images)")
    if c["majority"] is not None:
        said.append(f"{c['majority_share']:.0%} are {c['majority']} (vs {c['majority_base']:.0%} of all images)")
    return f"cluster of {c['size']}" + (": " + "; ".join(said) if said else "")
