"""Training a classifier end to end on a labelled subset: fine-tuning a pretrained encoder,
and the supervised-from-scratch reference (the same loop from a random initialisation).

The survey's second way to transfer: instead of a linear readout on frozen features, the
whole encoder is trained with a linear head on the labelled data, with cross-entropy

    L = -1/B sum_i log softmax(W f(T(x_i)) + b)_{y_i}

on augmented views T(x) (the run's own augmentations, so the comparison with supervised
training from scratch is on equal terms).

Fine-tuning is LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution"): the head starts as the fitted linear readout and every
weight then trains at a tenth of the from-scratch learning rate. Measured on digits (SimCLR,
10 epochs, all labels): a head started at zero with the encoder at a tenth of the rate
reached 0.908, below the frozen readout's 0.967, because the head learns too slowly and
drags the features with it; with LP-FT, 0.969. From scratch, every weight starts random
and trains at the full rate.

The budget is a fixed number of steps (``STEPS``, AdamW, cosine decay), whatever the size
of the labelled subset: with one label per class that is many passes over ten images, with
every label about nine epochs of digits. Evaluation: accuracy on the whole test split with
the encoder in eval mode.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import parse_augment
from ..device import (MEMORY_FORMAT, autocast, generator_for, grad_scaler, optimizer_options, precision_for,
                      to_device_batch)

STEPS = 200
BATCH = 64
# a training step's work beside its images (the optimiser, the head, Python), in images: with it a draw's time is
# STEPS x (batch + STEP_OVERHEAD) x a pace within 10% at every budget (digits, cnn-small, 2 cores: a draw of batch 10
# took 3.6 s and of batch 64 8.4 to 9.9 s; counted in images alone, the 1-label steps' pace said twice the time left)
STEP_OVERHEAD = 26
HEAD_LR = 2e-3
FINETUNE_ENCODER_LR_SCALE = 0.1


def draws_cost(budget: int, classes: int, n_labels: int, draws: int) -> int:
    """The work of fine-tuning (or training from scratch) at ``budget`` labels per class (0: every
    one of the ``n_labels``), per training step summed over its draws, in images (``STEP_OVERHEAD``
    included): ``draws`` draws of labelled images, one where every label is taken."""
    return (draws if budget else 1) * (min(BATCH, budget * classes if budget else n_labels) + STEP_OVERHEAD)


def train_classifier(encoder: nn.Module, images: torch.Tensor, labels: np.ndarray, rows: np.ndarray,
                     test_rows: np.ndarray, num_classes: int, augment: str, device: torch.device,
                     pretrained: bool, seed: int = 0, steps: int = STEPS, batch: int = BATCH,
                     head_init: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Train a copy of ``encoder`` plus a linear head on ``images[rows]`` (uint8) with
    ``labels[rows]``; return the accuracy on ``test_rows``. ``encoder`` is never modified.
    ``head_init`` (W, b) starts the head from a fitted linear probe (LP-FT)."""
    if len(rows) == 0:
        raise ValueError("no labelled images to train on")
    torch.manual_seed(seed)
    enc = copy.deepcopy(encoder).to(device, memory_format=MEMORY_FORMAT)  # as its channels-last input
    head = nn.Linear(enc.feature_dim, num_classes).to(device)
    if head_init is not None:
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(head_init[0]))
            head.bias.copy_(torch.as_tensor(head_init[1]))
    enc_lr = HEAD_LR * (FINETUNE_ENCODER_LR_SCALE if pretrained else 1.0)
    head_lr = HEAD_LR * (FINETUNE_ENCODER_LR_SCALE if head_init is not None else 1.0)
    opt = torch.optim.AdamW([{"params": enc.parameters(), "lr": enc_lr, "base": enc_lr},
                             {"params": head.parameters(), "lr": head_lr, "base": head_lr}], weight_decay=1e-4,
                            **optimizer_options(device))
    pipeline = parse_augment(augment)
    precision = precision_for(device)
    scaler = grad_scaler(device, precision)  # float16 (older GPUs): small gradients would underflow without it
    g = generator_for(device, seed)
    x_all = images[torch.as_tensor(rows)].to(device)
    y_all = torch.as_tensor(labels[rows], device=device)
    b = min(batch, len(rows))
    enc.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = group["base"] * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = torch.randint(len(rows), (b,), device=device, generator=g)
        x = to_device_batch(pipeline(x_all[idx].float().div_(255), g))
        with autocast(device, precision):
            loss = F.cross_entropy(head(enc(x)).float(), y_all[idx])
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    enc.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_rows), 512):
            r = torch.as_tensor(test_rows[i : i + 512])
            x = to_device_batch(images[r].to(device).float().div_(255))
            pred = head(enc(x)).argmax(1).cpu().numpy()
            correct += int((pred == labels[test_rows[i : i + 512]]).sum())
    return correct / len(test_rows)
