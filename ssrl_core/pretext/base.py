"""The interface every pretext method shares.

A method is an ``nn.Module`` that owns its heads (projector, predictor, prototypes,
classifier, decoder...) and holds the encoder it trains. The training loop hands it
``views`` (a list of ``n_views`` augmented float batches in [0, 1], [B, C, H, W]), the
batch's labels (-1 where unknown; only baselines that say so may use them) and the
batch's row indices into the train split, and gets back the loss and a few named numbers
to log. The encoder is separate and swappable, so every method trains every encoder.

Hooks the loop calls, all optional:

- ``on_epoch_start(epoch, images)`` before each epoch, with the whole train split as
  uint8 [N, C, H, W] on the training device (DeepCluster re-clusters here);
- ``after_step()`` after each optimiser step (momentum encoders update here);
- ``progress`` (a float in [0, 1], the fraction of training done) is set before each step
  (BYOL's momentum schedule reads it).

Options (``defaults``) are checked here, for every method, before anything is built:
each value must have its default's type (whole numbers and true/false may come as text
from the CLI or a form) and lie in its ``OptionRange`` (``option_ranges``: shared names
here, a method's own names in its file), a text option must be one of its
``option_choices``, and ``option_conflicts`` catches values that cannot go together.
Options whose sense depends on the data are checked against the training split and the
batch (``check_data`` in ``__init__.py``, from ``train.preflight`` and the Pretrain page):
``data_conflicts`` refuses a value that cannot train there (more DeepCluster clusters than
images), ``data_caveats`` warns of one that trains but degenerates (a MoCo queue longer
than the training set), and ``sized_defaults`` gives an imported set defaults that fit its
size (``config.default_options``).
A run that already trained is rebuilt ``as_trained()``: its options were checked when it
was submitted, and a range narrowed since must not lock its folder away from the probes.

Adding a method: one file in this package with a subclass (see ``rotation.py`` for the
smallest that trains and ``simclr.py`` for one comparing two views), one entry in
``METHODS`` in ``__init__.py``, and its name in README's method table; docs/methods.md
says what else a method may need (its loss in ``losses.py``, ``n_views``,
``embedding_head``).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from fnmatch import fnmatchcase
from typing import NamedTuple

import torch
import torch.nn as nn

from ..models import Encoder

MAX_WIDTH = 8192  # the widest default heads in the papers (Barlow Twins, VICReg)
# the survey's families, as the Pretrain page groups methods and `list methods` names them (a new method's ``family``
# is one of these: a typo made a group of its own), and the baselines a method is compared with
FAMILIES = ("masked prediction", "transformation prediction", "instance discrimination (contrastive)",
            "instance discrimination (non-contrastive)", "clustering", "baseline")


def as_flag(value, name: str) -> bool:
    """A yes/no option given as a bool, 0/1 or the words true/false (from a CLI or a form)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise ValueError(f"option {name} must be true or false, got {value!r}")


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


_AS_TRAINED: ContextVar[bool] = ContextVar("as_trained", default=False)


@contextmanager
def as_trained():
    """Build methods from trained runs' options: types are still checked and converted, but
    not ranges nor conflicts, which a later version of this code may have narrowed (the
    weights in the checkpoint fit the options the run trained with)."""
    token = _AS_TRAINED.set(True)
    try:
        yield
    finally:
        _AS_TRAINED.reset(token)


class OptionRange(NamedTuple):
    """The values a numeric option may take: ``lo`` to ``hi`` (None: no bound), each end
    excluded when its ``*_open`` is true; ``why`` says what the option does to the
    method, and so what a value out of range would break."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    why: str = ""

    def __contains__(self, v) -> bool:
        return ((self.lo is None or (v > self.lo if self.lo_open else v >= self.lo))
                and (self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)))

    def describe(self, whole: bool = False) -> str:
        """'greater than 0', 'from 1 to 8192', 'at least 0 and below 1', ...; for a whole
        number (``whole``) two neighbours read '2 or 3'."""
        if whole and self.lo is not None and self.hi == self.lo + 1 and not (self.lo_open or self.hi_open):
            return f"{_num(self.lo)} or {_num(self.hi)}"
        lo = None if self.lo is None else ("above " if self.lo_open else "at least ") + _num(self.lo)
        hi = None if self.hi is None else ("below " if self.hi_open else "at most ") + _num(self.hi)
        if lo and hi:
            both_closed = not (self.lo_open or self.hi_open)
            return f"from {_num(self.lo)} to {_num(self.hi)}" if both_closed else f"{lo} and {hi}"
        if lo:
            return f"greater than {_num(self.lo)}" if self.lo_open else lo
        return hi or "any number"


_R = OptionRange
# Ranges of the option names several methods share; a name is looked up exactly first,
# then as a pattern, in the method's own ``option_ranges`` before these.
SHARED_RANGES: dict[str, OptionRange] = {
    "temperature": _R(0.01, 10, why="it divides the similarities before the softmax: a tiny one overflows it (1e-300 "
                                   "made the loss nan at the first step) and a huge one makes every pair alike; the "
                                   "papers use 0.05 to 1"),
    "epsilon": _R(0, None, lo_open=True, why="Sinkhorn's entropy weight divides the scores; the paper uses 0.05"),
    "momentum": _R(0, 1, hi_open=True, why="the key encoder's EMA rate: at 1 it would never move"),
    "tau_base": _R(0, 1, hi_open=True, why="the target's EMA rate: at 1 it would never move"),
    "queue_size": _R(0, 65536, why="past embeddings kept; MoCo's ImageNet queue (65536) is the most any paper keeps"),
    "mask_ratio": _R(0, 1, lo_open=True, hi_open=True, why="the fraction of the image hidden"),
    "mask_fraction": _R(0, 1, lo_open=True, hi_open=True, why="the fraction of the image hidden"),
    "label_smoothing": _R(0, 1, hi_open=True, why="at 1 the targets are uniform and say nothing about the labels"),
    "lambda_offdiag": _R(0, None, why="a loss term's weight: a negative one would reward what the term penalises"),
    "*_weight": _R(0, None, why="a loss term's weight: a negative one would reward what the term penalises"),
    "proj_dim": _R(2, MAX_WIDTH, why="the size of the embedding the loss compares: a single number leaves nothing "
                                    f"to compare; {MAX_WIDTH} is the widest of the papers' default heads"),
    "*_dim": _R(1, MAX_WIDTH, why=f"a layer's width; {MAX_WIDTH} is the widest of the papers' default heads"),
    "*_depth": _R(1, 16, why="blocks in a network; the papers use up to 8"),
    "*_heads": _R(1, 64, why="attention heads per block"),
    "n_*": _R(2, 10000, why="the classes a head predicts: one leaves nothing to predict; 10000 is DeepCluster's "
                           "ImageNet setting"),
    "*_iters": _R(1, 1000, why="iterations of an algorithm; beyond 1000 they only cost time"),
}



def no_such_option(method: str, defaults: dict, unknown) -> str:
    """What to say of options a method does not have: which, and the ones it has."""
    from ..text import meant

    has = f"its options are {', '.join(defaults)}" if defaults else "it takes no options"
    typo = meant(next(iter(unknown)), defaults) if len(unknown) == 1 else ""
    return f"{method} has no option {', '.join(sorted(unknown))}{typo}: {has}"


def each_view(views: list[torch.Tensor], *modules: nn.Module) -> list[torch.Tensor]:
    """Each view through ``modules`` in turn, apart from the other views, as the official code
    of BYOL, SimSiam, Barlow Twins and VICReg does: batch norm then normalises a view over its
    own batch, where one batch of both views would share their statistics (SimCLR's and SwAV's
    code do put the views in one batch). Measured on digits (docs/methods.md, "Each view
    apart"): as accurate, or a little more, and about as fast."""
    out = []
    for x in views:
        for m in modules:
            x = m(x)
        out.append(x)
    return out


class PretextMethod(nn.Module):
    name: str = ""
    family: str = ""  # one of ``FAMILIES``
    summary: str = ""
    n_views: int = 1  # augmented views per image the loop must produce
    trainable: bool = True  # False for baselines that are evaluated untrained
    # whether the task needs images with an upright view: predicting a turn cannot be learned on a set drawn at every
    # angle (shapes), where a turned image is just another image of the set (``train.data_warnings`` says so)
    needs_upright: bool = False
    defaults: dict = {}  # method options (--option key=value) and their defaults
    option_help: dict = {}  # one line per option: what it does, where the default comes from
    # options that leave an epoch's work as it was (a loss term's weight, a temperature, a momentum, a mask's place):
    # a run that differs from finished runs only in these is timed from theirs (``runs.estimate``); any other option (a
    # head's width, a queue, a decoder's depth, a mask ratio) changes the pace, so a run needs finished runs with its value
    pace_free: frozenset = frozenset()
    # on/off options that keep the method from collapsing (SimSiam's stop-gradient and predictor): a run with one
    # off is expected to collapse, and Evaluate and Compare say how to read it (``readouts.collapse_options``)
    collapse_guards: frozenset = frozenset()
    option_ranges: dict = SHARED_RANGES  # name or pattern -> OptionRange; a method's own add to these
    option_choices: dict = {}  # text option -> the values it may take
    preferred_encoder: str | None = None  # what encoder "auto" means for this method (None: by device)
    # the submodule that maps encoder features to the embedding z the objective compares
    # (a projector); None when the objective works on the encoder features themselves
    embedding_head: str | None = None
    # what the method changes in what its encoder sees ("luminance": colorization's gray input), or None; the untrained
    # reference of a run is the same network seeing the same (``adapt_encoder``), with references of its own
    encoder_input: str | None = None

    @staticmethod
    def adapt_encoder(encoder: Encoder) -> None:
        """Change ``encoder``'s input as the method does (colorization: gray), in place: the
        method calls it on its encoder, and the evaluation on the run's untrained reference and
        its supervised baseline, so that they see what the run sees."""

    def __init__(self, encoder: Encoder, num_classes: int, channels: int, options: dict | None = None):
        super().__init__()
        self.encoder = encoder
        self.num_classes = num_classes
        self.channels = channels
        self.options = self.validate_options(options)
        self.progress = 0.0

    # -- options ------------------------------------------------------------------------
    @classmethod
    def option_range(cls, key: str) -> OptionRange | None:
        """The range of numeric option ``key``: the method's own ``option_ranges`` first,
        then its parents', each by exact name, then by pattern (``*_dim``); None if none."""
        for klass in cls.__mro__:
            ranges = klass.__dict__.get("option_ranges")
            if not ranges:
                continue
            if key in ranges:
                return ranges[key]
            for pattern, rng in ranges.items():
                if fnmatchcase(key, pattern):
                    return rng
        return None

    @classmethod
    def option_allowed(cls, key: str) -> str:
        """What option ``key`` may be, in words: 'true or false', 'central or random',
        'greater than 0', 'from 2 to 8192'; 'text' or 'any number' when unbounded."""
        default = cls.defaults[key]
        if isinstance(default, bool):
            return "true or false"
        if isinstance(default, str):
            return " or ".join(cls.option_choices.get(key, ())) or "text"
        rng = cls.option_range(key)
        return rng.describe(whole=isinstance(default, int)) if rng else "any number"

    @classmethod
    def option_conflicts(cls, options: dict) -> str | None:
        """Override for options that cannot go together: what is wrong and what to do,
        or None. ``options`` are complete (defaults filled in) and of the right types."""
        return None

    @classmethod
    def data_conflicts(cls, options: dict, n_train: int, batch: int) -> str | None:
        """Override for option values that cannot train on ``n_train`` training images at
        ``batch`` images a step (already at most ``n_train``): what is wrong, why and what to
        do, or None. ``options`` are complete and of the right types."""
        return None

    @classmethod
    def data_caveats(cls, options: dict, n_train: int, batch: int) -> list[str]:
        """Override for option values that train on this data but degenerately: one message
        each (what, why, from the paper, and what to do); [] when there is nothing to say."""
        return []

    legacy_keys: tuple[str, ...] = ()  # the options ``legacy_options`` can return

    @classmethod
    def needs_weights(cls, options: dict) -> bool:
        """Whether ``options`` leave out an option ``legacy_options`` may give, so what a run
        with them trained is read from its checkpoint's weight names (most methods: never)."""
        return any(k not in options for k in cls.legacy_keys)

    @classmethod
    def legacy_options(cls, weights: set[str]) -> dict:
        """Options a checkpoint with these weight names was trained with that its config
        does not record: an option added later whose default changed the architecture (MoCo's
        ``head_bn``; its keys in ``legacy_keys``). ``train.as_trained_config`` gives them to a
        run trained before, so it still loads and resumes, and is not taken for a run of
        today's architecture with the same config. Empty for a checkpoint of today's."""
        return {}

    @classmethod
    def sized_defaults(cls, n_train: int, batch: int) -> dict:
        """Defaults of the options that depend on the data, for a set of ``n_train``
        training images at its default ``batch``: never above ``defaults``, and at the
        built-in sets' sizes equal to them. Applied to imported sets (``config.default_options``)."""
        return {}

    @classmethod
    def validate_options(cls, options: dict | None) -> dict:
        """The options with defaults filled in and each value of its default's type, or a
        ValueError saying which option is wrong, why, and its default."""
        options = dict(options or {})
        unknown = set(options) - set(cls.defaults)
        if unknown:
            raise ValueError(no_such_option(cls.name, cls.defaults, unknown))
        out = dict(cls.defaults)
        for key, value in options.items():
            out[key] = cls._check_option(key, value)
        conflict = None if _AS_TRAINED.get() else cls.option_conflicts(out)
        if conflict:
            raise ValueError(f"{cls.name} {conflict}")
        return out

    @classmethod
    def pace_options(cls, options: dict | None) -> tuple:
        """The options, defaults filled in, that change how long an epoch takes (all but
        ``pace_free``), as sorted (name, value) pairs; read as a trained run's (``as_trained``)."""
        with as_trained():
            full = cls.validate_options(options)
        return tuple(sorted((k, v) for k, v in full.items() if k not in cls.pace_free))

    @classmethod
    def _check_option(cls, key: str, value):
        default = cls.defaults[key]
        shown_default = str(default).lower() if isinstance(default, bool) else default

        def bad(what: str, got=value) -> ValueError:
            return ValueError(f"{cls.name} option {key} must be {what}, got {got!r} (default {shown_default})")

        if isinstance(default, bool):
            try:
                return as_flag(value, key)
            except ValueError:
                raise bad(cls.option_allowed(key)) from None
        if isinstance(default, str):
            choices = cls.option_choices.get(key)
            if not isinstance(value, str) or (choices and value not in choices):
                raise bad(cls.option_allowed(key))
            return value
        # a number: int or float, like its default
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise bad("a whole number" if isinstance(default, int) else "a number") from None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise bad("a whole number" if isinstance(default, int) else "a number")
        if isinstance(default, int):
            if number != int(number):
                raise bad("a whole number")
            number = int(number)
        else:
            number = float(number)
        rng = cls.option_range(key)
        if rng is not None and number not in rng and not _AS_TRAINED.get():
            raise ValueError(f"{cls.name} option {key} must be {cls.option_allowed(key)}, "
                             f"got {_num(number)}: {rng.why} (default {shown_default})")
        return number

    # -- training -----------------------------------------------------------------------
    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor,
                      index: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return (loss, {name: scalar tensor}) for one batch. Logged values stay tensors
        so the loop can read them without a device sync on every step."""
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, images: torch.Tensor) -> dict[str, float]:
        """Hook before each epoch; returns numbers to log with the epoch."""
        return {}

    def reinitialised_parameters(self) -> list[nn.Parameter]:
        """Parameters that ``on_epoch_start`` has just re-initialised in place: the loop forgets
        their optimiser state (AdamW's moments of the values they replaced, and its step count),
        as a new optimiser for them would start."""
        return []

    def embedder(self) -> nn.Module | None:
        """Encoder features -> the embedding z the objective compares (``embedding_head``),
        where the collapse diagnostic ``embedding_std`` is read, as in SimSiam's paper; None
        when the method has no such head."""
        return getattr(self, self.embedding_head) if self.embedding_head else None

    def after_step(self) -> None:
        """Hook after each optimiser step (momentum encoders update here)."""
