"""Frozen features of a whole image set."""
from __future__ import annotations

import numpy as np
import torch

from ..device import to_device_batch


@torch.no_grad()
def embed(encoder: torch.nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 512) -> np.ndarray:
    """Encoder features [N, D] (float32, numpy) of uint8 images [N, C, H, W], in eval mode."""
    was_training = encoder.training
    encoder.eval()
    out = []
    for i in range(0, images.shape[0], batch_size):
        x = to_device_batch(images[i : i + batch_size].to(device).float().div_(255))
        out.append(encoder(x).float().cpu())
    encoder.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, getattr(encoder, "feature_dim", 0)), np.float32)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)
