"""Pretext methods: one file per method, all with the PretextMethod interface (base.py).

``METHODS`` is the registry, in the order the app lists them: the survey's four families
(masked prediction, transformation prediction, instance discrimination, clustering), then
the baselines. Adding a method is one file plus one entry here (docs/methods.md).
"""
from __future__ import annotations

from ..registry import by_name
from .autoencoder import Autoencoder
from .barlow_twins import BarlowTwins
from .base import PretextMethod, no_such_option
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

METHODS: dict[str, type[PretextMethod]] = by_name((
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
), "method")


def _method(name: str) -> type[PretextMethod]:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name]


# the day ``embedding_std`` moved from the encoder's features to the embedding a method's objective compares (fd0aa91)
EMBEDDING_STD_SINCE = "2026-12-01"


def read_embedding_std(record: dict, method: str | None) -> float | None:
    """A summary's or an epoch line's ``embedding_std`` as this version reads it, or None where
    it was read otherwise: before ``EMBEDDING_STD_SINCE`` it was read on the encoder's features
    for every method, and a run of a method with an embedding head (SimCLR's projector) kept
    that number with no ``embedding_dim`` beside it. An upgrade review's Compare showed two
    SimCLR runs of one kNN accuracy at 0.0198 (an old run, on the features) and 0.0853 (on the
    projector), and a resumed old run's epochs changed scale halfway."""
    value = record.get("embedding_std")
    if value is None or ("embedding_dim" not in record and method in METHODS and METHODS[method].embedding_head):
        return None
    return value


def encoder_input(name: str) -> str | None:
    """What method ``name``'s encoder sees in place of the images (``PretextMethod.encoder_input``:
    colorization's "luminance"), or None: its untrained reference sees the same and has
    references of its own."""
    return getattr(METHODS.get(name), "encoder_input", None)


def build_method(name: str, encoder, num_classes: int, channels: int, options: dict | None = None) -> PretextMethod:
    return _method(name)(encoder, num_classes, channels, options)


def option_range(method_name: str, key: str) -> tuple[float | None, float | None, bool, bool] | None:
    """(lo, hi, lo_open, hi_open) of a numeric option, for a form's min and max, in the
    option's type (int or float): None for an end without a bound; an open end is
    excluded (a form can only approach it). None when the option is not a number. Options
    that must fit together (``option_conflicts``) are checked when the method is built."""
    cls = _method(method_name)
    if key not in cls.defaults:
        raise ValueError(no_such_option(method_name, cls.defaults, [key]))
    default = cls.defaults[key]
    if isinstance(default, (bool, str)):
        return None
    rng = cls.option_range(key)
    if rng is None:
        return None
    kind = type(default)  # int bounds for whole-number options, float ones otherwise (a form mixes neither)
    return (None if rng.lo is None else kind(rng.lo), None if rng.hi is None else kind(rng.hi), rng.lo_open, rng.hi_open)


def check_options(method_name: str, options: dict | None) -> dict:
    """A method's options checked without building it (no encoder, no data): all of them,
    defaults filled in and each of its default's type; ValueError saying what is wrong."""
    return _method(method_name).validate_options(options)


def check_data(method_name: str, options: dict | None, n_train: int, batch: int) -> list[str]:
    """A method's options checked against the data it will train on: ``n_train`` training
    images, ``batch`` images a step (the loop takes at most ``n_train``). ValueError for a
    value that cannot train there (``data_conflicts``), else the warnings of values that
    train degenerately (``data_caveats``), each starting with the method's name."""
    cls = _method(method_name)
    options = cls.validate_options(options)
    batch = min(batch, n_train)
    conflict = cls.data_conflicts(options, n_train, batch)
    if conflict:
        raise ValueError(f"{cls.name} {conflict}")
    return [f"{cls.name} {caveat}" for caveat in cls.data_caveats(options, n_train, batch)]
