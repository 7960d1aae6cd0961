"""Transforms on a batch and the stratified label fraction."""

import math

import numpy as np
import pytest
import torch

from layerwise import datasets as ds


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


def test_scale_is_a_deprecated_alias_of_divide():
    with pytest.warns(FutureWarning, match="layerwise.datasets.Scale is deprecated.*Divide"):
        scale = ds.Scale
    assert scale is ds.Divide
    with pytest.warns(FutureWarning, match="Scale"):
        from layerwise.datasets import Scale  # noqa: F401
    assert "Scale" not in ds.__all__
    with pytest.raises(AttributeError, match="no attribute 'Nonesuch'"):
        ds.Nonesuch
