"""The blocks of the ResNet family for Keras (He et al., 2016a, 2016b; Xie et
al., 2017), as in ``d2l_resnet.torch.blocks``.

``conv`` is Keras's ``Conv2D`` without bias, padded symmetrically as PyTorch
pads, so that the numbers of the two frameworks agree; ``batch_norm`` is
Keras's batch normalization with PyTorch's defaults (``layers.py``).
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.keras import layers

from ..runtime import check_block
from .layers import batch_norm


def conv(
    out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1
) -> layers.Layer:
    """A bias-free convolution that keeps the size at stride 1 (symmetric
    padding).

    At stride 1, Keras' ``padding='same'`` is exactly that symmetric padding
    (odd kernels) and costs no extra op; a strided convolution pads explicitly,
    because 'same' would pad an even-sized input at the bottom and right only.
    """
    if stride == 1 and kernel_size % 2 == 1:
        return layers.Conv2D(
            out_channels,
            kernel_size,
            padding="same",
            groups=groups,
            use_bias=False,
        )
    pad = [layers.ZeroPadding2D(kernel_size // 2)] if kernel_size > 1 else []
    return tf.keras.Sequential(
        pad
        + [
            layers.Conv2D(
                out_channels,
                kernel_size,
                strides=stride,
                groups=groups,
                use_bias=False,
            )
        ]
    )


def projection(
    in_channels: int, out_channels: int, stride: int, with_bn: bool = True
) -> layers.Layer | None:
    """The shortcut: None (the identity) if the shape is kept, else a 1x1
    convolution, followed by batch normalization unless ``with_bn=False``."""
    if in_channels == out_channels and stride == 1:
        return None
    proj = conv(out_channels, 1, stride)
    return tf.keras.Sequential([proj, batch_norm()]) if with_bn else proj


class BasicBlock(layers.Layer):
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
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        check_block(in_channels, out_channels, stride)
        # No bias before batch normalization: its shift beta makes a bias
        # redundant (conv has none).
        self.conv1 = conv(out_channels, 3, stride)
        self.bn1 = batch_norm()
        self.conv2 = conv(out_channels, 3)
        self.bn2 = batch_norm()
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride) if shortcut else None
        )

    def call(self, X: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        Y = tf.nn.relu(self.bn1(self.conv1(X), training=training))
        Y = self.bn2(self.conv2(Y), training=training)
        if self.use_shortcut:
            if self.shortcut is not None:
                X = self.shortcut(X, training=training)
            Y = Y + X
        return tf.nn.relu(Y)


class Bottleneck(layers.Layer):
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
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        check_block(
            in_channels, out_channels, stride, bot_channels, groups, stride_on
        )
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.conv1 = conv(bot_channels, 1, s1)
        self.bn1 = batch_norm()
        self.conv2 = conv(bot_channels, 3, s3, groups)
        self.bn2 = batch_norm()
        self.conv3 = conv(out_channels, 1)
        self.bn3 = batch_norm()
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride) if shortcut else None
        )

    def call(self, X: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        Y = tf.nn.relu(self.bn1(self.conv1(X), training=training))
        Y = tf.nn.relu(self.bn2(self.conv2(Y), training=training))
        Y = self.bn3(self.conv3(Y), training=training)
        if self.use_shortcut:
            if self.shortcut is not None:
                X = self.shortcut(X, training=training)
            Y = Y + X
        return tf.nn.relu(Y)


class PreActBlock(layers.Layer):
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
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        check_block(in_channels, out_channels, stride)
        self.bn1 = batch_norm()
        self.conv1 = conv(out_channels, 3, stride)
        self.bn2 = batch_norm()
        self.conv2 = conv(out_channels, 3)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride, with_bn=False)
            if shortcut
            else None
        )

    def call(self, X: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        A = tf.nn.relu(self.bn1(X, training=training))
        Y = self.conv1(A)
        Y = self.conv2(tf.nn.relu(self.bn2(Y, training=training)))
        if not self.use_shortcut:
            return Y
        # The identity adds X itself; a projection reads the pre-activated A.
        return Y + (X if self.shortcut is None else self.shortcut(A))


class PreActBottleneck(layers.Layer):
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
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        check_block(
            in_channels, out_channels, stride, bot_channels, groups, stride_on
        )
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.bn1 = batch_norm()
        self.conv1 = conv(bot_channels, 1, s1)
        self.bn2 = batch_norm()
        self.conv2 = conv(bot_channels, 3, s3, groups)
        self.bn3 = batch_norm()
        self.conv3 = conv(out_channels, 1)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride, with_bn=False)
            if shortcut
            else None
        )

    def call(self, X: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        A = tf.nn.relu(self.bn1(X, training=training))
        Y = self.conv1(A)
        Y = self.conv2(tf.nn.relu(self.bn2(Y, training=training)))
        Y = self.conv3(tf.nn.relu(self.bn3(Y, training=training)))
        if not self.use_shortcut:
            return Y
        return Y + (X if self.shortcut is None else self.shortcut(A))
