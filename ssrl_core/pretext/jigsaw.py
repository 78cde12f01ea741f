"""Jigsaw puzzles — Noroozi & Favaro. "Unsupervised Learning of Visual Representations by
Solving Jigsaw Puzzles", ECCV 2016.

Each image is cut into a grid x grid array of cells and one tile is taken from each cell at
a random offset (tile side about 0.85 of the cell, as the paper's 64 px tiles in 75 px
cells: the gaps keep edges from lining up, a shortcut). The tiles are shuffled by one of
a fixed set of permutations, each tile goes through the same encoder f (the paper's
siamese "context-free network"), and an MLP on the concatenated tile features predicts
which permutation was used:

    L = -(1 / N) sum_i log p(k_i | f(t_{i, P_k(1)}), ..., f(t_{i, P_k(G*G)})).

The permutation set is chosen greedily for large Hamming distances, as the paper's
Algorithm 1 (deterministic, seed 0; for a 3x3 grid from a fixed subset of 20,000 of the
9! orders): each next permutation maximises its minimum distance to those already chosen,
ties broken by the mean. The paper maximises the mean alone, which lets two permutations
differ by a single swap; here 100 permutations are at least 6 of 9 positions apart.
The paper's per-tile normalisation and colour-channel jitter are left out.

What to expect: the loss falls from log(n_permutations) (4.6 for 100) as the network
learns where parts of a digit or object sit; 3x3 grids on 28-32 px images give 7-8 px
tiles (digits, cnn-small, 10 epochs: loss 0.63, ``jigsaw_acc`` 0.85). The encoder is
trained on tiles but probed on whole images (BatchNorm statistics included), so probes
need not follow the pretext accuracy (digits, three seeds: kNN 0.878, linear 0.966, against
random's 0.898 and 0.958). Options: n_permutations (100), grid (3; 2 gives 2x2 puzzles of 24
possible orders, easier on tiny images).
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..models import mlp
from .base import OptionRange, PretextMethod

CANDIDATES = 20_000  # permutations of 3x3 grids considered by the greedy selection


@functools.lru_cache(maxsize=8)
def max_hamming_permutations(n: int, tiles: int = 9, seed: int = 0) -> np.ndarray:
    """``n`` permutations of range(tiles) [n, tiles], chosen greedily: start from a random
    one; repeatedly add the candidate farthest (in Hamming distance) from the chosen set,
    by its minimum distance to them, ties broken by the mean."""
    if n > math.factorial(tiles):
        raise ValueError(f"a {tiles}-tile puzzle has only {math.factorial(tiles)} permutations, not {n}")
    rng = np.random.default_rng(seed)
    cand = np.array(list(itertools.permutations(range(tiles))), dtype=np.int8)
    if len(cand) > CANDIDATES:
        cand = cand[np.sort(rng.choice(len(cand), CANDIDATES, replace=False))]
    j = int(rng.integers(len(cand)))
    d_sum = np.zeros(len(cand), np.int64)
    d_min = np.full(len(cand), tiles + 1, np.int64)
    chosen = []
    for _ in range(n):
        chosen.append(j)
        d = (cand != cand[j]).sum(1)
        d_sum += d
        d_min = np.minimum(d_min, d)
        score = d_min * (tiles * n + 1) + d_sum
        score[chosen] = -1
        j = int(score.argmax())
    return cand[chosen].astype(np.int64)


def split_tiles(x: torch.Tensor, grid: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, grid*grid, C, H/grid, W/grid], tiles in row-major order."""
    b, c, h, w = x.shape
    t = x.reshape(b, c, grid, h // grid, grid, w // grid)
    return t.permute(0, 2, 4, 1, 3, 5).reshape(b, grid * grid, c, h // grid, w // grid)


def assemble_tiles(tiles: torch.Tensor, grid: int) -> torch.Tensor:
    """The inverse of ``split_tiles``."""
    b, _, c, th, tw = tiles.shape
    return tiles.reshape(b, grid, grid, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(b, c, grid * th, grid * tw)


def shuffle_tiles(tiles: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """Position i of image b shows tile perms[b, i]: [B, T, ...] with perms [B, T]."""
    idx = perms.view(*perms.shape, *([1] * (tiles.ndim - 2))).expand_as(tiles)
    return torch.gather(tiles, 1, idx)


def random_tiles(x: torch.Tensor, grid: int) -> torch.Tensor:
    """One tile per cell of a grid x grid split, at a random offset inside its cell:
    [B, grid*grid, C, t, t] with t = 0.85 of the cell side."""
    b = x.shape[0]
    cell = min(x.shape[-2], x.shape[-1]) // grid
    t = max(1, cell * 85 // 100)
    off = torch.randint(0, cell - t + 1, (b, grid * grid, 2), device=x.device)
    base = torch.arange(grid, device=x.device) * cell
    top = base.repeat_interleave(grid)[None] + off[..., 0]  # [B, T]
    left = base.repeat(grid)[None] + off[..., 1]
    r = torch.arange(t, device=x.device)
    rows = (top[..., None] + r)[:, :, :, None]  # [B, T, t, 1]
    cols = (left[..., None] + r)[:, :, None, :]  # [B, T, 1, t]
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    return x[bi, :, rows, cols].permute(0, 1, 4, 2, 3)  # [B, T, t, t, C] -> [B, T, C, t, t]


class Jigsaw(PretextMethod):
    name = "jigsaw"
    family = "transformation prediction"
    summary = "put shuffled tiles of an image back in order: predict which permutation was used"
    n_views = 1
    defaults = {"n_permutations": 100, "grid": 3}
    option_help = {
        "n_permutations": "size of the permutation set (classes); the paper uses 1000 on ImageNet, 100 suits small data",
        "grid": "tiles per side: 3 (the paper's 3x3) or 2 (2x2, 24 orders, for tiny images)",
    }
    option_ranges = {
        "grid": OptionRange(2, 3, why="tiles per side: 1 is no puzzle, and 4 cuts 28-32 px images into tiles of "
                                      "5-6 px"),
        "n_permutations": OptionRange(2, 1000, why="the classes the head tells apart: one is no task; the paper's "
                                                   "largest set is 1000"),
    }

    @classmethod
    def option_conflicts(cls, options):
        tiles = options["grid"] ** 2
        n = options["n_permutations"]
        if n > math.factorial(tiles):
            return (f"option n_permutations must be at most {math.factorial(tiles)} with grid {options['grid']} "
                    f"(a {options['grid']}x{options['grid']} puzzle has {math.factorial(tiles)} orders), got {n}: "
                    "lower it or use grid 3")
        return None

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        self.grid = int(self.options["grid"])
        n = int(self.options["n_permutations"])
        self.register_buffer("perms", torch.from_numpy(max_hamming_permutations(n, self.grid ** 2).copy()))
        d = self.encoder.feature_dim
        self.head = mlp([self.grid ** 2 * d, 1024, n])

    def training_step(self, views, labels, index=None):
        x = views[0]
        b, T = x.shape[0], self.grid ** 2
        k = torch.randint(0, self.perms.shape[0], (b,), device=x.device)
        tiles = shuffle_tiles(random_tiles(x, self.grid), self.perms[k])
        flat = tiles.reshape(b * T, *tiles.shape[2:]).contiguous(memory_format=torch.channels_last)
        feats = self.encoder(flat).reshape(b, -1)  # the siamese encoder on every tile, concatenated
        logits = self.head(feats)
        loss = F.cross_entropy(logits.float(), k)
        acc = (logits.argmax(1) == k).float().mean()
        return loss, {"loss": loss.detach(), "jigsaw_acc": acc.detach()}
