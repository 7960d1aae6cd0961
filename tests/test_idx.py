"""The IDX reader, the MNIST-like loaders on the shared data root, the checked downloader (against a
local HTTP server)."""

import functools
import gzip
import hashlib
import http.server
import shutil
import struct
import threading

import numpy as np
import pytest
import torch
from _idx_files import MNIST_FILES, MNIST_TEST_COUNTS, MNIST_TRAIN_COUNTS, idx_bytes, need, write_fake_mnist

from layerwise import datasets as ds


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("LAYERWISE_MIRROR", raising=False)


@pytest.fixture(scope="session")
def mnist_root(data_root):
    return need(data_root, "mnist")


@pytest.fixture(scope="session")
def mnist_train_raw(mnist_root):
    return ds.load("mnist", "train", root=mnist_root, scale=None)


# ------------------------------------------------------------------------------------------
# MNIST, Fashion-MNIST from the shared data root
# ------------------------------------------------------------------------------------------
def test_mnist_train_against_published_facts(mnist_train_raw):
    X, y = mnist_train_raw
    assert X.shape == (60000, 784) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(y, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert float(X.double().mean()) == pytest.approx(33.3184, abs=1e-4)
    assert float(X.min()) == 0.0 and float(X.max()) == 255.0


def test_mnist_test_split_unit_scale_and_images(mnist_root):
    X, y = ds.load("mnist", "test", root=mnist_root)
    assert X.shape == (10000, 784)
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(y, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert float(X.double().mean()) * 255 == pytest.approx(33.7912, abs=1e-3)
    Xi, _ = ds.load("mnist", "test", root=mnist_root, flatten=False, scale=None)
    assert Xi.shape == (10000, 1, 28, 28)
    assert torch.equal(Xi.reshape(10000, -1) / 255, X)


def test_mnist_found_through_env(mnist_root, monkeypatch):
    monkeypatch.setenv("LAYERWISE_DATA", str(mnist_root))
    X, y = ds.load("mnist", "test")
    assert X.shape == (10000, 784)


def test_fashion_mnist_shapes(data_root):
    root = need(data_root, "fashion-mnist")
    X, y = ds.load("fashion-mnist", "test", root=root, scale=None)
    assert X.shape == (10000, 784) and y.shape == (10000,)
    assert y[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert torch.bincount(y).tolist() == [1000] * 10
    assert float(X.double().mean()) == pytest.approx(73.1466, abs=1e-3)
    Xtr, ytr = ds.load("fashion_MNIST", root=root, flatten=False)
    assert Xtr.shape == (60000, 1, 28, 28) and ytr[:3].tolist() == [9, 0, 0]


def test_sha256_table_matches_shared_files(data_root):
    for name in ("mnist", "fashion-mnist"):
        folder = need(data_root, name) / name
        for f in MNIST_FILES:
            assert hashlib.sha256((folder / f).read_bytes()).hexdigest() == ds.SHA256[name][f]


# ------------------------------------------------------------------------------------------
# read_idx
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                        (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_values(tmp_path, code, dtype, compress):
    a = (np.arange(24).reshape(2, 3, 4) * (1 if code == 0x08 else -3)).astype(dtype)
    if code == 0x08:
        a[0, 0, 0] = 255
    raw = idx_bytes(a, code)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    got = ds.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, a)
    got[0, 0, 0] = 1  # writable, native byte order
    assert got.dtype.isnative


def test_read_idx_known_header_bytes(tmp_path):
    # Bytes written out literally, not by our own helper: 1-d uint8 of 3 labels.
    path = tmp_path / "labels"
    path.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x02\x01")
    np.testing.assert_array_equal(ds.read_idx(path), [7, 2, 1])
    path.write_bytes(b"\x00\x00\x0b\x01\x00\x00\x00\x02\x01\x00\xff\xfe")  # int16 BE: 256, -2
    np.testing.assert_array_equal(ds.read_idx(path), [256, -2])


@pytest.mark.parametrize(
    "content,match",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "two zero bytes"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type code"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "expected 5 bytes of data after the header.*found 2"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "too long.*expected 1 bytes.*found 2"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
        (b"\x00\x00", "4-byte header"),
    ],
)
def test_read_idx_bad_files_name_the_file(tmp_path, content, match):
    path = tmp_path / "bad-file-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as err:
        ds.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_truncated_mnist_sized_payload(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 28, 28) + bytes(1234))
    with pytest.raises(ValueError, match="expected 47040000 bytes of data after the header.*found 1234"):
        ds.read_idx(path)


def test_read_idx_corrupt_and_truncated_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8), 0x08))
    corrupt = tmp_path / "corrupt.gz"
    corrupt.write_bytes(good[:10] + bytes(b ^ 0xFF for b in good[10:]))
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(good[: len(good) // 2])
    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(b"this is not gzip at all")
    for path in (corrupt, truncated, not_gzip):
        with pytest.raises(ValueError, match="gzip") as err:
            ds.read_idx(path)
        assert str(path) in str(err.value)
    with pytest.raises(FileNotFoundError, match="nope.gz"):
        ds.read_idx(tmp_path / "nope.gz")


def test_idx_loader_on_fake_root(tmp_path):
    arrays = write_fake_mnist(tmp_path)
    X, y = ds.load("mnist", "train", root=tmp_path, scale=None, flatten=False)
    images, labels = arrays["train"]
    assert X.shape == (5, 1, 4, 3)
    np.testing.assert_array_equal(X[:, 0].numpy(), images.astype(np.float32))
    np.testing.assert_array_equal(y.numpy(), labels)
    Xu, _ = ds.load("mnist", "test", root=tmp_path)
    np.testing.assert_allclose(Xu.numpy(), arrays["t10k"][0].reshape(3, -1) / 255.0, rtol=1e-6)
    # Uncompressed files (no .gz) are found too.
    d = tmp_path / "mnist"
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (d / f[:-3]).write_bytes(gzip.decompress((d / f).read_bytes()))
        (d / f).unlink()
    assert torch.equal(ds.load("mnist", "test", root=tmp_path)[0], Xu)


def test_idx_loader_count_mismatch(tmp_path):
    write_fake_mnist(tmp_path, n_train=5, n_train_labels=4)
    with pytest.raises(ValueError, match="5 images but .*4 labels"):
        ds.load("mnist", root=tmp_path)


def test_idx_loader_wrong_ndim(tmp_path):
    write_fake_mnist(tmp_path)
    d = tmp_path / "mnist"
    shutil.copy(d / "train-labels-idx1-ubyte.gz", d / "train-images-idx3-ubyte.gz")
    with pytest.raises(ValueError, match="3-d IDX file of images"):
        ds.load("mnist", root=tmp_path)


@pytest.mark.parametrize("code", [0x0D, 0x0E])
def test_idx_loader_refuses_non_finite_float_pixels_naming_file_and_count(tmp_path, code):
    write_fake_mnist(tmp_path)
    images = np.random.default_rng(1).random((5, 4, 3))
    images[0, 1, 2] = np.nan
    images[3, 0, 0] = np.nan
    images[4, 3, 2] = -np.inf
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images, code)))
    with pytest.raises(ValueError, match=r"'pixels of .*train-images-idx3-ubyte\.gz' must hold only finite values; "
                                         r"found 2 NaN and 1 infinite value\(s\), the first at index \(0, 1, 2\)"):
        ds.load("mnist", "train", root=tmp_path)
    images[np.isnan(images) | np.isinf(images)] = 0.5
    path.write_bytes(gzip.compress(idx_bytes(images, code)))
    X, _ = ds.load("mnist", "train", root=tmp_path, scale=None, flatten=False)
    np.testing.assert_array_equal(X[:, 0].numpy(), images.astype(np.float32))   # finite floats load unchanged


def test_idx_loader_refuses_float64_pixels_that_overflow_float32(tmp_path):
    write_fake_mnist(tmp_path)
    images = np.zeros((5, 4, 3))
    images[2, 2, 2] = 1e300
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 0x0E)))
    with pytest.raises(ValueError, match=r"found 0 NaN and 1 infinite value\(s\), the first at index \(2, 2, 2\)"):
        ds.load("mnist", "train", root=tmp_path)


# ------------------------------------------------------------------------------------------
# download, against a local HTTP server
# ------------------------------------------------------------------------------------------
class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/'www' on 127.0.0.1; yields (base URL, served folder, request log)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = type("Handler", (_Handler,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", www, handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_download_from_local_mirror(server, mnist_root, mnist_train_raw, tmp_path):
    url, www, requests = server
    (www / "mnist").mkdir()
    for f in MNIST_FILES:
        (www / "mnist" / f).symlink_to(mnist_root / "mnist" / f)
    root = tmp_path / "root"
    X, y = ds.load("mnist", "test", root=root, download=True, mirror=url, scale=None)
    # Only the test split's two files were requested and written.
    assert sorted(requests) == ["/mnist/t10k-images-idx3-ubyte.gz", "/mnist/t10k-labels-idx1-ubyte.gz"]
    assert _files(root) == ["mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"]
    Xs, ys = ds.load("mnist", "test", root=mnist_root, scale=None)
    assert torch.equal(X, Xs) and torch.equal(y, ys)
    Xt, yt = ds.load("mnist", "train", root=root, download=True, mirror=url, scale=None)
    assert torch.equal(Xt, mnist_train_raw[0]) and torch.equal(yt, mnist_train_raw[1])
    for f in MNIST_FILES:
        assert (root / "mnist" / f).read_bytes() == (mnist_root / "mnist" / f).read_bytes()
    # Present files are not fetched again: a dead mirror does not matter.
    n = len(requests)
    ds.load("mnist", "test", root=root, download=True, mirror="http://127.0.0.1:9/")
    assert len(requests) == n
    assert ds.download("mnist", root, mirror=url) == []


def test_download_name_placeholder_and_env_mirror(server, mnist_root, tmp_path, monkeypatch):
    url, www, requests = server
    (www / "mnist-files").mkdir()
    for f in MNIST_FILES[2:]:
        (www / "mnist-files" / f).symlink_to(mnist_root / "mnist" / f)
    root = tmp_path / "root"
    written = ds.download("mnist", root, split="test", mirror=url + "{name}-files")
    assert written == [root / "mnist" / f for f in MNIST_FILES[2:]]
    root2 = tmp_path / "root2"
    monkeypatch.setenv("LAYERWISE_MIRROR", url + "{name}-files/")
    X, y = ds.load("mnist", "test", root=root2, download=True)
    assert X.shape == (10000, 784) and _files(root2) == _files(root)
    assert requests == ["/mnist-files/t10k-images-idx3-ubyte.gz", "/mnist-files/t10k-labels-idx1-ubyte.gz"] * 2


def test_download_checksum_mismatch_leaves_nothing(server, mnist_root, tmp_path):
    url, www, requests = server
    (www / "mnist").mkdir()
    good = (mnist_root / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (www / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    shutil.copy(mnist_root / "mnist" / "t10k-images-idx3-ubyte.gz", www / "mnist")
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="checksum mismatch") as err:
        ds.download("mnist", root, split="test", mirror=url)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg
    assert ds.SHA256["mnist"]["t10k-labels-idx1-ubyte.gz"] in msg
    got = hashlib.sha256(good[:-1] + bytes([good[-1] ^ 1])).hexdigest()
    assert got in msg
    # The good images file was kept; nothing at all for the bad labels file, no temp files.
    assert _files(root) == ["mnist/t10k-images-idx3-ubyte.gz"]


def test_download_missing_on_mirror_leaves_nothing(server, tmp_path):
    url, www, requests = server
    root = tmp_path / "root"
    with pytest.raises(OSError, match="404") as err:
        ds.load("mnist", "test", root=root, download=True, mirror=url)
    assert url + "mnist/t10k-images-idx3-ubyte.gz" in str(err.value)
    assert not root.exists() or _files(root) == []
    assert not (root / "mnist").exists()  # the folder made for the download was removed


def test_mirror_validation(tmp_path):
    with pytest.raises(ValueError, match="http://, https:// or file://"):
        ds.download("mnist", tmp_path, mirror="ftp://example.org/")
    with pytest.raises(ValueError, match="'name'"):
        ds.download("digits", tmp_path)
