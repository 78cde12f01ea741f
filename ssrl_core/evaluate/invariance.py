"""Invariance of a representation to each augmentation op, and rotation equivariance.

The survey's point: the augmentations a method is trained with
decide what its features ignore. For an encoder f and an op T (applied to every image, at
the op's default strength, with probability 1):

    s(T)      = mean_i cos(f(x_i), f(T(x_i)))
    s_unrel   = mean_i cos(f(x_i), f(x_pi(i)))     (pi: a random derangement: unrelated pairs)
    score(T)  = (s(T) - s_unrel) / (1 - s_unrel)

so an encoder exactly invariant to T scores 1 (f(T(x)) = f(x)), and one for which T(x) is
as far from x as an unrelated image scores 0. Below 0, T moves the features further than an
unrelated image is: since a cosine is at least -1, the score is at least 1 - 2 / (1 - s_unrel)
(1 - 1 / (1 - s_unrel) for features that are never negative, as after a ReLU), which has no
fixed bound: the closer unrelated images' features are, the further below 0 a score can go.
When they are too close for the scale to mean anything, each score is marked
``"reliable": False`` with a ``"note"`` saying why (``MIN_SEPARATION``). Ops that change
nothing on a dataset (colour ops on grayscale images) are reported as not applicable.

**Rotation equivariance**: images rotated by 0, 90, 180, 270 degrees; a linear probe on
f(rotated x) predicts which rotation was applied (trained on the train split, scored on the
test split; chance 0.25). High means the features keep the orientation; a rotation-invariant
encoder sits at chance.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch

from ..augment import OPS, Pipeline
from .embed import embed, l2_normalize
from .linear import linear_probe_accuracy

SUBSET = 512  # test images scored (fixed by the seed)

# When the scale can be trusted. 1 - s_unrel, its yardstick, is half the mean squared distance
# between unrelated images' unit features, which is the total variance of the L2-normalised
# features: for unit vectors z, mean_{i != j} z_i . z_j ~ |mean z|^2 and sum_k var(z_k) = 1 - |mean z|^2.
# SimSiam's collapse metric reads the same spread per dimension: an isotropic d-dimensional
# embedding has a std of 1/sqrt(d) per dimension, so 1 - s_unrel ~ 1, and a collapsed one 0.
# Below 0.01 the features' spread is under a tenth of that (unrelated images within about 8
# degrees of each other): the encoder barely tells images apart, a change of 0.01 in cosine
# similarity moves a score by a whole unit, scores can run to -100 and beyond, and they say more
# about the tiny yardstick than about the op. Measured on digits' test images: trained runs 0.11
# (SimCLR, 3 epochs) to 0.17 (SimSiam without stop-gradient, 10 epochs); untrained cnn-small,
# resnet18 and vit-tiny 0.005 to 0.008 (vit-tiny's solarize scores -7), so they are marked too;
# untrained cnn-small on shapes 0.028. The run of 30 images that led to this check: 0.003, with
# colour jitter at -93.
MIN_SEPARATION = 0.01


def scale_note(unrelated: float) -> str | None:
    """Why scores measured against this unrelated similarity mean little, or None when the
    scale holds (``MIN_SEPARATION``)."""
    if 1.0 - unrelated >= MIN_SEPARATION:
        return None
    return (f"the features barely tell unrelated images apart (their mean cosine similarity is {unrelated:.3f}, "
            "identical is 1), so the scale from unrelated (0) to identical (1) is too short to mean anything: "
            "likely a collapsed or untrained encoder")


def mark_reliability(scores: dict[str, dict]) -> dict[str, dict]:
    """``scores`` (as from ``invariance_scores``) with ``"reliable"`` on every scored op, and
    ``"note"`` where it is False. Recomputed from the stored ``unrelated``, so results cached
    before the mark existed are marked alike."""
    out = {}
    for op, entry in scores.items():
        if "score" in entry and "unrelated" in entry:  # (hand-made entries may hold a score alone)
            note = scale_note(entry["unrelated"])
            entry = {k: v for k, v in entry.items() if k != "note"} | {"reliable": note is None}
            if note:
                entry["note"] = note
        out[op] = entry
    return out


def missing_ops(scores: dict[str, dict]) -> list[str]:
    """The ops of ``OPS`` that ``scores`` has no entry for, neither a score nor a skip: results
    cached before an op was added (a run measured before it showed none for it, and Invariance
    called it an op that changes nothing). The probes measure only these, not the others again:
    each op draws from its own generator and the unrelated pairs from the seed alone, so an op
    measured later scores what it would have scored beside the rest."""
    return [op for op in OPS if op not in scores]


def unreliable_note(scores: dict[str, dict]) -> str | None:
    """The ``scale_note`` of a run's scores (one unrelated similarity serves every op), or None
    when they are reliable; works on results cached before the mark existed."""
    return next((e["note"] for e in mark_reliability(scores).values() if "note" in e), None)


def op_at_full_probability(name: str) -> Pipeline:
    """Op ``name`` at its default strengths, applied to every image, as a pipeline of its own:
    one that changes the images' size is refused (``Pipeline``), here as in training."""
    op = OPS[name]()
    if hasattr(op, "p"):
        op.p = 1.0
    return Pipeline([op])


def op_generator(seed: int, name: str) -> torch.Generator:
    """The generator op ``name`` draws from when measured with ``seed``: fixed by the two alone
    (one shared generator made an op's draws, and its score, depend on the ops drawn before it).
    A CPU generator keeps 32 bits of its seed, hence one 32-bit hash of both."""
    return torch.Generator().manual_seed(zlib.crc32(f"{seed}:{name}".encode()))


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def invariance_scores(encoder: torch.nn.Module, images: torch.Tensor, device: torch.device,
                      ops: list[str] | None = None, seed: int = 0, features: np.ndarray | None = None) -> dict[str, dict]:
    """{op: {"score", "similarity", "unrelated", "se", "images", "reliable"[, "note"]} or
    {"skipped": reason}} for uint8 images [N, C, H, W] (use a fixed subset of a few hundred
    test images). ``se`` is the score's standard error over the images, by the delta method on
    score = 1 - (1 - s) / (1 - s_unrel) with each image's pair of similarities (to its
    transformed self, to an unrelated image) as one observation: large when few images are
    measured, and 0 for an encoder exactly invariant to the op, whose score is 1 whatever the
    unrelated pairs give (the difference of the two similarities put their noise on every op's
    whisker: 0.02 on an exact 1.00). ``features``: the encoder's features of ``images``, when
    already computed (a run's ``embeddings.npy`` rows: the same numbers, not embedded again).
    Each op draws its random parameters from its own generator (``op_generator``), so its
    score is the same whichever other ops are measured beside it, and in whatever order."""
    if len(images) < 2:
        raise ValueError("invariance needs at least two images")
    if features is not None and len(features) != len(images):  # (features of other images would score nonsense)
        raise ValueError(f"features has {len(features)} rows for {len(images)} images: give the features of these images")
    g = torch.Generator().manual_seed(seed)
    base = l2_normalize(embed(encoder, images, device) if features is None else np.asarray(features, np.float32))
    perm = torch.randperm(len(images), generator=g).numpy()
    derange = np.empty_like(perm)
    derange[perm] = np.roll(perm, 1)  # every i paired with another image
    unrelated_i = (base * base[derange]).sum(1)  # one unrelated pair per image
    unrelated = float(unrelated_i.mean())
    x = images.float() / 255
    out: dict[str, dict] = {}
    for name in ops or list(OPS):
        op = op_at_full_probability(name)
        tx = to_uint8(op(x, op_generator(seed, name)))
        if torch.equal(tx, images):
            out[name] = {"skipped": f"{name} leaves these images unchanged"
                                    + (" (they have no colour)" if images.shape[1] == 1 else "")}
            continue
        sim_i = (base * l2_normalize(embed(encoder, tx, device))).sum(1)
        sim, scale = float(sim_i.mean()), max(1.0 - unrelated, 1e-8)
        # standard error over the images, each giving sim_i and its unrelated pair: the score's linearisation
        # (d score / d s = 1 / scale, d score / d s_unrel = -(1 - s) / scale^2) applied to each image's deviations
        influence = (sim_i - sim) / scale - (unrelated_i - unrelated) * (1.0 - sim) / scale ** 2
        se = float(np.std(influence, ddof=1) / np.sqrt(len(images))) if len(images) > 2 else None
        out[name] = {"score": (sim - unrelated) / scale, "similarity": sim, "unrelated": unrelated, "se": se,
                     "images": len(images)}
    return mark_reliability(out)


def rotate_all(images: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """Every image at 0, 90, 180 and 270 degrees (square images) and the rotation index."""
    rots = [torch.rot90(images, k, dims=(-2, -1)) for k in range(4)]
    return torch.cat(rots), np.repeat(np.arange(4), len(images))


def rotation_equivariance(encoder: torch.nn.Module, train_images: torch.Tensor, test_images: torch.Tensor,
                          device: torch.device, train_features: np.ndarray | None = None,
                          test_features: np.ndarray | None = None) -> float:
    """Accuracy of a linear probe predicting the rotation (of 4) from the features.
    ``train_features``, ``test_features``: those of the images as they are (rotated by 0), when
    already computed; only the three turned copies are embedded then."""
    def features(images: torch.Tensor, upright: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        x, y = rotate_all(images)
        if upright is None:
            return embed(encoder, x, device), y
        return np.concatenate([np.asarray(upright, np.float32), embed(encoder, x[len(images):], device)]), y

    (ftr, ytr), (fte, yte) = features(train_images, train_features), features(test_images, test_features)
    return linear_probe_accuracy(ftr, ytr, fte, yte)


def fixed_subset(rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    rows = np.asarray(rows)
    if len(rows) <= size:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))
