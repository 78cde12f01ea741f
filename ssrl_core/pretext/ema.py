"""Target networks that follow an online network by exponential moving average (MoCo's
key encoder, BYOL's target): shared by the methods that use one."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy that the optimiser never sees (requires_grad False): a momentum/target network."""
    twin = copy.deepcopy(module)
    twin.requires_grad_(False)
    return twin


@torch.no_grad()
def momentum_update(target: nn.Module, online: nn.Module, m: float) -> None:
    """theta_target <- m * theta_target + (1 - m) * theta_online, parameters only (the
    target's batch-norm running statistics follow its own forward passes, as in MoCo/BYOL)."""
    # as one multi-tensor operation each (on a GPU, a few kernels for the whole network, not four a
    # parameter); the same arithmetic as pt.mul_(m).add_(po, alpha=1 - m) per parameter
    tp, op = list(target.parameters()), [p.detach() for p in online.parameters()]
    torch._foreach_mul_(tp, m)
    torch._foreach_add_(tp, op, alpha=1 - m)
