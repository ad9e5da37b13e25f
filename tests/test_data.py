"""Tests for d2l_resnet.data: IDX parsing, checks, download and loading (no network)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import importlib.util
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from d2l_resnet import data

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = FIXTURES / "fashion-mnist-tiny"
SHARED_SUBSET = Path("/work/shared/data/fashion-mnist-subset")

_spec = importlib.util.spec_from_file_location("make_tiny", FIXTURES / "make_tiny.py")
make_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_tiny)


def write_dataset(folder: Path, n_train: int = 12, n_val: int = 7, seed: int = 0) -> dict:
    """Write four small random IDX gzip files into ``folder``; return their md5 sums."""
    rng = np.random.default_rng(seed)
    arrays = {
        data.TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28)),
        data.TRAIN_LABELS: rng.integers(0, 10, n_train),
        data.VAL_IMAGES: rng.integers(0, 256, (n_val, 28, 28)),
        data.VAL_LABELS: rng.integers(0, 10, n_val),
    }
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, array in arrays.items():
        blob = make_tiny.idx_gzip(array)
        (folder / name).write_bytes(blob)
        sums[name] = hashlib.md5(blob).hexdigest()
    return sums


@pytest.fixture
def serve():
    """Start HTTP servers on 127.0.0.1 serving a folder; yield a starter."""
    servers = []

    def start(folder: Path, handler=None) -> tuple[str, list[str]]:
        requests: list[str] = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                if handler is None:
                    super().do_GET()
                else:
                    handler(self)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
        )
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/", requests

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_load_fixture():
    ds = data.load_fashion_mnist(TINY, download=False)
    assert ds.train_images.shape == (200, 28, 28) and ds.train_images.dtype == np.uint8
    assert ds.val_images.shape == (100, 28, 28) and ds.val_images.dtype == np.uint8
    assert ds.train_labels.shape == (200,) and ds.train_labels.dtype == np.int64
    assert ds.val_labels.shape == (100,) and ds.val_labels.dtype == np.int64
    for labels in (ds.train_labels, ds.val_labels):
        assert labels.min() >= 0 and labels.max() <= 9
    assert len(np.unique(ds.train_labels)) == 10
    assert 0 < ds.train_images.mean() < 255
    assert str(ds) == ds.source
    assert ds.source == f"Fashion-MNIST from {TINY}: 200 training and 100 validation images"
    assert ds.source in repr(ds)
    assert len(data.TEXT_LABELS) == 10 and data.TEXT_LABELS[9] == "ankle boot"


@pytest.mark.skipif(not SHARED_SUBSET.is_dir(), reason="shared Fashion-MNIST subset not present")
def test_fixture_is_start_of_shared_subset():
    tiny = data.load_fashion_mnist(TINY, download=False)
    subset = data.load_fashion_mnist(SHARED_SUBSET, download=False)
    assert len(subset.train_images) == 8517 and len(subset.val_images) == 6978
    assert "8,517 training and 6,978 validation" in subset.source
    np.testing.assert_array_equal(tiny.train_labels, subset.train_labels[:200])
    np.testing.assert_array_equal(tiny.val_labels, subset.val_labels[:100])
    np.testing.assert_array_equal(tiny.train_images, subset.train_images[:200])
    np.testing.assert_array_equal(tiny.val_images, subset.val_images[:100])


def test_make_tiny_is_deterministic(tmp_path):
    make_tiny.make_tiny(TINY, tmp_path)  # Re-carving the fixture from itself changes nothing.
    for name in (*data.FILES, data.MD5SUMS):
        assert (tmp_path / name).read_bytes() == (TINY / name).read_bytes(), name


def test_local_files_without_md5sums_are_not_checked(tmp_path):
    write_dataset(tmp_path, n_train=5, n_val=3)
    ds = data.load_fashion_mnist(tmp_path, download=False)
    assert ds.train_images.shape == (5, 28, 28) and ds.val_labels.shape == (3,)


def test_md5sums_mismatch(tmp_path):
    shutil.copytree(TINY, tmp_path, dirs_exist_ok=True)
    write_dataset(tmp_path / "other")
    shutil.copy(tmp_path / "other" / data.VAL_LABELS, tmp_path / data.VAL_LABELS)
    with pytest.raises(data.DataError, match=data.VAL_LABELS) as info:
        data.load_fashion_mnist(tmp_path, download=False)
    expected = hashlib.md5((TINY / data.VAL_LABELS).read_bytes()).hexdigest()
    actual = hashlib.md5((tmp_path / data.VAL_LABELS).read_bytes()).hexdigest()
    assert expected in str(info.value) and actual in str(info.value)


def test_read_idx_plain_and_gzip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(make_tiny.idx_gzip(array))
    (tmp_path / "a").write_bytes(gzip.decompress(make_tiny.idx_gzip(array)))
    for path in (tmp_path / "a.gz", tmp_path / "a"):
        out = data.read_idx(path)
        np.testing.assert_array_equal(out, array)
        assert out.flags.writeable


def test_wrong_magic(tmp_path):
    path = tmp_path / data.TRAIN_LABELS
    path.write_bytes(make_tiny.idx_gzip(np.zeros((2, 28, 28))))  # Images where labels belong.
    with pytest.raises(data.DataError) as info:
        data.read_idx(path, ndim=1)
    message = str(info.value)
    assert str(path) in message and "0x00000803" in message and "0x00000801" in message
    path.write_bytes(gzip.compress(b"<html>Not Found</html>"))
    with pytest.raises(data.DataError, match="magic number 0x3c68746d"):
        data.read_idx(path)


@pytest.mark.parametrize("change", [lambda raw: raw[:-1], lambda raw: raw + b"\0", lambda raw: b""])
def test_truncated_or_trailing_data(tmp_path, change):
    raw = gzip.decompress(make_tiny.idx_gzip(np.zeros((3, 28, 28))))
    path = tmp_path / data.VAL_IMAGES
    path.write_bytes(gzip.compress(change(raw)))
    with pytest.raises(data.DataError, match="truncated or corrupt") as info:
        data.read_idx(path)
    assert str(path) in str(info.value) and "download it again" in str(info.value)


@pytest.mark.parametrize("change", [lambda blob: blob[: len(blob) // 2], lambda blob: blob[:-5]])
def test_corrupted_gzip(tmp_path, change):
    path = tmp_path / data.TRAIN_IMAGES
    path.write_bytes(change((TINY / data.TRAIN_IMAGES).read_bytes()))
    with pytest.raises(data.DataError, match="not a valid gzip file") as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_corrupted_gzip_body(tmp_path):
    blob = bytearray((TINY / data.TRAIN_LABELS).read_bytes())
    blob[40] ^= 0xFF
    path = tmp_path / data.TRAIN_LABELS
    path.write_bytes(bytes(blob))
    with pytest.raises(data.DataError, match=data.TRAIN_LABELS):
        data.read_idx(path)


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (np.zeros((3, 28, 28)), np.zeros(2), "3 images but .* 2 labels"),
        (np.zeros((3, 28, 27)), np.zeros(3), r"shape \(28, 27\)"),
        (np.zeros((3, 28, 28)), np.array([0, 10, 1]), "label 10, outside 0..9"),
    ],
)
def test_inconsistent_arrays(tmp_path, images, labels, match):
    write_dataset(tmp_path)
    (tmp_path / data.VAL_IMAGES).write_bytes(make_tiny.idx_gzip(images))
    (tmp_path / data.VAL_LABELS).write_bytes(make_tiny.idx_gzip(labels))
    with pytest.raises(data.DataError, match=match):
        data.load_fashion_mnist(tmp_path, download=False)


def test_download_from_local_server(tmp_path, serve):
    md5 = write_dataset(tmp_path / "server")
    url, requests = serve(tmp_path / "server")
    cache = tmp_path / "cache"
    assert data.download(cache, base_url=url, md5=md5) == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(data.FILES)
    for name in data.FILES:
        assert (cache / name).read_bytes() == (tmp_path / "server" / name).read_bytes()
    assert sorted(requests) == sorted(f"/{name}" for name in data.FILES)
    data.download(cache, base_url=url, md5=md5)
    assert len(requests) == 4  # Files already present are not downloaded again.


def test_download_url_from_env_and_load(tmp_path, serve, monkeypatch):
    md5 = write_dataset(tmp_path / "server", n_train=4, n_val=2)
    url, _ = serve(tmp_path / "server")
    monkeypatch.setenv(data.URL_ENV, url)
    monkeypatch.setattr(data, "MD5", md5)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "cache"))
    ds = data.load_fashion_mnist()
    assert ds.train_images.shape == (4, 28, 28) and ds.val_labels.shape == (2,)
    assert str(tmp_path / "cache") in ds.source


def test_download_corrupted_file_leaves_nothing(tmp_path, serve):
    md5 = write_dataset(tmp_path / "server")
    blob = bytearray((tmp_path / "server" / data.TRAIN_IMAGES).read_bytes())
    blob[100] ^= 0xFF
    (tmp_path / "server" / data.TRAIN_IMAGES).write_bytes(bytes(blob))
    actual = hashlib.md5(blob).hexdigest()
    url, _ = serve(tmp_path / "server")
    cache = tmp_path / "cache"
    with pytest.raises(data.DataError) as info:
        data.download(cache, base_url=url, md5=md5)
    assert not isinstance(info.value, data.DatasetNotFoundError)
    message = str(info.value)
    assert data.TRAIN_IMAGES in message and md5[data.TRAIN_IMAGES] in message and actual in message
    assert list(cache.iterdir()) == []


def test_interrupted_download_leaves_nothing(tmp_path, serve):
    def cut_short(request):
        request.send_response(200)
        request.send_header("Content-Length", "100000")
        request.end_headers()
        request.wfile.write(b"\x1f\x8b" + bytes(998))
        request.wfile.flush()
        request.close_connection = True

    md5 = write_dataset(tmp_path / "server")
    url, _ = serve(tmp_path / "server", handler=cut_short)
    cache = tmp_path / "cache"
    with pytest.raises(data.DatasetNotFoundError, match=data.TRAIN_IMAGES):
        data.download(cache, base_url=url, md5=md5, timeout=5)
    assert list(cache.iterdir()) == []


def test_download_offline(tmp_path, closed_port_url):
    cache = tmp_path / "cache"
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_fashion_mnist(cache, base_url=closed_port_url)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for name in data.FILES:
        assert closed_port_url + name in message
    assert str(cache) in message and data.DATA_ENV in message
    assert list(cache.iterdir()) == []


def test_missing_without_download(tmp_path):
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_fashion_mnist(tmp_path, download=False)
    message = str(info.value)
    for name in data.FILES:
        assert data.BASE_URL + name in message
    assert str(tmp_path) in message and data.DATA_ENV in message
    assert list(tmp_path.iterdir()) == []


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.default_data_dir() == tmp_path
    monkeypatch.delenv(data.DATA_ENV)
    assert data.default_data_dir() == Path.home() / ".cache" / "d2l_resnet" / "fashion-mnist"


def test_no_framework_import():
    code = (
        "import d2l_resnet.data, sys; "
        "assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
