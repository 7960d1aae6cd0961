"""RBMTransformer as a drop-in for BernoulliRBM: what scikit-learn's own tests of BernoulliRBM check.

The behaviours of sklearn/neural_network/tests/test_rbm.py (fit, partial_fit, transform, sparse
input, sampling, Gibbs, score_samples on large values, verbose output, dtypes, feature names),
with BernoulliRBM itself as the reference wherever the maths is the same (transform and the
pseudo-likelihood formula on copied weights); the ``strict`` policy for values outside [0, 1];
sparse input of every estimator, and a bag-of-words matrix never densified whole.
"""

import re
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.neural_network import BernoulliRBM
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.fixes import CSC_CONTAINERS, CSR_CONTAINERS, LIL_CONTAINERS

from layerwise.sklearn import (AutoEncoderTransformer, ConvSparseCodingTransformer, DBMTransformer,
                               DBNClassifier, RBMTransformer, StackedAutoEncoderClassifier)
from layerwise.sklearn import _rows
from layerwise.sklearn._base import draw_seed

from _sklearn_checks import SCORE_SAMPLES_CHECKS

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


@pytest.fixture(scope="module")
def Xdigits():
    """Digits scaled to [0, 1] by their global minimum and maximum, as sklearn's test does."""
    X = load_digits(return_X_y=True)[0]
    return (X - X.min()) / (X.max() - X.min())


def copied_bernoulli_rbm(rbm):
    """A BernoulliRBM holding ``rbm``'s weights (float64), for its own formulas."""
    theirs = BernoulliRBM(n_components=rbm.n_components)
    theirs.components_ = rbm.components_.astype(np.float64)
    theirs.intercept_hidden_ = rbm.intercept_hidden_.astype(np.float64)
    theirs.intercept_visible_ = rbm.intercept_visible_.astype(np.float64)
    theirs.n_features_in_ = rbm.n_features_in_
    return theirs


# ---- fit, partial_fit, transform --------------------------------------------------------------

def test_fit_learns_as_well_as_bernoulli_rbm_and_leaves_x_alone(Xdigits):
    X = Xdigits.copy()
    settings = dict(n_components=64, learning_rate=0.1, batch_size=10, n_iter=7, random_state=9)
    theirs = BernoulliRBM(**settings).fit(X).score_samples(X).mean()  # about -21
    for persistent in (False, True):  # CD-1 (the default) and PCD (BernoulliRBM's algorithm)
        ours = RBMTransformer(**settings, persistent=persistent).fit(X).score_samples(X).mean()
        assert ours > theirs - 1.5, (persistent, ours, theirs)  # seen: -17.3 (CD), -19.8 (PCD), theirs -21.0
    np.testing.assert_array_equal(X, Xdigits)


def test_partial_fit_on_batches_learns_as_well_as_bernoulli_rbm_and_leaves_x_alone(Xdigits):
    X = Xdigits.copy()
    settings = dict(n_components=64, learning_rate=0.1, batch_size=20, random_state=9)
    ours, theirs = RBMTransformer(**settings, persistent=True), BernoulliRBM(**settings)
    start = None
    for epoch in range(3):  # each call: one epoch over its rows, here one update (a batch of <= 20)
        for batch in np.array_split(X, int(np.ceil(len(X) / 20))):
            ours.partial_fit(batch)
            theirs.partial_fit(batch)
        start = ours.score_samples(X).mean() if start is None else start
    score = ours.score_samples(X).mean()
    assert ours.n_iter_ == 3 * 90 and score > start
    assert score > theirs.score_samples(X).mean() - 1.5  # seen: -25.2 and -24.9 (3 passes)
    np.testing.assert_array_equal(X, Xdigits)


def test_transform_is_bernoulli_rbm_s_on_the_same_weights(Xdigits):
    X = Xdigits[:100]
    rbm = RBMTransformer(n_components=16, batch_size=5, n_iter=5, random_state=42).fit(X)
    theirs = copied_bernoulli_rbm(rbm)
    np.testing.assert_allclose(rbm.transform(X), theirs.transform(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rbm.transform(X * 3 - 1), theirs.transform(X * 3 - 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("persistent", [False, True])
def test_h_samples_are_always_set_after_fit_and_partial_fit(Xdigits, persistent):
    X = Xdigits[:50]
    for method in ("fit", "partial_fit"):
        rbm = getattr(RBMTransformer(n_components=7, batch_size=8, n_iter=2, persistent=persistent,
                                     random_state=0), method)(X)
        assert rbm.h_samples_.shape == (8, 7) and set(np.unique(rbm.h_samples_)) <= {0.0, 1.0}


# ---- sparse input ----------------------------------------------------------------------------

@pytest.mark.parametrize("csr_container", CSR_CONTAINERS)
def test_small_sparse_matrices_fit(Xdigits, csr_container):
    rbm = RBMTransformer(random_state=0).fit(csr_container(Xdigits[:4]))
    assert rbm.transform(csr_container(Xdigits[:4])).shape == (4, 256)


@pytest.mark.parametrize("sparse_container", CSC_CONTAINERS + CSR_CONTAINERS)
def test_sparse_and_dense_give_the_same_model(Xdigits, sparse_container):
    X = Xdigits[:100]
    settings = dict(n_components=64, learning_rate=0.1, batch_size=10, random_state=9)
    dense = RBMTransformer(**settings).partial_fit(X)
    sparse = RBMTransformer(**settings).partial_fit(sparse_container(X))
    np.testing.assert_allclose(sparse.components_, dense.components_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sparse.transform(sparse_container(X)), dense.transform(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sparse.score_samples(sparse_container(X)), dense.score_samples(X), rtol=1e-4)
    # fit on sparse input is reset + n_iter partial_fit epochs, as on dense input
    full = RBMTransformer(**settings, n_iter=2).fit(sparse_container(X))
    steps = clone(full)
    for _ in range(2):
        steps.partial_fit(sparse_container(X))
    np.testing.assert_array_equal(full.components_, steps.components_)


# ---- sampling --------------------------------------------------------------------------------

def test_hidden_samples_average_to_transform(Xdigits):
    X = Xdigits[:100]
    rbm = RBMTransformer(n_components=2, batch_size=5, n_iter=5, random_state=42).fit(X)
    with torch.no_grad():
        x0 = torch.tensor(np.repeat(X[:1], 2000, axis=0), dtype=torch.float32)
        samples = rbm.model_.sample_hidden(x0).numpy()
    np.testing.assert_allclose(samples.mean(0), rbm.transform(X[:1])[0], atol=0.05)


@pytest.mark.parametrize("csc_container", CSC_CONTAINERS)
def test_fit_and_gibbs_agree_on_sparse_and_dense_input(csc_container):
    X = np.array([[0.0], [1.0]])
    dense = RBMTransformer(n_components=2, batch_size=2, n_iter=42, random_state=np.random.RandomState(42)).fit(X)
    sparse = RBMTransformer(n_components=2, batch_size=2, n_iter=42,
                            random_state=np.random.RandomState(42)).fit(csc_container(X))
    np.testing.assert_allclose(sparse.components_, dense.components_, atol=1e-6)
    v_dense, v_sparse = dense.gibbs(X), sparse.gibbs(csc_container(X))
    assert isinstance(v_sparse, np.ndarray) and v_sparse.shape == X.shape
    np.testing.assert_array_equal(v_sparse, v_dense)


def test_gibbs_samples_are_finite_differ_between_calls_and_leave_x_alone(Xdigits):
    X = Xdigits.copy()
    rbm = RBMTransformer(n_components=42, batch_size=40, n_iter=20, random_state=42).fit(X)
    first, second = rbm.gibbs(X), rbm.gibbs(X)
    assert np.isfinite(first).all() and set(np.unique(first)) <= {0.0, 1.0}
    assert np.all((first != second).max(axis=1))  # every row changes between calls
    np.testing.assert_array_equal(X, Xdigits)
    S = sp.csr_matrix(X)
    data = S.data.copy()
    rbm.gibbs(S)
    np.testing.assert_array_equal(S.data, data)


# ---- score_samples ---------------------------------------------------------------------------

@pytest.mark.parametrize("lil_container", LIL_CONTAINERS)
def test_score_samples_is_not_clipped_and_takes_large_values(lil_container):
    X = np.vstack([np.zeros(1000), np.ones(1000)])
    rbm = RBMTransformer(n_components=10, batch_size=2, n_iter=10, random_state=np.random.RandomState(42)).fit(X)
    assert (rbm.score_samples(X) < -300).all()  # seen: -688, -666
    rbm.random_state = 42
    dense = rbm.score_samples(X)
    rbm.random_state = 42
    np.testing.assert_allclose(rbm.score_samples(lil_container(X)), dense, rtol=1e-6)
    with np.errstate(under="ignore"):
        large = rbm.score_samples([np.arange(1000) * 100])  # any real values, as BernoulliRBM's
    assert large.shape == (1,) and np.isfinite(large).all()


def test_score_samples_is_bernoulli_rbm_s_formula_on_the_same_units(Xdigits):
    """n_features * log sigmoid(F(v~) - F(v)), v~ with one unit i flipped to 1 - v_i: sklearn's
    formula on the same weights and the same units (drawn from random_state as score_samples
    draws them), binary rows and values outside [0, 1]."""
    rbm = RBMTransformer(n_components=16, n_iter=2, random_state=3).fit(Xdigits[:200])
    theirs = copied_bernoulli_rbm(rbm)
    for V in (Xdigits[200:260], (Xdigits[200:260] > 0.5) * 1.0, Xdigits[200:260] * 40 - 7):
        units = torch.randint(V.shape[1], (len(V),),
                              generator=torch.Generator().manual_seed(draw_seed(rbm.random_state))).numpy()
        flipped = V.copy()
        rows = np.arange(len(V))
        flipped[rows, units] = 1 - flipped[rows, units]
        expected = -V.shape[1] * np.logaddexp(0, -(theirs._free_energy(flipped) - theirs._free_energy(V)))
        np.testing.assert_allclose(rbm.score_samples(V), expected, rtol=2e-4, atol=1e-3)


# ---- verbose ---------------------------------------------------------------------------------

def test_verbose_prints_one_line_per_iteration(Xdigits, capsys):
    RBMTransformer(n_iter=2, verbose=10, random_state=0).fit(Xdigits)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["[RBMTransformer] Iteration 1", "[RBMTransformer] Iteration 2"]


@pytest.mark.parametrize("csc_container", CSC_CONTAINERS)
def test_sparse_input_and_verbose(csc_container, capsys):
    X = csc_container([[0.0], [1.0]])
    RBMTransformer(n_components=2, batch_size=2, n_iter=1, random_state=42, verbose=True).fit(X)
    assert re.match(r"\[RBMTransformer\] Iteration 1, pseudo-likelihood = -?(\d)+(\.\d+)?, time = (\d|\.)+s",
                    capsys.readouterr().out)


# ---- dtypes, names, repr ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype_in, dtype_out",
                         [(np.float32, np.float32), (np.float64, np.float64), (int, np.float64)])
def test_transform_keeps_the_floating_type(Xdigits, dtype_in, dtype_out):
    X = (Xdigits[:100] > 0.5).astype(dtype_in) if dtype_in is int else Xdigits[:100].astype(dtype_in)
    rbm = RBMTransformer(n_components=16, batch_size=5, n_iter=5, random_state=42)
    assert rbm.fit_transform(X).dtype == dtype_out
    assert rbm.transform(sp.csr_matrix(X)).dtype == dtype_out
    assert rbm.gibbs(X).dtype == dtype_out


def test_float32_and_float64_input_train_the_same_model(Xdigits):
    """The networks compute in float32: both inputs give the same numbers (BernoulliRBM: within
    rtol 1e-6 for transform, 1e-3 for the weights)."""
    fitted = {}
    for dtype in (np.float64, np.float32):
        rbm = RBMTransformer(n_components=16, batch_size=5, n_iter=5, random_state=42)
        fitted[dtype] = (rbm, rbm.fit_transform(Xdigits[:100].astype(dtype)))
    (r64, t64), (r32, t32) = fitted[np.float64], fitted[np.float32]
    np.testing.assert_allclose(t64, t32, rtol=1e-6, atol=0)
    for name in ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_"):
        np.testing.assert_array_equal(getattr(r64, name), getattr(r32, name))


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_feature_names_out(Xdigits, method):
    rbm = getattr(RBMTransformer(n_components=10), method)(Xdigits[:50])
    assert list(rbm.get_feature_names_out()) == [f"rbmtransformer{i}" for i in range(10)]


def test_repr_shows_the_changed_parameters():
    assert repr(RBMTransformer()) == "RBMTransformer()"
    assert repr(RBMTransformer(n_components=8, strict=True)) == "RBMTransformer(n_components=8, strict=True)"


# ---- values outside [0, 1] -------------------------------------------------------------------

def test_values_outside_the_unit_interval_warn_and_train_as_given_unless_strict(Xdigits):
    X = Xdigits[:100] * 3 - 1  # in [-1, 2]
    rbm = RBMTransformer(n_components=8, n_iter=2, random_state=0)
    with pytest.warns(UserWarning, match=r"Negative values in data passed to RBMTransformer.fit.*"
                                         r"got values in \[-1, 2\].*strict=True"):
        rbm.fit(X)
    assert np.isfinite(rbm.transform(X)).all() and rbm.h_samples_.shape == (10, 8)
    # trained on X as given: not on X clipped to [0, 1]
    clipped = clone(rbm).fit(np.clip(X, 0, 1))
    assert not np.allclose(rbm.components_, clipped.components_)
    with pytest.warns(UserWarning, match=r"RBMTransformer.partial_fit"):
        rbm.partial_fit(X)
    with pytest.raises(ValueError, match=r"Values outside \[0, 1\] in data passed to RBMTransformer.fit"):
        clone(rbm).set_params(strict=True).fit(Xdigits[:100] * 2)
    with pytest.raises(TypeError, match="'strict' parameter must be a bool"):
        clone(rbm).set_params(strict="yes").fit(Xdigits[:100])


def test_spin_units_take_the_policy_on_minus_one_to_one():
    X = np.where(np.random.RandomState(0).rand(40, 6) > 0.5, 1.0, -1.0)
    rbm = RBMTransformer(n_components=3, n_iter=1, visible="spin", random_state=0).fit(X)  # no warning
    with pytest.warns(UserWarning, match=r"Values outside \[-1, 1\] in data passed to RBMTransformer.fit.*Spin"):
        clone(rbm).fit(X * 2)
    with pytest.raises(ValueError, match=r"Values outside \[-1, 1\]"):
        clone(rbm).set_params(strict=True).fit(X * 2)
    assert rbm.h_samples_.shape == (10, 3)


def test_the_x_failed_checks_are_those_bernoulli_rbm_fails():
    results = check_estimator(BernoulliRBM(n_components=8, n_iter=3, random_state=0), on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed == set(SCORE_SAMPLES_CHECKS)


# ---- sparse input of every estimator; a bag-of-words matrix never densified whole ------------

@pytest.fixture(scope="module")
def bag_of_words():
    """5000 documents x 20000 words, 0.2 % non-zero (counts capped at 1): 400 MB dense in float32."""
    words = np.random.RandomState(0).randint(20000, size=(5000, 40))
    X = sp.csr_matrix((np.ones(words.size), words.ravel(), np.arange(0, words.size + 1, 40)), shape=(5000, 20000))
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


BATCHED = {  # the estimators that never densify a sparse X whole
    "rbm": RBMTransformer(n_components=16, batch_size=50, n_iter=1, random_state=0),
    "ae": AutoEncoderTransformer(hidden_layer_sizes=(8,), loss="bce", batch_size=50, n_iter=1, random_state=0),
    "dbm": DBMTransformer(hidden_layer_sizes=(8, 4), batch_size=50, n_iter=1, n_chains=20, mf_steps=3,
                          random_state=0),
}


@pytest.mark.parametrize("name", BATCHED)
def test_a_bag_of_words_matrix_is_densified_a_batch_at_a_time(bag_of_words, monkeypatch, name):
    X = bag_of_words
    densified = []
    real_dense = _rows._dense

    def spy(matrix, rows):
        out = real_dense(matrix, rows)
        densified.append(out.shape[0])
        return out

    monkeypatch.setattr(_rows, "_dense", spy)
    monkeypatch.setattr(_rows, "dense_tensor", lambda *a: pytest.fail("X densified whole"))
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # torch's lazy imports, untraced (slow traced)
    tracemalloc.start()
    try:
        est = clone(BATCHED[name]).fit(X)
        features = est.transform(X[:300])
        peak = tracemalloc.get_traced_memory()[1]  # numpy's allocations are traced (torch's are not)
    finally:
        tracemalloc.stop()
    assert features.shape == (300, est.get_feature_names_out().size) and est.n_features_in_ == 20000
    # 100 batches of 50, the monitor's 1024 rows once an epoch, transform's chunks of 2**22 values
    assert max(densified) <= 1024 and sum(1 for n in densified if n == 50) >= 100
    assert peak < 4 * 1024 * 20000 * 2  # twice the monitor's float32 rows; X dense: 400 MB
    if name == "rbm":
        assert sum(1 for n in densified if n == 50) == 101  # and the last 50 rows for h_samples_
        assert est.score_samples(X[:300]).shape == (300,)
        # transform's two chunks (209 + 91 rows), in order: sigmoid(c + W v) by scipy's sparse product
        expected = 1 / (1 + np.exp(-(X[:300] @ est.components_.T.astype(np.float64) + est.intercept_hidden_)))
        np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


SPARSE_ESTIMATORS = [
    AutoEncoderTransformer(hidden_layer_sizes=(5,), noise="masking", noise_level=0.2, n_iter=2, random_state=0),
    DBMTransformer(hidden_layer_sizes=(5, 3), n_iter=2, n_chains=8, random_state=0),
    ConvSparseCodingTransformer(n_filters=2, kernel_size=3, image_shape=(3, 4), max_iter=5, max_epochs=2,
                                random_state=0),
    DBNClassifier(hidden_layer_sizes=(5,), pretrain_epochs=1, n_iter=2, random_state=0),
    StackedAutoEncoderClassifier(hidden_layer_sizes=(5,), pretrain_epochs=1, n_iter=2, random_state=0),
]


@pytest.mark.parametrize("est", SPARSE_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_estimator_gives_the_same_results_on_sparse_and_dense_input(est):
    X = (np.random.RandomState(0).rand(60, 12) > 0.6).astype(np.float64)
    y = np.arange(60) % 2
    out = {}
    for name, data in (("dense", X), ("csr", sp.csr_matrix(X)), ("csc", sp.csc_array(X))):
        fitted = clone(est).fit(data, y) if hasattr(est, "predict") else clone(est).fit(data)
        out[name] = fitted.predict_proba(data) if hasattr(est, "predict") else fitted.transform(data)
    np.testing.assert_allclose(out["csr"], out["dense"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["csc"], out["dense"], rtol=1e-5, atol=1e-6)
