"""Fashion-MNIST batches for PyTorch, resized on the fly on the training device."""

from __future__ import annotations

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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.generator = torch.Generator().manual_seed(self.seed)

    def _convert(self, images, labels):
        return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)

    def train_dataloader(self, device=None):
        """One epoch of shuffled training batches ``(X, y)``."""
        return _Batches(self, *self.train, shuffle=True, device=device)

    def val_dataloader(self, device=None):
        """One pass over the validation set, in order."""
        return _Batches(self, *self.val, shuffle=False, device=device)


class _Batches:
    def __init__(self, data, images, labels, shuffle, device):
        self.data, self.images, self.labels = data, images, labels
        self.shuffle, self.device = shuffle, device

    def __len__(self):
        return -(-len(self.labels) // self.data.batch_size)

    def __iter__(self):
        n = len(self.labels)
        order = torch.randperm(n, generator=self.data.generator) if self.shuffle else None
        for start in range(0, n, self.data.batch_size):
            idx = slice(start, start + self.data.batch_size) if order is None else \
                order[start:start + self.data.batch_size]
            X, y = self.images[idx], self.labels[idx]
            if self.device is not None:
                X = X.to(self.device, non_blocking=True)
                y = y.to(self.device, non_blocking=True)
            yield resize_batch(X, self.data.resize), y


def resize_batch(X: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 NCHW images to float32 in [0, 1], bilinearly resized to ``size``."""
    X = X.float().div_(255)
    if tuple(X.shape[-2:]) != tuple(size):
        X = F.interpolate(X, size=size, mode="bilinear", align_corners=False,
                          antialias=X.shape[-1] > size[1])
    return X
