"""The RBM: the learning rule three ways, PCD chains, training, sampling, bad input.

Energies, free energies and conditionals against brute-force enumeration are in
test_partition.py (the same tables serve log Z)."""

import copy

import pytest
import torch

import layerwise as lw
from layerwise import checkpoint as ckpt
from layerwise.models.rbm import RBM


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _params(rbm):
    return [rbm.weight, rbm.visible_bias, rbm.hidden_bias]


def _data(rbm, n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    if rbm.visible.name == "gaussian":
        return torch.randn(n, rbm.n_visible, generator=g) * 1.5 + 0.3
    v = torch.bernoulli(torch.full((n, rbm.n_visible), 0.4), generator=g)
    return 2 * v - 1 if rbm.visible.name == "spin" else v


def _random_rbm(**kw):
    torch.manual_seed(3)
    rbm = RBM(7, 5, **kw)
    with torch.no_grad():
        rbm.weight.normal_(0, 0.7)
        rbm.visible_bias.normal_(0, 0.5)
        rbm.hidden_bias.normal_(0, 0.5)
    return rbm


CASES = {
    "cd1": {},
    "cd3": {"k": 3},
    "cd1-sampled-reconstruction": {"sample_reconstruction": True},
    "pcd": {"persistent": True, "n_chains": 9},
    "sparsity": {"sparsity_weight": 0.7, "sparsity_target": 0.2},
    "spin-hidden": {"hidden": "spin"},
    "spin-visible": {"visible": "spin", "k": 2},
    "gaussian": {"visible": "gaussian", "sigma": 0.6},
    "gaussian-pcd": {"visible": "gaussian", "sigma": 1.3, "persistent": True, "n_chains": 5},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_closed_form_step_equals_autograd_and_the_boltzmann_rule(case):
    rbm = _random_rbm(**CASES[case])
    v0 = _data(rbm)
    state = copy.deepcopy(rbm.state_dict())

    torch.manual_seed(11)
    opt = torch.optim.SGD(rbm.parameters(), lr=0.0)  # lr 0: the step leaves the weights, keeps the grads
    loss_step = rbm.training_step(v0, opt)
    g_step = [p.grad.clone() for p in _params(rbm)]

    rbm.load_state_dict(state)
    rbm.zero_grad(set_to_none=True)
    torch.manual_seed(11)
    loss_auto = rbm.training_loss(v0)
    loss_auto.backward()
    g_auto = [p.grad.clone() for p in _params(rbm)]

    rbm.load_state_dict(state)
    torch.manual_seed(11)
    with torch.no_grad():
        v_neg = rbm.negative_phase(v0)
        h0, hn = rbm.hidden_probs(v0), rbm.hidden_probs(v_neg)
        s0, sn = rbm._stat(v0), rbm._stat(v_neg)
        # -( <v h>_data - <v h>_model ): the gradient of the surrogate, to be descended
        g_rule = [-(h0.T @ s0 / len(v0) - hn.T @ sn / len(v_neg)), None, -(h0.mean(0) - hn.mean(0))]
        if rbm.visible.name == "gaussian":
            var = rbm.sigma ** 2
            g_rule[1] = -(((v0 - rbm.visible_bias) / var).mean(0) - ((v_neg - rbm.visible_bias) / var).mean(0))
        else:
            g_rule[1] = -(v0.mean(0) - v_neg.mean(0))

    for name, a, b in zip(("weight", "visible_bias", "hidden_bias"), g_step, g_auto):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"{case}: {name} step vs autograd")
    torch.testing.assert_close(loss_step, loss_auto.detach(), rtol=1e-5, atol=1e-6)
    if rbm.sparsity_weight == 0:
        for name, a, b in zip(("weight", "visible_bias", "hidden_bias"), g_step, g_rule):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"{case}: {name} step vs rule")
    else:  # the penalty moves the weights and hidden biases only, towards the target
        torch.testing.assert_close(g_step[1], g_rule[1], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(g_step[2], g_rule[2], atol=1e-4)


def test_pcd_chains_persist_and_are_checkpointed(tmp_path):
    rbm = _random_rbm(persistent=True, n_chains=6)
    before = rbm.chains.clone()
    assert before.shape == (6, 7)
    opt = torch.optim.SGD(rbm.parameters(), lr=0.01)
    rbm.training_step(_data(rbm, n=4), opt)
    assert not torch.equal(before, rbm.chains) and rbm.chains.shape == (6, 7)
    assert "chains" in rbm.state_dict()
    ckpt.save_checkpoint(tmp_path / "c", rbm)
    back = ckpt.load_model(tmp_path / "c")
    assert isinstance(back, RBM) and torch.equal(back.chains, rbm.chains) and back.persistent


def test_training_lowers_reconstruction_error_on_digits():
    x, _ = lw.datasets.load("digits")
    x = lw.datasets.Binarize(0.5)(x)
    torch.manual_seed(0)
    rbm = RBM(64, 32).init_visible_bias(x)
    before = rbm.metrics(x)
    hist = lw.fit(rbm, x, epochs=8, batch_size=20, lr=0.05, momentum=0.5, progress=False, device="cpu")
    after = rbm.metrics(x)
    assert after["reconstruction_error"] < 0.6 * before["reconstruction_error"]
    assert after["pseudo_log_likelihood"] > before["pseudo_log_likelihood"] + 5
    assert set(hist.columns) >= {"loss", "reconstruction_error", "free_energy", "pseudo_log_likelihood"}


def test_gaussian_conditionals_and_learned_sigma():
    torch.manual_seed(0)
    rbm = RBM(3, 2, visible="gaussian", sigma=0.5)
    with torch.no_grad():
        rbm.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.0, -1.0]]))
        rbm.visible_bias.copy_(torch.tensor([0.2, -0.1, 1.0]))
    h = torch.tensor([[1.0, 0.0]]).expand(40000, 2)
    v = rbm.sample_visible(h)
    mean = rbm.visible_bias + 0.5 * (torch.tensor([1.0, 0.0]) @ rbm.weight)  # b + sigma W^T h
    torch.testing.assert_close(rbm.visible_mean(h[:1])[0], mean.detach())
    torch.testing.assert_close(v.mean(0), mean.detach(), atol=0.01, rtol=0)
    torch.testing.assert_close(v.var(0), torch.full((3,), 0.25), atol=0.01, rtol=0)

    learn = RBM(4, 3, visible="gaussian", learn_sigma=True)
    x = torch.randn(64, 4) * 2.0
    before = learn.log_sigma.detach().clone()
    lw.fit(learn, x, epochs=3, batch_size=16, lr=0.05, progress=False, device="cpu")
    assert not torch.equal(before, learn.log_sigma.detach())


def test_init_sample_clamp_encoder_config_repr():
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]] * 3 + [[1.0, 1.0, 0.0, 0.0]])
    rbm = RBM(4, 3).init_visible_bias(x)
    p = torch.tensor([1.0, 0.25, 0.75, 0.0]).clamp(1e-3, 1 - 1e-3)
    torch.testing.assert_close(rbm.visible_bias.detach(), torch.log(p / (1 - p)))
    s = rbm.sample(5, steps=3)
    assert s.shape == (5, 4) and float(s.min()) >= 0 and float(s.max()) <= 1
    assert rbm.sample(5, steps=10, every=2).shape == (5, 5, 4)
    init = torch.tensor([[1.0, 0.0, 1.0, 1.0]] * 6)
    clamp = torch.tensor([True, True, False, False])
    out = rbm.sample(6, steps=4, init=init, clamp=clamp)
    assert torch.equal(out[:, :2], init[:, :2])
    torch.testing.assert_close(rbm.encoder()(x), rbm.transform(x))
    g = RBM(4, 3, visible="gaussian", sigma=2.0)
    torch.testing.assert_close(g.encoder()(x), g.transform(x))
    rebuilt = RBM(**RBM(4, 3, k=2, persistent=True, n_chains=7).config())
    assert repr(rebuilt) == "RBM(4, 3, k=2, persistent=True, n_chains=7)"
    assert repr(RBM(4, 3)) == "RBM(4, 3)"


@pytest.mark.parametrize("make, data, match", [
    (lambda: RBM(4, 3), torch.full((5, 4), 2.0), r"must lie in \[0, 1\] for Bernoulli visible units"),
    (lambda: RBM(4, 3), torch.rand(5, 3), r"'data' has 3 features, but 4 were expected"),
    (lambda: RBM(4, 3, visible="spin"), torch.full((5, 4), 3.0), r"\[-1, 1\] for spin"),
])
def test_bad_data(make, data, match):
    with pytest.raises(ValueError, match=match):
        lw.fit(make(), data, progress=False)
    lw.fit(RBM(4, 3), torch.rand(5, 4), epochs=1, progress=False)  # probabilities are valid data


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"'visible' parameter must be one of .*Got 'relu'"):
        RBM(4, 3, visible="relu")
    with pytest.raises(ValueError, match=r"'hidden' parameter must be one of"):
        RBM(4, 3, hidden="gaussian")
    with pytest.raises(ValueError, match=r"learn_sigma=True needs visible='gaussian'"):
        RBM(4, 3, learn_sigma=True)
    with pytest.raises(ValueError, match=r"'k' parameter must be an int in the range \[1, inf\)"):
        RBM(4, 3, k=0)
    with pytest.raises(ValueError, match=r"'n_hidden'"):
        RBM(4, 0)
