"""AutoEncoder against independent references: autograd Jacobians, torch.nn.functional losses,
hand formulas and scikit-learn's PCA (layerwise.functional itself: test_functional.py)."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from layerwise.models import AutoEncoder
from layerwise.models.autoencoder import AutoEncoder as AutoEncoderFromModule

ELEMENTWISE = ["sigmoid", "tanh", "relu", "linear"]


@pytest.fixture(scope="module")
def digits():
    x = torch.tensor(load_digits().data, dtype=torch.float32) / 16.0
    return x


def _autograd_jacobian_norms(ae, x):
    """||d encode(x_b) / d x_b||_F^2 for every sample, by autograd, one sample at a time."""
    out = []
    for xb in x:
        j = torch.autograd.functional.jacobian(lambda v: ae.encode(v.unsqueeze(0)).squeeze(0), xb)
        out.append(j.pow(2).sum())
    return torch.stack(out)


# ---- activations and the contractive penalty ---------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("hidden", [[7], [12], [9, 5], [20, 6, 4]])
def test_contractive_penalty_equals_autograd_jacobian(name, hidden):
    # n_inputs = 10: [7] and [9, 5] take the Gram route (input wider than h_1), [12] and
    # [20, 6, 4] the direct product.
    torch.manual_seed(0)
    ae = AutoEncoder(10, hidden, activation=name, dtype=torch.float64)
    for layer in ae.encoder_layers:  # non-zero biases, so that relu has dead and live units
        torch.nn.init.normal_(layer.bias, 0.0, 0.5)
    x = torch.randn(6, 10, dtype=torch.float64)
    torch.testing.assert_close(ae.contractive_penalty(x), _autograd_jacobian_norms(ae, x))


def test_contractive_one_layer_is_rifai_closed_form():
    torch.manual_seed(1)
    ae = AutoEncoder(5, 3, activation="sigmoid", dtype=torch.float64)
    x = torch.rand(4, 5, dtype=torch.float64)
    w, b = ae.encoder_layers[0].weight, ae.encoder_layers[0].bias
    h = torch.sigmoid(x @ w.T + b)
    hand = torch.stack([sum((h[n, j] * (1 - h[n, j])) ** 2 * (w[j] ** 2).sum() for j in range(3)) for n in range(4)])
    torch.testing.assert_close(ae.contractive_penalty(x), hand)


def test_contractive_term_in_training_loss_and_its_gradient():
    torch.manual_seed(2)
    kw = dict(n_inputs=8, hidden_sizes=[6, 3], activation="tanh", dtype=torch.float64)
    plain, cae = AutoEncoder(**kw), AutoEncoder(**kw, contractive_weight=0.3)
    cae.load_state_dict(plain.state_dict())
    x = torch.rand(5, 8, dtype=torch.float64)
    diff = cae.training_loss(x) - plain.training_loss(x)
    torch.testing.assert_close(diff, 0.3 * _autograd_jacobian_norms(plain, x).mean())
    # the penalty is differentiable (double backprop through the closed form)
    cae.contractive_penalty(x).mean().backward()
    assert all(l.weight.grad is not None and l.weight.grad.abs().sum() > 0 for l in cae.encoder_layers)


# ---- corruptions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("noise,level", [("gaussian", 0.5), ("salt_and_pepper", 0.4), ("masking", 0.4)])
def test_noise_only_while_training(noise, level):
    torch.manual_seed(0)
    ae = AutoEncoder(20, 8, noise=noise, noise_level=level)
    x = torch.rand(16, 20)
    ae.eval()
    l1, l2 = ae.training_loss(x), ae.training_loss(x)
    assert torch.equal(l1, l2)
    torch.testing.assert_close(l1, F.mse_loss(ae(x), x))
    ae.train()
    assert torch.equal(ae(x), ae(x))  # forward never corrupts
    assert not torch.equal(ae.corrupt(x), x)
    # in training mode the loss is L(x, g(f(x~))) against the clean x, with x~ = corrupt(x)
    torch.manual_seed(5)
    loss = ae.training_loss(x)
    torch.manual_seed(5)
    x_tilde = ae.corrupt(x)
    torch.testing.assert_close(loss, F.mse_loss(ae.decode(ae.encode(x_tilde)), x))
    assert not torch.allclose(loss, l1)


def test_no_noise_corrupt_is_identity():
    ae = AutoEncoder(4, 2)
    x = torch.rand(3, 4)
    assert torch.equal(ae.corrupt(x), x)


# ---- tied weights, parameters, encoder sharing --------------------------------------------------


def test_tied_weights_share_one_parameter():
    torch.manual_seed(0)
    ae = AutoEncoder(12, [8, 4], tied_weights=True)
    w0, w1 = ae.encoder_layers[0].weight, ae.encoder_layers[1].weight
    assert ae.decoder_weight(0).data_ptr() == w1.data_ptr()
    assert torch.equal(ae.decoder_weight(0), w1.T)
    assert torch.equal(ae.decoder_weight(1), w0.T)
    n = sum(p.numel() for p in ae.parameters())
    assert n == 12 * 8 + 8 * 4 + (8 + 4) + (8 + 12)
    untied = AutoEncoder(12, [8, 4])
    assert sum(p.numel() for p in untied.parameters()) == 2 * (12 * 8 + 8 * 4) + (8 + 4) + (8 + 12)
    # the gradient of the decoder's use of W lands on the encoder's parameter
    h = torch.rand(3, 4)
    ae.decode(h).sum().backward()
    assert w0.grad is not None and w0.grad.abs().sum() > 0
    assert ae.encoder_layers[0].bias.grad is None  # decode alone does not touch encoder biases
    # reconstruction with explicit transposes
    x = torch.rand(3, 12)
    h1 = torch.sigmoid(x @ w0.T + ae.encoder_layers[0].bias)
    h2 = torch.sigmoid(h1 @ w1.T + ae.encoder_layers[1].bias)
    g1 = torch.sigmoid(h2 @ w1 + ae.decoder_biases[0])
    y = torch.sigmoid(g1 @ w0 + ae.decoder_biases[1])
    torch.testing.assert_close(ae(x), y)


def test_encoder_shares_parameters_and_matches_transform():
    torch.manual_seed(0)
    ae = AutoEncoder(10, [6, 3], activation="relu")
    enc = ae.encoder()
    assert isinstance(enc, torch.nn.Sequential) and len(enc) == 4
    assert enc[0] is ae.encoder_layers[0] and enc[2] is ae.encoder_layers[1]
    x = torch.rand(5, 10)
    torch.testing.assert_close(enc(x), ae.transform(x))
    assert not ae.transform(x).requires_grad
    with torch.no_grad():
        enc[0].weight.add_(1.0)
    torch.testing.assert_close(enc(x), ae.encode(x))
    assert ae.propagate == "mean"


def test_init_schemes():
    torch.manual_seed(0)
    ae = AutoEncoder(400, 300, init="gaussian")
    w = ae.encoder_layers[0].weight.detach()
    assert abs(float(w.std()) - 0.1) < 0.003 and abs(float(w.mean())) < 0.003
    assert all(int(torch.count_nonzero(b.detach())) == 0 for b in ae._biases())
    xa = AutoEncoder(400, 300)
    bound = math.sqrt(6 / 700)
    w = xa.decoder_layers[0].weight.detach()
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.95 * bound


# ---- penalties -------------------------------------------------------------------------------


@pytest.mark.parametrize("tied", [False, True])
def test_weight_decay_touches_weights_only(tied):
    torch.manual_seed(0)
    lam = 0.07
    ae = AutoEncoder(6, [5, 3], tied_weights=tied, weight_decay=lam, dtype=torch.float64)
    ae.weight_penalty().backward()
    for w in ae.weights():
        torch.testing.assert_close(w.grad, 2 * lam * w.detach())
    for b in ae._biases():
        assert b.grad is None or float(b.grad.abs().sum()) == 0
    hand = lam * sum(float((w.detach() ** 2).sum()) for w in ae.weights())
    assert ae.weight_penalty().item() == pytest.approx(hand)
    # in the loss: the difference to the undecayed model is exactly the penalty
    plain = AutoEncoder(6, [5, 3], tied_weights=tied, dtype=torch.float64)
    plain.load_state_dict(ae.state_dict())
    x = torch.rand(4, 6, dtype=torch.float64)
    assert (ae.training_loss(x) - plain.training_loss(x)).item() == pytest.approx(hand)
    n_weights = 2 if tied else 4
    assert len(ae.weights()) == n_weights


def test_sparsity_penalties_in_the_model():
    torch.manual_seed(0)
    x = torch.rand(7, 5, dtype=torch.float64)
    kl = AutoEncoder(5, 4, sparsity="kl", sparsity_weight=0.5, sparsity_target=0.1, dtype=torch.float64)
    h = kl.encode(x).detach()
    rho_hat = h.mean(0).tolist()
    hand = 0.5 * sum(0.1 * math.log(0.1 / q) + 0.9 * math.log(0.9 / (1 - q)) for q in rho_hat)
    assert float(kl.sparsity_penalty(h)) == pytest.approx(hand, rel=1e-10)
    plain = AutoEncoder(5, 4, dtype=torch.float64)
    plain.load_state_dict(kl.state_dict())
    assert (kl.training_loss(x) - plain.training_loss(x)).item() == pytest.approx(hand, rel=1e-10)

    tanh = AutoEncoder(5, 4, activation="tanh", sparsity="kl", sparsity_weight=1.0, dtype=torch.float64)
    h = tanh.encode(x).detach()
    q = ((h + 1) / 2).mean(0).tolist()
    hand = sum(0.05 * math.log(0.05 / v) + 0.95 * math.log(0.95 / (1 - v)) for v in q)
    assert float(tanh.sparsity_penalty(h)) == pytest.approx(hand, rel=1e-10)

    l1 = AutoEncoder(5, 4, activation="tanh", sparsity="l1", sparsity_weight=0.2, dtype=torch.float64)
    h = l1.encode(x).detach()
    hand = 0.2 * sum(abs(v) for v in h.flatten().tolist()) / 7
    assert float(l1.sparsity_penalty(h)) == pytest.approx(hand, rel=1e-12)


# ---- losses --------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss,out", [("mse", "sigmoid"), ("sse", "tanh"), ("bce", "sigmoid"), ("ce", "softmax")])
def test_model_loss_uses_output_activation(loss, out):
    torch.manual_seed(0)
    ae = AutoEncoder(8, 3, loss=loss, output_activation=out, dtype=torch.float64).eval()
    x = torch.rand(5, 8, dtype=torch.float64)
    y = ae(x)
    hand = {
        "mse": lambda: F.mse_loss(y, x),
        "sse": lambda: 0.5 * ((y - x) ** 2).sum() / 5,
        "bce": lambda: F.binary_cross_entropy(y, x, reduction="sum") / 5,
        "ce": lambda: -(x * torch.log(y)).sum() / 5,
    }[loss]()
    torch.testing.assert_close(ae.training_loss(x), hand)
    if out == "softmax":
        torch.testing.assert_close(y.sum(1), torch.ones(5, dtype=torch.float64))


def test_default_output_activation():
    assert AutoEncoder(4, 2).output_activation == "sigmoid"
    assert AutoEncoder(4, 2, activation="tanh").output_activation == "tanh"
    assert AutoEncoder(4, 2, activation="relu").output_activation == "linear"
    assert AutoEncoder(4, 2, activation="linear").output_activation == "linear"
    assert AutoEncoder(4, 2, activation="tanh", loss="bce").output_activation == "sigmoid"
    assert AutoEncoder(4, 2, activation="relu", loss="ce").output_activation == "softmax"
    assert AutoEncoder(4, 2, activation="tanh", loss="sse", output_activation="tanh").output_activation == "tanh"


def test_metrics():
    torch.manual_seed(0)
    ae = AutoEncoder(6, 2)
    x = torch.rand(10, 6)
    m = ae.metrics(x)
    err = (ae.reconstruct(x) - x) ** 2
    assert m["reconstruction_error"] == pytest.approx(float(err.mean()))
    assert m["sse_per_image"] == pytest.approx(float(err.sum(1).mean()))


# ---- PCA ------------------------------------------------------------------------------------------


def test_linear_autoencoder_spans_the_pca_subspace(digits):
    x = (digits - digits.mean(0)).double()
    k = 5
    pca = PCA(k).fit(x.numpy())
    torch.manual_seed(0)
    ae = AutoEncoder(64, k, activation="linear", loss="mse", dtype=torch.float64)
    assert ae.output_activation == "linear"

    def angles():
        w = ae.decoder_layers[0].weight.detach().numpy()  # (64, k): columns span the decoder's range
        return np.degrees(scipy.linalg.subspace_angles(w, pca.components_.T))

    before = angles()
    assert before.max() > 45  # a random subspace is far off: the threshold below means something
    opt = torch.optim.LBFGS(ae.parameters(), lr=1, max_iter=200, tolerance_grad=1e-10,
                            tolerance_change=1e-14, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ae.training_loss(x)
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 200 tiny full-batch steps: threads only add contention
    try:
        opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    after = angles()
    assert after.max() < 0.5, after  # converged runs reach ~0.05 degrees
    # the minimum of the loss is the PCA reconstruction error
    resid = float(((x.numpy() - pca.inverse_transform(pca.transform(x.numpy()))) ** 2).mean())
    assert ae.training_loss(x).item() == pytest.approx(resid, rel=1e-3)


# ---- validation, config, repr, fit ----------------------------------------------------------------


def test_validate_data_errors():
    ae = AutoEncoder(4, 2, loss="bce")
    ae.validate_data(torch.rand(3, 4))
    with pytest.raises(ValueError, match="3 features, but 4"):
        ae.validate_data(torch.rand(2, 3))
    with pytest.raises(ValueError, match="2-d"):
        ae.validate_data(torch.rand(4))
    with pytest.raises(ValueError, match="NaN"):
        ae.validate_data(torch.tensor([[0.1, float("nan"), 0.2, 0.3]]))
    with pytest.raises(ValueError, match="at least 1 sample"):
        ae.validate_data(torch.rand(0, 4))
    with pytest.raises(ValueError, match=r"\[0, 1\] for loss='bce'"):
        ae.validate_data(torch.rand(3, 4) + 0.5)
    with pytest.raises(ValueError, match="non-negative for loss='ce'"):
        AutoEncoder(4, 2, loss="ce").validate_data(torch.rand(3, 4) - 0.5)
    AutoEncoder(4, 2, loss="mse").validate_data(np.random.rand(3, 4) * 10)  # any range for mse


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(activation="softsign"), ValueError, "'activation' parameter must be one of"),
        (dict(activation="softmax"), ValueError, "'activation' parameter must be one of"),
        (dict(loss="huber"), ValueError, "'loss' parameter must be one of"),
        (dict(noise="dropout"), ValueError, "'noise' parameter must be one of"),
        (dict(sparsity="l2"), ValueError, "'sparsity' parameter must be one of"),
        (dict(init="orthogonal"), ValueError, "'init' parameter must be one of"),
        (dict(weight_decay=-1.0), ValueError, "'weight_decay' parameter must be a float in the range"),
        (dict(sparsity_weight=-0.1), ValueError, "'sparsity_weight'"),
        (dict(contractive_weight=-0.1), ValueError, "'contractive_weight'"),
        (dict(sparsity_target=0.0), ValueError, "'sparsity_target'"),
        (dict(noise="masking", noise_level=1.5), ValueError, "'noise_level'"),
        (dict(noise="gaussian", noise_level=-0.1), ValueError, "'noise_level'"),
        (dict(loss="bce", output_activation="tanh"), ValueError, "loss='bce' needs output_activation='sigmoid'"),
        (dict(loss="ce", output_activation="sigmoid"), ValueError, "loss='ce' needs output_activation='softmax'"),
        (dict(activation="relu", sparsity="kl"), ValueError, "sparsity='kl' needs codes in"),
        (dict(hidden_sizes=0), ValueError, "'hidden_sizes' parameter must be an int in the range"),
        (dict(hidden_sizes=[]), ValueError, "at least one layer"),
        (dict(hidden_sizes=2.5), TypeError, "'hidden_sizes'"),
        (dict(n_inputs=0), ValueError, "'n_inputs'"),
        (dict(tied_weights=1), TypeError, "'tied_weights'"),
    ],
)
def test_constructor_errors(kwargs, exc, match):
    args = dict(n_inputs=4, hidden_sizes=2)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        AutoEncoder(**args)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(hidden_sizes=[5, 3], activation="tanh", output_activation="linear", tied_weights=True,
             loss="sse", weight_decay=1e-3, sparsity="kl", sparsity_weight=0.1, sparsity_target=0.2,
             contractive_weight=0.01, noise="gaussian", noise_level=0.1, init="gaussian"),
        dict(loss="ce", activation="relu", noise="salt_and_pepper", noise_level=0.2),
    ],
)
def test_config_round_trip(kwargs):
    import json

    args = dict(n_inputs=7, hidden_sizes=4)
    args.update(kwargs)
    ae = AutoEncoder(**args)
    cfg = json.loads(json.dumps(ae.config()))
    clone = type(ae)(**cfg)
    clone.load_state_dict(ae.state_dict())
    assert clone.config() == ae.config()
    assert repr(clone) == repr(ae)
    x = torch.rand(3, 7)
    torch.testing.assert_close(clone(x), ae(x))


def test_repr_shows_non_defaults_only():
    assert AutoEncoder(784, 500).extra_repr() == "784, 500"
    assert AutoEncoder(784, [500, 250], activation="tanh").extra_repr() == "784, [500, 250], activation=tanh"
    r = AutoEncoder(64, 32, loss="bce", noise="masking", noise_level=0.25, tied_weights=True).extra_repr()
    assert r == "64, 32, tied_weights=True, loss=bce, noise=masking, noise_level=0.25"
    assert "output_activation=linear" in AutoEncoder(4, 2, activation="tanh", output_activation="linear").extra_repr()
    assert AutoEncoder is AutoEncoderFromModule


def test_dtype_and_inputs():
    ae = AutoEncoder(4, 2, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in ae.parameters())
    assert ae(torch.rand(3, 4)).dtype == torch.float64  # float32 input is cast
    assert ae.transform(np.random.rand(3, 4)).shape == (3, 2)
    x = torch.rand(3, 4, dtype=torch.float64)
    torch.testing.assert_close(ae.training_loss((x, torch.zeros(3))), ae.eval().training_loss(x))


def test_fit_trains_a_denoising_autoencoder_and_checkpoints(digits, tmp_path):
    from layerwise.checkpoint import load_model
    from layerwise.training import fit

    ae = AutoEncoder(64, 32, loss="bce", noise="masking", noise_level=0.25, tied_weights=True)
    hist = fit(ae, digits[:512], epochs=4, batch_size=32, optimizer="adam", lr=0.01,
               checkpoint_dir=tmp_path, progress=False, validation=digits[512:640])
    assert hist["loss"][-1] < 0.8 * hist["loss"][0]
    assert hist[-1]["sse_per_image"] < hist[0]["sse_per_image"]
    assert "val_reconstruction_error" in hist[-1]
    back = load_model(tmp_path)
    assert isinstance(back, AutoEncoder) and back.config() == ae.config()
    torch.testing.assert_close(back.reconstruct(digits[:10]), ae.reconstruct(digits[:10]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit(ae, digits * 16, epochs=1, progress=False)


def test_fit_contractive_sparse_deep_autoencoder(digits):
    from layerwise.training import fit

    ae = AutoEncoder(64, [32, 16], activation="sigmoid", loss="sse", contractive_weight=0.01,
                     sparsity="kl", sparsity_weight=0.1, weight_decay=1e-4)
    hist = fit(ae, digits[:256], epochs=3, batch_size=32, optimizer="adam", lr=0.01, progress=False,
               validation=digits[256:320])
    assert all(math.isfinite(v) for v in hist["loss"] + hist["val_loss"])
    assert hist["loss"][-1] < hist["loss"][0]
