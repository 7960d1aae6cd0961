"""ConvSparseCodingTransformer: agreement with the model, digits.

The common checks, reproducibility, partial_fit and bad parameters: test_sklearn_common."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from layerwise.sklearn import ConvSparseCodingTransformer


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_transform_is_the_models_inference_and_filters_have_unit_norm(digits):
    X = digits[0][:200]
    est = ConvSparseCodingTransformer(n_filters=6, kernel_size=3, pooling=None, max_epochs=2, max_iter=30,
                                      random_state=0).fit(X)
    assert est.image_shape_ == (1, 8, 8) and est.components_.shape == (6, 1, 3, 3)
    np.testing.assert_allclose(np.linalg.norm(est.components_.reshape(6, -1), axis=1), 1.0, rtol=1e-5)
    z = est.model_.infer(torch.tensor(X[:5], dtype=torch.float32).reshape(5, 1, 8, 8))
    np.testing.assert_allclose(est.transform(X[:5]), z.flatten(1).numpy(), rtol=1e-5, atol=1e-6)
    assert est.transform(X[:5]).shape == (5, 6 * 10 * 10)
    assert est.get_feature_names_out()[0] == "convsparsecodingtransformer0"
    # learning lowered the objective
    assert est.history_[-1]["objective"] < est.history_[0]["objective"]
    # the same seed gives the same filters; fit == reset + partial_fit epochs
    again = clone(est).fit(X)
    np.testing.assert_array_equal(again.components_, est.components_)
    inc = clone(est)
    inc.partial_fit(X).partial_fit(X)
    np.testing.assert_allclose(inc.components_, est.components_, rtol=1e-6, atol=1e-7)


def test_pooled_features_classify_digits(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=600, test_size=300, random_state=0, stratify=y)
    est = ConvSparseCodingTransformer(n_filters=8, kernel_size=3, lam=20.0, pooling=4, max_epochs=2, max_iter=30,
                                      random_state=0)
    model = make_pipeline(est, LogisticRegression(max_iter=2000)).fit(Xtr, ytr)
    assert est.transform(Xte[:2]).shape == (2, 8 * 3 * 3)
    assert model.score(Xte, yte) > 0.85


def test_filters_larger_than_the_image_and_bad_shapes():
    X = np.random.default_rng(0).random((10, 12))
    with pytest.raises(ValueError, match="smaller than the 5x5 filters"):
        ConvSparseCodingTransformer(kernel_size=5).fit(X)
    with pytest.raises(ValueError, match="holds 16 values, but X has 12 features"):
        ConvSparseCodingTransformer(image_shape=(4, 4)).fit(X)
    est = ConvSparseCodingTransformer(image_shape=(3, 4), kernel_size=3, max_iter=5, max_epochs=1).fit(X)
    assert est.image_shape_ == (1, 3, 4) and est.transform(X).shape == (10, 16)
    with pytest.raises(ValueError, match="'lam'"):
        ConvSparseCodingTransformer(lam=0.0).fit(X)
    with pytest.raises(ValueError, match="'pooling'"):
        ConvSparseCodingTransformer(pooling="mean").fit(X)
