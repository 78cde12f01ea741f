"""Encoders. Each maps a float image batch in [0, 1] ([B,C,H,W]) to a feature vector
([B, feature_dim]); inputs are centred inside the encoder ((x - 0.5) / 0.25) so every
method, probe and page feeds them the same way."""
from __future__ import annotations

import torch
import torch.nn as nn

ENCODERS: dict[str, str] = {
    "cnn-small": "4 conv layers (32-64-128-256 channels), 256-d features; the CPU default",
    "resnet18": "ResNet-18 with a 3x3 stride-1 stem and no max-pool, 512-d features; the GPU default",
}


class Encoder(nn.Module):
    def __init__(self, body: nn.Module, feature_dim: int, name: str):
        super().__init__()
        self.body = body
        self.feature_dim = feature_dim
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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


def build_encoder(name: str, in_channels: int) -> Encoder:
    if name == "cnn-small":
        return cnn_small(in_channels)
    if name == "resnet18":
        return resnet18(in_channels)
    raise ValueError(f"unknown encoder {name!r}: choose one of {', '.join(ENCODERS)}")


def mlp(dims: list[int], last_bn: bool = False) -> nn.Sequential:
    """Linear-BN-ReLU blocks, ending with a plain Linear (optionally BN'd)."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1], bias=i < len(dims) - 2 or not last_bn))
        if i < len(dims) - 2:
            layers += [nn.BatchNorm1d(dims[i + 1]), nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(dims[i + 1], affine=False))
    return nn.Sequential(*layers)
