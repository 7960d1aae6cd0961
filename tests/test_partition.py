"""layerwise.partition (and the RBM's formulas) against independent references.

The references are written here from the definitions, in numpy: the joint table of
exp(-E(v, h)) over every (v, h) of a small RBM (E = -b.v - c.h - h^T W v), numerical
integration over Gaussian visible units (scipy), and scikit-learn's score_samples.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import logsumexp
from sklearn.datasets import load_digits
from sklearn.neural_network import BernoulliRBM

from _models import random_rbm

from layerwise.models.rbm import RBM
from layerwise.partition import (
    AISResult,
    ais_betas,
    ais_log_partition,
    exact_log_partition,
    log_likelihood,
    log_partition,
    pseudo_log_likelihood,
)
from layerwise.training import fit

STATES = {"bernoulli": (0.0, 1.0), "spin": (-1.0, 1.0)}
COMBOS = [("bernoulli", "bernoulli"), ("spin", "bernoulli"), ("bernoulli", "spin"), ("spin", "spin")]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

def params(rbm):
    return (rbm.weight.detach().numpy().copy(), rbm.visible_bias.detach().numpy().copy(),
            rbm.hidden_bias.detach().numpy().copy())


def brute_force(rbm):
    """Every visible and hidden state and the table -E(v, h), shape (2^nv, 2^nh)."""
    w, b, c = params(rbm)
    vs = np.array(list(itertools.product(STATES[rbm.visible.name], repeat=rbm.n_visible)))
    hs = np.array(list(itertools.product(STATES[rbm.hidden.name], repeat=rbm.n_hidden)))
    neg_e = (vs @ b)[:, None] + (hs @ c)[None, :] + np.einsum("hj,ji,vi->vh", hs, w, vs)
    return vs, hs, neg_e


def brute_log_pv(rbm):
    vs, hs, neg_e = brute_force(rbm)
    return vs, logsumexp(neg_e, axis=1) - logsumexp(neg_e)


# ---- the RBM's formulas and exact log Z against the joint table ------------------------------


@pytest.mark.parametrize("visible,hidden", COMBOS)
@pytest.mark.parametrize("shape", [(5, 4), (4, 5)])
def test_rbm_formulas_and_exact_log_z_match_brute_force(visible, hidden, shape):
    rbm = random_rbm(*shape, visible, hidden, seed=1)
    vs, hs, neg_e = brute_force(rbm)
    tv, th = torch.from_numpy(vs), torch.from_numpy(hs)

    # energy of every pair
    pairs_v = tv.repeat_interleave(len(hs), 0)
    pairs_h = th.repeat(len(vs), 1)
    energy = rbm.energy(pairs_v, pairs_h).detach().numpy().reshape(len(vs), len(hs))
    np.testing.assert_allclose(energy, -neg_e, rtol=1e-12, atol=1e-12)

    # free energy F(v) = -log sum_h exp(-E)
    np.testing.assert_allclose(rbm.free_energy(tv).detach().numpy(), -logsumexp(neg_e, axis=1), atol=1e-10)

    # conditionals by Bayes' rule from the joint table
    p_h_given_v = np.exp(neg_e - logsumexp(neg_e, axis=1, keepdims=True))  # (V, H)
    np.testing.assert_allclose(rbm.hidden_probs(tv).detach().numpy(), p_h_given_v @ hs, atol=1e-10)
    p_v_given_h = np.exp(neg_e - logsumexp(neg_e, axis=0, keepdims=True))  # (V, H)
    np.testing.assert_allclose(rbm.visible_mean(th).detach().numpy(), p_v_given_h.T @ vs, atol=1e-10)
    if hidden == "bernoulli":  # the mean is then p(h_j = 1 | v)
        np.testing.assert_allclose(rbm.hidden_probs(tv).detach().numpy(), p_h_given_v @ (hs == 1), atol=1e-10)

    # log Z, summed over either layer (the default picks the smaller)
    log_z = logsumexp(neg_e)
    assert exact_log_partition(rbm) == pytest.approx(log_z, abs=1e-10)
    assert exact_log_partition(rbm, over="hidden") == pytest.approx(log_z, abs=1e-10)
    assert exact_log_partition(rbm, over="visible") == pytest.approx(log_z, abs=1e-10)
    assert exact_log_partition(rbm, batch_states=3) == pytest.approx(log_z, abs=1e-10)  # ragged batches
    assert rbm.log_partition() == pytest.approx(log_z, abs=1e-10)


def test_exact_log_z_float32_model_is_summed_in_float64():
    rbm = random_rbm(6, 5, seed=2)
    ref = logsumexp(brute_force(rbm)[2])
    rbm32 = rbm.to(torch.float32)
    assert exact_log_partition(rbm32) == pytest.approx(ref, abs=1e-5)
    assert rbm32.weight.dtype == torch.float32  # the model is not converted in place


# ---- Gaussian visible units ------------------------------------------------------------------


def gaussian_rbm(seed=3, n_visible=2, n_hidden=3):
    rbm = random_rbm(n_visible, n_hidden, "gaussian", seed=seed, scale=0.6)
    with torch.no_grad():
        rbm.log_sigma.copy_(torch.log(torch.linspace(0.7, 1.5, n_visible, dtype=torch.float64)))
    return rbm


def test_gaussian_exact_log_z_matches_numerical_integration():
    rbm = gaussian_rbm()
    w, b, c = params(rbm)
    s = rbm.sigma.detach().numpy()
    hs = np.array(list(itertools.product((0.0, 1.0), repeat=rbm.n_hidden)))

    def density(v1, v0):  # sum_h exp(-E(v, h)), E = sum (v-b)^2/(2 s^2) - (v/s)^T W^T h - c^T h
        v = np.array([v0, v1])
        neg_e = -(((v - b) / s) ** 2).sum() / 2 + hs @ (w @ (v / s)) + hs @ c
        return np.exp(neg_e).sum()

    reach = np.abs(w).sum(0) * s + 12 * s
    lo, hi = b - reach, b + reach
    z, _ = integrate.dblquad(density, lo[0], hi[0], lo[1], hi[1], epsabs=1e-11, epsrel=1e-10)
    assert exact_log_partition(rbm) == pytest.approx(math.log(z), abs=1e-6)

    # and the free energy (the hidden sum) at a few points
    v = np.array([[0.3, -1.2], [2.0, 0.5]])
    ref = [-math.log(density(row[1], row[0])) for row in v]
    np.testing.assert_allclose(rbm.free_energy(torch.from_numpy(v)).detach().numpy(), ref, atol=1e-10)


def test_gaussian_conditional_mean_and_variance():
    rbm = gaussian_rbm(n_visible=3, n_hidden=4)
    w, b, _ = params(rbm)
    s = rbm.sigma.detach().numpy()
    h = np.array([1.0, 0.0, 1.0, 1.0])
    mean = b + s * (w.T @ h)
    th = torch.from_numpy(h).unsqueeze(0)
    np.testing.assert_allclose(rbm.visible_mean(th)[0].detach().numpy(), mean, atol=1e-12)
    torch.manual_seed(0)
    n = 200_000
    v = rbm.sample_visible(th.expand(n, -1)).detach().numpy()
    np.testing.assert_allclose(v.mean(0), mean, atol=4 * s.max() / math.sqrt(n))
    np.testing.assert_allclose(v.var(0), s**2, rtol=0.02)


def test_gaussian_sums_over_hidden_whatever_the_sizes():
    rbm = gaussian_rbm(n_visible=40, n_hidden=3)
    w, b, c = params(rbm)
    s = rbm.sigma.detach().numpy()
    hs = np.array(list(itertools.product((0.0, 1.0), repeat=3)))
    u = hs @ w  # (8, nv): the per-h Gaussian integral, written directly
    terms = hs @ c + (b * u / s + u**2 / 2).sum(1) + np.log(np.sqrt(2 * np.pi) * s).sum()
    assert exact_log_partition(rbm) == pytest.approx(logsumexp(terms), abs=1e-9)
    with pytest.raises(ValueError, match="over='hidden'"):
        exact_log_partition(rbm, over="visible")
    with pytest.raises(ValueError, match=r"2\^26 = 67108864 hidden states.*ais"):
        exact_log_partition(gaussian_rbm(n_visible=2, n_hidden=26))


def test_exact_refuses_too_many_states():
    rbm = RBM(30, 30)
    with pytest.raises(ValueError, match=r"2\^30 = 1073741824 .*max_states=33554432.*method='ais'"):
        exact_log_partition(rbm)
    with pytest.raises(ValueError, match="ais"):
        rbm.log_partition()
    with pytest.raises(ValueError, match=r"2\^6"):
        exact_log_partition(RBM(6, 8), max_states=32)


# ---- AIS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_rbm():
    x = torch.tensor(load_digits().data / 16.0 > 0.5, dtype=torch.float32)
    torch.manual_seed(0)
    rbm = RBM(64, 20)
    rbm.init_visible_bias(x)
    fit(rbm, x, epochs=10, batch_size=32, lr=0.05, momentum=0.5, progress=False, device="cpu")
    return rbm, x


@pytest.mark.parametrize("base", ["data", "rbm"])
def test_ais_matches_exact_on_trained_digits_rbm(digits_rbm, base):
    rbm, x = digits_rbm
    assert rbm.weight.abs().max() > 0.5  # really trained, far from the base model
    exact = exact_log_partition(rbm)  # 2^20 hidden states
    res = ais_log_partition(rbm, n_runs=100, n_betas=3000, data=x if base == "data" else None,
                            generator=torch.Generator().manual_seed(0))
    assert isinstance(res, AISResult)
    assert res.lower <= exact <= res.upper
    assert abs(res.log_z - exact) < 0.5
    assert res.log_weights.shape == (100,) and res.log_weights.dtype == torch.float64
    assert res.log_z == pytest.approx(float(torch.logsumexp(res.log_weights, 0)) - math.log(100))
    assert 1 <= res.effective_sample_size <= 100
    # log-likelihood of the data with either log Z agrees to the same tolerance
    ll_exact = log_likelihood(rbm, x[:100], log_z=exact)
    ll_ais = log_likelihood(rbm, x[:100], log_z=res)
    assert torch.allclose(ll_exact - ll_ais, torch.full_like(ll_exact, res.log_z - exact))


def test_ais_is_exact_without_weights():
    rbm = random_rbm(64, 20, seed=4)
    with torch.no_grad():
        rbm.weight.zero_()
    exact = exact_log_partition(rbm)
    est = ais_log_partition(rbm, n_runs=10, n_betas=200, generator=torch.Generator().manual_seed(0))
    assert est.log_z == pytest.approx(exact, abs=1e-9)
    assert est.lower == pytest.approx(exact, abs=1e-9) and est.upper == pytest.approx(exact, abs=1e-9)
    untrained = RBM(64, 20)  # W ~ N(0, 0.01^2)
    with torch.no_grad():
        untrained.visible_bias.normal_()
    est = untrained.log_partition(method="ais", n_runs=50, n_betas=500, generator=torch.Generator().manual_seed(0))
    assert isinstance(est, float)
    assert est == pytest.approx(exact_log_partition(untrained), abs=1e-3)


@pytest.mark.parametrize("visible,hidden", [("spin", "bernoulli"), ("bernoulli", "spin"), ("gaussian", "bernoulli")])
def test_ais_other_units(visible, hidden):
    rbm = random_rbm(12, 8, visible, hidden, seed=5, scale=0.3)
    gen = torch.Generator().manual_seed(1)
    data = rbm.sample(200, steps=50) if visible == "gaussian" else None
    res = ais_log_partition(rbm, n_runs=100, n_betas=1500, data=data, generator=gen)
    exact = exact_log_partition(rbm)
    assert res.lower <= exact <= res.upper
    assert abs(res.log_z - exact) < 0.05


def test_ais_is_reproducible_and_takes_a_schedule():
    rbm = random_rbm(10, 6, seed=6, scale=0.5)
    a = ais_log_partition(rbm, n_runs=20, n_betas=300, generator=torch.Generator().manual_seed(3))
    b = ais_log_partition(rbm, n_runs=20, n_betas=300, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.log_weights, b.log_weights)
    c = ais_log_partition(rbm, n_runs=20, betas=torch.linspace(0, 1, 300, dtype=torch.float64),
                          generator=torch.Generator().manual_seed(3))
    assert c.log_z == pytest.approx(a.log_z, abs=1e-12)
    one = ais_log_partition(rbm, n_runs=1, n_betas=50)
    assert one.lower == -math.inf and one.upper == math.inf


def test_ais_betas_follow_the_paper():
    betas = ais_betas(14501).numpy()
    steps = np.diff(betas)
    assert betas[0] == 0 and betas[-1] == 1 and len(betas) == 14501
    np.testing.assert_allclose(steps[:500], 1e-3)
    np.testing.assert_allclose(steps[500:4500], 1e-4)
    np.testing.assert_allclose(steps[4500:], 1e-5)
    np.testing.assert_allclose(ais_betas(11).numpy(), np.linspace(0, 1, 11))
    assert len(ais_betas(10000)) == 10000 and np.all(np.diff(ais_betas(10000).numpy()) > 0)


# ---- likelihoods -----------------------------------------------------------------------------


@pytest.mark.parametrize("visible,hidden", COMBOS)
def test_log_likelihood_normalises(visible, hidden):
    rbm = random_rbm(5, 4, visible, hidden, seed=7)
    vs, ref = brute_log_pv(rbm)
    ll = log_likelihood(rbm, torch.from_numpy(vs))
    assert ll.shape == (len(vs),) and ll.dtype == torch.float64
    np.testing.assert_allclose(ll.detach().numpy(), ref, atol=1e-10)
    assert float(torch.logsumexp(ll.detach(), 0)) == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(rbm.log_likelihood(torch.from_numpy(vs)).detach().numpy(), ref, atol=1e-10)


def brute_pll_terms(rbm):
    """log p(v_i | v_-i) for every v and i, from the joint table: shape (2^nv, nv)."""
    vs, log_pv = brute_log_pv(rbm)
    lo, hi = STATES[rbm.visible.name]
    index = {tuple(v): k for k, v in enumerate(vs)}
    terms = np.empty(vs.shape)
    for k, v in enumerate(vs):
        for i in range(len(v)):
            f = v.copy()
            f[i] = lo + hi - f[i]
            other = log_pv[index[tuple(f)]]
            terms[k, i] = log_pv[k] - np.logaddexp(log_pv[k], other)
    return vs, terms


@pytest.mark.parametrize("visible,hidden", COMBOS)
def test_pseudo_log_likelihood_matches_brute_force(visible, hidden):
    rbm = random_rbm(5, 4, visible, hidden, seed=8)
    vs, terms = brute_pll_terms(rbm)
    tv = torch.from_numpy(vs)
    pll = pseudo_log_likelihood(rbm, tv)
    np.testing.assert_allclose(pll.detach().numpy(), terms.sum(1), atol=1e-10)
    np.testing.assert_allclose(rbm.pseudo_log_likelihood(tv).detach().numpy(), terms.sum(1), atol=1e-10)

    # the one-random-bit estimate averages to the exact value
    reps = 4000
    est = pseudo_log_likelihood(rbm, tv.repeat(reps, 1), exact=False, generator=torch.Generator().manual_seed(0))
    mean = est.view(reps, len(vs)).mean(0).detach().numpy()
    se = (rbm.n_visible * terms).std(1) / math.sqrt(reps)
    assert np.all(np.abs(mean - terms.sum(1)) <= 4 * se + 1e-9)


def test_pseudo_log_likelihood_chunks_and_autograd():
    """A layer wide enough to be split into chunks of bits, against explicit flipped free energies."""
    rbm = random_rbm(300, 50, seed=9, scale=0.1)
    gen = torch.Generator().manual_seed(0)
    v = torch.bernoulli(torch.full((400, 300), 0.3, dtype=torch.float64), generator=gen)  # chunks of 209 bits
    with torch.no_grad():
        f0 = rbm.free_energy(v)
        ref = torch.zeros(400, dtype=torch.float64)
        for i in range(300):
            f = v.clone()
            f[:, i] = 1 - f[:, i]
            ref += torch.nn.functional.logsigmoid(rbm.free_energy(f) - f0)
    pll = pseudo_log_likelihood(rbm, v)
    torch.testing.assert_close(pll.detach(), ref)
    pll.sum().backward()
    assert rbm.weight.grad is not None and torch.isfinite(rbm.weight.grad).all()


def test_pseudo_log_likelihood_sign_agrees_with_sklearn():
    """With one visible unit the random bit is always unit 0: sklearn's score is deterministic."""
    rbm = random_rbm(1, 3, seed=10)
    w, b, c = params(rbm)
    sk = BernoulliRBM(n_components=3)
    sk.components_, sk.intercept_hidden_, sk.intercept_visible_ = w, c, b
    sk.n_features_in_ = 1
    sk.h_samples_ = np.zeros((1, 3))
    v = np.array([[0.0], [1.0]])
    ours = pseudo_log_likelihood(rbm, torch.from_numpy(v), exact=False).detach().numpy()
    np.testing.assert_allclose(ours, sk.score_samples(v), atol=1e-12)
    np.testing.assert_allclose(ours, brute_log_pv(rbm)[1], atol=1e-10)  # = log p(v) here


# ---- errors ----------------------------------------------------------------------------------


def test_errors():
    rbm = random_rbm(5, 4, seed=11)
    with pytest.raises(ValueError, match=r"'method' parameter must be one of \{'exact', 'ais'\}. Got 'bogus'"):
        log_partition(rbm, method="bogus")
    with pytest.raises(ValueError, match="'n_runs' parameter .* Got 0 instead"):
        ais_log_partition(rbm, n_runs=0)
    with pytest.raises(ValueError, match="'n_betas' parameter .* Got 1 instead"):
        ais_log_partition(rbm, n_betas=1)
    with pytest.raises(ValueError, match="'betas' must increase from 0 to 1"):
        ais_log_partition(rbm, betas=[0.0, 0.5, 0.9])
    with pytest.raises(ValueError, match="at most one of"):
        ais_log_partition(rbm, data=torch.ones(3, 5), base_visible_bias=torch.zeros(5))
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        ais_log_partition(rbm, base_visible_bias=torch.zeros(4))
    with pytest.raises(TypeError, match="ais_log_partition"):
        log_partition(rbm, method="ais", return_bounds=True)
    with pytest.raises(TypeError, match="only used to compute log Z"):
        log_likelihood(rbm, torch.ones(2, 5), log_z=1.0, n_runs=10)
    with pytest.raises(ValueError, match="features"):
        log_likelihood(rbm, torch.ones(2, 6))
    with pytest.raises(ValueError, match="binary visible units"):
        pseudo_log_likelihood(gaussian_rbm(), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="over"):
        exact_log_partition(rbm, over="both")


# ---- device ----------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    rbm = random_rbm(16, 12, seed=12, scale=0.5)
    exact = exact_log_partition(rbm)
    gpu = rbm.to("cuda")
    assert exact_log_partition(gpu) == pytest.approx(exact, abs=1e-9)
    res = ais_log_partition(gpu, n_runs=200, n_betas=2000, generator=torch.Generator("cuda").manual_seed(0))
    assert res.lower <= exact <= res.upper and abs(res.log_z - exact) < 0.05
    v = torch.bernoulli(torch.full((8, 16), 0.5, dtype=torch.float64, device="cuda"))
    assert pseudo_log_likelihood(gpu, v).device.type == "cuda"
    assert log_likelihood(gpu, v, log_z=exact).device.type == "cuda"
    g32 = RBM(16, 12, device="cuda")
    g32.load_state_dict({k: t.float() for k, t in gpu.state_dict().items()})
    assert exact_log_partition(g32) == pytest.approx(exact, abs=1e-4)


# ---- the AIS core: anneal over the AnnealingPath protocol ------------------------------------------

from layerwise.partition import (  # noqa: E402
    CHUNK_ELEMENTS,
    MAX_ENUMERATED_UNITS,
    AnnealingPath,
    RBMPath,
    anneal,
    check_betas,
)


class IndependentUnits(AnnealingPath):
    """p*_beta(x) = exp(beta theta.x) over n independent Bernoulli units: Z_beta = prod_i (1 + e^{beta theta_i}),
    the transition an exact sample of p_beta. Records the calls."""

    def __init__(self, theta):
        self.theta, self.device = theta, theta.device
        self.log_base_z = len(theta) * math.log(2.0)
        self.calls = []

    def sample_base(self, n_runs, generator):
        self.calls.append(("base", n_runs))
        return (torch.rand(n_runs, len(self.theta), generator=generator, dtype=torch.float64) < 0.5).double()

    def log_unnormalised(self, x, beta):
        return beta * (x @ self.theta)

    def log_weight(self, x, beta_prev, beta):
        self.calls.append(("weight", beta_prev, beta))
        return super().log_weight(x, beta_prev, beta)

    def transition(self, x, beta, generator):
        self.calls.append(("step", beta))
        p = torch.sigmoid(beta * self.theta).expand(x.shape[0], -1)
        return (torch.rand(x.shape, generator=generator, dtype=torch.float64) < p).double()


def test_anneal_runs_the_protocol_in_order():
    path = IndependentUnits(torch.tensor([0.3, -1.0], dtype=torch.float64))
    res = anneal(path, torch.tensor([0.0, 0.5, 0.5, 1.0], dtype=torch.float64), 4)
    assert path.calls == [("base", 4), ("weight", 0.0, 0.5), ("step", 0.5), ("step", 0.5), ("weight", 0.5, 1.0)]
    assert res.log_weights.shape == (4,) and res.log_weights.dtype == torch.float64


def test_anneal_estimates_a_known_log_z():
    theta = torch.tensor([2.0, -1.0, 0.5, 3.0, -2.5], dtype=torch.float64)
    exact = float(torch.nn.functional.softplus(theta).sum())
    res = anneal(IndependentUnits(theta), ais_betas(200), 500, torch.Generator().manual_seed(0))
    assert res.lower <= exact <= res.upper
    assert res.log_z == pytest.approx(exact, abs=0.02)
    # one step from the base: plain importance sampling, still unbiased for Z
    one = anneal(IndependentUnits(theta), torch.tensor([0.0, 1.0], dtype=torch.float64), 20000,
                 torch.Generator().manual_seed(1))
    assert one.log_z == pytest.approx(exact, abs=0.1)


@pytest.mark.parametrize("visible,hidden", [("bernoulli", "bernoulli"), ("spin", "spin"), ("gaussian", "bernoulli")])
def test_rbm_path_weights_are_differences_of_its_unnormalised_log_probabilities(visible, hidden):
    rbm = random_rbm(5, 4, visible, hidden, seed=7, scale=0.5)
    b_a = torch.linspace(-1, 1, 5, dtype=torch.float64)
    path = RBMPath(rbm, b_a)
    state = path.sample_base(6, torch.Generator().manual_seed(0))
    v, a = state
    torch.testing.assert_close(a, rbm.hidden_input(v))
    torch.testing.assert_close(path.log_weight(state, 0.2, 0.7),
                               path.log_unnormalised(state, 0.7) - path.log_unnormalised(state, 0.2))
    # beta = 1: the RBM's -F(v); beta = 0: the base model, -V_A(v) + n_hidden L(0)
    torch.testing.assert_close(path.log_unnormalised(state, 1.0), -rbm.free_energy(v))
    base = RBM(5, 4, visible, hidden, dtype=torch.float64)
    with torch.no_grad():
        base.weight.zero_()
        base.visible_bias.copy_(b_a)
        if rbm.log_sigma is not None:
            base.log_sigma.copy_(rbm.log_sigma)
    torch.testing.assert_close(path.log_unnormalised(state, 0.0), -base.free_energy(v))
    # log Z_A is the base model's exact log Z
    assert path.log_base_z == pytest.approx(exact_log_partition(base), abs=1e-10)
    v2, a2 = path.transition(state, 0.5, torch.Generator().manual_seed(1))
    assert v2.shape == v.shape
    torch.testing.assert_close(a2, rbm.hidden_input(v2))


def test_check_betas_and_shared_limits():
    t = check_betas([0, 0.25, 0.25, 1])
    assert t.dtype == torch.float64 and t.tolist() == [0, 0.25, 0.25, 1]
    with pytest.raises(ValueError, match="increase from 0 to 1"):
        check_betas([0.0, 0.7, 0.5, 1.0])
    with pytest.raises(ValueError, match="at least 2 values"):
        check_betas([0.0])
    with pytest.raises(ValueError, match="first 0.1"):
        check_betas([0.1, 1.0])
    assert MAX_ENUMERATED_UNITS == 20 and CHUNK_ELEMENTS == 1 << 22
    from layerwise.models import DBN, dbn, sbn, updown
    assert DBN.MAX_EXACT_LOG_Z_UNITS == dbn.MAX_ENUMERATED_UNITS == sbn.MAX_ENUMERATED_UNITS == MAX_ENUMERATED_UNITS
    assert updown.MAX_ENUMERATED_UNITS == MAX_ENUMERATED_UNITS
