"""The common test of the six scikit-learn estimators, with their randomness on.

scikit-learn's own common checks (x-failing only what BernoulliRBM itself fails, in
_sklearn_checks), the same random_state giving the same result, torch's and numpy's global
random states untouched, fit == reset + n_iter partial_fit epochs (bitwise, noise and sampling
on), the verbose line of an epoch, bad parameters failing at fit, and the renamed parameters.
"""

import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from layerwise.sklearn import (AutoEncoderTransformer, ConvSparseCodingTransformer, DBMTransformer,
                               DBNClassifier, RBMTransformer, StackedAutoEncoderClassifier)

from _sklearn_checks import expected_failed_checks  # reasons: see that module

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


# ---- scikit-learn's common checks ------------------------------------------------------------

# ConvSparseCodingTransformer: the checks feed rows of 1 to 20 features: one-row images
# (1, 1, n_features), which 1x1 filters fit (see test_sklearn_csc for larger filters).
@parametrize_with_checks([
    AutoEncoderTransformer(hidden_layer_sizes=(8,), n_iter=5, random_state=0),
    AutoEncoderTransformer(hidden_layer_sizes=(8,), noise="masking", noise_level=0.2, n_iter=3, random_state=0),
    StackedAutoEncoderClassifier(hidden_layer_sizes=(8,), pretrain_epochs=2, n_iter=10, random_state=0),
    RBMTransformer(n_components=8, n_iter=3, visible="gaussian", learning_rate=0.01, random_state=0),
    RBMTransformer(n_components=8, n_iter=3, random_state=0),
    DBNClassifier(hidden_layer_sizes=(8,), visible="gaussian", pretrain_learning_rate=0.005,
                  pretrain_epochs=2, n_iter=10, random_state=0),
    DBNClassifier(hidden_layer_sizes=(8,), pretrain_epochs=2, n_iter=10, random_state=0),
    DBMTransformer(hidden_layer_sizes=(4, 3), n_iter=2, n_chains=10, random_state=0),
    DBMTransformer(hidden_layer_sizes=(4, 3, 2), n_iter=1, pretrain_epochs=1, layers="all", n_chains=5,
                   mf_steps=3, random_state=0),
    ConvSparseCodingTransformer(n_filters=3, kernel_size=1, max_iter=10, max_epochs=2, random_state=0),
    ConvSparseCodingTransformer(n_filters=2, kernel_size=1, pooling=None, method="ista", max_iter=5,
                                max_epochs=1, random_state=0),
], expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---- the six estimators, randomness on -------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    """Binary data (60 x 12) in [0, 1], which every estimator takes, and two classes."""
    X = (np.random.RandomState(0).rand(60, 12) > 0.5).astype(np.float64)
    return X, np.where(X[:, 0] > 0.5, 1, -1)  # labels not 0/1


# masking noise (autoencoders), Gibbs sampling with CD or PCD chains (RBM, DBN, DBM), shuffling (all)
RANDOM = {
    "ae": AutoEncoderTransformer(hidden_layer_sizes=(5,), noise="masking", noise_level=0.3, n_iter=3,
                                 random_state=7),
    "sae": StackedAutoEncoderClassifier(hidden_layer_sizes=(6, 4), noise="masking", noise_level=0.2,
                                        pretrain_epochs=1, n_iter=2, random_state=7),
    "rbm": RBMTransformer(n_components=5, n_iter=3, persistent=True, random_state=7),
    "dbn": DBNClassifier(hidden_layer_sizes=(6, 4), persistent=True, propagate="sample", k=2,
                         pretrain_epochs=2, n_iter=2, random_state=7),
    "dbm": DBMTransformer(hidden_layer_sizes=(5, 3), n_iter=3, pretrain_epochs=2, random_state=7),
    "csc": ConvSparseCodingTransformer(n_filters=3, kernel_size=3, image_shape=(3, 4), max_iter=10,
                                       max_epochs=3, batch_size=16, random_state=7),
}


def output(est, X):
    return est.transform(X) if hasattr(est, "transform") else est.predict_proba(X)


def fit(est, data):
    X, y = data
    return est.fit(X.copy()) if hasattr(est, "transform") else est.fit(X.copy(), y)


@pytest.mark.parametrize("name", RANDOM)
def test_same_random_state_same_result_and_global_rng_untouched(small, name):
    X = small[0]
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    a = fit(clone(RANDOM[name]), small)
    b = fit(clone(a), small)
    np.testing.assert_array_equal(output(a, X), output(b, X))
    for attribute in ("components_", "h_samples_"):
        if hasattr(a, attribute):
            np.testing.assert_array_equal(getattr(a, attribute), getattr(b, attribute))
    c = fit(clone(a).set_params(random_state=8), small)
    assert not np.allclose(output(a, X), output(c, X))
    if hasattr(a, "components_"):
        assert not np.allclose(a.components_, c.components_)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2:] == numpy_state[2:]


INCREMENTAL = {
    "ae": AutoEncoderTransformer(hidden_layer_sizes=(5,), n_iter=3, random_state=0),
    "ae_masking": AutoEncoderTransformer(hidden_layer_sizes=(5,), noise="masking", noise_level=0.3,
                                         n_iter=3, random_state=0),
    "ae_gaussian_adamw": AutoEncoderTransformer(hidden_layer_sizes=(5,), noise="gaussian", noise_level=0.2,
                                                optimizer="adamw", n_iter=3, random_state=0),
    "rbm_cd": RBMTransformer(n_components=5, n_iter=3, momentum=0.5, random_state=0),
    "rbm_pcd": RBMTransformer(n_components=5, n_iter=3, momentum=0.5, persistent=True, random_state=0),
    "dbm": DBMTransformer(hidden_layer_sizes=(5, 3), n_iter=3, n_chains=8, random_state=0),
    "dbm_pretrained": DBMTransformer(hidden_layer_sizes=(5, 3), n_iter=3, pretrain_epochs=2, n_chains=8,
                                     random_state=0),
    "csc": ConvSparseCodingTransformer(n_filters=3, kernel_size=3, image_shape=(3, 4), max_iter=10,
                                       max_epochs=3, batch_size=16, random_state=0),
}


@pytest.mark.parametrize("name", INCREMENTAL)
def test_fit_returns_self_and_is_reset_plus_partial_fit_epochs(small, name):
    """Bitwise: every epoch is seeded from the seed and its number, however the epochs are split."""
    X = small[0]
    full = clone(INCREMENTAL[name])
    assert full.fit(X) is full
    n = full.n_iter_
    steps = clone(full)
    for _ in range(n):
        assert steps.partial_fit(X) is steps
    np.testing.assert_array_equal(full.transform(X), steps.transform(X))
    np.testing.assert_array_equal(full.components_, steps.components_)
    assert steps.n_iter_ == n and [r["epoch"] for r in steps.history_] == list(range(1, n + 1))
    def recorded(history):  # everything but the times (the RBM records no loss: its metrics with verbose)
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    assert recorded(steps.history_) == recorded(full.history_)
    steps.partial_fit(X)  # fit starts over: the same result again
    np.testing.assert_array_equal(steps.fit(X).transform(X), full.transform(X))


@pytest.mark.parametrize("name", ["ae", "rbm_pcd", "dbm", "csc"])
def test_partial_fit_takes_the_current_learning_rate_and_momentum(small, name):
    est = clone(INCREMENTAL[name]).partial_fit(small[0])
    assert est.history_[-1]["lr"] == pytest.approx(est.learning_rate)
    changed = {"learning_rate": est.learning_rate / 4}
    if "momentum" in est.get_params():
        changed["momentum"] = 0.25
    est.set_params(**changed).partial_fit(small[0])
    assert est.history_[-1]["lr"] == pytest.approx(changed["learning_rate"])
    for group in est.optimizer_.param_groups:
        assert group["lr"] == pytest.approx(changed["learning_rate"])
        if "momentum" in changed:
            assert group["momentum"] == 0.25


VERBOSE = {  # the measure of each estimator's line, after "[Name] Iteration 2, "
    "ae": "loss = ", "sae": "loss = ", "rbm": "pseudo-likelihood = ", "dbn": "loss = ",
    "dbm": "reconstruction error = ", "csc": "objective = ",
}


@pytest.mark.parametrize("name", RANDOM)
def test_verbose_prints_an_epoch_line_like_bernoulli_rbm(small, name, capsys):
    est = clone(RANDOM[name]).set_params(verbose=1, random_state=0)
    fit(est, small)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == est.n_iter_ and lines[1].startswith(f"[{type(est).__name__}] Iteration 2, {VERBOSE[name]}")
    assert re.fullmatch(r".*, time = \d+\.\d\ds", lines[-1])


BAD_PARAMETERS = [
    (AutoEncoderTransformer, {"n_iter": -1}, "n_iter"),
    (AutoEncoderTransformer, {"noise": "speckle"}, "noise"),
    (AutoEncoderTransformer, {"noise": "masking", "noise_level": 1.5}, "noise_level"),
    (AutoEncoderTransformer, {"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes"),
    (AutoEncoderTransformer, {"hidden_layer_sizes": ()}, "hidden_layer_sizes"),
    (AutoEncoderTransformer, {"learning_rate": 0.0}, "learning_rate"),
    (AutoEncoderTransformer, {"loss": "l2"}, "loss"),
    (AutoEncoderTransformer, {"optimizer": "lbfgs"}, "optimizer"),
    (AutoEncoderTransformer, {"sparsity_target": 1.0}, "sparsity_target"),
    (StackedAutoEncoderClassifier, {"n_iter": -1}, "n_iter"),
    (StackedAutoEncoderClassifier, {"pretrain_epochs": 0}, "pretrain_epochs"),
    (StackedAutoEncoderClassifier, {"noise": "speckle"}, "noise"),
    (StackedAutoEncoderClassifier, {"ae_loss": "hinge"}, "ae_loss"),
    (StackedAutoEncoderClassifier, {"pretrain_learning_rate": -1.0}, "pretrain_learning_rate"),
    (RBMTransformer, {"n_components": 0}, "n_components"),
    (RBMTransformer, {"learning_rate": 0.0}, "learning_rate"),
    (RBMTransformer, {"batch_size": 0}, "batch_size"),
    (RBMTransformer, {"n_iter": -1}, "n_iter"),
    (RBMTransformer, {"k": 0}, "k"),
    (RBMTransformer, {"visible": "softmax"}, "visible"),
    (RBMTransformer, {"momentum": 1.0}, "momentum"),
    (RBMTransformer, {"verbose": -1}, "verbose"),
    (DBNClassifier, {"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes"),
    (DBNClassifier, {"k": 0}, "k"),
    (DBNClassifier, {"propagate": "mode"}, "propagate"),
    (DBNClassifier, {"visible": "softmax"}, "visible"),
    (DBNClassifier, {"pretrain_epochs": 0}, "pretrain_epochs"),
    (DBNClassifier, {"pretrain_learning_rate": -1.0}, "pretrain_learning_rate"),
    (DBNClassifier, {"pretrain_momentum": 1.5}, "pretrain_momentum"),
    (DBNClassifier, {"n_iter": 0}, "n_iter"),
    (DBNClassifier, {"batch_size": 0}, "batch_size"),
    (DBNClassifier, {"learning_rate": 0.0}, "learning_rate"),
    (DBNClassifier, {"optimizer": "lbfgs"}, "optimizer"),
    (DBMTransformer, {"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes"),
    (DBMTransformer, {"hidden_layer_sizes": (8,)}, "hidden_layer_sizes"),
    (DBMTransformer, {"learning_rate": 0.0}, "learning_rate"),
    (DBMTransformer, {"batch_size": 0}, "batch_size"),
    (DBMTransformer, {"n_iter": -1}, "n_iter"),
    (DBMTransformer, {"pretrain_epochs": -1}, "pretrain_epochs"),
    (DBMTransformer, {"mf_steps": -1}, "mf_steps"),
    (DBMTransformer, {"n_chains": 0}, "n_chains"),
    (DBMTransformer, {"k": 0}, "k"),
    (DBMTransformer, {"layers": "bottom"}, "layers"),
    (DBMTransformer, {"momentum": 1.0}, "momentum"),
    (DBMTransformer, {"verbose": -1}, "verbose"),
    (DBMTransformer, {"device": "tpu"}, "device"),
    (ConvSparseCodingTransformer, {"max_iter": 0}, "max_iter"),
    (ConvSparseCodingTransformer, {"max_epochs": 0}, "max_epochs"),
    (ConvSparseCodingTransformer, {"lam": 0.0}, "lam"),
    (ConvSparseCodingTransformer, {"pooling": "mean"}, "pooling"),
]


@pytest.mark.parametrize("Estimator, params, name", BAD_PARAMETERS,
                         ids=[f"{E.__name__}-{name}" for E, _, name in BAD_PARAMETERS])
def test_bad_parameters_fail_at_fit(small, Estimator, params, name):
    est = Estimator(**params)  # __init__ only stores
    X, y = small
    with pytest.raises(ValueError, match=f"The '{name}' parameter"):
        est.fit(X) if hasattr(est, "transform") else est.fit(X, y)
    if hasattr(est, "partial_fit"):
        with pytest.raises(ValueError, match=f"The '{name}' parameter"):
            est.partial_fit(X)
    assert not hasattr(est, "model_")


# ---- renamed parameters: the old names work one more release, with a FutureWarning ------------

RENAMED = [  # (estimator with the old name, the same with the new name, old, new, what the value sets)
    (AutoEncoderTransformer(hidden_layer_sizes=(4,), max_epochs=2, random_state=0),
     AutoEncoderTransformer(hidden_layer_sizes=(4,), n_iter=2, random_state=0), "max_epochs", "n_iter"),
    (StackedAutoEncoderClassifier(hidden_layer_sizes=(4,), pretrain_epochs=1, max_epochs=2, random_state=0),
     StackedAutoEncoderClassifier(hidden_layer_sizes=(4,), pretrain_epochs=1, n_iter=2, random_state=0),
     "max_epochs", "n_iter"),
    (DBNClassifier(hidden_layer_sizes=(4,), pretrain_epochs=1, max_epochs=2, random_state=0),
     DBNClassifier(hidden_layer_sizes=(4,), pretrain_epochs=1, n_iter=2, random_state=0), "max_epochs", "n_iter"),
    (ConvSparseCodingTransformer(n_filters=2, kernel_size=3, image_shape=(3, 4), n_iter=7, max_epochs=1,
                                 random_state=0),
     ConvSparseCodingTransformer(n_filters=2, kernel_size=3, image_shape=(3, 4), max_iter=7, max_epochs=1,
                                 random_state=0), "n_iter", "max_iter"),
]


@pytest.mark.parametrize("old_est, new_est, old, new", RENAMED, ids=[f"{type(r[0]).__name__}-{r[2]}" for r in RENAMED])
def test_renamed_parameters_still_work_with_a_future_warning(small, old_est, new_est, old, new):
    assert old in old_est.get_params() and new in old_est.get_params()
    assert clone(old_est).get_params()[old] == old_est.get_params()[old]
    assert new_est.get_params()[old] == "deprecated"
    with pytest.warns(FutureWarning, match=f"The '{old}' parameter of {type(old_est).__name__} was renamed '{new}'"):
        fit(old_est, small)
    fit(new_est, small)  # (with no FutureWarning: test_the_new_names_raise_no_warning)
    np.testing.assert_array_equal(output(old_est, small[0]), output(new_est, small[0]))
    if new == "max_iter":
        assert old_est.model_.n_iter == new_est.model_.n_iter == 7  # the ISTA cap reached the model
    else:
        assert old_est.n_iter_ == new_est.n_iter_ == 2
    # a bad value under the old name is reported under the old name
    bad = clone(old_est).set_params(**{old: 0})
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match=f"The '{old}' parameter"):
        fit(bad, small)


def test_the_new_names_raise_no_warning(small, recwarn):
    for old_est, new_est, old, new in RENAMED:
        fit(clone(new_est), small)
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]
