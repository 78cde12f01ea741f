"""Retrieval with an image from outside the dataset: decode it the way the importer does
(pixel limit, any mode converted, centre-fitted to the dataset's size, grayscale when the
dataset is), embed it with the run's encoder, search the run's faiss index."""
from __future__ import annotations

import numpy as np
import torch

from ..data.custom import UNREADABLE_IMAGE, WHITE, try_decode
from .embed import embed
from .encode import as_dataset_images


def query_tensor(data: bytes, channels: int, size: int, background: tuple[int, int, int] = WHITE) -> torch.Tensor:
    """An uploaded image file as uint8 [1, C, size, size], any transparency on ``background``
    (the set's own, ``ImageSet.background``); ValueError when it is not a readable image or is too
    large, its message a sentence for the person who uploaded it (the exception's class would
    mean nothing to them)."""
    decoded = try_decode(lambda: data, size, background=background)  # the importer's decoding and reasons for skipping
    if decoded == UNREADABLE_IMAGE:
        raise ValueError(f"This file is {UNREADABLE_IMAGE}: upload a PNG or JPEG.")
    if isinstance(decoded, str):  # over the pixel limit, worded for a list of skipped files: made a sentence here
        raise ValueError(f"{decoded[:1].upper()}{decoded[1:]}: upload a smaller image.")
    return as_dataset_images([decoded[0]], channels)


def query_features(encoder: torch.nn.Module, device: torch.device, image: torch.Tensor) -> np.ndarray:
    return embed(encoder, image, device)[0]
