"""Frozen features of a whole image set."""
from __future__ import annotations

import numpy as np
import torch

from ..device import to_device_batch


@torch.no_grad()
def _in_eval(module: torch.nn.Module, n: int, batch_size: int, batch) -> list[torch.Tensor]:
    """``module`` on ``batch(start, stop)`` for every slice of n rows, in eval mode (its mode
    restored after), as float32 on the CPU."""
    was_training = module.training
    module.eval()
    out = [module(batch(i, i + batch_size)).float().cpu() for i in range(0, n, batch_size)]
    module.train(was_training)
    return out


def embed(encoder: torch.nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 512) -> np.ndarray:
    """Encoder features [N, D] (float32, numpy) of uint8 images [N, C, H, W], in eval mode."""
    out = _in_eval(encoder, images.shape[0], batch_size,
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
