"""Residual and ResNeXt blocks (He et al., 2016; Xie et al., 2017) for Keras."""

import tensorflow as tf
from tensorflow.keras import layers

from .layers import batch_norm


class Residual(tf.keras.layers.Layer):
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

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        # Pad explicitly: padding='same' pads unevenly when strides=2.
        self.pad1 = layers.ZeroPadding2D(1)
        # No bias before batch normalization: its shift beta makes a bias
        # redundant.
        self.conv1 = layers.Conv2D(
            num_channels, kernel_size=3, strides=strides, use_bias=False
        )
        self.bn1 = batch_norm()
        self.conv2 = layers.Conv2D(
            num_channels, kernel_size=3, padding="same", use_bias=False
        )
        self.bn2 = batch_norm()
        if use_1x1conv:
            self.conv3 = layers.Conv2D(
                num_channels, kernel_size=1, strides=strides
            )
        else:
            self.conv3 = None

    def call(self, X, training=None):
        Y = tf.nn.relu(self.bn1(self.conv1(self.pad1(X)), training=training))
        Y = self.bn2(self.conv2(Y), training=training)
        if self.conv3 is not None:
            X = self.conv3(X)
        return tf.nn.relu(Y + X)


class ResNeXtBlock(tf.keras.layers.Layer):
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
        self,
        num_channels,
        groups,
        bot_mul,
        use_1x1conv=False,
        strides=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        bot_channels = int(round(num_channels * bot_mul))
        if groups < 1 or bot_channels % groups:
            raise ValueError(
                f"groups={groups} must divide the {bot_channels} bottleneck "
                f"channels (num_channels * bot_mul); choose a divisor of "
                f"{bot_channels} or change num_channels or bot_mul"
            )
        self.conv1 = layers.Conv2D(bot_channels, kernel_size=1, use_bias=False)
        self.bn1 = batch_norm()
        self.pad2 = layers.ZeroPadding2D(1)
        self.conv2 = layers.Conv2D(
            bot_channels,
            kernel_size=3,
            strides=strides,
            groups=groups,
            use_bias=False,
        )
        self.bn2 = batch_norm()
        self.conv3 = layers.Conv2D(num_channels, kernel_size=1, use_bias=False)
        self.bn3 = batch_norm()
        if use_1x1conv:
            self.conv4 = layers.Conv2D(
                num_channels, kernel_size=1, strides=strides, use_bias=False
            )
            self.bn4 = batch_norm()
        else:
            self.conv4 = None

    def call(self, X, training=None):
        Y = tf.nn.relu(self.bn1(self.conv1(X), training=training))
        Y = tf.nn.relu(self.bn2(self.conv2(self.pad2(Y)), training=training))
        Y = self.bn3(self.conv3(Y), training=training)
        if self.conv4 is not None:
            X = self.bn4(self.conv4(X), training=training)
        return tf.nn.relu(Y + X)
