"""Loaders, the IDX reader, the checked downloader (against a local HTTP server), transforms."""

import functools
import gzip
import hashlib
import http.server
import math
import shutil
import struct
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from layerwise import datasets as ds

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# Published facts, from shared/data/mnist/PROVENANCE.md.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("LAYERWISE_MIRROR", raising=False)


def _need(root, name):
    folder = root / name
    if not all((folder / f).is_file() for f in MNIST_FILES):
        pytest.skip(f"{name} files not found in {folder}")
    return root


@pytest.fixture(scope="session")
def mnist_root(data_root):
    return _need(data_root, "mnist")


@pytest.fixture(scope="session")
def mnist_train_raw(mnist_root):
    return ds.load("mnist", "train", root=mnist_root, scale=None)


def idx_bytes(array, code):
    """An IDX file written by hand: 0, 0, type code, ndim, big-endian dims, big-endian data."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array).astype(dtype).tobytes()


def write_fake_mnist(root, n_train=5, n_test=3, h=4, w=3, folder="mnist", n_train_labels=None):
    """Tiny IDX files in the MNIST layout; returns the arrays written."""
    rng = np.random.default_rng(0)
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n if split == "t10k" or n_train_labels is None else n_train_labels,))
        (d / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 0x08)))
        (d / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels.astype(np.uint8), 0x08)))
        out[split] = (images, labels)
    return out


# ------------------------------------------------------------------------------------------
# digits
# ------------------------------------------------------------------------------------------
def test_digits_shapes_range_and_stratified_split():
    Xtr, ytr = ds.load("digits")
    Xte, yte = ds.load("digits", "test")
    assert Xtr.dtype == torch.float32 and ytr.dtype == torch.int64
    assert Xtr.shape == (1438, 64) and Xte.shape == (359, 64)
    assert float(Xtr.min()) >= 0.0 and float(Xtr.max()) == 1.0
    ref = load_digits()
    for c in range(10):  # 20% of every class (rounded) in test, the rest in train
        n_c = int((ref.target == c).sum())
        assert int((yte == c).sum()) == math.floor(0.2 * n_c + 0.5)
        assert int((ytr == c).sum()) == n_c - math.floor(0.2 * n_c + 0.5)


def test_digits_disjoint_and_deterministic_against_sklearn():
    ref = load_digits()
    where = {}  # raw 0..16 row -> sklearn indices holding it
    for i, row in enumerate(ref.data.astype(np.uint8)):
        where.setdefault(row.tobytes(), []).append(i)
    seen = []
    for split in ("train", "test"):
        X, y = ds.load("digits", split, scale=None)
        idx = []
        for row, label in zip(X.numpy().astype(np.uint8), y.tolist()):
            i = where[row.tobytes()].pop(0)  # each sklearn example used once
            assert ref.target[i] == label
            idx.append(i)
        assert idx == sorted(idx)  # the original order is kept
        seen.append(set(idx))
    assert seen[0].isdisjoint(seen[1]) and len(seen[0] | seen[1]) == len(ref.target)
    X1, y1 = ds.load("digits")
    X2, y2 = ds.load("digits")
    assert torch.equal(X1, X2) and torch.equal(y1, y2)


def test_digits_raw_scale_and_images():
    X, _ = ds.load("digits", scale=None)
    assert float(X.max()) == 16.0 and float(X.min()) == 0.0
    assert torch.equal(X / 16, ds.load("digits")[0])
    Xi, y = ds.load("digits", flatten=False)
    assert Xi.shape == (1438, 1, 8, 8)
    assert torch.equal(Xi.reshape(len(Xi), -1), ds.load("digits")[0])
    X8, _ = ds.load("digits", scale=8)
    assert torch.allclose(X8, X / 8)


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
    root = _need(data_root, "fashion-mnist")
    X, y = ds.load("fashion-mnist", "test", root=root, scale=None)
    assert X.shape == (10000, 784) and y.shape == (10000,)
    assert y[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert torch.bincount(y).tolist() == [1000] * 10
    assert float(X.double().mean()) == pytest.approx(73.1466, abs=1e-3)
    Xtr, ytr = ds.load("fashion_MNIST", root=root, flatten=False)
    assert Xtr.shape == (60000, 1, 28, 28) and ytr[:3].tolist() == [9, 0, 0]


def test_sha256_table_matches_shared_files(data_root):
    for name in ("mnist", "fashion-mnist"):
        folder = _need(data_root, name) / name
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


# ------------------------------------------------------------------------------------------
# arrays
# ------------------------------------------------------------------------------------------
def test_arrays_npz_keys_and_unlabelled(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.random((7, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=7)
    for xk, yk in (("X", "y"), ("x", "y"), ("data", "target")):
        p = tmp_path / f"{xk}.npz"
        np.savez(p, **{xk: X, yk: y})
        Xl, yl = ds.load("arrays", path=p)
        assert Xl.dtype == torch.float32 and yl.dtype == torch.int64
        np.testing.assert_array_equal(Xl.numpy(), X)
        np.testing.assert_array_equal(yl.numpy(), y)
    p = tmp_path / "nolabels.npz"
    np.savez(p, X=X)
    assert ds.load("arrays", path=p)[1].tolist() == [-1] * 7
    np.savez(tmp_path / "odd.npz", a=X)
    with pytest.raises(ValueError, match=r"found keys \['a'\]"):
        ds.load("arrays", path=tmp_path / "odd.npz")


def test_arrays_npy_images_and_scale(tmp_path):
    imgs = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    p = tmp_path / "imgs.npy"
    np.save(p, imgs)
    with pytest.warns(UserWarning, match="not \\[0, 1\\]"):
        X, y = ds.load("arrays", path=p)
    np.testing.assert_array_equal(X.numpy(), imgs.reshape(2, 12).astype(np.float32))
    assert y.tolist() == [-1, -1]
    X255, _ = ds.load("arrays", path=p, scale=255)
    np.testing.assert_allclose(X255.numpy(), imgs.reshape(2, 12) / 255.0, rtol=1e-6)
    Xi, _ = ds.load("arrays", path=p, scale=None, flatten=False)
    assert Xi.shape == (2, 1, 3, 4)
    flat = tmp_path / "flat.npy"
    np.save(flat, imgs.reshape(2, 12))
    Xs, _ = ds.load("arrays", path=flat, scale=None, flatten=False, shape=(1, 3, 4))
    assert torch.equal(Xs, Xi)
    with pytest.raises(ValueError, match="'shape'"):
        ds.load("arrays", path=flat, scale=None, flatten=False, shape=(5, 5))


def test_arrays_csv_header_and_label_column(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,label\n0.1,0.2,1\n0.3,0.4,0\n0.5,0.6,2\n")
    X, y = ds.load("arrays", path=p)
    np.testing.assert_allclose(X.numpy(), [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], rtol=1e-6)
    assert y.tolist() == [1, 0, 2]
    Xn, yn = ds.load("arrays", path=p, label_column=None, scale=None)
    np.testing.assert_allclose(Xn.numpy(), [[0.1, 0.2, 1], [0.3, 0.4, 0], [0.5, 0.6, 2]], rtol=1e-6)
    assert yn.tolist() == [-1, -1, -1]
    with pytest.raises(ValueError, match="labels must be integers"):
        ds.load("arrays", path=p, label_column=0)  # column 0 holds 0.1, 0.3, 0.5


def test_arrays_csv_label_column_details(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("3,0.1,0.2\n1,0.3,0.4\n")  # no header
    X, y = ds.load("arrays", path=p, label_column=0)
    np.testing.assert_allclose(X.numpy(), [[0.1, 0.2], [0.3, 0.4]], rtol=1e-6)
    assert y.tolist() == [3, 1]
    Xn, yn = ds.load("arrays", path=p, label_column=None, scale=None)
    assert Xn.shape == (2, 3) and yn.tolist() == [-1, -1]
    with pytest.raises(ValueError, match="labels must be integers.*0.1"):
        ds.load("arrays", path=p, label_column=1)
    with pytest.raises(ValueError, match=r"'label_column'.*\[-3, 2\].*Got 3"):
        ds.load("arrays", path=p, label_column=3)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,x\n")
    with pytest.raises(ValueError, match="bad.csv"):
        ds.load("arrays", path=bad)


def test_arrays_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        ds.load("arrays", path=tmp_path / "missing.npz")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="unsupported file type '.json'"):
        ds.load("arrays", path=tmp_path / "x.json")
    with pytest.raises(TypeError, match="needs path="):
        ds.load("arrays")
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN"):
        ds.load("arrays", path=tmp_path / "nan.npy")


# ------------------------------------------------------------------------------------------
# image-folder
# ------------------------------------------------------------------------------------------
COLOURS = {"cat": [(200, 10, 30), (0, 0, 0), (255, 255, 255)], "dog": [(10, 120, 250), (90, 90, 90)]}


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "imgs"
    for cls, colours in COLOURS.items():
        (root / cls).mkdir(parents=True)
        for i, c in enumerate(colours):
            Image.new("RGB", (6, 4), c).save(root / cls / f"{i}.png")
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (root / "dog" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def _luma(c):
    r, g, b = c
    return (r * 299 + g * 587 + b * 114) / 1000  # ITU-R 601-2, Pillow's "L"


def test_image_folder_grayscale_and_skip_warning(image_folder):
    with pytest.warns(UserWarning, match="skipped 1 file") as rec:
        X, y, classes = ds.load("image-folder", path=image_folder, return_classes=True)
    assert "broken.png" in str(rec[0].message)
    assert classes == ["cat", "dog"]
    assert y.tolist() == [0, 0, 0, 1, 1]
    assert X.shape == (5, 24) and X.dtype == torch.float32
    expected = [_luma(c) / 255 for c in COLOURS["cat"] + COLOURS["dog"]]
    np.testing.assert_allclose(X.mean(1).numpy(), expected, atol=1 / 255)
    assert float(X.std(1).max()) == 0.0  # solid images stay solid


def test_image_folder_rgb_resize_and_raw(image_folder):
    with pytest.warns(UserWarning):
        X, y = ds.load("image-folder", path=image_folder, grayscale=False, size=(3, 2), flatten=False,
                       scale=None)
    assert X.shape == (5, 3, 2, 3)  # (N, C, H, W), size is (width, height)
    for i, c in enumerate(COLOURS["cat"] + COLOURS["dog"]):
        np.testing.assert_array_equal(X[i].amax((1, 2)).numpy(), np.array(c, dtype=np.float32))
        np.testing.assert_array_equal(X[i].amin((1, 2)).numpy(), np.array(c, dtype=np.float32))
    with pytest.warns(UserWarning):
        Xg, _ = ds.load("image-folder", path=image_folder, size=(3, 2), flatten=False)
    assert Xg.shape == (5, 1, 2, 3)


def test_image_folder_jpeg_mixed_sizes_and_errors(tmp_path):
    root = tmp_path / "j"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.new("RGB", (8, 8), (100, 150, 200)).save(root / "a" / "x.jpg", quality=95)
    Image.new("L", (5, 7), 40).save(root / "b" / "y.png")
    with pytest.raises(ValueError, match="size=\\(width, height\\)"):
        ds.load("image-folder", path=root)
    X, y = ds.load("image-folder", path=root, size=(4, 4), grayscale=False)
    assert X.shape == (2, 48) and y.tolist() == [0, 1]
    np.testing.assert_allclose(X[0].reshape(3, -1).mean(1).numpy(), np.array([100, 150, 200]) / 255, atol=4 / 255)
    np.testing.assert_allclose(X[1].numpy(), 40 / 255, atol=1e-6)
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "a" / "bad.jpg").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="skipped 1"), pytest.raises(ValueError, match="no images found"):
        ds.load("image-folder", path=empty)
    with pytest.raises(ValueError, match="'size'"):
        ds.load("image-folder", path=root, size=(0, 4))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ds.load("image-folder", path=tmp_path / "nowhere")


def test_image_folder_split_subfolders(tmp_path):
    for split, n in (("train", 3), ("test", 1)):
        (tmp_path / split / "k").mkdir(parents=True)
        for i in range(n):
            Image.new("L", (2, 2), i).save(tmp_path / split / "k" / f"{i}.png")
    assert ds.load("image-folder", path=tmp_path)[0].shape == (3, 4)
    assert ds.load("image-folder", "test", path=tmp_path)[0].shape == (1, 4)


# ------------------------------------------------------------------------------------------
# transforms
# ------------------------------------------------------------------------------------------
def test_binarize_threshold_exact():
    x = torch.tensor([[0.0, 0.3, 0.5, 0.50001, 1.0]])
    assert ds.Binarize()(x).tolist() == [[0.0, 0.0, 0.0, 1.0, 1.0]]
    assert ds.Binarize(0.25)(x).tolist() == [[0.0, 1.0, 1.0, 1.0, 1.0]]


def test_binarize_stochastic_mean_and_seed():
    X, _ = ds.load("digits")
    b = ds.Binarize(stochastic=True, seed=3)
    s = b(X)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    # Sum of independent Bernoulli(p): mean sum p, variance sum p(1-p).
    p = X.double()
    sd = math.sqrt(float((p * (1 - p)).sum()))
    assert abs(float(s.double().sum()) - float(p.sum())) < 5 * sd
    assert torch.all(s[X == 0] == 0) and torch.all(s[X == 1] == 1)
    assert torch.equal(s, ds.Binarize(stochastic=True, seed=3)(X))
    assert not torch.equal(s, b(X))  # a second call draws fresh samples
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ds.Binarize(stochastic=True)(X * 16)


def test_divide_flatten_compose():
    X, _ = ds.load("digits", scale=None, flatten=False)
    out = ds.Compose([ds.Flatten(), ds.Divide(128)])(X)
    assert out.shape == (1438, 64)
    assert torch.allclose(out * 128, X.reshape(1438, 64))
    assert float(ds.Divide(128)(torch.tensor([255.0]))) == 255 / 128
    with pytest.raises(ValueError, match="'divisor'"):
        ds.Divide(0)
    assert repr(ds.Compose([ds.Flatten(), ds.Divide(128)])) == "Compose([Flatten(), Divide(128)])"


def test_standardize():
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(3.0, 2.0, size=(200, 4)).astype(np.float32))
    X[:, 2] = 7.0  # a constant feature
    st = ds.Standardize()
    with pytest.raises(RuntimeError, match="fit"):
        st(X)
    Z = st.fit(X)(X)
    ref = (X.numpy() - X.numpy().mean(0)) / np.maximum(X.numpy().std(0), 1e-6)
    np.testing.assert_allclose(Z.numpy(), ref, atol=1e-5)
    cols = [0, 1, 3]
    np.testing.assert_allclose(Z[:, cols].mean(0).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(Z[:, cols].std(0, correction=0).numpy(), 1, atol=1e-5)
    assert torch.all(Z[:, 2] == 0)
    with pytest.raises(ValueError, match="shape"):
        st(X[:, :3])


def test_label_fraction_stratified():
    X, y = ds.load("digits")
    Xs, ys, idx = ds.label_fraction(X, y, 0.1, seed=0)
    counts = np.bincount(y.numpy(), minlength=10)
    want = np.maximum(1, np.floor(0.1 * counts + 0.5)).astype(int)
    assert np.bincount(ys.numpy(), minlength=10).tolist() == want.tolist()
    assert torch.equal(Xs, X[idx]) and torch.equal(ys, y[idx])
    assert idx.dtype == torch.int64 and len(set(idx.tolist())) == len(idx)
    assert torch.all(idx[1:] > idx[:-1])
    assert torch.equal(idx, ds.label_fraction(X, y, 0.1, seed=0)[2])
    assert not torch.equal(idx, ds.label_fraction(X, y, 0.1, seed=1)[2])
    assert ds.label_fraction(X, y, 1.0)[2].tolist() == list(range(len(y)))
    assert np.bincount(ds.label_fraction(X, y, 1e-6)[1].numpy()).tolist() == [1] * 10
    y_part = y.clone()
    y_part[::2] = -1  # unlabelled examples are never kept
    assert torch.all(ds.label_fraction(X, y_part, 1.0)[1] >= 0)
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match="'fraction'"):
            ds.label_fraction(X, y, bad)
    with pytest.raises(ValueError, match="same number"):
        ds.label_fraction(X, y[:-1], 0.5)


# ------------------------------------------------------------------------------------------
# bad input, data root, available
# ------------------------------------------------------------------------------------------
def test_bad_name_split_scale_options():
    with pytest.raises(ValueError, match="'name'.*'digits'.*'mnist'.*'fashion-mnist'.*Got 'cifar'"):
        ds.load("cifar")
    with pytest.raises(ValueError, match="'split'.*'train', 'test'.*Got 'valid'"):
        ds.load("digits", "valid")
    with pytest.raises(ValueError, match="'scale'"):
        ds.load("digits", scale="std")
    with pytest.raises(ValueError, match="'scale'"):
        ds.load("digits", scale=0)
    with pytest.raises(TypeError, match="unexpected option.*'path'"):
        ds.load("digits", path="x")
    with pytest.raises(TypeError, match="'flatten'"):
        ds.load("digits", flatten="yes")


def test_missing_file_message(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        ds.load("mnist", root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert "download=True" in msg and "LAYERWISE_DATA" in msg and "root argument" in msg
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError, match=r"\$LAYERWISE_DATA") as err:
        ds.load("fashion-mnist", "test")
    assert str(tmp_path / "env" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz") in str(err.value)


def test_data_root_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "env"))
    assert ds.data_root() == tmp_path / "env"
    assert ds.data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("LAYERWISE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ds.data_root() == tmp_path / "home" / ".cache" / "layerwise"
    with pytest.raises(TypeError, match="'root'"):
        ds.data_root(3)


def test_available(tmp_path, mnist_root):
    write_fake_mnist(tmp_path, folder="fashion-mnist")
    rows = {r["name"]: r for r in ds.available(tmp_path)}
    assert list(rows) == list(ds.NAMES)
    assert rows["fashion-mnist"]["found"] is True and rows["mnist"]["found"] is False
    assert rows["mnist"]["location"] == str(tmp_path / "mnist")
    assert rows["digits"]["found"] is True
    assert all(set(r) >= {"name", "description", "location", "found"} for r in rows.values())
    assert {r["name"]: r["found"] for r in ds.available(mnist_root)}["mnist"] is True
    table = ds.format_available(list(rows.values())).splitlines()
    assert table[0].split() == ["name", "found", "location", "description"]
    assert len(table) == 1 + len(ds.NAMES)
    mnist_line = next(line for line in table if line.startswith("mnist "))
    assert "no (download=True)" in mnist_line and str(tmp_path / "mnist") in mnist_line
