"""RAISE for deep Boltzmann machines (layerwise.likelihood.dbm_*) against exact enumeration.

The references are written here from the definitions, in numpy: the table of
``-E(v, h1, h2) = b0.v + b1.h1 + b2.h2 + h1^T W1 v + h2^T W2 h1`` over every state of a tiny
DBM gives log p(v), the even layers' marginal p_beta(v, h2) and the transition kernel of one
sweep on the even layers, ``T(e' | e) = sum_h1 p(h1 | e) p(e' | h1)``; the annealing model
``p_ann = p_0 T_1 ... T_K`` is propagated as a vector over the even states.
"""

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.special import log_expit, logsumexp

from layerwise.likelihood import LikelihoodBounds, RAISEResult, dbm_log_likelihood_bounds, dbm_raise_log_likelihood
from layerwise.models.dbm import DBM

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def random_dbm(sizes, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    dbm = DBM(sizes, dtype=torch.float64)
    with torch.no_grad():
        for w in dbm.weights:
            w.copy_(torch.from_numpy(rng.normal(0, scale, tuple(w.shape))))
        for b in dbm.biases:
            b.copy_(torch.from_numpy(rng.normal(0, 1, tuple(b.shape))))
    return dbm


def states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def params(dbm):
    (w1, w2), (b0, b1, b2) = [[p.detach().numpy().copy() for p in ps] for ps in (dbm.weights, dbm.biases)]
    return w1, w2, b0, b1, b2


def even_table(dbm, beta=1.0, b_a=None):
    """Every even state (v, h2) and log p*_beta(v, h2) (h1 summed out), from the definition of -E."""
    w1, w2, b0, b1, b2 = params(dbm)
    n0, n2 = len(b0), len(b2)
    b_a = np.zeros(n0) if b_a is None else b_a
    e = states(n0 + n2)
    v, h2 = e[:, :n0], e[:, n0:]
    h1 = states(len(b1))
    neg_e = (beta * (v @ b0 + h2 @ b2) + (1 - beta) * v @ b_a)[:, None] + beta * (
        h1 @ b1 + (v @ w1.T) @ h1.T + (h2 @ w2) @ h1.T)
    return e, logsumexp(neg_e, axis=1)


def exact_log_p(dbm, x):
    """log p(v) of the rows of x: the even table summed over h2, minus log Z."""
    n0 = dbm.sizes[0]
    e, lt = even_table(dbm)
    log_z = logsumexp(lt)
    keys = {tuple(r): i for i, r in enumerate(states(n0))}
    lv = logsumexp(_by_v(e, lt, n0), axis=1)
    return np.array([lv[keys[tuple(r)]] for r in x]) - log_z


def _by_v(e, lt, n0):
    """(2^n0, 2^n2) table of log p*(v, h2), rows in the order of states(n0)."""
    idx = {tuple(r): i for i, r in enumerate(states(n0))}
    out = np.full((2**n0, len(e) // 2**n0), -np.inf)
    fill = np.zeros(2**n0, dtype=int)
    for r, val in zip(e, lt):
        i = idx[tuple(r[:n0])]
        out[i, fill[i]], fill[i] = val, fill[i] + 1
    return out


def kernel(dbm, beta, b_a):
    """T(e' | e) of one sweep at beta on the even states (rows: e), with p_beta(h1 | e) and p_beta(e' | h1)."""
    w1, w2, b0, b1, b2 = params(dbm)
    n0 = len(b0)
    e = states(n0 + len(b2))
    v, h2 = e[:, :n0], e[:, n0:]
    h1 = states(len(b1))
    a1 = beta * (v @ w1.T + h2 @ w2 + b1)                                  # (E, n1)
    p_h1 = np.exp(log_expit(a1) @ h1.T + log_expit(-a1) @ (1 - h1).T)      # (E, H1)
    a_e = np.concatenate([beta * (h1 @ w1 + b0) + (1 - beta) * b_a, beta * (h1 @ w2.T + b2)], 1)  # (H1, n0 + n2)
    p_e = np.exp(log_expit(a_e) @ e.T + log_expit(-a_e) @ (1 - e).T)      # (H1, E)
    return e, p_h1 @ p_e


def model_samples(dbm, n, seed):
    """n exact samples of v from the enumerated even marginal."""
    e, lt = even_table(dbm)
    rng = np.random.default_rng(seed)
    i = rng.choice(len(e), size=n, p=np.exp(lt - logsumexp(lt)))
    return torch.from_numpy(e[i, :dbm.sizes[0]].copy())


# ---- the transition -----------------------------------------------------------------------------


def test_sweep_is_reversible_on_the_even_layers():
    dbm = random_dbm([3, 2, 2], seed=1, scale=1.5)
    b_a = np.array([0.5, -1.0, 0.2])
    beta = 0.6
    e, t = kernel(dbm, beta, b_a)
    _, lt = even_table(dbm, beta, b_a)
    p = np.exp(lt - logsumexp(lt))
    np.testing.assert_allclose(t.sum(1), 1.0, atol=1e-12)
    flow = p[:, None] * t
    np.testing.assert_allclose(flow, flow.T, atol=1e-12)                   # detailed balance
    np.testing.assert_allclose(p @ t, p, atol=1e-12)
    # the path's transition draws from that kernel: from one even state, 40000 sweeps
    path = dbm.annealing_path(torch.from_numpy(b_a))
    start, n = 5, 40000
    x = [torch.from_numpy(np.repeat(e[start:start + 1, :3], n, 0)), torch.ones(n, 2, dtype=torch.float64),
         torch.from_numpy(np.repeat(e[start:start + 1, 3:], n, 0))]
    x = path.transition(x, beta, torch.Generator().manual_seed(0))
    code = (torch.cat([x[0], x[2]], 1).numpy() * 2.0 ** np.arange(4, -1, -1)).sum(1).astype(int)
    freq = np.bincount(code, minlength=len(e)) / n
    se = np.sqrt(t[start] * (1 - t[start]) / n)
    assert np.all(np.abs(freq - t[start]) <= 5 * se + 1e-3)


# ---- unbiasedness: E[w] = p_ann(v) -------------------------------------------------------------------


@pytest.mark.parametrize("posterior, gibbs_steps", [("exact", 0), ("mean_field", 0), ("mean_field", 2)])
def test_weights_are_unbiased_for_the_annealing_model(posterior, gibbs_steps):
    dbm = random_dbm([4, 3, 2], seed=2, scale=1.5)
    data = torch.tensor([[1.0, 0, 1, 0], [1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 0, 1], [1, 1, 1, 0]])
    m = data.double().mean(0).numpy()
    b_a = np.log(m / (1 - m))
    betas = [0.0, 0.3, 0.7, 1.0]
    e, _ = kernel(dbm, 0.0, b_a)
    _, l0 = even_table(dbm, 0.0, b_a)
    p_ann = np.exp(l0 - logsumexp(l0))
    for b in betas[1:]:
        p_ann = p_ann @ kernel(dbm, b, b_a)[1]
    p_ann_v = _by_v(e, np.log(p_ann), 4)
    p_ann_v = np.exp(logsumexp(p_ann_v, axis=1))
    vs = states(4)
    pick = [3, 9, 14]
    x = torch.from_numpy(vs[pick])
    n_runs = 20000
    rr = dbm_raise_log_likelihood(dbm, x, n_runs, betas=betas, data=data, posterior=posterior,
                                  gibbs_steps=gibbs_steps, generator=torch.Generator().manual_seed(3))
    assert isinstance(rr, RAISEResult) and rr.log_weights.shape == (3, n_runs)
    w = torch.exp(rr.log_weights).numpy()
    mean, se = w.mean(1), w.std(1) / math.sqrt(n_runs)
    assert np.all(np.abs(mean - p_ann_v[pick]) <= 4 * se), (mean, p_ann_v[pick], se)
    # the reference is p_ann, not p: with 3 temperatures the two differ by far more than the noise
    p = np.exp(exact_log_p(dbm, vs[pick]))
    assert np.max(np.abs(p - p_ann_v[pick]) / se) > 10


# ---- against the exact log-likelihood ----------------------------------------------------------------


def test_raise_is_below_exact_and_converges():
    dbm = random_dbm([8, 6, 4], seed=4, scale=2.0)
    gaps = {10: [], 300: []}
    for seed in range(4):
        x = model_samples(dbm, 20, seed)
        exact = exact_log_p(dbm, x.numpy()).mean()
        for n_betas in gaps:
            rr = dbm_raise_log_likelihood(dbm, x, 20, n_betas, posterior="mean_field",
                                          generator=torch.Generator().manual_seed(seed))
            gaps[n_betas].append(rr.mean - exact)
    short, long = np.mean(gaps[10]), np.mean(gaps[300])
    assert short <= 0.02 and long <= 0.02                  # a lower bound in expectation
    assert abs(long) < abs(short) and abs(long) < 0.05     # tending to exact as the schedule lengthens


def test_sandwich_holds_over_seeds_in_the_expected_fraction():
    """30 tiny DBMs with strong weights, a short schedule (10 temperatures), 20 AIS runs.

    As for the RBM (tests/test_likelihood.py): each end is a bound in expectation, RAISE's gaps
    add up over 30 test vectors so its end holds nearly always, AIS's single log Z is as often
    a little high as too low, and the Markov interval ``interval(0.9)`` holds in >= 90 %.
    """
    lower, upper, covered = [], [], []
    for seed in range(30):
        dbm = random_dbm([8, 6, 4], seed=seed, scale=2.5)
        x = model_samples(dbm, 30, seed)
        exact = exact_log_p(dbm, x.numpy())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 20 AIS runs: the low-ESS warning
            b = dbm_log_likelihood_bounds(dbm, x, 20, 10, ais_runs=20, generator=torch.Generator().manual_seed(seed))
        assert isinstance(b, LikelihoodBounds) and b.ais is not None
        np.testing.assert_allclose(b.neg_free_energy.numpy() - logsumexp(even_table(dbm)[1]), exact, atol=1e-9)
        lower.append(b.lower - exact.mean())
        upper.append(b.upper - exact.mean())
        lo, hi = b.interval(0.9)
        covered.append(lo <= exact.mean() <= hi)
    lower, upper = np.array(lower), np.array(upper)
    assert lower.mean() < 0 and upper.mean() > 0
    assert np.mean(lower <= 0) >= 0.9
    assert np.mean(upper >= 0) >= 0.5
    assert np.mean(covered) >= 0.9


def test_bounds_close_on_the_exact_log_likelihood():
    dbm = random_dbm([8, 6, 4], seed=5, scale=2.0)
    log_z = dbm.log_partition("exact")
    x = model_samples(dbm, 20, 0)
    exact = exact_log_p(dbm, x.numpy())
    b = dbm_log_likelihood_bounds(dbm, x, 20, 300, log_z=log_z, generator=torch.Generator().manual_seed(0))
    exact_start = dbm_raise_log_likelihood(dbm, x, 20, 300, posterior="exact",
                                           generator=torch.Generator().manual_seed(0))
    assert torch.equal(b.raise_result.log_weights, exact_start.log_weights)  # "auto" is exact for a tiny DBM
    np.testing.assert_allclose(b.neg_free_energy.numpy() - log_z, exact, atol=1e-9)  # the exact log p*(v)
    assert b.upper == pytest.approx(exact.mean(), abs=1e-9) and b.ais is None and b.log_z == log_z
    assert abs(b.lower - exact.mean()) < 0.05


def test_mean_field_runs_where_the_posterior_cannot_be_enumerated():
    dbm = random_dbm([10, 12, 20], seed=6, scale=0.3)
    x = torch.bernoulli(torch.full((3, 10), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    rr = dbm_raise_log_likelihood(dbm, x, 4, 20, posterior="mean_field", gibbs_steps=1, max_states=2**10,
                                  generator=torch.Generator().manual_seed(0))
    assert rr.log_likelihood.shape == (3,) and torch.isfinite(rr.log_likelihood).all()
    auto = dbm_raise_log_likelihood(dbm, x, 4, 20, posterior="auto", gibbs_steps=1, max_states=2**10,
                                    generator=torch.Generator().manual_seed(0))
    assert torch.equal(auto.log_weights, rr.log_weights)  # "auto" is the mean-field start here (seeded alike)
    with pytest.raises(ValueError, match="2\\^20 states of the even hidden layers.*mean_field"):
        dbm_raise_log_likelihood(dbm, x, 4, 20, posterior="exact", max_states=2**10)
    with pytest.raises(ValueError, match="max_states"):
        dbm_log_likelihood_bounds(dbm, x, 4, 20, max_states=2**10, log_z=1.0)


def test_argument_errors():
    dbm = random_dbm([6, 4, 3])
    x = torch.zeros(2, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="posterior"):
        dbm_raise_log_likelihood(dbm, x, 2, 10, posterior="variational")
    with pytest.raises(ValueError, match="gibbs_steps"):
        dbm_raise_log_likelihood(dbm, x, 2, 10, gibbs_steps=-1)
    with pytest.raises(ValueError, match="n_runs"):
        dbm_raise_log_likelihood(dbm, x, 0, 10)
    with pytest.raises(ValueError, match="binary states.*0.5"):
        dbm_raise_log_likelihood(dbm, x + 0.5, 2, 10)
    with pytest.raises(ValueError, match="'v'"):
        dbm_raise_log_likelihood(dbm, torch.zeros(2, 5), 2, 10)
    with pytest.raises(ValueError, match="betas"):
        dbm_raise_log_likelihood(dbm, x, 2, betas=[0.0, 0.5])
    with pytest.raises(ValueError, match="log_z"):
        dbm_log_likelihood_bounds(dbm, x, 2, 10, log_z=math.inf)
