"""CNNs of layerwise.models.cnn and their classifier (layerwise.models.classifier.CNNClassifier):
configs, their errors, greedy conv pre-training into a CNN, dtype and device, data checks, checkpoints."""

from __future__ import annotations

import pytest
import torch

import layerwise as lw
from layerwise.models.classifier import CNNClassifier
from layerwise.models.cnn import CNN_CONFIGS, build_cnn, conv_layers, load_pretrained_convs
from layerwise.models.conv_autoencoder import ConvAutoEncoder

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


@pytest.fixture(scope="module")
def digits():
    x, y = lw.datasets.load("digits")
    return x, y   # pixels in [0, 1]


def test_cnn_configs_and_their_errors():
    for name in ("cnn-1", "cnn-2"):
        for shape, side in (((1, 28, 28), 28), ((3, 32, 32), 32)):
            net = build_cnn(name, shape)
            out = net(torch.rand(2, shape[0] * side * side))
            assert out.shape == (2, 128) and net.n_features == 128
            assert len(conv_layers(net)) == len(CNN_CONFIGS[name]["blocks"])
    assert build_cnn({"blocks": [(4, 3, 2)]}, (1, 8, 8)).n_features == 4 * 4 * 4
    with pytest.raises(ValueError, match="Unknown network 'cnn-9'.*cnn-1"):
        build_cnn("cnn-9", (1, 28, 28))
    with pytest.raises(ValueError, match="pool does not fit"):
        build_cnn({"blocks": [(4, 3, 2)] * 4}, (1, 8, 8))
    with pytest.raises(ValueError, match="in_shape"):
        build_cnn("cnn-1", (28, 28))


def test_greedy_conv_pretraining_initialises_a_cnn_that_fine_tunes(digits, tmp_path):
    x, y = digits
    torch.manual_seed(0)
    stack = lw.pretrain([lambda n: ConvAutoEncoder((1, 8, 8), 8, 3), lambda n: ConvAutoEncoder((8, 4, 4), 16, 3)],
                        x[:600], epochs=2, batch_size=32, optimizer="adam", lr=3e-3, progress=False)
    assert len(stack) == 2 and stack[1](stack[0](x[:3])).shape == (3, 16 * 2 * 2)
    net = build_cnn({"blocks": [(8, 3, 2), (16, 3, 2)], "hidden": [32]}, (1, 8, 8))
    load_pretrained_convs(net, stack)
    for a, b in zip(conv_layers(net), conv_layers(stack)):
        assert torch.equal(a.weight, b.weight) and a.weight is not b.weight
    clf, hist = lw.finetune(net, (x[:1000], y[:1000]), epochs=20, batch_size=32, optimizer="adam", lr=3e-3,
                            progress=False)
    assert clf.accuracy(x[1000:], y[1000:]) > 0.9
    with pytest.raises(ValueError, match="do not fit"):
        load_pretrained_convs(build_cnn({"blocks": [(4, 3, 2), (16, 3, 2)]}, (1, 8, 8)), stack)
    # the checkpoint of a conv autoencoder rebuilds it
    cae = stack.learners[0]
    lw.save_checkpoint(tmp_path / "cae", cae)
    again = lw.load_model(tmp_path / "cae")
    torch.testing.assert_close(again.transform(x[:5]), cae.transform(x[:5]))


# ---- CNNClassifier: dtype and device, data checks, checkpoints -------------------------------------


def test_cnn_classifier_dtype_and_device():
    torch.manual_seed(0)
    clf = CNNClassifier("cnn-tiny", (1, 8, 8), 3, dtype=torch.float64)
    assert {p.dtype for p in clf.parameters()} == {torch.float64}
    assert clf(torch.rand(2, 64, dtype=torch.float64)).dtype == torch.float64
    res = CNNClassifier("resnet-18-w16", (1, 8, 8), 3, dtype=torch.float64)   # BatchNorm buffers too
    assert {b.dtype for n, b in res.named_buffers() if "running" in n} == {torch.float64}
    meta = CNNClassifier("cnn-1", (1, 8, 8), 3, device="meta")
    assert {p.device.type for p in meta.parameters()} == {"meta"}
    # .to() moves parameters and buffers; the default (None, None) is the float32 model of before
    moved = res.to(torch.float32)
    assert {b.dtype for n, b in moved.named_buffers() if "running" in n} == {torch.float32}
    torch.manual_seed(0)
    plain = CNNClassifier("cnn-tiny", (1, 8, 8), 3)
    assert {p.dtype for p in plain.parameters()} == {torch.float32}
    for a, b in zip(plain.parameters(), clf.parameters()):
        assert a.shape == b.shape


def test_cnn_classifier_float64_trains_and_same_seed_gives_the_same_model():
    x, y = torch.rand(40, 64, dtype=torch.float64), torch.randint(0, 3, (40,))
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        clf = CNNClassifier("cnn-tiny", (1, 8, 8), 3, dtype=torch.float64)
        hist = lw.fit(clf, (x, y), epochs=2, batch_size=10, progress=False, seed=0)
        runs.append((clf.head.weight.detach().clone(), hist[-1]["loss"]))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert runs[0][0].dtype == torch.float64


def test_cnn_classifier_validate_data_names_the_bad_shape():
    clf = CNNClassifier("cnn-tiny", (1, 8, 8), 3)
    assert clf.validate_data(torch.rand(4, 64)).shape == (4, 64)
    assert clf.validate_data(torch.rand(4, 1, 8, 8)).shape == (4, 1, 8, 8)
    assert clf.validate_data(torch.rand(4, 8, 8)).shape == (4, 8, 8)   # one channel: (N, H, W)
    assert clf.validate_data((torch.rand(4, 64), torch.zeros(4))).shape == (4, 64)
    with pytest.raises(ValueError, match=r"65 features.*64 = \(1, 8, 8\)"):
        clf.validate_data(torch.rand(4, 65))
    with pytest.raises(ValueError, match=r"images of shape \(3, 8, 8\).*\(1, 8, 8\)"):
        clf.validate_data(torch.rand(4, 3, 8, 8))
    with pytest.raises(ValueError, match=r"images of shape \(9, 9\)"):
        clf.validate_data(torch.rand(4, 9, 9))
    with pytest.raises(ValueError, match="finite"):
        clf.validate_data(torch.full((2, 64), float("nan")))
    # fit checks before any work: a wrong width never reaches the network
    with pytest.raises(ValueError, match="65 features"):
        lw.fit(clf, (torch.rand(10, 65), torch.zeros(10, dtype=torch.long)), epochs=1, progress=False)
    rgb = CNNClassifier("cnn-tiny", (3, 8, 8), 3)
    with pytest.raises(ValueError, match=r"images of shape \(8, 8\).*\(3, 8, 8\)"):
        rgb.validate_data(torch.rand(4, 8, 8))


def test_cnn_classifier_checkpoints_load_under_the_old_class_name(tmp_path):
    import json

    torch.manual_seed(1)
    clf = CNNClassifier({"blocks": [(4, 3, 2)], "hidden": [5]}, (1, 8, 8), 3, loss="bce")
    path = lw.save_checkpoint(tmp_path / "new", clf)
    meta = json.loads((path / "checkpoint.json").read_text())
    assert meta["model"]["class"] == "layerwise.models.classifier.CNNClassifier"
    x = torch.rand(3, 64)
    again = lw.load_model(path)
    assert type(again) is CNNClassifier and again.config() == clf.config()
    torch.testing.assert_close(again(x), clf(x))
    # a checkpoint written before the class moved (models/cnn.py) names its old place
    meta["model"]["class"] = "layerwise.models.cnn.CNNClassifier"
    (path / "checkpoint.json").write_text(json.dumps(meta))
    old = lw.load_model(path)
    assert type(old) is CNNClassifier
    torch.testing.assert_close(old(x), clf(x))
