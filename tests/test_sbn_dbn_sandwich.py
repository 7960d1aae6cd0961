"""Two-sided likelihoods of the SBN (bidirectional Monte Carlo), the SBN's importance sampling with
its effective sample size, and both ends of the DBN bound's log Z uncertainty, against exact
enumeration.

The references are written here from the definitions, in numpy: the joint table
``log p(v, h)`` of every hidden state of a tiny SBN (exact ``log p(v)``, exact posterior samples,
the exact single-site Gibbs kernels), and for a tiny DBN the exact ``log p(v)``, the exact bound
``B*`` (the top RBM's log Z enumerated) and the bound ``B_ann`` with the top RBM's log-marginal
replaced by its annealing model's (``annealing_model`` of test_likelihood, propagated exactly).
"""

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.special import log_expit, logsumexp

from test_likelihood import annealing_model

from layerwise.models import DBN, SigmoidBeliefNet
from layerwise.models.sbn_bdmc import SBNPosteriorPath
from layerwise.partition import LowESSWarning, ais_betas, ais_log_partition
from layerwise.sandwich import ISResult, SandwichBounds, sigmoid_betas

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def gen(seed):
    return torch.Generator().manual_seed(seed)


def states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def log_bern(x, logits):
    """sum_i log p(x_i | logits_i), numpy, over the last axis."""
    return (x * log_expit(logits) + (1 - x) * log_expit(-logits)).sum(-1)


# ---- a tiny SBN and its exact tables --------------------------------------------------------


def random_sbn(sizes, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    sbn = SigmoidBeliefNet(sizes, dtype=torch.float64)
    with torch.no_grad():
        for w in sbn.generative_weights:
            w.copy_(torch.from_numpy(rng.normal(0, scale, tuple(w.shape))))
        for b in (*sbn.generative_biases, sbn.top_bias):
            b.copy_(torch.from_numpy(rng.normal(0, 1, tuple(b.shape))))
    return sbn


def np_params(sbn):
    W = [w.detach().numpy() for w in sbn.generative_weights]
    b = [x.detach().numpy() for x in sbn.generative_biases]
    return W, b, sbn.top_bias.detach().numpy()


def hidden_table(sbn):
    """Every hidden state (S, n_1 + ... + n_L), split per layer, and log p(h) (S,)."""
    W, b, a = np_params(sbn)
    hs = states(sum(sbn.sizes[1:]))
    layers = np.split(hs, np.cumsum(sbn.sizes[1:-1]), axis=1)
    log_prior = log_bern(layers[-1], a)
    for k in range(1, len(W)):
        log_prior = log_prior + log_bern(layers[k - 1], layers[k] @ W[k].T + b[k])
    return hs, layers, log_prior


def log_lik_table(sbn, v):
    """log p(v | h^1) for every row of v and hidden state, (B, S)."""
    W, b, _ = np_params(sbn)
    _, layers, _ = hidden_table(sbn)
    return log_bern(v[:, None, :], (layers[0] @ W[0].T + b[0])[None])


def exact_log_p(sbn, v):
    _, _, log_prior = hidden_table(sbn)
    return logsumexp(log_prior[None] + log_lik_table(sbn, v), axis=1)


def posterior_samples(sbn, v_row, n, seed):
    """n exact samples of p(h | v) for one visible vector, as the list of layers."""
    hs, _, log_prior = hidden_table(sbn)
    lj = log_prior + log_lik_table(sbn, v_row[None])[0]
    idx = np.random.default_rng(seed).choice(len(hs), size=n, p=np.exp(lj - logsumexp(lj)))
    return [torch.from_numpy(h) for h in np.split(hs[idx], np.cumsum(sbn.sizes[1:-1]), axis=1)]


def simulate(sbn, n, seed):
    """Ancestral samples: v and the exact posterior samples h (the simulated hidden layers)."""
    layers = sbn.sample(n, return_all=True, generator=gen(seed))
    return layers[0], layers[1:]


# ---- BDMC: the weights, the kernels, the sandwich -------------------------------------------


@pytest.mark.parametrize("sizes", [[6, 3], [6, 3, 2]])
def test_forward_and_reverse_weights_are_unbiased(sizes):
    """E[w] = p(v) (forward AIS from the prior) and E[exp(-r)] = 1 / p(v) (reverse AIS from exact
    posterior samples), for any schedule, here 4 temperatures: within 4 standard errors."""
    sbn = random_sbn(sizes, seed=3)
    v, _ = simulate(sbn, 2, seed=0)
    n = 20000
    for i in range(2):
        log_p = exact_log_p(sbn, v[i:i + 1].numpy())[0]
        hidden = posterior_samples(sbn, v[i].numpy(), n, seed=i)  # independent exact samples
        b = sbn.log_likelihood_bounds(v[i:i + 1].expand(n, -1), n_runs=1, n_betas=4, hidden=hidden, generator=gen(i))
        w = b.lower_log_weights.reshape(-1).exp().numpy() / math.exp(log_p)
        assert abs(w.mean() - 1) < 4 * w.std() / math.sqrt(n)
        u = (-b.upper_log_weights.reshape(-1)).exp().numpy() * math.exp(log_p)
        assert abs(u.mean() - 1) < 4 * u.std() / math.sqrt(n)
        # and the test tells a short schedule from a long one: the weights vary
        assert w.std() > 0.05 and u.std() > 0.05


def test_the_sweep_and_its_reversal_are_the_exact_kernels():
    """The sequential Gibbs sweep of f_beta(h) = p(h) p(v | h^1)^beta is the product of the exact
    single-site kernels K_1 ... K_n, and ``reverse_transition`` is K_n ... K_1, the sweep's
    reversal: p(x) T(x, x') = p(x') T~(x', x). Checked state by state against 3,000 chains."""
    sbn = random_sbn([5, 3, 2], seed=1, scale=1.5)
    v = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    beta = 0.6
    hs, _, log_prior = hidden_table(sbn)
    log_f = log_prior + beta * log_lik_table(sbn, v.numpy())[0]
    n_states, n_units = hs.shape
    index = {tuple(h): s for s, h in enumerate(hs)}
    kernels = []
    for u in range(n_units):
        k = np.zeros((n_states, n_states))
        for s, h in enumerate(hs):
            on, off = h.copy(), h.copy()
            on[u], off[u] = 1.0, 0.0
            p_on = 1.0 / (1.0 + math.exp(log_f[index[tuple(off)]] - log_f[index[tuple(on)]]))
            k[s, index[tuple(on)]] += p_on
            k[s, index[tuple(off)]] += 1 - p_on
        kernels.append(k)
    sweep = np.linalg.multi_dot(kernels)
    reverse = np.linalg.multi_dot(kernels[::-1])
    p = np.exp(log_f - logsumexp(log_f))
    np.testing.assert_allclose(p[:, None] * sweep, (p[:, None] * reverse).T, atol=1e-12)  # T~ is T's reversal
    assert np.abs(sweep - reverse).max() > 0.05  # and a different kernel: the test tells them apart
    m = 3000
    params = ([w.detach() for w in sbn.generative_weights], [x.detach() for x in sbn.generative_biases],
              sbn.top_bias.detach())
    path = SBNPosteriorPath(params, v.expand(n_states * m, -1))
    start = torch.from_numpy(hs).repeat_interleave(m, 0)
    layers = list(start.split(sbn.sizes[1:], 1))
    for step, exact in ((path.transition, sweep), (path.reverse_transition, reverse)):
        out = torch.cat(step(layers, beta, gen(0)), 1).numpy()
        ends = np.array([index[tuple(h)] for h in out]).reshape(n_states, m)
        emp = np.stack([np.bincount(row, minlength=n_states) for row in ends]) / m
        np.testing.assert_array_less(np.abs(emp - exact), 5 * np.sqrt(exact * (1 - exact) / m) + 2e-3)
    assert torch.equal(torch.cat(layers, 1), start)  # the input state is left as it was


@pytest.mark.parametrize("sizes", [[8, 4], [8, 3, 3]])
def test_sandwich_holds_over_seeds_in_the_expected_fraction(sizes):
    """20 SBNs with strong weights, 50 simulated rows each, 2 chains per row, 5 temperatures.

    Each end is a bound in expectation (Jensen): ``E[lower] <= log p(v) <= E[upper]``. Averaged
    over 50 rows, each end's Jensen gap adds up while its noise averages out, so the mean over
    rows holds in (nearly) every seed: we require 90 % (measured 100 %). Row by row the noise is
    as large as the gap and an end can hold in fewer than half the rows (the log of a mean of
    two weights is often a little high, rarely far too low), so only Markov's inequality binds
    there: ``P(lower > log p(v) + t) <= exp(-t)`` and ``P(upper < log p(v) - t) <= exp(-t)``; with
    t = log 20 at most 10 % of the rows may miss by more (we require that, measured 0 %). The Markov
    interval ``interval(0.9)`` of the means must hold in at least 90 % of the seeds (it holds in all).
    """
    mean_ok, markov, covered = [], [], []
    for seed in range(20):
        sbn = random_sbn(sizes, seed, scale=2.5)
        v, hidden = simulate(sbn, 50, seed)
        log_p = exact_log_p(sbn, v.numpy())
        b = sbn.log_likelihood_bounds(v, n_runs=2, n_betas=5, hidden=hidden, generator=gen(seed))
        assert isinstance(b, SandwichBounds) and b.lower_rows.shape == b.upper_rows.shape == (50,)
        assert b.lower == pytest.approx(float(b.lower_rows.mean()))
        assert b.upper == pytest.approx(float(b.upper_rows.mean()))
        mean_ok.append(b.lower <= log_p.mean() <= b.upper)
        lo_90, hi_90 = b.interval(0.9)
        covered.append(lo_90 <= log_p.mean() <= hi_90 and hi_90 - lo_90 == pytest.approx(b.width + 2 * math.log(20)))
        lo, up = b.lower_rows.numpy(), b.upper_rows.numpy()
        markov.append(np.mean((lo > log_p + math.log(20)) | (up < log_p - math.log(20))))
    assert np.mean(mean_ok) >= 0.9, mean_ok
    assert np.mean(markov) <= 0.1
    assert np.mean(covered) >= 0.9


def test_sandwich_narrows_as_the_temperatures_grow():
    sbn = random_sbn([8, 3, 3], seed=5, scale=2.5)
    v, hidden = simulate(sbn, 200, seed=5)
    log_p = exact_log_p(sbn, v.numpy()).mean()
    widths = []
    for n_betas in (3, 10, 30, 300):
        b = sbn.log_likelihood_bounds(v, n_runs=4, n_betas=n_betas, hidden=hidden, generator=gen(0))
        widths.append(b.width)
        assert b.lower - 0.02 <= log_p <= b.upper + 0.02
    assert widths[0] > widths[1] > widths[2] and widths[2] < widths[0] / 5, widths  # measured 0.62, 0.27, 0.066
    assert abs(widths[3]) < 0.05, widths  # then the runs' noise, about 0.01


def test_real_data_gets_the_lower_end_alone():
    sbn = random_sbn([8, 3, 3], seed=2)
    v, hidden = simulate(sbn, 6, seed=2)
    both = sbn.log_likelihood_bounds(v, n_runs=3, n_betas=20, hidden=hidden, generator=gen(7))
    lower = sbn.log_likelihood_bounds(v, n_runs=3, n_betas=20, generator=gen(7))
    assert lower.upper == math.inf and lower.upper_rows is None and lower.upper_ess is None
    assert lower.width == math.inf and not lower.crossed
    torch.testing.assert_close(lower.lower_rows, both.lower_rows, rtol=0, atol=0)  # forward runs first: the same
    lo, hi = both
    assert (lo, hi) == (both.lower, both.upper) and "nats" in str(both)
    ess = both.lower_ess
    assert ess.shape == (6,) and bool(((ess >= 1 - 1e-9) & (ess <= 3 + 1e-9)).all())
    # chunked rows give the same numbers as one chunk
    chunked = sbn.log_likelihood_bounds(v, n_runs=3, n_betas=20, hidden=hidden, generator=gen(7), batch_size=6)
    torch.testing.assert_close(chunked.upper_rows, both.upper_rows, rtol=0, atol=0)


def test_sandwich_bad_arguments():
    sbn = random_sbn([6, 3, 2], seed=0)
    v, hidden = simulate(sbn, 4, seed=0)
    with pytest.raises(ValueError, match="hidden"):
        sbn.log_likelihood_bounds(v, hidden=hidden[:1])
    with pytest.raises(ValueError, match=r"hidden\[0\].*4 rows"):
        sbn.log_likelihood_bounds(v, hidden=[hidden[0][:3], hidden[1]])
    with pytest.raises(ValueError, match=r"hidden\[1\].*binary"):
        sbn.log_likelihood_bounds(v, hidden=[hidden[0], hidden[1] * 0.5])
    with pytest.raises(ValueError, match="betas"):
        sbn.log_likelihood_bounds(v, betas=[0.0, 0.5])
    with pytest.raises(ValueError, match="n_runs"):
        sbn.log_likelihood_bounds(v, n_runs=0)
    with pytest.raises(ValueError, match="binary"):
        sbn.log_likelihood_bounds(v * 0.5)


def test_sigmoid_betas():
    b = sigmoid_betas(101)
    assert b.dtype == torch.float64 and b[0] == 0.0 and b[-1] == 1.0 and bool((b[1:] > b[:-1]).all())
    torch.testing.assert_close(b + b.flip(0), torch.ones_like(b))  # symmetric about 1/2
    steps = torch.diff(b)
    assert steps[0] < steps[50] / 5  # dense at the ends
    torch.testing.assert_close(sigmoid_betas(11, scale=1e-6), torch.linspace(0, 1, 11, dtype=torch.float64))
    with pytest.raises(ValueError, match="n_betas"):
        sigmoid_betas(1)


# ---- importance sampling with its effective sample size -------------------------------------


def exact_recognition_sbn(seed=0):
    """A one-layer SBN whose posterior is factorial (each visible unit has one parent) and a
    recognition net equal to it: q(h_j = 1 | v) = sigm(a_j + sum_{i in ch(j)} [v_i W_ij +
    softplus(b_i) - softplus(W_ij + b_i)])."""
    rng = np.random.default_rng(seed)
    n_v, n_h = 9, 3
    parent = np.arange(n_v) % n_h
    w = np.zeros((n_v, n_h))
    w[np.arange(n_v), parent] = rng.normal(0, 3, n_v)
    b, a = rng.normal(0, 1, n_v), rng.normal(0, 1, n_h)
    sbn = SigmoidBeliefNet([n_v, n_h], dtype=torch.float64)
    soft = np.logaddexp(0, b)[:, None] - np.logaddexp(0, w + b[:, None])  # (n_v, n_h), 0 off the parent
    soft[w == 0] = 0.0
    with torch.no_grad():
        sbn.generative_weights[0].copy_(torch.from_numpy(w))
        sbn.generative_biases[0].copy_(torch.from_numpy(b))
        sbn.top_bias.copy_(torch.from_numpy(a))
        sbn.recognition_weights[0].copy_(torch.from_numpy(w.T))
        sbn.recognition_biases[0].copy_(torch.from_numpy(a + soft.sum(0)))
    return sbn


def test_importance_sampling_ess_is_n_for_the_exact_posterior():
    sbn = exact_recognition_sbn()
    v, _ = simulate(sbn, 8, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowESSWarning)
        res = sbn.log_likelihood(v, method="is", n_samples=50, generator=gen(0), return_details=True)
    assert isinstance(res, ISResult) and res.log_weights.shape == (8, 50)
    log_p = exact_log_p(sbn, v.numpy())
    # every weight p(v, h) / q(h | v) is p(v) itself
    np.testing.assert_allclose(res.log_weights.numpy(), np.repeat(log_p[:, None], 50, 1), atol=1e-10)
    np.testing.assert_allclose(res.effective_sample_size.numpy(), 50.0, rtol=1e-9)
    assert not bool(res.low_ess.any()) and res.mean == pytest.approx(log_p.mean())
    plain = sbn.log_likelihood(v, method="is", n_samples=50, generator=gen(0))
    torch.testing.assert_close(plain, res.log_likelihood, rtol=0, atol=0)


def test_importance_sampling_flags_a_bad_proposal():
    sbn = exact_recognition_sbn()
    v, _ = simulate(sbn, 8, seed=1)
    with torch.no_grad():  # a confident, wrong proposal: q(h_j = 1 | v) = sigm(-+6) against the posterior
        sbn.recognition_weights[0].zero_()
        sbn.recognition_biases[0].copy_(torch.tensor([6.0, -6.0, 6.0], dtype=torch.float64))
    with pytest.warns(LowESSWarning, match="effective sample size is under 10"):
        res = sbn.log_likelihood(v, method="is", n_samples=200, generator=gen(0), return_details=True)
    ess = res.effective_sample_size
    assert bool((ess >= 1 - 1e-9).all()) and float(ess.median()) < 10 and bool(res.low_ess.any())
    assert res.mean < exact_log_p(sbn, v.numpy()).mean() - 0.5  # mostly the Jensen gap
    with warnings.catch_warnings():  # fewer samples than 10: ESS < 10 by construction, no warning
        warnings.simplefilter("error", LowESSWarning)
        sbn.log_likelihood(v, method="is", n_samples=5, generator=gen(0))
    with pytest.raises(ValueError, match="return_details=True needs method='is'"):
        sbn.log_likelihood(v, return_details=True)


# ---- the DBN bound: both ends of the log Z uncertainty ------------------------------------


def random_dbn(seed, sizes=(8, 5, 4), scale=2.5):
    rng = np.random.default_rng(seed)
    dbn = DBN(list(sizes), dtype=torch.float64)
    with torch.no_grad():
        for r in dbn.rbms:
            r.weight.copy_(torch.from_numpy(rng.normal(0, scale, tuple(r.weight.shape))))
            r.visible_bias.copy_(torch.from_numpy(rng.normal(0, 1, r.n_visible)))
            r.hidden_bias.copy_(torch.from_numpy(rng.normal(0, 1, r.n_hidden)))
    return dbn


def dbn_exact(dbn, n, seed, n_betas=None):
    """n samples of a two-layer DBN, their exact log p(v), the exact bound B* (log Z enumerated),
    the bound B_ann with log p_ann of the top RBM's annealing model (``n_betas`` temperatures,
    base model its own visible biases) in place of log p_top, and the exact log Z."""
    r0, top = dbn.rbms
    w0, b0, c0 = (p.detach().numpy() for p in (r0.weight, r0.visible_bias, r0.hidden_bias))
    wt, bt, ct = (p.detach().numpy() for p in (top.weight, top.visible_bias, top.hidden_bias))
    h1s, h2s = states(top.n_visible), states(top.n_hidden)
    neg_e = (h1s @ bt)[:, None] + (h2s @ ct)[None, :] + h1s @ wt.T @ h2s.T
    log_z = logsumexp(neg_e)
    log_top = logsumexp(neg_e, 1) - log_z  # log p_top(h1)
    rng = np.random.default_rng(seed)
    h = h1s[rng.choice(len(h1s), size=n, p=np.exp(log_top))]
    v = (rng.random((n, r0.n_visible)) < 1 / (1 + np.exp(-(h @ w0 + b0)))).astype(float)
    log_pv_h = log_bern(v[:, None, :], (h1s @ w0 + b0)[None])  # (n, H)
    log_p = logsumexp(log_pv_h + log_top[None], 1)
    a = v @ w0.T + c0
    q = np.exp(log_bern(h1s[None], a[:, None, :]))  # Q(h1 | v), (n, H)
    entropy = -(q * np.log(q)).sum(1)
    b_star = (q * (log_pv_h + log_top[None])).sum(1) + entropy
    b_ann = None
    if n_betas is not None:
        p_ann = annealing_model(top, ais_betas(n_betas).numpy(), bt)
        b_ann = (q * (log_pv_h + np.log(p_ann)[None])).sum(1) + entropy
    return torch.from_numpy(v), log_p, b_star, b_ann, log_z


def test_dbn_interval_identities():
    """With every layer enumerated: B* <= log p(v) row by row (the gap is a KL divergence), the
    upper end is B* + log Z - log Z_hat exactly, the library's exact bound is B*, and the lower end
    is lower_bound(top="raise") on the same RAISE draws."""
    dbn = random_dbn(0)
    v, log_p, b_star, _, log_z = dbn_exact(dbn, 12, seed=0)
    assert np.all(b_star <= log_p + 1e-12) and np.mean(log_p - b_star) > 0.1
    np.testing.assert_allclose(dbn.lower_bound(v, exact=True).numpy(), b_star, atol=1e-10)
    opts = {"n_runs": 3, "n_betas": 20}
    iv = dbn.lower_bound_interval(v, exact=True, log_z=log_z - 0.7, raise_options={**opts, "generator": gen(1)})
    assert isinstance(iv, SandwichBounds) and iv.details["log_z"] == log_z - 0.7
    np.testing.assert_allclose(iv.upper_rows.numpy(), b_star + 0.7, atol=1e-10)
    alone = dbn.lower_bound(v, exact=True, top="raise", raise_options={**opts, "generator": gen(1)})
    torch.testing.assert_close(iv.lower_rows, alone, rtol=0, atol=0)
    with pytest.raises(ValueError, match="top='raise'.*log_z"):
        dbn.lower_bound(v, log_z=1.0, top="raise")
    with pytest.raises(ValueError, match="top"):
        dbn.lower_bound(v, top="ais")


def test_dbn_interval_uses_the_same_samples_at_both_ends():
    """A top RBM without weights makes RAISE exact (every f_k is the model up to a constant), so
    with the exact log Z both ends agree row by row, to rounding, only if the Monte Carlo draws of
    h^1 are the same at both ends."""
    dbn = random_dbn(1, sizes=(8, 6, 5))
    with torch.no_grad():
        dbn.rbms[1].weight.zero_()
    v, _, _, _, log_z = dbn_exact(dbn, 10, seed=1)
    iv = dbn.lower_bound_interval(v, n_samples=3, exact=False, log_z=log_z, raise_options={"n_runs": 2, "n_betas": 5},
                                  generator=gen(3))
    torch.testing.assert_close(iv.lower_rows, iv.upper_rows, rtol=0, atol=1e-9)
    other = dbn.lower_bound(v, log_z=log_z, n_samples=3, exact=False, generator=gen(4))
    assert not torch.allclose(other.double(), iv.upper_rows)  # different draws differ: the test can fail


def test_dbn_interval_ends_over_seeds_in_the_expected_fraction():
    """40 tiny DBNs, one AIS run and one RAISE chain per state with 3 temperatures (large Jensen gaps).

    The true ordering: ``E[lower] <= B_ann`` (RAISE is a stochastic lower bound on the annealing
    model's log p_ann, exactly) and ``E[upper] >= B*`` (``upper = B* + log Z - log Z_hat`` and
    ``E[log Z_hat] <= log Z``), with ``B* <= log p(v)`` surely. ``B_ann`` is not below ``B*`` in
    general: the up-pass states of a random DBN are atypical for its top RBM, and the smoother
    ``p_ann`` of a short schedule can give them more mass (here it does, in most seeds); it tends
    to ``B*`` as the schedule lengthens (next test). RAISE's gap sums over the states, so its end
    holds in 85 % of the seeds (measured 95 %); AIS's single log Z in 60 % (measured 72 %).
    """
    lower, upper = [], []
    for seed in range(40):
        dbn = random_dbn(seed)
        v, _, b_star, b_ann, _ = dbn_exact(dbn, 30, seed, n_betas=3)
        ais = ais_log_partition(dbn.rbms[1], n_runs=1, n_betas=3, generator=gen(seed), floor_check="off")
        iv = dbn.lower_bound_interval(v, exact=True, log_z=ais, raise_options={"n_runs": 1, "n_betas": 3},
                                      generator=gen(seed))
        lower.append(iv.lower - b_ann.mean())
        upper.append(iv.upper - b_star.mean())
    lower, upper = np.array(lower), np.array(upper)
    assert lower.mean() < -0.5 and upper.mean() > 0.5, (lower.mean(), upper.mean())
    assert np.mean(lower <= 0) >= 0.85 and np.mean(upper >= 0) >= 0.6, (np.mean(lower <= 0), np.mean(upper >= 0))


def test_dbn_interval_closes_as_the_schedule_lengthens():
    """Both ends tend to B*: the RAISE end's distance to B* falls with the temperatures, as does
    B_ann's (the annealing model tends to the top RBM)."""
    dbn = random_dbn(2)
    gaps, ann = [], []
    for n_betas in (3, 30, 300):
        v, _, b_star, b_ann, log_z = dbn_exact(dbn, 20, seed=2, n_betas=n_betas)
        iv = dbn.lower_bound_interval(v, exact=True, raise_options={"n_runs": 20, "n_betas": n_betas},
                                      generator=gen(0))
        np.testing.assert_allclose(iv.upper_rows.numpy(), b_star, atol=1e-10)  # exact log Z: tiny top RBM
        gaps.append(abs(iv.lower - b_star.mean()))
        ann.append(abs(b_ann.mean() - b_star.mean()))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.05, gaps
    assert ann[0] > ann[1] > ann[2], ann
