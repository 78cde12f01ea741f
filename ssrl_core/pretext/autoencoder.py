"""Autoencoder baseline — plain reconstruction (Hinton & Salakhutdinov, "Reducing the
Dimensionality of Data with Neural Networks", Science 2006, with a convolutional encoder).

The encoder f maps the image to its feature vector and a decoder g maps it back; nothing
is hidden, so the only pressure is the bottleneck of the feature vector:

    L = (1 / N C H W) sum_i || x_i - g(f(x_i)) ||^2.

What to expect: the loss falls steadily as reconstructions go from a mean blur to
recognisable images. It is the reference the masked-prediction methods are measured
against: what they add comes from hiding part of the input. Its features keep every
pixel's worth of detail (position, thickness, brightness), whether or not it tells classes
apart; on digits, where pixels nearly give the class away, that was enough to beat the
random encoder under kNN (cnn-small, 10 epochs: loss 0.084 to 0.013, kNN 0.96 and linear
0.98 against random's 0.92 and 0.97; docs/methods.md has the seed-0 row). No
options.
"""
from __future__ import annotations

import torch.nn.functional as F

from ..models import ImageDecoder
from .base import PretextMethod


class Autoencoder(PretextMethod):
    name = "autoencoder"
    family = "baseline"
    summary = "reconstruct the whole image from its feature vector (no masking)"
    n_views = 1

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        self.decoder = ImageDecoder(self.encoder.feature_dim, channels)

    def training_step(self, views, labels, index=None):
        x = views[0]
        recon = self.decoder(self.encoder(x), x.shape[-2:])
        loss = F.mse_loss(recon.float(), x.float())
        return loss, {"loss": loss.detach()}
