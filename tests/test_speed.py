"""The device/precision policy, the step benchmark and its reference pipeline.

Timings are never asserted: the benchmark must measure the three steps it names, with the
same model, and say on what device and in what dtype."""
import contextlib
import json

import pytest
import torch

from ssrl_core import device as dev
from ssrl_core.augment import OPS, parse_augment
from ssrl_core.config import RunConfig
from ssrl_core.speed import reference_transform, step_profile, step_throughput
from ssrl_core.train import make_views, train_step

from .test_cli import cli


def test_a_gpu_trains_with_fused_adamw_and_cudnns_fastest_kernels_and_a_cpu_as_before(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert dev.optimizer_options(cpu) == {} and dev.optimizer_options(cuda) == {"fused": True}
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    dev.tune_for_training(cpu)
    assert torch.backends.cudnn.benchmark is False
    dev.tune_for_training(cuda)
    assert torch.backends.cudnn.benchmark is True


def test_precision_policy_is_decided_in_one_place():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert dev.precision_for(cpu, "float32").dtype is None
    # an explicit bf16 on any CPU (emulated where not native): for accuracy checks
    assert dev.precision_for(cpu, "bfloat16") == dev.Precision(torch.bfloat16, False)
    auto = dev.precision_for(cpu)
    assert auto.dtype == (torch.bfloat16 if dev.cpu_has_native_bf16() else None)
    assert dev.precision_for(cuda, "float16") == dev.Precision(torch.float16, True)  # float16 needs loss scaling
    assert dev.precision_for(cuda, "bfloat16") == dev.Precision(torch.bfloat16, False)
    with pytest.raises(ValueError, match="float16 training needs a CUDA GPU"):
        dev.precision_for(cpu, "float16")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        dev.precision_for(cpu, "fp8")
    with pytest.raises(ValueError, match="unknown precision 'half': choose one of auto, float32"):
        RunConfig(precision="half")


def test_bfloat16_autocast_step_trains_on_cpu():
    """The mixed-precision path (autocast + the same step function) runs and lowers the loss."""
    from ssrl_core.data import load_dataset
    from ssrl_core.train import build

    cfg = RunConfig(dataset="digits", method="simclr", encoder="cnn-small", precision="bfloat16").resolved("cpu")
    ds = load_dataset("digits")
    cpu = torch.device("cpu")
    method = build(cfg, cpu, ds)
    method.train()
    opt = torch.optim.AdamW(method.parameters(), lr=2e-3)
    images = ds.images[:64]
    g = dev.generator_for(cpu, 0)
    idx = torch.arange(64)
    views = make_views(images, idx, parse_augment("crop"), g, 2)
    assert all(v.is_contiguous(memory_format=dev.MEMORY_FORMAT) for v in views)
    losses = [float(train_step(method, opt, None, views, ds.labels[idx], idx, cpu,
                               dev.precision_for(cpu, "bfloat16"))[0].detach()) for _ in range(6)]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]


def test_every_op_has_a_torchvision_counterpart_of_the_same_kind():
    from PIL import Image

    spec = ",".join(OPS)
    tf = reference_transform(spec, 32)
    for mode, channels in (("RGB", 3), ("L", 1)):
        out = tf(Image.new(mode, (32, 32), 128))
        assert out.shape == (channels, 32, 32) and out.dtype == torch.float32
        assert 0 <= float(out.min()) and float(out.max()) <= 1
    # strengths carry over
    crop = reference_transform("crop(min_scale=0.4)", 32).transforms[0]
    assert crop.scale == (0.4, 1.0) and crop.size == (32, 32)


def test_step_throughput_measures_the_three_steps():
    cfg = RunConfig(dataset="digits", method="simclr", encoder="cnn-small", batch_size=16)
    out = step_throughput(cfg, steps=2, warmup=1, workers=[0, 1])
    assert out["device"] == "cpu" and out["dtype"] in ("float32", "bfloat16") and out["views"] == 2
    for key in ("images_per_s", "bare_images_per_s", "reference_images_per_s", "reference_channels_last_images_per_s"):
        assert out[key] > 0, key
    assert set(out["reference_by_workers"]) == {"0", "1"}
    assert out["reference_images_per_s"] == max(out["reference_by_workers"].values())
    assert out["speedup_vs_reference"] == pytest.approx(out["images_per_s"] / out["reference_images_per_s"], rel=0.01)


def test_step_profile_splits_the_time_into_phases_and_operator_kinds():
    cfg = RunConfig(dataset="digits", method="rotation", encoder="cnn-small", batch_size=8)
    prof = step_profile(cfg, steps=1, warmup=1)
    assert set(prof["phase_share"]) == {"augment", "forward", "backward", "optimizer"}
    assert sum(prof["phase_share"].values()) == pytest.approx(1, abs=0.01)
    assert prof["phase_share"]["forward"] > 0 and prof["phase_share"]["backward"] > 0
    assert {"convolution", "normalisation", "matrix products", "optimizer"} <= set(prof["operator_share"])
    assert sum(prof["operator_share"].values()) == pytest.approx(1, abs=0.01)


def test_bench_cli_prints_one_json_line_and_refuses_bad_flags(capsys):
    from ssrl_core.cli import main

    res = cli("bench", "--batch-size", "8", "--steps", "1", "--warmup", "0", "--no-reference")
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["images_per_s"] > 0 and "reference_images_per_s" not in out
    # the refusals in this process: a process each would spend seconds importing torch
    assert main(["bench", "--workers", "two"]) == 2 and "--workers takes whole numbers" in capsys.readouterr().err
    assert main(["bench", "--method", "simclrr", "--steps", "1"]) == 2
    assert "unknown method 'simclrr'" in capsys.readouterr().err


# what makes a GPU wait inside the step: reading a value back (.item(), a bool of a tensor), a result whose
# size depends on the data (nonzero, masked_select, unique, bincount's largest index), an inverse (it checks
# for singular matrices); and any copy of a host tensor to the device (a synchronous copy on CUDA)
_SYNCING = {"_local_scalar_dense", "is_nonzero", "equal", "nonzero", "masked_select", "bincount", "_unique2",
            "unique_dim", "unique_consecutive", "linalg_inv_ex", "linalg_solve_ex", "linalg_cholesky_ex"}


def _host_waits(step) -> list[str]:
    """What ``step`` (run on the meta device) does that would make a GPU wait, with where."""
    import traceback

    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    def where():
        frames = [f for f in traceback.extract_stack() if "/ssrl_core/" in f.filename][-2:]
        return " <- ".join(f"{f.filename.split('/ssrl_core/')[1]}:{f.lineno}" for f in reversed(frames))

    class Scan(TorchDispatchMode):
        hits: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            ins = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
            on_device = any(t.device.type == "meta" for t in ins + [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)])
            if on_device and func.overloadpacket.__name__ in _SYNCING:
                self.hits.append(f"{func.overloadpacket.__name__} at {where()}")
            elif on_device and any(t.device.type == "cpu" and t.dim() > 0 for t in ins):
                self.hits.append(f"a copy from the host ({func.overloadpacket.__name__}) at {where()}")
            return out

    with Scan() as scan:
        step()
    return sorted(set(scan.hits))


def test_no_method_step_would_make_a_gpu_wait(monkeypatch):
    """The same check as the CUDA test below, on every host: each trainable method's views and step
    run on PyTorch's meta device (shapes without data), with a dispatch mode that notes every operator
    that would make a GPU wait, and every copy of a host tensor to the device. Before, each step copied
    the luma weights and YIQ matrix to the device and inverted it there, SimCLR its targets, colorization
    its colour matrices, and SwAV counted prototypes with bincount: about 11 waits a step."""
    from ssrl_core.data import load_dataset
    from ssrl_core.pretext import METHODS
    from ssrl_core.train import build

    real_autocast = torch.autocast  # float32 losses turn autocast off, which the meta device has none of
    monkeypatch.setattr(torch, "autocast", lambda device_type, **kw: (
        contextlib.nullcontext() if device_type == "meta" else real_autocast(device_type, **kw)))
    meta, cpu = torch.device("meta"), torch.device("cpu")
    ds = load_dataset("shapes")
    images, labels = ds.images[:64].to(meta), ds.labels[:64].to(meta)
    waits = {}
    for name, cls in METHODS.items():
        if not cls.trainable:
            continue
        # the CPU's encoders (cnn-small; vit-tiny for MAE): the waits are in the methods, not in torch's layers,
        # and resnet18's steps take seconds here, even on the meta device
        cfg = RunConfig(dataset="shapes", method=name, augment="simclr").resolved("cpu")
        if name == "deepcluster":  # its epoch start clusters features (a k-means on the host, by design)
            method = build(cfg, cpu, ds)
            method.on_epoch_start(0, ds.images[:64])
            method.to(meta)
        else:
            method = build(cfg, meta, ds)
            method.on_epoch_start(0, images)
        method.train()
        opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-3)
        aug, idx = parse_augment(cfg.augment), torch.arange(32, device=meta)

        def step():
            train_step(method, opt, None, make_views(images, idx, aug, None, method.n_views), labels[idx], idx,
                       meta, dev.Precision(None, False))

        try:
            step()  # the first step makes the optimizer's state
            found = _host_waits(step)
        except NotImplementedError as e:  # an operator the meta device lacks: most wait for data (bincount)
            found = [str(e).split(":")[1].strip()]
        if found:
            waits[name] = found
    assert waits == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: checks the step never waits for the device")
def test_no_method_step_synchronises_with_the_gpu():
    """On a GPU the loop must queue work without waiting for it: any host-device sync inside
    ``make_views`` + ``train_step`` (an .item(), a boolean mask, a data-dependent shape)
    raises under CUDA's sync debug mode. Float16's gradient scaler syncs by design, so the
    step runs in bfloat16 (or float32 where the GPU lacks bf16)."""
    from ssrl_core.data import load_dataset
    from ssrl_core.pretext import METHODS
    from ssrl_core.train import build

    cuda = torch.device("cuda")
    ds = load_dataset("shapes")
    images, labels = ds.images[:64].to(cuda), ds.labels[:64].to(cuda)
    # (native bf16 only, as precision_for: a Turing card emulates it, and trains in float16 with a scaler)
    precision = (dev.Precision(torch.bfloat16, False) if torch.cuda.is_bf16_supported(including_emulation=False)
                 else dev.Precision(None, False))
    for name, cls in METHODS.items():
        if not cls.trainable:
            continue
        cfg = RunConfig(dataset="shapes", method=name, augment="simclr").resolved("cuda")
        method = build(cfg, cuda, ds)
        method.on_epoch_start(0, images)
        method.train()
        opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-3)
        g = dev.generator_for(cuda, 0)
        aug = parse_augment(cfg.augment)
        idx = torch.randperm(64, device=cuda, generator=g)[:32]
        train_step(method, opt, None, make_views(images, idx, aug, g, method.n_views), labels[idx], idx, cuda, precision)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(2):
                idx = torch.randperm(64, device=cuda, generator=g)[:32]
                train_step(method, opt, None, make_views(images, idx, aug, g, method.n_views), labels[idx], idx,
                           cuda, precision)
        except RuntimeError as e:
            pytest.fail(f"{name}: the step synchronised with the GPU: {e}")
        finally:
            torch.cuda.set_sync_debug_mode(0)


class _FakeStep:
    """The step the benchmark times, each call taking one second of a clock of its own: what
    is counted is then known exactly, whatever the machine."""

    def __init__(self):
        self.now, self.calls = 0.0, 0

    def clock(self) -> float:
        return self.now

    def __call__(self, *args, **kwargs):
        self.now += 1.0
        self.calls += 1
        return (torch.tensor(0.5),)


def test_images_per_second_count_the_timed_steps_of_the_batch_not_the_warm_up(monkeypatch):
    import types

    from ssrl_core import speed

    step = _FakeStep()
    monkeypatch.setattr(speed, "train_step", step)
    monkeypatch.setattr(speed, "time", types.SimpleNamespace(perf_counter=step.clock))
    # no augmentation: the reference pipeline's PIL images cost nothing to speak of
    cfg = RunConfig(dataset="digits", method="simclr", encoder="cnn-small", augment="none", batch_size=8)
    out = step_throughput(cfg, steps=5, warmup=3, workers=[0])  # 5 steps: rounds of 2, 1, 1 and 1
    # one second a step of 8 images, warm-up steps untimed: 8 images a second, each way
    assert out["images_per_s"] == out["bare_images_per_s"] == 8.0 and out["augmentation_overhead"] == 0
    assert out["reference_images_per_s"] == out["reference_channels_last_images_per_s"] == 8.0
    assert out["reference_by_workers"] == {"0": 8.0} and out["speedup_vs_reference"] == 1.0
    assert step.calls == 4 * (3 + 5)  # fast, bare and the reference's two layouts: each warmed up, then timed


def test_the_reference_recipe_trains_every_epochs_batches(monkeypatch):
    from ssrl_core import speed
    from ssrl_core.data import load_dataset

    step = _FakeStep()
    monkeypatch.setattr(speed, "train_step", step)
    cfg = RunConfig(dataset="digits", method="rotation", encoder="cnn-small", augment="none", batch_size=512, epochs=2)
    out = speed.reference_training_seconds(cfg, workers=0)
    n = len(load_dataset("digits").train_idx)
    assert out["reference_steps"] == step.calls == 2 * (n // 512) and out["reference_workers"] == 0


def test_the_reference_transform_takes_each_ops_strengths():
    from torchvision import transforms as T

    tf = reference_transform("flip(p=0.2),color_jitter(brightness=0.1,contrast=0.3,saturation=0.2,hue=0.05,p=0.6),"
                             "grayscale(p=0.3),blur(min_sigma=0.2,max_sigma=1.5,p=0.7),solarize(threshold=0.5,p=0.3),"
                             "erase(min_area=0.05,max_area=0.3,p=0.4)", 32)
    flip, jitter, gray, blur, solarize, _, erase = tf.transforms
    assert isinstance(flip, T.RandomHorizontalFlip) and flip.p == 0.2
    [cj] = jitter.transforms
    assert jitter.p == 0.6 and (cj.brightness, cj.contrast, cj.saturation, cj.hue) == (
        pytest.approx((0.9, 1.1)), pytest.approx((0.7, 1.3)), pytest.approx((0.8, 1.2)), pytest.approx((-0.05, 0.05)))
    assert isinstance(gray, T.RandomGrayscale) and gray.p == 0.3
    [gb] = blur.transforms
    assert blur.p == 0.7 and gb.sigma == (0.2, 1.5) and gb.kernel_size == (7, 7)  # ours: a radius of 2 sigma
    assert solarize.threshold == 128 and solarize.p == 0.3  # ours inverts from 0.5 of [0, 1] up: 128 of 255
    assert isinstance(erase, T.RandomErasing) and (erase.p, erase.scale, erase.value) == (0.4, (0.05, 0.3), 0.5)
