"""The proven floor on log Z and the AIS diagnostics (layerwise.partition.floor, .ais) against
independent references: brute-force numpy sums of exp(-E) over every (v, h) of small RBMs, the
effective sample size and the delta-method band by hand, and a plain AIS loop written here."""

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from _models import random_rbm

from layerwise.models.rbm import RBM
from layerwise.partition import (
    MIN_ESS,
    AISResult,
    LowESSWarning,
    MissedModeError,
    MissedModeWarning,
    RBMPath,
    ais_log_partition,
    anneal,
    check_ais_result,
    distinct_states,
    exact_log_partition,
    log_likelihood,
    log_z_floor,
    report_log_likelihood,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

STATES = {"bernoulli": (0.0, 1.0), "spin": (-1.0, 1.0)}


def np_log_terms(rbm, vs):
    """log sum_h exp(-E(v, h)) for each row of vs, by summing over every h in numpy."""
    w, b, c = (t.detach().numpy() for t in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))
    hs = np.array(list(itertools.product(STATES[rbm.hidden.name], repeat=rbm.n_hidden)))
    neg_e = (vs @ b)[:, None] + (hs @ c)[None, :] + vs @ w.T @ hs.T
    return logsumexp(neg_e, axis=1)


def all_visible(rbm):
    return np.array(list(itertools.product(STATES[rbm.visible.name], repeat=rbm.n_visible)))


# ---- the floor ------------------------------------------------------------------------------------

@pytest.mark.parametrize("visible,hidden", [("bernoulli", "bernoulli"), ("spin", "bernoulli"), ("bernoulli", "spin")])
def test_floor_is_below_exact_log_z_for_any_states(visible, hidden):
    for seed in range(8):
        rbm = random_rbm(7, 5, visible, hidden, seed=seed, scale=1.5)
        vs = all_visible(rbm)
        exact = float(logsumexp(np_log_terms(rbm, vs)))
        assert exact_log_partition(rbm) == pytest.approx(exact, abs=1e-10)
        rng = np.random.default_rng(100 + seed)
        rows = vs[rng.integers(0, len(vs), size=rng.integers(1, 300))]  # with repeats
        floor = log_z_floor(rbm, torch.from_numpy(rows))
        distinct = np.unique(rows, axis=0)
        assert floor == pytest.approx(float(logsumexp(np_log_terms(rbm, distinct))), abs=1e-10)
        assert floor <= exact + 1e-12
        # every state: the floor is log Z itself; repeats and order change nothing
        everything = torch.from_numpy(np.concatenate([vs, vs[::-1]]))
        assert log_z_floor(rbm, everything) == pytest.approx(exact, abs=1e-10)
        assert log_z_floor(rbm, [everything[:40], everything[40:]]) == pytest.approx(exact, abs=1e-10)


def test_floor_in_float32_chunks_and_refusals():
    rbm = random_rbm(8, 6, seed=3)
    exact = exact_log_partition(rbm)
    vs = torch.from_numpy(all_visible(rbm))
    assert log_z_floor(rbm.float(), vs.float()) == pytest.approx(exact, abs=1e-4)  # float64 sum of a float32 model
    assert distinct_states(torch.cat([vs, vs])).shape == vs.shape
    with pytest.raises(ValueError, match="each entry 0.0 or 1.0; got 0.5"):
        log_z_floor(rbm, torch.full((2, 8), 0.5))
    with pytest.raises(ValueError, match="discrete visible units"):
        log_z_floor(RBM(3, 2, visible="gaussian"), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="non-empty 2-d"):
        log_z_floor(rbm, torch.zeros(8))


# ---- the diagnostics --------------------------------------------------------------------------------

def test_ess_and_band_against_hand_computations():
    log_w = torch.log(torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)) + 5.0
    res = AISResult.from_log_weights(log_w)
    w = np.array([1.0, 2.0, 3.0, 6.0])
    assert res.effective_sample_size == pytest.approx(w.sum() ** 2 / (w ** 2).sum())  # 144 / 50
    assert res.log_z == pytest.approx(5.0 + math.log(w.mean()))
    se = w.std(ddof=1) / math.sqrt(4) / w.mean()  # delta method: se of log mean w
    assert res.lower == pytest.approx(res.log_z - 3 * se) and res.upper == pytest.approx(res.log_z + 3 * se)
    assert res.log_weight_std == pytest.approx(np.log(w).std(ddof=1))
    assert not res.reliable  # ESS 2.88 < MIN_ESS
    # one run carries all the weight: the old band log(mean - 3 se) had an infinite end; this one is finite
    spread = AISResult.from_log_weights(torch.tensor([0.0] + [-800.0] * 99, dtype=torch.float64))
    assert math.isfinite(spread.lower) and math.isfinite(spread.upper) and spread.lower < spread.log_z < spread.upper
    assert spread.effective_sample_size == pytest.approx(1.0)
    equal = AISResult.from_log_weights(torch.full((20,), 3.0, dtype=torch.float64))
    assert equal.effective_sample_size == pytest.approx(20) and equal.reliable
    assert equal.lower == equal.upper == equal.log_z == pytest.approx(3.0)


def _plain_ais(rbm, b_a, betas, n_runs, seed):
    """The AIS loop without diagnostics (as before them), for the bitwise comparison."""
    path, gen = RBMPath(rbm, b_a), torch.Generator().manual_seed(seed)
    bl = betas.tolist()
    x = path.sample_base(n_runs, gen)
    log_w = torch.zeros(n_runs, dtype=torch.float64)
    for k in range(1, len(bl)):
        if bl[k] != bl[k - 1]:
            log_w += path.log_weight(x, bl[k - 1], bl[k])
        if k < len(bl) - 1:
            x = path.transition(x, bl[k], gen)
    return log_w + path.log_base_z


def test_diagnostics_leave_the_estimate_unchanged_and_decompose_the_variance():
    rbm = random_rbm(12, 8, seed=4, scale=0.8)
    betas = torch.cat([torch.linspace(0, 0.5, 40, dtype=torch.float64), torch.linspace(0.5, 1, 81, dtype=torch.float64)])
    ref = _plain_ais(rbm, rbm.visible_bias.detach().clone(), betas, 30, seed=7)
    for segments in (1, 10, [0.0, 0.5, 0.9, 1.0]):
        for check in ("warn", "off"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LowESSWarning)
                res = ais_log_partition(rbm, n_runs=30, betas=betas, generator=torch.Generator().manual_seed(7),
                                        segments=segments, floor_check=check)
            assert torch.equal(res.log_weights, ref)  # same random stream, same numbers, bitwise
    assert res.segment_betas.tolist() == [0.0, 0.5, 0.9, 1.0]
    # the cumulative log weight at the last edge is the whole log weight; increments add up to it
    assert float(res.cumulative_variance[-1]) == pytest.approx(float(res.log_weights.var()))
    path, gen = RBMPath(rbm, rbm.visible_bias.detach().clone()), torch.Generator().manual_seed(7)
    r2 = anneal(path, betas, 30, gen, segments=[0.0, 0.5, 0.9, 1.0])
    assert r2.segment_variance.shape == (3,) and bool((r2.segment_variance >= 0).all())
    # with a single segment its increment is the whole log weight
    r1 = anneal(RBMPath(rbm, rbm.visible_bias.detach().clone()), betas, 30, torch.Generator().manual_seed(7), segments=1)
    assert float(r1.segment_variance[0]) == pytest.approx(float(r1.log_weights.var()))
    with pytest.raises(ValueError, match="'segments'"):
        anneal(path, betas, 3, segments=[0.0, 0.7, 0.5, 1.0])


def test_band_covers_exact_log_z_over_seeds():
    """±3 SE in log space: nearly every seed's band holds the exact log Z (a miss allowed)."""
    rbm = random_rbm(10, 8, seed=5, scale=0.7)
    exact = exact_log_partition(rbm)
    hits = 0
    for seed in range(20):
        res = ais_log_partition(rbm, n_runs=50, n_betas=200, generator=torch.Generator().manual_seed(seed))
        assert math.isfinite(res.lower) and math.isfinite(res.upper)
        assert res.floor <= exact + 1e-12  # the floor of the AIS end states
        hits += res.lower <= exact <= res.upper
    assert hits >= 18


# ---- a mode AIS misses -------------------------------------------------------------------------------

def one_mode_rbm(alpha=20.0):
    """20 visible, 10 hidden units; every hidden unit turns on only when all 20 visible units are on
    (weights alpha, bias -19.5 alpha), so the all-ones pattern has log mass about 10 alpha - 20, far
    above the rest (visible biases -1), and far from data with 30 % ones."""
    rbm = RBM(20, 10, dtype=torch.float64)
    with torch.no_grad():
        rbm.weight.fill_(alpha)
        rbm.hidden_bias.fill_(-19.5 * alpha)
        rbm.visible_bias.fill_(-1.0)
    return rbm


def test_a_missed_mode_is_caught_by_the_floor():
    rbm = one_mode_rbm()
    exact = exact_log_partition(rbm)  # 2^10 hidden states
    data = (torch.rand(200, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64) < 0.3).double()
    seen = torch.cat([data, torch.ones(1, 20, dtype=torch.float64)])  # a chain that visited the mode
    with pytest.warns(MissedModeWarning, match="missed a mode"):
        res = ais_log_partition(rbm, n_runs=20, n_betas=100, data=data, floor_states=seen,
                                generator=torch.Generator().manual_seed(1))
    assert res.log_z < res.floor <= exact + 1e-9 and exact - res.floor < 1e-3  # the mode is nearly all of Z
    assert res.below_floor and not res.reliable and res.log_z_checked == res.floor
    assert res.effective_sample_size >= MIN_ESS  # the weights look healthy: only the floor tells
    with pytest.raises(MissedModeError, match="below the proven floor"):
        ais_log_partition(rbm, n_runs=20, n_betas=100, data=data, floor_states=seen, floor_check="raise",
                          generator=torch.Generator().manual_seed(1))
    # the reported figure is the proven upper bound, and it is above the exact log-likelihood
    test = data[:50]
    neg_f = -rbm.free_energy(test).detach()
    rep = report_log_likelihood(neg_f, res)
    exact_ll = float(neg_f.mean()) - exact
    assert rep.kind == "upper bound (proven)" and str(rep).startswith("<= ") and str(rep).endswith("(proven)")
    assert rep.value == pytest.approx(float(neg_f.mean()) - res.floor) and rep.value >= exact_ll - 1e-9
    assert rep.estimate > rep.value  # the AIS figure is too high: what the check prevents
    ll = log_likelihood(rbm, test, log_z=res)  # per example, with log_z_checked
    torch.testing.assert_close(ll, neg_f - res.floor)
    # a persistent chain that sits in the mode is used without being passed
    pcd = RBM(20, 10, persistent=True, n_chains=3, dtype=torch.float64)
    pcd.load_state_dict({**rbm.state_dict(), "chains": torch.cat([data[:2], torch.ones(1, 20, dtype=torch.float64)])})
    with pytest.warns(MissedModeWarning):
        chained = ais_log_partition(pcd, n_runs=20, n_betas=100, data=data, generator=torch.Generator().manual_seed(1))
    assert chained.floor == pytest.approx(res.floor, abs=1e-3)
    # floor_check='off': no floor, no check
    quiet = ais_log_partition(rbm, n_runs=20, n_betas=100, data=data, generator=torch.Generator().manual_seed(1),
                              floor_check="off")
    assert quiet.floor is None


def test_low_ess_is_flagged_and_reports_say_so():
    rbm = one_mode_rbm(alpha=4.0)  # a milder mode, found by some runs only
    with pytest.warns(LowESSWarning, match="effective sample size"):
        res = ais_log_partition(rbm, n_runs=5, n_betas=50, generator=torch.Generator().manual_seed(0))
    assert res.effective_sample_size < MIN_ESS and not res.reliable
    rep = report_log_likelihood(torch.tensor([-3.0, -5.0]), res)
    assert rep.kind in ("unreliable estimate", "upper bound (proven)") and "proven" in str(rep)
    good = AISResult.from_log_weights(torch.zeros(50, dtype=torch.float64))
    good.floor = -1.0
    assert report_log_likelihood(2.0, good).kind == "estimate" and report_log_likelihood(2.0, good).value == 2.0
    assert report_log_likelihood(2.0, 0.5, exact=True).kind == "exact"


def test_a_shortfall_inside_the_band_is_noise_not_a_missed_mode():
    """The floor above the estimate but inside its band: no warning, yet the checked log Z is the floor;
    above the band's upper end: the missed-mode warning (or error)."""
    log_w = torch.linspace(-1.0, 1.0, 50, dtype=torch.float64)
    res = AISResult.from_log_weights(log_w)
    inside = res.log_z + 0.5 * (res.upper - res.log_z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_ais_result(res, floor=inside, floor_check="raise")
    assert res.below_floor and not res.reliable and res.log_z_checked == inside
    beyond = AISResult.from_log_weights(log_w)
    with pytest.warns(MissedModeWarning, match="missed a mode"):
        check_ais_result(beyond, floor=beyond.upper + 0.01)
    with pytest.raises(MissedModeError):
        check_ais_result(AISResult.from_log_weights(log_w), floor=beyond.upper + 0.01, floor_check="raise")
