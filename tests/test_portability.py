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


def test_fine_tuning_in_float16_scales_its_loss(monkeypatch):
    """Where ``auto`` is float16 (a GPU without native bf16), fine-tuning and supervised
    training from scratch must scale the loss as pretraining does: without a gradient scaler
    float16 gradients below 6e-8 become zero. Simulated on the CPU, whose autocast runs float16."""
    import numpy as np

    from ssrl_core.data import load_dataset
    from ssrl_core.evaluate import finetune
    from ssrl_core.models import build_encoder

    scaled = []

    class Recording(torch.amp.GradScaler):
        def scale(self, outputs):
            scaled.append(float(self.get_scale()))
            return super().scale(outputs)

    monkeypatch.setattr(torch.amp, "GradScaler", Recording)
    monkeypatch.setattr(finetune, "precision_for", lambda device, preference="auto": dev.Precision(torch.float16, True))
    ds = load_dataset("digits")
    rows, test_rows = np.arange(40), np.arange(40, 80)
    acc = finetune.train_classifier(build_encoder("cnn-small", 1), ds.images, ds.labels.numpy(), rows, test_rows, 10,
                                    "crop", torch.device("cpu"), pretrained=False, steps=3, batch=16)
    assert 0.0 <= acc <= 1.0
    assert len(scaled) == 3 and scaled[0] > 1.0  # every step's loss multiplied before its backward pass
