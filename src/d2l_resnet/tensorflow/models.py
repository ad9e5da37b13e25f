"""ResNet models built from stage specifications, for Keras."""

import tensorflow as tf
from tensorflow.keras import layers

from ..runtime import check_arch, check_images
from .blocks import Residual
from .layers import batch_norm

RESNET18_ARCH = ((2, 64), (2, 128), (2, 256), (2, 512))


class ResNet(tf.keras.Model):
    """A ResNet: stem, stages of residual blocks, global average pooling and
    a classifier.

    Args:
        arch: One ``(num_residuals, num_channels)`` pair per stage.
        num_classes: Outputs of the final fully connected layer.
        lr: Learning rate that ``Trainer`` uses for this model.
    """

    def __init__(self, arch, num_classes=10, lr=0.1, **kwargs):
        super().__init__(**kwargs)
        check_arch(arch)
        self.lr = lr
        self.net = tf.keras.Sequential(name="net")
        self.net.add(self.stem())
        for i, (num_residuals, num_channels) in enumerate(arch):
            self.net.add(
                self.stage(
                    num_residuals,
                    num_channels,
                    first_stage=(i == 0),
                    name=f"stage{i + 1}",
                )
            )
        self.net.add(
            tf.keras.Sequential(
                [layers.GlobalAveragePooling2D(), layers.Dense(num_classes)],
                name="head",
            )
        )

    @staticmethod
    def stem():
        """A 7x7 convolution with stride 2, then 3x3 max-pooling, stride 2."""
        return tf.keras.Sequential(
            [
                layers.ZeroPadding2D(3),
                layers.Conv2D(64, kernel_size=7, strides=2, use_bias=False),
                batch_norm(),
                layers.ReLU(),
                # Zero padding is safe here: after the ReLU every value is >=
                # 0.
                layers.ZeroPadding2D(1),
                layers.MaxPool2D(pool_size=3, strides=2),
            ],
            name="stem",
        )

    @staticmethod
    def stage(num_residuals, num_channels, first_stage=False, name=None):
        """Residual blocks; all but the first stage halve height and width."""
        blocks = []
        for i in range(num_residuals):
            if i == 0 and not first_stage:
                # Where the shape changes, the shortcut needs a 1x1
                # convolution.
                blocks.append(
                    Residual(num_channels, use_1x1conv=True, strides=2)
                )
            else:
                blocks.append(Residual(num_channels))
        return tf.keras.Sequential(blocks, name=name)

    def call(self, X, training=None):
        check_images(X.shape, "tensorflow")
        return self.net(X, training=training)


class ResNet18(ResNet):
    """ResNet-18: four stages of two residual blocks each (64 to 512 channels)."""

    def __init__(self, num_classes=10, lr=0.1, **kwargs):
        super().__init__(
            RESNET18_ARCH, num_classes=num_classes, lr=lr, **kwargs
        )
