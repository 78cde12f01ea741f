"""MoCo v2 — He, Fan, Wu, Xie, Girshick. "Momentum Contrast for Unsupervised Visual
Representation Learning", CVPR 2020; Chen, Fan, Girshick, He. "Improved Baselines with
Momentum Contrastive Learning", arXiv 2020 (v2: MLP head, temperature 0.2, blur).

A query encoder f_q (the encoder + an MLP projector) is trained; a key encoder f_k is a
momentum (EMA) copy of it that gets no gradient, updated after every optimiser step as

    theta_k <- m * theta_k + (1 - m) * theta_q.

Negatives come from a queue of the K most recent keys (FIFO), so their number does not
depend on the batch size. With q = f_q(x), k+ = f_k(x') its positive key and queue {k_j}
(all L2-normalised), InfoNCE is

    l = -log( exp(q . k+ / tau) / (exp(q . k+ / tau) + sum_j exp(q . k_j / tau)) ).

This version is symmetric (as MoCo's CIFAR demo and MoCo v3): each view is once the query
and once the key, L = (l(q1, k2) + l(q2, k1)) / 2, and both views' keys are enqueued
(2B per step). The queue starts as random unit vectors, as in the official code.

Architecture: MoCo v2's head, Linear-ReLU-Linear (no batch norm), 512 then 128 wide. Until
2026-12-02 it was Linear-BN-ReLU-Linear, the head BYOL and SwAV use; over seeds 0-2 on
digits (10 epochs, batch 32, ``python -m bench.methods_table --datasets digits --methods
moco,random --seeds 0,1,2``) MoCo v2's head reads kNN 0.942, 0.933 and 0.944, 4.2 points
above random (min +2.2), against 5.5 (min +2.8) with the BN. Option head_bn=true brings
the BN back; a run trained before keeps it (``legacy_options``: its checkpoint has the BN's
weights), so it still loads and resumes.

Shuffle-BN: the paper shuffles samples across GPUs for the key encoder so that batch-norm
statistics cannot leak which key belongs to which query. On one device query and key
batches hold the same images and nothing is shuffled here; short runs learn well without
it. (MoCo's own single-GPU CIFAR demo emulates the shuffle with split batch norm.)

What to expect: the loss starts below log(K + 1) (chance among K + 1 keys) and falls as
each query picks out its own key among the K negatives; as with SimCLR, features become
invariant to the augmentations. On digits (cnn-small, 10 epochs) kNN accuracy was 0.955
against the random encoder's 0.919 at batch 128 and 0.947 at today's default of 32 (seed 0;
both with the BN head); 0.942 with today's head (over three seeds 4.2 points above random,
docs/methods.md). Options: temperature (0.2), momentum (0.99), queue_size (1024),
proj_dim (128), hidden_dim (512), head_bn (false).

Scaled-down defaults. momentum 0.99: the paper's 0.999 lets keys change over ~1000 steps,
right for long schedules, while a 10-epoch run on a small set has a few hundred at most
(digits: 440 at batch 32; the kNN figures here were measured at batch 128, 110 steps; 0.9
was worse on digits: kNN 0.939). queue_size 1024: the queue should hold fewer keys than one epoch
produces (two per image here), or it keeps stale keys of the query's own image as
negatives. The paper's 65536 is 5% of ImageNet; 4096 would hold every digits image about
three times (kNN 0.944, against 0.955 with 1024). Raise it on large sets (CIFAR, MNIST).
On a small set the rule binds: the queue holds the keys of its last K / 2 images, and
when those and the batch's B images are more than the N training images, the queue must
hold several keys of one image or older keys of the batch's own (a query's positive among
its negatives). So
K <= 2 (N - B) is the rule a warning checks, and an imported set's default is
min(1024, 2 (N - B)) (128 training images at batch 16: 224).
"""
from __future__ import annotations

import torch

from ..models import mlp
from .base import OptionRange, PretextMethod
from .ema import frozen_copy, momentum_update
from .fifo import push, random_queue
from .losses import info_nce


class MoCo(PretextMethod):
    name = "moco"
    family = "instance discrimination (contrastive)"
    summary = "match each query to its momentum-encoder key against a queue of past keys (InfoNCE)"
    n_views = 2
    embedding_head = "projector"
    defaults = {"temperature": 0.2, "momentum": 0.99, "queue_size": 1024, "proj_dim": 128, "hidden_dim": 512,
                "head_bn": False}
    pace_free = frozenset({"temperature", "momentum"})
    option_help = {
        "temperature": "tau in InfoNCE; 0.2 as in MoCo v2. Lower weighs the hardest negatives most; higher treats "
                       "all alike",
        "momentum": "EMA rate m of the key encoder; 0.99 (MoCo's 0.999 suits long runs, short ones need faster keys). "
                    "Closer to 1: steadier keys that follow the query encoder more slowly",
        "queue_size": "K, negative keys kept (FIFO); two keys an image are enqueued, so keep it at most "
                      "2 x (training images - batch) or it repeats the batch's own images (digits: 1024; an "
                      "imported set's default is scaled so); raise it on large sets",
        "proj_dim": "output size of the MLP head; 128 as in MoCo v2",
        "hidden_dim": "hidden width of the 2-layer MLP head (2048 in MoCo v2; 512 here)",
        "head_bn": "batch norm in the head's hidden layer; MoCo v2 has none, so off (this tool's earliest MoCo runs had it)",
    }
    option_ranges = {"queue_size": OptionRange(1, 65536, why="the negatives InfoNCE compares each query with: "
                                                             "it needs at least one; MoCo's ImageNet queue is 65536")}

    @classmethod
    def sized_defaults(cls, n_train, batch):
        return {"queue_size": max(1, min(cls.defaults["queue_size"], 2 * (n_train - batch)))}

    @classmethod
    def data_caveats(cls, options, n_train, batch):
        k, room = options["queue_size"], 2 * (n_train - batch)
        if k <= room:
            return []
        advice = (f"Use queue_size={room} or less (2 x (training images - batch))" if room >= 1 else
                  "Lower the batch size to leave images out of each batch for the queue")
        return [f"option queue_size {k:,} holds the keys of the last {k / 2:,.0f} images (both views' keys are "
                f"enqueued), which with the batch's {batch:,} are more than the {n_train:,} training images: the queue "
                "must then hold several keys of one image or older keys of the batch's own images, a query's own image "
                "among its negatives (MoCo's 65,536 keys are 5% of ImageNet). " + advice + "."]

    legacy_keys = ("head_bn",)

    @classmethod
    def legacy_options(cls, weights):
        # the BN'd head (before 2026-12-02): its BN is the projector's second module
        return {"head_bn": True} if "projector.1.running_mean" in weights else {}

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        d, h, p = self.encoder.feature_dim, int(self.options["hidden_dim"]), int(self.options["proj_dim"])
        k = int(self.options["queue_size"])
        self.projector = mlp([d, h, p], bn=self.options["head_bn"])
        self.key_encoder = frozen_copy(self.encoder)
        self.key_projector = frozen_copy(self.projector)
        # buffers, so checkpoints keep the queue and a resumed run continues with it
        self.register_buffer("queue", random_queue(k, p))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def training_step(self, views, labels, index=None):
        tau = float(self.options["temperature"])
        q1, q2 = self.projector(self.encoder(torch.cat(views))).chunk(2)
        with torch.no_grad():  # key encoder: no gradient
            k1, k2 = self.key_projector(self.key_encoder(torch.cat(views))).chunk(2)
        queue = self.queue.clone().detach()  # the negatives before this step's keys go in
        # L = (l(q1, k2) + l(q2, k1)) / 2
        loss = (info_nce(q1, k2, queue, tau) + info_nce(q2, k1, queue, tau)) / 2
        push(self.queue, self.queue_ptr, torch.cat([k1, k2]))
        return loss, {"loss": loss.detach()}

    def after_step(self):
        m = float(self.options["momentum"])
        momentum_update(self.key_encoder, self.encoder, m)  # theta_k <- m theta_k + (1 - m) theta_q
        momentum_update(self.key_projector, self.projector, m)
