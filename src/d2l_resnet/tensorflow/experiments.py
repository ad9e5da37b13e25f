"""The book's experiments on a ResNet for Keras: the gradient norms of the
degradation problem and the lesion study of Veit et al. (2016)."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers

from ..variants import check_lesion_inputs, lesion_result
from .models import ResNet


def gradient_norms(
    model: tf.keras.Model, X: tf.Tensor, y: tf.Tensor
) -> list[float]:
    """L2 norm of the loss gradient for each convolution's kernel, input to output
    (shortcut projections left out), after one forward and backward pass in
    training mode."""
    model(X[:1], training=False)  # build
    kernels = [conv.kernel for conv in _main_path_convs(model)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(
            tf.keras.losses.sparse_categorical_crossentropy(
                y, model(X, training=True), from_logits=True
            )
        )
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


def _main_path_convs(layer: layers.Layer) -> list[layers.Conv2D]:
    """Conv2D layers depth-first in build order, skipping every block's shortcut."""
    found: list[layers.Conv2D] = []
    for sub in layer._flatten_layers(include_self=False, recursive=False):
        if isinstance(sub, layers.Conv2D):
            found.append(sub)
        elif sub is not getattr(layer, "shortcut", None):
            found += _main_path_convs(sub)
    return found


def lesion_accuracies(
    model: ResNet,
    X: tf.Tensor | np.ndarray,
    y: tf.Tensor | np.ndarray,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Accuracy of ``model`` on ``(X, y)``, intact and with each block deleted in turn.

    The lesion experiment of Veit et al. (2016): deleting a block at test time makes
    it compute the identity, so that its input goes on to the next block unchanged.
    Only a block whose output has the shape of its input can be deleted (a residual
    block with an identity shortcut, or a plain block that keeps the shape); the
    first block of a stage that halves the resolution or changes the width cannot.
    The model runs in inference mode (batch norm with its running statistics) and
    in its own compute dtype (bfloat16 if the ``Trainer`` chose it). One compiled
    function serves every lesion: which blocks are kept is a tensor argument, so
    deleting another block does not trace the function again.

    Args:
        model: A ``ResNet``.
        X: Images, NHWC, as the model takes them.
        y: Integer labels, one per image.
        batch_size: Images per forward pass.

    Returns:
        A dict with ``"intact"``: the accuracy of the whole model; ``"deleted"``: one
        accuracy per block, from the input to the output, NaN for a block that
        cannot be deleted; ``"skipped"``: the indices of those blocks.
    """
    X, y = tf.convert_to_tensor(X), tf.convert_to_tensor(y)
    check_lesion_inputs(model, ResNet, X.shape[0], y.shape[0], batch_size)
    # builds the model, checks layout and channels
    model(X[:1], training=False)
    stages = [
        layer for layer in model.net.layers if layer.name.startswith("stage")
    ]
    blocks = [block for stage in stages for block in stage.layers]
    deletable = model.spec.deletable_blocks()
    stem, head = model.net.get_layer("stem"), model.net.get_layer("head")

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, *X.shape[1:]], X.dtype),
            tf.TensorSpec([None], y.dtype),
            tf.TensorSpec([len(blocks)], tf.bool),
        ]
    )
    def count_correct(
        X: tf.Tensor, y: tf.Tensor, keep: tf.Tensor
    ) -> tf.Tensor:
        H = stem(X, training=False)
        for k, block in enumerate(blocks):
            out = block(H, training=False)
            # A deleted block passes its input on; tf.where selects exactly.
            H = tf.where(keep[k], out, H) if deletable[k] else out
        predictions = tf.argmax(
            head(H, training=False), axis=1, output_type=y.dtype
        )
        return tf.reduce_sum(tf.cast(predictions == y, tf.int64))

    masks = [[True] * len(blocks)] + [
        [j != k for j in range(len(blocks))]
        for k in range(len(blocks))
        if deletable[k]
    ]
    correct = [0] * len(masks)
    for start in range(0, int(y.shape[0]), batch_size):
        Xb, yb = X[start : start + batch_size], y[start : start + batch_size]
        for i, mask in enumerate(masks):
            correct[i] += int(count_correct(Xb, yb, tf.constant(mask)))
    return lesion_result(correct, deletable, int(y.shape[0]))
