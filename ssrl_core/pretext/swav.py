"""SwAV — Caron, Misra, Mairal, Goyal, Bojanowski, Joulin. "Unsupervised Learning of Visual
Features by Contrasting Cluster Assignments", NeurIPS 2020.

Each view's embedding z = normalize(g(f(x))) is scored against K learnable prototypes
C (unit-norm rows), s = z C^T. The Sinkhorn-Knopp algorithm turns a batch's scores into
codes q that use every prototype equally often (the equal-partition constraint that keeps
the features from collapsing), and each view predicts the other view's code:

    q = sinkhorn(s, epsilon, iterations)  (no gradient),  p = softmax(s / tau),
    L = -(1 / 2B) sum_b [ sum_k q2_bk log p1_bk + sum_k q1_bk log p2_bk ].

Small batches: the codes of a batch of B are computed by Sinkhorn over the batch and the
``queue_size`` most recent embeddings of each view together (the paper's queue for batches
of 256 and under, sec. 4 and appendix), and only the batch's rows are kept. Equal
partition over B = 32 images and K = 30 prototypes would give each prototype about one
image a batch, so the codes would be little more than instance labels; with the queue,
Sinkhorn splits 288 images. The queue (a buffer, first random unit vectors) is filled from
the first step and takes part once the prototypes start learning (after
``freeze_prototypes``); the paper's code starts its queue after 15 epochs. queue_size=0 turns it
off. On a small set the queue must fit beside the batch in the training split, or it
holds older embeddings of the batch's own images (counted twice in the split): an imported
set gets queue_size = training images - batch (at most 256) by default. A warning
(``data_caveats``) says when queue + batch exceed the training images, or when a split
holds fewer embeddings than prototypes: under one each, the line drawn where the paper's
own split (4,096 for 3,000) sits just above it, though about one each already makes codes
close to instance labels. Simplification: two views of the same size (no multi-crop: on
32-pixel digits, half-resolution extra crops made kNN accuracy 5 to 9 points worse;
docs/methods.md).

What to expect: the loss starts near log K and falls as the two views of an image come to
prefer the same prototypes (digits, 10 epochs: 3.2 -> 1.4); ``prototypes_used`` (the
share of prototypes that are some sample's favourite in the batch) staying well above
1/K means no collapse (0.88 -> 0.99 there). The prototypes get no gradient for the first
``freeze_prototypes`` of training, as in the paper, so early steps shape the features.
Options: n_prototypes (30), temperature (0.1), epsilon (0.05), sinkhorn_iters (3),
proj_dim (128), hidden_dim (512), freeze_prototypes (0.1), queue_size (256).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import mlp
from .base import OptionRange, PretextMethod
from .fifo import push, random_queue
from .losses import float32, sinkhorn, swav


@float32
def prototype_scores(z: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """s = z C^T (a batch [B, D] or the queue [n, 2, D] against C [K, D]), in float32 whatever
    the caller's autocast: Sinkhorn exponentiates s / epsilon (epsilon 0.05), and the loss's
    logits are s / tau, where bfloat16's errors of about 1e-3 on each cosine would be 20 times
    larger. The official code computes them in float32 too."""
    return z @ prototypes.t()


class SwAV(PretextMethod):
    name = "swav"
    family = "clustering"
    summary = "swap the two views' balanced (Sinkhorn) prototype assignments and predict them"
    n_views = 2
    embedding_head = "projector"
    defaults = {"n_prototypes": 30, "temperature": 0.1, "epsilon": 0.05, "sinkhorn_iters": 3,
                "proj_dim": 128, "hidden_dim": 512, "freeze_prototypes": 0.1, "queue_size": 256}
    pace_free = frozenset({"temperature", "epsilon", "freeze_prototypes"})
    option_help = {
        "n_prototypes": "K; the paper uses 3000 for ImageNet's 1000 classes (3x), so 30 for ~10-class sets; "
                        "Sinkhorn splits the batch and the queue together (digits: 32 + 256 = 288, ~10 per "
                        "prototype), and fewer than K of them (under one each) is warned of",
        "temperature": "tau of the softmax over prototype scores; 0.1 as in the paper",
        "epsilon": "entropy regularisation of Sinkhorn-Knopp; 0.05 as in the paper",
        "sinkhorn_iters": "Sinkhorn-Knopp iterations; 3 as in the paper",
        "proj_dim": "size of the embedding and of each prototype; 128 as in the paper",
        "hidden_dim": "hidden width of the 2-layer projector (the paper: 2048); 512 here",
        "freeze_prototypes": "fraction of training during which the prototypes get no gradient "
                             "(the paper freezes them for its first epoch)",
        "queue_size": "past embeddings per view that join each batch in Sinkhorn (the paper: 3840 for batch 256); "
                      "keep queue + batch within the training images, or the queue repeats the batch's images "
                      "(an imported set's default: training images - batch, at most 256); 0 turns the queue off",
    }
    option_ranges = {"freeze_prototypes": OptionRange(0, 1, why="a fraction of training (0: never frozen, "
                                                                "1: frozen throughout)")}

    @classmethod
    def sized_defaults(cls, n_train, batch):
        return {"queue_size": max(0, min(cls.defaults["queue_size"], n_train - batch))}

    @classmethod
    def data_caveats(cls, options, n_train, batch):
        out = []
        q, k = options["queue_size"], options["n_prototypes"]
        room = max(0, n_train - batch)  # the longest queue that need not repeat the batch's images
        if q > room:
            out.append(f"option queue_size {q:,} with batch {batch:,} puts {q + batch:,} embeddings of each view in "
                       f"every Sinkhorn split, more than the {n_train:,} training images: the queue must then hold "
                       "older embeddings of the batch's own images, or several of one image, so the equal partition "
                       "counts those images more than once (the paper's queue of 3,840 is 0.3% of ImageNet). "
                       f"Use queue_size={room} or less (training images - batch"
                       + (", or 0 to turn the queue off)." if room == 0 else ")."))
        if batch + q < k:
            grow = (f", or raise queue_size to {k - batch} (at most {room})" if k - batch <= room else "")
            out.append(f"option n_prototypes {k:,} is more than the {batch + q:,} embeddings of each view that Sinkhorn "
                       f"splits among them (batch {batch:,} + queue {q:,}): the equal partition then spreads every image "
                       "over several prototypes, so the codes say little about which prototype an image is like (the "
                       "paper splits 4,096, batch 256 + queue 3,840, over 3,000 prototypes: 1.4 each). Lower "
                       f"n_prototypes to {max(2, batch + q)} or fewer{grow}.")
        return out

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        d = self.encoder.feature_dim
        self.projector = mlp([d, int(self.options["hidden_dim"]), int(self.options["proj_dim"])])
        self.prototypes = nn.Linear(int(self.options["proj_dim"]), int(self.options["n_prototypes"]), bias=False)
        n = int(self.options["queue_size"])
        # [n, 2 views, proj_dim]; buffers, so a resumed run continues with its queue
        self.register_buffer("queue", random_queue(n, 2, int(self.options["proj_dim"])))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def training_step(self, views, labels, index=None):
        with torch.no_grad():  # C's rows back on the unit sphere, in place, as the paper does
            w = self.prototypes.weight
            w.copy_(F.normalize(w, dim=1))
        z = F.normalize(self.projector(self.encoder(torch.cat(views))).float(), dim=1)
        c = self.prototypes.weight
        if self.progress < float(self.options["freeze_prototypes"]):
            c = c.detach()
        scores = prototype_scores(z, c)  # s = z C^T, [2B, K]
        s1, s2 = scores.chunk(2)
        eps, iters = float(self.options["epsilon"]), int(self.options["sinkhorn_iters"])
        with torch.no_grad():  # codes carry no gradient
            if len(self.queue) and self.progress >= float(self.options["freeze_prototypes"]):
                # codes over [queue; batch] for each view, keeping the batch's rows
                past = prototype_scores(self.queue, c)  # [n, 2, K], read before this batch is pushed
                b = s1.shape[0]
                q1 = sinkhorn(torch.cat([past[:, 0], s1]), eps, iters)[-b:]
                q2 = sinkhorn(torch.cat([past[:, 1], s2]), eps, iters)[-b:]
            else:
                q1, q2 = sinkhorn(s1, eps, iters), sinkhorn(s2, eps, iters)
            if len(self.queue):
                z1, z2 = z.detach().chunk(2)
                push(self.queue, self.queue_ptr, torch.stack([z1, z2], dim=1))
        # L = -(1/2B) sum_b [q2 . log softmax(s1 / tau) + q1 . log softmax(s2 / tau)]
        loss = swav(s1, s2, q1, q2, float(self.options["temperature"]))
        # the share of prototypes some image is assigned to (no bincount: on a GPU it reads the largest index back)
        used = torch.zeros(c.shape[0], device=c.device).index_fill_(0, scores.detach().argmax(1), 1.0).mean()
        return loss, {"loss": loss.detach(), "prototypes_used": used}
