"""Fashion-MNIST batches for TensorFlow as ``tf.data`` pipelines."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from .. import data as _data


class FashionMNIST(_data.FashionMNISTBase):
    """Fashion-MNIST as shuffled batches of float images in [0, 1], NHWC.

    The 28x28 images stay as uint8 in memory; the pipeline shuffles all images
    (not just the order of batches), then resizes whole batches at once and
    prefetches the next batch while the current one trains.

    Args: see ``d2l_resnet.data.FashionMNISTBase``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._train_ds = self._pipeline(*self.train, shuffle=True)
        self._val_ds = self._pipeline(*self.val, shuffle=False)

    def _convert(
        self, images: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return images[..., np.newaxis], labels.astype(np.int32)

    def _pipeline(
        self, images: np.ndarray, labels: np.ndarray, shuffle: bool
    ) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        if shuffle:
            ds = ds.shuffle(
                len(labels), seed=self.seed, reshuffle_each_iteration=True
            )
        ds = ds.batch(self.batch_size)
        ds = ds.map(
            lambda X, y: (resize_batch(X, self.resize), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        # No autotuning: AUTOTUNE then means a fixed default (as many parallel
        # calls as cores). On one core (a notebook kernel under pytest -n 2),
        # tf.data's autotuner made whole epochs run at half speed, at random:
        # ResNet-18 on the training page's small run, 10 of 18 epochs took
        # 21.5-23 s instead of 11.5-13 s; with it off, 0 of 12 did.
        options = tf.data.Options()
        options.autotune.enabled = False
        return ds.prefetch(tf.data.AUTOTUNE).with_options(options)

    # Unlike the base's, the two loaders take no device: the batches land where
    # the Trainer's tf.device scope puts them (the parity tests' ALLOWED says
    # why).
    def train_dataloader(self) -> tf.data.Dataset:  # type: ignore[override]  # no device
        """One epoch of shuffled training batches ``(X, y)``."""
        return self._train_ds

    def val_dataloader(self) -> tf.data.Dataset:  # type: ignore[override]  # no device
        """One pass over the validation set, in order."""
        return self._val_ds


def resize_batch(X: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """uint8 NHWC images to float32 in [0, 1], bilinearly resized to ``size``.

    Uses half-pixel centres, like ``torch.nn.functional.interpolate`` with
    ``align_corners=False``, so both frameworks see the same pixels.
    """
    X = tf.cast(X, tf.float32) / 255
    if tuple(X.shape[1:3]) != tuple(size):
        X = tf.image.resize(
            X, size, method="bilinear", antialias=X.shape[2] > size[1]
        )
    return X
