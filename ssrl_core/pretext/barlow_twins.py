"""Barlow Twins — Zbontar, Jing, Misra, LeCun, Deny. "Barlow Twins: Self-Supervised Learning
via Redundancy Reduction", ICML 2021.

Both views go through the encoder and a projector; each projector dimension is standardised
over the batch, and the cross-correlation matrix C = z1^T z2 / N ([D, D]) is pushed to the
identity:

    L = sum_i (1 - C_ii)^2  +  lambda * sum_i sum_{j != i} C_ij^2.

The diagonal term makes the embedding invariant to the augmentations, and with the
per-dimension standardisation it already rules out complete collapse (a constant dimension
standardises to 0, so C_ii = 0, the diagonal term's worst); the off-diagonal term decorrelates
the dimensions, which prevents dimensional collapse (with lambda = 0, every dimension a copy
of one feature scores 0), without negatives, predictor or momentum encoder.

lambda: the paper uses 5e-3 (0.0051 in its code) with D = 8192 and batch N = 2048. For
random embeddings E[C_ij^2] ~ 1/N, so the off-diagonal sum is about D^2 / N against about
D on the diagonal (each (1 - C_ii)^2 is 1 for uncorrelated views, at most 4): the balance is
lambda * D / N. Here D = 512 and N = 128 give the paper's D / N = 4, so 0.0051 would keep
its balance; but in short runs the off-diagonal term is what keeps the encoder's dimensions
alive, and on digits (cnn-small, 10 epochs, batch 128) a larger lambda did better: kNN 0.891 / 0.922 / 0.944 / 0.911 at lambda 0.002 / 0.0051 /
0.02 / 0.05 (effective rank 3.9 / 5.7 / 8.9 / 15.3: too small and the encoder keeps few
dimensions, too large and invariance is given up, on_diag ~200 of 512). The default is
0.02; scale it with N / D when you change proj_dim or the batch size. (Digits now trains at
batch 32, D / N = 16, and 0.02 gave kNN 0.944 there, seed 0, each view through the
networks on its own; over three seeds 4.4 points above random; docs/methods.md.)

Projector, as in the paper but narrower: Linear-BN-ReLU, Linear-BN-ReLU, Linear, no biases
(8192-8192-8192 there, 512-512-512 here).

What to expect: the loss starts in the hundreds (mostly the diagonal: D = 512 if the two
views were uncorrelated, 4D at most) and falls quickly; ``on_diag`` is the invariance term,
``off_diag`` the redundancy term before lambda. On digits (10 epochs, batch 128) kNN
accuracy was 0.944 against the random encoder's 0.919.
Options: lambda_offdiag (0.02), proj_dim (512), hidden_dim (512).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .base import PretextMethod, each_view
from .losses import barlow_twins


def projector(dims: list[int]) -> nn.Sequential:
    """Linear-BN-ReLU blocks and a last plain Linear, all without bias (the paper's code)."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1], bias=False))
        if i < len(dims) - 2:
            layers += [nn.BatchNorm1d(dims[i + 1]), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class BarlowTwins(PretextMethod):
    name = "barlow_twins"
    family = "instance discrimination (non-contrastive)"
    summary = "make the two views' cross-correlation matrix the identity (redundancy reduction)"
    n_views = 2
    embedding_head = "projector"
    defaults = {"lambda_offdiag": 0.02, "proj_dim": 512, "hidden_dim": 512}
    pace_free = frozenset({"lambda_offdiag"})
    option_help = {
        "lambda_offdiag": "weight of the off-diagonal term; the paper's 0.0051, 0.02 did better in short runs here. "
                          "Higher pushes the features' dimensions harder to carry different information; 0 leaves "
                          "only the invariance term",
        "proj_dim": "output size of the 3-layer projector (8192 in the paper; 512 here)",
        "hidden_dim": "hidden width of the projector (8192 in the paper; 512 here)",
    }

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        d, h, p = self.encoder.feature_dim, int(self.options["hidden_dim"]), int(self.options["proj_dim"])
        self.projector = projector([d, h, h, p])

    def training_step(self, views, labels, index=None):
        lam = float(self.options["lambda_offdiag"])
        z1, z2 = each_view(views, self.encoder, self.projector)
        # L = sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2
        loss = barlow_twins(z1, z2, lam)
        with torch.no_grad():  # the two terms, for the log
            on = barlow_twins(z1, z2, 0.0)
            off = barlow_twins(z1, z2, 1.0) - on
        return loss, {"loss": loss.detach(), "on_diag": on, "off_diag": off}
