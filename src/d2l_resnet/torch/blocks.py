"""The blocks of the ResNet family for PyTorch (He et al., 2016a, 2016b; Xie et
al., 2017).

One convention throughout, the papers': no bias in a convolution that batch
normalization follows, and a projection shortcut (a 1x1 convolution with batch
normalization) only where the block changes the shape, the identity elsewhere.
``shortcut=False`` removes the shortcut: the block of a *plain* network.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..runtime import check_block


def projection(
    in_channels: int, out_channels: int, stride: int, with_bn: bool = True
) -> nn.Module | None:
    """The shortcut: None (the identity) if the shape is kept, else a 1x1
    convolution, followed by batch normalization unless ``with_bn=False``."""
    if in_channels == out_channels and stride == 1:
        return None
    conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
    return (
        nn.Sequential(conv, nn.BatchNorm2d(out_channels)) if with_bn else conv
    )


class BasicBlock(nn.Module):
    """The residual block of ResNet-18 and ResNet-34 (He et al., 2016a,
    Fig. 2).

    Two 3x3 convolutions, each followed by batch normalization, compute the
    residual g(x); the block returns ReLU(g(x) + x). Where the block changes
    the number of channels or the resolution, a 1x1 convolution with batch
    normalization reshapes x on the shortcut.

    Args:
        in_channels: Channels of the input.
        out_channels: Output channels of both 3x3 convolutions.
        stride: Stride of the first 3x3 convolution and of the shortcut;
            2 halves height and width.
        shortcut: False removes the shortcut (a block of a plain network).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        check_block(in_channels, out_channels, stride)
        # No bias before batch normalization: its shift beta makes a bias
        # redundant.
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride) if shortcut else None
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.use_shortcut:
            if self.shortcut is not None:
                X = self.shortcut(X)
            Y = Y + X
        return F.relu(Y)


class Bottleneck(nn.Module):
    """The bottleneck block of ResNet-50 and deeper (He et al., 2016a, Fig. 5
    right) and, with ``groups > 1``, the ResNeXt block (Xie et al., 2017,
    Fig. 3c): a 1x1 convolution reduces the channels to ``bot_channels``, a
    3x3 convolution in ``groups`` groups works on them, a 1x1 convolution
    restores ``out_channels``.

    Args:
        in_channels: Channels of the input.
        out_channels: Output channels of the block.
        bot_channels: Channels inside the bottleneck.
        stride: 2 halves height and width.
        groups: Groups of the 3x3 convolution (ResNeXt's cardinality); each
            sees bot_channels / groups channels.
        stride_on: The convolution that carries the stride: ``"1x1"``, the
            first one, as in the ResNet paper, or ``"3x3"``, as in ResNeXt.
        shortcut: False removes the shortcut (a block of a plain network).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bot_channels: int,
        stride: int = 1,
        groups: int = 1,
        stride_on: str = "1x1",
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        check_block(
            in_channels, out_channels, stride, bot_channels, groups, stride_on
        )
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.conv1 = nn.Conv2d(in_channels, bot_channels, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(bot_channels)
        self.conv2 = nn.Conv2d(
            bot_channels, bot_channels, 3, s3, 1, groups=groups, bias=False
        )
        self.bn2 = nn.BatchNorm2d(bot_channels)
        self.conv3 = nn.Conv2d(bot_channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride) if shortcut else None
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.use_shortcut:
            if self.shortcut is not None:
                X = self.shortcut(X)
            Y = Y + X
        return F.relu(Y)


class PreActBlock(nn.Module):
    """Pre-activation basic block (He et al., 2016b, Fig. 1b): BN, ReLU,
    conv, twice.

    Nothing follows the addition, so the shortcuts form a clean path from the
    input to the output. A projection shortcut reads the pre-activated input.
    Arguments as for ``BasicBlock``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        check_block(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride, 1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride, with_bn=False)
            if shortcut
            else None
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        A = F.relu(self.bn1(X))
        Y = self.conv1(A)
        Y = self.conv2(F.relu(self.bn2(Y)))
        if not self.use_shortcut:
            return Y
        # The identity adds X itself; a projection reads the pre-activated A.
        return Y + (X if self.shortcut is None else self.shortcut(A))


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck (He et al., 2016b): (BN, ReLU, conv) x 3.
    Arguments as for ``Bottleneck``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bot_channels: int,
        stride: int = 1,
        groups: int = 1,
        stride_on: str = "1x1",
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        check_block(
            in_channels, out_channels, stride, bot_channels, groups, stride_on
        )
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, bot_channels, 1, s1, bias=False)
        self.bn2 = nn.BatchNorm2d(bot_channels)
        self.conv2 = nn.Conv2d(
            bot_channels, bot_channels, 3, s3, 1, groups=groups, bias=False
        )
        self.bn3 = nn.BatchNorm2d(bot_channels)
        self.conv3 = nn.Conv2d(bot_channels, out_channels, 1, bias=False)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride, with_bn=False)
            if shortcut
            else None
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        A = F.relu(self.bn1(X))
        Y = self.conv1(A)
        Y = self.conv2(F.relu(self.bn2(Y)))
        Y = self.conv3(F.relu(self.bn3(Y)))
        if not self.use_shortcut:
            return Y
        return Y + (X if self.shortcut is None else self.shortcut(A))
