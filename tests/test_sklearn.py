"""AutoEncoderTransformer and StackedAutoEncoderClassifier: pipelines, grid search, digits.

The common checks, reproducibility, partial_fit and bad parameters: test_sklearn_common."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from layerwise.models.autoencoder import AutoEncoder
from layerwise.sklearn import AutoEncoderTransformer, StackedAutoEncoderClassifier


@pytest.fixture(scope="module")
def digits():
    """Digits scaled to [0, 1], split 70/30 (stratified)."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def small():
    return np.random.RandomState(0).rand(60, 12)


# ---- AutoEncoderTransformer ------------------------------------------------------------------

def test_transformer_in_a_pipeline_classifies_digits(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(
        AutoEncoderTransformer(hidden_layer_sizes=(32,), loss="bce", n_iter=10,
                               learning_rate=3e-3, random_state=0),
        LogisticRegression(max_iter=2000),
    ).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85


def test_shapes_and_reconstruction_better_than_the_mean_image(digits):
    X_train, X_test, _, _ = digits
    ae = AutoEncoderTransformer(hidden_layer_sizes=(32,), loss="bce", n_iter=10,
                                learning_rate=3e-3, random_state=0)
    assert ae.fit(X_train) is ae
    codes = ae.transform(X_test)
    assert codes.shape == (len(X_test), 32) and codes.dtype == np.float64
    assert ae.components_.shape == (32, 64)
    recon = ae.inverse_transform(codes)
    assert recon.shape == X_test.shape
    err = ((recon - X_test) ** 2).sum(1).mean()
    err_mean_image = ((X_train.mean(0) - X_test) ** 2).sum(1).mean()
    assert err < 0.5 * err_mean_image
    assert ae.score(X_test) == pytest.approx(-err, rel=1e-4)
    assert [r["epoch"] for r in ae.history_] == list(range(1, 11)) and ae.n_iter_ == 10


def test_inputs_are_not_modified(small):
    X = small.astype(np.float32)
    before = X.copy()
    ae = AutoEncoderTransformer(hidden_layer_sizes=(4,), noise="gaussian", noise_level=0.5,
                                n_iter=2, random_state=0).fit(X)
    assert ae.transform(X).dtype == np.float32
    np.testing.assert_array_equal(X, before)


def test_deep_tied_sparse_contractive_options_reach_the_model(small):
    ae = AutoEncoderTransformer(hidden_layer_sizes=(8, 3), activation="tanh", tied_weights=True,
                                sparsity="kl", sparsity_weight=0.1, contractive_weight=0.01,
                                output_activation="linear", n_iter=1, random_state=0).fit(small)
    assert isinstance(ae.model_, AutoEncoder)
    assert ae.model_.hidden_sizes == (8, 3) and ae.model_.tied_weights
    assert ae.model_.output_activation == "linear" and ae.model_.sparsity == "kl"
    assert ae.transform(small).shape == (60, 3)
    assert ae.inverse_transform(np.zeros((2, 3))).shape == (2, 12)
    with pytest.raises(ValueError, match="expecting 3 features"):
        ae.inverse_transform(np.zeros((2, 8)))


def test_bce_needs_data_in_the_unit_interval_and_a_failed_fit_leaves_no_model(small):
    ae = AutoEncoderTransformer(loss="bce", n_iter=1)
    with pytest.raises(ValueError, match=r"\[0, 1\].*bce"):
        ae.fit(small * 3 - 1)
    with pytest.raises(NotFittedError):
        ae.transform(small)
    clf = StackedAutoEncoderClassifier(ae_loss="bce", pretrain_epochs=1, n_iter=1)
    with pytest.raises(ValueError, match=r"\[0, 1\].*bce"):
        clf.fit(small * 3 - 1, np.arange(60) % 2)
    with pytest.raises(NotFittedError):
        clf.predict(small)
    ae.fit(small)  # in range: fine; partial_fit checks later batches too
    with pytest.raises(ValueError, match=r"\[0, 1\].*bce"):
        ae.partial_fit(small + 1)


def test_grid_search_over_the_transformer(small):
    search = GridSearchCV(
        AutoEncoderTransformer(hidden_layer_sizes=(6,), n_iter=3, learning_rate=1e-2,
                               random_state=0),
        {"tied_weights": [False, True]}, cv=2,
    ).fit(small)
    assert search.best_params_["tied_weights"] in (False, True)
    assert np.all(search.cv_results_["mean_test_score"] < 0)
    assert search.transform(small).shape == (60, 6)


# ---- StackedAutoEncoderClassifier -----------------------------------------------------------

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])


def test_classifier_on_digits_with_string_labels(digits):
    X_train, X_test, y_train, y_test = digits
    clf = StackedAutoEncoderClassifier(hidden_layer_sizes=(32,), ae_loss="bce", noise="masking",
                                       noise_level=0.2, pretrain_epochs=3,
                                       pretrain_learning_rate=3e-3, n_iter=5, random_state=0)
    assert clf.fit(X_train, NAMES[y_train]) is clf
    assert sorted(clf.classes_) == sorted(NAMES)
    pred = clf.predict(X_test)
    assert pred.dtype == NAMES.dtype and set(pred) <= set(NAMES)
    assert np.mean(pred == NAMES[y_test]) > 0.8
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-10)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], pred)
    assert len(clf.pretrain_histories_) == 1 and len(clf.history_) == clf.n_iter_ == 5


def test_classifier_pretrains_one_autoencoder_per_layer_and_baseline_skips_it():
    rng = np.random.RandomState(0)
    X = rng.rand(80, 10)
    y = np.where(X[:, 0] > 0.5, 1, -1)  # binary, labels not 0/1
    deep = StackedAutoEncoderClassifier(hidden_layer_sizes=(6, 4), pretrain_epochs=1,
                                        n_iter=2, random_state=0).fit(X, y)
    assert len(deep.pretrain_histories_) == 2
    assert deep.predict_proba(X).shape == (80, 2)
    assert set(deep.predict(X)) <= {-1, 1}
    base = clone(deep).set_params(pretrain=False).fit(X, y)
    assert base.pretrain_histories_ == []
    again = clone(deep).fit(X, y)
    np.testing.assert_array_equal(deep.predict_proba(X), again.predict_proba(X))


def test_classifier_in_grid_search(digits):
    X_train, _, y_train, _ = digits
    search = GridSearchCV(
        StackedAutoEncoderClassifier(hidden_layer_sizes=(16,), pretrain_epochs=1, n_iter=5,
                                     learning_rate=0.03, random_state=0),
        {"pretrain": [True, False]}, cv=2,
    ).fit(X_train[:300], y_train[:300])
    assert search.best_params_["pretrain"] in (True, False)
    assert search.best_score_ > 0.5
