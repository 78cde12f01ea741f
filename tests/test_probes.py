"""Probes of a representation, checked on cases whose answer is known: features that keep
one factor and discard another, encoders exactly invariant to an op, rotation-blind and
rotation-aware encoders, an easy classification task; then the cache, the per-epoch log and
the `probe` / `invariance` commands on a real finished run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from ssrl_core.data.imageset import ImageSet
from ssrl_core.evaluate import probes as pr
from ssrl_core.evaluate.epochs import (EPOCHS_LOG, SNAPSHOTS, EpochProbe, evolution_maps, read_epochs, read_maps,
                                       read_snapshots, snapshot_epochs)
from ssrl_core.evaluate.finetune import train_classifier
from ssrl_core.evaluate.invariance import invariance_scores, rotate_all, rotation_equivariance
from ssrl_core.evaluate.suite import PROBES, Cache, RunProbes, random_knn, random_linear, supervised_scratch

CPU = torch.device("cpu")


# -- encoders with known behaviour -------------------------------------------------------------
class ChannelMean(nn.Module):
    """Per-channel mean brightness, centred: exactly invariant to any rearrangement of pixels."""

    def __init__(self, channels: int):
        super().__init__()
        self.feature_dim = channels

    def forward(self, x):
        return x.mean(dim=(2, 3)) - 0.5


class RandomPixelMap(nn.Module):
    """A fixed random linear map of the centred raw pixels."""

    def __init__(self, in_dim: int, out_dim: int = 32, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("w", torch.randn(in_dim, out_dim, generator=g) / in_dim ** 0.5)
        self.feature_dim = out_dim

    def forward(self, x):
        return (x.reshape(x.shape[0], -1) - 0.5) @ self.w


class RawPixels(nn.Module):
    def __init__(self, in_dim: int):
        super().__init__()
        self.feature_dim = in_dim

    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class SortedPixels(nn.Module):
    """The sorted pixel values: blind to every permutation of the pixels (rotations included)."""

    def __init__(self, in_dim: int):
        super().__init__()
        self.feature_dim = in_dim

    def forward(self, x):
        return x.reshape(x.shape[0], -1).sort(dim=1).values


# -- synthetic data ------------------------------------------------------------------------------
def factor_set(n: int = 600, seed: int = 0):
    """4 shapes (= the label) x 3 colours, balanced and independent; features that encode the
    shape only (one-hot * 3 + noise, 32-d)."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    shape = i % 4
    color = (i // 4) % 3  # every (shape, colour) pair equally often
    is_train = np.zeros(n, dtype=bool)
    is_train[rng.permutation(n)[: n // 2]] = True
    ds = ImageSet(
        name="synthetic",
        images=torch.zeros(n, 1, 4, 4, dtype=torch.uint8),
        labels=torch.as_tensor(shape, dtype=torch.int64),
        class_names=["a", "b", "c", "d"],
        is_train=torch.as_tensor(is_train),
        factors={"shape": torch.as_tensor(shape, dtype=torch.int64), "color": torch.as_tensor(color, dtype=torch.int64),
                 "hue": torch.as_tensor(rng.random(n), dtype=torch.float32)},  # continuous: not probed
        factor_names={"shape": ["a", "b", "c", "d"], "color": ["r", "g", "b"]},
    )
    feats = np.zeros((n, 32), dtype=np.float32)
    feats[i, shape] = 3.0
    feats += rng.normal(0, 0.3, size=feats.shape).astype(np.float32)
    return ds, feats


def split(ds, feats, y=None):
    y = ds.labels.numpy() if y is None else y
    tr, te = ds.train_idx.numpy(), ds.test_idx.numpy()
    return feats[tr], y[tr], feats[te], y[te]


def colour_images(n: int = 64, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random RGB images whose channels have random overall brightness (so channel means differ
    from image to image)."""
    g = torch.Generator().manual_seed(seed)
    level = torch.rand(n, 3, 1, 1, generator=g) * 160 + 20
    noise = torch.rand(n, 3, size, size, generator=g) * 80 - 40
    return (level + noise).clamp(0, 255).round().to(torch.uint8)


# -- labelled_subset -----------------------------------------------------------------------------
def test_labelled_subset_draws_n_per_class_deterministically():
    labels = np.array([0] * 20 + [1] * 15 + [2] * 8 + [-1] * 10)
    rng = np.random.default_rng(1)
    labels = labels[rng.permutation(len(labels))]
    a = pr.labelled_subset(labels, 5, seed=0)
    assert np.all(np.diff(a) > 0)  # sorted, no repeats
    assert sorted(np.bincount(labels[a]).tolist()) == [5, 5, 5] and (labels[a] >= 0).all()
    assert np.array_equal(a, pr.labelled_subset(labels, 5, seed=0))
    assert not np.array_equal(a, pr.labelled_subset(labels, 5, seed=1))
    # a class with fewer than n items gives all it has
    b = pr.labelled_subset(labels, 10, seed=0)
    assert np.bincount(labels[b]).tolist() == [10, 10, 8]
    # 0: every labelled row, never the -1 ones
    assert np.array_equal(pr.labelled_subset(labels, 0, seed=3), np.flatnonzero(labels >= 0))
    assert len(pr.labelled_subset(np.array([-1, -1]), 2, seed=0)) == 0
    with pytest.raises(ValueError):
        pr.labelled_subset(labels, -1, seed=0)


def test_budgets_and_ks_are_only_those_the_labels_can_give():
    """On a small imported set the rarest class may hold fewer than 50 labelled images: a
    budget it cannot give is left out (it would be all of that class, and a misplaced point
    on the curve), as is a k above the labelled training images; asking for one says why."""
    y = np.array([0] * 32 + [1] * 40 + [2] * 7 + [-1] * 5)
    assert pr.smallest_class(y) == 7 and pr.smallest_class(np.array([-1, -1])) == 0
    assert pr.budgets_for(y) == (1, 5, 0)
    assert pr.budgets_for(np.repeat(np.arange(10), 140)) == pr.BUDGETS  # digits-sized: every budget
    assert pr.budgets_for(np.repeat(np.arange(3), 5)) == (1, 0)  # 5 of 5 per class is every label
    assert pr.ks_for(y) == (1, 5, 20) and pr.ks_for(np.array([0, 1, 0])) == (1,)
    pr.check_budget(y, 7)
    with pytest.raises(ValueError, match="8 labels per class is more than the rarest class's 7 labelled training "
                                         "images: choose at most 7, or 0 for every label"):
        pr.check_budget(y, 8)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(y), 4)) + np.eye(4)[np.maximum(y, 0)] * 3
    assert list(pr.label_efficiency(x, y, x, y)) == ["1", "5", "all"]
    known = y >= 0  # (unlabelled images cannot vote: knn refuses them)
    assert list(pr.knn_curve(x[known], y[known], x[known], y[known], 3)) == ["1", "5", "20"]


# -- frozen-feature probes with a known answer ------------------------------------------------------
def test_linear_budget_and_label_efficiency_on_features_that_encode_the_label():
    ds, feats = factor_set()
    full = pr.linear_at_budget(*split(ds, feats), per_class=0)
    assert full["mean"] > 0.97 and full["seeds"] == 1 and full["labels_per_class"] == 0
    assert full["n_labels"] == len(ds.train_idx)

    curve = pr.label_efficiency(*split(ds, feats))
    assert list(curve) == ["1", "5", "10", "50", "all"]
    for name, row in curve.items():
        assert {"mean", "std", "values", "seeds"} <= set(row), name
        assert row["seeds"] == len(row["values"]) == (1 if name == "all" else 3), name
        assert row["mean"] == pytest.approx(np.mean(row["values"]))
        assert row["std"] == pytest.approx(np.std(row["values"], ddof=1) if len(row["values"]) > 1 else 0.0)
        assert row["mean"] > 0.4, (name, row)  # above chance (0.25) from one label per class on
    # more labels never hurt much, and ten per class are enough for features this clean
    means = [curve[k]["mean"] for k in curve]
    assert all(b >= a - 0.05 for a, b in zip(means, means[1:])), means
    assert curve["10"]["mean"] > 0.95 and curve["50"]["mean"] > 0.97 and curve["all"]["mean"] > 0.97
    assert curve["1"]["n_labels"] == 4 and curve["50"]["n_labels"] == 200
    assert pr.linear_at_budget(*split(ds, feats), per_class=5, seeds=2)["seeds"] == 2


def test_each_draw_of_a_label_budget_fits_its_own_labelled_subset():
    """The spread ("± std") of the label-efficiency curve at 1 label per class is over different draws of
    the labelled images, not one draw repeated (which would read 0, a false certainty)."""
    ds, feats = factor_set()
    feats = feats + np.random.default_rng(1).normal(0, 1.5, size=feats.shape).astype(np.float32)  # noisy: draws matter
    row = pr.linear_at_budget(*split(ds, feats), per_class=1, seeds=3)
    assert len(set(row["values"])) == 3 and row["std"] > 0, row


def test_knn_curve_on_features_that_encode_the_label():
    ds, feats = factor_set()
    curve = pr.knn_curve(*split(ds, feats), num_classes=4)
    assert list(curve) == ["1", "5", "20", "100"]
    assert all(v > 0.97 for v in curve.values()), curve


def test_factor_probes_find_the_kept_factor_and_the_discarded_one():
    ds, feats = factor_set()
    out = pr.factor_probes(feats, ds)
    assert set(out) == {"shape", "color"}  # the continuous factor is not probed
    assert out["shape"]["chance"] == pytest.approx(0.25) and out["shape"]["classes"] == 4
    assert out["color"]["chance"] == pytest.approx(1 / 3) and out["color"]["classes"] == 3
    assert out["shape"]["all"]["mean"] > 0.97 and out["shape"]["2"]["mean"] > 0.4
    assert abs(out["color"]["all"]["mean"] - 1 / 3) < 0.15, out["color"]
    assert abs(out["color"]["2"]["mean"] - 1 / 3) < 0.15, out["color"]
    assert out["color"]["2"]["seeds"] == 3 and out["color"]["all"]["seeds"] == 1


def test_the_chance_line_of_an_unbalanced_factor_is_what_features_of_nothing_score():
    """shapes' position_bin puts 65% of the images in its middle cell (a large shape fits only
    there): with every label a probe on features of nothing learns that and scores 0.65, which a
    chance line at 1/9 made read as a factor kept."""
    ds, feats = factor_set(n=1200)
    rng = np.random.default_rng(1)
    where = np.where(rng.random(len(ds)) < 0.7, 4, rng.integers(0, 9, len(ds)))  # 9 cells, the middle one common
    ds.factors["where"] = torch.as_tensor(where, dtype=torch.int64)
    out = pr.factor_probes(feats, ds)  # the features encode the shape only: nothing of where
    te = where[ds.test_idx.numpy()]
    assert out["where"]["chance"] == pytest.approx(1 / 9)  # a balanced budget: 2 labels of each cell
    assert out["where"]["chance_all"] == pytest.approx(np.mean(te == 4)) == pr.chance_level(ds, "where", 0)
    assert out["where"]["all"]["mean"] == pytest.approx(out["where"]["chance_all"], abs=0.03)
    assert out["where"]["2"]["mean"] == pytest.approx(1 / 9, abs=0.08)
    assert pr.chance_level(ds, "where", 2) == pytest.approx(1 / 9)
    assert out["shape"]["chance_all"] == pytest.approx(0.25, abs=0.04)  # balanced: the two lines nearly agree


def test_factor_probes_ignore_test_rows_whose_factor_is_unknown():
    ds, feats = factor_set()
    shape = ds.factors["shape"].clone()
    te = ds.test_idx
    shape[te[: len(te) // 2]] = -1  # half the test rows: shape unknown
    ds.factors["shape"] = shape
    out = pr.factor_probes(feats, ds, budgets=(0,))
    assert out["shape"]["classes"] == 4
    assert out["shape"]["all"]["mean"] > 0.97, out["shape"]  # scored on the known rows only


def test_target_labels():
    ds, _ = factor_set()
    assert np.array_equal(pr.target_labels(ds, "label"), ds.labels.numpy())
    assert np.array_equal(pr.target_labels(ds, "color"), ds.factors["color"].numpy())
    with pytest.raises(ValueError, match="no factor 'size'.*label, shape, color"):
        pr.target_labels(ds, "size")
    with pytest.raises(ValueError):
        pr.target_labels(ds, "hue")  # continuous
    unlabelled = ImageSet("u", ds.images, torch.full((len(ds),), -1), [], ds.is_train)
    with pytest.raises(ValueError, match="no labels"):
        pr.target_labels(unlabelled, "label")


# -- invariance ----------------------------------------------------------------------------------
def test_an_exactly_invariant_encoder_scores_one():
    torch.set_num_threads(1)
    images = colour_images()
    out = invariance_scores(ChannelMean(3), images, CPU, ops=["flip", "grayscale", "color_jitter"])
    assert out["flip"]["score"] == pytest.approx(1.0, abs=1e-4), out["flip"]
    assert out["flip"]["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert out["flip"]["unrelated"] < 0.9  # centred channel means point in different directions
    assert out["grayscale"]["score"] < 0.9  # grayscale changes the channel means
    assert set(out["color_jitter"]) == {"score", "similarity", "unrelated", "se", "images", "reliable"}
    assert all(out[op]["reliable"] for op in out)  # unrelated images far apart: the scale holds


def test_an_invariance_score_carries_its_standard_error_which_shrinks_with_more_images():
    torch.set_num_threads(1)
    enc = ChannelMean(3)
    few = invariance_scores(enc, colour_images(n=8), CPU, ops=["grayscale"])["grayscale"]
    many = invariance_scores(enc, colour_images(n=256), CPU, ops=["grayscale"])["grayscale"]
    assert few["images"] == 8 and many["images"] == 256
    assert 0 < many["se"] < few["se"]  # about sqrt(32) times smaller
    assert abs(many["score"] - few["score"]) < 4 * few["se"]  # the two estimates agree within the error
    # an exact invariance is exact: flip leaves every channel mean as it was, so the score is 1 whatever unrelated
    # pairs are drawn, and its whisker is nil (the unrelated pairs' noise gave it 0.02)
    flip = invariance_scores(enc, colour_images(n=64), CPU, ops=["flip"])["flip"]
    assert flip["score"] == pytest.approx(1.0, abs=1e-5) and flip["se"] == pytest.approx(0.0, abs=1e-5)
    # the error says how far a score moves between sets of images: 24 sets of 64, drawn afresh (images, pairs, ops)
    pixels = RandomPixelMap(3 * 16 * 16)
    runs = [invariance_scores(pixels, colour_images(n=64, size=16, seed=s), CPU, ops=["color_jitter"], seed=s)
            ["color_jitter"] for s in range(24)]
    spread, said = np.std([r["score"] for r in runs], ddof=1), np.mean([r["se"] for r in runs])
    assert 0.6 < said / spread < 1.6, (said, spread)


class NearlyCollapsed(nn.Module):
    """The channel means on top of a constant: on nearly grey images (``greyish_images``)
    almost the same features for every image, as from a collapsed encoder."""

    def __init__(self, channels: int):
        super().__init__()
        self.feature_dim = channels

    def forward(self, x):
        return 0.2 + (x.mean(dim=(2, 3)) - 0.5)


def greyish_images(n: int = 64, seed: int = 0) -> torch.Tensor:
    """Colour images whose channel means differ by a few grey levels only."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randint(124, 133, (n, 3, 1, 1), generator=g)
    return (base + torch.randint(-8, 9, (n, 3, 32, 32), generator=g)).to(torch.uint8)


def test_scores_of_features_that_barely_tell_images_apart_are_marked_unreliable():
    """Unrelated images at a cosine of about 0.998 make the 0-to-1 scale a fraction of a
    percent of the cosine range: colour jitter, which moves the channel means more than they
    differ between images, scores below -1. Every score is marked, with a note saying why;
    the marks are recomputed from the stored numbers, so results cached before them read the
    same."""
    from ssrl_core.evaluate.invariance import MIN_SEPARATION, mark_reliability, unreliable_note

    torch.set_num_threads(1)
    out = invariance_scores(NearlyCollapsed(3), greyish_images(), CPU, ops=["flip", "color_jitter", "solarize"])
    u = out["flip"]["unrelated"]
    assert 1 - u < MIN_SEPARATION
    assert out["flip"]["score"] == pytest.approx(1.0, abs=1e-3)  # flip changes no channel mean
    assert out["color_jitter"]["score"] < -1  # moves the features further than an unrelated image is
    assert all(1 - 2 / (1 - u) <= e["score"] <= 1 for e in out.values())  # the possible range
    for e in out.values():
        assert e["reliable"] is False and "barely tell unrelated images apart" in e["note"]
        assert f"{u:.3f}" in e["note"] and "collapsed" in e["note"]
    old = {op: {k: e[k] for k in ("score", "similarity", "unrelated")} for op, e in out.items()}  # cached earlier
    strip = {op: {k: v for k, v in e.items() if k not in ("se", "images")} for op, e in out.items()}
    assert mark_reliability(old) == strip and unreliable_note(old) == out["flip"]["note"]
    healthy = invariance_scores(ChannelMean(3), colour_images(), CPU, ops=["flip", "grayscale"])
    assert unreliable_note(healthy) is None and mark_reliability(healthy) == healthy
    skipped = {"grayscale": {"skipped": "grayscale leaves these images unchanged"}}
    assert mark_reliability(skipped) == skipped and unreliable_note(skipped) is None


def test_a_random_pixel_map_is_not_flip_invariant():
    torch.set_num_threads(1)
    images = torch.randint(0, 256, (64, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    out = invariance_scores(RandomPixelMap(3 * 32 * 32), images, CPU, ops=["flip"])
    assert out["flip"]["score"] < 0.5, out
    # the same seed gives the same unrelated pairs and scores
    again = invariance_scores(RandomPixelMap(3 * 32 * 32), images, CPU, ops=["flip"])
    assert again == out


def test_colour_ops_are_skipped_on_grayscale_images():
    torch.set_num_threads(1)
    images = colour_images(32)[:, :1]
    out = invariance_scores(ChannelMean(1), images, CPU, ops=["grayscale", "flip"])
    assert set(out["grayscale"]) == {"skipped"} and "no colour" in out["grayscale"]["skipped"]
    assert "score" in out["flip"]
    every = invariance_scores(RandomPixelMap(32 * 32), images, CPU)
    from ssrl_core.augment import OPS

    assert set(every) == set(OPS)
    with pytest.raises(ValueError):
        invariance_scores(ChannelMean(1), images[:1], CPU)


def oriented_images(n: int, size: int = 8, seed: int = 0) -> torch.Tensor:
    """Random images with a consistent orientation: bright at the top, fading downwards, and a
    bright left column."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(1, 0, size).view(1, 1, size, 1).expand(n, 1, size, size).clone()
    ramp[..., 0] += 0.5
    x = ramp * 150 + torch.rand(n, 1, size, size, generator=g) * 100
    return x.clamp(0, 255).round().to(torch.uint8)


def test_rotate_all():
    x = oriented_images(3)
    r, k = rotate_all(x)
    assert r.shape == (12, 1, 8, 8) and k.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert torch.equal(r[:3], x) and torch.equal(r[6:9], x.flip(-1).flip(-2))


def test_rotation_equivariance_separates_aware_and_blind_encoders():
    torch.set_num_threads(1)
    train, test = oriented_images(64, seed=0), oriented_images(32, seed=1)
    aware = rotation_equivariance(RawPixels(64), train, test, CPU)
    blind = rotation_equivariance(SortedPixels(64), train, test, CPU)
    assert aware > 0.9, aware
    assert blind < 0.45, blind
    blind_mean = rotation_equivariance(ChannelMean(1), train, test, CPU)
    assert blind_mean < 0.45, blind_mean


class Counted(nn.Module):
    """An encoder that counts the images it embeds."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.seen, self.feature_dim = inner, 0, inner.feature_dim

    def forward(self, x):
        self.seen += len(x)
        return self.inner(x)


def test_invariance_and_rotation_read_the_features_a_run_has_and_give_the_same_numbers():
    """A run's probes embedded again the 512 test images (and the upright rotation copies) whose
    features embeddings.npy holds: a second of a digits run, 25 s of an MAE one."""
    from ssrl_core.evaluate.embed import embed

    torch.set_num_threads(1)
    train, test = oriented_images(64, seed=0), oriented_images(32, seed=1)
    enc = Counted(RawPixels(64))
    rot = rotation_equivariance(enc, train, test, CPU)
    assert enc.seen == 4 * (64 + 32)
    enc.seen = 0
    again = rotation_equivariance(enc, train, test, CPU, embed(enc, train, CPU), embed(enc, test, CPU))
    assert again == rot and enc.seen == (64 + 32) + 3 * (64 + 32)  # the upright ones once, for the features given
    images = colour_images(n=64)
    enc = Counted(RandomPixelMap(3 * 32 * 32))
    scores = invariance_scores(enc, images, CPU, ops=["flip", "color_jitter"])
    enc.seen = 0
    features = embed(enc, images, CPU)
    assert invariance_scores(enc, images, CPU, ops=["flip", "color_jitter"], features=features) == scores
    assert enc.seen == 64 + 2 * 64  # the features, then one transformed copy per op: none embedded twice


# -- training a classifier end to end ------------------------------------------------------------
def halves_set(n: int = 128, seed: int = 0):
    """Two classes of 16x16 grayscale images: the left half bright, or the right half."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 16, 16, generator=g) * 60
    x[y == 0, :, :, :8] += 150
    x[y == 1, :, :, 8:] += 150
    is_train = torch.zeros(n, dtype=torch.bool)
    is_train[torch.randperm(n, generator=g)[: n // 2]] = True
    return x.clamp(0, 255).round().to(torch.uint8), y.numpy(), is_train.numpy()


def test_train_classifier_learns_an_easy_task_without_touching_the_encoder():
    from ssrl_core.models import build_encoder

    torch.set_num_threads(1)
    torch.manual_seed(0)
    images, y, is_train = halves_set()
    enc = build_encoder("cnn-small", 1)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    acc = train_classifier(enc, images, y, np.flatnonzero(is_train), np.flatnonzero(~is_train), 2, "none", CPU,
                           pretrained=False, steps=30, batch=32)
    assert acc > 0.9, acc
    after = enc.state_dict()
    assert set(after) == set(before)
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError):
        train_classifier(enc, images, y, np.array([], dtype=np.int64), np.flatnonzero(~is_train), 2, "none", CPU,
                         pretrained=True, steps=1)


@pytest.mark.parametrize("pretrained, head_init, enc_lr, head_lr", [
    (False, False, 2e-3, 2e-3),  # from scratch: both at the head's rate
    (True, False, 2e-4, 2e-3),  # fine-tuning: the pretrained encoder at a tenth of it
    (True, True, 2e-4, 2e-4),  # LP-FT: the head starts fitted, so it moves at the encoder's tenth too
])
def test_fine_tuning_learning_rates_per_part_decay_along_a_cosine(monkeypatch, pretrained, head_init, enc_lr, head_lr):
    import math

    from ssrl_core.models import build_encoder

    seen = []

    class Recording(torch.optim.AdamW):
        def step(self, *a, **k):
            seen.append([g["lr"] for g in self.param_groups])
            return super().step(*a, **k)

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    torch.manual_seed(0)
    images, y, is_train = halves_set()
    enc = build_encoder("cnn-small", 1)
    init = (np.zeros((2, enc.feature_dim), np.float32), np.zeros(2, np.float32)) if head_init else None
    train_classifier(enc, images, y, np.flatnonzero(is_train), np.flatnonzero(~is_train), 2, "none", CPU,
                     pretrained=pretrained, steps=4, batch=8, head_init=init)
    cos = [0.5 * (1 + math.cos(math.pi * s / 4)) for s in range(4)]  # 1, 0.85, 0.5, 0.15
    assert len(seen) == 4
    for lrs, c in zip(seen, cos):
        assert math.isclose(lrs[0], enc_lr * c) and math.isclose(lrs[1], head_lr * c), (lrs, c)


def test_finetuned_accuracy_does_not_depend_on_which_test_images_are_scored_together():
    """The fine-tuned / from-scratch accuracy is scored with BatchNorm in eval mode: each test image's
    prediction is its own, so scoring one class's test images alone gives the same (near-perfect)
    accuracy as scoring them among the others (batch statistics would wipe out a one-class batch)."""
    from ssrl_core.models import build_encoder

    torch.set_num_threads(1)
    torch.manual_seed(0)
    images, y, is_train = halves_set()
    enc = build_encoder("cnn-small", 1)
    tr, te = np.flatnonzero(is_train), np.flatnonzero(~is_train)
    accs = [train_classifier(enc, images, y, tr, rows, 2, "none", CPU, pretrained=False, steps=30, batch=32)
            for rows in (te, te[y[te] == 0], te[y[te] == 1])]
    assert accs[0] > 0.9 and all(a > 0.9 for a in accs[1:]), accs
    assert accs[0] * len(te) == pytest.approx(accs[1] * (y[te] == 0).sum() + accs[2] * (y[te] == 1).sum())


class TinyLinear(nn.Module):
    """A trainable linear map of the raw pixels (fast to fine-tune)."""

    def __init__(self, in_dim: int, out_dim: int = 64):
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.feature_dim = out_dim

    def forward(self, x):
        return self.fc(x.reshape(x.shape[0], -1) - 0.5)


def noise_trained(n: int = 160, side: int = 8, seed: int = 0):
    """A stand-in for a finished run on images of pure noise, one distinct image each, whose 4
    labels have nothing to do with the pixels: no classifier can beat chance (0.25) on its test split."""
    from types import SimpleNamespace

    g = torch.Generator().manual_seed(seed)
    is_train = torch.zeros(n, dtype=torch.bool)
    is_train[torch.randperm(n, generator=g)[: n // 2]] = True
    ds = ImageSet(name="noise", images=torch.randint(0, 256, (n, 1, side, side), generator=g, dtype=torch.uint8),
                  labels=torch.arange(n) % 4, class_names=["a", "b", "c", "d"], is_train=is_train)
    torch.manual_seed(seed)
    config = SimpleNamespace(seed=seed, encoder="cnn-small", method="simclr", augment="none")
    return SimpleNamespace(dataset=ds, method=SimpleNamespace(encoder=TinyLinear(side * side)), device=CPU,
                           config=config)


def test_finetuning_trains_on_train_images_only():
    """The fine-tuned accuracy is scored on test images it never trained on: on labels that the
    pixels do not predict it stays near chance, where training on the test images would memorise
    them and report about 1."""
    from ssrl_core.evaluate.suite import classifier_curve_point

    torch.set_num_threads(1)
    trained = noise_trained()
    got = classifier_curve_point(trained, per_class=0, target="label", seeds=3, steps=5, pretrained=True)
    assert got["seeds"] == 1 and got["mean"] < 0.5, got


def test_supervised_from_scratch_draws_start_from_different_weights(monkeypatch):
    """The supervised-from-scratch reference's spread over its draws includes the random
    initialisation: each draw trains a freshly initialised network, not the same start again."""
    from ssrl_core.evaluate import suite

    torch.set_num_threads(1)
    trained = noise_trained()
    starts = []
    monkeypatch.setattr(suite, "train_classifier", lambda encoder, *a, **k: starts.append(
        [p.detach().clone() for p in encoder.parameters()]) or 0.5)
    suite.classifier_curve_point(trained, per_class=1, target="label", seeds=2, steps=1, pretrained=False)
    assert len(starts) == 2
    assert not all(torch.equal(a, b) for a, b in zip(*starts)), "both draws started from the same weights"


# -- the cache ------------------------------------------------------------------------------------
def test_cache_computes_once_and_reads_back(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"accuracy": 0.5, "values": [0.4, 0.6]}

    path = tmp_path / "probes.json"
    c = Cache(path)
    assert c.read() == {}
    assert c.get("a", compute) == {"accuracy": 0.5, "values": [0.4, 0.6]}
    assert c.get("a", compute) == {"accuracy": 0.5, "values": [0.4, 0.6]}
    assert len(calls) == 1 and path.exists()
    assert json.loads(path.read_text())["a"]["accuracy"] == 0.5

    def boom():
        raise AssertionError("should have been read from the file")

    fresh = Cache(path)
    assert fresh.get("a", boom) == {"accuracy": 0.5, "values": [0.4, 0.6]}
    # a run's cache in a folder that is gone (deleted with its home) makes it not anew; a shared one makes its own
    with pytest.raises(FileNotFoundError):
        Cache(tmp_path / "gone" / "probes.json").get("a", compute)
    assert not (tmp_path / "gone").exists()
    assert Cache(tmp_path / "references" / "r.json", shared=True).get("a", lambda: 1) == 1
    assert fresh.get("b", lambda: 3) == 3  # a new key is computed and added, the old one kept
    assert Cache(path).read() == {"a": {"accuracy": 0.5, "values": [0.4, 0.6]}, "b": 3}


# -- the per-epoch log ------------------------------------------------------------------------------
def test_snapshot_epochs():
    assert snapshot_epochs(0) == {0}
    assert snapshot_epochs(10) == set(range(11))
    assert snapshot_epochs(20) == set(range(21))
    s = snapshot_epochs(100)
    assert len(s) == 21 and {0, 100} <= s and s == set(range(0, 101, 5))
    for n in (21, 30, 57, 1000):
        s = snapshot_epochs(n)
        assert len(s) == 21 and min(s) == 0 and max(s) == n, n


def test_read_epochs_skips_a_truncated_line(tmp_path):
    assert read_epochs(tmp_path) == []
    (tmp_path / EPOCHS_LOG).write_text('{"epoch": 0, "loss": 1.0}\n{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "lo')
    assert read_epochs(tmp_path) == [{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5}]


def test_epoch_probe_logs_measures_and_snapshots(tmp_path):
    torch.set_num_threads(1)
    ds, _ = factor_set(200)
    # images whose first pixels encode the label: a channel-mean-free, label-bearing encoder input
    imgs = torch.zeros(len(ds), 1, 4, 4, dtype=torch.uint8)
    imgs[torch.arange(len(ds)), 0, 0, ds.labels] = 255
    ds.images = imgs
    probe = EpochProbe(ds, tmp_path, seed=0, epochs=2, device=CPU)
    probe.start(0)
    enc = RawPixels(16)
    for e in range(3):
        out = probe(enc, e, {"loss": 1.0 / (e + 1)})
        assert out["epoch_knn"] == pytest.approx(1.0)
    recs = read_epochs(tmp_path)
    assert [r["epoch"] for r in recs] == [0, 1, 2] and recs[1]["loss"] == 0.5
    assert all({"epoch_knn", "embedding_std", "effective_rank"} <= set(r) for r in recs)
    rows, snaps = read_snapshots(tmp_path)
    assert set(snaps) == {0, 1, 2} and len(rows) == len(ds)  # all 100 train and 100 test rows
    assert snaps[0].shape == (len(ds), 16) and snaps[0].dtype == np.float32
    assert np.allclose(snaps[2], imgs[torch.as_tensor(rows)].reshape(len(ds), -1).float().numpy() / 255)
    # a run resumed from epoch 1's checkpoint keeps the records up to it and forgets the epochs
    # it trains again; a fresh start forgets them all
    EpochProbe(ds, tmp_path, seed=0, epochs=2, device=CPU).start(1)
    assert [r["epoch"] for r in read_epochs(tmp_path)] == [0, 1]
    EpochProbe(ds, tmp_path, seed=0, epochs=2, device=CPU).start(0)
    assert read_epochs(tmp_path) == []


def test_the_epoch_probes_subset_is_fixed_by_the_seed_with_labelled_train_memory_and_test_queries(tmp_path):
    """A resumed run builds its probe again: the same seed must pick the same rows, or the snapshots of the
    epochs before and after the resume are of different images, and the map's points jump between them.
    The memory holds labelled training images, the queries labelled test images."""
    n = 4000
    labels = torch.arange(n) % 4
    labels[::7] = -1  # some images without a label
    is_train = torch.arange(n) % 5 != 0
    ds = ImageSet(name="big", images=torch.zeros(n, 1, 2, 2, dtype=torch.uint8), labels=labels,
                  class_names=list("abcd"), is_train=is_train)
    first = EpochProbe(ds, tmp_path / "a", seed=3, epochs=1, device=CPU)
    again = EpochProbe(ds, tmp_path / "b", seed=3, epochs=1, device=CPU)
    assert np.array_equal(first.rows, again.rows) and len(first.rows) == 1024 + 512
    memory, queries = first.rows[:first.n_mem], first.rows[first.n_mem:]
    assert first.n_mem == 1024 and len(set(first.rows.tolist())) == len(first.rows)
    assert is_train[memory].all() and not is_train[queries].any() and (labels[first.rows] >= 0).all()
    other = EpochProbe(ds, tmp_path / "c", seed=4, epochs=1, device=CPU)
    assert not np.array_equal(other.rows, first.rows)


def test_each_epochs_map_starts_from_the_previous_one_so_the_points_move_little(tmp_path):
    """The map-evolution slider: features that change a little from epoch to epoch give maps whose points
    move a little (each map laid out from the previous one), not maps laid out afresh, each turned and
    shuffled its own way."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(50, 8)) + 4 * np.eye(8)[k] for k in range(4)]).astype(np.float32)
    (tmp_path / SNAPSHOTS).mkdir()
    np.save(tmp_path / SNAPSHOTS / "rows.npy", np.arange(len(x)))
    for e in range(3):
        np.save(tmp_path / SNAPSHOTS / f"e{e:05d}.npy", (x + 0.3 * e * rng.normal(size=x.shape)).astype(np.float16))
    maps = evolution_maps(tmp_path)
    assert set(maps) == {0, 1, 2} and set(read_maps(tmp_path)) == {0, 1, 2}
    moved = [float(np.linalg.norm(maps[e + 1] - maps[e], axis=1).mean()) for e in range(2)]
    # each map has unit spread: laid out afresh, the points moved by 1.1 and 1.3; from the previous map, 0.46 and 0.62
    # (other noise seeds: up to 0.8, so the bound sits between the two, not at the edge of either)
    assert max(moved) < 1.0, moved


def test_epoch_knn_of_features_without_class_signal_is_near_chance(tmp_path):
    """The per-epoch kNN curve scores test images against a memory of train images: an encoder
    that gives each image its own random vector (no class signal) reads near chance (0.25), not
    near 1 (as it would if a query could find itself in the memory)."""
    torch.set_num_threads(1)
    n = 200
    g = torch.Generator().manual_seed(0)
    is_train = torch.zeros(n, dtype=torch.bool)
    is_train[torch.randperm(n, generator=g)[:150]] = True
    ds = ImageSet(name="noise", images=torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8),
                  labels=torch.arange(n) % 4, class_names=["a", "b", "c", "d"], is_train=is_train)
    probe = EpochProbe(ds, tmp_path, seed=0, epochs=1, device=CPU)
    probe.start(0)
    out = probe(RandomPixelMap(64, 64), 0)
    assert out["epoch_knn"] < 0.45, out


# -- a real finished run ------------------------------------------------------------------------------
def run_dir_of(rid: str) -> Path:
    from ssrl_core.runs.store import RunStore

    return Path(RunStore().get(rid)["run_dir"])


def test_training_writes_epoch_log_snapshots_and_probes(finished_run):
    d = run_dir_of(finished_run("simclr"))
    recs = read_epochs(d)
    assert [r["epoch"] for r in recs] == [0, 1]  # epoch 0 = the initial encoder
    assert all(0 <= r["epoch_knn"] <= 1 for r in recs)
    assert (d / SNAPSHOTS / "rows.npy").exists()
    _, snaps = read_snapshots(d)
    assert set(snaps) == {0, 1}
    # the aligned maps were computed by training and are read back, not recomputed
    assert set(read_maps(d)) == {0, 1}
    called = []
    assert set(evolution_maps(d, on_epoch=called.append)) == {0, 1} and called == []

    probes = json.loads((d / PROBES).read_text())
    assert {"knn_k", "invariance", "rotation_equivariance", "linear/label/all/s3", "linear/label/1/s3"} <= set(probes)
    assert all(0 <= v <= 1 for v in probes["knn_k"].values())
    summary = json.loads((d / "summary.json").read_text())
    assert summary["linear_1_per_class"] == probes["linear/label/1/s3"]["mean"]


def test_the_curves_every_label_point_is_the_runs_linear_accuracy_fitted_once(finished_run, monkeypatch):
    """The label-efficiency curve's "all" point and the run's linear accuracy are one readout:
    the probes take it from the run's metrics instead of fitting it again, and it is what a
    fresh fit on the saved features gives."""
    from ssrl_core.evaluate.linear import linear_probe_accuracy

    d = run_dir_of(finished_run("simclr"))
    (d / PROBES).unlink()
    fits = []
    monkeypatch.setattr(pr, "linear_probe_accuracy", lambda *a, **k: fits.append(len(a[0])) or 0.5)
    rp = RunProbes(d, device="cpu")
    y = pr.target_labels(rp.dataset, "label")
    tr, te = pr.labelled_split(rp.dataset, y)
    every = rp.linear(0)
    assert fits == []  # not fitted again
    f = np.load(d / "embeddings.npy")
    fresh = linear_probe_accuracy(f[tr], y[tr], f[te], y[te])
    assert every["mean"] == fresh == json.loads((d / "metrics.json").read_text())["linear_accuracy"]
    assert every["values"] == [fresh] and every["n_labels"] == len(tr) and every["labels_per_class"] == 0
    assert rp.linear(1)["seeds"] == 3 and fits == [10] * 3  # a smaller budget is fitted, draw by draw


def test_cli_invariance_on_a_finished_run(finished_run, capsys):
    from ssrl_core.cli import main

    d = run_dir_of(finished_run("simclr"))
    assert main(["invariance", "--run", str(d)]) == 0
    printed = capsys.readouterr().out
    out = json.loads(printed)
    assert main(["invariance", "--run", str(d)]) == 0 and capsys.readouterr().out == printed  # byte for byte
    assert out["run"] == str(d)
    assert isinstance(out["invariance"]["crop"]["score"], float)
    assert "skipped" in out["invariance"]["grayscale"]  # digits are grayscale
    assert 0 <= out["rotation_equivariance"] <= 1
    assert out["invariance"]["crop"]["reliable"] is True and "warning" not in capsys.readouterr().err


def test_cli_invariance_says_when_the_scores_are_unreliable(finished_run, capsys):
    """A run whose cached scores (from before the mark) rest on unrelated images at a cosine of
    0.997, as a collapsed run of 30 images gave: the JSON marks every score, and the command
    says so on stderr."""
    from ssrl_core.cli import main

    d = run_dir_of(finished_run("simclr"))
    probes = json.loads((d / PROBES).read_text())
    probes["invariance"] = {"crop": {"score": -3.0, "similarity": 0.988, "unrelated": 0.997},
                            "color_jitter": {"score": -93.45, "similarity": 0.71665, "unrelated": 0.997},
                            "grayscale": {"skipped": "grayscale leaves these images unchanged (they have no colour)"}}
    (d / PROBES).write_text(json.dumps(probes))
    assert main(["invariance", "--run", str(d)]) == 0
    out = capsys.readouterr()
    inv = json.loads(out.out)["invariance"]
    assert inv["color_jitter"]["score"] == -93.45 and inv["color_jitter"]["reliable"] is False
    assert inv["crop"]["reliable"] is False and "skipped" in inv["grayscale"] and "reliable" not in inv["grayscale"]
    assert out.err.startswith("warning: the invariance scores are unreliable: the features barely tell unrelated "
                              "images apart (their mean cosine similarity is 0.997")


def test_cli_probe_says_each_draw_of_the_networks_it_trains(finished_run, capsys, monkeypatch):
    """The supervised reference (and --finetune) trains a network per draw, tens of seconds each
    on a CPU: each draw is said on stderr as it starts, so minutes of it are not silent. (The
    training itself is stubbed: the lines are what is tested, not the accuracy.)"""
    import re

    from ssrl_core.cli import main
    from ssrl_core.evaluate import suite

    trained = []
    monkeypatch.setattr(suite, "train_classifier", lambda *a, **k: trained.append(k["seed"]) or 0.5)
    rid = finished_run("simclr")
    assert main(["probe", "--run", rid, "--labels-per-class", "1", "--seeds", "2"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["supervised_scratch"] == 0.5 and trained == [0, 1]
    lines = err.splitlines()
    i = lines.index("  reference: supervised from scratch (cached once per dataset, encoder, augmentations and seed)")
    assert [re.sub(r"\(\d+ s in\)", "(N s in)", line) for line in lines[i + 1:i + 3]] == [
        "  supervised from scratch: draw 1 of 2 (N s in)", "  supervised from scratch: draw 2 of 2 (N s in)"]
    assert re.fullmatch(r"done in \d+ s", lines[-1])
    assert main(["probe", "--run", rid, "--labels-per-class", "0", "--finetune"]) == 0  # all labels: one draw
    assert "  fine-tuning: draw 1 of 1 (" in capsys.readouterr().err and trained == [0, 1, 0, 0]  # and its reference


def test_cli_probe_on_a_finished_run(finished_run, capsys):
    from ssrl_core.cli import main

    rid = finished_run("simclr")
    d = run_dir_of(rid)
    assert main(["probe", "--run", str(d), "--labels-per-class", "1", "--no-references", "--seeds", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["probe"] == "linear" and out["target"] == "label"
    assert 0 <= out["accuracy"] <= 1 and out["std"] >= 0 and len(out["values"]) == 2
    assert out["accuracy"] == pytest.approx(np.mean(out["values"])) and out["n_labels"] == 10
    # the budget as asked beside the labelled images it is in all: "n_labels": 10 alone read as 10 per class (a review)
    assert out["labels_per_class"] == 1 and out["classes"] == 10
    assert "linear/label/1/s2" in json.loads((d / PROBES).read_text())
    # by run id: the same answer, read from the cache
    assert main(["probe", "--run", rid, "--labels-per-class", "1", "--no-references", "--seeds", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["values"] == out["values"]

    assert main(["probe", "--run", "no/such/run", "--no-references"]) == 2
    assert "neither a run folder" in capsys.readouterr().err
    assert main(["probe", "--run", "nosuchid", "--no-references"]) == 2
    assert "neither a run folder" in capsys.readouterr().err
    assert main(["probe", "--run", str(d), "--labels-per-class", "-1"]) == 2
    assert main(["probe", "--run", str(d), "--seeds", "0"]) == 2
    capsys.readouterr()

    assert main(["probe", "--run", str(d), "--target", "nosuchfactor", "--labels-per-class", "1",
                 "--no-references"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: digits has no factor 'nosuchfactor': choose one of label"), err  # not "--labels-per-class"

    # a folder whose run stopped before its evaluation ended (a checkpoint, no summary.json): refused
    # by path as it is by id, and nothing cached in it
    (d / "summary.json").unlink()
    (d / PROBES).unlink()
    for cmd in (["probe", "--run", str(d), "--labels-per-class", "1", "--no-references"], ["invariance", "--run", str(d)]):
        assert main(cmd) == 2, cmd
        assert f"error: {d} holds a run that has not finished (no summary.json" in capsys.readouterr().err
    assert not (d / PROBES).exists()


def test_cli_probe_and_invariance_on_a_read_only_run_print_the_result_then_say_it_was_not_saved(
        finished_run, capsys, monkeypatch):
    """They computed the result and then failed on saving it, naming a temporary file
    (probes.json.tmpNNNN) and printing nothing: the result is printed as always, then an
    error naming probes.json and what to do, exit 2."""
    import errno
    import os

    from ssrl_core.cli import main
    from ssrl_core.runs import artifacts

    d = run_dir_of(finished_run("simclr"))
    cached = json.loads((d / PROBES).read_text())
    for key in ("invariance", "rotation_equivariance", "linear/label/1/s2"):
        cached.pop(key, None)
    (d / PROBES).write_text(json.dumps(cached))
    if os.geteuid() == 0:  # root writes into a read-only folder: its files refused as the kernel refuses a user's
        real_open = open

        def refusing(path, *args, **kwargs):
            if Path(path).parent == d:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(artifacts, "open", refusing, raising=False)
    else:
        d.chmod(0o555)
    try:
        for cmd, key in ((["probe", "--run", str(d), "--labels-per-class", "1", "--no-references", "--seeds", "2"],
                          "accuracy"), (["invariance", "--run", str(d)], "invariance")):
            assert main(cmd) == 2, cmd
            out = capsys.readouterr()
            assert key in json.loads(out.out)  # printed as when it is saved
            last = out.err.splitlines()[-1]  # after probe's progress lines
            assert last.startswith(f"error: the result printed above could not be saved to {d / PROBES}: the "
                                   f"folder {d} is not writable (Permission denied): make it writable"), out.err
            assert ".tmp" not in out.err
    finally:
        d.chmod(0o755)
    assert json.loads((d / PROBES).read_text()) == cached  # nothing written


def test_an_unreadable_cache_is_kept_aside_not_replaced_unseen(tmp_path, monkeypatch):
    """A probes.json cut short or edited by hand into bad JSON read as empty, and the next probe
    wrote a fresh file over it: what it held (fine-tuning results of minutes) was gone unseen. It
    is moved aside to probes.json.unreadable (numbered beside an earlier one) and named."""
    import errno

    path = tmp_path / PROBES
    path.write_text('{"finetune/label/1/s3/t200": {"mean": 0.7}, ')  # cut short
    cache = Cache(path)
    assert cache.read() == {}  # read as empty, as before: the probe is computed again
    assert cache.get("knn_k", lambda: {"20": 0.9}) == {"20": 0.9}
    assert json.loads(path.read_text()) == {"knn_k": {"20": 0.9}}
    assert cache.set_aside == tmp_path / "probes.json.unreadable"
    assert cache.set_aside.read_text() == '{"finetune/label/1/s3/t200": {"mean": 0.7}, '
    path.write_text("[1, 2]")  # valid JSON, not an object: not a cache either
    again = Cache(path)
    again.merge("invariance", {"flip": {"score": 1.0}})
    assert again.set_aside == tmp_path / "probes.json.unreadable-2" and again.set_aside.read_text() == "[1, 2]"
    assert (tmp_path / "probes.json.unreadable").exists()  # the first one is still there
    assert json.loads(path.read_text()) == {"invariance": {"flip": {"score": 1.0}}}
    real = Path.read_bytes

    def busy(self):  # a whole file that cannot be read just now (too many open files): neither moved nor replaced
        if self == path:
            raise OSError(errno.EMFILE, "Too many open files", str(path))
        return real(self)

    whole = path.read_text()
    monkeypatch.setattr(Path, "read_bytes", busy)
    with pytest.raises(OSError, match="Too many open files"):
        Cache(path).merge("invariance", {"crop": {"score": 0.5}})
    monkeypatch.undo()
    assert path.read_text() == whole and not (tmp_path / "probes.json.unreadable-3").exists()
    fine = Cache(path)
    fine.get("knn_k", lambda: {})
    fine.merge("invariance", {"crop": {"score": 0.5}})
    assert fine.set_aside is None and sorted(p.name for p in tmp_path.iterdir() if "unreadable" in p.name) == [
        "probes.json.unreadable", "probes.json.unreadable-2"]


def test_cli_invariance_says_it_kept_an_unreadable_probes_json_aside(finished_run, capsys):
    from ssrl_core.cli import main

    d = run_dir_of(finished_run("simclr"))
    (d / PROBES).write_text("{ edited by hand")
    assert main(["invariance", "--run", str(d)]) == 0
    out = capsys.readouterr()
    assert "invariance" in json.loads(out.out)
    assert (f"note: {d / PROBES} held no readable results (cut short or edited by hand): it is kept as "
            f"{d / 'probes.json.unreadable'}, and probes.json now holds what this command computed") in out.err
    assert (d / "probes.json.unreadable").read_text() == "{ edited by hand"
    assert "invariance" in json.loads((d / PROBES).read_text())


def test_references_are_shared_and_cached(finished_run, ssrl_home):
    torch.set_num_threads(1)
    rp = RunProbes(run_dir_of(finished_run("simclr")), device="cpu")
    trained = rp.trained
    r = random_linear(trained, 1, seeds=2)
    assert r["seeds"] == 2 and 0 <= r["mean"] <= 1 and r["n_labels"] == 10
    [ref] = list((ssrl_home / "references").glob("*.json"))
    assert any(k.startswith("random-linear/label/1/s2") for k in json.loads(ref.read_text()))
    s = supervised_scratch(trained, 1, seeds=1, steps=2)
    assert s["seeds"] == 1 and s["steps"] == 2 and 0 <= s["mean"] <= 1
    # read back: the same values, nothing recomputed
    assert supervised_scratch(trained, 1, seeds=1, steps=2) == s
    assert random_linear(trained, 1, seeds=2) == r
    f = rp.finetune(1, seeds=1, steps=2)
    assert f["steps"] == 2 and len(f["values"]) == 1
    assert "finetune/label/1/s1/t2" in rp.cache.read()


def test_a_shared_reference_two_jobs_miss_at_once_is_computed_once(tmp_path):
    """Two probe jobs that one click on Evaluate starts both missed the untrained encoder's
    readout and both computed it (16 s each, side by side on two cores): the second now waits
    for the first's. (Two threads, as two processes: each opens its own lock file.)"""
    import threading
    import time

    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.5)  # the other job asks meanwhile
        return {"20": 0.5}

    got = []
    cache = tmp_path / "references" / "digits-cnn-small-0123456789ab.json"
    jobs = [threading.Thread(target=lambda: got.append(Cache(cache, shared=True).get("random-knn/label", compute)))
            for _ in range(2)]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join(30)
    assert len(calls) == 1 and got == [{"20": 0.5}, {"20": 0.5}]
    # the lock per key lies apart, in .computing/: the folder lists the caches as before
    assert sorted(p.name for p in cache.parent.iterdir()) == [".computing", cache.name, cache.name + ".lock"]


def test_the_random_reference_is_the_untrained_run_of_the_same_seed(finished_run, ssrl_home):
    """A run's random reference (kNN at each k, linear readout on all labels) reproduces what
    a run of the untrained encoder with the same architecture and seed measures, so a gain
    over random is paired seed for seed without such a run; computed once, read back after."""
    from ssrl_core.runs.store import RunStore

    torch.set_num_threads(1)
    # (no references copied in: the untrained encoder measured here, not a random run's numbers read back)
    trained = RunProbes(run_dir_of(finished_run("simclr", references=False)), device="cpu").trained
    knn = random_knn(trained)
    assert set(knn) == {"1", "5", "20", "100"} and all(0 < v <= 1 for v in knn.values())
    rid = finished_run("random")  # the untrained encoder itself, seed 0 like the simclr run
    summary = RunStore().get(rid)["summary"]
    assert knn["20"] == summary["knn_accuracy"]
    assert random_linear(trained, 0)["mean"] == pytest.approx(summary["linear_accuracy"], abs=1e-9)
    assert random_knn(RunProbes(run_dir_of(rid), device="cpu").trained) == knn  # one shared reference
    [ref] = list((ssrl_home / "references").glob("*.json"))
    assert json.loads(ref.read_text())["random-knn/label"] == knn
    # another seed is another random encoder, with its own reference
    other = trained.config.to_dict() | {"seed": 1}
    trained.config = type(trained.config).from_dict(other)
    assert random_knn(trained) != knn and len(list((ssrl_home / "references").glob("*.json"))) == 2


def test_a_random_runs_references_reuse_its_own_features(finished_run, monkeypatch):
    """A random run is the untrained encoder its references need: its probes read the run's
    own features instead of embedding the dataset a second time, and its invariance is not
    measured a second time for the reference, which gives what the run measured."""
    from ssrl_core.evaluate import suite
    from ssrl_core.runs.store import RunStore

    torch.set_num_threads(1)
    rid = finished_run("random", references=False)
    (run_dir_of(rid) / "probes.json").unlink(missing_ok=True)

    def no_second_embedding(*a, **k):
        raise AssertionError("the dataset was embedded again")

    measured, measure = [], suite.encoder_invariance
    monkeypatch.setattr(suite, "embed", no_second_embedding)
    monkeypatch.setattr(suite, "encoder_invariance", lambda *a, **k: measured.append(1) or measure(*a, **k))
    rp = RunProbes(run_dir_of(rid), device="cpu")
    rp.standard()
    summary = RunStore().get(rid)["summary"]
    assert random_knn(rp.trained)["20"] == summary["knn_accuracy"]
    assert random_linear(rp.trained, 0)["mean"] == pytest.approx(summary["linear_accuracy"], abs=1e-9)
    ref = suite.random_invariance(rp.trained)
    assert ref == {"invariance": rp.invariance(), "rotation_equivariance": rp.rotation_equivariance()}
    assert len(measured) == 1  # the run's own, once


def test_the_untrained_encoders_invariance_is_a_random_runs_own(finished_run):
    """The gray bars of the Invariance page: the untrained encoder of a run's architecture and
    seed scores each op exactly as a run of that untrained encoder does."""
    from ssrl_core.evaluate.suite import random_invariance

    torch.set_num_threads(1)
    # (no references copied in: the untrained encoder measured here, not a random run's numbers read back)
    ref = random_invariance(RunProbes(run_dir_of(finished_run("simclr", references=False)), device="cpu").trained)
    random_run = RunProbes(run_dir_of(finished_run("random")), device="cpu")
    assert ref["invariance"] == random_run.invariance()
    assert ref["rotation_equivariance"] == random_run.rotation_equivariance()


def test_a_failing_probe_does_not_fail_the_trained_run(tmp_path, monkeypatch):
    from ssrl_core.config import RunConfig
    from ssrl_core.evaluate import suite
    from ssrl_core.runs.execute import execute

    def broken(self, on_event=None):
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(suite.RunProbes, "standard", broken)
    events = []
    summary = execute(RunConfig(dataset="digits", method="random", epochs=0), tmp_path / "run",
                      on_event=events.append, with_umap=False)
    assert summary["knn_accuracy"] > 0.5  # the run's own results are kept
    assert summary["probe_error"] == "RuntimeError: probe exploded"
    assert any(e["kind"] == "warning" and "probe exploded" in e["message"] for e in events)


def test_fit_linear_head_reproduces_the_linear_probe_on_raw_features():
    from ssrl_core.evaluate.linear import fit_linear_head, linear_probe_accuracy

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30)
    x = rng.normal(size=(120, 16)) * rng.uniform(0.1, 10, size=16) + 5.0  # scaled and shifted, as raw features are
    x[np.arange(120), y] += 40.0
    tr, te = np.arange(0, 120, 2), np.arange(1, 120, 2)
    W, b = fit_linear_head(x[tr], y[tr], num_classes=6, scaler_x=x)  # two classes never seen
    acc_head = float(((x[te] @ W.T + b).argmax(1) == y[te]).mean())
    assert acc_head == pytest.approx(linear_probe_accuracy(x[tr], y[tr], x[te], y[te], scaler_x=x))
    assert acc_head > 0.9 and (b[4:] < -1e3).all()  # unseen classes are never predicted


def test_fit_linear_head_of_two_classes_predicts_the_right_class():
    """Fine-tuning on a two-class target starts from the linear readout: its head must predict
    what the readout predicts (the binary case's single row of weights in the right place), not
    the other class (a starting accuracy near 0 on separable data)."""
    from ssrl_core.evaluate.linear import fit_linear_head, fit_linear_probe

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), 40)
    x = rng.normal(size=(80, 8)) * rng.uniform(0.1, 10, size=8) + 5.0
    x[np.arange(80), y] += 30.0
    W, b = fit_linear_head(x, y, num_classes=2)
    assert W.shape == (2, 8) and b.shape == (2,)
    scaler, clf = fit_linear_probe(x, y)
    pred = (x @ W.T + b).argmax(1)
    assert (pred == clf.predict(scaler.transform(x))).all() and (pred == y).all()


def test_learn_names_the_factor_a_cluster_follows_beside_its_label():
    """Clusters of features that encode colour alone are each one colour and a mix of shapes:
    the caption says the colour (with its rate in the whole set), not only the shape; features
    that encode the shape are captioned by shape alone."""
    from app.images import cluster_caption
    from ssrl_core.illustrate import cluster_examples

    ds, by_shape = factor_set(n=240)
    color = ds.factors["color"].numpy()
    by_color = np.zeros_like(by_shape)
    by_color[np.arange(len(color)), color] = 3.0
    clusters = cluster_examples(ds, by_color, k=3)
    assert sorted(c["factor"]["value"] for c in clusters) == ["b", "g", "r"]
    assert all(c["factor"]["share"] == 1.0 and c["majority_share"] == 0.25 for c in clusters)
    assert cluster_caption(clusters[0]) == (f"cluster of 80: 100% are {clusters[0]['factor']['value']} (colour; vs 33% of "
                                            f"all images); 25% are {clusters[0]['majority']} (vs 25% of all images)")
    clusters = cluster_examples(ds, by_shape, k=4)  # (k-means may merge two shapes: one random start)
    assert all(c["factor"] is None and c["majority_share"] >= 0.5 for c in clusters)
    # two groups of unequal size, with a little noise (k-means cannot split a cluster of identical points)
    red_or_not = np.random.default_rng(0).normal(0, 0.1, by_shape.shape).astype(by_shape.dtype)
    red_or_not[np.arange(len(color)), np.minimum(color, 1)] += 3.0
    assert [c["size"] for c in cluster_examples(ds, red_or_not, k=2)] == [160, 80]  # largest first, as Learn shows them
    c = clusters[-1]
    assert cluster_caption(c) == f"cluster of {c['size']}: {c['majority_share']:.0%} are {c['majority']} (vs 25% of all images)"


def test_label_purity_is_the_share_of_images_in_their_clusters_majority_label():
    from ssrl_core.illustrate import label_purity

    clusters = [{"size": 30, "majority_share": 0.9}, {"size": 10, "majority_share": 0.5}]
    assert label_purity(clusters) == pytest.approx((27 + 5) / 40)
    assert label_purity([{"size": 5, "majority_share": None}]) is None  # no label known
    ds, by_shape = factor_set(n=240)
    color = ds.factors["color"].numpy()
    by_color = np.zeros_like(by_shape)
    by_color[np.arange(len(color)), color] = 3.0
    from ssrl_core.illustrate import cluster_examples
    assert label_purity(cluster_examples(ds, by_color, k=3)) == pytest.approx(0.25)  # colour clusters: shapes at chance


def test_a_readouts_spread_over_its_draws_is_the_sample_standard_deviation():
    """Over 3 draws of labelled images the population's std (ddof 0) is 18% smaller than the
    sample's, which a spread over a few draws estimates (a statistician's review: 0.0496 shown
    for 0.0607). New caches write the sample's; old ones, which kept their values, read the same."""
    import numpy as np

    from ssrl_core.evaluate.probes import sample_std, spread

    values = [0.40, 0.45, 0.53]
    assert spread(values)["std"] == pytest.approx(np.std(values, ddof=1)) == pytest.approx(0.06557, abs=1e-5)
    old = {"mean": 0.46, "std": float(np.std(values)), "values": values}  # written before, ddof 0
    assert sample_std(old) == pytest.approx(spread(values)["std"])
    assert sample_std({"std": 0.02}) == 0.02 and sample_std(spread([0.9])) == 0.0  # no draws kept; one fit

    from app.readouts import budget_curve

    curve = budget_curve({"linear/label/1/s3": {**old, "labels_per_class": 1, "n_labels": 10, "classes": 10}}, "linear")
    assert curve[2] == [pytest.approx(0.06557, abs=1e-5)]


# -- the library as a notebook uses it ---------------------------------------------------------
def test_probes_refuse_a_run_still_training_and_take_a_run_id(finished_run, tmp_path, monkeypatch):
    """A library review: probes of a run between two epochs were read off the first epoch's checkpoint and cached for
    good (kNN at k=20 0.883 beside its summary's 0.911), and ``RunProbes(ID)`` wrote probes.json and its lock into a
    folder named after the id under the working directory, and never read the run's cache."""
    import shutil

    from ssrl_core.runs import artifacts as art

    rid = finished_run("simclr")
    training = tmp_path / "training"
    shutil.copytree(run_dir_of(rid), training)
    (training / art.SUMMARY).unlink()  # between two epochs: a checkpoint, no summary yet
    (training / PROBES).unlink()
    with pytest.raises(ValueError, match="has not finished"):
        RunProbes(training)
    assert not (training / PROBES).exists()
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    monkeypatch.chdir(notebook)
    rp = RunProbes(rid, device="cpu")
    assert rp.dir == run_dir_of(rid) and rp.knn_k() == RunProbes(run_dir_of(rid)).knn_k()
    assert not list(notebook.iterdir())  # nothing under the working directory


def test_a_run_id_is_refused_until_its_run_is_done_even_with_a_checkpoint(ssrl_home):
    """Between two epochs a run's folder holds a checkpoint: by its id, probes must still wait for its evaluation."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs import artifacts as art
    from ssrl_core.runs import run_folder
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr"))
    store.claim("test")
    folder = Path(store.get(rid)["run_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / art.CHECKPOINT).write_bytes(b"")  # its first epoch's
    with pytest.raises(ValueError, match=f"run {rid} is running: this needs a finished run"):
        run_folder(rid)
    assert run_folder(rid, finished=False) == folder
    store.finish(rid, "cancelled", error="cancelled at epoch 2 of 5")
    with pytest.raises(ValueError, match=f"run {rid} is cancelled: this needs a finished run"):
        run_folder(rid)


def test_pixels_of_the_wrong_kind_are_refused_saying_which_kind(finished_run):
    """The encoder takes float pixels in [0, 1] and ``embed`` uint8 ones: each given the other's ran through with no
    error, into features of nothing (invariance scores of -24.7 and -34944.7)."""
    from ssrl_core.evaluate.embed import embed
    from ssrl_core.train import load_trained

    trained = load_trained(run_dir_of(finished_run("simclr")), "cpu")
    enc, images = trained.method.encoder, trained.dataset.images[:4]
    with pytest.raises(TypeError, match=r"float images in \[0, 1\].*got torch.uint8: divide uint8 pixels by 255"):
        enc(images)
    with pytest.raises(TypeError, match="embed takes uint8 images.*got torch.float32"):
        embed(enc, images.float() / 255, CPU)
    with pytest.raises(TypeError, match="embed takes uint8 images"):
        invariance_scores(enc, images.float() / 255, CPU)
    with torch.no_grad():
        assert np.allclose(embed(enc, images, CPU), enc(images.float() / 255).numpy(), atol=1e-5)


def test_loading_a_run_leaves_the_callers_random_numbers_as_they_were(finished_run):
    """``load_trained`` seeded torch's global generator with the run's seed (to build the network its checkpoint then
    overwrote), so a notebook's ``torch.manual_seed(123)`` sequence changed after it."""
    from ssrl_core.train import load_trained

    folder = run_dir_of(finished_run("simclr"))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_trained(folder, "cpu")
    assert torch.equal(torch.rand(3), expected)


def test_knn_says_which_argument_is_wrong():
    """Swapped, misaligned or mislabelled arguments met numpy's "axis 1 is out of bounds" or "index 1435 is out of
    bounds"; torch tensors an AttributeError."""
    from ssrl_core.evaluate.knn import knn_accuracy

    rng = np.random.default_rng(0)
    mem, q = rng.normal(size=(40, 8)).astype(np.float32), rng.normal(size=(10, 8)).astype(np.float32)
    y, yq = np.arange(40) % 4, np.arange(10) % 4
    with pytest.raises(ValueError, match=r"features \[M, D\].*got \[40\] and"):
        knn_accuracy(y, mem, q, yq, 4)  # labels and features swapped
    with pytest.raises(ValueError, match="one integer label per memory row: 40 rows, labels of shape"):
        knn_accuracy(mem, y[:30], q, yq, 4)
    with pytest.raises(ValueError, match="one label per query: 10 queries"):
        knn_accuracy(mem, y, q, yq[:5], 4)
    with pytest.raises(ValueError, match="labels run up to 3, above num_classes - 1 = 2"):
        knn_accuracy(mem, y, q, yq, 3)
    with pytest.raises(ValueError, match=r"unlabelled images \(label -1\), which cannot vote"):
        knn_accuracy(mem, np.where(y == 3, -1, y), q, yq, 4)  # they voted for the last class
    with pytest.raises(ValueError, match="a memory of at least one labelled image; it is empty"):
        knn_accuracy(mem[:0], y[:0], q, yq, 4)
    with pytest.raises(ValueError, match="k must be a whole number of neighbours, 1 or more; got 0"):
        knn_accuracy(mem, y, q, yq, 4, k=0)
    from_torch = knn_accuracy(torch.from_numpy(mem), torch.from_numpy(y), torch.from_numpy(q), torch.from_numpy(yq), 4)
    assert from_torch == knn_accuracy(mem, y, q, yq, 4)
    assert knn_accuracy(mem, y, mem, y, 4, k=1) == 1.0  # each image its own nearest neighbour


def test_a_run_folders_view_says_a_wrong_folder_or_image_number_as_such(finished_run, tmp_path):
    """``RunArtifacts(ID)`` (an id, not a folder) said its embeddings "cannot be read ... the run folder was damaged",
    and ``neighbours(-1)`` found some image's neighbours, ``neighbours(99999)`` an IndexError of numpy's."""
    from ssrl_core.runs.artifacts import RunArtifacts

    rid = finished_run("simclr")
    with pytest.raises(ValueError, match=f"{rid} is not a folder: .*run_folder"):
        RunArtifacts(rid).embeddings
    view = RunArtifacts(run_dir_of(rid))
    n = len(view.embeddings)
    for row in (-1, n):
        with pytest.raises(IndexError, match=f"there is no image #{row}: .*#0 to #{n - 1}"):
            view.neighbours(row)
    assert len(view.neighbours(n - 1)) == 8 and view.search(view.embeddings[0])[0][0] == 0  # (search keeps the image)


def test_an_ops_score_is_the_same_whichever_ops_are_measured_beside_it_and_in_any_order():
    """Each op draws from its own generator: with one shared one, colour jitter's draws, and its
    score, changed when crop was measured before it."""
    torch.set_num_threads(1)
    enc, images = RandomPixelMap(3 * 16 * 16), colour_images(n=32, size=16)
    alone = invariance_scores(enc, images, CPU, ops=["color_jitter"])["color_jitter"]
    after = invariance_scores(enc, images, CPU, ops=["crop", "noise", "color_jitter"])
    before = invariance_scores(enc, images, CPU, ops=["color_jitter", "noise", "crop"])
    assert after["color_jitter"] == alone == before["color_jitter"]
    assert after["noise"] == before["noise"] and after["crop"] == before["crop"]
    other_seed = invariance_scores(enc, images, CPU, ops=["color_jitter"], seed=1)["color_jitter"]
    assert other_seed["similarity"] != alone["similarity"]  # the seed still decides the draws


def test_an_op_added_after_a_run_was_measured_is_measured_alone_and_scores_as_beside_the_rest(finished_run):
    """A contributor's review: an op added to ``OPS`` after a run's invariance (and its untrained
    network's) was cached was never measured for it (``probe``, the worker and Invariance read
    the cached ops), and the page called it an op that changes nothing. Now the missing op
    alone is measured, the cached ones are kept as they are, and it scores what a measurement of
    every op gives it."""
    from ssrl_core.evaluate.probes import RANDOM_INVARIANCE
    from ssrl_core.evaluate.suite import random_invariance, references_of
    from ssrl_core.runs import artifacts as art

    torch.set_num_threads(1)
    rp = RunProbes(run_dir_of(finished_run("simclr")), device="cpu")
    full = rp.invariance()
    ref_full = random_invariance(rp.trained)
    # as cached before noise existed, with a mark on crop's entry that a new measurement would not give it
    cache = Cache(rp.dir / art.PROBES)
    older = {op: e for op, e in cache.read()["invariance"].items() if op != "noise"}
    older["crop"] = {**older["crop"], "kept": True}
    art.write_json(cache.path, {**cache.read(), "invariance": older})
    refs = references_of(rp.trained)
    ref = refs.read()[RANDOM_INVARIANCE]
    art.write_json(refs.path, {**refs.read(), RANDOM_INVARIANCE: {
        **ref, "invariance": {op: e for op, e in ref["invariance"].items() if op != "noise"}}})

    again = RunProbes(rp.dir, device="cpu")
    now = again.invariance()
    assert set(now) == set(full)
    assert now["noise"] == full["noise"]  # measured alone, as beside the others
    assert now["crop"]["kept"] is True  # the cached ops are not measured again
    assert Cache(rp.dir / art.PROBES).read()["invariance"]["noise"] == full["noise"]  # and cached
    assert random_invariance(again.trained)["invariance"]["noise"] == ref_full["invariance"]["noise"]
    assert "noise" in refs.read()[RANDOM_INVARIANCE]["invariance"]


def test_the_unrelated_pairs_never_pair_an_image_with_itself():
    """The 0 of every invariance score: features orthogonal per image make every unrelated pair's similarity
    exactly 0 for any seed, which a permutation that can pair an image with itself (similarity 1) would not give."""
    n = 12
    images = (torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    for seed in range(5):
        encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, n))  # (only the flipped images are embedded)
        scores = invariance_scores(encoder, images, torch.device("cpu"), ops=["flip"], seed=seed,
                                   features=np.eye(n, dtype=np.float32))
        assert scores["flip"]["unrelated"] == 0.0


def test_each_op_draws_its_own_random_stream():
    """Two ops measured with one seed must not share their draws (their scores would then vary together)."""
    from ssrl_core.evaluate.invariance import op_generator

    assert not torch.equal(torch.rand(8, generator=op_generator(0, "crop")), torch.rand(8, generator=op_generator(0, "rotate")))
    assert torch.equal(torch.rand(8, generator=op_generator(3, "crop")), torch.rand(8, generator=op_generator(3, "crop")))


def test_an_op_that_changes_the_images_size_is_refused_by_invariance_too(monkeypatch):
    """A code review: the shape check was the training pipeline's, and invariance applied each op itself, so a
    border-cutting op added later was scored on smaller images than the ones it was compared with."""
    from ssrl_core.augment import OPS

    class Border(OPS["flip"]):
        name = "border"

        def __call__(self, x, g=None):
            return x[..., 2:-2, 2:-2]

    monkeypatch.setitem(OPS, "border", Border)
    images = (torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    encoder = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten())
    with pytest.raises(ValueError, match="augmentation op border returned a batch of shape"):
        invariance_scores(encoder, images, torch.device("cpu"), ops=["border"])
