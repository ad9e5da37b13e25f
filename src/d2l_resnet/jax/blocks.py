"""Residual and ResNeXt blocks (He et al., 2016; Xie et al., 2017) for Flax NNX.

NNX builds every weight when a module is created, so a block needs the number of
input channels that PyTorch's lazy layers and Keras infer from the first input:
``in_channels``, by default the block's output channels.
"""

from flax import nnx

from ..runtime import check_positive_int
from .layers import BatchNorm, conv, default_rngs


class Residual(nnx.Module):
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
        in_channels: Channels of the input (NHWC); by default ``num_channels``.
        rngs: Random keys for the weights; by default the library's, which
            ``seed_everything`` reseeds.
    """

    def __init__(
        self,
        num_channels,
        use_1x1conv=False,
        strides=1,
        *,
        in_channels=None,
        rngs=None,
    ):
        in_channels = num_channels if in_channels is None else in_channels
        check_shortcut(in_channels, num_channels, strides, use_1x1conv)
        rngs = rngs or default_rngs()
        # No bias before batch normalization: its shift beta makes a bias
        # redundant.
        self.conv1 = conv(
            in_channels, num_channels, 3, stride=strides, rngs=rngs
        )
        self.bn1 = BatchNorm(num_channels)
        self.conv2 = conv(num_channels, num_channels, 3, rngs=rngs)
        self.bn2 = BatchNorm(num_channels)
        if use_1x1conv:
            self.conv3 = conv(
                in_channels,
                num_channels,
                1,
                stride=strides,
                use_bias=True,
                rngs=rngs,
            )
        else:
            self.conv3 = None

    def __call__(self, X):
        Y = nnx.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        return nnx.relu(Y + X)


class ResNeXtBlock(nnx.Module):
    """The ResNeXt block (Xie et al., 2017, Fig. 3c): 1x1, grouped 3x3, 1x1.

    Args:
        num_channels: Output channels c of the block.
        groups: Number of groups g of the 3x3 convolution (the paper's
            cardinality). Each group sees b/g of the b bottleneck channels.
        bot_mul: Bottleneck multiplier: b = round(num_channels * bot_mul).
        use_1x1conv: Put a 1x1 convolution with batch normalization on the
            shortcut (needed whenever the output shape differs from the input).
        strides: Stride of the 3x3 convolution and of the shortcut.
        in_channels: Channels of the input (NHWC); by default ``num_channels``.
        rngs: Random keys for the weights; by default the library's.
    """

    def __init__(
        self,
        num_channels,
        groups,
        bot_mul,
        use_1x1conv=False,
        strides=1,
        *,
        in_channels=None,
        rngs=None,
    ):
        in_channels = num_channels if in_channels is None else in_channels
        check_shortcut(in_channels, num_channels, strides, use_1x1conv)
        bot_channels = int(round(num_channels * bot_mul))
        if groups < 1 or bot_channels < 1 or bot_channels % groups:
            raise ValueError(
                f"groups={groups} must divide the {bot_channels} bottleneck "
                f"channels (num_channels * bot_mul); choose a divisor of "
                f"{bot_channels} or change num_channels or bot_mul"
            )
        rngs = rngs or default_rngs()
        self.conv1 = conv(in_channels, bot_channels, 1, rngs=rngs)
        self.bn1 = BatchNorm(bot_channels)
        self.conv2 = conv(
            bot_channels,
            bot_channels,
            3,
            stride=strides,
            groups=groups,
            rngs=rngs,
        )
        self.bn2 = BatchNorm(bot_channels)
        self.conv3 = conv(bot_channels, num_channels, 1, rngs=rngs)
        self.bn3 = BatchNorm(num_channels)
        if use_1x1conv:
            self.conv4 = conv(
                in_channels, num_channels, 1, stride=strides, rngs=rngs
            )
            self.bn4 = BatchNorm(num_channels)
        else:
            self.conv4 = None

    def __call__(self, X):
        Y = nnx.relu(self.bn1(self.conv1(X)))
        Y = nnx.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.conv4 is not None:
            X = self.bn4(self.conv4(X))
        return nnx.relu(Y + X)


def check_shortcut(in_channels, num_channels, strides, use_1x1conv):
    for name, value in (
        ("num_channels", num_channels),
        ("in_channels", in_channels),
        ("strides", strides),
    ):
        check_positive_int(name, value)
    if not use_1x1conv and (in_channels != num_channels or strides != 1):
        raise ValueError(
            f"the identity shortcut cannot add an input of {in_channels} channels at "
            f"stride {strides} to an output of {num_channels} channels: pass "
            f"use_1x1conv=True"
        )
