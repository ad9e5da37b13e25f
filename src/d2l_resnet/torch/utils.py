"""Inspection and runtime helpers for PyTorch: summaries, counts, devices, seeds."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .. import i18n, runtime


def layer_summary(model: nn.Module, input_shape: tuple[int, ...]) -> None:
    """Prints the output shape of each top-level stage of ``model.net`` (NCHW)."""
    X = torch.randn(*input_shape)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for name, layer in _stages(model):
            X = layer(X)
            print(i18n.t("output_shape", name=name, shape=tuple(X.shape)))
    model.train(was_training)


def _stages(model: nn.Module) -> list[tuple[str, nn.Module]]:
    net: nn.Module = getattr(model, "net", model)
    return list(net.named_children())


def _materialize(model: nn.Module, input_shape: tuple[int, ...]) -> None:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(*input_shape))
    model.train(was_training)


def count_params(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Number of trainable parameters; builds lazy layers with a dummy input first."""
    _materialize(model, input_shape)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def block_cost(
    block: nn.Module, input_shape: tuple[int, ...]
) -> dict[str, int]:
    """Parameters and FLOPs of one forward pass of ``block`` on one input of that shape.

    FLOPs count a multiply-add as 2 (the convention of ``torch.utils.flop_counter``);
    the papers' "FLOPs" count multiply-adds, i.e. half these numbers.
    """
    params = count_params(block, input_shape)
    block.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        block(torch.zeros(*input_shape))
    return {"params": params, "flops": int(counter.get_total_flops())}


def gpu_available() -> bool:
    """Whether PyTorch sees a CUDA GPU."""
    return torch.cuda.is_available()


def try_gpu() -> torch.device:
    """The first CUDA GPU, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if (
        getattr(torch.backends, "mps", None)
        and torch.backends.mps.is_available()
    ):
        return torch.device("mps")
    return torch.device("cpu")


def training_config(size: str | None = None) -> runtime.TrainingConfig:
    """The book's training configuration for this machine; prints which one runs."""
    return runtime.announce(runtime.training_config(gpu_available(), size))


def degradation_config(size: str | None = None) -> runtime.DegradationConfig:
    """The degradation page's run for this machine; prints which one runs."""
    return runtime.announce(runtime.degradation_config(gpu_available(), size))


def seed_everything(seed: int = 0) -> None:
    """Seeds Python, NumPy and PyTorch for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
