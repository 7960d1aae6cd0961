"""Your own arrays: .npz keys, .npy images, CSV headers and label columns, bad files."""

import numpy as np
import pytest
import torch

from layerwise import datasets as ds


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
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [np.inf, np.nan]]))
    with pytest.raises(ValueError, match=r"'X from .*nan\.npy' must hold only finite values; found 2 NaN and 1 "
                                         r"infinite value\(s\), the first at index \(0, 1\)"):
        ds.load("arrays", path=tmp_path / "nan.npy")
