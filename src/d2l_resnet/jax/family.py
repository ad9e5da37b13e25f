"""The ResNet family for Flax NNX: paper-faithful blocks and one builder for every variant.

The conventions are the papers': no bias in a convolution followed by batch
normalization, batch normalization on projection shortcuts, a shortcut projection
only where the shape changes. ``d2l_resnet.variants`` holds the variants as data.
Padding is explicit and symmetric, so the numbers match ``d2l_resnet.torch.family``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

from ..runtime import check_images
from ..variants import Variant, as_variant, check_lesion_inputs, lesion_result
from .layers import (
    BatchNorm,
    Named,
    call_order,
    conv,
    default_rngs,
    global_avg_pool,
    linear,
    max_pool,
)


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    groups: int = 1,
    *,
    rngs: nnx.Rngs,
) -> nnx.Sequential:
    """A bias-free convolution that keeps the size at stride 1, then batch norm."""
    return nnx.Sequential(
        conv(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            groups=groups,
            rngs=rngs,
        ),
        BatchNorm(out_channels),
    )


def projection(
    in_channels: int,
    out_channels: int,
    stride: int,
    with_bn: bool = True,
    *,
    rngs: nnx.Rngs,
) -> nnx.Sequential | nnx.Conv | None:
    """The shortcut: identity (None) if the shape is kept, else a 1x1 convolution."""
    if in_channels == out_channels and stride == 1:
        return None
    if with_bn:
        return conv_bn(in_channels, out_channels, 1, stride, rngs=rngs)
    return conv(in_channels, out_channels, 1, stride, rngs=rngs)


class BasicBlock(nnx.Module):
    """Two 3x3 convolutions (He et al., 2016a, Fig. 5 left); shortcut optional."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: bool = True,
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        rngs = rngs or default_rngs()
        self.branch = nnx.Sequential(
            conv_bn(in_channels, out_channels, 3, stride, rngs=rngs),
            nnx.relu,
            conv_bn(out_channels, out_channels, 3, rngs=rngs),
        )
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride, rngs=rngs)
            if shortcut
            else None
        )

    def __call__(self, X: jax.Array) -> jax.Array:
        Y = self.branch(X)
        if self.use_shortcut:
            Y = Y + (X if self.shortcut is None else self.shortcut(X))
        return nnx.relu(Y)


class Bottleneck(nnx.Module):
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
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        rngs = rngs or default_rngs()
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.branch = nnx.Sequential(
            conv_bn(in_channels, bot_channels, 1, s1, rngs=rngs),
            nnx.relu,
            conv_bn(bot_channels, bot_channels, 3, s3, groups, rngs=rngs),
            nnx.relu,
            conv_bn(bot_channels, out_channels, 1, rngs=rngs),
        )
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride, rngs=rngs)
            if shortcut
            else None
        )

    def __call__(self, X: jax.Array) -> jax.Array:
        Y = self.branch(X)
        if self.use_shortcut:
            Y = Y + (X if self.shortcut is None else self.shortcut(X))
        return nnx.relu(Y)


class PreActBlock(nnx.Module):
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
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        rngs = rngs or default_rngs()
        self.bn1 = BatchNorm(in_channels)
        self.conv1 = conv(in_channels, out_channels, 3, stride, rngs=rngs)
        self.bn2 = BatchNorm(out_channels)
        self.conv2 = conv(out_channels, out_channels, 3, rngs=rngs)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(
                in_channels, out_channels, stride, with_bn=False, rngs=rngs
            )
            if shortcut
            else None
        )

    def __call__(self, X: jax.Array) -> jax.Array:
        A = nnx.relu(self.bn1(X))
        Y = self.conv1(A)
        Y = self.conv2(nnx.relu(self.bn2(Y)))
        if not self.use_shortcut:
            return Y
        # The identity adds X itself; a projection reads the pre-activated A.
        return Y + (X if self.shortcut is None else self.shortcut(A))


class PreActBottleneck(nnx.Module):
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
        *,
        rngs: nnx.Rngs | None = None,
    ) -> None:
        rngs = rngs or default_rngs()
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.bn1 = BatchNorm(in_channels)
        self.conv1 = conv(in_channels, bot_channels, 1, s1, rngs=rngs)
        self.bn2 = BatchNorm(bot_channels)
        self.conv2 = conv(
            bot_channels, bot_channels, 3, s3, groups=groups, rngs=rngs
        )
        self.bn3 = BatchNorm(bot_channels)
        self.conv3 = conv(bot_channels, out_channels, 1, rngs=rngs)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(
                in_channels, out_channels, stride, with_bn=False, rngs=rngs
            )
            if shortcut
            else None
        )

    def __call__(self, X: jax.Array) -> jax.Array:
        A = nnx.relu(self.bn1(X))
        Y = self.conv1(A)
        Y = self.conv2(nnx.relu(self.bn2(Y)))
        Y = self.conv3(nnx.relu(self.bn3(Y)))
        if not self.use_shortcut:
            return Y
        return Y + (X if self.shortcut is None else self.shortcut(A))


# The block class of each kind, by the name that Variant.block_class gives.
BLOCKS: dict[str, Callable[..., nnx.Module]] = {
    cls.__name__: cls
    for cls in (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)
}


class FamilyResNet(nnx.Module):
    """A network of the ResNet family; ``build_resnet`` makes one from a variant."""

    def __init__(
        self, net: Named, spec: Variant, in_channels: int, lr: float
    ) -> None:
        self.net = net
        self.spec = spec
        self.in_channels = in_channels
        self.lr = lr

    def __call__(self, X: jax.Array) -> jax.Array:
        check_images(X.shape, "jax", self.in_channels, self.spec.name)
        return self.net(X)


def build_resnet(
    spec: Variant | str,
    num_classes: int = 1000,
    in_channels: int = 3,
    lr: float = 0.1,
    *,
    rngs: nnx.Rngs | None = None,
) -> FamilyResNet:
    """Builds the network described by ``spec`` (a ``Variant`` or its name).

    Example: ``build_resnet("ResNet-50")`` is the paper's ImageNet ResNet-50;
    ``build_resnet(cifar_variant(56, shortcuts=False), 10, 1)`` a 56-layer plain net.
    Wrap the call in ``nnx.eval_shape(lambda: build_resnet(..., rngs=nnx.Rngs(0)))``
    to get the shapes without computing any weight.
    """
    spec = as_variant(spec)
    rngs = rngs or default_rngs()
    c = spec.stem_channels
    if spec.stem == "imagenet":
        stem = nnx.Sequential(
            conv(in_channels, c, 7, 2, rngs=rngs),
            BatchNorm(c),
            nnx.relu,
            max_pool,
        )
    else:
        stem = nnx.Sequential(
            conv(in_channels, c, 3, rngs=rngs), BatchNorm(c), nnx.relu
        )
    block = BLOCKS[spec.block_class]
    stages = {"stem": stem}
    for s, stage in enumerate(spec.block_args()):
        stages[f"stage{s + 1}"] = nnx.Sequential(
            *(block(**args, rngs=rngs) for args in stage)
        )
    c = spec.widths[-1]
    head: list[Callable[[jax.Array], jax.Array]] = (
        [BatchNorm(c), nnx.relu] if spec.preact else []
    )
    stages["head"] = nnx.Sequential(
        *head, global_avg_pool, linear(c, num_classes, rngs=rngs)
    )
    return FamilyResNet(Named(**stages), spec, in_channels, lr)


def gradient_norms(
    model: nnx.Module, X: jax.Array, y: jax.Array
) -> list[float]:
    """L2 norm of the loss gradient for each convolution's kernel, input to output
    (shortcut projections left out), after one forward and backward pass in
    training mode."""
    convs = [
        path
        for path in call_order(model, X.shape, [nnx.Conv])
        if "shortcut" not in path
    ]
    model.train()

    def loss_fn(model: nnx.Module) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(
            model(X), y
        ).mean()

    grads = dict(nnx.grad(loss_fn)(model).flat_state())
    return [
        float(optax.global_norm(grads[path + ("kernel",)])) for path in convs
    ]


def lesion_accuracies(
    model: FamilyResNet,
    X: jax.Array | np.ndarray,
    y: jax.Array | np.ndarray,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Accuracy of ``model`` on ``(X, y)``, intact and with each block deleted in turn.

    The lesion experiment of Veit et al. (2016), as in ``d2l_resnet.torch``: a deleted
    block computes the identity; only blocks whose output has the shape of their input
    can be deleted. Batch norm uses its running statistics; the blocks compute in the
    ``Trainer``'s dtype. Each batch goes once through the intact network; a deleted
    block's run restarts from the stored input of that block.

    Returns:
        A dict with ``"intact"``: the accuracy of the whole model; ``"deleted"``: one
        accuracy per block, input to output, NaN for a block that cannot be deleted;
        ``"skipped"``: the indices of those blocks.
    """
    from .train import Trainer, compute_dtype

    check_lesion_inputs(model, FamilyResNet, len(X), len(y), batch_size)
    check_images(X.shape, "jax", model.in_channels, model.spec.name)
    view = nnx.view(model, use_running_average=True, raise_if_not_found=False)
    blocks = [
        block
        for name, stage in view.net.named_children()
        if name.startswith("stage")
        for block in stage.layers
    ]
    deletable = model.spec.deletable_blocks()
    apply = nnx.jit(lambda layer, H: layer(H))
    correct = np.zeros(1 + sum(deletable), dtype=np.int64)
    y = np.asarray(y)
    with compute_dtype(view, Trainer(1, plot=False, progress=False).dtype):
        for start in range(0, len(y), batch_size):
            yb = y[start : start + batch_size]
            inputs = [
                apply(
                    view.net.stem,
                    jax.numpy.asarray(X[start : start + batch_size]),
                )
            ]
            for block in blocks:
                inputs.append(apply(block, inputs[-1]))
            correct[0] += int(
                (
                    np.asarray(apply(view.net.head, inputs[-1])).argmax(1)
                    == yb
                ).sum()
            )
            lesions = (k for k, ok in enumerate(deletable) if ok)
            for i, k in enumerate(lesions, start=1):
                # block k deleted: its input goes on to block k + 1
                H = inputs[k]
                for block in blocks[k + 1 :]:
                    H = apply(block, H)
                correct[i] += int(
                    (np.asarray(apply(view.net.head, H)).argmax(1) == yb).sum()
                )
    return lesion_result(correct.tolist(), deletable, len(y))
