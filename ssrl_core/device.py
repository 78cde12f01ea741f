"""The one place that decides device and precision.

Everything that depends on the hardware (device, autocast dtype, gradient scaler, faiss
GPU use) is decided here, once, so the rest of the code is the same on CPU and CUDA.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


def pick_device(preference: str = "auto") -> torch.device:
    if preference == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but no CUDA GPU is visible: use --device auto or cpu")
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


def precision_for(device: torch.device) -> Precision:
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision(torch.bfloat16, False)
        return Precision(torch.float16, True)
    # On CPU, bfloat16 autocast only pays where the processor has native bf16 (AMX/AVX512-BF16);
    # elsewhere it is emulated and slower than float32.
    return Precision(None, False)


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


def generator_for(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def faiss_use_gpu() -> bool:
    try:
        import faiss

        return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    except Exception:
        return False
