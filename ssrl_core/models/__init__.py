"""Encoders. Each maps a float image batch in [0, 1] ([B,C,H,W]) to a feature vector
([B, feature_dim]); inputs are centred inside the encoder ((x - 0.5) / 0.25) so every
method, probe and page feeds them the same way.

Also the parts methods share: ``mlp`` heads, ``ImageDecoder`` (feature vector -> image, for
the reconstruction methods) and ``TransformerBlock`` (the ViT's and MAE's decoder's block)."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ENCODERS: dict[str, str] = {
    "cnn-small": "4 conv layers (32-64-128-256 channels), 256-d features; the CPU default",
    "resnet18": "ResNet-18 with a 3x3 stride-1 stem and no max-pool, 512-d features; the GPU default",
    "vit-tiny": "a small ViT (4x4 patches, dim 192, depth 6, 3 heads, fixed 2-D sin-cos positions), "
                "mean-pooled 192-d features; needed by mae; about 10x slower than cnn-small on CPU "
                "(mae encodes a quarter of the patches: about 250 images/s on 2 cores)",
}


class Encoder(nn.Module):
    def __init__(self, body: nn.Module, feature_dim: int, name: str):
        super().__init__()
        self.body = body
        self.feature_dim = feature_dim
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point():  # uint8 pixels ran through with no error, into features of nothing
            raise TypeError(f"an encoder takes float images in [0, 1], [N, C, H, W]; got {x.dtype}: divide uint8 "
                            "pixels by 255 first (`images.float() / 255`)")
        return self.body((x - 0.5) * 4.0)


def cnn_small(in_channels: int) -> Encoder:
    """Exactly four 3x3 convolutions (widths 32, 64, 128, 256; strides 1, 2, 2, 2), each
    followed by BatchNorm and ReLU, then global average pooling to 256-d."""
    layers: list[nn.Module] = []
    c_in = in_channels
    for width, stride in ((32, 1), (64, 2), (128, 2), (256, 2)):
        layers += [nn.Conv2d(c_in, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        c_in = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return Encoder(nn.Sequential(*layers), 256, "cnn-small")


def resnet18(in_channels: int) -> Encoder:
    """torchvision's ResNet-18 with the small-image stem of SimCLR's CIFAR experiments:
    a 3x3 stride-1 first convolution and no max-pool; the classifier is removed."""
    from torchvision.models import resnet18 as tv_resnet18

    net = tv_resnet18(weights=None)
    net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return Encoder(net, 512, "resnet18")


class TransformerBlock(nn.Module):
    """A pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)) (GELU)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(a)
        return x + self.mlp(self.norm2(x))


def init_transformer(module: nn.Module) -> None:
    """ViT/MAE initialisation: truncated-normal (std 0.02) linear weights, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def sincos_2d(h: int, w: int, dim: int, device=None) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings [h*w, dim] (MAE's): half the dimensions encode
    the row, half the column, each as sin/cos at dim/4 frequencies. No parameters, so any
    grid size works (28, 32 and 96 px images give 7x7, 8x8 and 24x24 patches)."""
    if dim % 4:
        raise ValueError(f"sin-cos position embeddings need a width divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, device=device, dtype=torch.float32) / (dim // 4))
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    parts = []
    for pos in (ys.flatten(), xs.flatten()):
        out = pos[:, None] * omega[None]
        parts += [out.sin(), out.cos()]
    return torch.cat(parts, dim=1)


class ViT(nn.Module):
    """Patch embedding (a stride-p convolution), fixed sin-cos positions, pre-norm blocks,
    a final LayerNorm. ``forward_tokens`` runs only the tokens it is given."""

    def __init__(self, in_channels: int, patch: int = 4, dim: int = 192, depth: int = 6, heads: int = 3):
        super().__init__()
        self.patch, self.dim = patch, dim
        self.patch_embed = nn.Conv2d(in_channels, dim, patch, patch)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        init_transformer(self)
        nn.init.xavier_uniform_(self.patch_embed.weight.view(dim, -1))
        nn.init.zeros_(self.patch_embed.bias)

    def forward_tokens(self, x: torch.Tensor, keep_idx: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens [B, n, dim] of the patches ``keep_idx`` ([B, n] indices into the row-major
        patch grid; all patches when None). Dropped patches are removed before the first
        block, so the output never depends on their pixels."""
        hh, ww = x.shape[-2] // self.patch, x.shape[-1] // self.patch
        if hh * self.patch != x.shape[-2] or ww * self.patch != x.shape[-1]:
            raise ValueError(f"vit-tiny needs image sides divisible by its patch size {self.patch}, got {tuple(x.shape[-2:])}")
        t = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, N, dim], patch n = row * ww + col
        t = t + sincos_2d(hh, ww, self.dim, x.device).to(t.dtype)
        if keep_idx is not None:
            t = torch.gather(t, 1, keep_idx[..., None].expand(-1, -1, self.dim))
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tokens(x).mean(1)  # mean pooling over all patches (no [CLS] token)


class ViTEncoder(Encoder):
    """An Encoder whose body is a ViT; adds ``forward_tokens`` for methods that drop patches."""

    @property
    def patch_size(self) -> int:
        return self.body.patch

    def forward_tokens(self, x: torch.Tensor, keep_idx: torch.Tensor | None = None) -> torch.Tensor:
        return self.body.forward_tokens((x - 0.5) * 4.0, keep_idx)


def vit_tiny(in_channels: int) -> ViTEncoder:
    """A ViT small enough for a CPU: 4x4 patches (64 tokens at 32x32), width 192, 6 blocks of
    3 heads, MLP ratio 4, fixed 2-D sin-cos positions (so any image size divisible by 4
    works without interpolation), mean pooling of the final tokens to 192-d features.
    ViT-Tiny proper (Touvron et al. 2021) has the same width and heads but 12 blocks."""
    return ViTEncoder(ViT(in_channels, patch=4, dim=192, depth=6, heads=3), 192, "vit-tiny")


def build_encoder(name: str, in_channels: int) -> Encoder:
    if name == "cnn-small":
        return cnn_small(in_channels)
    if name == "resnet18":
        return resnet18(in_channels)
    if name == "vit-tiny":
        return vit_tiny(in_channels)
    raise ValueError(f"unknown encoder {name!r}: choose one of {', '.join(ENCODERS)}")


def mlp(dims: list[int], last_bn: bool = False, bn: bool = True) -> nn.Sequential:
    """Linear-BN-ReLU blocks (Linear-ReLU without ``bn``), ending with a plain Linear
    (optionally BN'd)."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1], bias=i < len(dims) - 2 or not last_bn))
        if i < len(dims) - 2:
            layers += [nn.BatchNorm1d(dims[i + 1]), nn.ReLU(inplace=True)] if bn else [nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(dims[i + 1], affine=False))
    return nn.Sequential(*layers)


class ImageDecoder(nn.Module):
    """Feature vector [B, D] -> image [B, C, S, S], for the reconstruction methods.

    A Linear layer to width x 4 x 4, then stride-2 4x4 transposed convolutions (each with
    BatchNorm and ReLU, halving the width down to 32) doubling 4 -> ... -> ``out_size``, and
    a 3x3 convolution to ``out_channels``. Built at a fixed ``out_size`` (a power of two, 32
    by default) so every parameter exists before the optimiser is made; ``forward(z, size)``
    resizes bilinearly to the batch's size (28 or 96 from 32). With ``sigmoid`` the output
    is an image in [0, 1]; without, raw maps (logits).
    """

    def __init__(self, in_dim: int, out_channels: int, out_size: int = 32, width: int = 128, sigmoid: bool = True):
        super().__init__()
        stages = int(round(math.log2(out_size / 4)))
        if stages < 0 or 4 * 2 ** stages != out_size:
            raise ValueError(f"ImageDecoder builds 4 * 2^k pixel outputs, not {out_size}")
        self.width, self.sigmoid = width, sigmoid
        self.fc = nn.Linear(in_dim, width * 16)
        layers: list[nn.Module] = [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        c = width
        for _ in range(stages):
            c_out = max(32, c // 2)
            layers += [nn.ConvTranspose2d(c, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c = c_out
        layers.append(nn.Conv2d(c, out_channels, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, size: int | tuple[int, int] | None = None) -> torch.Tensor:
        y = self.net(self.fc(z).view(-1, self.width, 4, 4))
        if size is not None:
            size = (size, size) if isinstance(size, int) else tuple(size)
            if tuple(y.shape[-2:]) != size:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return torch.sigmoid(y) if self.sigmoid else y
