"""Batched augmentation ops with per-sample random parameters.

Every op takes a float batch ``x`` [B, C, H, W] with values in [0, 1] on any device and a
``torch.Generator`` on that device's side (CPU generator for CPU tensors), and returns a
batch of the same shape. Random parameters are drawn per sample, never one per batch.
Ops that need colour (saturation, hue, grayscale) leave 1-channel images unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..device import constant
from ..registry import by_name


def _rand(b: int, x: torch.Tensor, g: torch.Generator | None, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    return torch.rand(b, device=x.device, generator=g, dtype=torch.float32) * (hi - lo) + lo


def _coin(b: int, x: torch.Tensor, g: torch.Generator | None, p: float) -> torch.Tensor:
    """A per-sample bool mask, True with probability p, shaped [B,1,1,1]."""
    return (_rand(b, x, g) < p).view(b, 1, 1, 1)


_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, [B,1,H,W]."""
    if x.shape[1] == 1:
        return x
    return (x * constant(_LUMA, x.device, x.dtype)).sum(1, keepdim=True)


@dataclass
class Op:
    """Base class: a named op with strength parameters and a one-line description."""

    name = "op"
    description = ""
    # an op's own parameters' bounds, (low, high, slider step), where the shared rules by name do not fit them (``p``, a
    # ``*scale`` or ``*area`` from 0 to 1, nothing negative, ...): checked by ``parse_augment`` in their place (a
    # ``min_``/``max_`` pair must still be in order) and used by the Augment page's slider (a step of 1: whole numbers
    # only); and each one's meaning, the slider's help
    ranges: ClassVar[dict[str, tuple[float, float, float]]] = {}
    param_help: ClassVar[dict[str, str]] = {}

    def __call__(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def spec(self) -> str:
        defaults = type(self)()
        changed = {k: v for k, v in self.params().items() if getattr(defaults, k) != v}
        if not changed:
            return self.name
        # ten digits: what was typed comes back (0.1234567 came back 0.123457 with :g), a slider's
        # 0.30000000000000004 as 0.3
        return f"{self.name}(" + ",".join(f"{k}={v:.10g}" for k, v in changed.items()) + ")"


@dataclass
class Crop(Op):
    """Random resized crop: a box of random area and aspect ratio, resized back. The area is
    drawn from [min_scale, max_scale] of the image's (0.2 by default, as CIFAR-sized SimCLR
    code commonly uses; the paper's ImageNet recipe draws from 0.08, a 9-pixel box on a
    32-pixel image), the aspect ratio log-uniformly. A box wider or taller than the image is cut
    at its edge (about one draw in six at the defaults, the largest ones), where torchvision
    draws again: large crops here cover a little less of the image than drawn."""

    min_scale: float = 0.2
    max_scale: float = 1.0
    min_ratio: float = 3 / 4
    max_ratio: float = 4 / 3
    name = "crop"
    description = "random resized crop: zoom into a random box of the image, resized back to full size"

    def __call__(self, x, g=None):
        b = x.shape[0]
        area = _rand(b, x, g, self.min_scale, self.max_scale)
        log_r = _rand(b, x, g, math.log(self.min_ratio), math.log(self.max_ratio))
        r = torch.exp(log_r)
        w = torch.sqrt(area * r).clamp(max=1.0)  # fraction of the width
        h = torch.sqrt(area / r).clamp(max=1.0)
        cx = (_rand(b, x, g) * 2 - 1) * (1 - w)  # centre in [-1+w, 1-w]
        cy = (_rand(b, x, g) * 2 - 1) * (1 - h)
        theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0], theta[:, 0, 2] = w, cx
        theta[:, 1, 1], theta[:, 1, 2] = h, cy
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@dataclass
class Flip(Op):
    """Horizontal flip with probability p."""

    p: float = 0.5
    name = "flip"
    description = "mirror the image left-right with probability p"

    def __call__(self, x, g=None):
        return torch.where(_coin(x.shape[0], x, g, self.p), x.flip(-1), x)


@dataclass
class ColorJitter(Op):
    """SimCLR-style colour distortion with probability p: brightness, contrast, saturation
    (factors drawn from [max(0, 1-s), 1+s], as torchvision's: a strength above 1 drew negative
    factors, which turned an image's contrast or colours inside out) and hue (a rotation of the
    chroma plane in YIQ space by up to hue*360 degrees, a linear stand-in for the HSV hue shift). The defaults are
    SimCLR's strength s = 0.5, the one its paper uses for 32-pixel CIFAR-10 (0.8s, 0.8s,
    0.8s, 0.2s); its ImageNet strength s = 1 is
    ``color_jitter(brightness=0.8,contrast=0.8,saturation=0.8,hue=0.2)``. An op buys
    invariance only over the range it samples (README, colour invariance on shapes)."""

    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    p: float = 0.8
    name = "color_jitter"
    description = "randomly change brightness, contrast, saturation and hue (probability p)"

    @property
    def hue_degrees(self) -> float:
        """The largest turn of hue, in degrees either way (``hue`` is a share of the wheel)."""
        return self.hue * 360

    def __call__(self, x, g=None):
        b = x.shape[0]
        one = lambda s: _rand(b, x, g, max(0.0, 1 - s), 1 + s).view(b, 1, 1, 1)  # noqa: E731
        y = x * one(self.brightness)
        m = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
        y = (y - m) * one(self.contrast) + m
        if x.shape[1] == 3:
            gray = _gray(y)
            y = (y - gray) * one(self.saturation) + gray
            if self.hue > 0:
                y = _hue_rotate(y, _rand(b, x, g, -self.hue, self.hue) * 2 * math.pi)
        y = y.clamp(0, 1)
        return torch.where(_coin(b, x, g, self.p), y, x)


_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)  # here, once: on a GPU an inverse waits for the device (it checks for errors)


def hue_angles(rgb) -> list[float]:
    """Where colours (rows of 0-255 RGB) sit, in degrees, on the wheel ``color_jitter`` turns
    (the chroma plane of YIQ, ``_hue_rotate``): how far apart two colours are for its ``hue``."""
    yiq = torch.as_tensor(rgb, dtype=torch.float64) / 255 @ _RGB2YIQ.double().T
    return [float(a) % 360 for a in torch.rad2deg(torch.atan2(yiq[:, 2], yiq[:, 1]))]


def _hue_rotate(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate each image's chroma (I, Q) by its own angle: one 3x3 matrix per sample."""
    fwd, inv = constant(_RGB2YIQ, x.device, x.dtype), constant(_YIQ2RGB, x.device, x.dtype)
    c, s = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    rot = torch.zeros(x.shape[0], 3, 3, device=x.device, dtype=x.dtype)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = c, -s, s, c
    m = inv @ rot @ fwd  # [B,3,3]
    return torch.einsum("bij,bjhw->bihw", m, x)


@dataclass
class Grayscale(Op):
    p: float = 0.2
    name = "grayscale"
    description = "drop colour, converting the image to gray, with probability p"

    def __call__(self, x, g=None):
        if x.shape[1] == 1:
            return x
        return torch.where(_coin(x.shape[0], x, g, self.p), _gray(x).expand_as(x), x)


@dataclass
class Blur(Op):
    """Gaussian blur, sigma drawn per sample from [min_sigma, max_sigma], probability p."""

    min_sigma: float = 0.1
    max_sigma: float = 1.5
    p: float = 0.5
    name = "blur"
    description = "Gaussian blur of a random width, its sigma in pixels (probability p)"

    def __call__(self, x, g=None):
        b, c, h, w = x.shape
        sigma = _rand(b, x, g, self.min_sigma, self.max_sigma)
        radius = max(1, min(math.ceil(2 * self.max_sigma), min(h, w) - 1))  # reflect padding needs radius < size
        t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        k = torch.exp(-(t[None] ** 2) / (2 * sigma[:, None].to(x.dtype) ** 2))
        k = k / k.sum(1, keepdim=True)  # [B, K]
        k = k.repeat_interleave(c, 0)  # one kernel per (sample, channel)
        y = x.reshape(1, b * c, h, w)
        y = F.pad(y, (radius, radius, radius, radius), mode="reflect")
        y = F.conv2d(y, k.view(b * c, 1, 1, -1), groups=b * c)
        y = F.conv2d(y, k.view(b * c, 1, -1, 1), groups=b * c)
        y = y.view(b, c, h, w)
        return torch.where(_coin(b, x, g, self.p), y, x)


@dataclass
class Rotate(Op):
    """Rotation by an angle drawn per sample from [-degrees, degrees]."""

    degrees: float = 30.0
    p: float = 1.0
    name = "rotate"
    description = "rotate by a random angle, either way (probability p)"

    def __call__(self, x, g=None):
        b = x.shape[0]
        a = _rand(b, x, g, -self.degrees, self.degrees) * math.pi / 180
        a = torch.where(_coin(b, x, g, self.p).view(b), a, torch.zeros_like(a))
        c, s = torch.cos(a).to(x.dtype), torch.sin(a).to(x.dtype)
        theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = c, -s, s, c
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@dataclass
class Solarize(Op):
    threshold: float = 0.5
    p: float = 0.2
    name = "solarize"
    description = "invert the pixels brighter than a threshold (probability p)"

    def __call__(self, x, g=None):
        y = torch.where(x >= self.threshold, 1 - x, x)
        return torch.where(_coin(x.shape[0], x, g, self.p), y, x)


@dataclass
class Erase(Op):
    """Random erasing: a box of random area (min_area..max_area of the image) filled with
    per-sample random gray, probability p."""

    min_area: float = 0.02
    max_area: float = 0.2
    p: float = 0.5
    name = "erase"
    description = "blank out a random rectangle (probability p)"

    def __call__(self, x, g=None):
        b, _, h, w = x.shape
        area = _rand(b, x, g, self.min_area, self.max_area)
        r = torch.exp(_rand(b, x, g, math.log(0.3), math.log(3.3)))
        bh, bw = torch.sqrt(area * r), torch.sqrt(area / r)
        # a box taller or wider than the image is cut to it and widened or heightened to keep its area: cut
        # alone, erase(min_area=1, max_area=1) blanked a 0.55-wide strip where it asked for the whole image
        tall, wide = bh > 1, bw > 1
        bh, bw = torch.where(tall, 1.0, torch.where(wide, area, bh)), torch.where(wide, 1.0, torch.where(tall, area, bw))
        y0 = _rand(b, x, g) * (1 - bh)
        x0 = _rand(b, x, g) * (1 - bw)
        ys = (torch.arange(h, device=x.device, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=x.device, dtype=torch.float32) + 0.5) / w
        inside_y = (ys[None] >= y0[:, None]) & (ys[None] < (y0 + bh)[:, None])  # [B,H]
        inside_x = (xs[None] >= x0[:, None]) & (xs[None] < (x0 + bw)[:, None])  # [B,W]
        box = (inside_y[:, :, None] & inside_x[:, None, :])[:, None]  # [B,1,H,W]
        fill = _rand(b, x, g).view(b, 1, 1, 1).to(x.dtype)
        box = box & _coin(b, x, g, self.p)
        return torch.where(box, fill, x)


@dataclass
class Noise(Op):
    """Additive Gaussian noise, std drawn per sample from [0, sigma]."""

    sigma: float = 0.1
    p: float = 0.5
    name = "noise"
    description = "add Gaussian pixel noise of random strength (probability p)"

    def __call__(self, x, g=None):
        b = x.shape[0]
        std = (_rand(b, x, g, 0.0, self.sigma) * _coin(b, x, g, self.p).view(b)).view(b, 1, 1, 1).to(x.dtype)
        n = torch.randn(x.shape, device=x.device, generator=g, dtype=x.dtype)
        return (x + n * std).clamp(0, 1)


OPS: dict[str, type[Op]] = by_name((Crop, Flip, ColorJitter, Grayscale, Blur, Rotate, Solarize, Erase, Noise),
                                   "augmentation op")
