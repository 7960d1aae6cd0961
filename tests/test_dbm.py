"""Deep Boltzmann machines: log Z, conditionals and the variational bound against brute-force numpy,
AIS against exact, mean-field fixed points, the closed-form update against hand-made statistics and
autograd, training and pre-training on digits, checkpoints and bad input.

References are independent of the code under test: the joint p(v, h^1, .., h^L) tabulated in numpy
over every state; the gradient as numpy averages of outer products and as autograd of the energy.
"""

import itertools
import math

import numpy as np
import pytest
import torch

import layerwise as lw
from layerwise.checkpoint import load_model, save_checkpoint
from layerwise.models.dbm import DBM
from layerwise.partition import AISResult, MissedModeError, check_ais_result
from layerwise.training import fit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


# ---- numpy reference ------------------------------------------------------------------------

def random_dbm(sizes, seed=0, scale=1.0):
    torch.manual_seed(seed)
    m = DBM(sizes).double()
    with torch.no_grad():
        for w in m.weights:
            w.normal_(0.0, scale)
        for b in m.biases:
            b.normal_(0.0, scale)
    return m


def np_params(m):
    return ([w.detach().numpy() for w in m.weights], [b.detach().numpy() for b in m.biases])


def np_energy(ws, bs, xs):
    """E for rows of states xs = [x_0 (S, n0), ...]."""
    e = -sum(x @ b for x, b in zip(xs, bs))
    for l in range(1, len(xs)):
        e = e - np.einsum("si,ij,sj->s", xs[l], ws[l - 1], xs[l - 1])
    return e


def np_joint(m):
    """All joint states (list of per-layer arrays, S rows) and their -E."""
    ws, bs = np_params(m)
    sizes = m.sizes
    rows = np.array(list(itertools.product([0.0, 1.0], repeat=sum(sizes))))
    xs, o = [], 0
    for n in sizes:
        xs.append(rows[:, o:o + n])
        o += n
    return xs, -np_energy(ws, bs, xs)


def logsumexp(a):
    mx = a.max()
    return mx + np.log(np.exp(a - mx).sum())


def np_log_z(m):
    return logsumexp(np_joint(m)[1])


def np_log_p(m, v):
    """log p(v) for one binary visible vector by enumeration."""
    xs, neg_e = np_joint(m)
    keep = (xs[0] == v).all(1)
    return logsumexp(neg_e[keep]) - logsumexp(neg_e)


# ---- partition function -----------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[3, 2, 2], [2, 3, 2, 2], [4, 2, 3]])
def test_exact_log_partition_matches_enumeration(sizes):
    # [3,2,2] and [4,2,3] enumerate the odd layers, [2,3,2,2] the even ones
    m = random_dbm(sizes, seed=1)
    assert m.log_partition() == pytest.approx(np_log_z(m), abs=1e-10)
    assert m.float().log_partition() == pytest.approx(np_log_z(m.double()), abs=1e-4)  # float32 model: float64 sum


def test_exact_log_partition_in_batches_and_refused_when_too_large():
    m = random_dbm([3, 2, 2], seed=2)
    assert m.log_partition(batch_states=3) == pytest.approx(np_log_z(m), abs=1e-10)
    with pytest.raises(ValueError, match="method='ais'"):
        m.log_partition(max_states=2)
    with pytest.raises(ValueError, match="method='ais'"):
        DBM([30, 30, 30]).log_partition()


@pytest.mark.parametrize("use_data", [False, True])
def test_ais_within_its_band_of_exact(use_data):
    m = random_dbm([3, 2, 2], seed=3)
    data = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) if use_data else None
    res = m.log_partition("ais", n_runs=200, n_betas=1000, data=data, generator=torch.Generator().manual_seed(0))
    exact = np_log_z(m)
    assert isinstance(res, AISResult) and res.log_weights.shape == (200,)
    assert res.lower <= exact <= res.upper
    assert abs(res.log_z - exact) < 0.05
    assert float(res) == res.log_z


def test_ais_on_a_deeper_model_and_float32():
    m = random_dbm([2, 3, 2, 2], seed=4, scale=0.7).float()
    res = m.log_partition("ais", n_runs=100, n_betas=500, generator=torch.Generator().manual_seed(1))
    assert abs(res.log_z - np_log_z(m.double())) < 0.1


# ---- the proven floor on log Z and the AIS checks ------------------------------------------------

def np_even_marginals(m):
    """Distinct even-layer states (rows of [x_0, x_2, ...]) and log sum over the odd layers of exp(-E)."""
    xs, neg_e = np_joint(m)
    even = np.concatenate(xs[0::2], 1)
    keys, inverse = np.unique(even, axis=0, return_inverse=True)
    return keys, np.array([logsumexp(neg_e[inverse.ravel() == i]) for i in range(len(keys))])


@pytest.mark.parametrize("sizes", [[3, 2, 2], [2, 3, 2, 2]])
def test_floor_is_below_exact_log_z_and_equal_with_every_state(sizes):
    for seed in range(4):
        m = random_dbm(sizes, seed=seed, scale=1.5)
        keys, log_terms = np_even_marginals(m)
        torch.testing.assert_close(-m.even_free_energy(torch.from_numpy(keys)), torch.from_numpy(log_terms))
        exact = np_log_z(m)
        assert m.log_z_floor(torch.from_numpy(keys)) == pytest.approx(exact, abs=1e-10)
        rng = np.random.default_rng(seed)
        rows = keys[rng.integers(0, len(keys), size=rng.integers(1, 20))]
        floor = m.log_z_floor(torch.from_numpy(rows))
        term = {tuple(k): t for k, t in zip(keys, log_terms)}
        assert floor == pytest.approx(logsumexp(np.array([term[tuple(r)] for r in np.unique(rows, axis=0)])), abs=1e-10)
        assert floor <= exact + 1e-9
    assert m.float().log_z_floor(torch.from_numpy(keys)) == pytest.approx(exact, abs=1e-4)
    states = m.floor_states(torch.tensor([[1.0, 0.0] + [1.0] * (sizes[0] - 2)]))
    assert states.shape == (1, sum(sizes[0::2])) and set(states.unique().tolist()) <= {0.0, 1.0}


def test_ais_is_checked_against_the_floor_and_its_band_covers_exact():
    m = random_dbm([3, 2, 2], seed=3)
    exact = np_log_z(m)
    data = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    hits = 0
    for seed in range(10):
        res = m.log_partition("ais", n_runs=50, n_betas=200, data=data, generator=torch.Generator().manual_seed(seed))
        assert res.floor is not None and res.floor <= exact + 1e-9
        assert math.isfinite(res.lower) and math.isfinite(res.upper) and res.segment_variance.shape == (10,)
        hits += res.lower <= exact <= res.upper
    assert hits >= 9
    # an estimate below the floor: the bound uses the floor (never too high because of log Z)
    low = AISResult.from_log_weights(torch.full((20,), exact - 5.0, dtype=torch.float64))
    low.floor = exact - 1.0
    torch.testing.assert_close(m.lower_bound(data, log_z=low), m.lower_bound(data, log_z=exact - 1.0))
    with pytest.raises(MissedModeError):
        check_ais_result(low, exact - 1.0, "raise")


# ---- conditionals, energy, mean field, bound ---------------------------------------------------

def test_energy_matches_numpy():
    m = random_dbm([3, 2, 2], seed=5)
    xs, neg_e = np_joint(m)
    got = m.energy([torch.from_numpy(x) for x in xs]).detach().numpy()
    np.testing.assert_allclose(got, -neg_e, atol=1e-12)


@pytest.mark.parametrize("sizes", [[3, 2, 2], [2, 2, 2, 2]])
def test_conditionals_follow_bayes_rule(sizes):
    m = random_dbm(sizes, seed=6)
    xs, neg_e = np_joint(m)
    full = np.concatenate(xs, 1)
    index = {tuple(r): i for i, r in enumerate(full)}
    rng = np.random.default_rng(0)
    for row in rng.choice(len(full), size=6, replace=False):
        state = [torch.from_numpy(x[row:row + 1]) for x in xs]
        offset = 0
        for l, n in enumerate(m.sizes):
            got = m.conditional(state, l).detach().numpy()[0]
            for j in range(n):
                on, off = full[row].copy(), full[row].copy()
                on[offset + j], off[offset + j] = 1.0, 0.0
                a, b = neg_e[index[tuple(on)]], neg_e[index[tuple(off)]]
                assert got[j] == pytest.approx(1.0 / (1.0 + np.exp(b - a)), abs=1e-12)
            offset += n


@pytest.mark.parametrize("damping", [0.0, 0.5])
def test_mean_field_reaches_its_fixed_point(damping):
    m = random_dbm([5, 4, 3, 3], seed=7)
    v = torch.bernoulli(torch.full((8, 5), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    mu, steps = m.mean_field(v, steps=1000, tol=1e-10, damping=damping, return_steps=True)
    assert steps < 1000
    assert torch.equal(mu[0], v)
    for l in range(1, 4):
        assert (mu[l] - m.conditional(mu, l)).abs().max() < 1e-5
    # the recognition pass is the starting point: zero sweeps return it
    rec = m.mean_field(v, steps=0)
    w1, b1 = m.weights[0].detach(), m.biases[1].detach()
    torch.testing.assert_close(rec[1], torch.sigmoid(2 * v @ w1.T + b1))


def test_lower_bound_is_below_exact_log_likelihood():
    m = random_dbm([3, 2, 2], seed=8)
    vs = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    bound = m.lower_bound(torch.from_numpy(vs))  # log Z exact by default
    exact = np.array([np_log_p(m, v) for v in vs])
    assert bound.dtype == torch.float64 and bound.shape == (8,)
    assert (bound.numpy() <= exact + 1e-9).all()
    assert (exact - bound.numpy()).max() < 2.0  # a bound, not a blind one
    # with a log Z given (an AIS result works too)
    torch.testing.assert_close(m.lower_bound(torch.from_numpy(vs), log_z=np_log_z(m)), bound)


def test_bound_is_tight_when_the_posterior_factorises():
    # W_2 = 0: the exact posterior given v is factorial, so mean field finds it and the bound is log p(v)
    m = random_dbm([3, 2, 2], seed=9)
    with torch.no_grad():
        m.weights[1].zero_()
    vs = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    bound = m.lower_bound(torch.from_numpy(vs)).numpy()
    np.testing.assert_allclose(bound, [np_log_p(m, v) for v in vs], atol=1e-6)


# ---- training -----------------------------------------------------------------------------------

def test_training_step_is_data_minus_model_statistics():
    torch.manual_seed(0)
    m = random_dbm([4, 3, 2], seed=10, scale=0.5)
    m.n_chains = 7
    for l, n in enumerate(m.sizes):
        setattr(m, f"chain{l}", torch.bernoulli(torch.full((7, n), 0.5, dtype=torch.float64)))
    v = torch.bernoulli(torch.full((5, 4), 0.5, dtype=torch.float64))
    mu = [x.numpy() for x in m.mean_field(v)]
    before = [p.detach().clone().numpy() for p in m.parameters()]
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    loss = m.training_step(v, opt)
    xs = [x.numpy() for x in m.chains]  # the chain states after the step's k sweeps
    after = [p.detach().numpy() for p in m.parameters()]
    expect_w = [mu[l].T @ mu[l - 1] / 5 - xs[l].T @ xs[l - 1] / 7 for l in (1, 2)]
    expect_b = [mu[l].mean(0) - xs[l].mean(0) for l in range(3)]
    for a, b, g in zip(after, before, expect_w + expect_b):
        np.testing.assert_allclose(a - b, g, atol=1e-12)
    # the returned surrogate's autograd gradient is minus that update
    m2 = random_dbm([4, 3, 2], seed=10, scale=0.5)
    states_d = [torch.from_numpy(x) for x in mu]
    states_m = [torch.from_numpy(x) for x in xs]
    sur = m2.energy(states_d).mean() - m2.energy(states_m).mean()
    sur.backward()
    for p, g in zip(m2.parameters(), expect_w + expect_b):
        np.testing.assert_allclose(p.grad.numpy(), -g, atol=1e-12)
    assert float(loss) == pytest.approx(float(sur.detach()), abs=1e-12)


@pytest.fixture(scope="module")
def digits():
    x, _ = lw.datasets.load("digits")
    return (x > 0.5).float()


def mean_bound(m, x):
    """Mean variational lower bound on log p(v) with exact log Z (2^16 odd-layer states)."""
    return float(m.lower_bound(x).mean())


def test_fit_improves_reconstruction_and_bound(digits):
    x = digits[:600]
    m = DBM([64, 16, 8], n_chains=50, mf_steps=5)
    before, bound_before = m.metrics(x), mean_bound(m, x)
    hist = fit(m, x, epochs=6, batch_size=32, lr=0.05, momentum=0.5, seed=0, progress=False, device="cpu")
    after, bound_after = m.metrics(x), mean_bound(m, x)
    assert after["reconstruction_error"] < 0.7 * before["reconstruction_error"]
    assert bound_after > bound_before + 5.0  # from -64 log 2 = -44.4 nats
    assert {"loss", "reconstruction_error", "variational_free_energy"} <= set(hist.columns)
    assert np.isfinite(hist["loss"]).all()


def test_pretrain_gives_a_working_initialisation(digits):
    x = digits[:600]
    m = DBM([64, 16, 8], n_chains=50, mf_steps=5)
    before, bound_before = m.metrics(x)["reconstruction_error"], mean_bound(m, x)
    m.pretrain(x, epochs=3, batch_size=32, lr=0.05, seed=0, progress=False, device="cpu")
    assert len(m.histories_) == 2 and len(m.rbms_) == 2
    bottom, top = m.rbms_
    assert (bottom.up, bottom.down, top.up, top.down) == (2.0, 1.0, 1.0, 2.0)
    torch.testing.assert_close(m.weights[0].detach(), bottom.weight.detach())
    torch.testing.assert_close(m.weights[1].detach(), top.weight.detach())
    torch.testing.assert_close(m.biases[0].detach(), bottom.visible_bias.detach())
    torch.testing.assert_close(m.biases[1].detach(), (bottom.hidden_bias + top.visible_bias).detach() / 2)
    torch.testing.assert_close(m.biases[2].detach(), top.hidden_bias.detach())
    # the bottom RBM really doubles the bottom-up input
    torch.testing.assert_close(bottom.transform(x[:3]), torch.sigmoid(2 * x[:3] @ bottom.weight.T + bottom.hidden_bias))
    assert m.metrics(x)["reconstruction_error"] < 0.7 * before
    bound_pre = mean_bound(m, x)
    assert bound_pre > bound_before + 5.0
    fit(m, x, epochs=2, batch_size=32, lr=0.02, momentum=0.5, seed=0, progress=False, device="cpu")
    assert mean_bound(m, x) > bound_before + 5.0  # joint training keeps a working model


def test_pretrain_three_hidden_layers_halves_the_middle():
    x = torch.bernoulli(torch.full((64, 6), 0.3), generator=torch.Generator().manual_seed(0))
    m = DBM([6, 5, 4, 3])
    m.pretrain(x, epochs=1, batch_size=16, progress=False, device="cpu")
    assert [(r.up, r.down) for r in m.rbms_] == [(2.0, 1.0), (2.0, 2.0), (1.0, 2.0)]


# ---- features, generation, classifier -------------------------------------------------------------

def test_transform_sample_and_classifier():
    m = random_dbm([6, 4, 3], seed=11, scale=0.3).float()
    v = torch.bernoulli(torch.full((5, 6), 0.5))
    assert m.transform(v).shape == (5, 3)
    assert m.transform(v, layers="all").shape == (5, 7)
    s = m.sample(9, steps=5)
    assert s.shape == (9, 6) and ((s >= 0) & (s <= 1)).all()
    states = m.gibbs(m.random_states(4), 3, clamp_visible=True)
    assert [t.shape for t in states] == [(4, 6), (4, 4), (4, 3)]
    assert all(set(t.unique().tolist()) <= {0.0, 1.0} for t in states)
    clf = m.to_classifier(3)
    assert clf(v).shape == (5, 3)
    lin = clf.body[0][0]
    torch.testing.assert_close(lin.weight, 2 * m.weights[0].detach())
    torch.testing.assert_close(clf.body(v), m.mean_field(v, steps=0)[-1])  # the recognition pass
    fit(clf, (v, torch.tensor([0, 1, 2, 0, 1])), epochs=1, batch_size=5, progress=False, device="cpu")
    assert torch.equal(m.weights[0], random_dbm([6, 4, 3], seed=11, scale=0.3).float().weights[0])


def test_repr_and_config():
    assert repr(DBM([5, 4, 3])) == "DBM([5, 4, 3])"
    assert repr(DBM([5, 4, 3], k=2, damping=0.5)) == "DBM([5, 4, 3], damping=0.5, k=2)"
    assert DBM(**DBM([5, 4, 3], mf_steps=3).config()).mf_steps == 3


def test_checkpoint_round_trip(tmp_path):
    m = random_dbm([5, 4, 3], seed=12).float()
    x = torch.bernoulli(torch.full((20, 5), 0.5))
    fit(m, x, epochs=1, batch_size=10, progress=False, device="cpu")
    save_checkpoint(tmp_path / "ck", m)
    back = load_model(tmp_path / "ck")
    assert isinstance(back, DBM) and back.config() == m.config()
    for (n1, t1), (n2, t2) in zip(m.state_dict().items(), back.state_dict().items()):
        assert n1 == n2 and torch.equal(t1, t2)
    assert "chain0" in back.state_dict()


# ---- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes, error, match", [
    ([5], ValueError, "at least 3"),
    ([5, 4], ValueError, "layerwise.RBM"),
    ([5, 0, 3], ValueError, "sizes\\[1\\]"),
    ([5, -2, 3], ValueError, "sizes\\[1\\]"),
    ("5,4,3", TypeError, "list of ints"),
    ([5, 4.5, 3], TypeError, "sizes\\[1\\]"),
])
def test_bad_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        DBM(sizes)


def test_bad_options_and_data():
    with pytest.raises(ValueError, match="n_chains"):
        DBM([3, 2, 2], n_chains=0)
    with pytest.raises(ValueError, match="damping"):
        DBM([3, 2, 2], damping=1.0)
    with pytest.raises(ValueError, match="'k'"):
        DBM([3, 2, 2], k=0)
    m = DBM([3, 2, 2])
    with pytest.raises(ValueError, match="3 were expected"):
        m.mean_field(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="2-d"):
        m.transform(torch.zeros(3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit(m, torch.full((4, 3), 2.0), epochs=1, progress=False, device="cpu")
    with pytest.raises(ValueError, match="finite"):
        m.lower_bound(torch.full((2, 3), float("nan")), log_z=0.0)
    with pytest.raises(ValueError, match="states"):
        m.energy([torch.zeros(2, 3), torch.zeros(2, 2)])
    with pytest.raises(ValueError, match="method"):
        m.log_partition("bogus")
    with pytest.raises(ValueError, match="n_runs"):
        m.log_partition("ais", n_runs=0)
    with pytest.raises(ValueError, match="n_runs"):
        m.log_partition("ais", n_runs=-3)
    with pytest.raises(ValueError, match="n_betas"):
        m.log_partition("ais", n_betas=1)
    with pytest.raises(ValueError, match="betas"):
        m.log_partition("ais", betas=[0.0, 0.7, 0.5])
    with pytest.raises(ValueError, match="layers"):
        m.transform(torch.zeros(2, 3), layers="middle")
