"""Masked autoencoder (MAE) — He, Chen, Xie, Li, Dollár, Girshick. "Masked Autoencoders Are
Scalable Vision Learners", CVPR 2022.

The image is cut into p x p patches and a random ``mask_ratio`` of them (per image) is
dropped. The ViT encoder runs on the visible patches only; a light decoder (a linear
projection, mask tokens for the dropped patches, fixed sin-cos positions, a few
transformer blocks) predicts the pixels of every patch, and the loss is the mean squared
error over the masked patches:

    L = (1 / |M|) sum_{n in M} (1 / P) || y_n - t_n ||^2,   t_n = (x_n - mean(x_n)) / sqrt(var(x_n) + 1e-6)

with M the masked patches of the batch, P the pixels (times channels) of a patch, and t_n
the per-patch normalised target (the paper's "norm_pix_loss", which its ablations find
gives better features; ``norm_pix_loss=false`` regresses the raw pixels instead).

Needs ``--encoder vit-tiny``: dropping patches is what makes the encoder cheap and the task
hard, and a convolutional encoder cannot skip pixels; masking by zeroing them would be
inpainting (``--method inpainting``).

What to expect: the loss falls from about 1 (the variance of normalised targets) as the
decoder learns to continue strokes and edges; the paper trains for 800-1600 epochs. He et
al. report a large gap between a frozen linear probe of MAE features and fine-tuning them
(ViT-L: about 74% against 85% on ImageNet), and linear probes below MoCo v3's.
On digits, 10 epochs at the earlier default batch of 128 (110 steps) took the loss from
0.83 to a plateau near 0.70; at today's batch of 32 (440 steps) the mean-pooled features
probe far below a random vit-tiny's (seed 0: kNN 0.284 against 0.694, linear 0.811 against
0.925; docs/methods.md); pooling all 64 tokens into one vector loses where strokes are, and
the collapse diagnostics read low (effective rank near 1) even for a random vit-tiny.
Options: mask_ratio (0.75), norm_pix_loss (true), decoder_dim (128), decoder_depth (2),
decoder_heads (4).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..models import TransformerBlock, init_transformer, sincos_2d
from .base import MAX_WIDTH, OptionRange, PretextMethod


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, N, p*p*C], patches in row-major order (as the ViT numbers them)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


def random_keep(b: int, n: int, ratio: float, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the indices of round((1 - ratio) * n) visible patches [B, n_keep] (sorted)
    and a bool mask [B, n], True where a patch is masked."""
    n_keep = max(1, round((1 - ratio) * n))
    keep = torch.rand(b, n, device=device).argsort(dim=1)[:, :n_keep].sort(dim=1).values
    masked = torch.ones(b, n, dtype=torch.bool, device=device)
    masked.scatter_(1, keep, False)
    return keep, masked


class MAE(PretextMethod):
    name = "mae"
    family = "masked prediction"
    summary = "reconstruct randomly masked patches; the ViT encoder sees only the visible ones"
    preferred_encoder = "vit-tiny"  # --encoder auto means vit-tiny for mae
    n_views = 1
    defaults = {"mask_ratio": 0.75, "norm_pix_loss": True, "decoder_dim": 128, "decoder_depth": 2, "decoder_heads": 4}
    pace_free = frozenset({"norm_pix_loss"})
    option_help = {
        "mask_ratio": "fraction of patches hidden from the encoder; 0.75 as in the paper. Higher makes the task "
                      "harder and each step cheaper (the encoder sees fewer patches)",
        "norm_pix_loss": "regress each patch's pixels normalised by its own mean and spread (the paper's best "
                         "setting): the decoder must predict the patch's shape, not its brightness; false: raw pixels",
        "decoder_dim": "width of the light decoder (the paper: 512 for ViT-L; 128 here for a 192-wide encoder)",
        "decoder_depth": "transformer blocks in the decoder (the paper: 8; its ablation: 1 suffices for fine-tuning, more help linear probes)",
        "decoder_heads": "attention heads in each decoder block",
    }
    option_ranges = {
        "mask_ratio": OptionRange(0.05, 1, hi_open=True, why="the fraction of patches hidden: near 0 an image may "
                                                            "have none hidden, leaving nothing to predict (the "
                                                            "paper sweeps 0.1 to 0.9)"),
        "decoder_dim": OptionRange(4, MAX_WIDTH, why="the decoder's width, a multiple of 4 for its sin-cos positions"),
    }

    @classmethod
    def option_conflicts(cls, options):
        dd, heads = options["decoder_dim"], options["decoder_heads"]
        if dd % 4 or dd % heads:
            fit = 4 * heads // math.gcd(4, heads)  # the decoder width must be a multiple of this
            near = max(fit, round(dd / fit) * fit)
            return (f"option decoder_dim must be a multiple of 4 (its sin-cos positions) and of decoder_heads "
                    f"({heads}), got {dd}: try {near}")
        return None

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        if not hasattr(encoder, "forward_tokens"):
            raise ValueError(
                f"mae needs the vit-tiny encoder, not {encoder.name}: its encoder must skip the masked patches, "
                "which a convolutional network cannot do (zeroing them instead would be the inpainting method); "
                "choose encoder vit-tiny (the encoder auto picks for mae)")
        d, dd = encoder.feature_dim, int(self.options["decoder_dim"])
        self.patch = encoder.patch_size
        self.decoder_embed = nn.Linear(d, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.decoder_blocks = nn.ModuleList(
            TransformerBlock(dd, int(self.options["decoder_heads"])) for _ in range(int(self.options["decoder_depth"])))
        self.decoder_norm = nn.LayerNorm(dd)
        self.decoder_pred = nn.Linear(dd, self.patch * self.patch * channels)
        init_transformer(self.decoder_blocks)
        for m in (self.decoder_embed, self.decoder_pred):
            init_transformer(m)
        nn.init.normal_(self.mask_token, std=0.02)

    def reconstruct(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Predicted patches [B, N, p*p*C] for every patch, from the visible ones ``keep``."""
        b, _, h, w = x.shape
        gh, gw = h // self.patch, w // self.patch
        latent = self.decoder_embed(self.encoder.forward_tokens(x, keep))  # [B, n_keep, dd]
        full = self.mask_token.to(latent.dtype).expand(b, gh * gw, -1).clone()
        full.scatter_(1, keep[..., None].expand(-1, -1, latent.shape[-1]), latent)
        t = full + sincos_2d(gh, gw, full.shape[-1], x.device).to(full.dtype)
        for blk in self.decoder_blocks:
            t = blk(t)
        return self.decoder_pred(self.decoder_norm(t))

    def training_step(self, views, labels, index=None):
        x = views[0]
        target = patchify(x.float(), self.patch)
        if self.options["norm_pix_loss"]:
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        keep, masked = random_keep(x.shape[0], target.shape[1], float(self.options["mask_ratio"]), x.device)
        pred = self.reconstruct(x, keep)
        per_patch = ((pred.float() - target) ** 2).mean(-1)  # [B, N]
        loss = (per_patch * masked).sum() / masked.sum()
        return loss, {"loss": loss.detach()}
