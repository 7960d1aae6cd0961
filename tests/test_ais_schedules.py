"""AIS schedules from a measured variance (layerwise.partition.schedules, adaptive_betas).

References: the allocation rule computed by hand on two segments; exact log Z of a small RBM by
summing exp(-F(v)) over all 2^n visible states in numpy; a constructed annealing path whose
normaliser is known and whose log-weight variance sits in a known beta range.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from _models import random_rbm

from layerwise.partition import (
    AnnealingPath,
    RBMPath,
    adaptive_betas,
    ais_betas,
    ais_log_partition,
    anneal,
    betas_from_variance,
    nonempty_segments,
    steps_per_segment,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


class StepPath(AnnealingPath):
    """``p*_beta(x) = exp(-(x - m(beta))^2 / 2)``: a unit Gaussian whose mean rises by ``height``
    over beta in [lo, hi] and is flat elsewhere, with exact transitions (a fresh draw of p_beta).
    Z is ``sqrt(2 pi)`` at every beta; the Fisher information along the path, ``m'(beta)^2``,
    is ``(height / (hi - lo))^2`` inside [lo, hi] and 0 outside, so all the variance accrues there."""

    def __init__(self, lo=0.6, hi=0.7, height=10.0):
        self.lo, self.hi, self.height = lo, hi, height
        self.log_base_z = 0.5 * math.log(2 * math.pi)
        self.device = "cpu"

    def mean(self, beta):
        return self.height * min(max((beta - self.lo) / (self.hi - self.lo), 0.0), 1.0)

    def sample_base(self, n_runs, generator):
        return torch.randn(n_runs, dtype=torch.float64, generator=generator) + self.mean(0.0)

    def log_unnormalised(self, x, beta):
        return -((x - self.mean(beta)) ** 2) / 2

    def transition(self, x, beta, generator):
        return torch.randn(x.shape[0], dtype=torch.float64, generator=generator) + self.mean(beta)


def brute_log_z(rbm):
    """log sum_v exp(b.v + sum_j log(1 + exp(c_j + W_j v))) over every binary v, in numpy."""
    w, b, c = (t.detach().numpy() for t in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))
    vs = np.array(list(itertools.product((0.0, 1.0), repeat=rbm.n_visible)))
    return float(logsumexp(vs @ b + np.logaddexp(0, vs @ w.T + c).sum(1)))


def test_betas_from_variance_follows_the_rule_by_hand():
    # two halves, pilot variance 4 and 1 over one step each: sqrt(n v) = 2 and 1, so of 300 steps
    # 200 go to (0, 0.5] and 100 to (0.5, 1], each half spaced evenly
    betas = betas_from_variance([0.0, 0.5, 1.0], [4.0, 1.0], [1, 1], 301, uniform_fraction=0.0)
    assert betas.dtype == torch.float64 and betas.numel() == 301
    assert float(betas[0]) == 0.0 and float(betas[-1]) == 1.0
    assert steps_per_segment([0.0, 0.5, 1.0], betas).tolist() == [200, 100]
    d = torch.diff(betas)
    torch.testing.assert_close(d[:200], torch.full((200,), 0.5 / 200, dtype=torch.float64))
    torch.testing.assert_close(d[200:], torch.full((100,), 0.5 / 100, dtype=torch.float64))
    # pilot step counts weigh in: v = 1 over 4 steps is sqrt(4) = 2 as well
    even = betas_from_variance([0.0, 0.5, 1.0], [1.0, 1.0], [4, 1], 301, uniform_fraction=0.0)
    assert steps_per_segment([0.0, 0.5, 1.0], even).tolist() == [200, 100]
    # a uniform share u: mass (1 - u) 2/3 + u / 2 = 7/12 of the steps with u = 1/2
    mixed = betas_from_variance([0.0, 0.5, 1.0], [4.0, 1.0], [1, 1], 1201, uniform_fraction=0.5)
    assert steps_per_segment([0.0, 0.5, 1.0], mixed).tolist() == [700, 500]


def test_betas_from_variance_without_variance_is_uniform():
    betas = betas_from_variance(torch.linspace(0, 1, 5), torch.zeros(4), [3, 3, 3, 3], 11)
    torch.testing.assert_close(betas, torch.linspace(0, 1, 11, dtype=torch.float64))
    # a segment with neither variance nor a uniform share gets no step (repeated betas)
    lopsided = betas_from_variance([0.0, 0.5, 1.0], [0.0, 1.0], [1, 1], 11, uniform_fraction=0.0)
    assert steps_per_segment([0.0, 0.5, 1.0], lopsided).tolist() == [0, 10]


def test_nonempty_segments_merges_segments_without_steps():
    edges = torch.linspace(0, 1, 11, dtype=torch.float64)
    merged = nonempty_segments(edges, [0.0, 0.05, 0.35, 1.0])  # steps in (0, .1], (.3, .4], (.9, 1]
    torch.testing.assert_close(merged, torch.tensor([0.0, 0.1, 0.4, 1.0], dtype=torch.float64))
    assert steps_per_segment(merged, [0.0, 0.05, 0.35, 1.0]).tolist() == [1, 1, 1]
    # an empty segment joins its right neighbour (the last one always holds the step to beta = 1)
    torch.testing.assert_close(nonempty_segments([0.0, 0.5, 0.9, 1.0], [0.0, 0.2, 1.0]),
                               torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="uniform_fraction"):
        betas_from_variance([0.0, 1.0], [1.0], [1], 11, uniform_fraction=1.5)
    with pytest.raises(ValueError, match="one value per segment"):
        betas_from_variance([0.0, 0.5, 1.0], [1.0], [1, 1], 11)
    with pytest.raises(ValueError, match="edges"):
        steps_per_segment([0.0, 0.7, 0.5, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="n_betas"):
        adaptive_betas(StepPath(), 1)
    with pytest.raises(ValueError, match="pilot_runs"):
        adaptive_betas(StepPath(), 100, pilot_runs=1)
    rbm = random_rbm(6, 3, seed=0)
    with pytest.raises(ValueError, match="schedule"):
        ais_log_partition(rbm, n_runs=4, n_betas=20, schedule="fast")
    with pytest.raises(ValueError, match="not both"):
        ais_log_partition(rbm, n_runs=4, betas=[0.0, 0.5, 1.0], schedule="adaptive")


def test_default_schedule_is_unchanged_bitwise():
    rbm = random_rbm(8, 4, seed=1)
    default = ais_log_partition(rbm, n_runs=16, n_betas=1200, generator=torch.Generator().manual_seed(3),
                                floor_check="off")
    paper = ais_log_partition(rbm, n_runs=16, n_betas=1200, schedule="paper",
                              generator=torch.Generator().manual_seed(3), floor_check="off")
    # the reference: the one loop on the paper's shape, as before the schedules existed
    ref = anneal(RBMPath(rbm, rbm.visible_bias.detach().clone()), ais_betas(1200), 16,
                 torch.Generator().manual_seed(3))
    assert torch.equal(default.log_weights, ref.log_weights)
    assert torch.equal(paper.log_weights, ref.log_weights)
    assert default.log_z == ref.log_z


def test_adaptive_schedule_moves_temperatures_to_the_variance_and_wins_at_equal_cost():
    path = StepPath(0.6, 0.7, height=10.0)
    n_betas = 1001  # 1000 steps for both schedules
    adaptive = adaptive_betas(path, n_betas, pilot_runs=20, generator=torch.Generator().manual_seed(0))
    paper = ais_betas(n_betas)
    assert adaptive.numel() == paper.numel() == n_betas

    def inside(b):
        return int(((b[1:] > 0.6) & (b[1:] <= 0.7)).sum())

    # with exact transitions Var log w = sum_k (delta m_k)^2: the paper's shape puts 1000 * 1000/14500
    # = 69 steps in (0.6, 0.7] (variance 100 / 69 = 1.45), the adaptive one most of its 1000
    assert abs(inside(paper) - 69) <= 1
    assert inside(adaptive) >= 800
    errors, ess, var = {"paper": [], "adaptive": []}, {"paper": [], "adaptive": []}, {"paper": [], "adaptive": []}
    for seed in range(6):
        for name, betas in (("paper", paper), ("adaptive", adaptive)):
            r = anneal(path, betas, 100, torch.Generator().manual_seed(100 + seed))
            errors[name].append(abs(r.log_z - path.log_base_z))  # exact log Z = log Z_0
            ess[name].append(r.effective_sample_size)
            var[name].append(float(r.log_weights.var()))
    assert np.mean(var["paper"]) == pytest.approx(100 / 69, rel=0.25)
    assert np.mean(var["adaptive"]) < 0.2 < 1.0 < np.mean(var["paper"])
    assert min(ess["adaptive"]) > max(ess["paper"])
    assert np.mean(errors["adaptive"]) < np.mean(errors["paper"])


def test_adaptive_estimate_covers_exact_log_z_on_an_enumerable_rbm():
    # a 10-6 RBM with strong weights (log Z by summing 2^10 states); the +-3 SE band should cover
    # exact log Z in ~99 % of seeds: at least 5 of 6 here
    rbm = random_rbm(10, 6, seed=2, scale=1.5)
    exact = brute_log_z(rbm)
    covered, errors = 0, []
    for seed in range(6):
        r = ais_log_partition(rbm, n_runs=100, n_betas=400, schedule="adaptive", pilot_runs=10, pilot_betas=200,
                              generator=torch.Generator().manual_seed(seed), floor_check="off")
        covered += r.lower <= exact <= r.upper
        errors.append(r.log_z - exact)
    assert covered >= 5, (exact, errors)
    assert max(abs(e) for e in errors) < 0.2
