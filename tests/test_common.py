"""The contract every model of layerwise keeps, checked over one registry (as torch's ``ModuleInfo``).

Each entry of :data:`MODELS` says how to build a small instance (with ``dtype``/``device``), what data
it takes, a batch it must refuse, and how it trains. Every test below runs over all of them:

- ``repr`` names the class and is the same for two equal builds;
- ``Class(**model.config())`` rebuilds the same configuration (JSON-serialisable);
- a checkpoint round trip (``save_checkpoint`` / ``load_model``) gives bitwise the same tensors;
- ``dtype=torch.float64`` builds float64 parameters and buffers, trains, and infers in float64;
- ``.to()`` moves every tensor the model holds (no tensor kept as a plain attribute);
- the fit contract: ``lw.fit(model, X, epochs=1)`` returns one finite history record (a DBN
  trains through ``pretrain`` and ``fit`` tells the user so);
- ``validate_data`` rejects a batch of the wrong width, naming the width, and ``fit`` refuses it
  before any work;
- the same seed gives the same weights, bit for bit, and a different seed different ones.

A new model is added to the library's contract by adding one :class:`ModelInfo` here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import torch
from torch import nn

import layerwise as lw
from layerwise.checkpoint import load_model, save_checkpoint
from layerwise.deconv import CNNClassifier, ConvAutoEncoder, ConvSparseCoding

pytestmark = pytest.mark.usefixtures("one_thread")

N = 24  # samples in every test data set


def _binary(width: int) -> Callable[[torch.Generator], torch.Tensor]:
    return lambda g: (torch.rand(N, width, generator=g) < 0.4).float()


def _uniform(width: int) -> Callable[[torch.Generator], torch.Tensor]:
    return lambda g: torch.rand(N, width, generator=g)


def _gaussian(width: int) -> Callable[[torch.Generator], torch.Tensor]:
    return lambda g: torch.randn(N, width, generator=g)


def _images(c: int, h: int, w: int) -> Callable[[torch.Generator], torch.Tensor]:
    return lambda g: torch.rand(N, c, h, w, generator=g)


def _labelled(width: int, n_classes: int = 3) -> Callable[[torch.Generator], Any]:
    return lambda g: (torch.rand(N, width, generator=g), torch.randint(0, n_classes, (N,), generator=g))


@dataclass
class ModelInfo:
    """How the common tests build, feed and train one model.

    Attributes
    ----------
    name : str
        Test id.
    build : callable
        ``build(**factory_kwargs) -> nn.Module`` with ``dtype=`` and ``device=`` keywords.
    data : callable
        ``data(generator)`` -> training data for ``lw.fit`` (a tensor or an (X, y) tuple).
    bad_data : callable
        ``bad_data(generator)`` -> a batch of the wrong width or shape.
    bad_width : str
        Text the error for ``bad_data`` must contain (the offending size).
    trains_with : {"fit", "pretrain"}
        ``"pretrain"``: the model is trained greedily (``model.pretrain``), and ``lw.fit`` must refuse it
        with a TypeError that says so.
    rebuild : bool
        Whether ``load_model`` can rebuild the model from its checkpoint alone (a ``config()``).
    fit_kwargs : dict
        Extra options for the one-epoch fit.
    infer : callable, optional
        ``infer(model, x)`` -> an output tensor (transform / forward) used for the dtype check.
    """

    name: str
    build: Callable[..., nn.Module]
    data: Callable[[torch.Generator], Any]
    bad_data: Callable[[torch.Generator], Any]
    bad_width: str
    trains_with: str = "fit"
    rebuild: bool = True
    fit_kwargs: dict = field(default_factory=dict)
    infer: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None


def _transform(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model.transform(x)


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x)


def _mlp_classifier(**factory: Any) -> nn.Module:
    clf = lw.Classifier(lw.build_mlp(6, [5, 4]), 3)
    return clf.to(**{k: v for k, v in factory.items() if v is not None})


MODELS: list[ModelInfo] = [
    ModelInfo("autoencoder", lambda **f: lw.AutoEncoder(6, [5, 3], loss="bce", noise="masking", noise_level=0.3, **f),
              _uniform(6), _uniform(7), "7", infer=_transform),
    ModelInfo("contractive_autoencoder",
              lambda **f: lw.AutoEncoder(6, 4, contractive_weight=0.1, sparsity="kl", sparsity_weight=0.1, **f),
              _uniform(6), _uniform(5), "5", infer=_transform),
    ModelInfo("rbm", lambda **f: lw.RBM(6, 4, k=2, **f), _binary(6), _binary(9), "9", infer=_transform),
    ModelInfo("rbm_pcd", lambda **f: lw.RBM(6, 4, persistent=True, n_chains=8, **f), _binary(6), _binary(9), "9",
              infer=_transform),
    ModelInfo("rbm_gaussian", lambda **f: lw.RBM(6, 4, visible="gaussian", learn_sigma=True, **f), _gaussian(6),
              _gaussian(4), "4", fit_kwargs={"lr": 0.001}, infer=_transform),
    ModelInfo("rbm_spin", lambda **f: lw.RBM(6, 4, visible="spin", hidden="spin", **f),
              lambda g: _binary(6)(g) * 2 - 1, lambda g: _binary(3)(g) * 2 - 1, "3", infer=_transform),
    ModelInfo("dbn", lambda **f: lw.DBN([6, 5, 3], **f), _binary(6), _binary(8), "8", trains_with="pretrain",
              infer=_transform),
    ModelInfo("dbm", lambda **f: lw.DBM([6, 5, 3], n_chains=8, **f), _binary(6), _binary(8), "8", infer=_transform),
    ModelInfo("sbn", lambda **f: lw.SigmoidBeliefNet([6, 5, 3], **f), _binary(6), _binary(8), "8", infer=_transform),
    ModelInfo("updown_dbn", lambda **f: lw.UpDownDBN([6, 5, 3], k_top=2, **f), _binary(6), _binary(8), "8",
              infer=_transform),
    ModelInfo("conv_autoencoder",
              lambda **f: ConvAutoEncoder((1, 8, 8), channels=3, kernel_size=3, noise="masking", noise_level=0.2, **f),
              _images(1, 8, 8), _images(1, 6, 6), "6", infer=_transform),
    ModelInfo("conv_sparse_coding", lambda **f: ConvSparseCoding(1, 3, 3, lam=5.0, n_iter=10, **f),
              _images(1, 8, 8), _images(2, 8, 8), "2", infer=_transform),
    ModelInfo("cnn_classifier",
              lambda **f: CNNClassifier({"blocks": [[3, 3, 2]], "hidden": [5]}, in_shape=(1, 8, 8), n_classes=3, **f),
              _labelled(64), _labelled(50), "50", infer=_forward),
    ModelInfo("mlp_classifier", _mlp_classifier, _labelled(6), _labelled(11), "11", rebuild=False, infer=_forward),
]
IDS = [m.name for m in MODELS]


def _make(info: ModelInfo, seed: int = 0, **factory: Any) -> nn.Module:
    torch.manual_seed(seed)
    return info.build(**factory)


def _data(info: ModelInfo, dtype: torch.dtype | None = None, seed: int = 1):
    data = info.data(torch.Generator().manual_seed(seed))
    if dtype is None:
        return data
    if isinstance(data, tuple):
        return (data[0].to(dtype), *data[1:])
    return data.to(dtype)


def _x(data):
    return data[0] if isinstance(data, tuple) else data


def _train(info: ModelInfo, model: nn.Module, data, seed: int = 0) -> lw.History:
    options = {"epochs": 1, "batch_size": 8, "progress": False, "seed": seed, **info.fit_kwargs}
    if info.trains_with == "pretrain":
        model.pretrain(data, **{k: v for k, v in options.items() if k != "seed"}, seed=seed)
        return model
    return lw.fit(model, data, **options)


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert torch.equal(a[k], b[k]), f"{k} differs"


@pytest.mark.parametrize("info", MODELS, ids=IDS)
def test_repr_names_the_class_and_is_stable(info):
    a, b = _make(info), _make(info, seed=5)
    text = repr(a)
    assert text.startswith(type(a).__name__ + "("), text
    assert text == repr(b)


@pytest.mark.parametrize("info", [m for m in MODELS if m.rebuild], ids=[m.name for m in MODELS if m.rebuild])
def test_config_round_trip(info):
    model = _make(info)
    config = model.config()
    assert json.loads(json.dumps(config)) == config, "config() must be JSON-serialisable as it is"
    rebuilt = type(model)(**config)
    assert rebuilt.config() == config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


@pytest.mark.parametrize("info", MODELS, ids=IDS)
def test_checkpoint_round_trip(info, tmp_path):
    model = _make(info)
    _train(info, model, _data(info))
    save_checkpoint(tmp_path / "ckpt", model)
    if info.rebuild:
        loaded = load_model(tmp_path / "ckpt")
        assert type(loaded) is type(model)
        assert loaded.config() == model.config()
    else:
        loaded = load_model(tmp_path / "ckpt", model=_make(info, seed=9))
    _assert_same(_tensors(model), _tensors(loaded))


@pytest.mark.parametrize("info", MODELS, ids=IDS)
def test_float64(info):
    model = _make(info, dtype=torch.float64)
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            assert t.dtype == torch.float64, f"{name} is {t.dtype}"
    data = _data(info, torch.float64)
    _train(info, model, data)
    model.eval()
    with torch.no_grad():
        out = info.infer(model, _x(data))
    assert out.dtype == torch.float64
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("info", MODELS, ids=IDS)
def test_to_moves_every_tensor(info):
    model = _make(info)
    _train(info, model, _data(info))
    for module in model.modules():
        loose = [k for k, v in vars(module).items() if isinstance(v, torch.Tensor)]
        assert not loose, f"{type(module).__name__} keeps tensors outside parameters/buffers: {loose}"
    model.to(torch.float64)
    assert all(t.dtype == torch.float64 for t in model.state_dict().values() if t.is_floating_point())
    model.to("meta")
    devices = {t.device.type for t in model.state_dict().values()}
    assert devices == {"meta"}, devices


@pytest.mark.parametrize("info", MODELS, ids=IDS)
def test_fit_contract(info):
    model = _make(info)
    data = _data(info)
    if info.trains_with == "pretrain":
        with pytest.raises(TypeError, match="pretrain"):
            lw.fit(model, data, epochs=1, progress=False)
        before = _tensors(model)
        model.pretrain(data, epochs=1, batch_size=8, progress=False)
        assert any(not torch.equal(before[k], v) for k, v in _tensors(model).items())
        return
    history = lw.fit(model, data, epochs=2, batch_size=8, progress=False, **info.fit_kwargs)
    assert isinstance(history, lw.History) and len(history) == 2
    assert history["epoch"] == [1, 2]
    assert all(math.isfinite(v) for v in history["loss"])
    assert not model.training, "fit leaves the model in eval mode"


@pytest.mark.parametrize("info", MODELS, ids=IDS)
def test_validate_data_rejects_a_bad_width(info, tmp_path):
    model = _make(info)
    bad = info.bad_data(torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=info.bad_width):
        model.validate_data(_x(bad))
    if info.trains_with == "fit":
        before = _tensors(model)
        with pytest.raises(ValueError, match=info.bad_width):
            lw.fit(model, bad, epochs=1, progress=False, checkpoint_dir=tmp_path / "run")
        _assert_same(before, _tensors(model))
        assert not (tmp_path / "run").exists(), "nothing is written for data the model refuses"


@pytest.mark.parametrize("info", MODELS, ids=IDS)
def test_same_seed_same_result(info):
    runs = []
    for seed in (3, 3, 4):
        model = _make(info)
        _train(info, model, _data(info), seed=seed)
        runs.append(_tensors(model))
    _assert_same(runs[0], runs[1])
    assert any(not torch.equal(runs[0][k], runs[2][k]) for k in runs[0]), "another seed should change the result"
