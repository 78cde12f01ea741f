import torch

from ssrl_core.data import load_dataset
from ssrl_core.data.shapes import COLORS, DISCRETE_FACTORS, SHAPES, generate_shapes, load_shapes

from .conftest import ROOT


def test_digits_is_real_upsampled_and_split():
    ds = load_dataset("digits")
    assert ds.images.shape == (1797, 1, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.num_classes == 10 and set(ds.labels.tolist()) == set(range(10))
    assert int(ds.is_train.sum()) == 1438 and len(ds.test_idx) == 359
    # stratified: every class is in the test split
    assert set(ds.labels[ds.test_idx].tolist()) == set(range(10))
    assert ds.images.max() > 200 and ds.images.min() == 0


def test_digits_pixels_and_split_never_change():
    """Runs on digits are compared across machines and versions: the same pixels (scikit-learn's 0..16
    scaled to 0..255) and the same held-out images every time."""
    import hashlib

    ds = load_dataset("digits")
    assert hashlib.sha256(ds.images.numpy().tobytes()).hexdigest() == (
        "bb72a09dcb2ae2a1b0982e3afd2dbfdacb70a8f0ecbc4e358dde826df0556987")
    assert ds.test_idx[:8].tolist() == [5, 9, 12, 14, 16, 17, 19, 23]
    assert hashlib.sha256(ds.is_train.numpy().tobytes()).hexdigest()[:16] == "b9451a6a378a6615"


def test_digits_are_scikit_learns_read_without_importing_it(monkeypatch):
    """The bundled file, read directly, gives what scikit-learn's loader gives; and where
    that file is not where it is looked for, scikit-learn's loader is asked."""
    import importlib.util
    import subprocess
    import sys

    import numpy as np
    from sklearn.datasets import load_digits as sk_digits

    from ssrl_core.data import digits

    want = sk_digits()
    for _ in range(2):
        images, target = digits.bundled_digits()
        assert np.array_equal(images, want.images) and np.array_equal(target, want.target)
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # then: no file found
    code = "import sys; from ssrl_core.data.digits import load_digits; load_digits(); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"


def test_shapes_factors_and_determinism():
    a = generate_shapes(n=300, seed=3)
    b = generate_shapes(n=300, seed=3)
    c = generate_shapes(n=300, seed=4)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert a.images.shape == (300, 3, 32, 32)
    assert len(SHAPES) >= 5 and len(COLORS) >= 6
    for f in ("shape", "color", "size", "rotation", "position_x", "size_bin", "rotation_bin", "position_bin"):
        assert f in a.factors and a.factors[f].shape == (300,)
    assert torch.equal(a.labels, a.factors["shape"])
    assert tuple(a.discrete_factors()) == DISCRETE_FACTORS == tuple(a.factor_names)  # what a lesson may name
    # bins agree with the continuous values they summarise
    assert torch.equal(a.factors["rotation_bin"], (a.factors["rotation"] // 90).long() % 4)
    # the colour factor is the colour drawn: the brightest pixel's dominant channel for red shapes is red
    red = a.images[a.factors["color"] == COLORS.index("red")].float()
    assert (red[:, 0].amax((1, 2)) > red[:, 2].amax((1, 2)) + 100).all()


def test_shapes_pixels_are_those_of_their_cache_version():
    """A cached set is trusted by its VERSION: the same version must draw the same pixels on
    every machine, or runs on shapes stop being comparable. The digest is of the images
    drawn by version 1's first generator; a change of the drawing bumps VERSION instead."""
    import hashlib

    from ssrl_core.data.shapes import VERSION

    images = generate_shapes(n=300, seed=3).images.numpy()
    assert VERSION == 1
    assert hashlib.sha256(images.tobytes()).hexdigest() == "d9b787d9a78f138f3859ce5f96996900432f4bf2d76bbc011a3143c81bc4814d"


def test_shapes_cache_is_reused(tmp_path):
    first = load_shapes(tmp_path, n=200, seed=0)
    files = list(tmp_path.glob("*.pt"))
    assert len(files) == 1
    again = load_shapes(tmp_path, n=200, seed=0)
    assert torch.equal(first.images, again.images) and again.factor_names == first.factor_names
    files[0].write_bytes(b"damaged")  # a damaged cache is regenerated, not trusted
    assert torch.equal(load_shapes(tmp_path, n=200, seed=0).images, first.images)


def test_shapes_bins_are_those_of_the_shape_drawn_and_the_last_fifth_is_test():
    """size_bin, position_bin and the split are what a probe and the accuracies read: each bin must be the
    one its continuous value falls in (radius 6-8 small, 8-10 medium, 10-12 large; the centre's third of the
    32 px image, row by row from the top left), and the drawn shape must sit there."""
    a = generate_shapes(n=300, seed=3)
    f = {k: v.numpy() for k, v in a.factors.items()}
    assert ((f["size_bin"] == 0) == (f["size"] < 8)).all() and ((f["size_bin"] == 2) == (f["size"] >= 10)).all()
    row, col = (f["position_y"] // (32 / 3)).astype(int), (f["position_x"] // (32 / 3)).astype(int)
    assert (f["position_bin"] == row * 3 + col).all()
    assert a.factor_names["position_bin"][0] == "top-left" and a.factor_names["position_bin"][5] == "middle-right"
    drawn = (a.images.float() - torch.tensor([24.0, 24.0, 28.0]).view(1, 3, 1, 1)).abs().sum(1) > 60  # [N, H, W]
    area = drawn.float().sum((1, 2)).numpy()
    ys, xs = torch.arange(32.0).view(1, 32, 1) + 0.5, torch.arange(32.0).view(1, 1, 32) + 0.5
    cy = ((drawn * ys).sum((1, 2)) / drawn.sum((1, 2))).numpy()
    cx = ((drawn * xs).sum((1, 2)) / drawn.sum((1, 2))).numpy()
    assert (abs(cx - f["position_x"]) < 3).mean() > 0.9 and (abs(cy - f["position_y"]) < 3).mean() > 0.9
    assert [area[f["size_bin"] == b].mean() for b in range(3)] == sorted(area[f["size_bin"] == b].mean() for b in range(3))
    assert a.is_train[:240].all() and not a.is_train[240:].any()
