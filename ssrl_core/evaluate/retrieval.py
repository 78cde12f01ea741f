"""Retrieval with an image from outside the dataset: decode it the way the importer does
(pixel limit, any mode converted, centre-fitted to the dataset's size, grayscale when the
dataset is), embed it with the run's encoder, search the run's faiss index."""
from __future__ import annotations

import numpy as np
import torch

from ..data.custom import UNREADABLE_IMAGE, TooManyPixels, decode_image
from .embed import embed
from .encode import as_dataset_images


def query_tensor(data: bytes, channels: int, size: int) -> torch.Tensor:
    """An uploaded image file as uint8 [1, C, size, size]; ValueError when it is not a
    readable image or is too large, its message a sentence for the person who uploaded it
    (the exception's class would mean nothing to them)."""
    try:
        rgb, _ = decode_image(data, size)
    except TooManyPixels as e:  # worded for the importer's list of skipped files: made a sentence here
        said = str(e)
        raise ValueError(f"{said[:1].upper()}{said[1:]}: upload a smaller image.") from None
    except Exception:  # noqa: BLE001 (PIL raises many kinds for a file that is no image)
        raise ValueError(f"This file is {UNREADABLE_IMAGE}: upload a PNG or JPEG.") from None
    return as_dataset_images([rgb], channels)


def query_features(encoder: torch.nn.Module, device: torch.device, image: torch.Tensor) -> np.ndarray:
    return embed(encoder, image, device)[0]
