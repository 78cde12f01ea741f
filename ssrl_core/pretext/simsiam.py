"""SimSiam — Chen, He. "Exploring Simple Siamese Representation Learning", CVPR 2021.

BYOL without the momentum encoder: both views go through the same encoder f and projector
g, giving z1, z2; a bottleneck predictor h maps each to p = h(z) and predicts the other
view's z, whose gradient is stopped (sg). With D the negative cosine similarity,

    L = D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2,   in [-1, 1].

The paper's point is that the stop-gradient is what prevents collapse: without it (option
stop_gradient=false) the loss quickly approaches -1 and the output collapses. The predictor
is needed too (predictor=false makes h the identity, and the paper reports collapse).
``z_std`` logs the paper's collapse metric: the std over the batch of the L2-normalised z,
averaged over dimensions; about 1/sqrt(proj_dim) when healthy, 0 when collapsed.

Architecture: the paper's CIFAR one. A 2-layer projector (ImageNet: 3), Linear-BN-ReLU then
Linear-BN (the output BN without affine parameters, as in the official code), 2048-d; a
bottleneck predictor Linear-BN-ReLU-Linear, 2048 -> 512 -> 2048. Narrower heads did worse
on digits (256 -> 64 -> 256: kNN 0.861 against 0.897), and the heads cost little next to
the encoder.

What to expect (digits, cnn-small, batch 32, 10 epochs; the run's ``embedding_std`` is the
paper's metric on z, read in eval mode): the loss falls towards -1 while ``embedding_std``
stays at 1/sqrt(2048) = 0.022 (0.0218) and the encoder's effective rank falls from 12 to
about 6; SimSiam starts slowly, and its kNN accuracy after 10 epochs is near the random
encoder's. With stop_gradient=false the collapse is dimensional: z's effective rank falls
to 1.7 (3.7 with the stop-gradient) and the encoder's to 2.9, and kNN accuracy drops (0.80
against 0.90); but ``embedding_std`` stays near 1/sqrt(d) (0.0201), because the output BN standardises each
dimension over the batch, so z cannot become one point, only (nearly) one line through
the origin, whose normalised points +v and -v still have a per-channel spread of about
0.8/sqrt(d). With output_bn=false as well, z does become one point: ``embedding_std``
falls to 0.00026 within the 10 epochs and the loss to -1, the paper's Fig. 2; with the
stop-gradient and no output BN it stays up (0.0196), though the features are poorer (kNN 0.79).
Options: stop_gradient (true), predictor (true), output_bn (true), proj_dim (2048),
hidden_dim (2048), pred_hidden_dim (512).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import mlp
from .base import PretextMethod, each_view
from .losses import negative_cosine


class SimSiam(PretextMethod):
    name = "simsiam"
    family = "instance discrimination (non-contrastive)"
    summary = "predict the other view's projection through a stop-gradient (no negatives, no momentum encoder)"
    n_views = 2
    embedding_head = "projector"
    defaults = {"stop_gradient": True, "predictor": True, "output_bn": True, "proj_dim": 2048, "hidden_dim": 2048,
                "pred_hidden_dim": 512}
    pace_free = frozenset({"stop_gradient"})
    collapse_guards = frozenset({"stop_gradient", "predictor"})
    option_help = {
        "stop_gradient": "stop the gradient through the target z; false reproduces the paper's collapse",
        "predictor": "use the predictor h; false makes h the identity (p = z), which collapses in the paper",
        "output_bn": "batch norm on the projector's output, as in the paper; with stop_gradient=false, false lets "
                     "z collapse to one point (embedding_std -> 0) instead of one line",
        "proj_dim": "output size of the projector; 2048 as in the paper",
        "hidden_dim": "hidden width of the 2-layer projector; 2048 as in the paper's CIFAR setting",
        "pred_hidden_dim": "bottleneck width of the predictor, a quarter of proj_dim as in the paper (512 of 2048)",
    }

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        self.stop_gradient = self.options["stop_gradient"]  # a bool: base.py checked it
        d, h, p = self.encoder.feature_dim, int(self.options["hidden_dim"]), int(self.options["proj_dim"])
        self.projector = mlp([d, h, p], last_bn=self.options["output_bn"])
        self.predictor = mlp([p, int(self.options["pred_hidden_dim"]), p]) if self.options["predictor"] else nn.Identity()

    def training_step(self, views, labels, index=None):
        z1, z2 = each_view(views, self.encoder, self.projector)
        p1, p2 = each_view([z1, z2], self.predictor)
        t1, t2 = (z1.detach(), z2.detach()) if self.stop_gradient else (z1, z2)  # sg(.)
        # L = D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2
        loss = negative_cosine(p1, t2) / 2 + negative_cosine(p2, t1) / 2
        with torch.no_grad():
            z_std = F.normalize(z1.float(), dim=1).std(0).mean()
        return loss, {"loss": loss.detach(), "z_std": z_std}
