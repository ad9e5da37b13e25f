"""The ResNet family's networks for PyTorch, built from a ``Variant``."""

from __future__ import annotations

import torch
from torch import nn

from ..runtime import check_images, check_positive_int
from ..variants import Variant, as_variant
from .blocks import BasicBlock, Bottleneck, PreActBlock, PreActBottleneck

# The block class of each kind, by the name that Variant.block_class gives.
BLOCKS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)
}


class ResNet(nn.Module):
    """A network of the ResNet family: a stem, stages of residual blocks,
    global average pooling and a classifier.

    Args:
        spec: The network, as a ``Variant`` or its name (``"ResNet-18"``).
        num_classes: Outputs of the final fully connected layer.
        in_channels: Channels of the input images (1 for Fashion-MNIST).
        lr: Learning rate that ``Trainer`` uses for this model.
    """

    def __init__(
        self,
        spec: Variant | str,
        num_classes: int = 1000,
        in_channels: int = 3,
        lr: float = 0.1,
    ) -> None:
        super().__init__()
        self.spec = as_variant(spec)
        check_positive_int("num_classes", num_classes)
        check_positive_int("in_channels", in_channels)
        self.in_channels, self.lr = in_channels, lr
        self.net = nn.Sequential()
        self.net.add_module("stem", self.stem(self.spec, in_channels))
        block = BLOCKS[self.spec.block_class]
        # One dict of constructor arguments per block, stage by stage.
        for i, stage in enumerate(self.spec.block_args()):
            blocks = [block(**args) for args in stage]
            self.net.add_module(f"stage{i + 1}", nn.Sequential(*blocks))
        self.net.add_module("head", self.head(self.spec, num_classes))

    @staticmethod
    def stem(spec: Variant, in_channels: int) -> nn.Sequential:
        """ImageNet's: a 7x7 convolution with stride 2, then 3x3 max-pooling
        with stride 2. CIFAR's: one 3x3 convolution."""
        c = spec.stem_channels
        if spec.stem == "cifar":
            conv = nn.Conv2d(in_channels, c, 3, padding=1, bias=False)
            return nn.Sequential(conv, nn.BatchNorm2d(c), nn.ReLU())
        return nn.Sequential(
            nn.Conv2d(in_channels, c, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    @staticmethod
    def head(spec: Variant, num_classes: int) -> nn.Sequential:
        """Global average pooling and a fully connected layer (after batch
        normalization and ReLU in a pre-activation network)."""
        c = spec.widths[-1]
        preact = [nn.BatchNorm2d(c), nn.ReLU()] if spec.preact else []
        return nn.Sequential(
            *preact,
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
            nn.Linear(c, num_classes),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X.shape, "pytorch", self.in_channels, self.spec.name)
        return self.net(X)
