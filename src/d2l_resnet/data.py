"""Framework-neutral Fashion-MNIST loading: IDX files to numpy arrays.

This module needs only numpy and the standard library; the PyTorch and
TensorFlow data pipelines build on the arrays it returns.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import math
import os
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
"""Where the official files are served; overridden by ``D2L_RESNET_FASHION_MNIST_URL``."""

URL_ENV = "D2L_RESNET_FASHION_MNIST_URL"
DATA_ENV = "D2L_RESNET_DATA"

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
VAL_IMAGES = "t10k-images-idx3-ubyte.gz"
VAL_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, VAL_IMAGES, VAL_LABELS)

MD5 = {
    TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
    VAL_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
    VAL_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
}
"""md5 sums of the official (full-size) files."""

MD5SUMS = "MD5SUMS"
"""Optional file, in ``md5sum`` format, listing the sums of the files beside it."""

TEXT_LABELS = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip

IMAGE_SHAPE = (28, 28)
# IDX magic of unsigned-byte data; the low byte is the number of dims.
_IDX_UBYTE = 0x0800
_CHUNK = 1 << 20
# What a failed or interrupted transfer raises (URLError wraps DNS and connect
# errors).
_NETWORK_ERRORS = (
    urllib.error.URLError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


class DataError(RuntimeError):
    """A dataset file is corrupt, truncated, inconsistent or failed its md5 check."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The dataset is not on disk and could not be downloaded."""


@dataclasses.dataclass(frozen=True, eq=False)
class FashionMNISTArrays:
    """Fashion-MNIST as numpy arrays; the official test split serves as validation set.

    Attributes:
        train_images: uint8 array of shape (N, 28, 28).
        train_labels: int64 array of shape (N,), values 0..9 (see ``TEXT_LABELS``).
        val_images: uint8 array of shape (M, 28, 28).
        val_labels: int64 array of shape (M,).
        source: Where the data came from and how big it is, for printing.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    source: str

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"FashionMNISTArrays(source={self.source!r})"


def default_data_dir() -> Path:
    """The dataset folder: ``$D2L_RESNET_DATA``, else ``~/.cache/d2l_resnet/fashion-mnist``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "d2l_resnet" / "fashion-mnist"


def _base_url(base_url: str | None) -> str:
    url = base_url or os.environ.get(URL_ENV) or BASE_URL
    return url.rstrip("/") + "/"


def _manual_instructions(root: Path, base_url: str) -> str:
    urls = "\n".join(f"  {base_url}{name}" for name in FILES)
    return (
        f"Download these files by hand:\n{urls}\n"
        f"and put them, still gzipped, in {root}\n"
        f"or set {DATA_ENV} to a folder that already holds them "
        f"(a subset with fewer records is fine)."
    )


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, dest: Path, timeout: float) -> str:
    """Stream ``url`` into ``dest`` and return the md5 of what was written."""
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with (
        urllib.request.urlopen(url, timeout=timeout) as response,
        open(dest, "wb") as out,
    ):
        expected = response.headers.get("Content-Length")
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            received += len(chunk)
    if expected is not None and received != int(expected):
        raise ConnectionError(
            f"connection closed after {received:,} of {int(expected):,} bytes"
        )
    return digest.hexdigest()


def download(
    root: str | os.PathLike | None = None,
    base_url: str | None = None,
    md5: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Path:
    """Download the four Fashion-MNIST files that are missing from ``root``.

    Each file is streamed to a temporary file in ``root``, md5-checked and only
    then moved into place, so ``root`` never holds a partial or unverified file.

    Args:
        root: Target folder, created if needed; defaults to ``default_data_dir()``.
        base_url: URL of the folder serving the files; defaults to
            ``$D2L_RESNET_FASHION_MNIST_URL`` or ``BASE_URL``.
        md5: Expected md5 per file name; defaults to the official sums ``MD5``.
        timeout: Socket timeout in seconds.

    Returns:
        The folder holding the files.

    Raises:
        DataError: A downloaded file failed its md5 check (it is deleted).
        DatasetNotFoundError: The server could not be reached or the transfer failed.
    """
    root = Path(root) if root is not None else default_data_dir()
    base_url = _base_url(base_url)
    md5 = MD5 if md5 is None else md5
    if unknown := [name for name in FILES if name not in md5]:
        raise ValueError(f"md5 has no entry for {', '.join(unknown)}")
    root.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        path = root / name
        if path.exists():
            continue
        url = base_url + name
        tmp = root / f".{name}.{os.getpid()}.part"
        try:
            try:
                actual = _fetch(url, tmp, timeout)
            except _NETWORK_ERRORS as err:
                raise DatasetNotFoundError(
                    f"Could not download Fashion-MNIST file {name} from {url}: {err}\n"
                    + _manual_instructions(root, base_url)
                ) from err
            if actual != md5[name]:
                raise DataError(
                    f"Downloaded {name} from {url} has md5 {actual}, expected {md5[name]}; "
                    f"it was discarded. The transfer was corrupted or the server sent a "
                    f"different file: run the download again, or fetch the file by hand "
                    f"into {root}."
                )
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return root


def _read_maybe_gzipped(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataError(
            f"{path} is not a valid gzip file ({err}): it is truncated or corrupt. "
            f"Delete it and download it again."
        ) from err


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file, gzipped or plain, into a numpy array.

    Args:
        path: The IDX file.
        ndim: Expected number of dimensions (1 for labels, 3 for images);
            ``None`` accepts either.

    Returns:
        A writable uint8 array with the shape given in the file header.

    Raises:
        DataError: The file is not valid gzip, has the wrong magic number, or
            its payload does not match the header (truncated or trailing data).
    """
    path = Path(path)
    data = _read_maybe_gzipped(path)
    if len(data) < 4:
        raise DataError(
            f"{path} is truncated or corrupt: it holds only {len(data)} bytes. "
            f"Delete it and download it again."
        )
    expected = (
        (_IDX_UBYTE | 1, _IDX_UBYTE | 3)
        if ndim is None
        else (_IDX_UBYTE | ndim,)
    )
    magic = int.from_bytes(data[:4], "big")
    if magic not in expected:
        wanted = " or ".join(f"0x{m:08x}" for m in expected)
        raise DataError(
            f"{path} is not a Fashion-MNIST IDX file: magic number 0x{magic:08x}, "
            f"expected {wanted}. Delete it and download it again."
        )
    header = 4 + 4 * (magic & 0xFF)
    if len(data) < header:
        raise DataError(
            f"{path} is truncated or corrupt: its header is incomplete. "
            f"Delete it and download it again."
        )
    dims = tuple(
        int(d)
        for d in np.frombuffer(data, dtype=">u4", count=magic & 0xFF, offset=4)
    )
    size = math.prod(dims)
    if len(data) - header != size:
        raise DataError(
            f"{path} is truncated or corrupt: its header announces shape {dims} "
            f"({size:,} bytes of data) but it holds {len(data) - header:,}. "
            f"Delete it and download it again."
        )
    return (
        np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()
    )


def _read_md5sums(path: Path) -> dict[str, str]:
    sums = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise DataError(
                f"{path}: malformed line {line!r}, expected '<md5>  <file name>'."
            )
        sums[parts[1].removeprefix("*")] = parts[0].lower()
    return sums


def _check_md5sums(root: Path) -> None:
    for name, expected in _read_md5sums(root / MD5SUMS).items():
        if name in FILES and (actual := _md5(root / name)) != expected:
            raise DataError(
                f"{root / name} has md5 {actual} but {root / MD5SUMS} lists {expected}: "
                f"the file is corrupt or was replaced. Delete it and download it again, "
                f"or fix {MD5SUMS}."
            )


def _load_split(
    root: Path, images_name: str, labels_name: str
) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(root / images_name, ndim=3)
    labels = read_idx(root / labels_name, ndim=1).astype(np.int64)
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{root / images_name} holds images of shape {images.shape[1:]}, "
            f"expected {IMAGE_SHAPE}."
        )
    if len(images) != len(labels):
        raise DataError(
            f"{root / images_name} holds {len(images):,} images but {root / labels_name} "
            f"holds {len(labels):,} labels; the files do not belong together."
        )
    if labels.size and labels.max() >= len(TEXT_LABELS):
        raise DataError(
            f"{root / labels_name} holds label {labels.max()}, outside 0..{len(TEXT_LABELS) - 1}."
        )
    return images, labels


# load_fashion_mnist's ``download`` argument shadows the function.
_download = download


def load_fashion_mnist(
    root: str | os.PathLike | None = None,
    download: bool = True,
    base_url: str | None = None,
) -> FashionMNISTArrays:
    """Load Fashion-MNIST from ``root``, downloading the official files if missing.

    Files already in ``root`` may hold any number of records (a subset is fine);
    they are md5-checked only when ``root`` holds an ``MD5SUMS`` file.

    Args:
        root: Folder with the four IDX gzip files; defaults to ``default_data_dir()``.
        download: Whether to download missing files (md5-checked against ``MD5``).
        base_url: Where to download from; see ``download()``.

    Returns:
        The training and validation (official test) arrays.

    Raises:
        DatasetNotFoundError: Files are missing and ``download`` is false or failed.
        DataError: A file is corrupt, fails ``MD5SUMS``, or images and labels disagree.
    """
    root = Path(root) if root is not None else default_data_dir()
    if missing := [name for name in FILES if not (root / name).exists()]:
        if not download:
            raise DatasetNotFoundError(
                f"Fashion-MNIST is not in {root}: missing {', '.join(missing)}. "
                f"Pass download=True to fetch them.\n"
                + _manual_instructions(root, _base_url(base_url))
            )
        _download(root, base_url)
    if (root / MD5SUMS).exists():
        _check_md5sums(root)
    train_images, train_labels = _load_split(root, TRAIN_IMAGES, TRAIN_LABELS)
    val_images, val_labels = _load_split(root, VAL_IMAGES, VAL_LABELS)
    return FashionMNISTArrays(
        train_images,
        train_labels,
        val_images,
        val_labels,
        source=(
            f"Fashion-MNIST from {root}: {len(train_images):,} training and "
            f"{len(val_images):,} validation images"
        ),
    )


class FashionMNISTBase:
    """What the PyTorch, TensorFlow and JAX ``FashionMNIST`` loaders share: argument checks,
    loading, and the optional cut to the first ``num_train``/``num_val`` images.

    Args:
        batch_size: Images per batch.
        resize: Output (height, width), or one int for a square.
        root: Folder of the IDX files; see ``load_fashion_mnist``.
        num_train: Use only the first ``num_train`` training images (all by default).
        num_val: Use only the first ``num_val`` validation images (all by default).
        download: Download the official files when they are missing.
        seed: Seed of the shuffling.
    """

    def __init__(
        self,
        batch_size: int = 64,
        resize: int | tuple[int, int] = (28, 28),
        root: str | os.PathLike | None = None,
        num_train: int | None = None,
        num_val: int | None = None,
        download: bool = True,
        seed: int = 0,
    ) -> None:
        from .runtime import check_positive_int, parse_resize

        self.batch_size = check_positive_int("batch_size", batch_size)
        self.resize = parse_resize(resize)
        for name, n in (("num_train", num_train), ("num_val", num_val)):
            if n is not None:
                check_positive_int(name, n)
        arrays = load_fashion_mnist(root, download=download)
        self.source = arrays.source
        self.seed = seed
        self.text_labels = TEXT_LABELS
        self.train = self._convert(
            arrays.train_images[:num_train], arrays.train_labels[:num_train]
        )
        self.val = self._convert(
            arrays.val_images[:num_val], arrays.val_labels[:num_val]
        )

    def _convert(
        self, images: np.ndarray, labels: np.ndarray
    ) -> tuple[Any, Any]:
        """Turns uint8 images (N, 28, 28) and labels into the framework's tensors."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.train[1]):,} training and "
            f"{len(self.val[1]):,} validation images, batch {self.batch_size}, "
            f"resized to {self.resize[0]}x{self.resize[1]})"
        )

    def train_dataloader(self, device: Any = None) -> Batches:
        """One epoch of shuffled training batches ``(X, y)``, on ``device`` if given."""
        return Batches(self, *self.train, shuffle=True, device=device)

    def val_dataloader(self, device: Any = None) -> Batches:
        """One pass over the validation set, in order, on ``device`` if given."""
        return Batches(self, *self.val, shuffle=False, device=device)

    def _permutation(self, n: int) -> Any:
        """A new random order of ``n`` examples, from the loader's seeded generator."""
        raise NotImplementedError

    def _batch(
        self, images: Any, labels: Any, index: slice | Any, device: Any
    ) -> tuple[Any, Any]:
        """The batch ``(X, y)`` at ``index`` (a slice or indices), on ``device``,
        resized, as the model takes it."""
        raise NotImplementedError


class Batches:
    """One pass over ``images`` and ``labels`` in minibatches of ``data.batch_size``,
    shuffled or in order; ``len()`` is the number of batches. The PyTorch and JAX
    loaders return it; TensorFlow's return a ``tf.data`` pipeline."""

    def __init__(
        self,
        data: FashionMNISTBase,
        images: Any,
        labels: Any,
        shuffle: bool,
        device: Any = None,
    ) -> None:
        self.data, self.images, self.labels = data, images, labels
        self.shuffle, self.device = shuffle, device

    def __len__(self) -> int:
        return -(-len(self.labels) // self.data.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        n, size = len(self.labels), self.data.batch_size
        order = self.data._permutation(n) if self.shuffle else None
        for start in range(0, n, size):
            index = (
                slice(start, start + size)
                if order is None
                else order[start : start + size]
            )
            yield self.data._batch(
                self.images, self.labels, index, self.device
            )
