"""How fast one pretraining step runs, three ways, and where its time goes.

``step_throughput`` measures, with the same method, encoder, loss, optimiser and batch:

- ``images_per_s``: the training loop's own step (``train.make_views`` + ``train.train_step``):
  uint8 rows of the dataset resident on the device, augmentation batched on the device with
  per-sample random parameters, channels-last, the device's precision policy;
- ``bare_images_per_s``: the same step on views made once beforehand (no augmentation, no
  loading): the ceiling set by the model's arithmetic;
- ``reference_images_per_s``: the common recipe it replaces: torchvision's per-image PIL
  transforms of the same kind (RandomResizedCrop, ColorJitter, ...) in a ``Dataset`` that
  makes a PIL image per item, batched by a ``DataLoader`` with the best of 0..the usable cores
  worker processes (each measured, all reported), the model in PyTorch's default NCHW
  layout; ``reference_channels_last_images_per_s`` is the same recipe with our channels-last
  layout, which separates what the layout buys from what the data pipeline buys.

``step_profile`` splits the fast step's time into phases (augmentation, forward with the
loss, backward, optimiser) and the operators into kinds (convolution, normalisation, matrix
products, element-wise and the rest) with ``torch.profiler``.

CLI: ``python -m ssrl_core bench --method simclr --dataset digits --encoder cnn-small
--batch-size 256 --steps 20 [--profile]`` prints one JSON line.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from .augment import parse_augment
from .augment.ops import Blur, ColorJitter, Crop, Erase, Flip, Grayscale, Noise, Rotate, Solarize
from .config import RunConfig
from .device import MEMORY_FORMAT
from .runs.worker import usable_cores
from .train import Loop, make_views, train_step


def _setup(cfg: RunConfig) -> Loop:
    """The training loop's own setup, with the method ready for its first step."""
    s = Loop.for_config(cfg)
    s.method.on_epoch_start(0, s.images)  # DeepCluster's pseudo-labels, as in the loop
    s.method.train()
    return s


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


ROUNDS = 4  # the fast and bare steps are timed in alternating rounds


def _timed(step, steps: int, warmup: int, device: torch.device, batch: int) -> float:
    """Images per second over ``steps`` calls of ``step(i)`` after ``warmup`` untimed ones
    (``steps=0``: only the warm-up)."""
    for i in range(warmup):
        step(i)
    _sync(device)
    if steps == 0:
        return 0.0
    t0 = time.perf_counter()
    for i in range(steps):
        loss = step(warmup + i)
    float(loss.detach())  # the last step's result exists: everything queued has run
    _sync(device)
    return steps * batch / (time.perf_counter() - t0)


def _fast_step(s: Loop):
    n = s.images.shape[0]

    def step(i: int):
        idx = torch.randint(n, (s.batch,), device=s.device, generator=s.gen)
        views = make_views(s.images, idx, s.augment, s.gen, s.method.n_views)
        return train_step(s.method, s.optimizer, s.scaler, views, s.labels[idx], idx, s.device, s.precision)[0]

    return step


def _bare_step(s: Loop):
    idx = torch.randint(s.images.shape[0], (s.batch,), device=s.device, generator=s.gen)
    views = make_views(s.images, idx, s.augment, s.gen, s.method.n_views)
    y = s.labels[idx]

    def step(i: int):
        return train_step(s.method, s.optimizer, s.scaler, views, y, idx, s.device, s.precision)[0]

    return step


# --- the reference pipeline: torchvision per-image PIL transforms in a DataLoader ---------

class _AddNoise:
    """Per-image Gaussian noise of random strength (our ``noise`` op), on a tensor."""

    def __init__(self, sigma: float, p: float):
        self.sigma, self.p = sigma, p

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        if torch.rand(()) >= self.p:
            return t
        return (t + torch.randn_like(t) * float(torch.rand(())) * self.sigma).clamp(0, 1)


def reference_transform(spec: str, size: int):
    """The torchvision (v1, PIL) counterpart of an augmentation spec: the same ops with the
    same strengths, applied one image at a time."""
    from torchvision import transforms as T

    pil, tensor = [], []
    for op in parse_augment(spec).ops:
        if isinstance(op, Crop):
            pil.append(T.RandomResizedCrop(size, scale=(op.min_scale, op.max_scale),
                                           ratio=(op.min_ratio, op.max_ratio), antialias=True))
        elif isinstance(op, Flip):
            pil.append(T.RandomHorizontalFlip(op.p))
        elif isinstance(op, ColorJitter):
            pil.append(T.RandomApply([T.ColorJitter(op.brightness, op.contrast, op.saturation, op.hue)], p=op.p))
        elif isinstance(op, Grayscale):
            pil.append(T.RandomGrayscale(op.p))
        elif isinstance(op, Blur):
            k = 2 * max(1, math.ceil(2 * op.max_sigma)) + 1
            pil.append(T.RandomApply([T.GaussianBlur(k, sigma=(op.min_sigma, op.max_sigma))], p=op.p))
        elif isinstance(op, Rotate):
            pil.append(T.RandomApply([T.RandomRotation(op.degrees)], p=op.p))  # (corners black: ours repeat the edge)
        elif isinstance(op, Solarize):
            # PIL inverts from its threshold up; ours inverts x >= threshold on [0, 1], from 128 at 0.5 (127 inverted one
            # grey level more)
            pil.append(T.RandomSolarize(math.ceil(op.threshold * 255), p=op.p))
        elif isinstance(op, Erase):
            tensor.append(T.RandomErasing(op.p, scale=(op.min_area, op.max_area), value=0.5))
        elif isinstance(op, Noise):
            tensor.append(_AddNoise(op.sigma, op.p))
        else:  # a new op must say how the reference does it
            raise ValueError(f"the reference pipeline has no torchvision counterpart for {op.name!r}")
    return T.Compose([*pil, T.ToTensor(), *tensor])


class _PILViews(torch.utils.data.Dataset):
    """Like torchvision's datasets: uint8 arrays in memory, a PIL image made per item, then
    ``n_views`` independently transformed views, the label and the row index."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform, n_views: int):
        self.images, self.labels, self.transform, self.n_views = images, labels, transform, n_views

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        a = self.images[i]
        img = Image.fromarray(a[..., 0], mode="L") if a.shape[-1] == 1 else Image.fromarray(a, mode="RGB")
        return (*[self.transform(img) for _ in range(self.n_views)], int(self.labels[i]), i)


def _reference_data(s: Loop) -> _PILViews:
    images = s.images.cpu().permute(0, 2, 3, 1).contiguous().numpy()
    return _PILViews(images, s.labels.cpu().numpy(), reference_transform(s.cfg.augment, images.shape[1]),
                     s.method.n_views)


def _reference_step(s: Loop, data: _PILViews, workers: int, memory_format: torch.memory_format):
    loader = torch.utils.data.DataLoader(data, batch_size=s.batch, shuffle=True, drop_last=True,
                                         num_workers=workers, persistent_workers=workers > 0,
                                         pin_memory=s.device.type == "cuda")
    it = iter(loader)

    def step(i: int):
        nonlocal it
        try:
            batch = next(it)
        except StopIteration:  # a new epoch, as in a real training loop
            it = iter(loader)
            batch = next(it)
        *views, y, idx = batch
        views = [v.to(s.device, non_blocking=True).contiguous(memory_format=memory_format) for v in views]
        return train_step(s.method, s.optimizer, s.scaler, views, y.to(s.device), idx.to(s.device),
                          s.device, s.precision)[0]

    return step, loader


def _reference_rates(s: Loop, memory_format: torch.memory_format, steps: int, warmup: int,
                     workers: list[int] | None = None) -> dict[int, float]:
    """Images per second of the reference step for each DataLoader worker count (default 0
    up to the CPU count), the model switched to ``memory_format``."""
    s.method.to(memory_format=memory_format)
    data = _reference_data(s)
    rates = {}
    for w in workers if workers is not None else range(0, usable_cores() + 1):
        step, loader = _reference_step(s, data, w, memory_format)
        rates[w] = round(_timed(step, steps, warmup, s.device, s.batch), 1)
        del step, loader  # stops persistent workers before the next count is measured
    return rates


def step_throughput(cfg: RunConfig, steps: int = 20, warmup: int = 3, reference: bool = True,
                    workers: list[int] | None = None) -> dict:
    """Images per second of the fast step, the bare step and the reference pipeline (see the
    module docstring), measured one after the other in this process."""
    s = _setup(cfg)
    out = {
        "bench": "step", "method": s.cfg.method, "dataset": s.cfg.dataset, "encoder": s.cfg.encoder,
        "augment": s.cfg.augment, "batch_size": s.batch, "steps": steps, "views": s.method.n_views,
        "device": s.device.type, "dtype": s.precision.name, "memory_format": str(MEMORY_FORMAT).split(".")[-1],
        "threads": torch.get_num_threads(),
    }
    # alternated in rounds, so drift (clock boost, a neighbour process) hits both alike
    fast, bare = _fast_step(s), _bare_step(s)
    for step in (fast, bare):
        _timed(step, 0, warmup, s.device, s.batch)
    rounds = [steps // ROUNDS + (r < steps % ROUNDS) for r in range(ROUNDS)]
    seconds = {"fast": 0.0, "bare": 0.0}
    for n in filter(None, rounds):
        for key, step in (("fast", fast), ("bare", bare)):
            seconds[key] += n * s.batch / _timed(step, n, 0, s.device, s.batch)
    out["images_per_s"] = round(steps * s.batch / seconds["fast"], 1)
    out["bare_images_per_s"] = round(steps * s.batch / seconds["bare"], 1)
    out["augmentation_overhead"] = round(1 - out["images_per_s"] / out["bare_images_per_s"], 3)
    if reference:
        # the common recipe keeps PyTorch's default (NCHW) layout; measured again in
        # channels-last so the layout's share and the data pipeline's share can be told apart
        for key, fmt in (("reference", torch.contiguous_format), ("reference_channels_last", MEMORY_FORMAT)):
            rates = _reference_rates(s, fmt, steps, warmup, workers)
            best = max(rates, key=rates.get)
            out.update({f"{key}_images_per_s": rates[best], f"{key}_workers": best,
                        f"{key}_by_workers": {str(w): r for w, r in rates.items()}})
        s.method.to(memory_format=MEMORY_FORMAT)
        out["speedup_vs_reference"] = round(out["images_per_s"] / out["reference_images_per_s"], 2)
    return out


def reference_training_seconds(cfg: RunConfig, workers: int | None = None, probe_steps: int = 10) -> dict:
    """Wall time of the reference recipe (see ``step_throughput``) training ``cfg.epochs``
    epochs of the train split with the training loop's batch count (n // batch per epoch),
    nothing else: no evaluation. ``workers=None`` first picks the fastest DataLoader worker
    count over ``probe_steps`` steps each."""
    fmt = torch.contiguous_format
    if workers is None:
        rates = _reference_rates(_setup(cfg), fmt, probe_steps, 2)
        workers = max(rates, key=rates.get)
    s = _setup(cfg)  # fresh weights and optimiser: the same start as a real run
    s.method.to(memory_format=fmt)
    data = _reference_data(s)
    steps = (s.images.shape[0] // s.batch) * s.cfg.epochs
    t0 = time.perf_counter()
    step, loader = _reference_step(s, data, workers, fmt)
    for i in range(steps):
        loss = step(i)
    float(loss.detach())
    _sync(s.device)
    return {"reference_train_seconds": round(time.perf_counter() - t0, 2), "reference_workers": workers,
            "reference_steps": steps}


# --- where the time of one step goes ------------------------------------------------------

PHASES = ("augment", "forward", "backward", "optimizer")


def _kind(op: str) -> str:
    name = op.lower()
    if "conv" in name:
        return "convolution"
    if "batch_norm" in name or "layer_norm" in name or "native_norm" in name:
        return "normalisation"
    if any(k in name for k in ("addmm", "::mm", "matmul", "bmm", "linear")):
        return "matrix products"
    if "grid_sampler" in name or "affine_grid" in name:
        return "resampling (augmentation)"
    if "adam" in name or "_foreach" in name:
        return "optimizer"
    return "element-wise and other"


def step_profile(cfg: RunConfig, steps: int = 5, warmup: int = 3) -> dict:
    """Fractions of the fast step's time by phase (the host's time in each) and by operator
    kind (the operators' own time, so nested calls are not counted twice: on the CPU, or on
    the GPU for a run there, where their host time is only the kernels' launches)."""
    import os

    from torch.profiler import ProfilerActivity, profile

    if not torch.cuda.is_available():  # a CUDA build of PyTorch without a GPU: its profiler's library logged
        # "ERROR: ... gpuGetDeviceCount failed with code 35" as it started (it reads this when it starts: here)
        os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    s = _setup(cfg)
    step = _fast_step(s)
    for i in range(warmup):
        step(i)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if s.device.type == "cuda" else [])
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        for i in range(steps):
            loss = step(warmup + i)
        float(loss.detach())
    wall = time.perf_counter() - t0
    # the operators' own time on the device that runs them: on a GPU their host time is the kernels'
    # launches (and waits), not their work. A phase is a span of the host's time either way
    own = "self_device_time_total" if s.device.type == "cuda" else "self_cpu_time_total"
    phases = {p: 0.0 for p in PHASES}
    kinds: dict[str, float] = {}
    for e in prof.key_averages():
        if e.key in phases:
            phases[e.key] += e.cpu_time_total
        elif not e.key.startswith(("ProfilerStep", "train_step", "make_views")):
            kinds[_kind(e.key)] = kinds.get(_kind(e.key), 0.0) + getattr(e, own)
    total_ops = sum(kinds.values()) or 1.0
    total_phases = sum(phases.values()) or 1.0
    top = sorted(((e.key, getattr(e, own)) for e in prof.key_averages()
                  if e.key not in phases), key=lambda kv: -kv[1])[:8]
    return {
        "bench": "step_profile", "method": s.cfg.method, "dataset": s.cfg.dataset, "encoder": s.cfg.encoder,
        "batch_size": s.batch, "steps": steps, "device": s.device.type, "dtype": s.precision.name,
        "ms_per_step": round(wall / steps * 1000, 1),
        "phase_share": {k: round(v / total_phases, 3) for k, v in phases.items()},
        "operator_share": {k: round(v / total_ops, 3) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
        "top_operators_ms_per_step": {k: round(v / 1000 / steps, 2) for k, v in top},
    }
