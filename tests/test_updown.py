"""Up-down fine-tuning of a DBN (contrastive wake-sleep, Hinton, Osindero & Teh 2006, appendix B).

References are independent of the code under test: the pre-trained DBN's own up and down passes
for the untying; autograd of log p(h^{k-1}|h^k) and log q(h^k|h^{k-1}) for the delta rules; the
variational bound and log p(v) by enumerating every hidden state (top RBM's log Z included) on a
tiny net; the bound on held-out digits before and after fine-tuning.
"""

import itertools

import pytest
import torch
from torch.nn import functional as F

import layerwise as lw
from layerwise.checkpoint import load_model, save_checkpoint
from layerwise.models.dbn import DBN
from layerwise.models.updown import UpDownDBN

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def _random_dbn(sizes, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    dbn = DBN(sizes, dtype=dtype)
    with torch.no_grad():
        for rbm in dbn.rbms:
            rbm.weight.normal_(0.0, 1.0)
            rbm.visible_bias.normal_(0.0, 0.5)
            rbm.hidden_bias.normal_(0.0, 0.5)
    return dbn


def _untie_randomly(net, seed=1):
    """Move every parameter off the tied values, so that recognition and generation differ."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return net


def _states(n, dtype=torch.float64):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=dtype)


# ---- untying a pre-trained DBN --------------------------------------------------------------

def test_from_dbn_copies_the_up_and_down_passes():
    dbn = _random_dbn([6, 5, 4, 3])
    net = UpDownDBN.from_dbn(dbn, k_top=3)
    assert net.sizes == [6, 5, 4, 3] and net.k_top == 3 and net.top.k == 3
    assert repr(net) == "UpDownDBN([6, 5, 4, 3], k_top=3)"
    v = torch.rand(7, 6, dtype=torch.float64)
    for a, b in zip(net.up(v), dbn.up(v)):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(net.transform(v), dbn.transform(v))
    h = torch.bernoulli(torch.full((7, 4), 0.5, dtype=torch.float64))
    torch.manual_seed(3)
    down = net.down(h)
    torch.manual_seed(3)
    torch.testing.assert_close(down, dbn.down(h))  # same random draws for the sampled layer
    # a copy: the DBN does not share storage with the net
    with torch.no_grad():
        net.generative_weights[0].zero_()
        net.top.weight.zero_()
    assert dbn.rbms[0].weight.abs().sum() > 0 and dbn.rbms[-1].weight.abs().sum() > 0


def test_generate_shapes_range_and_metrics():
    net = UpDownDBN.from_dbn(_random_dbn([6, 5, 4]), k_top=2)
    x = net.generate(9, gibbs_steps=5)
    assert x.shape == (9, 6) and bool(((x >= 0) & (x <= 1)).all())
    v = torch.bernoulli(torch.full((10, 6), 0.5, dtype=torch.float64))
    m = net.metrics(v)
    assert set(m) == {"reconstruction_error"} and 0.0 <= m["reconstruction_error"] <= 6.0


# ---- the delta rules are exact gradients at fixed states ------------------------------------

def test_generative_and_recognition_delta_rules_equal_autograd():
    net = _untie_randomly(UpDownDBN.from_dbn(_random_dbn([6, 5, 4, 3]), k_top=2))
    torch.manual_seed(0)
    states = [torch.bernoulli(torch.full((8, n), 0.5, dtype=torch.float64)) for n in (6, 5, 4)]
    states[0] = torch.rand(8, 6, dtype=torch.float64)  # data may be probabilities

    def log_p(k):  # mean log p(h^{k-1} | h^k), Bernoulli, written out
        p = torch.sigmoid(states[k] @ net.generative_weights[k - 1].T + net.generative_biases[k - 1])
        x = states[k - 1]
        return (x * torch.log(p) + (1 - x) * torch.log1p(-p)).sum(1).mean()

    def log_q(k):  # mean log q(h^k | h^{k-1})
        q = torch.sigmoid(states[k - 1] @ net.recognition_weights[k - 1].T + net.recognition_biases[k - 1])
        x = states[k]
        return (x * torch.log(q) + (1 - x) * torch.log1p(-q)).sum(1).mean()

    with torch.no_grad():
        g_w, g_b, lp = net.generative_updates(states)
        g_r, g_c = net.recognition_updates(states)
    torch.testing.assert_close(lp, log_p(1) + log_p(2))
    for k in (1, 2):
        gw, gb = torch.autograd.grad(log_p(k), [net.generative_weights[k - 1], net.generative_biases[k - 1]])
        torch.testing.assert_close(g_w[k - 1], gw)
        torch.testing.assert_close(g_b[k - 1], gb)
        gr, gc = torch.autograd.grad(log_q(k), [net.recognition_weights[k - 1], net.recognition_biases[k - 1]])
        torch.testing.assert_close(g_r[k - 1], gr)
        torch.testing.assert_close(g_c[k - 1], gc)


def test_training_step_applies_the_up_down_updates():
    net = _untie_randomly(UpDownDBN.from_dbn(_random_dbn([6, 5, 4, 3]), k_top=3))
    ref = UpDownDBN([6, 5, 4, 3], k_top=3, dtype=torch.float64)
    ref.load_state_dict(net.state_dict())
    v = torch.bernoulli(torch.full((10, 6), 0.5, dtype=torch.float64))
    lr = 0.5
    torch.manual_seed(5)
    loss = net.training_step(v, torch.optim.SGD(net.parameters(), lr=lr))
    # the same random draws, by hand: wake up pass, k_top Gibbs sweeps, sleep down pass
    torch.manual_seed(5)
    with torch.no_grad():
        wake = [v]
        for k in range(2):
            wake.append(torch.bernoulli(torch.sigmoid(F.linear(wake[-1], ref.recognition_weights[k],
                                                               ref.recognition_biases[k]))))
        top = ref.top
        x0 = wake[-1]
        p0 = torch.sigmoid(F.linear(x0, top.weight, top.hidden_bias))
        h = torch.bernoulli(p0)
        for step in range(3):
            x = torch.bernoulli(torch.sigmoid(F.linear(h, top.weight.T, top.visible_bias)))
            p = torch.sigmoid(F.linear(x, top.weight, top.hidden_bias))
            if step < 2:
                h = torch.bernoulli(p)
        h1 = torch.bernoulli(torch.sigmoid(F.linear(x, ref.generative_weights[1], ref.generative_biases[1])))
        v_sleep = torch.sigmoid(F.linear(h1, ref.generative_weights[0], ref.generative_biases[0]))
        sleep = [v_sleep, h1, x]
        g_w, g_b, lp = ref.generative_updates(wake)
        g_r, g_c = ref.recognition_updates(sleep)
        expect = {"top.weight": (p0.T @ x0 - p.T @ x) / 10, "top.visible_bias": x0.mean(0) - x.mean(0),
                  "top.hidden_bias": p0.mean(0) - p.mean(0)}
        for k in range(2):
            expect[f"generative_weights.{k}"] = g_w[k]
            expect[f"generative_biases.{k}"] = g_b[k]
            expect[f"recognition_weights.{k}"] = g_r[k]
            expect[f"recognition_biases.{k}"] = g_c[k]
    torch.testing.assert_close(loss, -lp)
    after, before = net.state_dict(), ref.state_dict()
    assert set(expect) == set(after)
    for name, update in expect.items():
        torch.testing.assert_close(after[name], before[name] + lr * update, msg=name)


# ---- the variational bound against enumeration ----------------------------------------------

def _exact_bound_and_log_p(net, v):
    """The bound's exact expectation over h1 and log p(v), both by enumeration ([n0, n1, n2] net)."""
    R, c = net.recognition_weights[0], net.recognition_biases[0]
    G, b = net.generative_weights[0], net.generative_biases[0]
    W, bv, bh = net.top.weight, net.top.visible_bias, net.top.hidden_bias
    h1s, h2s = _states(net.sizes[1]), _states(net.sizes[2])
    neg_energy = (h1s @ bv)[:, None] + (h1s @ W.T @ h2s.T) + (h2s @ bh)[None, :]  # (S1, S2)
    log_z = torch.logsumexp(neg_energy.flatten(), 0)
    log_p_top = torch.logsumexp(neg_energy, 1) - log_z  # exact marginal of h1, (S1,)
    p_v = torch.sigmoid(h1s @ G.T + b)  # (S1, n0)
    log_p_v_h = v @ torch.log(p_v).T + (1 - v) @ torch.log1p(-p_v).T  # (B, S1)
    log_p = torch.logsumexp(log_p_v_h + log_p_top[None, :], 1)
    q1 = torch.sigmoid(v @ R.T + c)  # (B, n1)
    log_q = h1s @ torch.log(q1).T + (1 - h1s) @ torch.log1p(-q1).T  # (S1, B)
    q = log_q.T.exp()
    bound = (q * (log_p_v_h + log_p_top[None, :] - log_q.T)).sum(1)
    return bound, log_p, float(log_z)


@torch.no_grad()
def test_lower_bound_matches_enumeration_and_is_below_log_p():
    net = _untie_randomly(UpDownDBN.from_dbn(_random_dbn([4, 3, 2]), k_top=1))
    v = _states(4)[[0, 3, 6, 9, 15]]
    bound, log_p, log_z = _exact_bound_and_log_p(net, v)
    assert bool((bound <= log_p + 1e-9).all()) and bool((log_p - bound > 1e-3).any())  # untied: a gap
    assert net.top_log_partition() == pytest.approx(log_z, abs=1e-9)
    g = torch.Generator().manual_seed(0)
    est = net.lower_bound(v, n_samples=40000, generator=g)
    assert est.shape == (5,) and est.dtype == torch.float64
    torch.testing.assert_close(est, bound, atol=0.03, rtol=0)  # standard error about 0.006
    # an explicit log Z shifts it; one sample per row is still finite
    shifted = net.lower_bound(v, log_z=log_z + 1.0, n_samples=40000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(shifted, est - 1.0)
    assert torch.isfinite(net.lower_bound(v, n_samples=1)).all()


@torch.no_grad()
def test_lower_bound_of_the_untied_copy_is_the_dbn_bound():
    dbn = _random_dbn([4, 3, 2, 2])
    net = UpDownDBN.from_dbn(dbn, k_top=1)
    v = _states(4)[[1, 5, 12]]
    ours = net.lower_bound(v, n_samples=40000, generator=torch.Generator().manual_seed(0))
    theirs = dbn.lower_bound(v, n_samples=40000, exact=True)
    torch.testing.assert_close(ours, theirs, atol=0.05, rtol=0)


# ---- fine-tuning on digits ------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    x, _ = lw.datasets.load("digits")
    xt, _ = lw.datasets.load("digits", split="test")
    return (x > 0.5).float(), (xt > 0.5).float()


def test_up_down_fine_tuning_raises_the_held_out_bound(digits):
    x, xt = digits
    torch.manual_seed(0)
    dbn = DBN([64, 32, 16]).pretrain(x, epochs=5, batch_size=32, lr=0.1, momentum=0.5, progress=False,
                                     device="cpu", seed=0)
    net = UpDownDBN.from_dbn(dbn, k_top=5)
    before = net.lower_bound(xt, n_samples=50, generator=torch.Generator().manual_seed(1))  # exact log Z (2^16)
    history = lw.fit(net, x, epochs=10, batch_size=32, lr=0.03, momentum=0.5, progress=False, device="cpu", seed=0)
    after = net.lower_bound(xt, n_samples=50, generator=torch.Generator().manual_seed(1))
    # observed: -21.09 -> -20.66 nats (seeds 0-2: +0.36 to +0.43 nats after 10 epochs)
    assert float(before.mean()) == pytest.approx(-21.09, abs=0.5)
    assert float((after - before).mean()) > 0.15
    assert len(history) == 10 and history["loss"][-1] < history["loss"][0]
    assert history[-1]["reconstruction_error"] < 6.0
    # the DBN itself is unchanged
    torch.testing.assert_close(dbn.lower_bound(xt, n_samples=50, generator=torch.Generator().manual_seed(1)), before)


# ---- checkpoints ----------------------------------------------------------------------------

def test_checkpoint_round_trip(tmp_path):
    net = _untie_randomly(UpDownDBN.from_dbn(_random_dbn([6, 5, 4, 3], dtype=torch.float32), k_top=4))
    lw.fit(net, torch.bernoulli(torch.full((20, 6), 0.5)), epochs=1, batch_size=10, progress=False, device="cpu")
    save_checkpoint(tmp_path / "ckpt", net)
    back = load_model(tmp_path / "ckpt")
    assert isinstance(back, UpDownDBN) and back.config() == {"sizes": [6, 5, 4, 3], "k_top": 4}
    assert repr(back) == repr(net)
    assert list(back.state_dict()) == list(net.state_dict())
    for k, val in net.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], val)


# ---- bad input ------------------------------------------------------------------------------

def test_bad_construction():
    with pytest.raises(ValueError, match="at least 3 layer sizes"):
        UpDownDBN([6, 4])
    with pytest.raises(ValueError, match="'sizes' parameter must list at least 2"):
        UpDownDBN([6])
    with pytest.raises(TypeError, match="'sizes' parameter must be a list of ints"):
        UpDownDBN("6, 4, 2")
    with pytest.raises(ValueError, match="k_top"):
        UpDownDBN([6, 4, 2], k_top=0)
    with pytest.raises(TypeError, match="needs a layerwise DBN"):
        UpDownDBN.from_dbn(object())
    with pytest.raises(ValueError, match="at least 2 RBMs"):
        UpDownDBN.from_dbn(DBN([6, 4]))
    with pytest.raises(ValueError, match="Bernoulli units only.*visible='gaussian'"):
        UpDownDBN.from_dbn(DBN([6, 4, 2], visible="gaussian"))
    with pytest.raises(ValueError, match="Bernoulli units only.*hidden='spin'"):
        UpDownDBN.from_dbn(DBN([6, 4, 2], hidden="spin"))


def test_bad_data():
    net = UpDownDBN([6, 4, 2])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        net.up(torch.full((3, 6), 2.0))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        lw.fit(net, -torch.ones(3, 6), epochs=1, progress=False, device="cpu")
    with pytest.raises(ValueError, match="6"):
        net.lower_bound(torch.rand(3, 5))
    with pytest.raises(ValueError):
        net.lower_bound(torch.tensor([[float("nan")] * 6]))
    with pytest.raises(ValueError, match="n_samples"):
        net.lower_bound(torch.rand(3, 6), n_samples=0)
    with pytest.raises(ValueError, match="gibbs_steps"):
        net.generate(3, gibbs_steps=-1)
