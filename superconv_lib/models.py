"""The networks of the papers: Caffe's LeNet, He et al.'s CIFAR ResNets, ResNet-18, a plain CNN.

Plain ``nn.Module`` code a reader can hold in their head. ``bn=False`` variants exist because
Smith & Topin's indicator contrasts networks with and without batch normalisation.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["lenet", "resnet_cifar", "resnet18", "plain_cnn", "MODELS", "build", "count_params"]


def lenet(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    """Caffe's MNIST LeNet (``lenet_train_test.prototxt``): conv20-5, pool, conv50-5, pool, fc500,
    relu, fc10. It has no ReLU after the convolutions, exactly as Caffe's example."""
    side = ((image_size - 4) // 2 - 4) // 2
    if side < 1:
        raise ValueError(f"image_size must be at least 16 for LeNet's two 5x5 convs, got {image_size}.")
    return nn.Sequential(
        nn.Conv2d(in_channels, 20, 5), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(50 * side * side, 500),
        nn.ReLU(inplace=True), nn.Linear(500, num_classes),
    )


def _norm(channels: int, bn: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if bn else nn.Identity()


class _Basic(nn.Module):
    """Two 3x3 convolutions with a shortcut; projection shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int, bn: bool, option_a: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=not bn)
        self.bn1 = _norm(cout, bn)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=not bn)
        self.bn2 = _norm(cout, bn)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            if option_a:  # He et al. CIFAR: subsample and zero-pad channels, no parameters
                self.shortcut = _PadShortcut(cout - cin, stride)
            else:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=not bn),
                                              _norm(cout, bn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _PadShortcut(nn.Module):
    def __init__(self, extra: int, stride: int) -> None:
        super().__init__()
        self.extra, self.stride = extra, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class _ResNet(nn.Module):
    def __init__(self, blocks: list[int], widths: list[int], num_classes: int, in_channels: int,
                 bn: bool, option_a: bool) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=not bn),
                                  _norm(widths[0], bn), nn.ReLU(inplace=True))
        layers, cin = [], widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(_Basic(cin, w, stride, bn, option_a))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def resnet_cifar(depth: int = 20, num_classes: int = 10, *, in_channels: int = 3,
                 bn: bool = True) -> nn.Module:
    """He et al. (2016) CIFAR ResNet of ``depth = 6n + 2`` layers (8, 20, 56, 110, …): three stages
    of n basic blocks at 16/32/64 channels, parameter-free (option A) shortcuts.

    ResNet-56 is the network of Smith & Topin's super-convergence experiments. ``bn=False`` drops
    every batch norm (convolutions get biases), for the indicator's "no BN" contrast.
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, …); got {depth!r}.")
    n = (depth - 2) // 6
    return _ResNet([n, n, n], [16, 32, 64], num_classes, in_channels, bn, option_a=True)


def resnet18(num_classes: int = 10, *, in_channels: int = 3, bn: bool = True) -> nn.Module:
    """ResNet-18, the common CIFAR variant (3x3 stem, no max-pool; 64-128-256-512 channels,
    projection shortcuts), as used by the EPFL super-convergence experiments."""
    return _ResNet([2, 2, 2, 2], [64, 128, 256, 512], num_classes, in_channels, bn, option_a=False)


def plain_cnn(num_classes: int = 10, *, in_channels: int = 3, width: int = 32,
              bn: bool = False) -> nn.Module:
    """A plain (non-residual) CNN: three conv-conv-pool stages and a linear head. Without batch
    norm it is the kind of network that does *not* super-converge (its test accuracy collapses
    at large learning rates in the indicator's range test)."""
    def stage(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=not bn), _norm(cout, bn), nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=not bn), _norm(cout, bn), nn.ReLU(inplace=True),
                nn.MaxPool2d(2)]
    w = width
    return nn.Sequential(*stage(in_channels, w), *stage(w, 2 * w), *stage(2 * w, 4 * w),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, num_classes))


MODELS = {
    "lenet": lenet,
    "resnet8": lambda **kw: resnet_cifar(8, **kw),
    "resnet20": lambda **kw: resnet_cifar(20, **kw),
    "resnet56": lambda **kw: resnet_cifar(56, **kw),
    "resnet110": lambda **kw: resnet_cifar(110, **kw),
    "resnet18": resnet18,
    "plain_cnn": plain_cnn,
}


def build(name: str, **kwargs) -> nn.Module:
    """Build a model by name (``MODELS`` keys), e.g. ``build("resnet56", bn=False)`` — for widgets."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}.")
    return MODELS[name](**kwargs)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
