"""Pretext methods: one file per method, all with the PretextMethod interface."""
from __future__ import annotations

from .base import PretextMethod
from .random_init import RandomInit
from .rotation import Rotation
from .simclr import SimCLR

METHODS: dict[str, type[PretextMethod]] = {m.name: m for m in (SimCLR, Rotation, RandomInit)}


def build_method(name: str, encoder, num_classes: int, channels: int, options: dict | None = None) -> PretextMethod:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name](encoder, num_classes, channels, options)
