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

Adding a method: one file in this package with a subclass (see ``random_init.py`` for the
smallest and ``simclr.py`` for a typical one) and one entry in ``METHODS`` in
``__init__.py``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..models import Encoder


class PretextMethod(nn.Module):
    name: str = ""
    family: str = ""
    summary: str = ""
    n_views: int = 1  # augmented views per image the loop must produce
    trainable: bool = True  # False for baselines that are evaluated untrained
    defaults: dict = {}  # method options (--option key=value) and their defaults
    option_help: dict = {}  # one line per option: what it does, where the default comes from
    preferred_encoder: str | None = None  # what encoder "auto" means for this method (None: by device)
    # the submodule that maps encoder features to the embedding z the objective compares
    # (a projector); None when the objective works on the encoder features themselves
    embedding_head: str | None = None

    def __init__(self, encoder: Encoder, num_classes: int, channels: int, options: dict | None = None):
        super().__init__()
        self.encoder = encoder
        self.num_classes = num_classes
        self.channels = channels
        unknown = set(options or {}) - set(self.defaults)
        if unknown:
            known = ", ".join(self.defaults) or "none"
            raise ValueError(f"{self.name} has no option {', '.join(sorted(unknown))}: its options are {known}")
        self.options = {**self.defaults, **(options or {})}
        self.progress = 0.0

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor,
                      index: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return (loss, {name: scalar tensor}) for one batch. Logged values stay tensors
        so the loop can read them without a device sync on every step."""
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, images: torch.Tensor) -> dict[str, float]:
        """Hook before each epoch; returns numbers to log with the epoch."""
        return {}

    def embedder(self) -> nn.Module | None:
        """Encoder features -> the embedding z the objective compares (``embedding_head``),
        where the collapse diagnostic ``embedding_std`` is read, as in SimSiam's paper; None
        when the method has no such head."""
        return getattr(self, self.embedding_head) if self.embedding_head else None

    def after_step(self) -> None:
        """Hook after each optimiser step (momentum encoders update here)."""
