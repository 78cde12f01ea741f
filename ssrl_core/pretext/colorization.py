"""Colorization — Zhang, Isola, Efros. "Colorful Image Colorization", ECCV 2016.

In CIE Lab colour space the encoder sees only the lightness L and predicts the colour ab.
As in the paper, ab is quantised into square bins (``ab_grid`` units wide) and only bins
that sRGB colours reach are kept: the paper has grid 10 and 313 bins; here the default is
20 with 76 bins (at grid 10 our gamut finds 261), as small images and data sets cannot
feed hundreds of classes. Each true ab value is soft-encoded over its 5 nearest bins with
a Gaussian (sigma = ab_grid / 2, the paper's 5 for grid 10). The paper's network is fully
convolutional; here, as for every method, the prediction must pass through the encoder's
feature vector: a decoder maps it to a distribution over bins for every cell of a
half-resolution grid (the paper predicts at a quarter of the resolution; these images are
28-32 px), whose target Z is the mean of its pixels' soft encodings. The loss is the
paper's class-rebalanced multinomial cross-entropy:

    L = -(1 / |cells|) sum_{cells h,w} v(Z_hw) sum_q Z_hwq log Zhat_hwq,
    v(Z_hw) = w_{argmax_q Z_hwq},  w ∝ ((1 - lambda) p~ + lambda / Q)^-1,  E_p~[w] = 1,

with p~ the empirical bin distribution of (up to 2,000) training images, smoothed by the
same Gaussian, computed before the first epoch (rebalance=1 turns rebalancing off).
Without it the grey background of most images dominates and predictions fade to grey.

The encoder sees luminance only, in training and evaluation alike: a forward pre-hook on
it replaces any colour input by L / 100, repeated over the channels (the paper's network
takes L alone and is evaluated on it). Needs a colour dataset (shapes, cifar10, ...).
With ``--augment simclr`` (the default for colour sets) colour jitter and grayscale change
the targets; ``--augment crop,flip`` keeps them true.

What to expect: the loss falls as the decoder learns that backgrounds are grey and which
lightness goes with which hue; ``color_acc`` (the most likely bin is the target's) rises
(shapes, cnn-small, 10 epochs: loss 3.3 to 2.7 and color_acc 0.46 to 0.72 with the
default augmentations; 1.5 and 0.85 with crop,flip). The features see lightness only, so
colour reaches them through it. On shapes the linear probe of the shape label rises well
above that of its own untrained encoder, which sees gray too (0.73 against 0.57), while kNN
falls below it (0.43 against 0.61); an untrained network seeing colour scores 0.47 linear
and 0.45 kNN, and is not the reference the pages give a colorization run (docs/methods.md).
Options: ab_grid (20), rebalance (0.5, the paper's lambda).
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ..device import constant
from ..models import ImageDecoder
from .base import OptionRange, PretextMethod

_RGB2XYZ = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])  # D65
_XYZ2RGB = torch.linalg.inv(_RGB2XYZ)


def rgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] [B, 3, H, W] -> CIE Lab (L in [0, 100], a and b roughly in [-110, 110])."""
    x = x.float().clamp(0, 1)
    lin = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,bjhw->bihw", constant(_RGB2XYZ, x.device), lin) / constant(_WHITE, x.device)[None, :, None, None]
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """The inverse of ``rgb_to_lab`` (not clamped: out-of-gamut colours leave [0, 1])."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f > 0.2069, f ** 3, (f - 16 / 116) / 7.787) * constant(_WHITE, lab.device)[None, :, None, None]
    lin = torch.einsum("ij,bjhw->bihw", constant(_XYZ2RGB, lab.device), xyz)
    return torch.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


@functools.lru_cache(maxsize=4)
def ab_bins(grid: float) -> torch.Tensor:
    """Centres [Q, 2] of the ab grid cells that sRGB colours reach (sampled on a 64^3 cube).
    Computed on the CPU whatever the default device: a fixed table of values, which a model
    built on the meta device to be counted (``train.model_numbers``) needs too."""
    v = torch.linspace(0, 1, 64, device="cpu")
    rgb = torch.stack(torch.meshgrid(v, v, v, indexing="ij")).reshape(1, 3, -1, 1)
    ab = rgb_to_lab(rgb)[0, 1:, :, 0].T
    return torch.unique(torch.round(ab / grid), dim=0) * grid


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, sigma: float, k: int = 5) -> torch.Tensor:
    """ab [B, 2, H, W] -> weights [B, Q, H, W] on the k nearest bins, Gaussian in distance."""
    b, _, h, w = ab.shape
    d2 = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), bins) ** 2  # [BHW, Q]
    near, idx = d2.topk(k, dim=1, largest=False)
    wts = torch.softmax(-near / (2 * sigma ** 2), dim=1)
    z = torch.zeros_like(d2).scatter_(1, idx, wts)
    return z.view(b, h, w, -1).permute(0, 3, 1, 2)


def _luminance_hook(module, args):
    """Forward pre-hook: the encoder sees L / 100 in every channel, whatever its input."""
    (x, *rest) = args
    if x.shape[1] != 3:
        return None
    gray = (rgb_to_lab(x)[:, :1] / 100).to(x.dtype).expand(-1, 3, -1, -1)
    return (gray.contiguous(memory_format=torch.channels_last), *rest)


class Colorization(PretextMethod):
    name = "colorization"
    family = "masked prediction"
    summary = "predict the colours of an image from its lightness (classes of quantised ab)"
    n_views = 1
    defaults = {"ab_grid": 20, "rebalance": 0.5}
    pace_free = frozenset({"rebalance"})
    encoder_input = "luminance"  # its encoder sees the lightness only (``adapt_encoder``)
    option_help = {
        "ab_grid": "size of the ab quantisation cells; the paper uses 10 (313 bins; 261 here), 20 (76 bins) suits small data",
        "rebalance": "lambda of the class rebalancing (mix of the empirical bin distribution with uniform); "
                     "0.5 as in the paper, 1 turns rebalancing off",
    }
    option_ranges = {
        "ab_grid": OptionRange(8, 50, why="the width of the colour bins: below 8 there are more than 393 (the "
                                          "paper has 313) and the soft targets take gigabytes; at 50 only 19 "
                                          "bins are left"),
        "rebalance": OptionRange(0, 1, lo_open=True, why="lambda mixes the bin frequencies with uniform: at 0 a "
                                                         "colour never seen gets an infinite weight; 1 turns it off"),
    }

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        if channels != 3:
            raise ValueError("colorization needs a colour dataset such as shapes or cifar10: "
                             f"this one has {channels} channel, so there is no colour to predict")
        self.sigma = float(self.options["ab_grid"]) / 2
        self.register_buffer("bins", ab_bins(float(self.options["ab_grid"])).clone())
        self.register_buffer("class_weights", torch.ones(len(self.bins)))
        self._rebalanced = False
        self.decoder = ImageDecoder(self.encoder.feature_dim, len(self.bins), out_size=16, sigmoid=False)
        self.adapt_encoder(self.encoder)

    @staticmethod
    def adapt_encoder(encoder) -> None:
        """The encoder sees the lightness only, in training and in evaluation (and so does the
        run's untrained reference: the same network seeing colour scored 0.447 kNN on shapes,
        against 0.607 for colorization's own untrained encoder)."""
        encoder.register_forward_pre_hook(_luminance_hook)

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """Soft-encoded ab distributions [B, Q, H/2, W/2] (each cell: mean over its 2x2 pixels)."""
        z = soft_encode(rgb_to_lab(x)[:, 1:], self.bins, self.sigma)
        return F.avg_pool2d(z, 2)

    @torch.no_grad()
    def on_epoch_start(self, epoch, images):
        lam = float(self.options["rebalance"])
        if self._rebalanced or lam >= 1:
            return {}
        sub = images[torch.linspace(0, len(images) - 1, min(2000, len(images)), device=images.device).long()]
        p = torch.zeros(len(self.bins), device=images.device)
        for chunk in sub.split(250):
            p += self.targets(chunk.float() / 255).sum(dim=(0, 2, 3))
        p = p / p.sum()
        kernel = torch.exp(-torch.cdist(self.bins, self.bins) ** 2 / (2 * self.sigma ** 2))
        p = kernel @ p
        p = p / p.sum()  # the smoothed empirical distribution p~
        w = 1 / ((1 - lam) * p + lam / len(p))
        self.class_weights.copy_(w / (p * w).sum())
        self._rebalanced = True
        return {}

    def training_step(self, views, labels, index=None):
        x = views[0]
        h, w = x.shape[-2:]
        with torch.no_grad():
            z = self.targets(x)
        logits = self.decoder(self.encoder(x), (h // 2, w // 2)).float()  # the hook hides the colour
        ce = -(z * F.log_softmax(logits, dim=1)).sum(1)  # [B, H/2, W/2]
        best = z.argmax(1)
        loss = (self.class_weights[best] * ce).mean()
        acc = (logits.argmax(1) == best).float().mean()
        return loss, {"loss": loss.detach(), "color_acc": acc.detach()}
