"""RBM against independent references: Bayes' rule by enumeration (numpy), autograd and the
hand-written learning rule for the closed-form CD/PCD update, sampling moments, checkpoints."""

import itertools
import math

import numpy as np
import pytest
import torch

from layerwise.checkpoint import load_model, save_checkpoint
from layerwise.models.rbm import RBM
from layerwise.training import fit

DT = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

# ---- references written independently in numpy ---------------------------------------------

def states(n, kind):
    """All 2^n configurations of n binary units, shape (2^n, n)."""
    s = np.array(list(itertools.product((0.0, 1.0), repeat=n)))
    return 2 * s - 1 if kind == "spin" else s


def params(rbm):
    W = rbm.weight.detach().numpy().astype(np.float64)        # (nh, nv)
    b = rbm.visible_bias.detach().numpy().astype(np.float64)
    c = rbm.hidden_bias.detach().numpy().astype(np.float64)
    sigma = rbm.sigma.detach().numpy().astype(np.float64)
    return W, b, c, sigma


def np_energy(rbm, v, h):
    """E(v, h) for rows v (B, nv), h (B, nh), written from MODELS.md."""
    W, b, c, sigma = params(rbm)
    if rbm.visible.name == "gaussian":
        return ((v - b) ** 2 / (2 * sigma ** 2)).sum(1) - np.einsum("bj,ji,bi->b", h, W, v / sigma) - h @ c
    return -np.einsum("bj,ji,bi->b", h, W, v) - v @ b - h @ c


def logsumexp(x, axis):
    m = x.max(axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis, keepdims=True))).squeeze(axis)


def random_rbm(n_visible, n_hidden, std=1.0, seed=0, **kw):
    torch.manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, dtype=DT, **kw)
    with torch.no_grad():
        rbm.weight.normal_(0, std)
        rbm.visible_bias.normal_(0, std)
        rbm.hidden_bias.normal_(0, std)
    return rbm


def binary_data(n, nv, seed=0, kind="bernoulli"):
    g = torch.Generator().manual_seed(seed)
    x = torch.bernoulli(torch.full((n, nv), 0.4, dtype=DT), generator=g)
    return 2 * x - 1 if kind == "spin" else x


# ---- conditionals, energy and free energy by enumeration -----------------------------------

@pytest.mark.parametrize("visible,hidden", [("bernoulli", "bernoulli"), ("spin", "spin"),
                                            ("bernoulli", "spin"), ("spin", "bernoulli")])
def test_conditionals_match_bayes_rule_on_the_joint_table(visible, hidden):
    rbm = random_rbm(4, 3, visible=visible, hidden=hidden)
    V, H = states(4, visible), states(3, hidden)                    # (16, 4), (8, 3)
    vv, hh = np.repeat(V, len(H), 0), np.tile(H, (len(V), 1))
    logp = -np_energy(rbm, vv, hh).reshape(len(V), len(H))          # unnormalised log p(v, h)
    joint = np.exp(logp - logp.max())
    joint /= joint.sum()
    p_h_given_v = joint / joint.sum(1, keepdims=True)               # (16, 8)
    p_v_given_h = joint / joint.sum(0, keepdims=True)               # (16, 8)
    mean_h = p_h_given_v @ H                                        # E[h | v], (16, 3)
    mean_v = p_v_given_h.T @ V                                      # E[v | h], (8, 4)
    got_h = rbm.hidden_probs(torch.as_tensor(V)).detach().numpy()
    got_v = rbm.visible_mean(torch.as_tensor(H)).detach().numpy()
    np.testing.assert_allclose(got_h, mean_h, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_v, mean_v, rtol=1e-9, atol=1e-12)
    if hidden == "bernoulli":  # E[h_j | v] is then p(h_j = 1 | v) itself
        p1 = np.stack([p_h_given_v[:, H[:, j] == 1].sum(1) for j in range(3)], 1)
        np.testing.assert_allclose(got_h, p1, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("visible,hidden,sigma", [("bernoulli", "bernoulli", 1.0), ("spin", "spin", 1.0),
                                                  ("gaussian", "bernoulli", 0.7), ("gaussian", "spin", 1.6)])
def test_energy_and_free_energy_match_hand_formulas(visible, hidden, sigma):
    rbm = random_rbm(4, 3, visible=visible, hidden=hidden, sigma=sigma)
    rng = np.random.default_rng(1)
    if visible == "gaussian":
        v = rng.normal(0, 2, size=(6, 4))
    else:
        v = states(4, visible)
    H = states(3, hidden)
    h = H[rng.integers(len(H), size=len(v))]
    got_e = rbm.energy(torch.as_tensor(v), torch.as_tensor(h)).detach().numpy()
    np.testing.assert_allclose(got_e, np_energy(rbm, v, h), rtol=1e-10, atol=1e-10)
    vv, hh = np.repeat(v, len(H), 0), np.tile(H, (len(v), 1))
    f_ref = -logsumexp(-np_energy(rbm, vv, hh).reshape(len(v), len(H)), 1)
    got_f = rbm.free_energy(torch.as_tensor(v)).detach().numpy()
    np.testing.assert_allclose(got_f, f_ref, rtol=1e-10, atol=1e-10)


# ---- the learning rule: closed form == autograd == <vh>_data - <vh>_model ---------------------

NAMES = ("weight", "visible_bias", "hidden_bias")


def _restore(rbm, chains):
    if chains is not None:
        rbm.chains.copy_(chains)


class SubclassedSGD(torch.optim.SGD):
    """Not exactly ``torch.optim.SGD``: training_step hands it gradients instead of updating in place."""


def closed_form_grads(rbm, batch, seed):
    """The gradients training_step hands the optimiser (SGD with lr = 0 leaves the model as is)."""
    chains = None if rbm.chains is None else rbm.chains.clone()
    opt = SubclassedSGD(rbm.parameters(), lr=0.0, momentum=0.0)
    before = [p.detach().clone() for p in rbm.parameters()]
    torch.manual_seed(seed)
    loss = rbm.training_step(batch, opt)
    for p, q in zip(rbm.parameters(), before):
        assert torch.equal(p, q)
    _restore(rbm, chains)
    return {n: getattr(rbm, n).grad.clone() for n in NAMES}, float(loss)


def autograd_grads(rbm, batch, seed):
    chains = None if rbm.chains is None else rbm.chains.clone()
    torch.manual_seed(seed)
    loss = rbm.training_loss(batch)
    grads = torch.autograd.grad(loss, [getattr(rbm, n) for n in NAMES])
    _restore(rbm, chains)
    return dict(zip(NAMES, grads)), float(loss.detach())


def explicit_grads(rbm, batch, seed):
    """-(<s(v) h>_data - <s(v) h>_model) from the same negative-phase samples, by hand."""
    chains = None if rbm.chains is None else rbm.chains.clone()
    torch.manual_seed(seed)
    v_neg = rbm.negative_phase(batch)
    _restore(rbm, chains)
    W, b, c = (getattr(rbm, n).detach() for n in NAMES)
    sigma = rbm.sigma.detach()
    gaussian = rbm.visible.name == "gaussian"
    act = torch.sigmoid if rbm.hidden.name == "bernoulli" else torch.tanh

    def stats(v):
        s = v / sigma if gaussian else v
        h = act(s @ W.T + c)                                 # E[h | v], (B, nh)
        dv = (v - b) / sigma ** 2 if gaussian else v         # -dF/db per row
        return h.T @ s / len(v), dv.mean(0), h.mean(0)

    data, model = stats(batch), stats(v_neg)
    return {n: -(d - m) for n, d, m in zip(NAMES, data, model)}


CASES = {
    "cd1": dict(k=1),
    "cd3": dict(k=3),
    "cd2_sampled_reconstruction": dict(k=2, sample_reconstruction=True),
    "pcd": dict(k=1, persistent=True, n_chains=7),
    "pcd_k2": dict(k=2, persistent=True, n_chains=13),
    "spin_hidden": dict(k=1, hidden="spin"),
    "spin_both_pcd": dict(k=1, visible="spin", hidden="spin", persistent=True, n_chains=5),
    "gaussian_cd1": dict(k=1, visible="gaussian", sigma=0.5),
    "gaussian_pcd": dict(k=2, visible="gaussian", sigma=1.7, persistent=True, n_chains=6),
}


def case_batch(kw, n=10, nv=5):
    if kw.get("visible") == "gaussian":
        return torch.randn(n, nv, dtype=DT, generator=torch.Generator().manual_seed(3)) * 1.5 + 0.3
    return binary_data(n, nv, kind=kw.get("visible", "bernoulli"))


@pytest.mark.parametrize("case", list(CASES))
def test_training_step_gradient_is_the_learning_rule(case):
    kw = CASES[case]
    rbm = random_rbm(5, 4, std=0.5, **kw)
    batch = case_batch(kw)
    closed, loss_step = closed_form_grads(rbm, batch, seed=11)
    auto, loss_auto = autograd_grads(rbm, batch, seed=11)
    hand = explicit_grads(rbm, batch, seed=11)
    for n in NAMES:
        torch.testing.assert_close(closed[n], auto[n], rtol=1e-9, atol=1e-12, msg=f"{case}: {n} vs autograd")
        torch.testing.assert_close(closed[n], hand[n], rtol=1e-9, atol=1e-12, msg=f"{case}: {n} vs hand")
    assert loss_step == pytest.approx(loss_auto, rel=1e-9, abs=1e-12)
    # the reference gradient is not trivially zero, and another seed changes it (samples are used)
    assert closed["weight"].abs().max() > 1e-3


@pytest.mark.parametrize("case", ["cd1", "pcd", "spin_hidden", "gaussian_cd1"])
def test_training_step_with_sparsity_matches_autograd(case):
    kw = dict(CASES[case], sparsity_weight=0.8, sparsity_target=0.2)
    rbm = random_rbm(5, 4, std=0.5, **kw)
    batch = case_batch(kw)
    closed, loss_step = closed_form_grads(rbm, batch, seed=5)
    auto, loss_auto = autograd_grads(rbm, batch, seed=5)
    hand = explicit_grads(rbm, batch, seed=5)
    for n in NAMES:
        torch.testing.assert_close(closed[n], auto[n], rtol=1e-9, atol=1e-12, msg=f"{case}: {n}")
    assert loss_step == pytest.approx(loss_auto, rel=1e-9, abs=1e-12)
    # the penalty acts on W and c only, and does act
    torch.testing.assert_close(closed["visible_bias"], hand["visible_bias"], rtol=1e-9, atol=1e-12)
    assert (closed["hidden_bias"] - hand["hidden_bias"]).abs().max() > 1e-4


def test_training_step_moves_parameters_against_the_gradient():
    rbm = random_rbm(5, 4, std=0.5)
    batch = binary_data(10, 5)
    grads, _ = closed_form_grads(rbm, batch, seed=2)
    before = {n: getattr(rbm, n).detach().clone() for n in NAMES}
    torch.manual_seed(2)
    rbm.training_step(batch, torch.optim.SGD(rbm.parameters(), lr=0.1))
    for n in NAMES:
        torch.testing.assert_close(getattr(rbm, n).detach(), before[n] - 0.1 * grads[n])


@pytest.mark.parametrize("momentum, weight_decay, sparsity", [(0.0, 0.0, 0.0), (0.9, 0.0, 0.0),
                                                              (0.0, 0.01, 0.0), (0.5, 0.02, 0.7)])
@pytest.mark.parametrize("case", ["cd1", "pcd", "gaussian_cd1"])
def test_in_place_sgd_equals_the_optimiser_step(case, momentum, weight_decay, sparsity):
    """The in-place SGD path (no gradient tensor made) gives SGD.step's parameters and momentum
    buffers over several steps, with the default optimiser's groups (decay on the weight only)
    and a learning rate changed between steps."""
    kw = dict(CASES[case], sparsity_weight=sparsity, sparsity_target=0.2)
    fast = random_rbm(5, 4, std=0.5, **kw)
    slow = random_rbm(5, 4, std=0.5, **kw)
    slow.load_state_dict(fast.state_dict())
    batch = case_batch(kw)
    opts = [cls([{"params": [m.weight], "weight_decay": weight_decay},
                 {"params": [m.visible_bias, m.hidden_bias], "weight_decay": 0.0}], lr=0.1, momentum=momentum)
            for cls, m in ((torch.optim.SGD, fast), (SubclassedSGD, slow))]
    for step in range(4):
        for opt, m in zip(opts, (fast, slow)):
            for g in opt.param_groups:
                g["lr"] = 0.1 / (step + 1)
            torch.manual_seed(step)
            m.training_step(batch, opt)
        assert fast.weight.grad is None and slow.weight.grad is not None  # the two paths were taken
        for n in NAMES:
            torch.testing.assert_close(getattr(fast, n), getattr(slow, n), rtol=1e-12, atol=1e-12)
            if momentum:
                torch.testing.assert_close(opts[0].state[getattr(fast, n)]["momentum_buffer"],
                                           opts[1].state[getattr(slow, n)]["momentum_buffer"], rtol=1e-12, atol=1e-12)
    assert not torch.equal(fast.weight, random_rbm(5, 4, std=0.5, **kw).weight)   # it did train


def gibbs_transition(rbm):
    """T[v, v'] = sum_h p(h | v) p(v' | h), one block-Gibbs sweep, from the joint table."""
    V, H = states(rbm.n_visible, rbm.visible.name), states(rbm.n_hidden, rbm.hidden.name)
    vv, hh = np.repeat(V, len(H), 0), np.tile(H, (len(V), 1))
    logp = -np_energy(rbm, vv, hh).reshape(len(V), len(H))
    joint = np.exp(logp - logp.max())
    return V, (joint / joint.sum(1, keepdims=True)) @ (joint / joint.sum(0, keepdims=True)).T


@pytest.mark.parametrize("kw", [dict(k=1), dict(k=3), dict(k=2, persistent=True)])
def test_negative_phase_runs_k_gibbs_sweeps(kw):
    """The negative samples have the law of k sweeps from the start (T^k), not of one sweep."""
    n = 20000
    rbm = random_rbm(4, 3, std=1.5, seed=1, sample_reconstruction=True, n_chains=n, **kw)
    V, T = gibbs_transition(rbm)
    start = 5
    v0 = torch.as_tensor(np.tile(V[start], (n, 1)))
    if rbm.persistent:
        rbm.chains.copy_(v0)
    torch.manual_seed(0)
    out = rbm.negative_phase(v0[:10] if rbm.persistent else v0).numpy()
    assert out.shape == (n, 4)
    freq = np.bincount((out @ (2 ** np.arange(3, -1, -1))).astype(int), minlength=16) / n
    want = np.linalg.matrix_power(T, rbm.k)[start]
    np.testing.assert_allclose(freq, want, atol=5 * np.sqrt(want * (1 - want) / n).max() + 1e-3)
    other = np.linalg.matrix_power(T, 1 if rbm.k > 1 else 3)[start]
    assert np.abs(freq - other).sum() > 0.1   # the test tells k sweeps from another number
    if rbm.persistent:
        np.testing.assert_array_equal(rbm.chains.numpy(), out)


# ---- persistent chains -------------------------------------------------------------------------

def test_pcd_chains_persist_and_survive_a_checkpoint(tmp_path):
    rbm = random_rbm(6, 4, std=0.5, persistent=True, n_chains=9)
    start = rbm.chains.clone()
    assert start.shape == (9, 6)
    torch.manual_seed(0)
    rbm.training_step(binary_data(5, 6), torch.optim.SGD(rbm.parameters(), lr=0.01))
    assert rbm.chains.shape == (9, 6)
    assert not torch.equal(rbm.chains, start)
    assert set(rbm.chains.unique().tolist()) <= {0.0, 1.0}
    assert "chains" in rbm.state_dict()
    assert "chains" not in RBM(6, 4).state_dict()
    save_checkpoint(tmp_path / "ck", rbm)
    back = load_model(tmp_path / "ck")
    assert isinstance(back, RBM) and back.config() == rbm.config()
    torch.testing.assert_close(back.chains, rbm.chains.float(), check_dtype=False)
    torch.testing.assert_close(back.weight, rbm.weight, check_dtype=False)


# ---- training works ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def binary_digits():
    from sklearn.datasets import load_digits

    return torch.as_tensor(load_digits().data / 16 > 0.5, dtype=torch.float32)


def reconstruction_error(rbm, x):
    return float(((x - rbm.reconstruct(x)) ** 2).sum(1).mean())


def test_cd1_on_digits_lowers_reconstruction_error(binary_digits):
    x = binary_digits
    torch.manual_seed(0)
    rbm = RBM(64, 32)
    before = reconstruction_error(rbm, x)
    history = fit(rbm, x, epochs=5, batch_size=20, optimizer="sgd", lr=0.05, momentum=0.5,
                  device="cpu", progress=False)
    after = reconstruction_error(rbm, x)
    assert after < 0.5 * before, (before, after)
    errors = history["reconstruction_error"]
    assert errors[-1] < before and errors[-1] <= errors[0]
    assert all(math.isfinite(v) for v in history["loss"])


def test_metrics_and_pseudo_likelihood(binary_digits):
    """metrics() once an epoch; the exact pseudo-log-likelihood rises with training."""
    x = binary_digits
    torch.manual_seed(0)
    rbm = RBM(64, 32).init_visible_bias(x)
    pll_before = float(rbm.pseudo_log_likelihood(x, exact=True).mean().detach())
    m = rbm.metrics(x[:200])
    assert set(m) == {"reconstruction_error", "free_energy", "pseudo_log_likelihood"}
    assert m["reconstruction_error"] == pytest.approx(reconstruction_error(rbm, x[:200]), rel=1e-5)
    assert m["free_energy"] == pytest.approx(float(rbm.free_energy(x[:200]).mean().detach()), rel=1e-5)
    history = fit(rbm, x, epochs=4, batch_size=20, lr=0.05, momentum=0.5, device="cpu", progress=False)
    assert {"reconstruction_error", "free_energy", "pseudo_log_likelihood"} <= set(history.columns)
    assert all(v < 0 and math.isfinite(v) for v in history["pseudo_log_likelihood"])
    pll_after = float(rbm.pseudo_log_likelihood(x, exact=True).mean().detach())
    assert pll_after > pll_before + 3, (pll_before, pll_after)


def test_exact_pseudo_likelihood_matches_free_energy_differences():
    """log p(v_i | v_-i) = -softplus(F(v) - F(v with bit i flipped)) for binary units."""
    rbm = random_rbm(5, 3, std=0.7)
    v = states(5, "bernoulli")
    f = rbm.free_energy(torch.as_tensor(v)).detach().numpy()
    ref = np.zeros(len(v))
    for i in range(5):
        flip = v.copy()
        flip[:, i] = 1 - flip[:, i]
        f_flip = rbm.free_energy(torch.as_tensor(flip)).detach().numpy()
        ref += -np.logaddexp(0, f - f_flip)
    got = rbm.pseudo_log_likelihood(torch.as_tensor(v), exact=True).detach().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8)


# ---- Gaussian visible units --------------------------------------------------------------------

def test_gaussian_conditional_mean_and_variance():
    sigma = 0.6
    rbm = random_rbm(5, 3, std=1.0, visible="gaussian", sigma=sigma)
    W, b, _, _ = params(rbm)
    h = np.array([1.0, 0.0, 1.0])
    n = 40000
    torch.manual_seed(0)
    v = rbm.sample_visible(torch.as_tensor(np.tile(h, (n, 1)))).detach().numpy()
    mean_ref = b + sigma * (W.T @ h)
    np.testing.assert_allclose(rbm.visible_mean(torch.as_tensor(h[None]))[0].detach().numpy(), mean_ref, rtol=1e-12)
    np.testing.assert_allclose(v.mean(0), mean_ref, atol=5 * sigma / math.sqrt(n))
    np.testing.assert_allclose(v.var(0), sigma ** 2, atol=5 * sigma ** 2 * math.sqrt(2 / n))


def test_gaussian_learn_sigma_trains_through_autograd():
    torch.manual_seed(0)
    x = torch.randn(400, 5) * 2.0 + 1.0
    rbm = RBM(5, 4, visible="gaussian", learn_sigma=True).init_visible_bias(x)
    assert isinstance(rbm.log_sigma, torch.nn.Parameter)
    assert "log_sigma" in dict(rbm.named_parameters())
    start = rbm.log_sigma.detach().clone()
    history = fit(rbm, x, epochs=3, batch_size=50, lr=0.01, device="cpu", progress=False)
    assert all(math.isfinite(v) for v in history["loss"])
    assert not torch.allclose(rbm.log_sigma.detach(), start)
    assert torch.isfinite(rbm.log_sigma).all()
    fixed = RBM(5, 4, visible="gaussian", sigma=0.5)
    assert "log_sigma" not in dict(fixed.named_parameters()) and "log_sigma" in fixed.state_dict()
    torch.testing.assert_close(fixed.sigma, torch.full((5,), 0.5))


# ---- the rest of the interface --------------------------------------------------------------

def test_init_visible_bias_sets_log_odds():
    x = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0]], dtype=torch.float32)
    rbm = RBM(4, 2).init_visible_bias(x)
    p = torch.tensor([0.75, 0.5, 0.75])
    torch.testing.assert_close(rbm.visible_bias[:3].detach(), torch.log(p / (1 - p)))
    assert torch.isfinite(rbm.visible_bias).all() and rbm.visible_bias[3] < -5   # never-on unit: clipped


def test_sample_shapes_ranges_and_snapshots():
    torch.manual_seed(0)
    rbm = random_rbm(6, 4, std=1.0)
    out = rbm.sample(7, steps=5)
    assert out.shape == (7, 6) and bool(((out >= 0) & (out <= 1)).all())
    snaps = rbm.sample(7, steps=6, every=2)
    assert snaps.shape == (3, 7, 6)
    spin = random_rbm(6, 4, visible="spin")
    s = spin.sample(4, steps=3)
    assert s.shape == (4, 6) and bool(((s >= -1) & (s <= 1)).all())
    gauss = random_rbm(6, 4, visible="gaussian", sigma=0.5)
    assert gauss.sample(3, steps=2).shape == (3, 6)


def test_clamped_units_keep_their_values():
    torch.manual_seed(0)
    rbm = random_rbm(6, 4, std=2.0)
    init = binary_data(5, 6, seed=4)
    clamp = torch.tensor([True, True, False, False, True, False])
    out = rbm.sample(5, steps=20, init=init, clamp=clamp)
    torch.testing.assert_close(out[:, clamp], init[:, clamp])
    assert not torch.equal(out[:, ~clamp], init[:, ~clamp])
    snaps = rbm.sample(5, steps=4, init=init, clamp=clamp, every=1)
    for t in range(4):
        torch.testing.assert_close(snaps[t][:, clamp], init[:, clamp])


@pytest.mark.parametrize("kw", [{}, {"hidden": "spin"}, {"visible": "gaussian", "sigma": 0.4},
                                {"visible": "gaussian", "learn_sigma": True, "sigma": 2.0}])
def test_encoder_equals_transform(kw):
    rbm = random_rbm(6, 4, **kw)
    x = binary_data(8, 6)
    enc = rbm.encoder()
    assert isinstance(enc, torch.nn.Sequential)
    torch.testing.assert_close(enc(x), rbm.transform(x))
    with torch.no_grad():  # shares the RBM's parameters
        rbm.weight.mul_(2)
    torch.testing.assert_close(enc(x), rbm.transform(x))


def test_config_round_trip_and_repr():
    rbm = RBM(6, 4, visible="gaussian", hidden="spin", k=3, persistent=True, n_chains=10, sigma=0.5,
              learn_sigma=True, sparsity_target=0.05, sparsity_weight=0.1, sample_reconstruction=True)
    again = RBM(**rbm.config())
    assert again.config() == rbm.config()
    assert repr(again) == repr(rbm)
    assert repr(RBM(**RBM(4, 3, k=2, persistent=True, n_chains=7).config())) == "RBM(4, 3, k=2, persistent=True, n_chains=7)"
    assert repr(RBM(784, 500)) == "RBM(784, 500)"
    assert repr(RBM(6, 4, visible="gaussian", persistent=True, n_chains=10)) == \
        "RBM(6, 4, visible=gaussian, persistent=True, n_chains=10)"
    assert repr(RBM(6, 4, k=3, n_chains=7)) == "RBM(6, 4, k=3)"        # n_chains unused without PCD
    assert repr(RBM(6, 4, hidden="spin", sparsity_weight=0.5)) == "RBM(6, 4, hidden=spin, sparsity_weight=0.5)"


def test_bad_input_gives_clear_errors():
    rbm = RBM(4, 2)
    with pytest.raises(ValueError, match=r"'data' must lie in \[0, 1\] for Bernoulli visible units"):
        rbm.validate_data(torch.tensor([[0.0, 1.0, 1.5, 0.0]]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        fit(rbm, torch.tensor([[0.0, -1.0, 1.0, 0.0]]), epochs=1, device="cpu", progress=False)
    rbm.validate_data(torch.tensor([[0.0, 0.3, 0.99, 1.0]]))  # probabilities are fine
    fit(RBM(4, 2), torch.rand(5, 4), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"'data' has 5 features, but 4 were expected"):
        rbm.validate_data(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"'data' has 3 features, but 4 were expected"):
        fit(rbm, torch.zeros(3, 3), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\] for spin"):
        RBM(4, 2, visible="spin").validate_data(torch.full((2, 4), 2.0))
    RBM(4, 2, visible="gaussian").validate_data(torch.full((2, 4), 7.0))
    with pytest.raises(ValueError, match=r"The 'visible' parameter must be one of \{'bernoulli', 'spin', 'gaussian'\}\. Got 'relu' instead"):
        RBM(4, 2, visible="relu")
    with pytest.raises(ValueError, match=r"The 'hidden' parameter must be one of \{'bernoulli', 'spin'\}\. Got 'gaussian' instead"):
        RBM(4, 2, hidden="gaussian")
    with pytest.raises(ValueError, match=r"learn_sigma=True needs visible='gaussian'\. Got visible='bernoulli' instead"):
        RBM(4, 2, learn_sigma=True)
    with pytest.raises(ValueError, match=r"The 'k' parameter must be an int in the range \[1, inf\)\. Got 0 instead"):
        RBM(4, 2, k=0)
    with pytest.raises(ValueError, match=r"The 'n_hidden' parameter must be an int in the range \[1, inf\)\. Got 0 instead"):
        RBM(4, 0)
    with pytest.raises(ValueError, match=r"The 'sigma' parameter must be a float in the range \(0.0, inf\)"):
        RBM(4, 2, visible="gaussian", sigma=0.0)
