"""Fashion-MNIST batches for TensorFlow as ``tf.data`` pipelines."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .. import data as _data
from ..runtime import check_positive_int, parse_resize


class FashionMNIST:
    """Fashion-MNIST as shuffled batches of float images in [0, 1], NHWC.

    The 28x28 images stay as uint8 in memory; the pipeline shuffles all images
    (not just the order of batches), then resizes whole batches at once and
    prefetches the next batch while the current one trains.

    Args:
        batch_size: Images per batch.
        resize: Output (height, width), or one int for a square.
        root: Folder of the IDX files; see ``d2l_resnet.data.load_fashion_mnist``.
        num_train: Use only the first ``num_train`` training images (all by default).
        num_val: Use only the first ``num_val`` validation images (all by default).
        download: Download the official files when they are missing.
        seed: Seed of the shuffling.
    """

    def __init__(self, batch_size=64, resize=(28, 28), root=None, num_train=None,
                 num_val=None, download=True, seed=0):
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.resize = parse_resize(resize)
        arrays = _data.load_fashion_mnist(root, download=download)
        self.source = arrays.source
        self.train = _subset(arrays.train_images, arrays.train_labels, num_train, "num_train")
        self.val = _subset(arrays.val_images, arrays.val_labels, num_val, "num_val")
        self.seed = seed
        self.text_labels = _data.TEXT_LABELS
        self._train_ds = self._pipeline(*self.train, shuffle=True)
        self._val_ds = self._pipeline(*self.val, shuffle=False)

    def __repr__(self):
        return (f"FashionMNIST({len(self.train[0]):,} training and {len(self.val[0]):,} "
                f"validation images, batch {self.batch_size}, resized to "
                f"{self.resize[0]}x{self.resize[1]})")

    def _pipeline(self, images, labels, shuffle):
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        if shuffle:
            ds = ds.shuffle(len(labels), seed=self.seed, reshuffle_each_iteration=True)
        ds = ds.batch(self.batch_size)
        ds = ds.map(lambda X, y: (resize_batch(X, self.resize), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def train_dataloader(self):
        """One epoch of shuffled training batches ``(X, y)``."""
        return self._train_ds

    def val_dataloader(self):
        """One pass over the validation set, in order."""
        return self._val_ds


def _subset(images, labels, n, name):
    if n is not None:
        check_positive_int(name, n)
        images, labels = images[:n], labels[:n]
    return images[..., np.newaxis], labels.astype(np.int32)


def resize_batch(X, size):
    """uint8 NHWC images to float32 in [0, 1], bilinearly resized to ``size``.

    Uses half-pixel centres, like ``torch.nn.functional.interpolate`` with
    ``align_corners=False``, so both frameworks see the same pixels.
    """
    X = tf.cast(X, tf.float32) / 255
    if tuple(X.shape[1:3]) != tuple(size):
        X = tf.image.resize(X, size, method="bilinear", antialias=X.shape[2] > size[1])
    return X
