"""The one in-memory form of every dataset."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


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
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    is_train: torch.Tensor
    factors: dict[str, torch.Tensor] = field(default_factory=dict)
    factor_names: dict[str, list[str]] = field(default_factory=dict)

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
    def has_labels(self) -> bool:
        return bool((self.labels >= 0).any())

    def label_name(self, row: int) -> str:
        """The class name of image ``row``, or "?" where its label is unknown."""
        y = int(self.labels[row])
        return self.class_names[y] if 0 <= y < len(self.class_names) else "?"

    def discrete_factors(self) -> list[str]:
        """Factors that can colour a map or be probed: integer-valued ones."""
        return [k for k, v in self.factors.items() if not v.is_floating_point()]

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
