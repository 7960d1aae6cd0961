"""The embedded digits: shapes, the stratified split against scikit-learn, scaling."""

import math

import numpy as np
import torch
from sklearn.datasets import load_digits

from layerwise import datasets as ds


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
