"""Residual and ResNeXt blocks (He et al., 2016; Xie et al., 2017) for PyTorch."""

from torch import nn
from torch.nn import functional as F


class Residual(nn.Module):
    """The basic residual block of ResNet-18 and ResNet-34 (He et al., 2016,
    Fig. 2).

    Two 3x3 convolutions, each followed by batch normalization, compute the
    residual g(x); the block returns ReLU(g(x) + x). When the block changes
    the number of channels or the resolution, a 1x1 convolution reshapes x on
    the shortcut.

    Args:
        num_channels: Output channels of both 3x3 convolutions.
        use_1x1conv: Put a 1x1 convolution on the shortcut (needed whenever the
            output shape differs from the input shape).
        strides: Stride of the first 3x3 convolution and of the 1x1 shortcut;
            2 halves height and width.
    """

    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        # No bias before batch normalization: its shift beta makes a bias
        # redundant.
        self.conv1 = nn.LazyConv2d(
            num_channels, kernel_size=3, padding=1, stride=strides, bias=False
        )
        self.bn1 = nn.LazyBatchNorm2d()
        self.conv2 = nn.LazyConv2d(
            num_channels, kernel_size=3, padding=1, bias=False
        )
        self.bn2 = nn.LazyBatchNorm2d()
        if use_1x1conv:
            self.conv3 = nn.LazyConv2d(
                num_channels, kernel_size=1, stride=strides
            )
        else:
            self.conv3 = None

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        return F.relu(Y + X)


class ResNeXtBlock(nn.Module):
    """The ResNeXt block (Xie et al., 2017, Fig. 3c): 1x1, grouped 3x3, 1x1.

    Args:
        num_channels: Output channels c of the block.
        groups: Number of groups g of the 3x3 convolution (the paper's
            cardinality). Each group sees b/g of the b bottleneck channels.
        bot_mul: Bottleneck multiplier: b = round(num_channels * bot_mul).
        use_1x1conv: Put a 1x1 convolution with batch normalization on the
            shortcut (needed whenever the output shape differs from the input).
        strides: Stride of the 3x3 convolution and of the shortcut.
    """

    def __init__(
        self, num_channels, groups, bot_mul, use_1x1conv=False, strides=1
    ):
        super().__init__()
        bot_channels = int(round(num_channels * bot_mul))
        if groups < 1 or bot_channels % groups:
            raise ValueError(
                f"groups={groups} must divide the {bot_channels} bottleneck "
                f"channels (num_channels * bot_mul); choose a divisor of "
                f"{bot_channels} or change num_channels or bot_mul"
            )
        self.conv1 = nn.LazyConv2d(bot_channels, kernel_size=1, bias=False)
        self.bn1 = nn.LazyBatchNorm2d()
        self.conv2 = nn.LazyConv2d(
            bot_channels,
            kernel_size=3,
            padding=1,
            stride=strides,
            groups=groups,
            bias=False,
        )
        self.bn2 = nn.LazyBatchNorm2d()
        self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, bias=False)
        self.bn3 = nn.LazyBatchNorm2d()
        if use_1x1conv:
            self.conv4 = nn.LazyConv2d(
                num_channels, kernel_size=1, stride=strides, bias=False
            )
            self.bn4 = nn.LazyBatchNorm2d()
        else:
            self.conv4 = None

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.conv4 is not None:
            X = self.bn4(self.conv4(X))
        return F.relu(Y + X)
