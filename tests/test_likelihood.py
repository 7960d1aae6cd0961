"""layerwise.likelihood (RAISE and the [lower, upper] sandwich) against exact enumeration.

The references are written here from the definitions, in numpy: the joint table of
exp(-E(v, h)) over every (v, h) of a 10 x 8 RBM gives the exact log p(v), and the annealing
model p_ann (the base model followed by one block Gibbs sweep per temperature) is propagated
exactly as a vector over the 2^10 visible states through the 1024 x 1024 transition matrices
``T_k = P_k(h | v) P_k(v' | h)``. RAISE's weights are unbiased for p_ann, and its log is a
lower bound in expectation; AIS's log Z is a lower bound in expectation, so ``-F - log Z_hat``
is an upper bound.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import log_expit, logsumexp
from sklearn.datasets import load_digits

from _models import random_rbm

from layerwise.likelihood import LikelihoodBounds, RAISEResult, log_likelihood_bounds, raise_log_likelihood, \
    reverse_anneal
from layerwise.models.rbm import RBM
from layerwise.partition import AISResult, RBMPath, ais_betas, ais_log_partition, exact_log_partition
from layerwise.training import fit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def params(rbm):
    return tuple(p.detach().numpy().copy() for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))


def states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def exact_log_p(rbm):
    """Every visible state and its log p(v), from the joint table of -E(v, h) = b.v + c.h + h^T W v."""
    w, b, c = params(rbm)
    vs, hs = states(rbm.n_visible), states(rbm.n_hidden)
    neg_e = (vs @ b)[:, None] + (hs @ c)[None, :] + vs @ w.T @ hs.T
    return vs, logsumexp(neg_e, axis=1) - logsumexp(neg_e)


def bernoulli_table(x, logits):
    """P(x_r | logits_s) of independent Bernoulli units, shape (len(logits), len(x))."""
    return np.exp(log_expit(logits) @ x.T + log_expit(-logits) @ (1 - x).T)


def annealing_model(rbm, betas, base_bias):
    """p_ann(v) over every visible state: the base model's exact p_0, then T_1 .. T_K."""
    w, b, c = params(rbm)
    vs, hs = states(rbm.n_visible), states(rbm.n_hidden)
    p = bernoulli_table(vs, base_bias[None, :])[0]
    for beta in betas[1:]:
        p_h = bernoulli_table(hs, beta * (vs @ w.T + c))  # (V, H): P_k(h | v)
        p_v = bernoulli_table(vs, (1 - beta) * base_bias + beta * (b + hs @ w))  # (H, V): P_k(v' | h)
        p = (p @ p_h) @ p_v
    return p


def model_samples(rbm, n, seed):
    """n exact samples of the RBM (by enumeration) and their exact log p(v)."""
    vs, log_p = exact_log_p(rbm)
    idx = np.random.default_rng(seed).choice(len(vs), size=n, p=np.exp(log_p))
    return torch.from_numpy(vs[idx]), log_p[idx]


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ---- RAISE against the annealing model and the exact likelihood ----------------------------


@pytest.mark.parametrize("n_betas,base", [(2, "rbm"), (4, "rbm"), (4, "given")])
def test_raise_weights_are_unbiased_for_the_annealing_model(n_betas, base):
    rbm = random_rbm(seed=0)
    betas = ais_betas(n_betas).numpy()
    vs, log_p = exact_log_p(rbm)
    b_a = params(rbm)[1] if base == "rbm" else np.random.default_rng(9).normal(0, 1, 10)
    p_ann = annealing_model(rbm, betas, b_a)
    assert p_ann.sum() == pytest.approx(1.0, abs=1e-12)
    top = np.argsort(-log_p)[:4]
    given = torch.from_numpy(b_a) if base == "given" else None
    res = raise_log_likelihood(rbm, torch.from_numpy(vs[top]), n_runs=20000, n_betas=n_betas, generator=gen(1),
                               base_visible_bias=given)
    assert isinstance(res, RAISEResult) and res.log_weights.shape == (4, 20000)
    assert res.log_weights.dtype == torch.float64 and res.log_likelihood.dtype == torch.float64
    w = res.log_weights.exp().numpy()
    se = w.std(1) / w.mean(1) / math.sqrt(w.shape[1])  # relative standard error of mean w
    np.testing.assert_array_less(np.abs(w.mean(1) / p_ann[top] - 1), 4 * se)
    # the test tells p_ann from p: a short schedule puts the annealing model visibly lower
    assert np.mean(np.abs(p_ann[top] / np.exp(log_p[top]) - 1)) > 4 * se.mean()
    # Jensen: E[log w] < log p_ann(v)
    assert np.all(res.log_weights.mean(1).numpy() < np.log(p_ann[top]))


@pytest.mark.parametrize("seed", range(5))
def test_raise_is_below_the_exact_log_likelihood(seed):
    rbm = random_rbm(seed=seed, scale=2.0)
    v, log_p = model_samples(rbm, 50, seed)
    res = raise_log_likelihood(rbm, v, n_runs=20, n_betas=30, generator=gen(seed))
    assert res.log_likelihood.shape == (50,)
    assert res.mean == float(res) == pytest.approx(float(res.log_likelihood.mean()))
    assert res.mean <= log_p.mean() + 0.03
    assert res.mean >= log_p.mean() - 0.5  # and not vacuous
    ess = res.effective_sample_size
    assert ess.shape == (50,) and bool(((ess >= 1 - 1e-9) & (ess <= 20 + 1e-9)).all())


def test_raise_converges_as_the_schedule_lengthens():
    rbm = random_rbm(seed=0, scale=2.0)
    v, log_p = model_samples(rbm, 20, 0)
    errors = []
    for n_betas in (10, 100, 1000):  # evenly spaced (ais_betas switches to the paper's shape at 1000)
        betas = torch.linspace(0, 1, n_betas, dtype=torch.float64)
        res = raise_log_likelihood(rbm, v, n_runs=10, betas=betas, generator=gen(0))
        errors.append(float(np.abs(res.log_likelihood.numpy() - log_p).mean()))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.1 and errors[0] > 5 * errors[2], errors  # about 1 / sqrt(n_betas)


def test_sandwich_holds_over_seeds_in_the_expected_fraction():
    """40 tiny RBMs with strong weights, a short schedule (10 temperatures) and 20 AIS runs.

    Each end is a bound in expectation: the mean over seeds of ``lower - exact`` is negative
    and of ``upper - exact`` positive. RAISE's Jensen and annealing gaps add up over 50 test
    vectors, so its end holds nearly always here; AIS's single log Z is as often a little high
    as far too low, so its end holds in somewhat more than half the seeds. The Markov interval
    ``interval(0.9)`` must hold in at least 90 % of them (it holds in all).
    """
    lower, upper, covered = [], [], []
    for seed in range(40):
        rbm = random_rbm(seed=seed, scale=2.5)
        v, log_p = model_samples(rbm, 50, seed)
        b = log_likelihood_bounds(rbm, v, n_runs=20, n_betas=10, ais_runs=20, generator=gen(seed))
        lower.append(b.lower - log_p.mean())
        upper.append(b.upper - log_p.mean())
        lo, hi = b.interval(0.9)
        covered.append(lo <= log_p.mean() <= hi)
    lower, upper = np.array(lower), np.array(upper)
    assert lower.mean() < 0 and upper.mean() > 0
    assert np.mean(lower <= 0) >= 0.9
    assert np.mean(upper >= 0) >= 0.5
    assert np.mean(covered) >= 0.9


@pytest.mark.parametrize("visible,hidden", [("spin", "bernoulli"), ("bernoulli", "spin"), ("gaussian", "bernoulli")])
def test_raise_other_units(visible, hidden):
    rbm = random_rbm(8, 6, seed=3, scale=0.5, visible=visible, hidden=hidden)
    torch.manual_seed(0)
    v = rbm.sample(30, steps=50)
    if visible != "gaussian":  # states, not the means that sample() returns
        v = torch.where(v > 0, torch.ones_like(v), torch.full_like(v, rbm.visible.states[0]))
    exact = (-rbm.free_energy(v) - exact_log_partition(rbm)).detach().numpy()
    res = raise_log_likelihood(rbm, v, n_runs=20, betas=torch.linspace(0, 1, 1000, dtype=torch.float64),
                               generator=gen(0))
    assert np.abs(res.log_likelihood.numpy() - exact).max() < 0.1
    assert abs(res.mean - exact.mean()) < 0.01


def test_raise_is_exact_without_weights_in_any_chunking():
    """W = 0 and b_A = b: every f_k is the model up to a constant, so every weight is p(v)."""
    rbm = random_rbm(seed=4)
    with torch.no_grad():
        rbm.weight.zero_()
    vs, log_p = exact_log_p(rbm)
    pick = [0, 5, 17, 300, 1023, 511, 64]
    for batch_size, progress in ((3, True), (None, False)):
        res = raise_log_likelihood(rbm, torch.from_numpy(vs[pick]), n_runs=4, n_betas=50, generator=gen(0),
                                   batch_size=batch_size, progress=progress)
        np.testing.assert_allclose(res.log_weights.numpy(), np.repeat(log_p[pick, None], 4, 1), atol=1e-10)


def test_raise_is_reproducible_and_takes_a_schedule_and_a_base():
    rbm = random_rbm(seed=1)
    v = torch.from_numpy(states(10)[:6])
    a = raise_log_likelihood(rbm, v, n_runs=5, n_betas=20, generator=gen(2))
    b = raise_log_likelihood(rbm, v, n_runs=5, betas=torch.linspace(0, 1, 20, dtype=torch.float64), generator=gen(2))
    assert torch.equal(a.log_weights, b.log_weights)
    c = raise_log_likelihood(rbm, v, n_runs=5, n_betas=20, base_visible_bias=rbm.visible_bias.detach(),
                             generator=gen(2))
    assert torch.equal(a.log_weights, c.log_weights)  # the default base is the RBM's own visible bias
    d = raise_log_likelihood(rbm, v, n_runs=5, n_betas=20, data=v, generator=gen(2))
    assert not torch.equal(a.log_weights, d.log_weights)


def test_reverse_anneal_is_the_rbm_estimator():
    """The generic reverse chain on RBMPath gives raise_log_likelihood's weights."""
    rbm = random_rbm(seed=2)
    v = torch.from_numpy(states(10)[[3, 9]]).repeat_interleave(3, 0)
    path = RBMPath(rbm, rbm.visible_bias.detach())
    lw = reverse_anneal(path, ais_betas(15), (v, rbm.hidden_input(v)), gen(5))
    res = raise_log_likelihood(rbm, v[::3], n_runs=3, n_betas=15, generator=gen(5))
    assert torch.equal(lw.reshape(2, 3), res.log_weights)
    with pytest.raises(ValueError, match="from 0 to 1"):
        reverse_anneal(path, torch.tensor([0.0, 0.5], dtype=torch.float64), (v, rbm.hidden_input(v)))


def test_a_mode_the_annealing_misses():
    """A needle mode: one hidden unit switched on only at one state v* of 30 visible units,
    holding half the mass. Neither AIS nor the forward annealing model ever reaches it, so both
    ends are log 2 too high on vectors outside it; the reverse chain started at v* is far too
    low, and a test set containing v* opens the sandwich around the exact mean."""
    n = 30
    alpha = 2 * n * math.log(2)  # exp(alpha / 2) = 2^30: the mode holds half of Z
    g = gen(0)
    v_star = torch.bernoulli(torch.full((n,), 0.5, dtype=torch.float64), generator=g)
    rbm = RBM(n, 1, dtype=torch.float64)
    with torch.no_grad():
        rbm.visible_bias.zero_()
        rbm.weight.copy_(alpha * (2 * v_star - 1)[None])  # a(v) = alpha / 2 at v*, <= -alpha / 2 elsewhere
        rbm.hidden_bias.fill_(-alpha * (float(v_star.sum()) - 0.5))
    v = torch.cat([v_star[None], torch.bernoulli(torch.full((10, n), 0.5, dtype=torch.float64), generator=g)])
    log_z = exact_log_partition(rbm)
    assert log_z == pytest.approx((n + 1) * math.log(2), abs=1e-9)
    exact = (-rbm.free_energy(v) - log_z).detach().numpy()
    b = log_likelihood_bounds(rbm, v, n_runs=10, n_betas=100, ais_runs=100, generator=gen(1))
    upper = (b.neg_free_energy - b.log_z).numpy()
    lower = b.raise_result.log_likelihood.numpy()
    np.testing.assert_allclose(upper - exact, math.log(2), atol=0.02)  # AIS misses the mode
    np.testing.assert_allclose(lower[1:] - exact[1:], math.log(2), atol=0.05)  # so does p_ann
    assert lower[0] < exact[0] - 5  # the reverse chain from v* is conservative
    assert b.lower < exact.mean() < b.upper and b.width > 1


# ---- the sandwich --------------------------------------------------------------------------


def test_bounds_take_a_log_z():
    rbm = random_rbm(seed=5)
    v, log_p = model_samples(rbm, 40, 5)
    exact = exact_log_partition(rbm)
    b = log_likelihood_bounds(rbm, v, n_runs=10, n_betas=100, log_z=exact, generator=gen(0))
    assert isinstance(b, LikelihoodBounds) and b.ais is None and b.log_z == exact
    assert b.upper == pytest.approx(log_p.mean(), abs=1e-10)  # an exact log Z gives the exact mean
    np.testing.assert_allclose((b.neg_free_energy - exact).numpy(), log_p, atol=1e-10)
    lo, hi = b
    assert (lo, hi) == (b.lower, b.upper) and b.width == pytest.approx(hi - lo)
    assert str(b).startswith(f"[{lo:.3f}, {hi:.3f}] nats")
    ais = ais_log_partition(rbm, n_runs=50, n_betas=100, generator=gen(1))
    b2 = log_likelihood_bounds(rbm, v, n_runs=10, n_betas=100, log_z=ais, generator=gen(0))
    assert b2.ais is ais and b2.upper == pytest.approx(float(b.neg_free_energy.mean()) - ais.log_z)
    assert b2.lower == b.lower  # the same generator, the same reverse chains
    b3 = log_likelihood_bounds(rbm, v, n_runs=10, n_betas=100, ais_runs=30, generator=gen(0))
    assert isinstance(b3.ais, AISResult) and b3.ais.log_weights.shape == (30,)
    assert b3.crossed == (b3.width < 0)
    lo9, hi9 = b3.interval(0.9)
    assert hi9 - b3.upper == pytest.approx(math.log(20)) and b3.lower - lo9 == pytest.approx(math.log(20))


def test_bad_arguments():
    rbm = random_rbm(seed=0)
    v = torch.from_numpy(states(10)[:4])
    with pytest.raises(ValueError, match="'n_runs' parameter .* Got 0 instead"):
        raise_log_likelihood(rbm, v, n_runs=0)
    with pytest.raises(ValueError, match="'n_betas' parameter .* Got 1 instead"):
        raise_log_likelihood(rbm, v, n_betas=1)
    with pytest.raises(ValueError, match="'batch_size' parameter .* Got 0 instead"):
        raise_log_likelihood(rbm, v, batch_size=0)
    with pytest.raises(ValueError, match="'betas' must increase from 0 to 1"):
        raise_log_likelihood(rbm, v, betas=[0.0, 0.5])
    with pytest.raises(ValueError, match="'v' has 9 features, but 10 were expected"):
        raise_log_likelihood(rbm, v[:, :9])
    with pytest.raises(ValueError, match=r"'v' must hold the bernoulli units' states \(0.0, 1.0\) only.*0.5"):
        raise_log_likelihood(rbm, torch.full((2, 10), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"'v' must lie in \[0, 1\]"):
        raise_log_likelihood(rbm, torch.full((2, 10), 2.0))
    with pytest.raises(ValueError, match="at most one of 'base_visible_bias' and 'data'"):
        raise_log_likelihood(rbm, v, base_visible_bias=torch.zeros(10), data=v)
    with pytest.raises(ValueError, match=r"'base_visible_bias' must have shape \(10,\); got \(3,\)"):
        raise_log_likelihood(rbm, v, base_visible_bias=torch.zeros(3))
    with pytest.raises(ValueError, match="'log_z' parameter must be a finite float. Got inf"):
        log_likelihood_bounds(rbm, v, log_z=math.inf)
    with pytest.raises(TypeError, match="'log_z' parameter must be a float"):
        log_likelihood_bounds(rbm, v, log_z="1.0")
    with pytest.raises(ValueError, match="'ais_runs' parameter .* Got 0 instead"):
        log_likelihood_bounds(rbm, v, ais_runs=0)
    b = log_likelihood_bounds(rbm, v, n_runs=2, n_betas=5, log_z=1.0)
    with pytest.raises(ValueError, match="'confidence' parameter .* Got 1.0 instead"):
        b.interval(1.0)


# ---- a trained model -----------------------------------------------------------------------


@pytest.mark.slow
def test_sandwich_on_a_trained_digits_rbm():
    """RBM 64-20 on binarised digits (2^20 hidden states enumerable): the sandwich of 200 test
    images is within half a nat of the exact mean at 1,000 temperatures and brackets it."""
    x = torch.tensor(load_digits().data / 16.0 > 0.5, dtype=torch.float32)
    train, test = x[:1297], x[1297:1497]
    torch.manual_seed(0)
    rbm = RBM(64, 20)
    rbm.init_visible_bias(train)
    fit(rbm, train, epochs=10, batch_size=32, lr=0.05, momentum=0.5, progress=False, device="cpu")
    with torch.no_grad():
        exact = float((-rbm.free_energy(test).double() - exact_log_partition(rbm)).mean())
    b = log_likelihood_bounds(rbm, test, n_runs=20, n_betas=1000, data=train, generator=gen(0))
    assert b.lower <= exact + 0.05 and b.upper >= exact - 0.05
    assert b.width < 0.5 and exact - b.lower < 0.5
