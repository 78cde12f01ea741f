"""The code on machines other than this one: CUDA paths exercised on the CPU by simulating
what torch and faiss report, start methods other than fork, and SSRL_HOME paths with
spaces, non-ASCII characters or no write permission."""
import pytest
import torch

from ssrl_core import device as dev


def test_auto_precision_on_a_gpu_that_only_emulates_bfloat16_is_float16_with_a_scaler(monkeypatch):
    """A Volta or Turing GPU (V100, T4): torch's ``is_bf16_supported()`` says True there
    because bf16 can be emulated, but emulated bf16 is far slower than float16; the README
    promises float16 with loss scaling on older GPUs."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert dev.precision_for(torch.device("cuda")) == dev.Precision(torch.float16, True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # Ampere and later
    assert dev.precision_for(torch.device("cuda")) == dev.Precision(torch.bfloat16, False)
