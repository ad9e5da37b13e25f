"""The ResNet family as data: one ``Variant`` per network, built by one builder.

A variant lists what distinguishes the networks of He et al. (2016a, Table 1), their
pre-activation versions (He et al., 2016b), ResNeXt (Xie et al., 2017) and the
CIFAR-style plain and residual networks of the degradation experiment (He et al.,
2016a, Section 4.2): the block type, the number of blocks and the width of each stage,
the width of the bottleneck and its number of groups. ``ResNet`` in
``d2l_resnet.torch``, ``d2l_resnet.tensorflow`` and ``d2l_resnet.jax`` turns a variant
into a model; this module imports no framework.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

BLOCKS = ("basic", "bottleneck")
STEMS = ("imagenet", "cifar")


@dataclass(frozen=True)
class Variant:
    """One network of the ResNet family.

    Attributes:
        name: Display name, e.g. ``"ResNet-50"``.
        block: ``"basic"`` (two 3x3 convolutions) or ``"bottleneck"`` (1x1, 3x3, 1x1).
        depths: Number of blocks in each stage.
        widths: Output channels of each stage.
        bottleneck_widths: Channels inside the bottleneck of each stage (bottleneck
            blocks only).
        groups: Groups of the bottleneck's 3x3 convolution (ResNeXt's cardinality).
        stride_on: Where the first bottleneck block of a stage halves the resolution:
            ``"1x1"`` (the first 1x1 convolution, as in the ResNet paper's models) or
            ``"3x3"`` (as in ResNeXt and torchvision). Same parameters, different FLOPs.
        preact: Pre-activation blocks (batch norm, ReLU, convolution) of He et al.
            (2016b), with a final batch norm and ReLU before pooling.
        shortcuts: ``False`` removes every shortcut: the paper's *plain* network.
        stem: ``"imagenet"`` (7x7 convolution with stride 2, 3x3 max-pooling with
            stride 2) or ``"cifar"`` (one 3x3 convolution, no pooling).
        stem_channels: Output channels of the stem.
        paper_gmacs: Multiply-adds (x10^9) at 224x224 reported by the paper, if any.
        paper_params: Parameters (x10^6) reported by the paper, if any.
    """

    name: str
    block: str
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    bottleneck_widths: tuple[int, ...] = ()
    groups: int = 1
    stride_on: str = "1x1"
    preact: bool = False
    shortcuts: bool = True
    stem: str = "imagenet"
    stem_channels: int = 64
    paper_gmacs: float | None = None
    paper_params: float | None = None

    def __post_init__(self) -> None:
        def positive_ints(values: object) -> bool:
            return (
                isinstance(values, tuple)
                and len(values) > 0
                and all(
                    isinstance(v, int) and not isinstance(v, bool) and v > 0
                    for v in values
                )
            )

        if self.block not in BLOCKS:
            raise ValueError(
                f"block must be one of {BLOCKS}, got {self.block!r}"
            )
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {self.stem!r}")
        if self.stride_on not in ("1x1", "3x3"):
            raise ValueError(
                f"stride_on must be '1x1' or '3x3', got {self.stride_on!r}"
            )
        if not positive_ints(self.depths) or not positive_ints(self.widths):
            raise ValueError(
                f"depths and widths must be non-empty tuples of positive ints, got "
                f"depths={self.depths!r}, widths={self.widths!r}"
            )
        if len(self.depths) != len(self.widths):
            raise ValueError(
                f"one width per stage: {len(self.depths)} depths but "
                f"{len(self.widths)} widths"
            )
        if self.block == "bottleneck":
            if not positive_ints(self.bottleneck_widths) or len(
                self.bottleneck_widths
            ) != len(self.depths):
                raise ValueError(
                    f"a bottleneck variant needs one bottleneck width per stage "
                    f"({len(self.depths)}), got bottleneck_widths="
                    f"{self.bottleneck_widths!r}"
                )
            bad = [b for b in self.bottleneck_widths if b % self.groups]
            if bad:
                raise ValueError(
                    f"groups={self.groups} must divide every bottleneck width; it does "
                    f"not divide {bad}: change groups or bottleneck_widths"
                )
        elif self.bottleneck_widths or self.groups != 1:
            raise ValueError(
                "bottleneck_widths and groups apply to bottleneck blocks only; "
                "use block='bottleneck' or leave them out"
            )

    @property
    def num_layers(self) -> int:
        """Weighted layers on the longest path: stem, block convolutions, classifier."""
        per_block = 2 if self.block == "basic" else 3
        return 1 + per_block * sum(self.depths) + 1

    def block_args(self) -> list[list[dict[str, Any]]]:
        """Constructor arguments of every block, stage by stage.

        The first block of every stage but the first halves height and width
        (stride 2); every block reads the previous block's channels. The dicts fit
        the block classes of the ``blocks`` module of every framework package
        alike (``d2l_resnet.jax`` adds its ``rngs``).
        """
        stages, channels = [], self.stem_channels
        for s, depth in enumerate(self.depths):
            stage = []
            for i in range(depth):
                args: dict[str, Any] = dict(
                    in_channels=channels,
                    out_channels=self.widths[s],
                    stride=2 if (i == 0 and s > 0) else 1,
                    shortcut=self.shortcuts,
                )
                if self.block == "bottleneck":
                    args.update(
                        bot_channels=self.bottleneck_widths[s],
                        groups=self.groups,
                        stride_on=self.stride_on,
                    )
                stage.append(args)
                channels = self.widths[s]
            stages.append(stage)
        return stages

    @property
    def block_class(self) -> str:
        """The name of the block class that builds this variant, the same in every
        framework package: ``BasicBlock``, ``Bottleneck`` or their ``PreAct`` forms."""
        if self.block == "basic":
            return "PreActBlock" if self.preact else "BasicBlock"
        return "PreActBottleneck" if self.preact else "Bottleneck"

    def deletable_blocks(self) -> list[bool]:
        """For every block, input to output, whether its output has its input's shape,
        so that deleting it (the lesion experiment) leaves a working network: same
        width and stride 1. The first block of a stage that changes either cannot be
        deleted."""
        return [
            args["in_channels"] == args["out_channels"] and args["stride"] == 1
            for stage in self.block_args()
            for args in stage
        ]

    def replace(self, **changes: Any) -> Variant:
        """A copy with some fields changed, e.g. ``v.replace(preact=True)``."""
        return dataclasses.replace(self, **changes)


_BASIC: dict[str, Any] = dict(block="basic", widths=(64, 128, 256, 512))
_BOTTLENECK: dict[str, Any] = dict(
    block="bottleneck",
    widths=(256, 512, 1024, 2048),
    bottleneck_widths=(64, 128, 256, 512),
)

# He et al. (2016a), Table 1: multiply-adds at 224x224. Parameters: Xie et al.
# (2017), Table 1 (ResNet-50 and ResNeXt-50); the ResNet paper's Table 1 gives
# none.
VARIANTS = {
    v.name: v
    for v in (
        Variant("ResNet-18", depths=(2, 2, 2, 2), paper_gmacs=1.8, **_BASIC),
        Variant("ResNet-34", depths=(3, 4, 6, 3), paper_gmacs=3.6, **_BASIC),
        Variant(
            "ResNet-50",
            depths=(3, 4, 6, 3),
            paper_gmacs=3.8,
            paper_params=25.5,
            **_BOTTLENECK,
        ),
        Variant(
            "ResNet-101", depths=(3, 4, 23, 3), paper_gmacs=7.6, **_BOTTLENECK
        ),
        Variant(
            "ResNet-152",
            depths=(3, 8, 36, 3),
            paper_gmacs=11.3,
            **_BOTTLENECK,
        ),
        Variant(
            "ResNeXt-50 (32x4d)",
            block="bottleneck",
            depths=(3, 4, 6, 3),
            widths=(256, 512, 1024, 2048),
            bottleneck_widths=(128, 256, 512, 1024),
            groups=32,
            stride_on="3x3",
            paper_gmacs=4.2,
            paper_params=25.0,
        ),
    )
}


def variant(name: str) -> Variant:
    """The variant called ``name`` (case and punctuation are ignored: "resnet50")."""

    def key(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    for v in VARIANTS.values():
        if key(v.name) == key(name) or key(v.name).startswith(
            key(name) + "32x4d"
        ):
            return v
    raise ValueError(
        f"unknown variant {name!r}; choose one of {list(VARIANTS)}"
    )


def as_variant(spec: Variant | str) -> Variant:
    """``spec`` itself if it is a ``Variant``, the variant of that name if it is a
    string; the first thing every ``ResNet`` does."""
    spec = variant(spec) if isinstance(spec, str) else spec
    if not isinstance(spec, Variant):
        raise TypeError(
            f"spec must be a Variant or a variant name, got {spec!r}"
        )
    return spec


def check_lesion_inputs(
    model: object,
    resnet_class: type,
    num_images: int,
    num_labels: int,
    batch_size: int,
) -> None:
    """The argument checks of every ``lesion_accuracies``, before any computation."""
    if not isinstance(model, resnet_class):
        raise TypeError(
            f"model must be a {resnet_class.__name__} of the ResNet family, got "
            f"{type(model).__name__}"
        )
    if (
        not isinstance(batch_size, int)
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be a positive int, got {batch_size!r}"
        )
    if num_images == 0 or num_images != num_labels:
        raise ValueError(
            f"X and y must hold the same positive number of examples, got "
            f"{num_images} images and {num_labels} labels"
        )


def lesion_result(
    correct: Iterable[int], deletable: list[bool], num_images: int
) -> dict[str, Any]:
    """What every ``lesion_accuracies`` returns, from its counts of correct
    predictions: ``correct[0]`` for the intact network, then one count per deletable
    block, input to output.

    Returns:
        A dict with ``"intact"``: the accuracy of the whole model; ``"deleted"``: one
        accuracy per block, input to output, NaN for a block that cannot be deleted;
        ``"skipped"``: the indices of those blocks.
    """
    counts = [int(c) for c in correct]
    if len(counts) != 1 + sum(deletable):
        raise ValueError(
            f"expected {1 + sum(deletable)} counts (intact, then one per "
            f"deletable block), got {len(counts)}"
        )
    deleted = iter(c / num_images for c in counts[1:])
    return {
        "intact": counts[0] / num_images,
        "deleted": [next(deleted) if ok else float("nan") for ok in deletable],
        "skipped": [k for k, ok in enumerate(deletable) if not ok],
    }


def lesion_drops(result: dict[str, Any]) -> dict[str, float]:
    """What deleting a block costs, by kind of block: the drop from the intact
    accuracy, from what a ``lesion_accuracies`` returned.

    The blocks fall into three groups that behave differently in the book's runs:
    the first block of the network, which works on the stem's output; the block
    right after each downsampling block (those that change the shape cannot be
    deleted, ``result["skipped"]``); and all the others.

    Returns:
        A dict with ``"intact"``: the intact accuracy; ``"first"``: the drop when
        the first block is deleted (NaN if it cannot be); ``"after_downsampling"``:
        the largest drop among the blocks right after a downsampling block (NaN if
        there is none); ``"others_median"`` and ``"others_largest"``: the median and
        the largest drop over the remaining deletable blocks.
    """
    deleted = np.asarray(result["deleted"], dtype=float)
    drops = result["intact"] - deleted
    skipped = set(result["skipped"])
    after = sorted(
        k + 1 for k in skipped if k + 1 < len(drops) and k + 1 not in skipped
    )
    others = [
        k for k in range(1, len(drops)) if k not in skipped and k not in after
    ]
    nan = float("nan")
    return {
        "intact": float(result["intact"]),
        "first": float(drops[0]) if 0 not in skipped else nan,
        "after_downsampling": float(drops[after].max()) if after else nan,
        "others_median": float(np.median(drops[others])) if others else nan,
        "others_largest": float(drops[others].max()) if others else nan,
    }


def cifar_variant(
    num_layers: int, shortcuts: bool = True, preact: bool = False
) -> Variant:
    """The CIFAR-10 networks of He et al. (2016a, Section 4.2): 6n+2 layers.

    Three stages of n basic blocks with 16, 32 and 64 channels after a 3x3
    convolution with 16 channels; ``shortcuts=False`` gives the plain network.
    """
    if (
        not isinstance(num_layers, int)
        or num_layers < 8
        or (num_layers - 2) % 6
    ):
        raise ValueError(
            f"a CIFAR-style network has 6n+2 layers (8, 14, 20, 32, 44, 56, 110, ...), "
            f"got {num_layers!r}"
        )
    n = (num_layers - 2) // 6
    kind = "ResNet" if shortcuts else "Plain"
    return Variant(
        f"{'PreAct' if preact else ''}{kind}-{num_layers}",
        block="basic",
        depths=(n, n, n),
        widths=(16, 32, 64),
        stem="cifar",
        stem_channels=16,
        shortcuts=shortcuts,
        preact=preact,
    )
