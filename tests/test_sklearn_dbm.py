"""DBMTransformer: agreement with the DBM, digits, data checks.

The common checks, reproducibility, partial_fit, the verbose line and bad parameters:
test_sklearn_common."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from layerwise.models.dbm import DBM
from layerwise.sklearn import DBMTransformer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

# ---- data ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def binary_digits():
    """Digits binarised at half intensity, split 70/30."""
    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16 > 0.5).astype(np.float64), y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def small():
    return (np.random.RandomState(0).rand(60, 12) > 0.5).astype(np.float64)


# ---- tests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("layers", ["top", "all"])
def test_transform_is_the_dbms_mean_field_posterior(small, layers):
    est = DBMTransformer(hidden_layer_sizes=(6, 4), n_iter=2, pretrain_epochs=1, layers=layers,
                         random_state=0).fit(small)
    assert isinstance(est.model_, DBM) and est.model_.sizes == [12, 6, 4]
    assert est.n_features_in_ == 12 and est.n_iter_ == 2 and len(est.history_) == 2
    assert len(est.pretrain_histories_) == 2 and est.components_.shape == (6, 12)
    np.testing.assert_array_equal(est.components_, est.model_.weights[0].detach().numpy())
    with torch.no_grad():
        expected = est.model_.transform(torch.tensor(small, dtype=torch.float32), layers=layers).numpy()
    features = est.transform(small)
    assert features.dtype == np.float64 and features.shape == (60, 4 if layers == "top" else 10)
    np.testing.assert_array_equal(features, expected.astype(np.float64))
    assert est.transform(small.astype(np.float32)).dtype == np.float32
    # a sample's features do not depend on the batch (mean-field runs exactly mf_steps sweeps)
    np.testing.assert_allclose(est.transform(small[:7]), features[:7], rtol=1e-6, atol=1e-7)
    names = est.get_feature_names_out()
    assert len(names) == features.shape[1] and names[0] == "dbmtransformer0"


def test_pipeline_with_logistic_regression_on_binary_digits(binary_digits):
    X_train, X_test, y_train, y_test = binary_digits
    pipe = make_pipeline(
        DBMTransformer(hidden_layer_sizes=(64, 32), pretrain_epochs=5, n_iter=5, layers="all", random_state=0),
        LogisticRegression(max_iter=2000),
    ).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85  # seen: 0.898


def test_one_hidden_layer_points_to_rbm_transformer(small):
    with pytest.raises(ValueError, match="at least 2 hidden layer sizes.*RBMTransformer"):
        DBMTransformer(hidden_layer_sizes=8).fit(small)


def test_data_outside_the_unit_interval_fails_clearly_with_strict_and_leaves_no_model(small):
    est = DBMTransformer(hidden_layer_sizes=(3, 2), n_iter=1, strict=True)
    with pytest.raises(ValueError, match=r"Negative values in data passed to DBMTransformer.fit.*\[0, 1\]"):
        est.fit(small - 0.5)
    with pytest.raises(ValueError, match=r"Values outside \[0, 1\] in data passed to DBMTransformer.fit"):
        est.fit(small * 2)
    with pytest.raises(NotFittedError):
        est.transform(small)
    est.fit(small)
    with pytest.raises(ValueError, match=r"DBMTransformer.partial_fit.*\[0, 1\]"):
        est.partial_fit(small * 2)
    with pytest.raises(ValueError, match=r"DBMTransformer.transform.*\[0, 1\]"):
        est.transform(small * 1.1)


def test_data_outside_the_unit_interval_is_clipped_with_a_warning_by_default(small):
    est = DBMTransformer(hidden_layer_sizes=(3, 2), n_iter=2, random_state=0)
    with pytest.warns(UserWarning, match=r"in data passed to DBMTransformer.fit.*clips them to \[0, 1\]"):
        est.fit(small * 3 - 1)
    clipped = DBMTransformer(hidden_layer_sizes=(3, 2), n_iter=2, random_state=0).fit(np.clip(small * 3 - 1, 0, 1))
    np.testing.assert_array_equal(est.components_, clipped.components_)
    with pytest.warns(UserWarning, match=r"DBMTransformer.transform"):
        features = est.transform(small * 1.1)
    np.testing.assert_array_equal(features, est.transform(np.clip(small * 1.1, 0, 1)))