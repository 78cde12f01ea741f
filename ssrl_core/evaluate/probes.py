"""Frozen-feature probes: label efficiency, kNN as k varies, and factor probes.

All three read only the features of a run (``embeddings.npy``) and the dataset, so they
take seconds and are cached in the run folder (``probes.json``) by ``evaluate.cache``.

- **Label efficiency** (the survey's motivation: SSRL pays when labels are scarce):
  a linear readout fit on ``n`` labelled train images per class (n = 1, 5, 10, 50, or all),
  each budget over several random draws of the labelled subset (seeds), scored on the whole
  test split. The features are standardised with statistics of the whole train split:
  unlabelled images are free in the self-supervised setting, and ten labelled images give
  no usable estimate of 256 standard deviations.
- **kNN accuracy as k varies** (Wu et al. 2018's weighted vote, k = 1, 5, 20, 100).
- **Factor probes**: on datasets with ground-truth factors (``shapes``), the same readout
  for each discrete factor (shape, colour, size, rotation and position bins) as the target.
  Chance (``chance_level``) is what a readout scores that learnt nothing from the features:
  1 / (number of values) with a balanced budget, and with every label the share of the most
  common value (on shapes, a large shape fits only in the middle cell, so position_bin's
  middle holds 65% of the images, not 1/9). A factor whose probe stays near chance is one the
  representation has discarded; one well above it is kept (linearly decodable), though
  rotation_bin cannot reach 1 (a circle looks the same at every angle, a square every 90
  degrees: about 0.41 at best).
"""
from __future__ import annotations

import math

import numpy as np

from .knn import knn_accuracies
from .linear import linear_probe_accuracy

BUDGETS = (1, 5, 10, 50, 0)  # labelled images per class; 0 means every label
KS = (1, 5, 20, 100)
SEEDS = 3
# reference-cache keys: the random encoder's kNN accuracy at each k of ``knn_curve``, and, on a
# set with fewer labelled training images than the summary's k (``KNN_K``), its kNN accuracy
# with every one of them voting: the number a run's summary gives there, which the curve leaves out
RANDOM_KNN = "random-knn/label"
RANDOM_KNN_EVERY_IMAGE = "random-knn/label/every-image"
RANDOM_INVARIANCE = "random-invariance"  # the untrained encoder's invariance and rotation equivariance
RANDOM_FACTORS = "random-factors"  # the untrained encoder's factor probes
FACTOR_BUDGETS = (2, 0)  # labels per factor value the factor probes read at (0: every label)


def budget_name(per_class: int) -> str:
    return "all" if per_class == 0 else str(per_class)


def budget_of(name: str) -> int:
    """``budget_name``'s inverse: "1" is 1 label per class, "all" is 0 (every label)."""
    return 0 if name == "all" else int(name)


def budget_key(kind: str, target: str, per_class: int, seeds: int = SEEDS, steps: int | None = None) -> str:
    """The cache key of a readout at a label budget, the one place it is written:
    ``linear/label/1/s3`` in a run's probes.json (``finetune/label/all/s3/t200`` with its
    steps), ``random-linear/...`` and ``supervised-scratch/.../t200`` in the reference cache.
    (The lessons and the pages typed these by hand, one with the seeds fixed at 3.)"""
    return f"{kind}/{target}/{budget_name(per_class)}/s{seeds}" + ("" if steps is None else f"/t{steps}")


def labelled_subset(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Positions of ``per_class`` labelled items of each class (all of them when 0 or when a
    class has fewer), drawn without replacement with ``seed``; sorted."""
    labels = np.asarray(labels)
    if per_class < 0:
        raise ValueError(f"labels per class must be 0 (all) or more, got {per_class}")
    known = np.flatnonzero(labels >= 0)
    if per_class == 0:
        return known
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels[known]):
        rows = known[labels[known] == c]
        picked.append(rng.choice(rows, size=min(per_class, len(rows)), replace=False))
    return np.sort(np.concatenate(picked)) if picked else known[:0]


def smallest_class(train_y: np.ndarray) -> int:
    """How many labelled images the rarest class of ``train_y`` has (0 without labels)."""
    y = np.asarray(train_y)
    counts = np.bincount(y[y >= 0]) if (y >= 0).any() else np.zeros(0, dtype=int)
    counts = counts[counts > 0]
    return int(counts.min()) if len(counts) else 0


def budgets_for(train_y: np.ndarray, budgets=BUDGETS) -> tuple[int, ...]:
    """The budgets these labels can give: every label (0), and each ``per_class`` that every
    class has and that is not already every label (on a small imported set 50 labels per
    class may be more than a class holds: such a subset would be all of some classes, and a
    misplaced point on the curve)."""
    y = np.asarray(train_y)
    largest = int(np.bincount(y[y >= 0]).max()) if (y >= 0).any() else 0
    most = smallest_class(y)
    return tuple(b for b in budgets if b == 0 or (b <= most and b < largest))


def ks_for(train_y: np.ndarray, ks=KS) -> tuple[int, ...]:
    """The kNN k's these labels can give: k up to the labelled training images (beyond, every
    image votes and k means nothing more)."""
    n = int((np.asarray(train_y) >= 0).sum())
    return tuple(k for k in ks if k <= n) or (min(ks),)


def check_budget(train_y: np.ndarray, per_class: int) -> None:
    """ValueError when ``per_class`` labels per class is more than the rarest class has."""
    if per_class < 0:
        raise ValueError(f"labels per class must be 0 (all) or more, got {per_class}")
    most = smallest_class(train_y)
    if per_class > most:
        raise ValueError(f"{per_class} labels per class is more than the rarest class's {most} labelled training "
                         f"images: choose at most {most}, or 0 for every label")


def spread(values: list[float]) -> dict:
    """Mean and sample standard deviation (``sample_std``) of one readout over its draws."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": sample_std({"values": list(v)}), "values": [float(x) for x in v],
            "seeds": len(v)}


def sample_std(row: dict) -> float:
    """The standard deviation of a readout's draws (``row["values"]``) with Bessel's correction
    (ddof 1), what a spread over a few draws estimates; its ``std`` where the draws are not kept,
    0 for one draw. Before 2026-12-05 ``std`` was the population's (ddof 0): over 3 draws 18%
    smaller (a statistician's review read 0.0496 against 0.0607 for SimCLR at 1 label); the
    values kept since then give the same number for old and new caches."""
    values = row.get("values") or []
    if len(values) >= 2:
        return float(np.std(np.asarray(values, dtype=np.float64), ddof=1))
    return float(row.get("std") or 0.0) if len(values) != 1 else 0.0


def noise_band(a: float, b: float, n: int) -> float:
    """How far apart two accuracies near ``a`` and ``b``, scored on the same ``n`` test images,
    come by the draw of those images alone: twice the standard error of one accuracy,
    sqrt(p (1 - p) / n) at their mean p, and never under one image (1 / n). A statistician's
    review: on digits' 359 test images, where one standard error is 0.014, gains of +0.006 and
    +0.011 over the untrained encoder were shown as wins, in green. (The two accuracies share
    their test images, so their difference varies less than two independent ones would; a run
    of another seed can differ by more: this says what the test images alone can do.)"""
    p = min(max((a + b) / 2, 0.0), 1.0)
    return max(2 * math.sqrt(p * (1 - p) / n), 1 / n)


def linear_at_budget(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                     per_class: int, seeds: int = SEEDS) -> dict:
    """Linear readout with ``per_class`` labels per class, mean and spread over ``seeds``
    draws of the labelled subset (one draw when every label is used)."""
    draws = 1 if per_class == 0 else seeds
    accs = []
    for s in range(draws):
        rows = labelled_subset(train_y, per_class, s)
        accs.append(linear_probe_accuracy(train_x[rows], train_y[rows], test_x, test_y, scaler_x=train_x))
    return {**spread(accs), **budget_info(train_y, per_class)}


def budget_info(train_y: np.ndarray, per_class: int) -> dict:
    """What a budget amounts to on these labels: labels per class asked, labelled images
    used and number of classes (so a curve can place "all" at its mean per class)."""
    train_y = np.asarray(train_y)
    return {"labels_per_class": per_class, "n_labels": int(len(labelled_subset(train_y, per_class, 0))),
            "classes": int(len(np.unique(train_y[train_y >= 0])))}


def label_efficiency(train_x, train_y, test_x, test_y, budgets=BUDGETS, seeds: int = SEEDS) -> dict[str, dict]:
    """The linear readout at each budget the training labels can give (``budgets_for``)."""
    return {budget_name(b): linear_at_budget(train_x, train_y, test_x, test_y, b, seeds)
            for b in budgets_for(train_y, budgets)}


def knn_curve(train_x, train_y, test_x, test_y, num_classes: int, ks=KS) -> dict[str, float]:
    """kNN accuracy at each k of ``ks`` that the training labels can give (``ks_for``)."""
    got = knn_accuracies(train_x, train_y, test_x, test_y, num_classes, ks_for(train_y, ks))
    return {str(k): acc for k, acc in got.items()}


def chance_level(dataset, factor: str, per_class: int) -> float:
    """What a readout that learnt nothing from the features scores on ``factor``'s test rows:
    with ``per_class`` labels of each value (balanced), 1 / (number of values); with every label
    (0), the share of the most common value, since it learns how often each value occurs."""
    y = dataset.factors[factor].numpy()
    if per_class:
        return 1.0 / len(np.unique(y[y >= 0]))
    te = y[dataset.test_idx.numpy()]
    counts = np.unique(te[te >= 0], return_counts=True)[1]
    return float(counts.max() / counts.sum()) if len(counts) else 0.0


def factor_probes(feats: np.ndarray, dataset, budgets=FACTOR_BUDGETS, seeds: int = SEEDS) -> dict[str, dict]:
    """For each discrete factor: the readout at each budget (labels per factor value), the
    chance level of a balanced budget ("chance") and of every label ("chance_all", the most
    common value's share: ``chance_level``). Empty for datasets without factors."""
    tr, te = dataset.train_idx.numpy(), dataset.test_idx.numpy()
    out = {}
    for name in dataset.discrete_factors():
        y = dataset.factors[name].numpy()
        values = np.unique(y[y >= 0])
        if len(values) < 2:
            continue
        kte = te[y[te] >= 0]  # rows whose factor is unknown are not scored
        out[name] = {"chance": 1.0 / len(values), "chance_all": chance_level(dataset, name, 0),
                     "classes": int(len(values)),
                     **{budget_name(b): linear_at_budget(feats[tr], y[tr], feats[kte], y[kte], b, seeds)
                        for b in budgets_for(y[tr], budgets)}}
    return out


def labelled_split(dataset, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train and test rows of ``dataset`` whose value in ``y`` is known (not -1)."""
    tr, te = dataset.train_idx.numpy(), dataset.test_idx.numpy()
    tr, te = tr[y[tr] >= 0], te[y[te] >= 0]
    if not len(tr) or not len(te):
        raise ValueError(f"{dataset.name} has no labelled images in its train or test split to probe with")
    return tr, te


def target_labels(dataset, target: str) -> np.ndarray:
    """The labels a probe reads: ``label`` or the name of a discrete factor."""
    if target == "label":
        if not dataset.has_labels:
            raise ValueError(f"{dataset.name} has no labels: a probe needs a labelled dataset")
        return dataset.labels.numpy()
    if target not in dataset.discrete_factors():
        have = ", ".join(["label", *dataset.discrete_factors()])
        raise ValueError(f"{dataset.name} has no factor {target!r}: choose one of {have}")
    return dataset.factors[target].numpy()
