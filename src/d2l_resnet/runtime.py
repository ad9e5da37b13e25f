"""Framework-neutral runtime helpers: how large a run the notebooks make, and quiet logs.

The sizing rule, in one place: the training notebooks run the book's configuration
(96x96 images, batch 128, 10 epochs, lr 0.01, all of Fashion-MNIST) when a GPU is
available and a small configuration on a CPU. The environment variable
``D2L_RESNET_SIZE`` overrides the choice: ``full``, ``small`` or ``auto`` (the default).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from . import i18n
from .registry import FRAMEWORKS

SIZE_ENV = "D2L_RESNET_SIZE"


@dataclass(frozen=True)
class TrainingConfig:
    """The hyperparameters of one training run of the book's ResNet-18."""

    size: str
    resize: tuple[int, int]
    batch_size: int
    max_epochs: int
    lr: float
    num_train: int | None
    num_val: int | None
    reason: str

    def describe(self) -> str:
        """One line, in the current language, saying which configuration runs and why."""
        fields = dict(self.__dict__, lr=i18n.number(self.lr))
        if self.size == "full":
            return i18n.t(
                "config_full", data=i18n.t("fashion_mnist"), **fields
            )
        # A run on a subset always names its size: SMALL gives both counts.
        assert self.num_train is not None and self.num_val is not None
        fields.update(
            num_train=i18n.number(self.num_train),
            num_val=i18n.number(self.num_val),
        )
        return i18n.t("config_small", **fields)


FULL: dict[str, Any] = dict(
    resize=(96, 96),
    batch_size=128,
    max_epochs=10,
    lr=0.01,
    num_train=None,
    num_val=None,
)
# Sized for a 2-core CPU: 96 updates (3 epochs of 32 minibatches of 64), 28 to
# 48 s per framework on one core (PyTorch to JAX). Batches of 128 on twice the
# images took 1.75 to 1.8 times as long (TensorFlow, JAX) for 0.03 to 0.05 more
# validation accuracy.
SMALL: dict[str, Any] = dict(
    resize=(48, 48),
    batch_size=64,
    max_epochs=3,
    lr=0.05,
    num_train=2048,
    num_val=1024,
)


def _choose(size: str | None, auto: str, auto_reason: str) -> tuple[str, str]:
    """The size the one rule picks (``size``, else ``D2L_RESNET_SIZE``, else ``auto``)
    and the reason to print, in the current language."""
    from_env = size is None and os.environ.get(SIZE_ENV)
    size = (size or os.environ.get(SIZE_ENV) or "auto").strip().lower()
    if size not in ("auto", "full", "small"):
        raise ValueError(
            f"{SIZE_ENV} must be 'auto', 'full' or 'small', got {size!r}"
        )
    if from_env and size != "auto":
        return size, i18n.t("reason_env", value=size)
    return (auto if size == "auto" else size), i18n.t(auto_reason)


def training_config(gpu: bool, size: str | None = None) -> TrainingConfig:
    """Chooses the training configuration by the book's one sizing rule.

    Args:
        gpu: Whether the framework sees a GPU.
        size: ``"full"``, ``"small"`` or ``"auto"``; by default the value of the
            ``D2L_RESNET_SIZE`` environment variable, else ``"auto"``.

    Returns:
        The full configuration when ``size`` is ``"full"``, or ``"auto"`` with a GPU;
        the small one otherwise.
    """
    size, reason = _choose(
        size, "full" if gpu else "small", "reason_gpu" if gpu else "reason_cpu"
    )
    values = FULL if size == "full" else SMALL
    return TrainingConfig(size=size, reason=reason, **values)


class DegradationConfig(TrainingConfig):
    """The run of the degradation page: five CIFAR-style networks on 28x28 images."""

    def describe(self) -> str:
        # Both degradation runs use subsets: DEGRADATION and DEGRADATION_SMALL
        # give the counts.
        assert self.num_train is not None and self.num_val is not None
        fields = dict(
            self.__dict__,
            lr=i18n.number(self.lr),
            num_train=i18n.number(self.num_train),
            num_val=i18n.number(self.num_val),
        )
        key = (
            "degradation_full" if self.size == "full" else "degradation_small"
        )
        return i18n.t(key, **fields)


# The degradation page's run on a GPU (or with D2L_RESNET_SIZE=full) ...
DEGRADATION: dict[str, Any] = dict(
    resize=(28, 28),
    batch_size=32,
    max_epochs=3,
    lr=0.02,
    num_train=2048,
    num_val=1024,
)
# ... and on a CPU, in every framework: half the images in batches of half the
# size, which keeps the number of updates (192), the epochs and the learning
# rate at half the compute. The page's checks held for seeds 0 to 2 in all
# three frameworks (bench/degradation_seeds.py --train --sizes 16 1024 512);
# halving once more (batches of 8 on 512 images) broke one of them (ResNet-56
# more than 0.1 above ResNet-20, PyTorch, seed 0), so this is as small as the
# run goes.
DEGRADATION_SMALL: dict[str, Any] = dict(
    DEGRADATION, batch_size=16, num_train=1024, num_val=512
)


def degradation_config(
    gpu: bool, size: str | None = None
) -> DegradationConfig:
    """The degradation page's run, by the same rule and variable as ``training_config``.

    Args:
        gpu: Whether the framework sees a GPU.
        size: ``"full"``, ``"small"`` or ``"auto"``; by default ``D2L_RESNET_SIZE``.

    Returns:
        The full run (``DEGRADATION``) when ``size`` is ``"full"``, or ``"auto"`` with a
        GPU; the reduced one (``DEGRADATION_SMALL``) otherwise.
    """
    size, reason = _choose(
        size, "full" if gpu else "small", "reason_gpu" if gpu else "reason_cpu"
    )
    values = DEGRADATION if size == "full" else DEGRADATION_SMALL
    return DegradationConfig(size=size, reason=reason, **values)


Config = TypeVar("Config", bound="TrainingConfig")


def announce(config: Config) -> Config:
    """Prints ``config.describe()`` wrapped at 72 columns and returns ``config``: what
    the ``training_config`` and ``degradation_config`` of every framework package do."""
    print(textwrap.fill(config.describe(), width=72))
    return config


# TensorFlow's settings, applied before it loads (it reads them then); a
# reader's own value wins. TF_ENABLE_ONEDNN_OPTS: TensorFlow turns its oneDNN
# CPU kernels on by default only on CPUs with AVX512-VNNI, AVX512-BF16 or AMX
# and runs its own slower convolutions elsewhere: on an AVX2 CPU (the CI
# machine's) the training page's ResNet-18 trained 4.25 times faster with them
# on (bench/tensorflow_onednn.py, bench/results/tensorflow-onednn.json).
TENSORFLOW_DEFAULTS = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "1",
}


def load_tensorflow() -> None:
    """Imports TensorFlow with ``TENSORFLOW_DEFAULTS`` and without its C++ log lines.

    Works only before TensorFlow loads. ``TF_CPP_MIN_LOG_LEVEL=3`` silences what
    TensorFlow logs once it runs. A few lines come earlier, while its C++ runtime
    loads, and ignore every setting (absl's "All log messages before
    absl::InitializeLog() is called are written to STDERR", the CUDA stub's "Could not
    find cuda drivers", on GPU builds the "Unable to register cuDNN factory" lines).
    They go straight to file descriptor 2, which a Jupyter kernel, Colab's included,
    forwards under the cell. So TensorFlow is imported here with that descriptor
    pointed at /dev/null. Python's own errors are not affected: an ImportError still
    raises, and is printed after the descriptor is back.
    """
    if "tensorflow" in sys.modules:
        return
    for name, value in TENSORFLOW_DEFAULTS.items():
        os.environ.setdefault(name, value)
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def parse_resize(resize: int | tuple[int, int]) -> tuple[int, int]:
    """Validates a ``resize`` argument: an int or a pair of positive ints (height, width)."""
    if isinstance(resize, int) and not isinstance(resize, bool):
        resize = (resize, resize)
    if (
        not isinstance(resize, (tuple, list))
        or len(resize) != 2
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0
            for v in resize
        )
    ):
        raise ValueError(
            f"resize must be a positive int or a pair (height, width) of positive ints, "
            f"e.g. resize=(96, 96); got {resize!r}"
        )
    return (int(resize[0]), int(resize[1]))


def check_positive_int(name: str, value: int) -> int:
    """Raises a clear ``ValueError`` unless ``value`` is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


_LAYOUT_NAMES = {"NCHW": "channels-first", "NHWC": "channels-last"}
_AXES = {
    "NCHW": "(batch, channels, height, width)",
    "NHWC": "(batch, height, width, channels)",
}


def check_images(
    shape: Sequence[int | None],
    framework: str,
    in_channels: int | None = None,
    model: str = "the model",
) -> None:
    """Fails early, naming the fix, on input that is not a batch of images in
    the framework's layout (``registry.FRAMEWORKS[framework].layout``).

    The one input check of the three frameworks' models. With ``in_channels``
    known, a batch must have that many channels; one that has them on the
    other layout's channel axis is named as that layout. Without it (PyTorch's
    lazy and Keras's unbuilt layers before their first input), a batch is
    refused only when it plainly is the other layout: at most 4 entries on the
    other layout's channel axis and more than 4 on each of the two others.

    Args:
        shape: The input's shape (``None`` for an axis Keras does not know).
        framework: A tag of ``registry.FRAMEWORKS``: ``"pytorch"``, ...
        in_channels: The channels the model was built for, if known.
        model: The model's name, for the message.
    """
    fw = FRAMEWORKS[framework]
    other = "NHWC" if fw.layout == "NCHW" else "NCHW"
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(
            f"{model} expects a 4-D batch of images {_AXES[fw.layout]}, got "
            f"shape {shape}; add a batch axis with {fw.add_batch_axis}"
        )
    axis, other_axis = (1, 3) if fw.layout == "NCHW" else (3, 1)
    channels, others = shape[axis], shape[other_axis]
    if in_channels is None:
        rest = [shape[i] for i in (1, 2, 3) if i != other_axis]
        swapped = (
            others is not None
            and others <= 4
            and all(n is not None and n > 4 for n in rest)
        )
    else:
        swapped = channels != in_channels and others == in_channels
    if swapped:
        raise ValueError(
            f"{model} expects {fw.layout} images {_AXES[fw.layout]}; the input "
            f"of shape {shape} looks {other} ({_LAYOUT_NAMES[other]}): use "
            f"{fw.from_other_layout}"
        )
    if in_channels is not None and channels not in (None, in_channels):
        raise ValueError(
            f"{model} was built for {in_channels} input channels, got input of "
            f"shape {shape} ({fw.layout}); build it with "
            f"in_channels={channels}"
        )


def check_block(
    in_channels: int,
    out_channels: int,
    stride: int,
    bot_channels: int | None = None,
    groups: int = 1,
    stride_on: str = "1x1",
) -> None:
    """The argument checks of every block class of the three frameworks, so that
    a wrong block fails here, naming the fix, and not deep inside a convolution.
    ``bot_channels`` is None for a basic block."""
    for name, value in (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("stride", stride),
        ("groups", groups),
    ):
        check_positive_int(name, value)
    if bot_channels is None:
        return
    check_positive_int("bot_channels", bot_channels)
    if bot_channels % groups:
        raise ValueError(
            f"groups={groups} must divide the {bot_channels} bottleneck "
            f"channels; choose a divisor of {bot_channels} or change "
            f"bot_channels"
        )
    if stride_on not in ("1x1", "3x3"):
        raise ValueError(
            f"stride_on must be '1x1' or '3x3', got {stride_on!r}"
        )
