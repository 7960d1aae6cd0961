"""Every kind of bad input named by the foundation issue fails before any work, with a message
that names the value and what was expected, and leaves no file behind."""

import gzip

import pytest
import torch

import layerwise as lw


@pytest.fixture
def ae():
    return lw.AutoEncoder(6, [3], loss="bce")


def _fails(tmp_path, model, data, match, exc=ValueError, **kwargs):
    run = tmp_path / "run"
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(exc, match=match):
        lw.fit(model, data, checkpoint_dir=run, progress=False, device="cpu", **kwargs)
    assert not run.exists(), "a failed check must leave no run folder"
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} changed although the call failed"


def test_wrong_number_of_features(tmp_path, ae):
    _fails(tmp_path, ae, torch.rand(10, 5), r"'data' has 5 features, but 6 were expected")


def test_wrong_number_of_dimensions(tmp_path, ae):
    _fails(tmp_path, ae, torch.rand(10, 2, 3), r"'data' must be a 2-d array; got shape \(10, 2, 3\)")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_inf(tmp_path, ae, bad):
    x = torch.rand(10, 6)
    x[4, 1] = bad
    _fails(tmp_path, ae, x, r"finite values.*index \(4, 1\)")


def test_values_outside_unit_interval_with_cross_entropy(tmp_path, ae):
    _fails(tmp_path, ae, torch.rand(10, 6) * 255, r"must lie in \[0, 1\] for loss='bce'.*got values in \[")
    ce = lw.AutoEncoder(6, [3], loss="ce")
    _fails(tmp_path, ce, torch.randn(10, 6), r"non-negative for loss='ce'")
    lw.fit(lw.AutoEncoder(6, [3], loss="mse"), torch.rand(10, 6) * 255, epochs=1, progress=False)  # fine with mse


def test_empty_data_set(tmp_path, ae):
    _fails(tmp_path, ae, torch.rand(0, 6), r"at least 1 sample")


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, r"'batch_size' parameter must be an int in the range \[1, inf\)\. Got 0 instead"),
    ({"batch_size": -3}, r"'batch_size'.*Got -3 instead"),
    ({"lr": 0.0}, r"'lr' parameter must be a float in the range \(0.0, inf\)\. Got 0.0 instead"),
    ({"lr": -0.1}, r"'lr'.*Got -0.1 instead"),
])
def test_non_positive_batch_size_or_learning_rate(tmp_path, ae, kwargs, match):
    _fails(tmp_path, ae, torch.rand(10, 6), match, **kwargs)


def test_missing_and_corrupt_data_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "mnist")):
        lw.datasets.load("mnist", root=tmp_path)
    (tmp_path / "mnist").mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist" / name).write_bytes(b"this is not gzip")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        lw.datasets.load("mnist", root=tmp_path)
    # truncated: a valid header promising 2 images of 28x28, but only 10 bytes of pixels
    header = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + b"\0" * 10))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz.*1568"):
        lw.datasets.load("mnist", root=tmp_path)
