"""Tests of layerwise.functional's Boltzmann helpers against independent references
(itertools, scipy, torch.distributions, torch.bernoulli)."""

import itertools

import numpy as np
import pytest
import torch
from scipy.special import expit
from scipy.stats import bernoulli

from layerwise import functional as LF

pytestmark = pytest.mark.usefixtures("one_thread")


# ---- binary_states -------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("states", [(0.0, 1.0), (-1.0, 1.0)])
def test_binary_states_are_every_state_once_bit_j_is_unit_j(n, states):
    s = LF.binary_states(n, states, dtype=torch.float64)
    assert s.shape == (2**n, n) and s.dtype == torch.float64
    # row k holds the bits of k, least significant first: itertools.product over reversed units
    expected = [tuple(reversed(p)) for p in itertools.product(states, repeat=n)]
    assert [tuple(r) for r in s.tolist()] == expected
    assert len(set(map(tuple, s.tolist()))) == 2**n


def test_binary_states_slices_concatenate_to_the_whole_table():
    whole = LF.binary_states(6)
    parts = [LF.binary_states(6, start=i, stop=min(i + 7, 64)) for i in range(0, 64, 7)]
    assert torch.equal(torch.cat(parts), whole)
    assert whole.dtype == torch.get_default_dtype()
    assert torch.equal(LF.binary_states(3)[5], torch.tensor([1.0, 0.0, 1.0]))  # 5 = 0b101


# ---- log_bernoulli ---------------------------------------------------------------------------------

def test_log_bernoulli_matches_scipy_logpmf():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 7, generator=g, dtype=torch.float64) * 3
    x = (torch.rand(4, 7, generator=g, dtype=torch.float64) < 0.5).double()
    ref = bernoulli.logpmf(x.numpy(), expit(logits.numpy())).sum(-1)
    np.testing.assert_allclose(LF.log_bernoulli(x, logits).numpy(), ref, rtol=1e-12)


def test_log_bernoulli_of_probabilities_is_the_negative_cross_entropy():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5, generator=g, dtype=torch.float64)
    p = torch.rand(3, 5, generator=g, dtype=torch.float64)
    ref = -torch.nn.functional.binary_cross_entropy_with_logits(logits, p, reduction="none").sum(-1)
    torch.testing.assert_close(LF.log_bernoulli(p, logits), ref)
    # extreme logits stay finite (no log(0))
    assert torch.isfinite(LF.log_bernoulli(torch.tensor([1.0, 0.0]), torch.tensor([-200.0, 200.0]))).all()


# ---- bernoulli_entropy -----------------------------------------------------------------------------

def test_bernoulli_entropy_from_probs_and_logits_matches_scipy():
    logits = torch.linspace(-8, 8, 33, dtype=torch.float64)
    p = torch.sigmoid(logits)
    ref = bernoulli.entropy(p.numpy())
    np.testing.assert_allclose(LF.bernoulli_entropy(p).numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(LF.bernoulli_entropy(logits=logits).numpy(), ref, rtol=1e-10)
    torch.testing.assert_close(LF.bernoulli_entropy(p), torch.distributions.Bernoulli(probs=p).entropy())


def test_bernoulli_entropy_edges_and_arguments():
    assert torch.equal(LF.bernoulli_entropy(torch.tensor([0.0, 1.0])), torch.zeros(2))  # 0 log 0 = 0
    assert float(LF.bernoulli_entropy(torch.tensor(0.5, dtype=torch.float64))) == pytest.approx(np.log(2))
    assert torch.isfinite(LF.bernoulli_entropy(logits=torch.tensor([-500.0, 500.0]))).all()
    with pytest.raises(ValueError, match="exactly one of 'probs' and 'logits'"):
        LF.bernoulli_entropy()
    with pytest.raises(ValueError, match="exactly one"):
        LF.bernoulli_entropy(torch.ones(1), logits=torch.ones(1))


# ---- sample_bernoulli ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_bernoulli_draws_what_torch_bernoulli_draws_on_the_cpu(dtype):
    p = torch.rand(50, 40, generator=torch.Generator().manual_seed(2), dtype=dtype)
    a = LF.sample_bernoulli(p, torch.Generator().manual_seed(3))
    b = torch.bernoulli(p, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.dtype == dtype
    torch.manual_seed(4)
    a = LF.sample_bernoulli(p.expand(3, 50, 40))  # the global generator, an expanded input
    torch.manual_seed(4)
    assert torch.equal(a, torch.bernoulli(p.expand(3, 50, 40)))


def test_sample_bernoulli_frequencies_and_limits():
    p = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0], dtype=torch.float64)
    x = LF.sample_bernoulli(p.expand(40000, 5), torch.Generator().manual_seed(5))
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    freq = x.mean(0)
    assert freq[0] == 0 and freq[-1] == 1
    se = (p * (1 - p) / 40000).sqrt()
    assert torch.all((freq - p).abs() <= 5 * se + 1e-12)
    # probabilities outside [0, 1] act as clamped
    assert torch.equal(LF.sample_bernoulli(torch.tensor([-0.5, 1.5])), torch.tensor([0.0, 1.0]))
