"""RunConfig: one validated, JSON-serialisable description of a run."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

# The registries (datasets, encoders, methods) import PyTorch: they are imported where a
# config is checked or resolved, not with this module, so that what only reads the run store
# (`python -m ssrl_core runs`, `cancel`) starts in a fraction of a second.

EVALUATIONS = ("full", "basic")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")  # what a run may ask for; device.precision_for decides
# svhn: SimCLR's recipe without its flip: house numbers are digits, which a mirror turns into other shapes (FixMatch,
# Sohn et al. 2020, leaves flips out on SVHN for that reason); it was SimCLR's whole recipe, flips included
DEFAULT_AUGMENT = {"digits": "digits", "mnist": "digits", "fashion-mnist": "crop,flip",
                   "svhn": "crop,color_jitter,grayscale,blur"}
# Images per step when none is given. At a fixed budget of epochs, a CPU trains about as
# many images per second at batch 32 as at 256, so a small set wants small batches: at 128,
# digits' 1,438 training images give 11 optimiser steps per epoch; at 32, 44. Measured on
# digits, cnn-small, 10 epochs (docs/methods.md): kNN accuracy at batch 128 / 32: SimCLR
# 0.916 / 0.955, Barlow Twins 0.944 / 0.955, VICReg 0.944 / 0.955, DeepCluster 0.961 / 0.967.
# An imported set gets digits' rule scaled to its size (``batch_for``).
DEFAULT_BATCH = {"digits": 32}
BATCH_SIZE = 128
STEPS_PER_EPOCH = 40  # about what digits makes at 32 (44)
SEED_MAX = 2**31 - 1  # the Pretrain page's bound too


def batch_for(n_train: int) -> int:
    """The default batch for a set of ``n_train`` training images: the largest power of
    two giving at least ``STEPS_PER_EPOCH`` steps an epoch, from 16 to ``BATCH_SIZE`` (1,438
    images: 32, as digits; 8,000 or more: 128), and for sets under 64 images one giving at
    least 4 steps (20 images: 4). The floor is SimCLR's ``MIN_BATCH``, below which it warns
    (its negatives are the batch's other views): at 8, the default method on a default batch
    was warned of. Measured on 128 training images of digits (SimCLR, 10 epochs, seeds 0 to
    2, 30 test images): kNN 0.722 at 8, 0.733 at 16, the same within the noise."""
    from .pretext.simclr import MIN_BATCH

    def pow2_floor(x: float) -> int:
        return 1 << max(1, int(x).bit_length() - 1) if x >= 2 else 2

    batch = min(BATCH_SIZE, max(MIN_BATCH, pow2_floor(n_train / STEPS_PER_EPOCH)))
    return min(batch, pow2_floor(n_train / 4))


def default_batch(dataset: str) -> int:
    """Images per step when none is given: the measured one for digits, ``batch_for`` the
    size of an imported set, ``BATCH_SIZE`` for the other built-in sets."""
    from .data import DATASETS
    from .data.custom import imported_train_size

    if dataset in DEFAULT_BATCH:
        return DEFAULT_BATCH[dataset]
    n = imported_train_size(dataset) if dataset not in DATASETS else None
    return BATCH_SIZE if n is None else batch_for(n)


def default_options(dataset: str, method: str) -> dict:
    """The options whose defaults an imported set scales to its size, with their values
    (``PretextMethod.sized_defaults`` at the set's default batch: DeepCluster's clusters,
    SwAV's and MoCo's queues); {} for a built-in set, whose defaults are the measured ones.
    ``RunConfig.resolved`` records them in the run's config."""
    from .data import DATASETS
    from .data.custom import imported_train_size
    from .pretext import METHODS

    n = imported_train_size(dataset) if dataset not in DATASETS else None
    if n is None or method not in METHODS:
        return {}
    return METHODS[method].sized_defaults(n, default_batch(dataset))


def augment_for(dataset: str | None, augment: str | None) -> str:
    """The augmentations a run of ``dataset`` trains with: ``augment`` as given, or, none given,
    the dataset's preset (``DEFAULT_AUGMENT``; "simclr" for the others)."""
    return augment if augment is not None else DEFAULT_AUGMENT.get(dataset, "simclr")


class BadSetting(ValueError):
    """A ``RunConfig`` field out of range: ``field`` is its name, the message says it in
    ``words`` then what is wrong (``rest``), so that a caller that took the value from a flag
    (the command line's --batch-size) can name the flag instead (``rest`` after it)."""

    def __init__(self, field: str, words: str, rest: str):
        super().__init__(f"{words} {rest}")
        self.field, self.rest = field, rest


@dataclass
class RunConfig:
    dataset: str = "digits"
    method: str = "simclr"
    augment: str | None = None  # preset or op list; None: the dataset's default preset
    encoder: str = "auto"  # "auto": cnn-small on CPU, resnet18 on CUDA; a method's preferred_encoder first (mae: vit-tiny)
    epochs: int = 10
    batch_size: int | None = None  # None: the dataset's default (default_batch)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | float32 | bfloat16 | float16 (see device.precision_for)
    options: dict = field(default_factory=dict)
    data_dir: str | None = None
    evaluation: str = "full"  # full: maps, probes and map evolution | basic: kNN, linear readout, PCA map

    def __post_init__(self) -> None:
        from .pretext import METHODS

        if self.method in METHODS and not METHODS[self.method].trainable and type(self.epochs) is int \
                and self.epochs > 0:
            # the untrained baseline trains no epoch whatever was asked: `--method random --epochs 3`
            # was stored as 3, and the pages said "epoch 0/3" and warned of a budget it never had
            self.epochs = 0
        self.validate()
        if self.augment is not None:
            from .augment import canonical_augment

            self.augment = canonical_augment(self.augment)

    def validate(self) -> None:
        from .augment import parse_augment
        from .data import DATASETS, available_datasets, unknown_dataset
        from .models import ENCODERS
        from .pretext import METHODS
        from .pretext.base import no_such_option
        from .text import meant

        def bad(msg: str) -> None:
            raise ValueError(msg)

        def out_of_range(field: str, words: str, rest: str) -> None:
            raise BadSetting(field, words, rest)

        if self.dataset not in DATASETS and self.dataset not in available_datasets():
            bad(unknown_dataset(self.dataset))
        if self.method not in METHODS:
            bad(f"unknown method {self.method!r}{meant(self.method, METHODS)}: choose one of {', '.join(METHODS)}")
        if self.encoder != "auto" and self.encoder not in ENCODERS:
            bad(f"unknown encoder {self.encoder!r}{meant(self.encoder, ENCODERS)}: choose auto or one of "
                f"{', '.join(ENCODERS)}")
        if self.device not in ("auto", "cpu", "cuda"):
            bad(f"unknown device {self.device!r}: choose auto, cpu or cuda")
        if self.precision not in PRECISIONS:
            bad(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.evaluation not in EVALUATIONS:
            bad(f"unknown evaluation {self.evaluation!r}: choose one of {', '.join(EVALUATIONS)}")
        for key in ("epochs", "batch_size", "seed", "lr", "weight_decay"):
            if isinstance(getattr(self, key), bool):  # True is an int to Python: 1 epoch, seed 1, lr 1.0
                out_of_range(key, key.replace('_', ' '), f"must be a number, got {getattr(self, key)!r}")
        if not isinstance(self.epochs, int) or not 0 <= self.epochs <= 10_000:
            out_of_range("epochs", "epochs", f"must be a whole number from 0 to 10000, got {self.epochs!r}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or not 2 <= self.batch_size <= 65_536):
            out_of_range("batch_size", "batch size", f"must be a whole number from 2 to 65536, got {self.batch_size!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr <= 10):
            out_of_range("lr", "learning rate", f"must be above 0 and at most 10, got {self.lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay <= 1):
            out_of_range("weight_decay", "weight decay", f"must be between 0 and 1, got {self.weight_decay!r}")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= SEED_MAX:
            # numpy's generators (the probes, the split) refuse a negative seed mid-run; SQLite stores 64 bits
            out_of_range("seed", "seed", f"must be a whole number from 0 to {SEED_MAX}, got {self.seed!r}")
        if not isinstance(self.options, dict):
            bad("options must be a mapping of key=value pairs")
        parse_augment(self.augment_spec)  # raises with advice
        method = METHODS[self.method]
        unknown = set(self.options) - set(method.defaults)
        if unknown:
            bad(no_such_option(self.method, method.defaults, unknown))

    @property
    def augment_spec(self) -> str:
        return augment_for(self.dataset, self.augment)

    @property
    def trains(self) -> bool:
        """Whether a run of this config trains at all: not the untrained baseline (``random``),
        not 0 epochs (the method's untrained encoder, evaluated as it is)."""
        from .pretext import METHODS

        return METHODS[self.method].trainable and self.epochs > 0

    @property
    def batch(self) -> int:
        """The batch size, the dataset's default when none was given."""
        return self.batch_size if self.batch_size is not None else default_batch(self.dataset)

    def resolved(self, device_type: str, sized_options: bool = True) -> "RunConfig":
        """The concrete config for a device: encoder, augmentation and batch size filled in,
        and (``sized_options``) the options an imported set scales to its size
        (``default_options``) where none was given. A trained run's config is resolved with
        ``sized_options=False``: its options are those it trained with, and one trained before
        the scaling kept the paper's."""
        from .pretext import METHODS

        preferred = METHODS[self.method].preferred_encoder
        enc = self.encoder if self.encoder != "auto" else (
            preferred or ("resnet18" if device_type == "cuda" else "cnn-small"))
        d = self.to_dict()
        d.update(encoder=enc, augment=self.augment_spec, batch_size=self.batch)
        if sized_options:
            d.update(options={**default_options(self.dataset, self.method), **self.options})
        return RunConfig.from_dict(d)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config keys {', '.join(sorted(unknown))}: known keys are {', '.join(sorted(names))}")
        return cls(**d)


def parse_options(pairs: list[str] | None) -> dict:
    """``["temperature=0.2", "proj_dim=64"]`` -> ``{"temperature": 0.2, "proj_dim": 64}``."""
    out: dict = {}
    for pair in pairs or []:
        key, sep, val = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"option {pair!r} must look like key=value, e.g. temperature=0.2")  # (the app's ?options= too)
        val = val.strip()
        try:
            value = json.loads(val)
        except json.JSONDecodeError:
            value = val
        if key in out:  # which one was meant? not the last one silently
            raise ValueError(f"option {key} is given twice ({_shown(out[key])} and {_shown(value)}): give it once")
        out[key] = value
    return out


def _shown(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else value
