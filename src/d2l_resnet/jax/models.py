"""ResNet models built from stage specifications, for Flax NNX (NHWC, like Keras)."""

from flax import nnx

from ..runtime import (
    STEM_CHANNELS,
    check_arch,
    check_images,
    check_positive_int,
)
from .blocks import Residual
from .layers import (
    BatchNorm,
    Named,
    conv,
    default_rngs,
    global_avg_pool,
    linear,
    max_pool,
)

RESNET18_ARCH = ((2, 64), (2, 128), (2, 256), (2, 512))


class ResNet(nnx.Module):
    """A ResNet: stem, stages of residual blocks, global average pooling and
    a classifier.

    Args:
        arch: One ``(num_residuals, num_channels)`` pair per stage.
        num_classes: Outputs of the final fully connected layer.
        lr: Learning rate that ``Trainer`` uses for this model.
        in_channels: Channels of the input images (1 for Fashion-MNIST).
        rngs: Random keys for the weights; by default the library's, which
            ``seed_everything`` reseeds.
    """

    def __init__(
        self, arch, num_classes=10, lr=0.1, *, in_channels=1, rngs=None
    ):
        check_arch(arch)
        check_positive_int("num_classes", num_classes)
        check_positive_int("in_channels", in_channels)
        rngs = rngs or default_rngs()
        self.lr, self.in_channels = lr, in_channels
        stages = {"stem": self.stem(in_channels, rngs)}
        channels = STEM_CHANNELS
        for i, (num_residuals, num_channels) in enumerate(arch):
            stages[f"stage{i + 1}"] = self.stage(
                num_residuals,
                num_channels,
                channels,
                first_stage=(i == 0),
                rngs=rngs,
            )
            channels = num_channels
        stages["head"] = nnx.Sequential(
            global_avg_pool, linear(channels, num_classes, rngs=rngs)
        )
        self.net = Named(**stages)

    @staticmethod
    def stem(in_channels, rngs):
        """A 7x7 convolution with stride 2, then 3x3 max-pooling, stride 2."""
        return nnx.Sequential(
            conv(in_channels, STEM_CHANNELS, 7, stride=2, rngs=rngs),
            BatchNorm(STEM_CHANNELS),
            nnx.relu,
            max_pool,
        )

    @staticmethod
    def stage(
        num_residuals, num_channels, in_channels, first_stage=False, *, rngs
    ):
        """Residual blocks; all but the first stage halve height and width."""
        blocks = []
        for i in range(num_residuals):
            if i == 0 and not first_stage:
                # Where the shape changes, the shortcut needs a 1x1
                # convolution.
                blocks.append(
                    Residual(
                        num_channels,
                        use_1x1conv=True,
                        strides=2,
                        in_channels=in_channels,
                        rngs=rngs,
                    )
                )
            else:
                blocks.append(Residual(num_channels, rngs=rngs))
        return nnx.Sequential(*blocks)

    def __call__(self, X):
        check_images(X.shape, "jax", self.in_channels)
        return self.net(X)


class ResNet18(ResNet):
    """ResNet-18: four stages of two residual blocks each (64 to 512 channels)."""

    def __init__(self, num_classes=10, lr=0.1, *, in_channels=1, rngs=None):
        super().__init__(
            RESNET18_ARCH,
            num_classes=num_classes,
            lr=lr,
            in_channels=in_channels,
            rngs=rngs,
        )
