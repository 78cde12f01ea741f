"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), upsampled
to 32x32 with bilinear interpolation. Real data shipped with scikit-learn: no network."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .imageset import ImageSet, stratified_split


def bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images [1797, 8, 8] with values 0 to 16, labels [1797]), as scikit-learn's
    ``load_digits`` returns them, read from the file it ships (``datasets/data/digits.csv.gz``:
    64 pixels, then the label, per row) without importing scikit-learn: that import takes
    about 2 s, which the first page showing digits and every worker start waited for."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if path is None or not path.is_file():  # another layout: ask scikit-learn itself
        from sklearn.datasets import load_digits as sk_digits

        d = sk_digits()
        return d.images, d.target
    data = np.loadtxt(path, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)


def load_digits(size: int = 32) -> ImageSet:
    pixels, target = bundled_digits()
    x = torch.from_numpy(pixels.astype(np.float32) / 16.0)[:, None]  # [N,1,8,8] in [0,1]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = np.asarray(target, dtype=np.int64)
    is_train = stratified_split(labels, test_fraction=0.2, seed=0)
    return ImageSet(
        name="digits",
        images=images,
        labels=torch.from_numpy(labels),
        class_names=[str(i) for i in range(10)],
        is_train=torch.from_numpy(is_train),
    )
