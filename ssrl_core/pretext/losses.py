"""Losses as pure functions of tensors. Each docstring states the normalisation."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent (SimCLR, Chen et al. 2020, eq. 1), averaged over all 2N anchors.

    With z = [z1; z2] L2-normalised and s_ij = z_i . z_j / tau, the loss of anchor i whose
    positive is p(i) (the other view of the same image) is

        l_i = -log( exp(s_{i,p(i)}) / sum_{k != i} exp(s_ik) )

    and the result is (1 / 2N) * sum_i l_i.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))  # k != i
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)
