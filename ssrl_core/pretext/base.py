"""The interface every pretext method shares.

A method is an ``nn.Module`` that owns its heads (projector, classifier, decoder...) and
holds the encoder it trains. The training loop hands it ``views`` (a list of
``n_views`` augmented float batches in [0, 1]) and the batch's labels, and gets back the
loss and a few named numbers to log. The encoder is separate and swappable, so every
method trains every encoder.
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

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return (loss, {name: scalar tensor}) for one batch. Logged values stay tensors
        so the loop can read them without a device sync on every step."""
        raise NotImplementedError

    def after_step(self) -> None:
        """Hook after each optimiser step (momentum encoders update here)."""
