"""The one in-memory form of every dataset."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
import torch

#: the k of the kNN accuracy every run reports (``ssrl_core.evaluate.evaluate_trained``)
KNN_K = 20
#: below this many labelled test images an accuracy moves by 10 points or more per image
MIN_TEST_IMAGES = 10
FEW_TEST_IMAGES = 200  # below this, one test image is over half a point of accuracy
WHITE = (255, 255, 255)  # under an imported image's transparency (``custom.fit_image``)


def border_colour(images: torch.Tensor) -> tuple[int, int, int]:
    """The colour of images' borders, RGB: the median of the outermost pixels of every n-th of
    uint8 images [N, C, H, W], at most 1,000 of them (white for none)."""
    if len(images) == 0:
        return WHITE
    x = images[:: -(-len(images) // 1000)]
    edges = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)  # [n, C, 4 * side]
    median = edges.transpose(0, 1).reshape(x.shape[1], -1).median(dim=1).values.tolist()
    return tuple(int(v) for v in (median * 3 if len(median) == 1 else median[:3]))



@dataclass
class ImageSet:
    """A whole dataset in memory.

    images:      uint8 tensor [N, C, H, W] (C is 1 or 3)
    labels:      int64 tensor [N], -1 where unknown
    class_names: names of the label values 0..K-1
    is_train:    bool tensor [N], the fixed train/test split
    factors:     optional ground-truth factors, name -> int64 tensor [N] (discrete
                 factors and bins of continuous ones) or float tensor [N] (continuous)
    factor_names: for each discrete factor, the names of its values
    files:       for an imported set, each image's path in its archive (row order); None
                 for built-in sets and for sets imported before paths were recorded
    archive:     for an imported set, the file name of the archive it came from, if recorded
    known_fingerprint: the content fingerprint when it is known already (an import stores
                 it); otherwise ``fingerprint`` computes it once
    copies:      for an imported set, how many of its images are copies of others (each in the
                 split of its original), which its caveats say
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    is_train: torch.Tensor
    factors: dict[str, torch.Tensor] = field(default_factory=dict)
    factor_names: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] | None = None
    archive: str | None = None
    known_fingerprint: str | None = field(default=None, repr=False)
    copies: int = 0

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"{self.name}: images must be uint8 [N,C,H,W], got {self.images.dtype} {tuple(self.images.shape)}")
        if self.images.shape[1] not in (1, 3):
            raise ValueError(f"{self.name}: images must have 1 or 3 channels, got {self.images.shape[1]}")
        if self.labels.shape != (n,) or self.is_train.shape != (n,):
            raise ValueError(f"{self.name}: labels and split must have one entry per image ({n})")
        for k, v in self.factors.items():
            if v.shape[0] != n:
                raise ValueError(f"{self.name}: factor {k!r} must have one entry per image ({n})")
        if self.files is not None and len(self.files) != n:
            raise ValueError(f"{self.name}: files must have one entry per image ({n}), got {len(self.files)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def train_idx(self) -> torch.Tensor:
        return torch.nonzero(self.is_train).flatten()

    @property
    def test_idx(self) -> torch.Tensor:
        return torch.nonzero(~self.is_train).flatten()

    @property
    def scored_test_images(self) -> int:
        """How many test images the kNN and linear accuracies are scored on: those with a label."""
        return int(((self.labels >= 0) & ~self.is_train).sum())

    @property
    def labelled_train_images(self) -> int:
        """How many train images vote in the kNN accuracy and fit the linear probe: those with a label."""
        return int(((self.labels >= 0) & self.is_train).sum())

    @property
    def has_labels(self) -> bool:
        return bool((self.labels >= 0).any())

    @property
    def drawn_at_every_angle(self) -> bool:
        """Whether the images are drawn at any angle (a ``rotation`` factor, in degrees, covering
        the circle: shapes): then an image turned by 90 degrees is another image of the set, and
        no features can tell a turn, so rotation equivariance measures nothing here."""
        rot = self.factors.get("rotation")
        return rot is not None and rot.is_floating_point() and float(rot.max() - rot.min()) > 270.0

    def label_name(self, row: int) -> str:
        """The class name of image ``row``, or "?" where its label is unknown."""
        y = int(self.labels[row])
        return self.class_names[y] if 0 <= y < len(self.class_names) else "?"

    def file_name(self, row: int) -> str | None:
        """The base name of image ``row``'s file in its archive (``cat_07.png``), or None when
        the set has no file names (a built-in set, or one imported before they were kept)."""
        return PurePosixPath(self.files[row]).name if self.files is not None else None

    @functools.cached_property
    def background(self) -> tuple[int, int, int]:
        """The colour of the set's image borders (``border_colour``, computed once). Where an image
        embedded into a trained set's feature space (an upload, ``embed``) is transparent, it takes
        this colour: composited on white, as an import does, a light digit drawn on a transparent
        background was a blank white square beside digits' and MNIST's light strokes on black."""
        return border_colour(self.images)

    @property
    def fingerprint(self) -> str:
        """A hash of the set's content (images, labels, split, class names): a re-import of
        other images under the same name gives another one (``content_fingerprint``)."""
        if self.known_fingerprint is None:
            self.known_fingerprint = content_fingerprint(self.images.numpy(), self.labels.numpy(),
                                                         self.is_train.numpy(), self.class_names)
        return self.known_fingerprint

    def discrete_factors(self) -> list[str]:
        """Factors that can colour a map or be probed: integer-valued ones."""
        return [k for k, v in self.factors.items() if not v.is_floating_point()]

    def evaluation_caveats(self, k: int = KNN_K) -> list[str]:
        """Why the accuracies of runs on this set will say little (see :func:`evaluation_caveats`)."""
        return evaluation_caveats(self.labels.numpy(), self.is_train.numpy(), self.class_names, k) + (
            [copies_caveat(self.copies)] if self.copies else [])

    def describe(self) -> dict:
        return {
            "name": self.name,
            "images": len(self),
            "channels": self.channels,
            "size": self.image_size,
            "classes": self.num_classes,
            "train": int(self.is_train.sum()),
            "test": int((~self.is_train).sum()),
            "factors": list(self.factors),
        }


def content_fingerprint(images: np.ndarray, labels: np.ndarray, is_train: np.ndarray, class_names: list[str]) -> str:
    """16 hex digits of a BLAKE2b hash of a dataset's images (shape and bytes), labels, split
    and class names: what an import stores, and what a run records so that a page can tell
    that its set was re-imported since (about a second per GB of images)."""
    h = hashlib.blake2b(digest_size=8)
    images = np.ascontiguousarray(images, dtype=np.uint8)
    h.update(repr(images.shape).encode())
    h.update(memoryview(images).cast("B"))
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(is_train, dtype=bool).tobytes())
    h.update("\n".join(class_names).encode())
    return h.hexdigest()


def copies_caveat(copies: int) -> str:
    """What an imported set's ``copies`` mean for its accuracies, in a sentence."""
    from ..text import agree, count

    return (f"{count(copies, 'image')} {agree(copies, 'is a copy', 'are copies')} of others (after resizing): each "
            "copy is in the split of its original, so none is scored against itself, but the set has fewer different "
            "images than it counts")


def evaluation_caveats(labels: np.ndarray, is_train: np.ndarray, class_names: list[str],
                       k: int = KNN_K) -> list[str]:
    """Why the accuracies of runs on a dataset will say little, one plain sentence each;
    empty when there is nothing to say. The kNN accuracy votes over the ``k`` nearest
    labelled training images (fewer when there are fewer: then every one of them votes) and
    is scored on the labelled test images, like the linear probe, so a tiny test split gives
    coarse numbers and a tiny train split a kNN that is no longer a nearest-neighbour vote."""
    labels, is_train = np.asarray(labels), np.asarray(is_train, dtype=bool)
    known = labels >= 0
    n_train, n_test = int((known & is_train).sum()), int((known & ~is_train).sum())
    if not known.any():
        return ["It has no labels, so runs on it get a map and nearest neighbours but no kNN or linear accuracy."]
    if not n_train or not n_test:
        return [f"Its {'train' if not n_train else 'test'} split holds no labelled image, so runs on it get no kNN "
                "or linear accuracy."]
    out = []
    if n_test < MIN_TEST_IMAGES:
        steps = ", ".join(f"{i / n_test:.2g}" for i in range(min(n_test, 3) + 1)) + (", …" if n_test > 3 else "")
        out.append(f"Only {n_test} test image{'s' if n_test != 1 else ''}: the kNN and linear accuracies are scored on "
                   f"{'them' if n_test != 1 else 'it'} alone, so they can only be {steps} (one image moves them by "
                   f"{100 / n_test:.0f} points) and say next to nothing; a 0 or a 1 is luck.")
    elif n_test < FEW_TEST_IMAGES:
        out.append(f"{n_test} test images: one image moves the kNN and linear accuracies by {100 / n_test:.1f} "
                   "points, so a gain of a few such steps over the untrained encoder, or between two runs, can be "
                   "chance.")
    if n_train < k:
        out.append(f"Only {n_train} labelled training image{'s' if n_train != 1 else ''}, fewer than the k = {k} "
                   f"neighbours of the kNN accuracy: every one of them votes on every test image (weighted "
                   "by similarity), so kNN is a vote of the whole training set, not of near neighbours.")
    unscored = [c for i, c in enumerate(class_names) if (labels == i).any() and not ((labels == i) & ~is_train).any()]
    if unscored:
        out.append(f"{len(unscored)} class{'es' if len(unscored) != 1 else ''} ({', '.join(unscored[:5])}"
                   f"{', …' if len(unscored) > 5 else ''}) {'have' if len(unscored) != 1 else 'has'} no test image, "
                   f"so the accuracies never score {'them' if len(unscored) != 1 else 'it'}.")
    more = []  # the next step up from where this set is, not a step it has passed
    if n_test < FEW_TEST_IMAGES:
        goal = MIN_TEST_IMAGES if n_test < MIN_TEST_IMAGES else FEW_TEST_IMAGES
        more.append(f"{goal * 5:,} images give {goal} test images (one then moves the accuracies by "
                    f"{100 / goal:.1f} points)")
    if unscored:
        more.append("a class needs 3 images or more for one to be held out")
    if more:
        out.append("More images give numbers that mean something: an import holds a fifth of each class out for "
                   f"testing, so {' and '.join(more)}.")
    return out


def grouped_split(split, labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``split(labels)`` (a bool array, True for train) drawn over one row per group, each
    group's first, and given to all its rows: rows of one group (copies of one image) are all in
    train or all in test, so no test image is scored against its own copy in train. With no two
    rows in a group, the split is ``split(labels)`` itself."""
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    order = np.argsort(first)  # the groups in the order their first rows come
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    chosen = split(np.asarray(labels)[first[order]])
    return chosen[rank[inverse.ravel()]]


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """A fixed, stratified train/test split: returns a bool array, True for train."""
    rng = np.random.default_rng(seed)
    is_train = np.ones(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_test = int(round(len(idx) * test_fraction))
        is_train[idx[:n_test]] = False
    return is_train
