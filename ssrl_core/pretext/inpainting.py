"""Inpainting (Context Encoders) — Pathak, Krähenbühl, Donahue, Darrell, Efros. "Context
Encoders: Feature Learning by Inpainting", CVPR 2016.

A square region M covering ``mask_fraction`` of each image is removed (filled with the
batch's mean colour, as the paper fills with the mean pixel value); the encoder f sees only
the context, and a decoder g reconstructs the image from the feature vector. The loss is
the paper's masked reconstruction term, a mean squared error over the removed pixels only:

    L_rec = sum_i || M_i * (x_i - g(f((1 - M_i) * x_i + M_i * fill))) ||^2 / sum_i |M_i|,

(|M_i| counts the masked pixels times channels). The paper adds an adversarial term
(L = 0.999 L_rec + 0.001 L_adv) for sharper fills; it is omitted here: it sharpens the
picture, not the representation, and the paper's feature-learning experiments also train
with L_rec alone. ``mask_mode=central`` is the paper's central square; ``random`` puts the
square anywhere (the paper's "random block" masks, one block per image here). The paper found
the central square's features worse for transfer (they latch onto the mask's boundary, its
sec. 3.3) and used random regions in its feature-learning experiments; central stays the
default here for its clear picture, and the four-families lesson's numbers were measured
with it.

What to expect: the loss falls quickly to the blur of a mean digit or shape, then slowly
(digits, cnn-small, 10 epochs: 0.073 to 0.014). The features must describe the
surroundings well enough to guess the hole, which is not the same as separating classes:
on small data the frozen kNN/linear probes gain little over a random encoder's (digits,
three seeds: kNN 0.916 against random's 0.898, linear 0.97 against 0.96). Options: mask_fraction (0.25), mask_mode
(central).
"""
from __future__ import annotations

import math

import torch

from ..models import ImageDecoder
from .base import PretextMethod


def square_mask(b: int, h: int, w: int, fraction: float, mode: str, device=None) -> torch.Tensor:
    """Bool mask [B, 1, H, W], True inside one square of side round(sqrt(fraction) * H)
    per image: centred (``central``) or at a uniformly random position (``random``)."""
    side = max(1, min(h, w, round(math.sqrt(fraction) * h)))
    if mode == "central":
        top = torch.full((b,), (h - side) // 2, device=device)
        left = torch.full((b,), (w - side) // 2, device=device)
    else:
        top = torch.randint(0, h - side + 1, (b,), device=device)
        left = torch.randint(0, w - side + 1, (b,), device=device)
    ys = torch.arange(h, device=device)[None, :]
    xs = torch.arange(w, device=device)[None, :]
    rows = (ys >= top[:, None]) & (ys < top[:, None] + side)  # [B, H]
    cols = (xs >= left[:, None]) & (xs < left[:, None] + side)  # [B, W]
    return (rows[:, :, None] & cols[:, None, :])[:, None]


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the masked pixels (all channels) only; ``mask`` broadcasts
    over channels."""
    m = mask.expand_as(target).float()
    return (((pred.float() - target.float()) ** 2) * m).sum() / m.sum().clamp_min(1.0)


class Inpainting(PretextMethod):
    name = "inpainting"
    family = "masked prediction"
    summary = "fill in a hidden square of the image from its surroundings (context encoder)"
    n_views = 1
    defaults = {"mask_fraction": 0.25, "mask_mode": "central"}
    pace_free = frozenset({"mask_fraction", "mask_mode"})
    option_help = {
        "mask_fraction": "area of the hidden square as a fraction of the image; 0.25 as the paper's central 64x64 of 128x128",
        "mask_mode": "central (the paper's central square, its inpainting pictures) or random (a square anywhere, "
                     "one per image: the paper found random masks the better features, sec. 3.3)",
    }
    option_choices = {"mask_mode": ("central", "random")}

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        self.decoder = ImageDecoder(self.encoder.feature_dim, channels)

    def training_step(self, views, labels, index=None):
        x = views[0]
        b, _, h, w = x.shape
        mask = square_mask(b, h, w, float(self.options["mask_fraction"]), self.options["mask_mode"], x.device)
        fill = x.mean(dim=(0, 2, 3), keepdim=True).detach()  # the batch's mean colour
        context = torch.where(mask, fill, x)
        recon = self.decoder(self.encoder(context), (h, w))
        loss = masked_mse(recon, x, mask)
        return loss, {"loss": loss.detach()}
