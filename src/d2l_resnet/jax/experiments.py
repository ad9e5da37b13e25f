"""The book's experiments on a ResNet for Flax NNX: the gradient norms of the
degradation problem and the lesion study of Veit et al. (2016)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

from ..runtime import check_images
from ..variants import check_lesion_inputs, lesion_result
from .layers import call_order
from .models import ResNet


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
    model: ResNet,
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

    check_lesion_inputs(model, ResNet, len(X), len(y), batch_size)
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
