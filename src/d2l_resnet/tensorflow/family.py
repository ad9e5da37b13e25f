"""The ResNet family for Keras: paper-faithful blocks and one builder for every variant.

The conventions are the papers': no bias in a convolution followed by batch
normalization, batch normalization on projection shortcuts, a shortcut projection
only where the shape changes. ``d2l_resnet.variants`` holds the variants as data.
Padding is explicit and symmetric, so the numbers match ``d2l_resnet.torch.family``.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.keras import layers

from ..variants import Variant, variant
from .blocks import batch_norm


def conv(out_channels, kernel_size, stride=1, groups=1):
    """A bias-free convolution that keeps the size at stride 1 (symmetric padding)."""
    pad = [layers.ZeroPadding2D(kernel_size // 2)] if kernel_size > 1 else []
    return tf.keras.Sequential(pad + [layers.Conv2D(
        out_channels, kernel_size, strides=stride, groups=groups, use_bias=False)])


def conv_bn(out_channels, kernel_size, stride=1, groups=1):
    """A bias-free convolution, then batch norm."""
    return tf.keras.Sequential([conv(out_channels, kernel_size, stride, groups),
                                batch_norm()])


def projection(in_channels, out_channels, stride, with_bn=True):
    """The shortcut: identity if the shape is kept, else a 1x1 convolution."""
    if in_channels == out_channels and stride == 1:
        return None
    return conv_bn(out_channels, 1, stride) if with_bn else conv(out_channels, 1, stride)


class BasicBlock(layers.Layer):
    """Two 3x3 convolutions (He et al., 2016a, Fig. 5 left); shortcut optional."""

    def __init__(self, in_channels, out_channels, stride=1, shortcut=True, **kwargs):
        super().__init__(**kwargs)
        self.branch = tf.keras.Sequential([
            conv_bn(out_channels, 3, stride), layers.ReLU(), conv_bn(out_channels, 3)])
        self.use_shortcut = shortcut
        self.shortcut = projection(in_channels, out_channels, stride) if shortcut else None

    def call(self, X, training=None):
        Y = self.branch(X, training=training)
        if self.use_shortcut:
            Y = Y + (X if self.shortcut is None else self.shortcut(X, training=training))
        return tf.nn.relu(Y)


class Bottleneck(layers.Layer):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand (He et al., 2016a, Fig. 5
    right; Xie et al., 2017, Fig. 3c). ``stride_on`` picks the convolution that
    downsamples: the paper's ResNets use the first 1x1, ResNeXt the 3x3."""

    def __init__(self, in_channels, out_channels, bot_channels, stride=1, groups=1,
                 stride_on="1x1", shortcut=True, **kwargs):
        super().__init__(**kwargs)
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.branch = tf.keras.Sequential([
            conv_bn(bot_channels, 1, s1), layers.ReLU(),
            conv_bn(bot_channels, 3, s3, groups), layers.ReLU(),
            conv_bn(out_channels, 1)])
        self.use_shortcut = shortcut
        self.shortcut = projection(in_channels, out_channels, stride) if shortcut else None

    def call(self, X, training=None):
        Y = self.branch(X, training=training)
        if self.use_shortcut:
            Y = Y + (X if self.shortcut is None else self.shortcut(X, training=training))
        return tf.nn.relu(Y)


class PreActBlock(layers.Layer):
    """Pre-activation basic block (He et al., 2016b, Fig. 1b): BN, ReLU, conv, twice.

    Nothing follows the addition, so the shortcuts form a clean path from the
    input to the output. A projection shortcut reads the pre-activated input.
    """

    def __init__(self, in_channels, out_channels, stride=1, shortcut=True, **kwargs):
        super().__init__(**kwargs)
        self.bn1 = batch_norm()
        self.conv1 = conv(out_channels, 3, stride)
        self.bn2 = batch_norm()
        self.conv2 = conv(out_channels, 3)
        self.use_shortcut = shortcut
        self.shortcut = (projection(in_channels, out_channels, stride, with_bn=False)
                         if shortcut else None)

    def call(self, X, training=None):
        A = tf.nn.relu(self.bn1(X, training=training))
        Y = self.conv1(A)
        Y = self.conv2(tf.nn.relu(self.bn2(Y, training=training)))
        if not self.use_shortcut:
            return Y
        # The identity adds X itself; a projection reads the pre-activated A.
        return Y + (X if self.shortcut is None else self.shortcut(A))


class PreActBottleneck(layers.Layer):
    """Pre-activation bottleneck (He et al., 2016b): (BN, ReLU, conv) x 3."""

    def __init__(self, in_channels, out_channels, bot_channels, stride=1, groups=1,
                 stride_on="1x1", shortcut=True, **kwargs):
        super().__init__(**kwargs)
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.bn1 = batch_norm()
        self.conv1 = conv(bot_channels, 1, s1)
        self.bn2 = batch_norm()
        self.conv2 = conv(bot_channels, 3, s3, groups)
        self.bn3 = batch_norm()
        self.conv3 = conv(out_channels, 1)
        self.use_shortcut = shortcut
        self.shortcut = (projection(in_channels, out_channels, stride, with_bn=False)
                         if shortcut else None)

    def call(self, X, training=None):
        A = tf.nn.relu(self.bn1(X, training=training))
        Y = self.conv1(A)
        Y = self.conv2(tf.nn.relu(self.bn2(Y, training=training)))
        Y = self.conv3(tf.nn.relu(self.bn3(Y, training=training)))
        if not self.use_shortcut:
            return Y
        return Y + (X if self.shortcut is None else self.shortcut(A))


class FamilyResNet(tf.keras.Model):
    """A network of the ResNet family; ``build_resnet`` makes one from a variant."""

    def __init__(self, net, spec: Variant, in_channels: int, lr: float, **kwargs):
        super().__init__(**kwargs)
        self.net, self.spec, self.in_channels, self.lr = net, spec, in_channels, lr

    def call(self, X, training=None):
        shape = tuple(X.shape)
        if len(shape) != 4:
            raise ValueError(
                f"expected a 4-D batch of images (batch, height, width, channels), "
                f"got shape {shape}; add a batch axis with tf.expand_dims(X, 0)")
        if shape[-1] is not None and shape[-1] != self.in_channels:
            hint = (": the input looks channels-first (NCHW), use "
                    "tf.transpose(X, (0, 2, 3, 1))" if shape[1] == self.in_channels else "")
            raise ValueError(
                f"{self.spec.name} was built for {self.in_channels} input channels, got "
                f"input of shape {shape} (NHWC){hint}")
        return self.net(X, training=training)


def build_resnet(spec, num_classes=1000, in_channels=3, lr=0.1) -> FamilyResNet:
    """Builds the network described by ``spec`` (a ``Variant`` or its name).

    Example: ``build_resnet("ResNet-50")`` is the paper's ImageNet ResNet-50;
    ``build_resnet(cifar_variant(56, shortcuts=False), 10, 1)`` a 56-layer plain net.
    """
    spec = variant(spec) if isinstance(spec, str) else spec
    if not isinstance(spec, Variant):
        raise TypeError(f"spec must be a Variant or a variant name, got {spec!r}")
    c = spec.stem_channels
    if spec.stem == "imagenet":
        stem = tf.keras.Sequential([
            conv(c, 7, 2), batch_norm(), layers.ReLU(),
            # Zero padding is safe here: after the ReLU every value is >= 0.
            layers.ZeroPadding2D(1), layers.MaxPool2D(3, strides=2)], name="stem")
    else:
        stem = tf.keras.Sequential([conv(c, 3), batch_norm(), layers.ReLU()], name="stem")
    kind = {("basic", False): BasicBlock, ("basic", True): PreActBlock,
            ("bottleneck", False): Bottleneck, ("bottleneck", True): PreActBottleneck}
    block = kind[spec.block, spec.preact]
    net = tf.keras.Sequential([stem], name="net")
    for s, stage in enumerate(spec.block_args()):
        net.add(tf.keras.Sequential([block(**args) for args in stage], name=f"stage{s + 1}"))
    c = spec.widths[-1]
    head = [batch_norm(), layers.ReLU()] if spec.preact else []
    net.add(tf.keras.Sequential(
        head + [layers.GlobalAveragePooling2D(), layers.Dense(num_classes)], name="head"))
    return FamilyResNet(net, spec, in_channels, lr)


def gradient_norms(model, X, y) -> list[float]:
    """L2 norm of the loss gradient for each convolution's kernel, input to output
    (shortcut projections left out), after one forward and backward pass in
    training mode."""
    model(X[:1], training=False)  # build
    kernels = [conv.kernel for conv in _main_path_convs(model)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
            y, model(X, training=True), from_logits=True))
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


def _main_path_convs(layer):
    """Conv2D layers depth-first in build order, skipping every block's shortcut."""
    found = []
    for sub in layer._flatten_layers(include_self=False, recursive=False):
        if isinstance(sub, layers.Conv2D):
            found.append(sub)
        elif sub is not getattr(layer, "shortcut", None):
            found += _main_path_convs(sub)
    return found
