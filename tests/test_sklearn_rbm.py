"""RBMTransformer and DBNClassifier: sklearn's BernoulliRBM as reference, digits.

The common checks, reproducibility, partial_fit, the verbose line and bad parameters:
test_sklearn_common."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import make_pipeline

from layerwise.models.dbn import DBN
from layerwise.models.rbm import RBM
from layerwise.models.classifier import Classifier
from layerwise.sklearn import DBNClassifier, RBMTransformer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

# ---- data ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def binary_digits():
    """Digits binarised at half intensity (as sklearn's RBM example), split 70/30."""
    X, y = load_digits(return_X_y=True)
    return train_test_split((X > 7).astype(np.float64), y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def digits():
    """Digits scaled to [0, 1], split 70/30."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def small():
    return (np.random.RandomState(0).rand(60, 12) > 0.5).astype(np.float64)


def exact_pll(components, intercept_hidden, intercept_visible, V):
    """sum_i log p(v_i | v_-i) from BernoulliRBM's attributes, in numpy (the oracle):
    F(v) = -b.v - sum_j softplus(c_j + W_j v), log p(v_i | v_-i) = log sigmoid(F(v~i) - F(v))."""
    def free_energy(v):
        return -v @ intercept_visible - np.logaddexp(0, v @ components.T + intercept_hidden).sum(1)

    f = free_energy(V)
    total = np.zeros(len(V))
    for i in range(V.shape[1]):
        flipped = V.copy()
        flipped[:, i] = 1 - flipped[:, i]
        total -= np.logaddexp(0, -(free_energy(flipped) - f))
    return total


def attributes(est):
    return (est.components_.astype(np.float64), est.intercept_hidden_.astype(np.float64),
            est.intercept_visible_.astype(np.float64))


# ---- RBMTransformer against sklearn's BernoulliRBM ------------------------------------------

@pytest.mark.parametrize("persistent", [False, True])
def test_pseudo_likelihood_at_least_as_good_as_bernoulli_rbm(binary_digits, persistent):
    """Same n_components / learning_rate / batch_size / n_iter as BernoulliRBM on binarised
    digits: both learn (beat their untrained start clearly) and ours is no worse, measured by
    the exact pseudo-log-likelihood of held-out digits computed from the sklearn-named
    attributes. Seen: sklearn -19.3; ours -16.5 (CD-1), -19.0 (PCD); untrained -44.4 (zero
    biases, sklearn) and -25.1 (base-rate visible biases, ours)."""
    X_train, X_test, _, _ = binary_digits
    params = dict(n_components=64, learning_rate=0.05, batch_size=10, n_iter=10, random_state=0)
    theirs = BernoulliRBM(**params).fit(X_train)
    ours = RBMTransformer(**params, persistent=persistent).fit(X_train)
    ours_untrained = RBMTransformer(**{**params, "n_iter": 0}).fit(X_train)
    theirs_pll = exact_pll(*attributes(theirs), X_test).mean()
    ours_pll = exact_pll(*attributes(ours), X_test).mean()
    assert theirs_pll > -64 * np.log(2) + 10  # the untrained BernoulliRBM: every p(v_i | v_-i) = 1/2
    assert ours_pll > exact_pll(*attributes(ours_untrained), X_test).mean() + 5
    assert ours_pll > theirs_pll - 0.5
    # score_samples is the one-random-unit estimate of the same quantity, as sklearn's: its
    # mean over 20 draws of the units (random_state only seeds them once fitted) is close
    score = ours.score_samples(X_test)
    assert score.shape == (len(X_test),) and score.dtype == np.float64 and np.all(score <= 0)
    np.testing.assert_array_equal(score, ours.score_samples(X_test))  # int random_state
    draws = [ours.set_params(random_state=s).score_samples(X_test).mean() for s in range(20)]
    assert abs(np.mean(draws) - ours_pll) < 1.0


def test_attributes_mean_what_bernoulli_rbm_s_mean(small):
    rbm = RBMTransformer(n_components=5, n_iter=2, random_state=0, persistent=True).fit(small)
    W, c, b = attributes(rbm)
    assert W.shape == (5, 12) and c.shape == (5,) and b.shape == (12,)
    assert rbm.n_features_in_ == 12 and rbm.n_iter_ == 2 and isinstance(rbm.model_, RBM)
    assert rbm.h_samples_.shape == (10, 5) and set(np.unique(rbm.h_samples_)) <= {0.0, 1.0}
    assert rbm.model_.chains.shape == (10, 12)  # batch_size chains, as BernoulliRBM
    expit = 1 / (1 + np.exp(-(small @ W.T + c)))
    np.testing.assert_allclose(rbm.transform(small), expit, atol=1e-6)
    # sklearn's own transform and free energy, given our attributes, agree with ours
    theirs = BernoulliRBM(n_components=5)
    theirs.components_, theirs.intercept_hidden_, theirs.intercept_visible_ = W, c, b
    theirs.n_features_in_ = 12
    np.testing.assert_allclose(rbm.transform(small), theirs.transform(small), atol=1e-6)
    with torch.no_grad():
        free_energy = rbm.model_.free_energy(torch.tensor(small, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(free_energy, theirs._free_energy(small), rtol=1e-5, atol=1e-4)
    cd = clone(rbm).set_params(persistent=False).fit(small)  # h_samples_ always set, as BernoulliRBM's
    assert cd.h_samples_.shape == (10, 5) and set(np.unique(cd.h_samples_)) <= {0.0, 1.0}
    assert list(rbm.get_feature_names_out()) == [f"rbmtransformer{i}" for i in range(5)]


@pytest.mark.parametrize("persistent", [False, True])
def test_quiet_fit_computes_nothing_per_epoch_and_trains_the_same_weights(small, capsys, persistent):
    """verbose=0 (as BernoulliRBM): no surrogate loss per batch, no monitor metrics per epoch;
    verbose=1 has the metrics it prints; the weights, chains and h_samples_ are bitwise the same."""
    params = dict(n_components=5, n_iter=3, batch_size=10, momentum=0.5, persistent=persistent, random_state=0)
    quiet = RBMTransformer(**params).fit(small)
    loud = RBMTransformer(**params, verbose=1).fit(small)
    assert "pseudo-likelihood" in capsys.readouterr().out
    assert quiet.history_.columns == ["epoch", "lr", "seconds", "threads"]
    assert {"reconstruction_error", "free_energy", "pseudo_log_likelihood"} <= set(loud.history_.columns)
    assert "loss" not in loud.history_.columns
    for a, b in zip(quiet.model_.state_dict().values(), loud.model_.state_dict().values()):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(quiet.h_samples_, loud.h_samples_)


def test_transform_keeps_float32_and_gibbs_samples_binary_states(small):
    rbm = RBMTransformer(n_components=4, n_iter=1, random_state=0).fit(small)
    assert rbm.transform(small.astype(np.float32)).dtype == np.float32
    state = torch.get_rng_state()
    v1, v2 = rbm.gibbs(small), rbm.gibbs(small)
    assert v1.shape == small.shape and set(np.unique(v1)) <= {0.0, 1.0}
    assert not np.array_equal(v1, v2)  # random_state_ advances, as BernoulliRBM's
    np.testing.assert_array_equal(clone(rbm).fit(small).gibbs(small), v1)  # refit: same again
    assert torch.equal(torch.get_rng_state(), state)


def test_gaussian_visible_units_take_real_data_and_have_no_score_samples():
    X = np.random.RandomState(0).randn(50, 6)
    rbm = RBMTransformer(n_components=3, n_iter=2, visible="gaussian", learning_rate=0.01,
                         random_state=0).fit(X)
    assert rbm.transform(X).shape == (50, 3)
    assert not hasattr(rbm, "score_samples")
    assert not rbm.__sklearn_tags__().input_tags.positive_only
    assert RBMTransformer(strict=True).__sklearn_tags__().input_tags.positive_only
    assert not RBMTransformer().__sklearn_tags__().input_tags.positive_only  # strict=False takes them, warning
    assert not RBMTransformer(visible="gaussian", strict=True).__sklearn_tags__().input_tags.positive_only


def test_pipeline_with_logistic_regression_on_binary_digits(binary_digits):
    X_train, X_test, y_train, y_test = binary_digits
    pipe = make_pipeline(
        RBMTransformer(n_components=64, learning_rate=0.05, n_iter=10, random_state=0),
        LogisticRegression(max_iter=2000),
    ).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85  # seen: 0.913


def test_grid_search_over_a_pipeline(binary_digits):
    X_train, _, y_train, _ = binary_digits
    search = GridSearchCV(
        make_pipeline(RBMTransformer(n_components=16, n_iter=3, random_state=0),
                      LogisticRegression(max_iter=500)),
        {"rbmtransformer__n_components": [16, 32]}, cv=2,
    ).fit(X_train[:400], y_train[:400])
    assert search.best_params_["rbmtransformer__n_components"] in (16, 32)
    assert search.best_score_ > 0.25  # 10 classes; 3 short epochs on 200 digits (seen: 0.35)
    assert search.best_estimator_[0].transform(X_train[:5]).shape == (5, search.best_params_["rbmtransformer__n_components"])


def test_data_outside_the_unit_interval_fails_clearly_with_strict_and_leaves_no_model(small):
    rbm = RBMTransformer(n_components=3, n_iter=1, strict=True)
    with pytest.raises(ValueError, match=r"Negative values in data passed to RBMTransformer.fit.*\[0, 1\].*strict=False"):
        rbm.fit(small - 0.5)
    with pytest.raises(ValueError, match=r"Values outside \[0, 1\] in data passed to RBMTransformer.fit"):
        rbm.fit(small * 2)
    with pytest.raises(NotFittedError):
        rbm.transform(small)
    rbm.fit(small)
    with pytest.raises(ValueError, match=r"RBMTransformer.partial_fit.*\[0, 1\]"):
        rbm.partial_fit(small * 2)
    assert rbm.transform(small * 1.1).shape == (60, 3)  # transform takes any real values
    clf = DBNClassifier(hidden_layer_sizes=(3,), pretrain_epochs=1, n_iter=1, strict=True)
    with pytest.raises(ValueError, match=r"Values outside \[0, 1\] in data passed to DBNClassifier.fit"):
        clf.fit(small * 16, np.arange(60) % 2)
    with pytest.raises(NotFittedError):
        clf.predict(small)


def test_dbn_classifier_clips_data_outside_the_unit_interval_with_a_warning(small):
    """strict=False (default): the DBN trains on X clipped to [0, 1], with a warning."""
    y = np.arange(60) % 2
    clf = DBNClassifier(hidden_layer_sizes=(3,), pretrain_epochs=1, n_iter=2, random_state=0)
    with pytest.warns(UserWarning, match=r"in data passed to DBNClassifier.fit.*clips them to \[0, 1\]"):
        clf.fit(small * 3 - 1, y)
    clipped = clone(clf).fit(np.clip(small * 3 - 1, 0, 1), y)
    np.testing.assert_array_equal(clf.predict_proba(small), clipped.predict_proba(small))


# ---- DBNClassifier ---------------------------------------------------------------------------

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])


def test_dbn_classifier_on_digits_with_string_labels(digits):
    X_train, X_test, y_train, y_test = digits
    clf = DBNClassifier(hidden_layer_sizes=(64,), pretrain_epochs=5, n_iter=10, random_state=0)
    assert clf.fit(X_train, NAMES[y_train]) is clf
    assert sorted(clf.classes_) == sorted(NAMES)
    pred = clf.predict(X_test)
    assert pred.dtype == NAMES.dtype
    assert clf.score(X_test, NAMES[y_test]) > 0.8  # seen: 0.978
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-10)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], pred)
    assert isinstance(clf.model_, Classifier) and isinstance(clf.dbn_, DBN)
    assert len(clf.pretrain_histories_) == 1 and len(clf.pretrain_histories_[0]) == 5
    assert len(clf.history_) == clf.n_iter_ == 10


def test_dbn_classifier_deep_same_random_state_same_result():
    rng = np.random.RandomState(0)
    X = rng.rand(80, 10)
    y = np.where(X[:, 0] > 0.5, 1, -1)  # binary, labels not 0/1
    state = torch.get_rng_state()
    deep = DBNClassifier(hidden_layer_sizes=(6, 4), persistent=True, propagate="sample", k=2,
                         pretrain_epochs=2, n_iter=2, random_state=0).fit(X, y)
    assert deep.dbn_.sizes == [10, 6, 4] and deep.dbn_.rbms[0].persistent and deep.dbn_.rbms[0].k == 2
    assert len(deep.pretrain_histories_) == 2 and set(deep.predict(X)) <= {-1, 1}
    again = clone(deep).fit(X, y)
    np.testing.assert_array_equal(deep.predict_proba(X), again.predict_proba(X))
    other = clone(deep).set_params(random_state=1).fit(X, y)
    assert not np.allclose(deep.predict_proba(X), other.predict_proba(X))
    assert torch.equal(torch.get_rng_state(), state)


def test_dbn_classifier_in_grid_search(digits):
    X_train, _, y_train, _ = digits
    search = GridSearchCV(
        DBNClassifier(hidden_layer_sizes=(16,), pretrain_epochs=1, n_iter=5, learning_rate=0.03,
                      random_state=0),
        {"propagate": ["mean", "sample"]}, cv=2,
    ).fit(X_train[:300], y_train[:300])
    assert search.best_params_["propagate"] in ("mean", "sample")
    assert search.best_score_ > 0.5
