"""Fashion-MNIST batches for PyTorch, resized on the fly on the training device."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .. import data as _data
from ..runtime import check_positive_int, parse_resize


class FashionMNIST:
    """Fashion-MNIST as shuffled batches of float images in [0, 1], NCHW.

    The 28x28 images stay as uint8 in memory; each batch is resized with bilinear
    interpolation where it is consumed (on the GPU when training runs there), which
    is far cheaper than resizing every image on the CPU in the loader.

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
        self.generator = torch.Generator().manual_seed(seed)
        self.text_labels = _data.TEXT_LABELS

    def __repr__(self):
        return (f"FashionMNIST({len(self.train[0]):,} training and {len(self.val[0]):,} "
                f"validation images, batch {self.batch_size}, resized to "
                f"{self.resize[0]}x{self.resize[1]})")

    def train_dataloader(self, device=None):
        """One epoch of shuffled training batches ``(X, y)``."""
        return _Batches(self, *self.train, shuffle=True, device=device)

    def val_dataloader(self, device=None):
        """One pass over the validation set, in order."""
        return _Batches(self, *self.val, shuffle=False, device=device)


def _subset(images, labels, n, name):
    if n is not None:
        check_positive_int(name, n)
        images, labels = images[:n], labels[:n]
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)


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
