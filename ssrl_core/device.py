"""The one place that decides device and precision.

Everything that depends on the hardware (device, autocast dtype, gradient scaler, faiss
GPU use) is decided here, once, so the rest of the code is the same on CPU and CUDA.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import PRECISIONS


def pick_device(preference: str = "auto") -> torch.device:
    """The device a run trains on; ValueError (a setting this host cannot honour, like an
    unsupported precision) for ``cuda`` without a visible CUDA GPU."""
    if preference == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but no CUDA GPU is visible: use --device auto or cpu")
        return torch.device("cuda")
    if preference == "cpu":
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class Precision:
    """Mixed-precision policy for a device: autocast dtype (None: float32) and whether a
    gradient scaler is needed (float16 only)."""

    dtype: torch.dtype | None
    scaler: bool

    @property
    def name(self) -> str:
        return {None: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[self.dtype]


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this processor computes bfloat16 natively (AVX512-BF16 or AMX), where oneDNN's
    bf16 kernels beat float32. Read once from PyTorch's CPU capability and /proc/cpuinfo."""
    cap = torch.backends.cpu.get_cpu_capability()
    if "AVX512" not in cap:
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision_for(device: torch.device, preference: str = "auto") -> Precision:
    """The precision a run trains in. ``auto``: bfloat16 on a GPU that computes it natively
    (compute capability 8.0 and later, or ROCm), float16 with a gradient scaler on older GPUs, bfloat16 on a CPU with native bf16, float32
    elsewhere (emulated bf16 is slower than float32). An explicit choice is honoured where the
    hardware can run it (bf16 on any CPU, emulated, for accuracy checks)."""
    if preference not in PRECISIONS:
        raise ValueError(f"unknown precision {preference!r}: choose one of {', '.join(PRECISIONS)}")
    if preference == "float32":
        return Precision(None, False)
    if device.type == "cuda":
        # native bf16 only (Ampere and later): torch's default also counts a GPU that merely
        # emulates it (Volta, Turing), where bf16 is far slower than float16 with a scaler
        if preference == "float16" or (preference == "auto" and not torch.cuda.is_bf16_supported(including_emulation=False)):
            return Precision(torch.float16, True)
        return Precision(torch.bfloat16, False)
    if preference == "float16":
        raise ValueError("float16 training needs a CUDA GPU: on a CPU use --precision bfloat16 or float32")
    if preference == "bfloat16" or cpu_has_native_bf16():
        return Precision(torch.bfloat16, False)
    return Precision(None, False)


def grad_scaler(device: torch.device, precision: Precision):
    """The gradient scaler a training loop in ``precision`` needs (float16: without one, small
    gradients underflow to zero), or None. Use it as ``train.train_step`` does: backward on
    ``scaler.scale(loss)``, then ``scaler.step(optimizer)`` and ``scaler.update()``."""
    return torch.amp.GradScaler(device.type) if precision.scaler else None


def autocast(device: torch.device, precision: Precision):
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=precision.dtype)


# Channels-last makes the convolutions of small CNNs markedly faster on CPU (oneDNN) and
# on tensor-core GPUs; measured 1.5x for the cnn-small SimCLR step on a 2-core CPU.
MEMORY_FORMAT = torch.channels_last


def to_device_batch(x: torch.Tensor) -> torch.Tensor:
    """A 4-D image batch in the memory layout the models are kept in."""
    return x.contiguous(memory_format=MEMORY_FORMAT)


_CONSTANTS: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def constant(t: torch.Tensor, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A module-level constant ``t`` (a colour matrix, a white point) on ``device`` in ``dtype``,
    copied there once per process. On a GPU every copy from the host waits for the work queued
    before it: a step that copied its constants each time could never queue ahead (see
    ``tests/test_speed.py``'s step scans). Only for tensors that live as long as the process:
    the cache holds them."""
    key = (id(t), torch.device(device), dtype or t.dtype)
    hit = _CONSTANTS.get(key)
    if hit is None or hit[0] is not t:
        hit = _CONSTANTS[key] = (t, t.to(device=device, dtype=dtype or t.dtype))
    return hit[1]


def optimizer_options(device: torch.device) -> dict:
    """AdamW's implementation for the device: fused on a GPU (one kernel for every parameter
    and moment, where the default launches several a tensor), PyTorch's default elsewhere."""
    return {"fused": True} if device.type == "cuda" else {}


def tune_for_training(device: torch.device) -> None:
    """On a GPU, let cuDNN time its convolution algorithms once and keep the fastest: a run's
    shapes never change from step to step. (It may pick a different algorithm on another run,
    which changes the last digits: see the README on reproducibility.)"""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def release_cached_memory() -> None:
    """Give the GPU memory PyTorch holds cached but unused back to the device, for the other
    processes on it (workers, probe jobs, faiss's own allocations): after a run, and before a
    smaller retry after running out. Nothing to do without CUDA."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        import gc

        gc.collect()
        torch.cuda.empty_cache()


def generator_for(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def global_rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """PyTorch's global random state that a run draws from besides its own generator (the
    masks, tiles and crops a method draws in its step: MAE, jigsaw, inpainting), for its
    checkpoint: the CPU's, and the GPU's when it trains on one."""
    state = {"torch_rng": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def set_global_rng_state(device: torch.device, extra: dict[str, torch.Tensor]) -> None:
    """Put back what ``global_rng_state`` saved, where the checkpoint holds it (one written
    before 2026-12-03 does not, and one written on a CPU has no GPU state to give a GPU)."""
    if "torch_rng" in extra:
        torch.set_rng_state(extra["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in extra:
        torch.cuda.set_rng_state(extra["cuda_rng"], device)


_SERVING_PAGES = False


def serve_pages_on_cpu() -> None:
    """Mark this process as the app's web server: faiss keeps its indexes and k-means on the
    CPU here (``faiss_use_gpu``), as the app keeps a run's encoder (it loads runs with
    ``device="cpu"``). What the server computes, one uploaded image's features, a neighbour
    query, Learn's k-means of 600 points, takes milliseconds on a CPU, while a CUDA context
    and faiss's scratch memory would sit on the workers' GPU for as long as the server lives
    (and, in exclusive-process compute mode, lock the workers out of it). Device and
    precision checks of submitted runs (``pick_device``, ``precision_for``) still see the GPU."""
    global _SERVING_PAGES
    _SERVING_PAGES = True


_FAISS_GPU: bool | None = None  # faiss_use_gpu's answer, found once per process


def faiss_use_gpu() -> bool:
    """Whether faiss's indexes and k-means go on the GPU: faiss sees one, a tiny index
    works there (found once per process, ``_faiss_gpu_works``), and this process is not the
    app's server (``serve_pages_on_cpu``)."""
    global _FAISS_GPU
    if _SERVING_PAGES:
        return False
    if _FAISS_GPU is None:
        _FAISS_GPU = _faiss_gpu_works()
    return _FAISS_GPU


def _faiss_gpu_works() -> bool:
    """faiss sees a GPU and an index placed there adds and searches correctly. A GPU faiss
    sees but cannot use (a card older than the kernels its wheel was built for, a CUDA
    runtime the driver is too old for, no free memory beside training) raises at the first
    search, not when the index is placed, so that is tried here on four vectors; where it
    fails, faiss stays on the CPU for this process (exact search either way, the same
    results) with a warning, instead of every evaluation failing."""
    try:
        import faiss

        if not (hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0):
            return False
    except Exception:
        return False
    try:
        import numpy as np

        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, faiss.IndexFlatIP(4))
        x = np.eye(4, dtype=np.float32)
        index.add(x)
        _, nearest = index.search(x, 1)
        if (np.asarray(nearest)[:, 0] == np.arange(4)).all():
            return True
        problem = f"a test search returned {np.asarray(nearest)[:, 0].tolist()} instead of [0, 1, 2, 3]"
    except Exception as e:  # faiss raises RuntimeError or its own; any failure means the same
        problem = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else e!r}"
    import warnings

    warnings.warn(f"faiss sees a GPU but cannot use it ({problem}): its indexes and k-means run on the CPU in this "
                  "process, with the same results, more slowly", RuntimeWarning, stacklevel=3)
    return False


def cpu_model() -> str | None:
    """The CPU's model name on Linux ("AMD EPYC 9654 96-Core Processor"), None elsewhere:
    ``platform.processor()`` is empty on Linux, and a run card said "x86_64", where whether
    the CPU has native bfloat16 decides both the speed and the numbers."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        return None
    return None


def hardware() -> dict:
    """This machine, for run records: OS, CPU, core count, torch threads and the CUDA
    device torch sees (None without one)."""
    import os
    import platform

    out = {"platform": platform.platform(), "machine": platform.machine(),
           "cpu": cpu_model() or platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "cuda": None}
    if torch.cuda.is_available():
        out["cuda"] = {"device": torch.cuda.get_device_name(0), "count": torch.cuda.device_count(),
                       "version": torch.version.cuda}
    return out
