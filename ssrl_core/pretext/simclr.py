"""SimCLR — Chen, Kornblith, Norouzi, Hinton. "A Simple Framework for Contrastive Learning
of Visual Representations", ICML 2020.

Two augmented views of each image go through the encoder f and a projector MLP g; the
NT-Xent loss pulls the two views of an image together and pushes the other 2N-2 views of
the batch away:

    l_i = -log( exp(sim(z_i, z_p(i)) / tau) / sum_{k != i} exp(sim(z_i, z_k) / tau) ),
    L = (1 / 2N) sum_i l_i,  z = g(f(x)), sim = cosine similarity.

What to expect: the loss falls from log(2N-1) as views of one image become the nearest
neighbours of each other. The loss makes z = g(f(x)) invariant to the augmentations used;
the features f(x) before the projector inherit much of that invariance, so the augmentation
set decides what the map groups together, but they keep more about the transformation: in
the paper's Table 3 an MLP tells which one was applied far better from f(x) than from z
(rotation 67.6% against 25.6%), and f(x) is the better representation downstream (its
Fig. 8); so the projector is dropped after training.
Options: temperature (0.5), proj_dim (128), hidden_dim (512).

Small batches: the negatives are the batch's other views, 2N - 2 of them, so a small set's
small batch leaves few (batch 8: 14). The paper's accuracy falls steadily as the batch
shrinks (its Fig. 9, 8,192 down to 256); digits trains well at 32 (62 negatives). Under
``MIN_BATCH`` a warning says so and points to MoCo, whose queue does not depend on the batch.
"""
from __future__ import annotations

import torch

from ..models import mlp
from .base import PretextMethod
from .losses import nt_xent

MIN_BATCH = 16  # 30 negatives; below, a warning (check_data)


class SimCLR(PretextMethod):
    name = "simclr"
    family = "instance discrimination (contrastive)"
    summary = "pull two augmented views of an image together, push other images away (NT-Xent)"
    n_views = 2
    embedding_head = "projector"
    defaults = {"temperature": 0.5, "proj_dim": 128, "hidden_dim": 512}
    pace_free = frozenset({"temperature"})
    option_help = {
        "temperature": "tau in NT-Xent; 0.5 as in the paper's CIFAR-10 experiments. Lower sharpens the softmax: the "
                       "hardest negatives weigh most (too low and training is unstable); higher treats all alike",
        "proj_dim": "output size of the projector g; 128 as in the paper",
        "hidden_dim": "hidden width of the 2-layer projector (the paper uses the feature size; 512 here)",
    }

    @classmethod
    def data_caveats(cls, options, n_train, batch):
        if batch >= MIN_BATCH:
            return []
        tiny = n_train < 4 * MIN_BATCH  # under 4 steps an epoch at MIN_BATCH: no larger batch to suggest
        raise_it = ("" if tiny else f"raise the batch size to {MIN_BATCH} or more (this set gives "
                    f"{n_train // MIN_BATCH} steps an epoch at 16), or ")
        return [f"at batch {batch} compares each view with only {2 * batch - 2} negatives, the other views of its "
                f"batch: NT-Xent picks the positive out of {2 * batch - 1} candidates, an easy task that teaches "
                "little, and the paper's accuracy falls steadily as the batch shrinks (its Fig. 9, 8,192 down to "
                f"256; digits trains well at 32). To have more, {raise_it}use moco, whose queue of past keys gives "
                "negatives that do not depend on the batch."
                # said beside the form's default batch for a tiny set, which read as the page contradicting itself
                + (f" This set's {n_train} training images are too few for batch {MIN_BATCH} (under 4 steps an "
                   "epoch): that is why its default batch is smaller." if tiny else "")]

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        d = self.encoder.feature_dim
        self.projector = mlp([d, int(self.options["hidden_dim"]), int(self.options["proj_dim"])])

    def training_step(self, views, labels, index=None):
        x = torch.cat(views)
        z = self.projector(self.encoder(x))
        z1, z2 = z.chunk(2)
        loss = nt_xent(z1, z2, float(self.options["temperature"]))
        return loss, {"loss": loss.detach()}

