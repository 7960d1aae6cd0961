"""Deep belief networks: the variational bound against brute-force numpy, greedy stacking, sampling,
fine-tuning, checkpoints and bad input.

References are independent of the code under test: log p(v) of the DBN's generative model by
enumerating every hidden state in numpy; the bound's gap checked against KL(Q || posterior);
the tied-weights DBN, which equals its first RBM (Hinton, Osindero & Teh 2006), for tightness;
a separately trained RBM for what greedy stacking feeds the second layer.
"""

import copy
import itertools
import math

import numpy as np
import pytest
import torch

import layerwise as lw
from layerwise.checkpoint import load_model, save_checkpoint
from layerwise.models.dbn import DBN
from layerwise.models.rbm import RBM
from layerwise.training import fit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

STATES = {"bernoulli": (0.0, 1.0), "spin": (-1.0, 1.0)}


# ---- numpy reference ------------------------------------------------------------------------

def np_states(n, kind):
    lo, hi = STATES[kind]
    return np.array(list(itertools.product([lo, hi], repeat=n)), dtype=float)  # (2^n, n)


def logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def params(rbm):
    t = lambda p: p.detach().cpu().double().numpy()
    sigma = t(rbm.sigma) if rbm.log_sigma is not None else None
    return t(rbm.weight), t(rbm.visible_bias), t(rbm.hidden_bias), sigma


def np_log_cond(rbm, x, h):
    """log p(x | h) of the rbm's visible units for all pairs: x (Nx, nv), h (Nh, nh) -> (Nx, Nh)."""
    W, b, _, sigma = params(rbm)
    if sigma is not None:
        mean = b + sigma * (h @ W)  # (Nh, nv)
        z = (x[:, None, :] - mean[None]) / sigma
        return (-0.5 * z ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)).sum(-1)
    lo, hi = STATES[rbm.visible.name]
    a = b + h @ W  # (Nh, nv)
    return (x[:, None, :] * a[None] - np.logaddexp(lo * a, hi * a)[None]).sum(-1)


def np_top_log_marginal(rbm, x):
    """log p(x) of the RBM's visible layer by enumerating both layers; x (Nx, nv) -> (Nx,), and log Z."""
    W, b, c, _ = params(rbm)
    all_x = np_states(rbm.n_visible, rbm.visible.name)
    y = np_states(rbm.n_hidden, rbm.hidden.name)
    neg_e = lambda xs: xs @ b[:, None] + (y @ c)[None] + xs @ W.T @ y.T  # (Nx, Ny)
    log_z = logsumexp(neg_e(all_x).reshape(-1), 0)
    return logsumexp(neg_e(x), 1) - log_z, log_z


def np_dbn_log_p(dbn, v):
    """log p(v) of the DBN's generative model: top RBM marginal, then directed layers, summed exactly."""
    rbms = list(dbn.rbms)
    h = np_states(rbms[-1].n_visible, rbms[-1].visible.name)
    log_p, log_z = np_top_log_marginal(rbms[-1], h)  # over layer L-1
    for rbm in reversed(rbms[1:-1]):
        below = np_states(rbm.n_visible, rbm.visible.name)
        log_p = logsumexp(np_log_cond(rbm, below, h) + log_p[None], 1)
        h = below
    return logsumexp(np_log_cond(rbms[0], v, h) + log_p[None], 1), log_z


def np_posterior_kl(dbn, v):
    """KL(Q(h1|v) || p(h1|v)) for a two-layer DBN, Q the first RBM's factorial posterior."""
    r1, r2 = dbn.rbms
    W, _, c, sigma = params(r1)
    h = np_states(r1.n_hidden, r1.hidden.name)
    lo, hi = STATES[r1.hidden.name]
    a = c + (v / sigma if sigma is not None else v) @ W.T  # (N, nh)
    log_q = h @ a.T - np.logaddexp(lo * a, hi * a).sum(1)[None]  # (S, N)
    log_prior, _ = np_top_log_marginal(r2, h)
    log_joint = np_log_cond(r1, v, h).T + log_prior[:, None]  # (S, N)
    log_post = log_joint - logsumexp(log_joint, 0)[None]
    return (np.exp(log_q) * (log_q - log_post)).sum(0)


def randomise(dbn, std=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in dbn.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return dbn


def tie(dbn):
    """Every RBM above the first gets the transposed weights of the one below (the 'complementary prior')."""
    with torch.no_grad():
        for lower, upper in zip(dbn.rbms[:-1], dbn.rbms[1:]):
            upper.weight.copy_(lower.weight.T)
            upper.visible_bias.copy_(lower.hidden_bias)
            upper.hidden_bias.copy_(lower.visible_bias)
    return dbn


def all_binary(n):
    return torch.tensor(np_states(n, "bernoulli"), dtype=torch.float64)


# ---- the variational bound ----------------------------------------------------------------

@pytest.mark.parametrize("visible,hidden", [("bernoulli", "bernoulli"), ("bernoulli", "spin"), ("gaussian", "bernoulli")])
def test_bound_is_log_p_minus_the_posterior_kl(visible, hidden):
    dbn = randomise(DBN([4, 3, 2], visible=visible, hidden=hidden, dtype=torch.float64), seed=1)
    if visible == "gaussian":
        v = torch.randn(12, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    else:
        v = all_binary(4)
    log_p, log_z = np_dbn_log_p(dbn, v.numpy())
    if visible != "gaussian":
        assert abs(np.exp(log_p).sum() - 1.0) < 1e-10  # the numpy reference is a distribution
    bound = dbn.lower_bound(v, log_z=log_z, exact=True)
    assert bound.shape == (v.shape[0],) and bound.dtype == torch.float64
    gap = log_p - bound.numpy()
    assert (gap >= -1e-10).all()
    np.testing.assert_allclose(gap, np_posterior_kl(dbn, v.numpy()), atol=1e-9)
    assert gap.max() > 1e-3  # random weights: the factorial posterior is not exact


def test_bound_is_tight_for_tied_weights_and_equals_the_first_rbm():
    for sizes in ([4, 3, 4], [4, 3, 4, 3]):
        dbn = tie(randomise(DBN(sizes, dtype=torch.float64), seed=3))
        v = all_binary(4)
        log_p, log_z = np_dbn_log_p(dbn, v.numpy())
        log_p_rbm, _ = np_top_log_marginal(dbn.rbms[0], v.numpy())
        np.testing.assert_allclose(log_p, log_p_rbm, atol=1e-10)  # the tied DBN is the RBM
        np.testing.assert_allclose(dbn.lower_bound(v, log_z=log_z, exact=True).numpy(), log_p, atol=1e-9)


def test_deeper_bound_is_below_log_p_and_monte_carlo_matches_enumeration():
    dbn = randomise(DBN([4, 3, 2, 2], dtype=torch.float64), seed=4)
    v = all_binary(4)
    log_p, log_z = np_dbn_log_p(dbn, v.numpy())
    exact = dbn.lower_bound(v, log_z=log_z, exact=True)
    assert (exact.numpy() <= log_p + 1e-10).all() and (log_p - exact.numpy()).max() > 1e-3
    g = torch.Generator().manual_seed(0)
    mc = dbn.lower_bound(v, log_z=log_z, n_samples=20000, exact=False, generator=g)
    torch.testing.assert_close(mc, exact, atol=0.08, rtol=0)


def test_monte_carlo_bound_matches_enumeration_and_auto_enumerates_small_layers():
    dbn = randomise(DBN([5, 3, 2], dtype=torch.float64), seed=5)
    v = torch.bernoulli(torch.full((6, 5), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    _, log_z = np_dbn_log_p(dbn, v.numpy())
    exact = dbn.lower_bound(v, log_z=log_z, exact=True)
    g = torch.Generator().manual_seed(0)
    mc = dbn.lower_bound(v, log_z=log_z, n_samples=20000, exact=False, generator=g)
    torch.testing.assert_close(mc, exact, atol=0.05, rtol=0)
    few = dbn.lower_bound(v, log_z=log_z, n_samples=10, exact=False, generator=g)
    assert not torch.allclose(few, exact)  # really sampled
    # 2^3 = 8 states <= n_samples: enumerated, deterministic
    torch.testing.assert_close(dbn.lower_bound(v, log_z=log_z, n_samples=8), exact)


def test_bound_computes_log_z_exactly_or_by_ais():
    dbn = randomise(DBN([5, 4, 3], dtype=torch.float64), std=0.5, seed=6)
    v = all_binary(5)
    log_p, log_z = np_dbn_log_p(dbn, v.numpy())
    assert dbn.top_log_partition() == pytest.approx(log_z, abs=1e-9)
    with_exact = dbn.lower_bound(v, exact=True)
    torch.testing.assert_close(with_exact, dbn.lower_bound(v, log_z=log_z, exact=True))
    dbn.MAX_EXACT_LOG_Z_UNITS = 0  # force AIS on this small top RBM
    g = torch.Generator().manual_seed(0)
    with_ais = dbn.lower_bound(v, exact=True, ais_options={"n_runs": 100, "n_betas": 1000}, generator=g)
    torch.testing.assert_close(with_ais, with_exact, atol=0.1, rtol=0)


def test_one_rbm_dbn_bound_is_the_rbm_log_likelihood():
    dbn = randomise(DBN([4, 3], dtype=torch.float64), seed=7)
    v = all_binary(4)
    log_p, log_z = np_top_log_marginal(dbn.rbms[0], v.numpy())
    np.testing.assert_allclose(dbn.lower_bound(v, log_z=log_z).numpy(), log_p, atol=1e-10)


# ---- structure -----------------------------------------------------------------------------

def test_structure_encoder_up_and_repr():
    dbn = DBN([6, 4, 3, 2], persistent=True, n_chains=7)
    assert [(r.n_visible, r.n_hidden) for r in dbn.rbms] == [(6, 4), (4, 3), (3, 2)]
    assert all(r.persistent and r.n_chains == 7 for r in dbn.rbms)
    enc = dbn.encoder()
    assert enc[0][0].weight is dbn.rbms[0].weight and enc[2][0].bias is dbn.rbms[2].hidden_bias
    x = torch.rand(5, 6)
    ups = dbn.up(x)
    assert [u.shape for u in ups] == [(5, 4), (5, 3), (5, 2)]
    torch.testing.assert_close(ups[1], dbn.rbms[1].transform(dbn.rbms[0].transform(x)))
    torch.testing.assert_close(dbn.transform(x), enc(x))
    torch.testing.assert_close(dbn(x), ups[-1])
    assert repr(dbn).startswith("DBN(\n  [6, 4, 3, 2], persistent=True, n_chains=7\n  (rbms): ModuleList(")
    assert DBN([3, 2]).extra_repr() == "[3, 2]"
    spin = DBN([6, 4, 3], hidden="spin", propagate="sample")
    assert spin.rbms[0].visible.name == "bernoulli" and spin.rbms[1].visible.name == "spin"
    assert spin.extra_repr() == "[6, 4, 3], hidden=spin, propagate=sample"


def test_generate_down_pass_shapes_and_range():
    dbn = randomise(DBN([6, 4, 3, 2]), seed=8)
    torch.manual_seed(0)
    out = dbn.generate(5, gibbs_steps=20)
    assert out.shape == (5, 6) and float(out.min()) >= 0 and float(out.max()) <= 1
    snaps = dbn.generate(5, gibbs_steps=20, every=5)
    assert snaps.shape == (4, 5, 6)
    from_data = dbn.generate(0, gibbs_steps=3, init=torch.rand(7, 6))
    assert from_data.shape == (7, 6)
    # the down pass: with all intermediate conditionals deterministic it is the mean chain
    with torch.no_grad():
        dbn.rbms[1].visible_bias.fill_(-50.0)
        dbn.rbms[1].weight.zero_()
    h2 = torch.ones(3, 3)
    torch.testing.assert_close(dbn.down(h2), dbn.rbms[0].visible_mean(torch.zeros(3, 4)).expand(3, 6))


# ---- greedy pre-training on digits -----------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    """Binarised digits (pixel / 16 > 0.5), plus the grey levels (probabilities) for fine-tuning."""
    x, y = lw.datasets.load("digits")
    xt, yt = lw.datasets.load("digits", split="test")
    return (x > 0.5).float(), y, (xt > 0.5).float(), yt, x, xt


OPTIONS = dict(epochs=20, batch_size=32, lr=0.1, momentum=0.5, progress=False, device="cpu", seed=0)


@pytest.fixture(scope="module")
def trained(digits):
    x = digits[0]
    torch.manual_seed(0)
    dbn = DBN([64, 32, 16])
    return dbn.pretrain(x, **OPTIONS)


def test_greedy_pretraining_trains_each_layer_on_the_codes_below(digits, trained):
    x = digits[0]
    dbn = trained
    assert len(dbn.histories_) == 2 and all(len(h) == OPTIONS["epochs"] for h in dbn.histories_)
    assert len(dbn.seconds_) == 2 and all(s > 0 for s in dbn.seconds_)
    # reference: the same RBMs built from the same seed, trained one at a time by hand
    torch.manual_seed(0)
    first, second = RBM(64, 32), RBM(32, 16)
    assert not torch.allclose(second.weight, dbn.rbms[1].weight)  # layer 2 did train
    fit_options = {k: v for k, v in OPTIONS.items()}
    first.init_visible_bias(x)
    fit(first, x, **fit_options)
    torch.testing.assert_close(first.weight, dbn.rbms[0].weight)
    codes = first.transform(x)
    second.init_visible_bias(codes)
    fit(second, codes, **fit_options)
    torch.testing.assert_close(second.weight, dbn.rbms[1].weight)
    torch.testing.assert_close(second.hidden_bias, dbn.rbms[1].hidden_bias)
    assert dbn.transform(x).shape == (x.shape[0], 16)
    # the first RBM models the digits much better than chance (free energy gap to noise)
    noise = torch.bernoulli(torch.full_like(x[:200], float(x.mean())))
    with torch.no_grad():
        assert float(dbn.rbms[0].free_energy(noise).mean() - dbn.rbms[0].free_energy(x[:200]).mean()) > 10


def test_propagate_sample_trains_upper_layers_on_binary_codes(digits):
    x = digits[0][:300]
    dbn = DBN([64, 16, 8], propagate="sample", persistent=True, n_chains=20)
    seen = []
    step = dbn.rbms[1].training_step
    dbn.rbms[1].training_step = lambda batch, opt: (seen.append(batch.clone()), step(batch, opt))[1]
    dbn.pretrain(x, **{**OPTIONS, "epochs": 2})
    assert seen and set(torch.cat(seen).unique().tolist()) <= {0.0, 1.0}
    assert [len(h) for h in dbn.histories_] == [2, 2]


def test_generated_digits_and_lower_bound_on_trained_model(digits, trained):
    torch.manual_seed(0)
    samples = trained.generate(8, gibbs_steps=50)
    assert samples.shape == (8, 64) and float(samples.min()) >= 0 and float(samples.max()) <= 1
    assert trained.generate(4, gibbs_steps=20, every=10).shape == (2, 4, 64)
    xt = digits[2][:50]
    bound = trained.lower_bound(xt, n_samples=5, generator=torch.Generator().manual_seed(0))  # exact log Z: 16 units
    assert bound.shape == (50,) and bool(torch.isfinite(bound).all())
    assert float(bound.mean()) > 64 * math.log(0.5)  # better than a uniform coin per pixel


def test_to_classifier_finetunes_a_copy(digits, trained):
    x, y, xt, yt, grey, grey_t = digits
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    clf = trained.to_classifier(10)
    assert isinstance(clf, lw.Classifier) and clf.body[0][0].weight is not trained.rbms[0].weight
    torch.testing.assert_close(clf.body(xt), trained.transform(xt))
    options = dict(epochs=60, batch_size=20, lr=0.1, momentum=0.9, weight_decay=1e-3, progress=False,
                   device="cpu", seed=0)
    # 200 labels. Binarised inputs carry little: logistic regression on the 64 pixels gets 0.79 here
    # (0.82 on grey levels), pre-trained fine-tuning 0.79-0.81 (0.82-0.84 on grey levels) over seeds.
    fit(clf, (grey[:200], y[:200]), **options)
    acc = clf.accuracy(grey_t, yt)
    assert acc > 0.8, acc
    clf_bin, _ = lw.finetune(copy.deepcopy(trained.encoder()), (x[:200], y[:200]), n_classes=10, **options)
    acc_bin = clf_bin.accuracy(xt, yt)
    assert acc_bin > 0.75, acc_bin
    for k, v in trained.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    dbn = DBN([6, 4, 3], persistent=True, n_chains=7, k=2, propagate="sample", sparsity_weight=0.1)
    dbn.pretrain(torch.rand(40, 6), epochs=1, batch_size=10, progress=False, device="cpu")
    save_checkpoint(tmp_path / "ckpt", dbn)
    back = load_model(tmp_path / "ckpt")
    assert isinstance(back, DBN) and back.config() == dbn.config() and repr(back) == repr(dbn)
    for (k1, v1), (k2, v2) in zip(dbn.state_dict().items(), back.state_dict().items()):
        assert k1 == k2
        torch.testing.assert_close(v1, v2)
    assert "rbms.1.chains" in back.state_dict()


# ---- bad input -----------------------------------------------------------------------------

def test_bad_sizes_and_options():
    with pytest.raises(ValueError, match=r"'sizes' parameter must list at least 2 layer sizes"):
        DBN([784])
    with pytest.raises(ValueError, match=r"'sizes' parameter must list at least 2"):
        DBN([])
    with pytest.raises(TypeError, match=r"'sizes' parameter must be a list of ints"):
        DBN(784)
    with pytest.raises(TypeError, match=r"'sizes' parameter must be a list of ints"):
        DBN("784, 500")
    with pytest.raises(ValueError, match=r"'sizes\[1\]' parameter must be an int in the range \[1, inf\)\. Got 0"):
        DBN([784, 0, 10])
    with pytest.raises(ValueError, match=r"'sizes\[2\]'.*Got -3"):
        DBN([784, 5, -3])
    with pytest.raises(TypeError, match=r"'sizes\[1\]' parameter must be an int"):
        DBN([784, 2.5])
    with pytest.raises(ValueError, match=r"'propagate' parameter must be one of \{'mean', 'sample'\}"):
        DBN([4, 3], propagate="max")
    with pytest.raises(ValueError, match=r"'hidden' "):
        DBN([4, 3], hidden="gaussian")


def test_bad_data():
    dbn = DBN([6, 4, 3])
    with pytest.raises(ValueError, match=r"'data' has 5 features, but 6 were expected"):
        dbn.pretrain(torch.rand(10, 5), progress=False)
    with pytest.raises(ValueError, match=r"'data' must lie in \[0, 1\]"):
        dbn.pretrain(torch.rand(10, 6) * 2, progress=False)
    with pytest.raises(ValueError, match=r"'data' must be a 2-d array"):
        dbn.transform(torch.rand(6))
    with pytest.raises(ValueError, match=r"'data' has 5 features"):
        dbn.transform(torch.rand(3, 5))
    with pytest.raises(ValueError, match=r"'data' has 7 features"):
        dbn.lower_bound(torch.rand(3, 7), log_z=0.0)
    with pytest.raises(ValueError, match=r"'data' must hold only finite values"):
        dbn.up(torch.full((2, 6), float("nan")))
    with pytest.raises(ValueError, match=r"'data' has 5 features"):
        dbn.generate(2, gibbs_steps=1, init=torch.rand(2, 5))
    with pytest.raises(ValueError, match=r"'n_samples' parameter must be an int in the range \[1, inf\)"):
        dbn.lower_bound(torch.rand(3, 6), log_z=0.0, n_samples=0)
    with pytest.raises(ValueError, match=r"'n' parameter must be an int in the range \[1, inf\)"):
        dbn.generate(0)
    with pytest.raises(ValueError, match=r"exact=True enumerates the 2\^30 states of hidden layer 1"):
        DBN([4, 30, 2]).lower_bound(torch.rand(2, 4), log_z=0.0, exact=True)
