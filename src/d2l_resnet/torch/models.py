"""ResNet models built from stage specifications, for PyTorch."""

from torch import nn

from ..runtime import check_arch, check_images
from .blocks import Residual

RESNET18_ARCH = ((2, 64), (2, 128), (2, 256), (2, 512))


class ResNet(nn.Module):
    """A ResNet: stem, stages of residual blocks, global average pooling and
    a classifier.

    Args:
        arch: One ``(num_residuals, num_channels)`` pair per stage.
        num_classes: Outputs of the final fully connected layer.
        lr: Learning rate that ``Trainer`` uses for this model.
    """

    def __init__(self, arch, num_classes=10, lr=0.1):
        super().__init__()
        check_arch(arch)
        self.lr = lr
        self.net = nn.Sequential()
        self.net.add_module("stem", self.stem())
        for i, (num_residuals, num_channels) in enumerate(arch):
            self.net.add_module(
                f"stage{i + 1}",
                self.stage(num_residuals, num_channels, first_stage=(i == 0)),
            )
        self.net.add_module(
            "head",
            nn.Sequential(
                nn.AdaptiveAvgPool2d((1, 1)),
                nn.Flatten(),
                nn.LazyLinear(num_classes),
            ),
        )

    @staticmethod
    def stem():
        """A 7x7 convolution with stride 2, then 3x3 max-pooling, stride 2."""
        return nn.Sequential(
            nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.LazyBatchNorm2d(),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )

    @staticmethod
    def stage(num_residuals, num_channels, first_stage=False):
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
        return nn.Sequential(*blocks)

    def forward(self, X):
        check_images(X.shape, "pytorch")
        return self.net(X)


class ResNet18(ResNet):
    """ResNet-18: four stages of two residual blocks each (64 to 512 channels)."""

    def __init__(self, num_classes=10, lr=0.1):
        super().__init__(RESNET18_ARCH, num_classes=num_classes, lr=lr)
