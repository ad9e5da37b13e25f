"""The CPU speed path of the Keras code, in one place (as ``d2l_resnet.jax.layers``).

The blocks and models are written with stock Keras layers; the one layer that they
take from here instead is batch normalization:

- ``batch_norm()`` is Keras's ``BatchNormalization`` with PyTorch's defaults
  (momentum 0.1 in PyTorch's sense, epsilon 1e-5), so that the frameworks agree.
  Its class computes the same thing with TensorFlow's fused kernel, one op instead
  of about twenty: unfused, batch norm took a third of every training step of the
  small networks on a CPU when this layer was written; fused, its three ops take 3.9%
  of a ResNet-18 step (``bench/profile_step.py``, stored in
  ``bench/results/profile-resnet18-tensorflow.json``).
  ``tests/test_training.py::test_fused_batch_norm_computes_what_keras_does`` checks
  it against Keras's own layer, forward and backward, in float32 and bfloat16.

The other speed choices of the TensorFlow package are the ``Trainer``'s: compiled
steps, the per-layer bfloat16 policy where the hardware has fast bfloat16, and
oneDNN's kernels (``runtime.TENSORFLOW_DEFAULTS``).
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.keras import layers


def batch_norm() -> BatchNormalization:
    """Batch normalization with PyTorch's defaults, so both frameworks agree."""
    return BatchNormalization(momentum=0.9, epsilon=1e-5)


class BatchNormalization(layers.BatchNormalization):
    """Keras' batch normalization, computed by TensorFlow's fused kernel.

    Same weights, same arithmetic (batch statistics in float32, the biased batch
    variance in the moving average, output in the compute dtype), but one
    ``FusedBatchNormV3`` op forward and one backward on NHWC images instead of about
    twenty element-wise ops, each a pass over the activations: on a CPU the
    unfused version took a third of every training step of the small networks.
    Other inputs (masks, renorm, other axes or ranks) take Keras' own path.
    """

    def call(
        self,
        inputs: tf.Tensor,
        training: bool | None = None,
        mask: tf.Tensor | None = None,
    ) -> tf.Tensor:
        dtype = tf.as_dtype(self.compute_dtype)
        if (
            mask is not None
            or self.renorm
            or self.synchronized
            or not self.center
            or not self.scale
            or len(inputs.shape) != 4
            or self.axis not in (-1, 3)
            or inputs.shape[-1] is None
            or dtype not in (tf.float32, tf.bfloat16, tf.float16)
        ):
            return super().call(inputs, training=training, mask=mask)
        X = tf.cast(inputs, dtype)
        gamma, beta = (
            tf.convert_to_tensor(self.gamma),
            tf.convert_to_tensor(self.beta),
        )
        if training and self.trainable:
            empty = tf.constant([], tf.float32)
            Y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
                x=X,
                scale=gamma,
                offset=beta,
                mean=empty,
                variance=empty,
                epsilon=self.epsilon,
                data_format="NHWC",
                is_training=True,
            )
            # The kernel returns the unbiased variance (n / (n - 1)); Keras
            # keeps the biased one in its moving average.
            n = tf.cast(tf.size(X) // tf.shape(X)[-1], tf.float32)
            variance = tf.where(
                n > 1, variance * ((n - 1) / tf.maximum(n, 1)), 0.0
            )
            self.moving_mean.assign(
                self.moving_mean * self.momentum + mean * (1.0 - self.momentum)
            )
            self.moving_variance.assign(
                self.moving_variance * self.momentum
                + variance * (1.0 - self.momentum)
            )
            return Y
        Y, *_ = tf.raw_ops.FusedBatchNormV3(
            x=X,
            scale=gamma,
            offset=beta,
            mean=tf.convert_to_tensor(self.moving_mean),
            variance=tf.convert_to_tensor(self.moving_variance),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=False,
        )
        return Y
