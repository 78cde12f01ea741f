"""Random initialisation baseline: the encoder is never trained.

Evaluating an untrained encoder is the floor every chart needs: a surprising share of the
accuracy of a kNN or linear probe comes from the architecture alone (random convolutional
features are far from useless), and a pretext task has only earned what it adds above it.
"""
from __future__ import annotations

from .base import PretextMethod


class RandomInit(PretextMethod):
    name = "random"
    family = "baseline"
    summary = "an untrained encoder, evaluated like the others"
    trainable = False

    def training_step(self, views, labels, index=None):  # pragma: no cover - never called
        raise RuntimeError("the random baseline does not train")
