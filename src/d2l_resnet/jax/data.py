"""Fashion-MNIST batches for JAX, resized on the fly on the training device."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import data as _data


class FashionMNIST(_data.FashionMNISTBase):
    """Fashion-MNIST as shuffled batches of float images in [0, 1], NHWC.

    The 28x28 images stay as uint8 in host memory; each batch is copied to the device
    as uint8 and resized there by a compiled function. JAX dispatches both
    asynchronously, so the next batch is prepared while the current one trains.

    Args: see ``d2l_resnet.data.FashionMNISTBase``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rng = np.random.default_rng(self.seed)

    def _convert(
        self, images: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return images[..., np.newaxis], labels.astype(np.int32)

    def _permutation(self, n: int) -> np.ndarray:
        return self.rng.permutation(n)

    def _batch(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        index: slice | np.ndarray,
        device: jax.Device | None,
    ) -> tuple[jax.Array, jax.Array]:
        X, y = jax.device_put((images[index], labels[index]), device)
        return resize_batch(X, self.resize), y


@partial(jax.jit, static_argnums=1)
def resize_batch(X: jax.Array, size: tuple[int, int]) -> jax.Array:
    """uint8 NHWC images to float32 in [0, 1], bilinearly resized to ``size``.

    Uses half-pixel centres, like ``torch.nn.functional.interpolate`` with
    ``align_corners=False``, and antialiasing when shrinking, as the other loaders do.
    """
    X = X.astype(jnp.float32) / 255
    if tuple(X.shape[1:3]) != tuple(size):
        X = jax.image.resize(
            X,
            (X.shape[0], *size, X.shape[3]),
            method="bilinear",
            antialias=X.shape[2] > size[1],
        )
    return X
