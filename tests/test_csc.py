"""Convolutional sparse coding against references: the closed-form solution of a delta filter,
a dense matrix of D (adjoint, largest eigenvalue), autograd for the gradients, ISTA's monotone
objective, FISTA's speed-up, training through layerwise.fit, stacking, checkpoints, errors."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from layerwise import datasets
from layerwise.checkpoint import load_model, save_checkpoint
from layerwise.functional import soft_threshold
from layerwise.models.csc import SAFETY, ConvSparseCoding, stack_maps
from layerwise.training import fit

DT = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

def random_csc(c=2, k=3, s=3, lam=4.0, seed=0, **kw):
    torch.manual_seed(seed)
    return ConvSparseCoding(c, k, s, lam=lam, dtype=DT, **kw)


def dense_decoder(m, h, w):
    """The matrix of D (C*H*W rows, K*(H+s-1)*(W+s-1) columns), written from the definition
    y_c[p, q] = sum_k sum_{i,j} z_k[p + i, q + j] f_{k,c}[s-1-i, s-1-j] (valid convolution)."""
    f = m.weight.detach().numpy()
    k_, c_, s, _ = f.shape
    hp, wp = h + s - 1, w + s - 1
    d = np.zeros((c_, h, w, k_, hp, wp))
    for c in range(c_):
        for p in range(h):
            for q in range(w):
                for k in range(k_):
                    for i in range(s):
                        for j in range(s):
                            d[c, p, q, k, p + i, q + j] += f[k, c, s - 1 - i, s - 1 - j]
    return torch.from_numpy(d.reshape(c_ * h * w, k_ * hp * wp))


def small_digits(n=200):
    x, _ = datasets.load("digits")
    return x[:n].reshape(-1, 1, 8, 8)


# ---- the operator D and its adjoint ------------------------------------------------------------

def test_reconstruct_matches_dense_matrix_and_shapes():
    m = random_csc(c=2, k=3, s=3)
    z = torch.randn(2, 3, 7, 8, dtype=DT)  # images 5 x 6
    d = dense_decoder(m, 5, 6)
    out = m.reconstruct(z)
    assert out.shape == (2, 2, 5, 6)
    torch.testing.assert_close(out.reshape(2, -1), z.reshape(2, -1) @ d.T)
    # the same as conv_transpose2d's "full" convolution cropped to the valid part
    full = F.conv_transpose2d(z, m.weight)
    torch.testing.assert_close(out, full[:, :, 2:-2, 2:-2])


def test_adjoint_identity_float64():
    m = random_csc(c=2, k=3, s=3)
    z = torch.randn(4, 3, 7, 8, dtype=DT)
    r = torch.randn(4, 2, 5, 6, dtype=DT)
    lhs = (m.reconstruct(z) * r).sum()
    rhs = (z * m.adjoint(r)).sum()
    assert m.adjoint(r).shape == z.shape
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_gradients_match_autograd():
    m = random_csc(c=2, k=3, s=3, lam=2.5)
    y = torch.randn(3, 2, 5, 6, dtype=DT)
    z = torch.randn(3, 3, 7, 8, dtype=DT, requires_grad=True)
    data = m.lam / 2 * (m.reconstruct(z) - y).pow(2).sum()
    g_z_auto, g_w_auto = torch.autograd.grad(data, (z, m.weight))
    g_z, g_w = m.data_gradients(y, z.detach())
    torch.testing.assert_close(g_z, g_z_auto)
    torch.testing.assert_close(g_w, g_w_auto)


def test_lipschitz_bounds_the_dense_eigenvalue():
    m = random_csc(c=2, k=3, s=3, lam=3.0)
    d = dense_decoder(m, 5, 4)
    true = m.lam * float(torch.linalg.eigvalsh(d.T @ d).max())
    est = m.lipschitz((5, 4))
    assert true <= est <= true * SAFETY * 1.001
    assert est == pytest.approx(true * SAFETY, rel=1e-3)


def test_lipschitz_leaves_the_global_rng_alone():
    m = random_csc()
    state = torch.get_rng_state()
    m.lipschitz(6)
    assert torch.equal(state, torch.get_rng_state())


# ---- inference -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["ista", "fista"])
def test_unit_filter_gives_the_soft_thresholded_image(method):
    """With one 1x1 filter equal to 1, D is the identity and z = sign(y) max(|y| - 1/lam, 0)."""
    m = ConvSparseCoding(1, 1, 1, lam=4.0, dtype=DT)
    with torch.no_grad():
        m.weight.fill_(1.0)
    y = torch.randn(3, 1, 5, 6, dtype=DT)
    z = m.infer(y, method=method, n_iter=500, tol=0)
    expected = torch.sign(y) * torch.clamp(y.abs() - 1 / m.lam, min=0)
    torch.testing.assert_close(z, expected)


@pytest.mark.parametrize("method", ["ista", "fista"])
def test_centred_delta_filter(method):
    """A 3x3 filter with a single 1 in the centre: the central H x W of z is soft(y, 1/lam) and
    the border of the full-size maps, which D never sees, is 0."""
    m = ConvSparseCoding(1, 1, 3, lam=2.0, dtype=DT)
    with torch.no_grad():
        m.weight.zero_()
        m.weight[0, 0, 1, 1] = 1.0
    y = torch.randn(2, 1, 4, 5, dtype=DT)
    z = m.infer(y, method=method, n_iter=500, tol=0)
    assert z.shape == (2, 1, 6, 7)
    expected = torch.zeros_like(z)
    expected[:, :, 1:-1, 1:-1] = soft_threshold(y, 1 / m.lam)
    torch.testing.assert_close(z, expected)


def test_ista_objective_never_increases():
    m = random_csc(c=2, k=4, s=3, lam=8.0, seed=1)
    y = torch.randn(5, 2, 7, 6, dtype=DT)
    z, trace = m.infer(y, method="ista", n_iter=150, tol=0, return_trace=True)
    assert trace.shape == (151,) and trace.dtype == DT
    assert bool((trace[1:] <= trace[:-1] * (1 + 1e-12)).all())
    assert float(trace[-1]) < 0.5 * float(trace[0])
    torch.testing.assert_close(trace[-1], m.objective(y, z).mean())


def test_fista_reaches_istas_objective_in_fewer_iterations():
    m = random_csc(c=1, k=6, s=5, lam=20.0, seed=2)
    y = torch.rand(4, 1, 12, 12, dtype=DT)
    n = 300
    _, ista = m.infer(y, method="ista", n_iter=n, tol=0, return_trace=True)
    _, fista = m.infer(y, method="fista", n_iter=n, tol=0, return_trace=True)
    target = float(ista[-1])
    k = int((fista <= target).nonzero()[0])
    assert k < n / 3
    assert float(fista[-1]) < target


def test_tolerance_stops_early_and_z0_warm_starts():
    m = random_csc(c=1, k=4, s=3, lam=6.0)
    y = torch.rand(3, 1, 8, 8, dtype=DT)
    z, trace = m.infer(y, n_iter=2000, tol=1e-3, return_trace=True)
    assert len(trace) - 1 < 2000
    last = trace[-2:]
    assert abs(float(last[0] - last[1])) <= 1e-3 * float(last[0])  # batch mean: implied by the per-image rule
    _, again = m.infer(y, z0=z, n_iter=5, tol=0, return_trace=True)
    assert float(again[0]) == pytest.approx(float(trace[-1]))


def test_forward_transform_and_objective_shapes():
    m = random_csc(c=1, k=4, s=3)
    y = torch.rand(3, 8, 8, dtype=DT)  # (B, H, W) for a single channel
    z = m(y)
    assert z.shape == (3, 4, 10, 10)
    assert m.objective(y, z).shape == (3,)
    assert m.transform(y).shape == (3, 400)
    assert m.transform(y, pooling="max").shape == (3, 4)
    assert m.transform(y, pooling=2).shape == (3, 4 * 5 * 5)
    assert stack_maps(z, pool=3).shape == (3, 4, 4, 4)
    assert bool((stack_maps(z, pool=None) >= 0).all())


# ---- learning ------------------------------------------------------------------------------------

def test_training_step_is_a_projected_gradient_step():
    """infer z, step the filters along the batch-mean data-term gradient, renormalise them."""
    m = random_csc(c=1, k=4, s=3, lam=10.0)
    y = torch.rand(8, 1, 8, 8, dtype=DT)
    with torch.no_grad():
        m.weight.mul_(3.0)
    lr = 1e-3
    z = m.infer(y)
    _, g_w = m.data_gradients(y, z)
    before = float(m.objective(y, z).mean().detach())
    expected = m.weight.detach() - lr * g_w / 8
    expected = expected / expected.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    loss = m.training_step((y, torch.zeros(8)), torch.optim.SGD(m.parameters(), lr=lr))
    assert float(loss) == pytest.approx(before)  # the objective before the filter step
    torch.testing.assert_close(m.weight.detach(), expected)
    torch.testing.assert_close(m.weight.detach().flatten(1).norm(dim=1), torch.ones(4, dtype=DT))


def test_training_loss_is_differentiable_in_the_filters():
    m = random_csc(c=1, k=3, s=3)
    y = torch.rand(4, 1, 6, 6, dtype=DT)
    loss = m.training_loss(y)
    loss.backward()
    z = m.infer(y)
    _, g_w = m.data_gradients(y, z)
    torch.testing.assert_close(m.weight.grad, g_w / 4)


def test_fit_on_digits_decreases_the_objective():
    torch.manual_seed(0)
    x = small_digits()
    m = ConvSparseCoding(1, 8, 3, lam=10.0, n_iter=50)
    start = m.metrics(x)["objective"]
    history = fit(m, x, epochs=3, batch_size=50, optimizer="adam", lr=0.02, device="cpu", progress=False)
    objs = history["objective"]
    assert objs[-1] < objs[0] < start
    assert 0 < history[-1]["sparsity"] < 0.5
    norms = m.weight.detach().flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(8))


def test_two_layer_stack_trains():
    torch.manual_seed(0)
    x = small_digits(150)
    first = ConvSparseCoding(1, 6, 3, lam=10.0, n_iter=40)
    fit(first, x, epochs=2, batch_size=50, optimizer="adam", lr=0.02, device="cpu", progress=False)
    maps = stack_maps(first(x), pool=2)  # (150, 6, 5, 5)
    assert maps.shape == (150, 6, 5, 5)
    second = ConvSparseCoding(6, 6, 3, lam=10.0, n_iter=40)
    start = second.metrics(maps)["objective"]
    history = fit(second, maps, epochs=3, batch_size=50, optimizer="adam", lr=0.02, device="cpu",
                  progress=False)
    assert history["objective"][-1] < start


def test_config_and_checkpoint_round_trip(tmp_path):
    m = random_csc(c=2, k=3, s=3, lam=7.5, method="ista", n_iter=30, step=0.01)
    assert repr(m) == "ConvSparseCoding(2, 3, kernel_size=3, lam=7.5, method=ista, n_iter=30, step=0.01)"
    save_checkpoint(tmp_path / "ck", m)
    back = load_model(tmp_path / "ck")
    assert isinstance(back, ConvSparseCoding) and back.config() == m.config()
    torch.testing.assert_close(back.weight.to(DT), m.weight)


# ---- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"lam": 0.0}, r"'lam' parameter must be a float in the range \(0.0, inf\)\. Got 0.0"),
    ({"lam": -1.0}, r"'lam' parameter"),
    ({"step": 0.0}, r"'step' parameter must be a float in the range \(0.0, inf\)"),
    ({"n_iter": 0}, r"'n_iter' parameter must be an int in the range \[1, inf\)\. Got 0"),
    ({"tol": -1e-3}, r"'tol' parameter"),
    ({"method": "admm"}, r"'method' parameter must be one of \{'ista', 'fista'\}\. Got 'admm'"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvSparseCoding(1, 4, 3, **kwargs)


def test_bad_inference_arguments_and_images():
    m = ConvSparseCoding(2, 4, 5)
    y = torch.rand(2, 2, 8, 8)
    with pytest.raises(ValueError, match="'n_iter' parameter"):
        m.infer(y, n_iter=0)
    with pytest.raises(ValueError, match="'method' parameter"):
        m.infer(y, method="sgd")
    with pytest.raises(ValueError, match=r"3 channel\(s\), but the model has in_channels=2"):
        m.infer(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"smaller than the 5x5 filters"):
        m.infer(torch.rand(2, 2, 4, 8))
    with pytest.raises(ValueError, match=r"4-d array of images"):
        m.infer(torch.rand(2, 8, 8))  # (B, H, W) only for one channel
    with pytest.raises(ValueError, match=r"'z' must have shape \(2, 4, 12, 12\)"):
        m.infer(y, z0=torch.zeros(2, 4, 8, 8))


def test_validate_data_errors_before_fit_starts():
    m = ConvSparseCoding(1, 4, 3)
    with pytest.raises(ValueError, match=r"Reshape them, e.g. x.reshape\(-1, 1, 8, 8\)"):
        fit(m, torch.rand(10, 64), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"smaller than the 3x3 filters"):
        fit(m, torch.rand(10, 1, 2, 2), epochs=1, device="cpu", progress=False)
    bad = torch.rand(10, 1, 6, 6)
    bad[3, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        m.validate_data(bad)
    assert m.validate_data(torch.rand(5, 6, 6)).shape == (5, 1, 6, 6)
