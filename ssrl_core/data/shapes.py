"""Procedural shapes: one shape per 32x32 RGB image on a plain dark background.

Every image is drawn from known ground-truth factors, which is what makes the set useful
for asking what a representation keeps:

- ``shape`` (the label): circle, square, triangle, cross, star, heart
- ``color``: one of 6 hues (red, yellow, green, cyan, blue, magenta)
- ``size`` (radius in pixels, 6..12), ``rotation`` (degrees, 0..360), ``position_x`` and
  ``position_y`` (centre, pixels): continuous, each also given as bins
  (``size_bin``: small/medium/large, ``rotation_bin``: 4 quadrants, ``position_bin``: a
  3x3 grid of where the centre lies).

Deterministic from the seed; drawn with 4x supersampling for smooth edges; generated once
and cached under ``SSRL_HOME/data/shapes``.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch

from .imageset import ImageSet

SHAPES = ["circle", "square", "triangle", "cross", "star", "heart"]
COLORS = ["red", "yellow", "green", "cyan", "blue", "magenta"]
_RGB = np.array(
    [[230, 40, 40], [230, 220, 40], [40, 210, 60], [40, 210, 220], [50, 80, 235], [220, 50, 220]],
    dtype=np.float32,
)
BACKGROUND = np.array([24, 24, 28], dtype=np.float32)


@functools.cache  # (a page draws it on every rerun; the colours never change)
def hue_gaps() -> tuple[float, float]:
    """The narrowest and widest turn, in degrees, between neighbouring colours of shapes on the
    wheel ``color_jitter`` turns (40 and 86): a jitter whose hue turns less than the narrowest
    never makes one colour look like the next, so colour can stay apart in its features."""
    from ..augment.ops import hue_angles

    at = sorted(hue_angles(_RGB))
    gaps = [b - a for a, b in zip(at, at[1:] + [at[0] + 360])]
    return min(gaps), max(gaps)
SIZE_BINS = ["small", "medium", "large"]
ROTATION_BINS = ["0-90", "90-180", "180-270", "270-360"]
POSITION_BINS = [f"{r}-{c}" for r in ("top", "middle", "bottom") for c in ("left", "centre", "right")]
DISCRETE_FACTORS = ("shape", "color", "size_bin", "rotation_bin", "position_bin")  # what a factor probe reads
VERSION = 1


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership of points (u, v) in a unit-sized shape (rotated frame, radius 1)."""
    if shape == 0:  # circle
        return u * u + v * v <= 1.0
    if shape == 1:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= 0.78
    if shape == 2:  # equilateral triangle, circumradius 1, apex up
        return (v >= -0.5) & (1.7320508 * np.abs(u) <= 1.0 - v)
    if shape == 3:  # cross
        return ((np.abs(u) <= 0.3) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 1.0))
    if shape == 4:  # five-pointed star
        r = np.hypot(u, v)
        th = np.arctan2(u, v)
        k = 2 * math.pi / 5
        a = np.abs(((th + k / 2) % k) - k / 2)  # angle to nearest spike
        # inside when on the inner side of the edge from the spike tip (0, 1) to the notch
        # at angle k/2 and radius `inner` (by symmetry, one edge serves all ten)
        inner = 0.42
        tip = np.array([0.0, 1.0])
        notch = np.array([inner * math.sin(k / 2), inner * math.cos(k / 2)])
        px, py = r * np.sin(a), r * np.cos(a)
        cross = (notch[0] - tip[0]) * (py - tip[1]) - (notch[1] - tip[1]) * (px - tip[0])
        return (cross <= 0) | (r <= inner)
    if shape == 5:  # heart: two circles and a triangle
        left = (u + 0.42) ** 2 + (v - 0.3) ** 2 <= 0.45**2
        right = (u - 0.42) ** 2 + (v - 0.3) ** 2 <= 0.45**2
        tri = (v <= 0.45) & (v >= -0.95) & (np.abs(u) <= (v + 0.95) * 0.62)
        return left | right | tri
    raise ValueError(shape)


def generate_shapes(n: int = 10_000, seed: int = 0, size: int = 32, supersample: int = 4) -> ImageSet:
    rng = np.random.default_rng(seed)
    shape = rng.integers(0, len(SHAPES), n)
    color = rng.integers(0, len(COLORS), n)
    radius = rng.uniform(6.0, 12.0, n)
    rotation = rng.uniform(0.0, 360.0, n)
    cx = np.array([rng.uniform(r, size - r) for r in radius])
    cy = np.array([rng.uniform(r, size - r) for r in radius])

    s = supersample
    grid = (np.arange(size * s, dtype=np.float32) + 0.5) / s  # pixel-centre coordinates
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    # Small chunks stay in the CPU's cache, and the offsets from the centre are one row and
    # one column per image, broadcast only where they are rotated: 4 s for the 10,000
    # images where the whole grid per image took 11 to 16 s, with the same pixels.
    chunk = 32
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        m = sl.stop - sl.start
        dx = (grid[None, None, :] - cx[sl, None, None]) / radius[sl, None, None]  # [m, 1, W]
        dy = (grid[None, :, None] - cy[sl, None, None]) / radius[sl, None, None]  # [m, H, 1]
        th = np.deg2rad(rotation[sl])[:, None, None]
        u = np.cos(th) * dx + np.sin(th) * dy
        v = -(-np.sin(th) * dx + np.cos(th) * dy)  # image y points down; flip so shapes stand up
        mask = np.zeros((m, size * s, size * s), dtype=bool)
        for k in range(len(SHAPES)):
            sel = shape[sl] == k
            if sel.any():
                mask[sel] = _inside(k, u[sel], v[sel])
        cover = mask.reshape(m, size, s, size, s).sum(axis=(2, 4), dtype=np.uint8) / (s * s)  # [m,H,W] in [0,1]
        rgb = _RGB[color[sl]][:, :, None, None]  # [m,3,1,1]
        img = BACKGROUND[None, :, None, None] * (1 - cover[:, None]) + rgb * cover[:, None]
        images[sl] = np.clip(np.round(img), 0, 255).astype(np.uint8)

    size_bin = np.digitize(radius, [8.0, 10.0])
    rotation_bin = (rotation // 90).astype(np.int64) % 4
    col = np.digitize(cx, [size / 3, 2 * size / 3])
    row = np.digitize(cy, [size / 3, 2 * size / 3])
    position_bin = row * 3 + col
    # fixed split: the last 20% (draws are i.i.d., so this is a random split)
    is_train = np.arange(n) < int(round(n * 0.8))
    t = torch.from_numpy
    return ImageSet(
        name="shapes",
        images=t(images),
        labels=t(shape.astype(np.int64)),
        class_names=list(SHAPES),
        is_train=t(is_train),
        factors={
            "shape": t(shape.astype(np.int64)),
            "color": t(color.astype(np.int64)),
            "size_bin": t(size_bin.astype(np.int64)),
            "rotation_bin": t(rotation_bin.astype(np.int64)),
            "position_bin": t(position_bin.astype(np.int64)),
            "size": t(radius.astype(np.float32)),
            "rotation": t(rotation.astype(np.float32)),
            "position_x": t(cx.astype(np.float32)),
            "position_y": t(cy.astype(np.float32)),
        },
        factor_names=dict(zip(DISCRETE_FACTORS, map(list, (SHAPES, COLORS, SIZE_BINS, ROTATION_BINS, POSITION_BINS)))),
    )


def load_shapes(cache_dir: Path, n: int = 10_000, seed: int = 0) -> ImageSet:
    """The shapes set, from the cache when it is there, generated (and cached) otherwise."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"shapes_v{VERSION}_n{n}_seed{seed}.pt"
    if path.exists():
        try:
            d = torch.load(path, weights_only=True)
            return ImageSet(**d)
        except Exception:
            path.unlink(missing_ok=True)  # a damaged cache is regenerated, never trusted
    ds = generate_shapes(n=n, seed=seed)
    tmp = path.with_suffix(f".tmp{np.random.randint(1 << 30)}")
    torch.save(
        {k: getattr(ds, k) for k in ("name", "images", "labels", "class_names", "is_train", "factors", "factor_names")},
        tmp,
    )
    tmp.replace(path)
    return ds
