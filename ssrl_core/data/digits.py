"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), upsampled
to 32x32 with bilinear interpolation. Real data shipped with scikit-learn: no network."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .imageset import ImageSet, stratified_split


def load_digits(size: int = 32) -> ImageSet:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]  # [N,1,8,8] in [0,1]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = np.asarray(d.target, dtype=np.int64)
    is_train = stratified_split(labels, test_fraction=0.2, seed=0)
    return ImageSet(
        name="digits",
        images=images,
        labels=torch.from_numpy(labels),
        class_names=[str(i) for i in range(10)],
        is_train=torch.from_numpy(is_train),
    )
