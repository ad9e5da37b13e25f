"""The ResNet family's networks for Keras, built from a ``Variant``, as in
``d2l_resnet.torch.models``."""

from __future__ import annotations

import tensorflow as tf
from tensorflow.keras import layers

from ..runtime import check_images, check_positive_int
from ..variants import Variant, as_variant
from .blocks import BasicBlock, Bottleneck, PreActBlock, PreActBottleneck, conv
from .layers import batch_norm

# The block class of each kind, by the name that Variant.block_class gives.
BLOCKS: dict[str, type[layers.Layer]] = {
    cls.__name__: cls
    for cls in (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)
}


class ResNet(tf.keras.Model):
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
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = as_variant(spec)
        check_positive_int("num_classes", num_classes)
        check_positive_int("in_channels", in_channels)
        self.in_channels, self.lr = in_channels, lr
        self.net = tf.keras.Sequential(name="net")
        self.net.add(self.stem(self.spec))
        block = BLOCKS[self.spec.block_class]
        # One dict of constructor arguments per block, stage by stage.
        for i, stage in enumerate(self.spec.block_args()):
            blocks = [block(**args) for args in stage]
            self.net.add(tf.keras.Sequential(blocks, name=f"stage{i + 1}"))
        self.net.add(self.head(self.spec, num_classes))

    @staticmethod
    def stem(spec: Variant) -> tf.keras.Sequential:
        """ImageNet's: a 7x7 convolution with stride 2, then 3x3 max-pooling
        with stride 2. CIFAR's: one 3x3 convolution."""
        c = spec.stem_channels
        if spec.stem == "cifar":
            stem = [conv(c, 3), batch_norm(), layers.ReLU()]
            return tf.keras.Sequential(stem, name="stem")
        return tf.keras.Sequential(
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

    @staticmethod
    def head(spec: Variant, num_classes: int) -> tf.keras.Sequential:
        """Global average pooling and a fully connected layer (after batch
        normalization and ReLU in a pre-activation network)."""
        preact = [batch_norm(), layers.ReLU()] if spec.preact else []
        return tf.keras.Sequential(
            preact
            + [layers.GlobalAveragePooling2D(), layers.Dense(num_classes)],
            name="head",
        )

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
