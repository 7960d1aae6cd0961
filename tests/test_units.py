"""Tests of layerwise.units: every unit type against hand formulas, brute force over its states
and autograd; the Gaussian's sigma handling against the formulas the RBM documents."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate

from layerwise import units
from layerwise.models.rbm import RBM
from layerwise.units import UNITS, Bernoulli, Gaussian, Scale, Spin, Units, get_units

pytestmark = pytest.mark.usefixtures("one_thread")

BINARY = ["bernoulli", "spin"]


def inputs(n=41):
    return torch.linspace(-6, 6, n, dtype=torch.float64)


@pytest.mark.parametrize("name", BINARY)
def test_mean_log_partition_and_entropy_match_a_sum_over_the_two_states(name):
    u, a = UNITS[name], inputs()
    xs = torch.tensor(u.states, dtype=torch.float64)                 # (2,)
    logits = a[:, None] * xs[None, :]                                 # a x for both states
    log_z = torch.logsumexp(logits, 1)
    p = torch.exp(logits - log_z[:, None])                            # p(x | a)
    torch.testing.assert_close(u.log_partition(a), log_z)
    torch.testing.assert_close(u.mean(a), (p * xs).sum(1))
    torch.testing.assert_close(u.entropy(a), -(p * torch.log(p)).sum(1))


@pytest.mark.parametrize("name", BINARY + ["gaussian"])
def test_mean_derivative_is_the_autograd_derivative_of_the_mean(name):
    u = UNITS[name]
    a = inputs().requires_grad_()
    m = u.mean(a)
    (grad,) = torch.autograd.grad(m.sum(), a)
    torch.testing.assert_close(u.mean_derivative(m.detach()), grad)


@pytest.mark.parametrize("name", BINARY + ["gaussian"])
def test_bias_from_mean_inverts_the_mean_and_activation_module_computes_it(name):
    u = UNITS[name]
    lo, hi = u.states or (-3.0, 3.0)
    m = torch.linspace(lo + 0.01 * (hi - lo), hi - 0.01 * (hi - lo), 9, dtype=torch.float64)
    torch.testing.assert_close(u.mean(u.bias_from_mean(m)), m)
    a = inputs()
    torch.testing.assert_close(u.activation_module()(a), u.mean(a))


def test_bias_from_mean_clamps_saturated_means():
    b = UNITS["bernoulli"].bias_from_mean(torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(b, torch.tensor([math.log(1e-3 / (1 - 1e-3)), math.log((1 - 1e-3) / 1e-3)],
                                               dtype=torch.float64))
    s = UNITS["spin"].bias_from_mean(torch.tensor([-1.0, 1.0], dtype=torch.float64))
    assert torch.isfinite(s).all()


@pytest.mark.parametrize("name", BINARY)
def test_binary_samples_take_the_two_states_with_the_mean(name):
    u = UNITS[name]
    a = torch.tensor([-1.5, 0.0, 0.7], dtype=torch.float64).expand(20000, 3)
    x = u.sample(a, torch.Generator().manual_seed(0))
    assert set(x.unique().tolist()) <= set(u.states)
    torch.testing.assert_close(x.mean(0), u.mean(a[0]), atol=0.03, rtol=0)
    y = u.sample_from_mean(u.mean(a), torch.Generator().manual_seed(0))
    torch.testing.assert_close(y.mean(0), u.mean(a[0]), atol=0.03, rtol=0)
    assert u.sample(a, log_sigma=torch.zeros(3)).shape == a.shape   # binary units ignore a scale


def test_binary_units_visible_formulas():
    u = UNITS["bernoulli"]
    g = torch.Generator().manual_seed(1)
    v, b = torch.rand(5, 4, generator=g), torch.randn(4, generator=g)
    h, w = torch.rand(5, 3, generator=g), torch.randn(3, 4, generator=g)
    assert not u.has_sigma and u.mean_reconstruction
    assert torch.equal(u.statistic(v), v)
    torch.testing.assert_close(u.visible_term(v, b), -(v * b).sum(1))
    torch.testing.assert_close(u.visible_input(h, w, b), b + h @ w)
    torch.testing.assert_close(u.visible_input(h[0], w, b), b + h[0] @ w)   # one unbatched state
    torch.testing.assert_close(u.sigma(None, b), torch.ones(4))
    assert u.encoder_input(None) == []
    v2 = torch.rand(7, 4, generator=g)
    b_req = b.clone().requires_grad_()
    gap = u.visible_term(v, b_req).mean() - u.visible_term(v2, b_req).mean()
    (grad,) = torch.autograd.grad(gap, b_req)
    g_b, value = u.contrast(v, v2, b)
    torch.testing.assert_close(g_b, grad)
    torch.testing.assert_close(value, gap.detach())


def test_gaussian_owns_sigma():
    u = UNITS["gaussian"]
    assert u.has_sigma and not u.mean_reconstruction and u.states is None
    g = torch.Generator().manual_seed(2)
    v, b = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)
    h, w = torch.rand(6, 3, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=torch.float64)
    log_sigma = sigma.log()
    torch.testing.assert_close(u.sigma(log_sigma, b), sigma)
    torch.testing.assert_close(u.statistic(v, log_sigma), v / sigma)
    torch.testing.assert_close(u.visible_term(v, b, log_sigma), (((v - b) ** 2) / (2 * sigma**2)).sum(1))
    torch.testing.assert_close(u.visible_input(h, w, b, log_sigma), b + sigma * (h @ w))
    assert torch.equal(u.mean(v), v)
    v2 = torch.randn(9, 4, generator=g, dtype=torch.float64)
    b_req = b.clone().requires_grad_()
    gap = u.visible_term(v, b_req, log_sigma).mean() - u.visible_term(v2, b_req, log_sigma).mean()
    (grad,) = torch.autograd.grad(gap, b_req)
    g_b, value = u.contrast(v, v2, b, log_sigma)
    torch.testing.assert_close(g_b, grad)
    torch.testing.assert_close(value, gap.detach())
    # the encoder's input scaling is s(v) = v / sigma
    (scale,) = u.encoder_input(log_sigma)
    assert isinstance(scale, Scale)
    torch.testing.assert_close(scale(v), v / sigma)
    # init_log_sigma fills in place
    ls = torch.empty(4, dtype=torch.float64)
    u.init_log_sigma(ls, 0.7)
    assert torch.equal(ls, torch.full((4,), math.log(0.7), dtype=torch.float64))
    Bernoulli().init_log_sigma(None, 0.7)   # binary units have none: a no-op


def test_gaussian_samples_have_mean_a_and_standard_deviation_sigma():
    u = UNITS["gaussian"]
    a = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64).expand(40000, 3)
    sigma = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64)
    x = u.sample(a, torch.Generator().manual_seed(3), sigma.log())
    torch.testing.assert_close(x.mean(0), a[0], atol=0.05, rtol=0)
    torch.testing.assert_close(x.std(0), sigma, atol=0, rtol=0.03)
    y = u.sample(a, torch.Generator().manual_seed(3))   # without a scale: unit variance
    torch.testing.assert_close(y.std(0), torch.ones(3, dtype=torch.float64), atol=0, rtol=0.03)


def test_check_data_and_lookup():
    with pytest.raises(ValueError, match=r"\[0, 1\] for Bernoulli"):
        UNITS["bernoulli"].check_data(torch.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"\[-1, 1\] for spin"):
        UNITS["spin"].check_data(torch.tensor([-2.0]))
    UNITS["gaussian"].check_data(torch.tensor([-20.0, 30.0]))
    assert get_units("spin") is UNITS["spin"] and isinstance(get_units(Spin()), Spin)
    assert repr(Gaussian()) == "gaussian"
    with pytest.raises(ValueError, match=r"The 'visible' parameter must be one of \{'bernoulli', 'spin'\}\. Got 'relu'"):
        get_units("relu", ("bernoulli", "spin"), "visible")
    assert isinstance(UNITS["bernoulli"], Units)
    np.testing.assert_equal(sorted(UNITS), ["bernoulli", "gaussian", "spin"])


def test_log_normaliser_is_the_log_sum_or_integral_of_exp_minus_v():
    b = torch.tensor([-0.5, 1.2, 0.3], dtype=torch.float64)
    for name in BINARY:
        u = UNITS[name]
        states = torch.tensor(list(itertools.product(u.states, repeat=3)), dtype=torch.float64)
        ref = torch.logsumexp(-u.visible_term(states, b), 0)
        torch.testing.assert_close(u.log_normaliser(b), ref)
    u = UNITS["gaussian"]
    sigma = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    ref = sum(math.log(integrate.quad(lambda v, bi=float(bi), si=float(si): math.exp(-(v - bi) ** 2 / (2 * si**2)),
                                      -50, 50)[0]) for bi, si in zip(b, sigma))
    assert float(u.log_normaliser(b, sigma.log())) == pytest.approx(ref, rel=1e-10)


def test_a_new_unit_type_needs_no_change_in_the_rbm(monkeypatch):
    """units.py's promise: a registered subclass is taken by the RBM as visible and hidden layer."""

    class Relabelled(units.Bernoulli):
        name = "relabelled"

    monkeypatch.setitem(units.UNITS, "relabelled", Relabelled())
    assert "relabelled" in units.visible_names() and "relabelled" in units.hidden_names()
    assert "gaussian" in units.visible_names() and "gaussian" not in units.hidden_names()
    torch.manual_seed(0)
    new = RBM(5, 3, visible="relabelled", hidden="relabelled", dtype=torch.float64)
    old = RBM(5, 3, dtype=torch.float64)
    old.load_state_dict(new.state_dict())
    v = (torch.rand(7, 5, dtype=torch.float64) < 0.5).to(torch.float64)
    torch.testing.assert_close(new.free_energy(v), old.free_energy(v), rtol=0, atol=0)
    with pytest.raises(ValueError, match="'hidden' parameter must be one of"):
        RBM(5, 3, hidden="gaussian")
