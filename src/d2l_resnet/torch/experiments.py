"""The book's experiments on a ResNet for PyTorch: the gradient norms of the
degradation problem and the lesion study of Veit et al. (2016)."""

from __future__ import annotations

import contextlib
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from ..variants import check_lesion_inputs, lesion_result
from .models import ResNet


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
    model: ResNet,
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
        model: A ``ResNet``.
        X: Images, NCHW, as the model takes them.
        y: Integer labels, one per image.
        batch_size: Images per forward pass.

    Returns:
        A dict with ``"intact"``: the accuracy of the whole model; ``"deleted"``: one
        accuracy per block, from the input to the output, NaN for a block that
        cannot be deleted; ``"skipped"``: the indices of those blocks.
    """
    from .train import _autocast_dtype

    check_lesion_inputs(model, ResNet, len(X), len(y), batch_size)
    # ResNet.net: a Sequential stem, Sequential stages of blocks, a
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
