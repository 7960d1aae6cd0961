"""Sigmoid belief networks against independent references: log p(v) by brute-force enumeration in
numpy (Bernoulli products written out by hand), the importance-sampling bound's direction and
tightening, a chi-square test of ancestral samples, autograd for the wake and sleep delta rules,
wake-sleep training through ``fit``, checkpoints and bad input."""

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

import layerwise as lw
from layerwise.checkpoint import load_model, save_checkpoint
from layerwise.models.sbn import SigmoidBeliefNet
from layerwise.training import fit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


# ---- numpy reference ------------------------------------------------------------------------

def np_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))  # (2^n, n)


def sigm(a):
    return 1.0 / (1.0 + np.exp(-a))


def bern(x, p):
    """prod_i p_i^x_i (1 - p_i)^(1 - x_i), the product written out."""
    return np.prod(np.where(x == 1.0, p, 1.0 - p))


def np_params(sbn):
    t = lambda p: p.detach().cpu().double().numpy()
    return ([t(w) for w in sbn.generative_weights], [t(b) for b in sbn.generative_biases], t(sbn.top_bias))


def np_joint(sbn, v, hs):
    """p(v, h) = p(h^L) prod_k p(h^{k-1} | h^k), from MODELS.md: p(h^{k-1} = 1 | h^k) = sigm(W h^k + b)."""
    W, b, a = np_params(sbn)
    layers = [v, *hs]
    prob = bern(layers[-1], sigm(a))
    for k in range(len(W)):
        prob *= bern(layers[k], sigm(W[k] @ layers[k + 1] + b[k]))
    return prob


def np_marginal(sbn, v):
    """p(v) by summing p(v, h) over every joint hidden state."""
    hidden = [np_states(n) for n in sbn.sizes[1:]]
    return sum(np_joint(sbn, v, list(hs)) for hs in itertools.product(*hidden))


def random_net(sizes, seed=0, scale=1.5, dtype=torch.float64):
    torch.manual_seed(seed)
    sbn = SigmoidBeliefNet(sizes, dtype=dtype)
    with torch.no_grad():
        for p in sbn.parameters():
            p.normal_(0.0, scale)
    return sbn


def all_visible(n):
    return torch.tensor(np_states(n))


# ---- exact likelihood -----------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[4, 3, 2], [3, 2, 3, 2], [4, 3]])
def test_exact_log_likelihood_matches_numpy_enumeration(sizes):
    sbn = random_net(sizes)
    v = all_visible(sizes[0])
    got = sbn.log_likelihood(v)
    assert got.dtype == torch.float64 and got.shape == (2 ** sizes[0],)
    want = np.log([np_marginal(sbn, x) for x in v.numpy()])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)
    assert torch.logsumexp(got, 0).item() == pytest.approx(0.0, abs=1e-10)  # a distribution over v


def test_log_joint_and_log_q_match_numpy():
    sbn = random_net([4, 3, 2], seed=1)
    R = [r.detach().numpy() for r in sbn.recognition_weights]
    c = [x.detach().numpy() for x in sbn.recognition_biases]
    gen = torch.Generator().manual_seed(0)
    v, h1, h2 = sbn.sample(20, return_all=True, generator=gen)
    lj = sbn.log_joint(v, [h1, h2])
    lq = sbn.log_q([h1, h2], v)
    for i in range(20):
        x, y, z = v[i].numpy(), h1[i].numpy(), h2[i].numpy()
        assert lj[i].item() == pytest.approx(math.log(np_joint(sbn, x, [y, z])), abs=1e-10)
        q = bern(y, sigm(R[0] @ x + c[0])) * bern(z, sigm(R[1] @ y + c[1]))
        assert lq[i].item() == pytest.approx(math.log(q), abs=1e-10)
    # leading dimensions broadcast: (B, 1, n) against (1, S, n)
    hs = [torch.tensor(np_states(3))[None], torch.tensor(np_states(2))[[0, 3, 1, 2, 0, 3, 1, 2]][None]]
    table = sbn.log_joint(v[:5, None], hs)
    assert table.shape == (5, 8)
    assert table[2, 5].item() == pytest.approx(sbn.log_joint(v[2:3], [hs[0][0, 5:6], hs[1][0, 5:6]]).item())


# ---- importance sampling --------------------------------------------------------------------

def test_importance_sampling_bound_below_exact_and_tightens_with_k():
    sbn = random_net([4, 3, 2], seed=2)
    v = all_visible(4)
    exact = sbn.log_likelihood(v)
    reps = v.repeat(400, 1)  # 400 independent estimates per visible vector
    means = []
    for k in (1, 10, 100):
        est = sbn.log_likelihood(reps, method="is", n_samples=k, generator=torch.Generator().manual_seed(k))
        means.append(est.view(400, 16).mean(0))
    gaps = [float((exact - m).mean()) for m in means]
    assert gaps[0] > gaps[1] > gaps[2] >= -0.01, gaps
    assert gaps[0] > 0.1  # a random recognition net is a poor proposal: K = 1 is visibly loose
    assert bool((means[0] < exact).all()) and bool((means[1] < exact).all())
    # consistent: with many samples the estimate reaches log p(v) (on a net whose weights are
    # not too heavy-tailed, so that 20000 samples suffice)
    sbn = random_net([4, 3, 2], seed=2, scale=0.7)
    big = sbn.log_likelihood(v, method="is", n_samples=20000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(big, sbn.log_likelihood(v), atol=0.1, rtol=0)


def test_importance_weights_are_unbiased_for_p_of_v():
    """E_q[p(v, h) / q(h | v)] = p(v): the mean of exp(estimate) with K = 1 is p(v) itself."""
    sbn = random_net([4, 3, 2], seed=3, scale=0.7)
    v = all_visible(4)
    w = sbn.log_likelihood(v.repeat(20000, 1), method="is", n_samples=1,
                           generator=torch.Generator().manual_seed(0)).view(20000, 16).exp()
    z = (w.mean(0) - sbn.log_likelihood(v).exp()) / (w.std(0) / math.sqrt(20000))
    assert bool((z.abs() < 5).all()), z


def test_importance_sampling_is_reproducible_with_a_generator():
    sbn = random_net([4, 3, 2])
    v = all_visible(4)
    a = sbn.log_likelihood(v, "is", 5, torch.Generator().manual_seed(7))
    b = sbn.log_likelihood(v, "is", 5, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


# ---- sampling -------------------------------------------------------------------------------

def test_ancestral_samples_follow_the_exact_marginal():
    sbn = random_net([4, 3, 2], seed=4, scale=1.0)
    n = 20000
    v = sbn.sample(n, generator=torch.Generator().manual_seed(0))
    assert v.shape == (n, 4) and set(v.unique().tolist()) <= {0.0, 1.0}
    codes = (v * torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=v.dtype)).sum(1).long()  # itertools order
    observed = torch.bincount(codes, minlength=16).numpy()
    expected = sbn.log_likelihood(all_visible(4)).exp().numpy() * n
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_sample_return_all_and_recognize_shapes():
    sbn = SigmoidBeliefNet([6, 4, 3])
    layers = sbn.sample(5, return_all=True)
    assert [tuple(x.shape) for x in layers] == [(5, 6), (5, 4), (5, 3)]
    hs = sbn.recognize(layers[0])
    assert [tuple(h.shape) for h in hs] == [(5, 4), (5, 3)] and set(torch.cat(hs, 1).unique().tolist()) <= {0.0, 1.0}
    probs = sbn.recognize(layers[0], sample=False)
    assert torch.allclose(probs[0], torch.sigmoid(sbn.recognition_logits(0, layers[0])))
    assert torch.allclose(sbn.transform(layers[0]), probs[-1]) and torch.allclose(sbn(layers[0]), probs[-1])
    assert sbn.reconstruct(layers[0]).shape == (5, 6)


# ---- wake-sleep: closed form against autograd -----------------------------------------------

def test_wake_gradients_equal_autograd_of_log_joint():
    sbn = random_net([5, 4, 3], seed=5)
    v = sbn.sample(30, generator=torch.Generator().manual_seed(1))
    hs = sbn.recognize(v, generator=torch.Generator().manual_seed(2))
    sbn.log_joint(v, hs).mean().backward()
    for p, g in zip(sbn.generative_parameters(), sbn.wake_gradients(v, hs)):
        torch.testing.assert_close(g, p.grad)
    assert all(p.grad is None for p in sbn.recognition_parameters())


def test_sleep_gradients_equal_autograd_of_log_q():
    sbn = random_net([5, 4, 3], seed=6)
    fantasy = sbn.sample(30, return_all=True, generator=torch.Generator().manual_seed(3))
    sbn.log_q(fantasy[1:], fantasy[0]).mean().backward()
    for p, g in zip(sbn.recognition_parameters(), sbn.sleep_gradients(fantasy)):
        torch.testing.assert_close(g, p.grad)
    assert all(p.grad is None for p in sbn.generative_parameters())


def test_training_step_is_the_autograd_step_on_training_loss():
    """Same seed, same samples: the closed-form wake-sleep step equals SGD on the surrogate."""
    a = random_net([5, 4, 3], seed=7, scale=0.5)
    b = copy.deepcopy(a)
    v = a.sample(16, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(11)
    loss_a = a.training_step(v, torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.5))
    opt = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.5)
    torch.manual_seed(11)
    loss_b = b.training_loss(v)
    loss_b.backward()
    opt.step()
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-12)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, msg=name)


# ---- training -------------------------------------------------------------------------------

def test_wake_sleep_through_fit_raises_the_likelihood_on_digits():
    X, _ = lw.datasets.load("digits")
    X = (X > 0.5).float()
    torch.manual_seed(0)
    sbn = SigmoidBeliefNet([64, 12, 4]).init_visible_bias(X)
    held = X[:300]
    before = sbn.log_likelihood(held).mean().item()
    history = fit(sbn, X, epochs=8, batch_size=20, lr=0.3, progress=False, device="cpu", seed=0)
    after = sbn.log_likelihood(held).mean().item()
    bound = history["log_likelihood_bound"]
    assert after > before + 2.0, (before, after)
    assert bound[-1] > bound[0] + 1.0, bound
    assert all(math.isfinite(x) for x in history["loss"]) and history["loss"][-1] < history["loss"][0]
    assert set(history.columns) >= {"loss", "log_likelihood_bound", "reconstruction_error"}


# ---- bookkeeping ----------------------------------------------------------------------------

def test_repr_config_and_checkpoint_round_trip(tmp_path):
    sbn = random_net([4, 3, 2], seed=8, dtype=torch.float32)  # config() holds no dtype, as RBM's
    assert repr(sbn) == "SigmoidBeliefNet([4, 3, 2])"
    assert sbn.config() == {"sizes": [4, 3, 2]}
    save_checkpoint(tmp_path / "ck", sbn)
    loaded = load_model(tmp_path / "ck")
    assert type(loaded) is SigmoidBeliefNet and loaded.sizes == [4, 3, 2]
    for (name, p), q in zip(sbn.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(p, q), name
    v = all_visible(4)
    assert torch.equal(sbn.log_likelihood(v), loaded.log_likelihood(v))


def test_parameter_shapes_follow_nn_linear():
    sbn = SigmoidBeliefNet([7, 5, 3])
    assert [tuple(w.shape) for w in sbn.generative_weights] == [(7, 5), (5, 3)]
    assert [tuple(r.shape) for r in sbn.recognition_weights] == [(5, 7), (3, 5)]
    assert [tuple(b.shape) for b in sbn.generative_biases] == [(7,), (5,)]
    assert [tuple(c.shape) for c in sbn.recognition_biases] == [(5,), (3,)]
    assert sbn.top_bias.shape == (3,) and not bool(sbn.top_bias.any())


# ---- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes, error, match", [
    ([5], ValueError, "at least 2"),
    ([], ValueError, "at least 2"),
    ([5, 0], ValueError, r"sizes\[1\]"),
    ([5, -2, 3], ValueError, r"sizes\[1\]"),
    ([5, 2.5], TypeError, r"sizes\[1\]"),
    ("54", TypeError, "list of ints"),
    (7, TypeError, "list of ints"),
])
def test_bad_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        SigmoidBeliefNet(sizes)


def test_bad_data_and_arguments():
    sbn = SigmoidBeliefNet([4, 3, 2])
    good = all_visible(4).float()
    with pytest.raises(ValueError, match="4 were expected"):
        sbn.log_likelihood(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="2-d"):
        sbn.log_likelihood(torch.zeros(4))
    with pytest.raises(ValueError, match="binary"):
        sbn.log_likelihood(torch.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="n_samples"):
        sbn.log_likelihood(good, method="is", n_samples=0)
    with pytest.raises(ValueError, match="method"):
        sbn.log_likelihood(good, method="ais")
    with pytest.raises(ValueError, match="'n'"):
        sbn.sample(0)
    with pytest.raises(ValueError, match="list of 2 tensors"):
        sbn.log_joint(good, [torch.zeros(16, 3)])
    with pytest.raises(ValueError, match=r"'hs\[1\]' must have 2 units"):
        sbn.log_q([torch.zeros(16, 3), torch.zeros(16, 5)], good)
    with pytest.raises(ValueError, match="'v' must have 4 units"):
        sbn.log_joint(torch.zeros(16, 3), [torch.zeros(16, 3), torch.zeros(16, 2)])


def test_exact_likelihood_refuses_large_tables_before_any_work():
    with pytest.raises(ValueError, match=r"2\^21.*method='is'"):
        SigmoidBeliefNet([4, 21]).log_likelihood(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"2\^22.*method='is'"):
        SigmoidBeliefNet([4, 2, 12, 10]).log_likelihood(torch.zeros(1, 4))
    # deep but narrow nets stay exact: 2^30 joint states, tables of at most 2^20
    SigmoidBeliefNet([4, 10, 10, 10]).log_likelihood(torch.zeros(1, 4))


def test_fit_rejects_non_binary_data_before_training():
    sbn = SigmoidBeliefNet([4, 3])
    before = copy.deepcopy(sbn.state_dict())
    with pytest.raises(ValueError, match="binary"):
        fit(sbn, torch.rand(10, 4), epochs=1, progress=False, device="cpu")
    for k, v in sbn.state_dict().items():
        assert torch.equal(v, before[k])
