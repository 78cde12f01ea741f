"""BYOL — Grill, Strub, Altché, Tallec, Richemond, et al. "Bootstrap Your Own Latent: A New
Approach to Self-Supervised Learning", NeurIPS 2020.

An online network (encoder f, projector g, predictor q) learns to predict, from one view,
the projection that a target network (an EMA copy of f and g, no predictor, no gradient)
gives the other view. No negatives. With p = q(g(f(x))) and z' = g_target(f_target(x')),

    L(x, x') = || p / ||p|| - z' / ||z'|| ||^2 = 2 - 2 cos(p, z') = 2 + 2 D(p, sg(z')),

symmetrised as in the paper by summing both directions: L = L(x1, x2) + L(x2, x1), so the
loss lies in [0, 8]. After every step the target follows the online weights,

    xi <- tau * xi + (1 - tau) * theta,
    tau = 1 - (1 - tau_base) * (cos(pi * progress) + 1) / 2   (tau_base -> 1 at the end).

What to expect: the loss falls towards 0 but, unlike a contrastive loss, its value says
little about quality (a collapsed network could reach 0; the predictor and the slowly moving
target are what keep BYOL from collapsing, so watch embedding_std and effective_rank). On
digits (cnn-small, 10 epochs at digits' default batch of 32) kNN accuracy was 0.939 against
the random encoder's 0.919 (seed 0), and over three seeds 3.8 points above the random
encoder of the same seed (docs/methods.md; each view through the networks on its own, as the
official code does, ``base.each_view``). At the earlier default batch of 128 (110 steps)
it was below random (0.916). Options: tau_base (0.996),
proj_dim (128), hidden_dim (512), pred_hidden_dim (512).

tau_base is the paper's 0.996. A faster target seems natural for short runs, but on digits
(10 epochs at batch 128, with an earlier version of this code) it did worse: kNN 0.883 at
0.9, 0.900 at 0.99, 0.911 at 0.996, and the encoder's effective rank fell further the
faster the target moved (4.8, 7.0, 7.3).
"""
from __future__ import annotations

import math

import torch

from ..models import mlp
from .base import PretextMethod, each_view
from .losses import negative_cosine
from .ema import frozen_copy, momentum_update


class BYOL(PretextMethod):
    name = "byol"
    family = "instance discrimination (non-contrastive)"
    summary = "predict an EMA target network's projection of the other view (no negatives)"
    n_views = 2
    embedding_head = "projector"
    defaults = {"tau_base": 0.996, "proj_dim": 128, "hidden_dim": 512, "pred_hidden_dim": 512}
    pace_free = frozenset({"tau_base"})
    option_help = {
        "tau_base": "starting EMA rate of the target, raised to 1 on a cosine; 0.996 as in the paper. Closer to 1: a "
                    "steadier target that follows the online network more slowly",
        "proj_dim": "output size of the projector and predictor; 256 in the paper, 128 here",
        "hidden_dim": "hidden width of the projector (4096 in the paper; 512 here)",
        "pred_hidden_dim": "hidden width of the predictor (4096 in the paper; 512 here)",
    }

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        d, h, p = self.encoder.feature_dim, int(self.options["hidden_dim"]), int(self.options["proj_dim"])
        self.projector = mlp([d, h, p])
        self.predictor = mlp([p, int(self.options["pred_hidden_dim"]), p])
        self.target_encoder = frozen_copy(self.encoder)
        self.target_projector = frozen_copy(self.projector)

    def tau(self) -> float:
        # tau = 1 - (1 - tau_base) * (cos(pi * progress) + 1) / 2
        return 1 - (1 - float(self.options["tau_base"])) * (math.cos(math.pi * self.progress) + 1) / 2

    def training_step(self, views, labels, index=None):
        p1, p2 = each_view(views, self.encoder, self.projector, self.predictor)
        with torch.no_grad():  # target network: no gradient
            z1, z2 = each_view(views, self.target_encoder, self.target_projector)
        # L = (2 - 2 cos(p1, z2)) + (2 - 2 cos(p2, z1)),  with 2 - 2 cos = 2 + 2 D
        loss = (2 + 2 * negative_cosine(p1, z2.detach())) + (2 + 2 * negative_cosine(p2, z1.detach()))
        return loss, {"loss": loss.detach(), "tau": torch.tensor(self.tau())}

    def after_step(self):
        tau = self.tau()
        momentum_update(self.target_encoder, self.encoder, tau)  # xi <- tau xi + (1 - tau) theta
        momentum_update(self.target_projector, self.projector, tau)
