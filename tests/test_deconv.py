"""The Zeiler-Fergus DeconvNet (layerwise.models.deconv).

References: the adjoint identity for the transposed convolution, a projection computed by hand
with numpy loops, receptive fields by hand, brute force for the strongest maps (the switches'
unpooling against ``F.max_unpool2d``: test_functional.py; CNNs: test_cnn.py; the convolutional
autoencoder: test_conv_autoencoder.py; the projection figure: test_plots.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import layerwise as lw
from layerwise.models.cnn import build_cnn
from layerwise.models.conv_autoencoder import ConvAutoEncoder
from layerwise.models.deconv import DeconvNet, conv_transpose

DT = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


# ---- building blocks ----------------------------------------------------------------------------

@pytest.mark.parametrize("kw, size", [
    (dict(kernel_size=3, padding=1), (7, 7)),
    (dict(kernel_size=5, padding=0), (12, 9)),
    (dict(kernel_size=3, stride=2, padding=1), (8, 8)),     # even size: needs output_padding
    (dict(kernel_size=3, stride=2, padding=1), (9, 9)),
    (dict(kernel_size=3, dilation=2, padding=2), (10, 11)),
    (dict(kernel_size=3, padding=1, groups=2), (6, 6)),
    (dict(kernel_size=3, padding="same"), (6, 7)),
])
def test_conv_transpose_is_the_adjoint_of_the_convolution(kw, size):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, **kw).to(DT)
    x = torch.randn(2, 4, *size, dtype=DT)
    with torch.no_grad():
        out = conv(x) - conv.bias[:, None, None]
    y = torch.randn(out.shape, dtype=DT)
    with torch.no_grad():
        back = conv_transpose(y, conv, size)
    assert back.shape == x.shape
    assert float((out * y).sum()) == pytest.approx(float((x * back).sum()), rel=1e-10)


# ---- the projection against a hand computation --------------------------------------------------

def hand_projection(x, w, b, channel, mode):
    """conv(3x3, pad 1) -> relu -> maxpool 2, then unpool -> relu -> transposed conv, by loops."""
    C, H, W = x.shape
    K = w.shape[0]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    a = np.zeros((K, H, W))
    for k in range(K):
        for i in range(H):
            for j in range(W):
                a[k, i, j] = b[k] + (w[k] * xp[:, i:i + 3, j:j + 3]).sum()
    r = np.maximum(a, 0)
    pooled = np.zeros((K, H // 2, W // 2))
    where = {}
    for k in range(K):
        for i in range(H // 2):
            for j in range(W // 2):
                win = r[k, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                u, v = np.unravel_index(np.argmax(win), win.shape)
                pooled[k, i, j] = win[u, v]
                where[k, i, j] = (2 * i + u, 2 * j + v)
    keep = np.zeros_like(pooled)
    keep[channel] = pooled[channel]
    if mode == "max":
        flat = np.argmax(pooled[channel])
        keep[channel] = 0
        keep[channel].flat[flat] = pooled[channel].flat[flat]
    unpooled = np.zeros((K, H, W))
    for (k, i, j), (p, q) in where.items():
        unpooled[k, p, q] = keep[k, i, j]
    z = np.maximum(unpooled, 0)
    out = np.zeros((C, H + 2, W + 2))
    for k in range(K):
        for i in range(H):
            for j in range(W):
                out[:, i:i + 3, j:j + 3] += z[k, i, j] * w[k]
    return out[:, 1:-1, 1:-1]


@pytest.mark.parametrize("mode", ["all", "max"])
@pytest.mark.parametrize("channel", [0, 2])
def test_one_block_projection_equals_the_hand_computed_chain(mode, channel):
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(48, 5)).to(DT)
    x = torch.randn(2, 2, 8, 8, dtype=DT)
    got = DeconvNet(net).project(x, layer=0, channel=channel, mode=mode)
    w, b = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    for n in range(2):
        ref = hand_projection(x[n].numpy(), w, b, channel, mode)
        np.testing.assert_allclose(got[n].numpy(), ref, rtol=1e-10, atol=1e-12)
    assert got.abs().max() > 0


def test_projection_is_linear_in_a_bottom_map_but_not_through_two_blocks():
    """From the bottom layer every step is linear (the ReLU sees non-negative pooled maps), so
    the projection of all channels is the sum of the single-channel ones; from the second
    layer the ReLU between the blocks clips negative parts, and the sum differs."""
    torch.manual_seed(2)
    net = build_cnn("cnn-2", (1, 16, 16)).to(DT)
    d = DeconvNet(net)
    x = torch.rand(3, 256, dtype=DT)
    parts = sum(d.project(x, 0, channel=c) for c in range(d.channels[0]))
    torch.testing.assert_close(d.project(x, 0), parts)
    parts = sum(d.project(x, 1, channel=c) for c in range(d.channels[1]))
    assert (d.project(x, 1) - parts).abs().max() > 1e-3


def test_receptive_field_by_hand_and_max_projection_stays_inside_it():
    torch.manual_seed(3)
    net = build_cnn("cnn-2", (1, 28, 28))
    d = DeconvNet(net)
    assert d.receptive_field(0) == (6, 2.0, 0.5)        # conv5 -> 5; pool2 -> 6, jump 2
    assert d.receptive_field(1)[:2] == (16, 4.0)        # conv5 -> 6 + 4*2 = 14; pool2 -> 16, jump 4
    x = torch.rand(20, 784)
    top = d.top_activations(x, layer=1, channel=5, k=4)
    for proj, (t, left, bottom, right) in zip(top.projections, top.boxes.tolist()):
        mask = torch.zeros(28, 28, dtype=torch.bool)
        mask[max(t, 0):bottom, max(left, 0):right] = True
        assert proj[0][~mask].abs().max() == 0 and proj[0][mask].abs().max() > 0


def test_top_activations_are_the_strongest_by_brute_force():
    torch.manual_seed(4)
    net = build_cnn("cnn-1", (1, 12, 12))
    d = DeconvNet(net)
    x = torch.rand(30, 144)
    top = d.top_activations(x, layer=0, channel=7, k=5, batch_size=7)
    with torch.no_grad():
        maps = net[:4](x)[:, 7]                           # Unflatten, conv, relu, pool
    best = maps.flatten(1).max(1).values
    ref_values, ref_idx = best.topk(5)
    torch.testing.assert_close(top.values, ref_values)
    assert top.indices.tolist() == ref_idx.tolist()
    r = d.receptive_field(0)[0]
    assert top.image_patches.shape == top.projection_patches.shape == (5, 1, r, r)
    for i, (row, col) in enumerate(top.positions.tolist()):
        assert maps[ref_idx[i], row, col] == ref_values[i]


def test_deconvnet_reads_a_classifier_and_an_autoencoder_stack():
    clf = lw.Classifier(build_cnn("cnn-2", (1, 16, 16)), 3)
    d = DeconvNet(clf)
    assert d.n_layers == 2 and d.channels == [32, 64] and d.in_shape == (1, 16, 16)
    cae = [ConvAutoEncoder((1, 16, 16), 4, 3), ConvAutoEncoder((4, 8, 8), 6, 3)]
    stack = nn.Sequential(cae[0].encoder(), cae[1].encoder())
    d2 = DeconvNet(stack)
    assert d2.channels == [4, 6]
    assert d2.project(torch.rand(2, 256), 1, channel=2).shape == (2, 1, 16, 16)


# ---- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layer, words", [
    (nn.BatchNorm2d(4), "BatchNorm2d"), (nn.Sigmoid(), "Sigmoid"), (nn.AvgPool2d(2), "AvgPool2d")])
def test_unsupported_layers_are_named(layer, words):
    net = nn.Sequential(nn.Conv2d(1, 4, 3), layer, nn.Conv2d(4, 4, 3), nn.ReLU())
    with pytest.raises(ValueError, match=f"Layer 1 .*{words}.*not supported"):
        DeconvNet(net)


def test_layers_after_the_last_block_are_ignored_and_bad_arguments_refused():
    d = DeconvNet(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                nn.Linear(64, 8), nn.Sigmoid()))
    x = torch.rand(2, 1, 8, 8)
    assert d.project(x, 0, channel=3, mode="max").shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"'layer' .*\[0, 0\].*Got 1"):
        d.project(x, 1)
    with pytest.raises(ValueError, match="'channel'.*Got 4"):
        d.project(x, 0, channel=4)
    with pytest.raises(ValueError, match="'mode'"):
        d.project(x, 0, mode="mean")
    with pytest.raises(ValueError, match="3 channel.*takes 1"):
        d.project(torch.rand(2, 3, 8, 8), 0)
    with pytest.raises(ValueError, match="no nn.Unflatten"):
        d.project(torch.rand(2, 64), 0)
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        DeconvNet(nn.Sequential(nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="k=9 is larger"):
        d.top_activations(x, 0, 1, k=9)
    with pytest.raises(ValueError, match="145 features.*144"):
        DeconvNet(build_cnn("cnn-1", (1, 12, 12))).project(torch.rand(2, 145), 0)


# ---- the strongest maps, the facade ------------------------------------------------------------

def test_strongest_channels_by_brute_force_and_the_facade_keeps_its_names():
    torch.manual_seed(2)
    d = DeconvNet(build_cnn("cnn-2", (1, 12, 12)))
    x = torch.rand(30, 144)
    per_map = d.features(x, 0).flatten(2).amax(dim=(0, 2))            # every map's largest value
    chans = d.strongest_channels(x, 0, n=5, batch_size=7)                # batched search, same answer
    assert chans == per_map.topk(5).indices.tolist()
    assert lw.deconv.strongest_channels(d, x, 0, n=5) == chans          # the old function's call
    with pytest.raises(ValueError, match=r"'layer' .*\[0, 1\].*Got 2"):
        d.strongest_channels(x, 2)
    with pytest.raises(ValueError, match="'n'"):
        d.strongest_channels(x, 0, n=0)
    # lw.deconv is a facade: every name it exported stays, defined in the models, functional, plots
    for name in lw.deconv.__all__:
        obj = getattr(lw.deconv, name)
        assert getattr(obj, "__module__", "layerwise.models") != "layerwise.deconv", name
    assert lw.deconv.plot_csc is lw.plots.plot_csc and lw.deconv.unpool is lw.functional.unpool
