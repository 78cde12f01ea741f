"""Invariance of a representation to each augmentation op, and rotation equivariance.

The survey's point (sec. on augmentations): the augmentations a method is trained with
decide what its features ignore. For an encoder f and an op T (applied to every image, at
the op's default strength, with probability 1):

    s(T)      = mean_i cos(f(x_i), f(T(x_i)))
    s_unrel   = mean_i cos(f(x_i), f(x_pi(i)))     (pi: a random derangement: unrelated pairs)
    score(T)  = (s(T) - s_unrel) / (1 - s_unrel)

so an encoder exactly invariant to T scores 1 (f(T(x)) = f(x)), and one for which T(x) is
as far from x as an unrelated image scores 0 (it can go below 0). Ops that change nothing on
a dataset (colour ops on grayscale images) are reported as not applicable.

**Rotation equivariance**: images rotated by 0, 90, 180, 270 degrees; a linear probe on
f(rotated x) predicts which rotation was applied (trained on the train split, scored on the
test split; chance 0.25). High means the features keep the orientation; a rotation-invariant
encoder sits at chance.
"""
from __future__ import annotations

import numpy as np
import torch

from ..augment import OPS
from .embed import embed, l2_normalize
from .linear import linear_probe_accuracy

SUBSET = 512  # test images scored (fixed by the seed)


def op_at_full_probability(name: str):
    op = OPS[name]()
    if hasattr(op, "p"):
        op.p = 1.0
    return op


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def invariance_scores(encoder: torch.nn.Module, images: torch.Tensor, device: torch.device,
                      ops: list[str] | None = None, seed: int = 0) -> dict[str, dict]:
    """{op: {"score", "similarity", "unrelated"} or {"skipped": reason}} for uint8 images
    [N, C, H, W] (use a fixed subset of a few hundred test images)."""
    if len(images) < 2:
        raise ValueError("invariance needs at least two images")
    g = torch.Generator().manual_seed(seed)
    base = l2_normalize(embed(encoder, images, device))
    perm = torch.randperm(len(images), generator=g).numpy()
    derange = np.empty_like(perm)
    derange[perm] = np.roll(perm, 1)  # every i paired with another image
    unrelated = float((base * base[derange]).sum(1).mean())
    x = images.float() / 255
    out: dict[str, dict] = {}
    for name in ops or list(OPS):
        op = op_at_full_probability(name)
        tx = to_uint8(op(x, g))
        if torch.equal(tx, images):
            out[name] = {"skipped": f"{name} leaves these images unchanged"
                                    + (" (they have no colour)" if images.shape[1] == 1 else "")}
            continue
        sim = float((base * l2_normalize(embed(encoder, tx, device))).sum(1).mean())
        out[name] = {"score": (sim - unrelated) / max(1.0 - unrelated, 1e-8), "similarity": sim, "unrelated": unrelated}
    return out


def rotate_all(images: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """Every image at 0, 90, 180 and 270 degrees (square images) and the rotation index."""
    rots = [torch.rot90(images, k, dims=(-2, -1)) for k in range(4)]
    return torch.cat(rots), np.repeat(np.arange(4), len(images))


def rotation_equivariance(encoder: torch.nn.Module, train_images: torch.Tensor, test_images: torch.Tensor,
                          device: torch.device) -> float:
    """Accuracy of a linear probe predicting the rotation (of 4) from the features."""
    xtr, ytr = rotate_all(train_images)
    xte, yte = rotate_all(test_images)
    return linear_probe_accuracy(embed(encoder, xtr, device), ytr, embed(encoder, xte, device), yte)


def fixed_subset(rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    rows = np.asarray(rows)
    if len(rows) <= size:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))
