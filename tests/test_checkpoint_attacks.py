"""Checkpoints from strangers cannot act (issue 12): a crafted ``checkpoint.json`` or
``model.safetensors`` is refused, with a message naming what is wrong, before anything it names is
imported, called or allocated; through :func:`layerwise.load_model`, ``layerwise evaluate``,
``layerwise sample`` and ``fit(resume=True)``.

Every registered model class round-trips (save -> load gives the same outputs), and the registry
holds every model class of layerwise that can describe itself (``config()``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import math
import pkgutil
import time
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import layerwise as lw
from layerwise import checkpoint as ckpt
from layerwise.checkpoint import CheckpointError, MODEL_CLASSES, checks
from layerwise.cli import main
from layerwise.deconv import CNNClassifier, ConvAutoEncoder, ConvSparseCoding
from layerwise.models.dbm_parts import ScaledRBM

pytestmark = pytest.mark.usefixtures("one_thread")

RBM = "layerwise.models.rbm.RBM"


# ---- forging checkpoints -----------------------------------------------------------------------


def _forge(folder: Path, cls: str = RBM, config: dict | None = None, tensors: dict | None = None,
           **meta) -> Path:
    """A checkpoint folder written by hand: ``cls(**config)`` with ``tensors`` (default: an RBM(6, 4))."""
    folder.mkdir(parents=True)
    if tensors is None:
        tensors = {k: v.clone() for k, v in lw.RBM(6, 4).state_dict().items()}
    save_file(tensors, str(folder / ckpt.MODEL_FILE))
    body = {"format": ckpt.FORMAT, "model": {"class": cls, "config": {"n_visible": 6, "n_hidden": 4} if config is None
                                                 else config}, "epoch": 0, "history": [], "fit_config": {}}
    body.update(meta)
    (folder / ckpt.META_FILE).write_text(json.dumps(body))
    return folder


def _listing(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def _load(route: str, folder: Path, capsys) -> str:
    """Load ``folder`` through ``route``; return the error's text (and fail when there is none)."""
    if route == "load_model":
        with pytest.raises(CheckpointError) as err:
            lw.load_model(folder)
        return str(err.value)
    argv = ["evaluate", str(folder), "--data", "digits"] if route == "evaluate" else \
        ["sample", str(folder), "--n", "2", "--steps", "1", "--out", str(folder.parent / "pictures")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"layerwise {route}: error: ") and err.count("\n") == 1, err  # one line, no traceback
    return err


ROUTES = ["load_model", "evaluate", "sample"]


# ---- classes: only the registry ----------------------------------------------------------------


def _attacks(tmp: Path) -> dict[str, tuple[str, dict]]:
    """Checkpoints naming callables that would act if called with the file's arguments."""
    return {
        "save_file": ("layerwise.checkpoint.save_file", {"tensors": {}, "filename": str(tmp / "sentinel.txt")}),
        "cli_main": ("layerwise.cli.main", {"argv": ["run", "digits_rbm", "--out", str(tmp / "escaped")]}),
        "os_system": ("os.system", {"command": f"echo pwned > {tmp / 'sentinel.txt'}"}),
        "builtins_exec": ("builtins.exec", {"source": f"open({str(tmp / 'sentinel.txt')!r}, 'w').write('pwned')"}),
        "import_module": ("layerwise.checkpoint.registry.importlib.import_module", {"name": "antigravity"}),
        "history": ("layerwise.training.History", {}),  # a layerwise class, not a model
        "classifier": ("layerwise.models.classifier.Classifier", {"n_classes": 3}),  # a model, not rebuildable
        "method": ("layerwise.models.rbm.RBM.to", {"device": "cpu"}),
    }


def test_the_attacks_would_act_if_called(tmp_path):
    """Control: the first attack really writes the sentinel when its name is resolved and called
    with its arguments (the old loader's recipe), so the refusals below are refusals of something."""
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("untouched")
    dotted, config = _attacks(tmp_path)["save_file"]
    module, _, name = dotted.rpartition(".")
    getattr(importlib.import_module(module), name)(**config)
    assert sentinel.read_bytes() != b"untouched"


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("attack", list(_attacks(Path("."))))
def test_unregistered_classes_are_refused_and_nothing_acts(attack, route, tmp_path, capsys):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("untouched")
    dotted, config = _attacks(tmp_path)[attack]
    folder = _forge(tmp_path / "ckpt", dotted, config)
    before = _listing(tmp_path)
    message = _load(route, folder, capsys)
    assert "Refusing to import model class" in message and "is not a registered layerwise model" in message
    assert "Valid names: " + ", ".join(MODEL_CLASSES) in message
    assert sentinel.read_text() == "untouched"
    assert _listing(tmp_path) == before  # nothing written, no run folder, no pictures
    assert not (tmp_path / "escaped").exists()


def _model_classes_of_layerwise() -> set[str]:
    """Every nn.Module class defined in layerwise whose instances describe themselves (``config()``)."""
    found = set()
    for info in pkgutil.walk_packages(lw.__path__, "layerwise."):
        if info.name.endswith("__main__"):
            continue
        with warnings.catch_warnings():  # the deprecated layerwise.faces shim says so on import
            warnings.simplefilter("ignore", FutureWarning)
            module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name and issubclass(obj, nn.Module) and callable(getattr(obj, "config", None)):
                found.add(f"{obj.__module__}.{obj.__qualname__}")
    return found


def test_the_registry_holds_every_model_layerwise_can_save():
    assert set(MODEL_CLASSES) == _model_classes_of_layerwise()
    for name in MODEL_CLASSES:
        assert f"{ckpt.registry.model_class(name).__module__}.{ckpt.registry.model_class(name).__qualname__}" == name


def _perturbed(model: nn.Module, seed: int = 3) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model.eval()


def _images(n, c, h, w):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(1))


def _flat(n, d):
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(1)) < 0.4).float()


#: One small instance of every registered class, an input, and the output compared after loading.
ROUND_TRIPS = {
    "layerwise.models.autoencoder.AutoEncoder": (lambda: lw.AutoEncoder(6, [5, 3], noise="masking", noise_level=0.2),
                                                 _flat(5, 6), "transform"),
    "layerwise.models.classifier.CNNClassifier": (lambda: CNNClassifier({"blocks": [[3, 3, 2]], "hidden": [5]},
                                                                        in_shape=(1, 8, 8), n_classes=3),
                                                  _flat(5, 64), "__call__"),
    "layerwise.models.conv_autoencoder.ConvAutoEncoder": (lambda: ConvAutoEncoder((1, 8, 8), channels=3, kernel_size=3),
                                                          _images(2, 1, 8, 8), "transform"),
    "layerwise.models.csc.ConvSparseCoding": (lambda: ConvSparseCoding(1, 3, 3, lam=1.0, n_iter=5),
                                              _images(2, 1, 8, 8), "transform"),
    "layerwise.models.dbm.DBM": (lambda: lw.DBM([6, 5, 3], n_chains=4), _flat(5, 6), "transform"),
    "layerwise.models.dbm_parts.ScaledRBM": (lambda: ScaledRBM(6, 4, 2.0, 1.0, persistent=True, n_chains=3),
                                             _flat(5, 6), "transform"),
    "layerwise.models.dbn.DBN": (lambda: lw.DBN([6, 5, 3]), _flat(5, 6), "transform"),
    "layerwise.models.rbm.RBM": (lambda: lw.RBM(6, 4, visible="gaussian", learn_sigma=True, persistent=True,
                                                n_chains=3), _flat(5, 6), "transform"),
    "layerwise.models.sbn.SigmoidBeliefNet": (lambda: lw.SigmoidBeliefNet([6, 5, 3]), _flat(5, 6), "transform"),
    "layerwise.models.updown.UpDownDBN": (lambda: lw.UpDownDBN([6, 5, 3], k_top=2), _flat(5, 6), "transform"),
}


def test_every_registered_class_has_a_round_trip():
    assert set(ROUND_TRIPS) == set(MODEL_CLASSES)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_registered_class_round_trips(name, dtype, tmp_path):
    build, x, method = ROUND_TRIPS[name]
    torch.manual_seed(0)
    model = _perturbed(build().to(dtype))
    ckpt.save_checkpoint(tmp_path / "c", model)
    torch.manual_seed(1)  # a rebuild that ignored the weights would start elsewhere
    loaded = lw.load_model(tmp_path / "c").eval()
    assert type(loaded) is type(model) and f"{type(loaded).__module__}.{type(loaded).__qualname__}" == name
    for k, v in model.state_dict().items():
        assert loaded.state_dict()[k].dtype == v.dtype and torch.equal(loaded.state_dict()[k], v), k
    outputs = []
    for m in (model, loaded):
        torch.manual_seed(5)
        with torch.no_grad():
            outputs.append(getattr(m, method)(x.to(dtype)))
    assert outputs[0].dtype == dtype and torch.equal(outputs[0], outputs[1])
    torch.manual_seed(1)
    fresh = build().to(dtype).eval()
    torch.manual_seed(5)
    with torch.no_grad():
        assert not torch.equal(getattr(fresh, method)(x.to(dtype)), outputs[0])  # the weights are what matched


def test_a_class_name_must_be_a_registered_string(tmp_path):
    with pytest.raises(CheckpointError, match="Refusing to import model class \\['layerwise.models.rbm.RBM'\\]"):
        ckpt.registry.model_class([RBM])
    with pytest.raises(CheckpointError, match=r"'model' must be \{\"class\": str"):
        lw.load_model(_forge(tmp_path / "c", [RBM]))


def test_moved_class_names_still_load(tmp_path):
    folder = _forge(tmp_path / "c", "layerwise.models.dbm._ScaledRBM",
                    {"n_visible": 6, "n_hidden": 4, "up": 2.0, "down": 1.0})
    assert type(lw.load_model(folder)) is ScaledRBM


# ---- constructor arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("config, match", [
    ({"n_visible": 6, "n_hidden": 4, "evil": 1}, r"unknown argument\(s\) \['evil'\]; RBM takes \['n_visible'"),
    ({"n_visible": 6, "n_hidden": 4, "device": "cuda:7"}, r"unknown argument\(s\) \['device'\]"),
    ({"n_visible": 6, "n_hidden": 4, "dtype": "float64"}, r"unknown argument\(s\) \['dtype'\]"),
    ({"n_visible": 6}, r"lacks the required argument\(s\) \['n_hidden'\]"),
    ({"n_visible": 6, "n_hidden": "4"}, r"'n_hidden' must be int; got '4' \(str\)"),
    ({"n_visible": 6, "n_hidden": True}, r"'n_hidden' must be int; got True \(bool\)"),
    ({"n_visible": 6, "n_hidden": 4.0}, r"'n_hidden' must be int; got 4.0 \(float\)"),
    ({"n_visible": 6, "n_hidden": 4, "sigma": [1.0]}, r"'sigma' must be float; got \[1.0\] \(list\)"),
    ({"n_visible": 6, "n_hidden": 4, "visible": {"__class__": "os.system"}}, r"'visible' must be str; got \{"),
    ({"n_visible": 6, "n_hidden": 4, "persistent": "yes"}, r"'persistent' must be bool"),
    ({"n_visible": 6, "n_hidden": -4}, r"refused by its constructor: .*n_hidden"),
    ({"n_visible": 6, "n_hidden": 4, "visible": "os.system"}, r"refused by its constructor: .*visible"),
])
def test_constructor_arguments_are_checked(config, match, tmp_path):
    with pytest.raises(CheckpointError, match=match):
        lw.load_model(_forge(tmp_path / "c", RBM, config))


def test_nested_arguments_are_checked(tmp_path):
    with pytest.raises(CheckpointError, match=r"'sizes' must be Sequence\[int\]; got \[6, 'a'\]"):
        lw.load_model(_forge(tmp_path / "a", "layerwise.models.dbn.DBN", {"sizes": [6, "a"]}))
    with pytest.raises(CheckpointError, match=r"'hidden_sizes' must be int \| Sequence\[int\]; got '4'"):
        lw.load_model(_forge(tmp_path / "b", "layerwise.models.autoencoder.AutoEncoder",
                             {"n_inputs": 6, "hidden_sizes": "4"}))
    with pytest.raises(CheckpointError, match=r"unknown argument\(s\) \['x'\]; ScaledRBM takes \[.*'persistent'"):
        lw.load_model(_forge(tmp_path / "c", "layerwise.models.dbm_parts.ScaledRBM",
                             {"n_visible": 6, "n_hidden": 4, "up": 1.0, "down": 1.0, "persistent": False, "x": 1}))


def test_size_fields_are_bounded_before_allocation(tmp_path):
    """n_hidden = 10**12 would need 24 TB; it is refused at once, by the constructor's memory guard
    (``_validation.check_memory``) before the meta-device build could compare shapes."""
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError,
                       match=r"refused by its constructor: RBM\(6, 1000000000000\) parameters would need 2\.61e\+04 GiB"):
        lw.load_model(_forge(tmp_path / "a", RBM, {"n_visible": 6, "n_hidden": 10**12}))
    assert time.perf_counter() - t0 < 5


def test_layer_lists_are_bounded_by_the_tensors_in_the_file(tmp_path):
    """A DBN of 100,000 layers would take minutes to build even on the meta device."""
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"'sizes' holds a list of 100000 items, more than the 16 that"):
        lw.load_model(_forge(tmp_path / "a", "layerwise.models.dbn.DBN", {"sizes": [6] * 100_000}))
    with pytest.raises(CheckpointError, match=r"'network' holds a list of 5000 items"):
        lw.load_model(_forge(tmp_path / "b", "layerwise.models.classifier.CNNClassifier",
                             {"network": {"blocks": [[3, 3, 2]] * 5000, "hidden": [5]}}))
    assert time.perf_counter() - t0 < 5


def test_a_model_far_larger_than_its_weights_is_not_allocated(tmp_path, monkeypatch):
    """Buffers outside the state (not in the file) are bounded too: RBM(6, 4) needs more than 2x + slack."""
    folder = _forge(tmp_path / "a")
    monkeypatch.setattr(ckpt, "ALLOCATION_SLACK", 0)
    built = []
    monkeypatch.setattr(lw.RBM, "__init__", _with_scratch(lw.RBM.__init__, built))
    with pytest.raises(CheckpointError, match=r"builds a model of 40136 bytes, far more than the 136 bytes"):
        lw.load_model(folder)
    assert built == ["meta"]  # only the allocation-free build ran


def _with_scratch(init, built):
    @functools.wraps(init)
    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.register_buffer("scratch", torch.zeros(10_000), persistent=False)
        built.append(self.scratch.device.type)
    return patched


# ---- tensors -----------------------------------------------------------------------------------


def _rbm_state(**changes) -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in lw.RBM(6, 4).state_dict().items()}
    state.update(changes)
    return {k: v for k, v in state.items() if v is not None}


@pytest.mark.parametrize("route", ROUTES)
def test_wrong_shapes_dtypes_and_names_are_named(route, tmp_path, capsys):
    cases = {
        "shape": (_rbm_state(weight=torch.zeros(5, 6)), r"'weight' has shape (5, 6) in the checkpoint, but (4, 6)"),
        "dtype": (_rbm_state(hidden_bias=torch.zeros(4, dtype=torch.float64)),
                  "'hidden_bias' has dtype torch.float64 in the checkpoint, but torch.float32 in the model"),
        "extra": (_rbm_state(evil=torch.zeros(3)), "unexpected 'evil'"),
        "missing": (_rbm_state(visible_bias=None), "missing 'visible_bias'"),
    }
    for case, (tensors, text) in cases.items():
        message = _load(route, _forge(tmp_path / case, tensors=tensors), capsys)
        assert "does not fit RBM" in message and text in message, (case, message)


def test_dtype_is_checked_against_a_given_model(tmp_path):
    ckpt.save_checkpoint(tmp_path / "c", lw.RBM(6, 4))
    with pytest.raises(CheckpointError, match="'weight' has dtype torch.float32 in the checkpoint, but torch.float64"):
        lw.load_model(tmp_path / "c", model=lw.RBM(6, 4, dtype=torch.float64))


def test_a_lying_safetensors_header_is_refused_before_reading(tmp_path):
    folder = _forge(tmp_path / "c")
    raw = (folder / ckpt.MODEL_FILE).read_bytes()
    (folder / ckpt.MODEL_FILE).write_bytes((10**12).to_bytes(8, "little") + raw[8:])
    with pytest.raises(CheckpointError, match=r"its header claims 1000000000000 bytes"):
        lw.load_model(folder)
    assert raw.count(b'"shape":[4,6]') == 1
    (folder / ckpt.MODEL_FILE).write_bytes(raw.replace(b'"shape":[4,6]', b'"shape":[4,7]'))  # 112 bytes, not 96
    with pytest.raises(CheckpointError, match=r"header entry of tensor 'weight'"):
        lw.load_model(folder)


@pytest.mark.parametrize("route", ROUTES)
def test_non_finite_weights_are_refused(route, tmp_path, capsys):
    weight = torch.zeros(4, 6)
    weight[1, 2], weight[3, 0] = float("nan"), float("inf")
    message = _load(route, _forge(tmp_path / "c", tensors=_rbm_state(weight=weight)), capsys)
    assert "NaN or infinite values in 'weight' (2 of 24 values)" in message and "allow_non_finite=True" in message


def test_non_finite_weights_load_when_allowed(tmp_path):
    weight = torch.randn(4, 6)
    weight[0, 0] = float("nan")
    model = lw.load_model(_forge(tmp_path / "c", tensors=_rbm_state(weight=weight)), allow_non_finite=True)
    assert torch.equal(model.weight.isnan(), weight.isnan())
    assert torch.equal(model.weight.nan_to_num(), weight.nan_to_num())


def test_resume_refuses_non_finite_weights(tmp_path):
    x = _flat(8, 6)
    lw.fit(lw.RBM(6, 4), x, epochs=1, batch_size=4, checkpoint_dir=tmp_path, progress=False)
    state = ckpt.load_checkpoint(tmp_path)["model_state"]
    state["weight"][0, 0] = float("nan")
    save_file(state, str(tmp_path / "last" / ckpt.MODEL_FILE))
    model = lw.RBM(6, 4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match="NaN or infinite values in 'weight'"):
        lw.fit(model, x, epochs=2, batch_size=4, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


# ---- counters ----------------------------------------------------------------------------------


HISTORY = [{"epoch": e, "loss": 1.0} for e in (1, 2, 3)]


@pytest.mark.parametrize("meta, match", [
    ({"epoch": 10**9, "history": HISTORY, "fit_config": {"epochs": 3}}, "'epoch' is 1000000000, beyond the 3 epochs"),
    ({"epoch": 10**9, "history": HISTORY}, "'epoch' is 1000000000, but the history's last record is epoch 3"),
    ({"epoch": 2, "history": HISTORY}, "'epoch' is 2, but the history has 3 epochs"),
    ({"epoch": -1}, r"'epoch' must be an int in the range \[0, inf\); got -1"),
    ({"epoch": "3"}, r"'epoch' must be an int .*; got '3'"),
    ({"epoch": True}, r"'epoch' must be an int .*; got True"),
    ({"epoch": 3.0}, r"'epoch' must be an int .*; got 3.0"),
    ({"epoch": 3, "fit_config": {"epochs": -3}}, r"'fit_config.epochs' must be an int"),
    ({"history": "x"}, "'history' must be a list of objects"),
    ({"fit_config": []}, "'fit_config' must be an object"),
    ({"model": {"class": RBM, "config": [6, 4]}}, r"'model' must be \{\"class\": str, \"config\": object or null\}"),
    ({"format": "layerwise-checkpoint/99"}, "has format 'layerwise-checkpoint/99'"),
])
def test_counters_and_structure_are_range_checked(meta, match, tmp_path):
    folder = _forge(tmp_path / "c", **meta)
    with pytest.raises(CheckpointError, match=match):
        lw.load_model(folder)
    with pytest.raises(CheckpointError, match=match):
        ckpt.load_checkpoint(folder)


def test_resume_refuses_an_epoch_beyond_the_history(tmp_path):
    """The issue's case: epoch 10**9 with 3 epochs of history resumed as 'finished' having trained nothing."""
    x = _flat(8, 6)
    lw.fit(lw.RBM(6, 4), x, epochs=3, batch_size=4, checkpoint_dir=tmp_path, progress=False)
    meta_file = tmp_path / "last" / ckpt.META_FILE
    meta = json.loads(meta_file.read_text())
    assert meta["epoch"] == 3 and [r["epoch"] for r in meta["history"]] == [1, 2, 3]
    ckpt.load_checkpoint(tmp_path)  # the genuine one loads
    meta["epoch"] = 10**9
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="'epoch' is 1000000000, beyond the 3 epochs"):
        lw.fit(lw.RBM(6, 4), x, epochs=3, batch_size=4, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_oversized_and_deeply_nested_json_is_refused(tmp_path, monkeypatch):
    folder = _forge(tmp_path / "c")
    (folder / ckpt.META_FILE).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="checkpoint.json' is corrupt"):
        lw.load_model(folder)
    monkeypatch.setattr(checks, "MAX_META_BYTES", 100)
    with pytest.raises(CheckpointError, match="a checkpoint's JSON may have at most 100"):
        lw.load_model(folder)


# ---- the trainer file --------------------------------------------------------------------------


def _trained(tmp_path: Path, optimizer: str = "adam") -> torch.Tensor:
    x = (torch.rand(8, 5, generator=torch.Generator().manual_seed(0)), torch.randn(8, 3))
    lw.fit(_Linear(), x, epochs=1, batch_size=4, optimizer=optimizer, checkpoint_dir=tmp_path, progress=False)
    return x


class _Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 3)

    def training_loss(self, batch):
        x, y = batch
        return ((self.lin(x) - y) ** 2).mean()


@pytest.mark.parametrize("change, match", [
    ({"rng.cpu": torch.zeros(7, dtype=torch.uint8)}, "unexpected tensor 'rng.cpu' .*shape \\(7,\\)"),
    ({"evil": torch.zeros(1)}, "unexpected tensor 'evil'"),
    ({"optimizer.0.step": torch.tensor(-5.0)}, "unexpected tensor 'optimizer.0.step'"),
    ({"optimizer.0.step": torch.tensor(1.5)}, "unexpected tensor 'optimizer.0.step'"),
    ({"optimizer.0.exp_avg": torch.full((3, 5), math.nan)}, "NaN or infinite values in 'optimizer.0.exp_avg'"),
])
def test_resume_checks_the_trainer_file(change, match, tmp_path):
    x = _trained(tmp_path)
    state = ckpt.load_checkpoint(tmp_path)["trainer_state"]
    assert "optimizer.0.step" in state and "rng.cpu" in state
    state.update(change)
    save_file(state, str(tmp_path / "last" / ckpt.TRAINER_FILE))
    with pytest.raises(CheckpointError, match=match):
        lw.fit(_Linear(), x, epochs=2, batch_size=4, optimizer="adam", checkpoint_dir=tmp_path, resume=True,
               progress=False)


def test_resume_checks_the_optimiser_json(tmp_path):
    x = _trained(tmp_path)
    meta_file = tmp_path / "last" / ckpt.META_FILE
    meta = json.loads(meta_file.read_text())
    meta["optimizer"]["param_groups"][0]["params"] = ["os.system"]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="optimiser state is malformed"):
        lw.fit(_Linear(), x, epochs=2, batch_size=4, optimizer="adam", checkpoint_dir=tmp_path, resume=True,
               progress=False)
