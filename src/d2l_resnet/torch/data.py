"""Fashion-MNIST batches for PyTorch, resized on the fly on the training device."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .. import data as _data


class FashionMNIST(_data.FashionMNISTBase):
    """Fashion-MNIST as shuffled batches of float images in [0, 1], NCHW.

    The 28x28 images stay as uint8 in memory; each batch is resized with bilinear
    interpolation where it is consumed (on the GPU when training runs there), which
    is far cheaper than resizing every image on the CPU in the loader.

    Args: see ``d2l_resnet.data.FashionMNISTBase``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generator = torch.Generator().manual_seed(self.seed)

    def _convert(
        self, images: np.ndarray, labels: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)

    def _permutation(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator)

    def _batch(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        index: slice | torch.Tensor,
        device: torch.device | str | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        X, y = images[index], labels[index]
        if device is not None:
            X = X.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
        return resize_batch(X, self.resize), y


def resize_batch(X: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 NCHW images to float32 in [0, 1], bilinearly resized to ``size``."""
    X = X.float().div_(255)
    if tuple(X.shape[-2:]) != tuple(size):
        X = F.interpolate(
            X,
            size=size,
            mode="bilinear",
            align_corners=False,
            antialias=X.shape[-1] > size[1],
        )
    return X
