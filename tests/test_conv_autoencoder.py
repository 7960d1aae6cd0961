"""The convolutional autoencoder (layerwise.models.conv_autoencoder): errors, denoising, training,
its tied decoder against the DeconvNet, dtype and device."""

from __future__ import annotations

import pytest
import torch

import layerwise as lw
from layerwise.models.cnn import build_cnn, conv_layers
from layerwise.models.conv_autoencoder import ConvAutoEncoder
from layerwise.models.deconv import DeconvNet

DT = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def eval_loss(model, x):
    with torch.no_grad():
        return float(model.training_loss(x))


@pytest.fixture(scope="module")
def digits():
    x, y = lw.datasets.load("digits")
    return x, y   # pixels in [0, 1]


def test_tied_conv_autoencoder_decodes_like_the_deconvnet():
    torch.manual_seed(5)
    cae = ConvAutoEncoder((1, 8, 8), 5, kernel_size=3, tied=True).to(DT)
    x = torch.rand(4, 64, dtype=DT)
    z, switches = cae._encode(cae._images(x))
    logits = cae._decode_logits(z, switches)  # decoder biases are zero at initialisation
    torch.testing.assert_close(logits, DeconvNet(cae.encoder()).project(x, 0))


def test_conv_autoencoder_errors():
    with pytest.raises(ValueError, match="'kernel_size' .*odd"):
        ConvAutoEncoder((1, 8, 8), 4, kernel_size=4)
    with pytest.raises(ValueError, match="smaller than the 2x2 pool"):
        ConvAutoEncoder((1, 4, 4), [4, 4, 4])
    cae = ConvAutoEncoder((1, 8, 8), 4, 3, loss="bce")
    with pytest.raises(ValueError, match="65 features.*64"):
        lw.fit(cae, torch.rand(10, 65), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"\(3, 8, 8\).*\(1, 8, 8\)"):
        lw.fit(cae, torch.rand(10, 3, 8, 8), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        lw.fit(cae, torch.rand(10, 64) * 2, epochs=1, progress=False)
    with pytest.raises(ValueError, match="Unknown CNN config key"):
        build_cnn({"blocks": [(4, 3, 2)], "dropout": 0.5}, (1, 8, 8))


def test_conv_autoencoder_learns_and_denoising_corrupts_only_in_training(digits):
    x = digits[0][:400]
    torch.manual_seed(0)
    cae = ConvAutoEncoder((1, 8, 8), 8, kernel_size=3, pool=2, loss="bce", noise="masking", noise_level=0.3)
    cae.eval()
    before = eval_loss(cae, x)
    assert eval_loss(cae, x) == before                  # eval: no noise, deterministic
    cae.train()
    torch.manual_seed(1)
    assert eval_loss(cae, x) != before
    hist = lw.fit(cae, x, epochs=15, batch_size=32, optimizer="adam", lr=3e-3, progress=False, seed=0)
    cae.eval()
    assert eval_loss(cae, x) < 0.8 * before
    assert hist[-1]["reconstruction_error"] < hist[0]["reconstruction_error"]


def test_two_block_conv_autoencoder_trains_end_to_end(digits):
    x = digits[0][:300]
    torch.manual_seed(0)
    cae = ConvAutoEncoder((1, 8, 8), [6, 8], kernel_size=3, loss="bce", tied=True)
    assert cae.transform(x[:2]).shape == (2, 8 * 2 * 2) and cae.reconstruct(x[:2]).shape == (2, 64)
    assert len(conv_layers(cae.encoder())) == 2 and len(list(cae.parameters())) == 6  # 2 convs + 2 decoder biases
    cae.eval()
    before = eval_loss(cae, x)
    lw.fit(cae, x, epochs=10, batch_size=32, optimizer="adam", lr=3e-3, progress=False, seed=0)
    cae.eval()
    assert eval_loss(cae, x) < 0.85 * before


def test_conv_autoencoder_dtype_device_and_to():
    torch.manual_seed(0)
    for tied in (False, True):
        cae = ConvAutoEncoder((1, 8, 8), [4, 6], kernel_size=3, tied=tied, dtype=DT)
        assert {p.dtype for p in cae.parameters()} == {DT}
        x = torch.rand(5, 64, dtype=DT)
        assert cae.training_loss(x).dtype == DT and cae.transform(x).dtype == DT
        assert cae.reconstruct(x).shape == (5, 64)
        # .to() moves every parameter, the tied decoder biases too
        assert {p.dtype for p in cae.to(torch.float32).parameters()} == {torch.float32}
        meta = ConvAutoEncoder((1, 8, 8), 4, 3, tied=tied, device="meta")
        assert {p.device.type for p in meta.parameters()} == {"meta"}
    # float64 training through fit, and the same seed gives the same model
    x = torch.rand(40, 64, dtype=DT)
    weights = []
    for _ in range(2):
        torch.manual_seed(4)
        cae = ConvAutoEncoder((1, 8, 8), 4, kernel_size=3, noise="masking", noise_level=0.2, dtype=DT)
        lw.fit(cae, x, epochs=2, batch_size=10, progress=False, seed=0)
        weights.append(cae.convs[0].weight.detach().clone())
    assert weights[0].dtype == DT and torch.equal(weights[0], weights[1])
