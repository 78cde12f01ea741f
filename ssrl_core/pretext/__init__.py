"""Pretext methods: one file per method, all with the PretextMethod interface (base.py).

``METHODS`` is the registry, in the order the app lists them: the survey's four families
(masked prediction, transformation prediction, instance discrimination, clustering), then
the baselines. Adding a method is one file plus one entry here (docs/methods.md).
"""
from __future__ import annotations

from .autoencoder import Autoencoder
from .barlow_twins import BarlowTwins
from .base import PretextMethod
from .byol import BYOL
from .colorization import Colorization
from .deepcluster import DeepCluster
from .inpainting import Inpainting
from .jigsaw import Jigsaw
from .mae import MAE
from .moco import MoCo
from .random_init import RandomInit
from .rotation import Rotation
from .simclr import SimCLR
from .simsiam import SimSiam
from .supervised import Supervised
from .swav import SwAV
from .vicreg import VICReg

METHODS: dict[str, type[PretextMethod]] = {m.name: m for m in (
    # masked prediction
    Inpainting, Colorization, MAE,
    # transformation prediction
    Rotation, Jigsaw,
    # instance discrimination: contrastive, then non-contrastive
    SimCLR, MoCo, BYOL, SimSiam, BarlowTwins, VICReg,
    # clustering
    DeepCluster, SwAV,
    # baselines
    RandomInit, Supervised, Autoencoder,
)}


def build_method(name: str, encoder, num_classes: int, channels: int, options: dict | None = None) -> PretextMethod:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name](encoder, num_classes, channels, options)
