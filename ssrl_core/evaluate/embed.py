"""Frozen features of a whole image set."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..device import Precision, autocast, release_cached_memory, to_device_batch


# one evaluation batch: at most 512 images, and no more pixels than 512 images of 32 px: 128 at
# 64 px, 8 at 256 (imported sets go up to 256 px). A fixed 512 at 256 px, in resnet18's
# full-resolution first layers, is 8.6 GB for one activation: enough to run a GPU out of memory
# at the first epoch's probe, whatever the run's batch size
EMBED_BATCH, EMBED_PIXELS = 512, 512 * 32 * 32


def batch_for(images: torch.Tensor) -> int:
    """How many of ``images`` [N, C, H, W] one evaluation batch holds."""
    h, w = images.shape[-2:]
    return max(1, min(EMBED_BATCH, EMBED_PIXELS // max(1, h * w)))


@torch.no_grad()
def _in_eval(module: torch.nn.Module, n: int, batch_size: int, batch) -> list[torch.Tensor]:
    """``module`` on ``batch(start, stop)`` for every slice of n rows, in eval mode (its mode
    restored after), as float32 on the CPU. Out of memory on a device, the batch is halved and
    the slice tried again (down to one row, which then fails as it did)."""
    was_training = module.training
    module.eval()
    out, start = [], 0
    try:
        while start < n:
            try:
                out.append(module(batch(start, start + batch_size)).float().cpu())
            except torch.OutOfMemoryError:
                if batch_size == 1:
                    raise
                batch_size //= 2
                release_cached_memory()
                continue
            start += batch_size
    finally:
        module.train(was_training)
    return out


def embed(encoder: torch.nn.Module, images: torch.Tensor, device: torch.device, batch_size: int | None = None,
          precision: Precision | None = None) -> np.ndarray:
    """Encoder features [N, D] (float32, numpy) of uint8 images [N, C, H, W], in eval mode, in
    batches of ``batch_for(images)`` unless given; in float32 unless a ``precision`` is given
    (the training loop's, for its per-epoch probe: ``EpochProbe``)."""
    if images.dtype != torch.uint8:  # float pixels in [0, 1] were divided by 255 again, into features of nothing
        raise TypeError(f"embed takes uint8 images (0 to 255, as ImageSet.images holds them), [N, C, H, W]; got "
                        f"{images.dtype}: for float images in [0, 1], `(images * 255).round().to(torch.uint8)`")
    with autocast(device, precision) if precision is not None else contextlib.nullcontext():
        out = _in_eval(encoder, images.shape[0], batch_size or batch_for(images),
                       lambda a, b: to_device_batch(images[a:b].to(device).float().div_(255)))
    return torch.cat(out).numpy() if out else np.zeros((0, getattr(encoder, "feature_dim", 0)), np.float32)


def embed_features(head: torch.nn.Module, features: np.ndarray, device: torch.device,
                   batch_size: int = 4096) -> np.ndarray:
    """``head``'s outputs (float32, numpy) for encoder features [N, D] already computed, in
    eval mode: a method's embedding without running the encoder again."""
    return torch.cat(_in_eval(head, len(features), batch_size,
                              lambda a, b: torch.from_numpy(np.ascontiguousarray(features[a:b])).to(device))).numpy()


def l2_normalize(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32, copy=False)
