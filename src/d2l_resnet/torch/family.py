"""The ResNet family for PyTorch: paper-faithful blocks and one builder for every variant.

The conventions are the papers': no bias in a convolution followed by batch
normalization, batch normalization on projection shortcuts, a shortcut projection
only where the shape changes. ``d2l_resnet.variants`` holds the variants as data.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from ..runtime import check_images
from ..variants import Variant, as_variant, check_lesion_inputs, lesion_result


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    groups: int = 1,
) -> nn.Sequential:
    """A bias-free convolution that keeps the size at stride 1, then batch norm."""
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
    )


def projection(
    in_channels: int, out_channels: int, stride: int, with_bn: bool = True
) -> nn.Module | None:
    """The shortcut: identity (None) if the shape is kept, else a 1x1 convolution."""
    if in_channels == out_channels and stride == 1:
        return None
    if with_bn:
        return conv_bn(in_channels, out_channels, 1, stride)
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (He et al., 2016a, Fig. 5 left); shortcut optional."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            conv_bn(in_channels, out_channels, 3, stride),
            nn.ReLU(),
            conv_bn(out_channels, out_channels, 3),
        )
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride) if shortcut else None
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = self.branch(X)
        if self.use_shortcut:
            Y = Y + (X if self.shortcut is None else self.shortcut(X))
        return F.relu(Y)


class Bottleneck(nn.Module):
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
    ) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.branch = nn.Sequential(
            conv_bn(in_channels, bot_channels, 1, s1),
            nn.ReLU(),
            conv_bn(bot_channels, bot_channels, 3, s3, groups),
            nn.ReLU(),
            conv_bn(bot_channels, out_channels, 1),
        )
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride) if shortcut else None
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = self.branch(X)
        if self.use_shortcut:
            Y = Y + (X if self.shortcut is None else self.shortcut(X))
        return F.relu(Y)


class PreActBlock(nn.Module):
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
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride, 1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride, with_bn=False)
            if shortcut
            else None
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        A = F.relu(self.bn1(X))
        Y = self.conv1(A)
        Y = self.conv2(F.relu(self.bn2(Y)))
        if not self.use_shortcut:
            return Y
        # The identity adds X itself; a projection reads the pre-activated A.
        return Y + (X if self.shortcut is None else self.shortcut(A))


class PreActBottleneck(nn.Module):
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
    ) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, bot_channels, 1, s1, bias=False)
        self.bn2 = nn.BatchNorm2d(bot_channels)
        self.conv2 = nn.Conv2d(
            bot_channels, bot_channels, 3, s3, 1, groups=groups, bias=False
        )
        self.bn3 = nn.BatchNorm2d(bot_channels)
        self.conv3 = nn.Conv2d(bot_channels, out_channels, 1, bias=False)
        self.use_shortcut = shortcut
        self.shortcut = (
            projection(in_channels, out_channels, stride, with_bn=False)
            if shortcut
            else None
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        A = F.relu(self.bn1(X))
        Y = self.conv1(A)
        Y = self.conv2(F.relu(self.bn2(Y)))
        Y = self.conv3(F.relu(self.bn3(Y)))
        if not self.use_shortcut:
            return Y
        return Y + (X if self.shortcut is None else self.shortcut(A))


# The block class of each kind, by the name that Variant.block_class gives.
BLOCKS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)
}


class FamilyResNet(nn.Module):
    """A network of the ResNet family; ``build_resnet`` makes one from a variant."""

    def __init__(
        self, net: nn.Sequential, spec: Variant, in_channels: int, lr: float
    ) -> None:
        super().__init__()
        self.net = net
        self.spec = spec
        self.in_channels = in_channels
        self.lr = lr

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X.shape, "pytorch", self.in_channels, self.spec.name)
        return self.net(X)


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
        stem = nn.Sequential(
            nn.Conv2d(in_channels, c, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
    else:
        stem = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
        )
    block = BLOCKS[spec.block_class]
    net = nn.Sequential()
    net.add_module("stem", stem)
    for s, stage in enumerate(spec.block_args()):
        net.add_module(
            f"stage{s + 1}", nn.Sequential(*(block(**args) for args in stage))
        )
    c = spec.widths[-1]
    head = [nn.BatchNorm2d(c), nn.ReLU()] if spec.preact else []
    net.add_module(
        "head",
        nn.Sequential(
            *head,
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
            nn.Linear(c, num_classes),
        ),
    )
    return FamilyResNet(net, spec, in_channels, lr)


def gradient_norms(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor
) -> list[float]:
    """L2 norm of the loss gradient for each convolution's weight, input to output
    (shortcut projections left out), after one forward and backward pass in
    training mode."""
    model.train()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(X), y).backward()
    norms: list[float] = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and "shortcut" not in name:
            # backward() gave a gradient to every weight that the loss depends
            # on; only a convolution that took no part in the forward pass has
            # none
            assert m.weight.grad is not None, (
                f"{name} took no part in the loss"
            )
            norms.append(m.weight.grad.norm().item())
    return norms


def lesion_accuracies(
    model: FamilyResNet,
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Accuracy of ``model`` on ``(X, y)``, intact and with each block deleted in turn.

    The lesion experiment of Veit et al. (2016): deleting a block at test time makes
    it compute the identity, so that its input goes on to the next block unchanged.
    Only a block whose output has the shape of its input can be deleted (a residual
    block with an identity shortcut, or a plain block that keeps the shape); the
    first block of a stage that halves the resolution or changes the width cannot.
    The model runs in inference mode (batch norm with its running statistics) and
    in the ``Trainer``'s compute dtype (bfloat16 autocast where the hardware has fast
    bfloat16). Every batch goes once through the intact network; a deleted block's
    run restarts from the stored input of that block, so the blocks before it are
    not computed again.

    Args:
        model: A ``FamilyResNet`` from ``build_resnet``.
        X: Images, NCHW, as the model takes them.
        y: Integer labels, one per image.
        batch_size: Images per forward pass.

    Returns:
        A dict with ``"intact"``: the accuracy of the whole model; ``"deleted"``: one
        accuracy per block, from the input to the output, NaN for a block that
        cannot be deleted; ``"skipped"``: the indices of those blocks.
    """
    from .train import _autocast_dtype

    check_lesion_inputs(model, FamilyResNet, len(X), len(y), batch_size)
    # build_resnet's net: a Sequential stem, Sequential stages of blocks, a
    # Sequential head, and the stem's first layer a convolution; the attribute
    # access that nn.Module types as Tensor | Module cannot know it.
    stem = cast(nn.Sequential, model.net.stem)
    head = cast(nn.Sequential, model.net.head)
    blocks = [
        block
        for name, stage in model.net.named_children()
        if name.startswith("stage")
        for block in cast(nn.Sequential, stage)
    ]
    deletable = model.spec.deletable_blocks()
    device = next(model.parameters()).device
    dtype = _autocast_dtype("auto", device)
    stem_conv = cast(nn.Conv2d, stem[0])
    channels_last = stem_conv.weight.is_contiguous(
        memory_format=torch.channels_last
    )
    model.eval()
    with torch.inference_mode():
        model(X[:1].to(device))  # checks the layout and the number of channels
        correct = torch.zeros(1 + sum(deletable), dtype=torch.long)
        autocast = (
            torch.autocast(device.type, dtype=dtype)
            if dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            for start in range(0, len(y), batch_size):
                Xb = X[start : start + batch_size].to(device)
                if channels_last:
                    Xb = Xb.contiguous(memory_format=torch.channels_last)
                yb = y[start : start + batch_size].to(device)
                # inputs[k]: the input of block k
                inputs: list[torch.Tensor] = [stem(Xb)]
                for block in blocks:
                    inputs.append(block(inputs[-1]))
                correct[0] += (head(inputs[-1]).argmax(1) == yb).sum().cpu()
                lesions = (k for k, ok in enumerate(deletable) if ok)
                for i, k in enumerate(lesions, start=1):
                    # block k deleted: its input goes on to block k + 1
                    H = inputs[k]
                    for block in blocks[k + 1 :]:
                        H = block(H)
                    correct[i] += (head(H).argmax(1) == yb).sum().cpu()
    return lesion_result(correct.tolist(), deletable, len(y))
