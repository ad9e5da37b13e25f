"""The ResNet family's networks for Flax NNX (NHWC, like Keras), built from a
``Variant``, as in ``d2l_resnet.torch.models``."""

from __future__ import annotations

from collections.abc import Callable

import jax
from flax import nnx

from ..runtime import check_images, check_positive_int
from ..variants import Variant, as_variant
from .blocks import BasicBlock, Bottleneck, PreActBlock, PreActBottleneck
from .layers import (
    BatchNorm,
    Named,
    conv,
    default_rngs,
    global_avg_pool,
    linear,
    max_pool,
)

# The block class of each kind, by the name that Variant.block_class gives.
BLOCKS: dict[str, Callable[..., nnx.Module]] = {
    cls.__name__: cls
    for cls in (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)
}


class ResNet(nnx.Module):
    """A network of the ResNet family: a stem, stages of residual blocks,
    global average pooling and a classifier.

    Args:
        spec: The network, as a ``Variant`` or its name (``"ResNet-18"``).
        num_classes: Outputs of the final fully connected layer.
        in_channels: Channels of the input images (1 for Fashion-MNIST).
        lr: Learning rate that ``Trainer`` uses for this model.
        rngs: Random keys for the weights; by default the library's, which
            ``seed_everything`` reseeds. Wrap the call in ``nnx.eval_shape``
            to get the shapes without computing any weight.
    """

    def __init__(
        self,
        spec: Variant | str,
        num_classes: int = 1000,
        in_channels: int = 3,
        lr: float = 0.1,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        self.spec = as_variant(spec)
        check_positive_int("num_classes", num_classes)
        check_positive_int("in_channels", in_channels)
        self.in_channels, self.lr = in_channels, lr
        rngs = rngs or default_rngs()
        stages = {"stem": self.stem(self.spec, in_channels, rngs=rngs)}
        block = BLOCKS[self.spec.block_class]
        # One dict of constructor arguments per block, stage by stage.
        for i, stage in enumerate(self.spec.block_args()):
            blocks = [block(**args, rngs=rngs) for args in stage]
            stages[f"stage{i + 1}"] = nnx.Sequential(*blocks)
        stages["head"] = self.head(self.spec, num_classes, rngs=rngs)
        self.net = Named(**stages)

    @staticmethod
    def stem(
        spec: Variant, in_channels: int, *, rngs: nnx.Rngs
    ) -> nnx.Sequential:
        """ImageNet's: a 7x7 convolution with stride 2, then 3x3 max-pooling
        with stride 2. CIFAR's: one 3x3 convolution."""
        c = spec.stem_channels
        if spec.stem == "cifar":
            stem_conv = conv(in_channels, c, 3, rngs=rngs)
            return nnx.Sequential(stem_conv, BatchNorm(c), nnx.relu)
        return nnx.Sequential(
            conv(in_channels, c, 7, stride=2, rngs=rngs),
            BatchNorm(c),
            nnx.relu,
            max_pool,
        )

    @staticmethod
    def head(
        spec: Variant, num_classes: int, *, rngs: nnx.Rngs
    ) -> nnx.Sequential:
        """Global average pooling and a fully connected layer (after batch
        normalization and ReLU in a pre-activation network)."""
        c = spec.widths[-1]
        preact: list[Callable[[jax.Array], jax.Array]] = (
            [BatchNorm(c), nnx.relu] if spec.preact else []
        )
        return nnx.Sequential(
            *preact, global_avg_pool, linear(c, num_classes, rngs=rngs)
        )

    def __call__(self, X: jax.Array) -> jax.Array:
        check_images(X.shape, "jax", self.in_channels, self.spec.name)
        return self.net(X)
