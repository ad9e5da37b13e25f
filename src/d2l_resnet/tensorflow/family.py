"""The ResNet family for Keras: paper-faithful blocks and one builder for every variant.

The conventions are the papers': no bias in a convolution followed by batch
normalization, batch normalization on projection shortcuts, a shortcut projection
only where the shape changes. ``d2l_resnet.variants`` holds the variants as data.
Padding is symmetric ('same' at stride 1, explicit where strided), so the numbers
match ``d2l_resnet.torch.family``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers

from ..runtime import check_images
from ..variants import Variant, as_variant, check_lesion_inputs, lesion_result
from .layers import batch_norm


def conv(
    out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1
) -> layers.Layer:
    """A bias-free convolution that keeps the size at stride 1 (symmetric padding).

    At stride 1, Keras' ``padding='same'`` is exactly that symmetric padding (odd
    kernels) and costs no extra op; a strided convolution pads explicitly, because
    'same' would pad an even-sized input at the bottom and right only.
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


def conv_bn(
    out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1
) -> ConvBN:
    """A bias-free convolution, then batch norm."""
    return ConvBN(out_channels, kernel_size, stride, groups)


class ConvBN(layers.Layer):
    """A bias-free convolution, then batch norm, as one layer.

    Not a ``Sequential``: it builds from the input shape alone, while Keras builds a
    ``Sequential`` or a layer without ``build`` by tracing its computation once more,
    a cost that every new model pays before its first step.
    """

    def __init__(
        self,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.conv = conv(out_channels, kernel_size, stride, groups)
        self.bn = batch_norm()

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return self.conv.compute_output_shape(input_shape)

    def call(self, X: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        return self.bn(self.conv(X), training=training)


class _BuildsFromShapes:
    """``build`` and ``compute_output_shape`` of a block with a ``branch``, a
    ``shortcut`` or neither, and sublayers that build from shapes: no tracing."""

    branch: layers.Layer  # set by the block's __init__

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        for name in ("branch", "shortcut"):
            sub = getattr(self, name, None)
            if sub is not None:
                sub.build(input_shape)

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return self.branch.compute_output_shape(input_shape)


def projection(
    in_channels: int, out_channels: int, stride: int, with_bn: bool = True
) -> layers.Layer | None:
    """The shortcut: identity if the shape is kept, else a 1x1 convolution."""
    if in_channels == out_channels and stride == 1:
        return None
    return (
        conv_bn(out_channels, 1, stride)
        if with_bn
        else conv(out_channels, 1, stride)
    )


class BasicBlock(_BuildsFromShapes, layers.Layer):
    """Two 3x3 convolutions (He et al., 2016a, Fig. 5 left); shortcut optional."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: bool = True,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.branch = tf.keras.Sequential(
            [
                conv_bn(out_channels, 3, stride),
                layers.ReLU(),
                conv_bn(out_channels, 3),
            ]
        )
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride) if shortcut else None
        )

    def call(self, X: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        Y = self.branch(X, training=training)
        if self.use_shortcut:
            Y = Y + (
                X
                if self.shortcut is None
                else self.shortcut(X, training=training)
            )
        return tf.nn.relu(Y)


class Bottleneck(layers.Layer):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand (He et al., 2016a,
    Fig. 5 right; Xie et al., 2017, Fig. 3c). ``stride_on`` picks the
    convolution that downsamples: the paper's ResNets use the first 1x1,
    ResNeXt the 3x3."""

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
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.branch = tf.keras.Sequential(
            [
                conv_bn(bot_channels, 1, s1),
                layers.ReLU(),
                conv_bn(bot_channels, 3, s3, groups),
                layers.ReLU(),
                conv_bn(out_channels, 1),
            ]
        )
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride) if shortcut else None
        )

    def call(self, X: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        Y = self.branch(X, training=training)
        if self.use_shortcut:
            Y = Y + (
                X
                if self.shortcut is None
                else self.shortcut(X, training=training)
            )
        return tf.nn.relu(Y)


class PreActBlock(layers.Layer):
    """Pre-activation basic block (He et al., 2016b, Fig. 1b): BN, ReLU,
    conv, twice.

    Nothing follows the addition, so the shortcuts form a clean path from the
    input to the output. A projection shortcut reads the pre-activated input.
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
    """Pre-activation bottleneck (He et al., 2016b): (BN, ReLU, conv) x 3."""

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


# The block class of each kind, by the name that Variant.block_class gives.
BLOCKS = {
    cls.__name__: cls
    for cls in (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)
}


class FamilyResNet(tf.keras.Model):
    """A network of the ResNet family; ``build_resnet`` makes one from a variant."""

    def __init__(
        self,
        net: tf.keras.Sequential,
        spec: Variant,
        in_channels: int,
        lr: float,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.net = net
        self.spec = spec
        self.in_channels = in_channels
        self.lr = lr

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        check_images(
            input_shape, "tensorflow", self.in_channels, self.spec.name
        )
        self.net.build(input_shape)

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return self.net.compute_output_shape(input_shape)

    def call(self, X: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        check_images(X.shape, "tensorflow", self.in_channels, self.spec.name)
        return self.net(X, training=training)


def build_resnet(
    spec: Variant | str,
    num_classes: int = 1000,
    in_channels: int = 3,
    lr: float = 0.1,
) -> FamilyResNet:
    """Builds the network described by ``spec`` (a ``Variant`` or its name).

    Example: ``build_resnet("ResNet-50")`` is the paper's ImageNet ResNet-50;
    ``build_resnet(cifar_variant(56, shortcuts=False), 10, 1)`` a 56-layer plain net.
    """
    spec = as_variant(spec)
    c = spec.stem_channels
    if spec.stem == "imagenet":
        stem = tf.keras.Sequential(
            [
                conv(c, 7, 2),
                batch_norm(),
                layers.ReLU(),
                # Zero padding is safe here: after the ReLU every value is >=
                # 0.
                layers.ZeroPadding2D(1),
                layers.MaxPool2D(3, strides=2),
            ],
            name="stem",
        )
    else:
        stem = tf.keras.Sequential(
            [conv(c, 3), batch_norm(), layers.ReLU()], name="stem"
        )
    block = BLOCKS[spec.block_class]
    net = tf.keras.Sequential([stem], name="net")
    for s, stage in enumerate(spec.block_args()):
        net.add(
            tf.keras.Sequential(
                [block(**args) for args in stage], name=f"stage{s + 1}"
            )
        )
    c = spec.widths[-1]
    head = [batch_norm(), layers.ReLU()] if spec.preact else []
    net.add(
        tf.keras.Sequential(
            head
            + [layers.GlobalAveragePooling2D(), layers.Dense(num_classes)],
            name="head",
        )
    )
    return FamilyResNet(net, spec, in_channels, lr)


def gradient_norms(
    model: tf.keras.Model, X: tf.Tensor, y: tf.Tensor
) -> list[float]:
    """L2 norm of the loss gradient for each convolution's kernel, input to output
    (shortcut projections left out), after one forward and backward pass in
    training mode."""
    model(X[:1], training=False)  # build
    kernels = [conv.kernel for conv in _main_path_convs(model)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(
            tf.keras.losses.sparse_categorical_crossentropy(
                y, model(X, training=True), from_logits=True
            )
        )
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


def _main_path_convs(layer: layers.Layer) -> list[layers.Conv2D]:
    """Conv2D layers depth-first in build order, skipping every block's shortcut."""
    found: list[layers.Conv2D] = []
    for sub in layer._flatten_layers(include_self=False, recursive=False):
        if isinstance(sub, layers.Conv2D):
            found.append(sub)
        elif sub is not getattr(layer, "shortcut", None):
            found += _main_path_convs(sub)
    return found


def lesion_accuracies(
    model: FamilyResNet,
    X: tf.Tensor | np.ndarray,
    y: tf.Tensor | np.ndarray,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Accuracy of ``model`` on ``(X, y)``, intact and with each block deleted in turn.

    The lesion experiment of Veit et al. (2016): deleting a block at test time makes
    it compute the identity, so that its input goes on to the next block unchanged.
    Only a block whose output has the shape of its input can be deleted (a residual
    block with an identity shortcut, or a plain block that keeps the shape); the
    first block of a stage that halves the resolution or changes the width cannot.
    The model runs in inference mode (batch norm with its running statistics) and
    in its own compute dtype (bfloat16 if the ``Trainer`` chose it). One compiled
    function serves every lesion: which blocks are kept is a tensor argument, so
    deleting another block does not trace the function again.

    Args:
        model: A ``FamilyResNet`` from ``build_resnet``.
        X: Images, NHWC, as the model takes them.
        y: Integer labels, one per image.
        batch_size: Images per forward pass.

    Returns:
        A dict with ``"intact"``: the accuracy of the whole model; ``"deleted"``: one
        accuracy per block, from the input to the output, NaN for a block that
        cannot be deleted; ``"skipped"``: the indices of those blocks.
    """
    X, y = tf.convert_to_tensor(X), tf.convert_to_tensor(y)
    check_lesion_inputs(
        model, FamilyResNet, X.shape[0], y.shape[0], batch_size
    )
    # builds the model, checks layout and channels
    model(X[:1], training=False)
    stages = [
        layer for layer in model.net.layers if layer.name.startswith("stage")
    ]
    blocks = [block for stage in stages for block in stage.layers]
    deletable = model.spec.deletable_blocks()
    stem, head = model.net.get_layer("stem"), model.net.get_layer("head")

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, *X.shape[1:]], X.dtype),
            tf.TensorSpec([None], y.dtype),
            tf.TensorSpec([len(blocks)], tf.bool),
        ]
    )
    def count_correct(
        X: tf.Tensor, y: tf.Tensor, keep: tf.Tensor
    ) -> tf.Tensor:
        H = stem(X, training=False)
        for k, block in enumerate(blocks):
            out = block(H, training=False)
            # A deleted block passes its input on; tf.where selects exactly.
            H = tf.where(keep[k], out, H) if deletable[k] else out
        predictions = tf.argmax(
            head(H, training=False), axis=1, output_type=y.dtype
        )
        return tf.reduce_sum(tf.cast(predictions == y, tf.int64))

    masks = [[True] * len(blocks)] + [
        [j != k for j in range(len(blocks))]
        for k in range(len(blocks))
        if deletable[k]
    ]
    correct = [0] * len(masks)
    for start in range(0, int(y.shape[0]), batch_size):
        Xb, yb = X[start : start + batch_size], y[start : start + batch_size]
        for i, mask in enumerate(masks):
            correct[i] += int(count_correct(Xb, yb, tf.constant(mask)))
    return lesion_result(correct, deletable, int(y.shape[0]))
