"""layerwise.functional against independent references: autograd, torch.nn.functional losses,
hand formulas, binomial statistics, torch's own max unpooling, and for the Boltzmann helpers
itertools, scipy, torch.distributions and torch.bernoulli."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import expit
from scipy.stats import bernoulli

from layerwise import functional as LF

ELEMENTWISE = ["sigmoid", "tanh", "relu", "linear"]
DT = torch.float64


# ==== activations, corruptions, losses, penalties, convolutional maps (moved from test_autoencoder,
# ==== test_deconv and test_csc; other tests of layerwise.functional go in their own block) ==========

# ---- activations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_derivative_through_output_matches_autograd(name):
    a = torch.randn(50, dtype=torch.float64, requires_grad=True)
    y = LF.activate(name, a)
    (grad,) = torch.autograd.grad(y.sum(), a)
    torch.testing.assert_close(LF.activation_derivative(name, y.detach()), grad)
    with pytest.raises(ValueError, match="elementwise"):
        LF.activation_derivative("softmax", y)


# ---- corruptions ---------------------------------------------------------------------------------


def _within_binomial(count, n, p, k=5.0):
    return abs(count - n * p) <= k * math.sqrt(n * p * (1 - p))


def test_masking_noise_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 250) + 0.5  # no zeros in the clean data
    p = 0.3
    y = LF.masking_noise(x, p, generator=g)
    zero = y == 0
    assert _within_binomial(int(zero.sum()), x.numel(), p)
    assert torch.equal(y[~zero], x[~zero])
    # independent per sample: the masks of different rows differ
    assert not torch.equal(zero[0], zero[1])
    per_row = zero.float().mean(1)
    assert per_row.std() > 0


def test_salt_and_pepper_statistics():
    g = torch.Generator().manual_seed(1)
    x = torch.full((400, 250), 0.5)
    p = 0.2
    y = LF.salt_and_pepper(x, p, generator=g)
    low, high = int((y == 0).sum()), int((y == 1).sum())
    n = x.numel()
    assert _within_binomial(low + high, n, p)
    assert _within_binomial(low, low + high, 0.5)
    assert int((y == 0.5).sum()) == n - low - high
    y2 = LF.salt_and_pepper(x, 1.0, low=-1.0, high=2.0, generator=g)
    assert set(y2.unique().tolist()) == {-1.0, 2.0}


def test_gaussian_noise_statistics():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(500, 200, dtype=torch.float64)
    eps = LF.gaussian_noise(x, 0.3, generator=g) - x
    n = eps.numel()
    assert abs(float(eps.mean())) < 5 * 0.3 / math.sqrt(n)
    assert abs(float(eps.std()) - 0.3) < 5 * 0.3 / math.sqrt(2 * n)


def test_generator_makes_noise_reproducible():
    x = torch.rand(10, 10)
    a = LF.masking_noise(x, 0.5, generator=torch.Generator().manual_seed(3))
    b = LF.masking_noise(x, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


# ---- penalties and losses --------------------------------------------------------------------------


def test_kl_sparsity_hand_formula():
    rho_hat = torch.tensor([0.1, 0.5, 0.02], dtype=torch.float64)
    rho = 0.05
    hand = sum(rho * math.log(rho / q) + (1 - rho) * math.log((1 - rho) / (1 - q)) for q in [0.1, 0.5, 0.02])
    assert float(LF.kl_sparsity(rho_hat, rho)) == pytest.approx(hand, rel=1e-12)
    assert float(LF.kl_sparsity(torch.full((4,), rho), rho)) == pytest.approx(0.0, abs=1e-12)
    # clamped: dead and saturated units give a finite penalty
    assert math.isfinite(float(LF.kl_sparsity(torch.tensor([0.0, 1.0]), rho)))


def test_losses_against_hand_formulas():
    torch.manual_seed(0)
    a = torch.randn(6, 9, dtype=torch.float64)
    x = torch.rand(6, 9, dtype=torch.float64)
    y = torch.sigmoid(a)
    torch.testing.assert_close(LF.mse_loss(y, x), F.mse_loss(y, x))
    torch.testing.assert_close(LF.sse_loss(y, x), 0.5 * ((y - x) ** 2).sum() / 6)
    torch.testing.assert_close(LF.bce_with_logits(a, x), F.binary_cross_entropy(y, x, reduction="sum") / 6)
    p = x / x.sum(1, keepdim=True)
    ce_hand = -(p * torch.log(torch.softmax(a, 1))).sum() / 6
    torch.testing.assert_close(LF.ce_with_logits(a, p), ce_hand)
    # with one-hot targets it is torch's cross_entropy
    t = torch.randint(0, 9, (6,))
    torch.testing.assert_close(LF.ce_with_logits(a, F.one_hot(t, 9).double()), F.cross_entropy(a, t))
    # per-sample reductions
    torch.testing.assert_close(LF.sse_loss(y, x, reduction="none"), 0.5 * ((y - x) ** 2).sum(1))
    assert LF.reconstruction_loss("bce", a, x, "sigmoid", reduction="none").shape == (6,)
    # bce from logits stays finite where the probabilities saturate
    big = torch.tensor([[80.0, -80.0]], dtype=torch.float64)
    assert math.isfinite(float(LF.bce_with_logits(big, torch.tensor([[0.0, 1.0]], dtype=torch.float64))))


# ---- convolutional maps: shrinkage and switch unpooling --------------------------------------------


def test_soft_threshold():
    x = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.2, 1.0, 2.5])
    expected = torch.sign(x) * torch.clamp(x.abs() - 1.0, min=0)
    torch.testing.assert_close(LF.soft_threshold(x, 1.0), expected)
    torch.testing.assert_close(LF.soft_threshold(x, torch.tensor(1.0)), expected)


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 3), (2, 1), (3, 2)])
def test_unpool_equals_max_unpool2d_and_is_the_adjoint_of_pooling(kernel, stride):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 8, generator=g, dtype=DT)
    pooled, idx = F.max_pool2d(x, kernel, stride, return_indices=True)
    y = torch.randn(pooled.shape, generator=g, dtype=DT)
    ours = LF.unpool(y, idx, x.shape[-2:])
    if kernel <= stride:  # windows do not overlap: identical to torch's unpooling
        ref = F.max_unpool2d(y, idx, kernel, stride, output_size=x.shape[-2:])
        torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    # adjoint of "read x at the switches": <gather(x), y> = <x, unpool(y)>
    gathered = x.flatten(2).gather(2, idx.flatten(2)).view_as(pooled)
    torch.testing.assert_close(gathered, pooled)
    assert float((gathered * y).sum()) == pytest.approx(float((x * ours).sum()), rel=1e-12)


# ==== Boltzmann helpers ======================================================================

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
