"""presets.py: the recipes against the papers' values, one call's worth of fit options, the
``preset:`` key of a run file (checked at load), and a recipe's schedules inside fit."""

import pytest
import torch

import layerwise as lw
from layerwise import presets
from layerwise.app.config import ConfigError, builtin_configs, config_from_dict, load_config
from layerwise.callbacks import GibbsStepsSchedule, MomentumSchedule

# The papers' settings, written down from the papers (see presets.py's table), independently of PRESETS:
# {preset: (citation year, {fit option: value}, {model option: value}, momentum at epochs 0..6 or None)}
PAPERS = {
    "hinton-guide": ("2010", {"batch_size": 100, "optimizer": "sgd", "weight_decay": 0.0002},
                     {"k": 1}, [0.5] * 5 + [0.9] * 2),
    "tieleman-pcd": ("2008", {"batch_size": 100, "optimizer": "sgd", "momentum": 0.0, "lr_schedule": "linear"},
                     {"k": 1, "persistent": True, "n_chains": 100}, None),
    "salakhutdinov-murray-cd1": ("2008", {"batch_size": 100}, {"k": 1}, [0.5] * 5 + [0.9] * 2),
    "salakhutdinov-murray-cd3": ("2008", {"batch_size": 100}, {"k": 3}, [0.5] * 5 + [0.9] * 2),
    "salakhutdinov-murray-cd25": ("2008", {"batch_size": 100}, {"k": 1}, [0.5] * 5 + [0.9] * 2),
    "salakhutdinov-hinton-dbm": ("2009", {"batch_size": 100, "optimizer": "sgd", "lr": 0.001,
                                          "lr_schedule": "linear"},
                                 {"n_chains": 100, "k": 5}, [0.5] * 5 + [0.9] * 2),
}


def test_every_preset_is_checked_here_and_in_the_docstring_table():
    assert set(presets.names()) == set(PAPERS)
    for name, (year, _, _, _) in PAPERS.items():
        assert f"``{name}``" in presets.__doc__, name
        assert year in presets.get(name).citation


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_preset_values_are_the_papers(name):
    _, train, model, momentum = PAPERS[name]
    p = presets.get(name)
    assert {k: p.fit_kwargs()[k] for k in train} == train
    assert {k: p.model_kwargs()[k] for k in model} == model
    if momentum is None:
        assert p.momentum is None and not any(isinstance(c, MomentumSchedule) for c in p.callbacks())
    else:
        (schedule,) = [c for c in p.callbacks() if isinstance(c, MomentumSchedule)]
        assert [schedule.value(e, 50) for e in range(7)] == momentum
        assert p.fit_kwargs()["momentum"] == momentum[0]       # what fit builds the optimiser with


def test_cd25_increases_k_gradually_from_1_to_25():
    (schedule,) = [c for c in presets.get("salakhutdinov-murray-cd25").callbacks() if isinstance(c, GibbsStepsSchedule)]
    for epochs in (2, 10, 50, 500):
        ks = [schedule.value(e, epochs) for e in range(epochs)]
        assert ks[0] == 1 and ks[-1] == 25 and ks == sorted(ks), epochs
    assert [schedule.value(e, 25) for e in range(25)] == list(range(1, 26))


def test_the_dbm_recipe_pre_trains_then_trains_with_persistent_chains():
    p = presets.get("salakhutdinov-hinton-dbm")
    assert p.task == "dbm" and p.pretrain["batch_size"] == 100 and p.pretrain_kwargs(epochs=2)["epochs"] == 2
    dbm = lw.DBM([6, 4, 3], **p.model_kwargs())
    assert dbm.n_chains == 100 and dbm.k == 5


def test_fit_options_is_one_call():
    p = presets.get("hinton-guide")
    mine = object()
    options = p.fit_options(callbacks=[mine], epochs=3, device="cpu")
    assert options["epochs"] == 3 and options["device"] == "cpu" and options["lr"] == p.train["lr"]
    assert options["callbacks"][0] is mine and isinstance(options["callbacks"][1], MomentumSchedule)
    assert p.fit_options()["callbacks"][0] is not options["callbacks"][1]      # fresh callbacks per call
    assert p.fit_kwargs(lr=1.0)["lr"] == 1.0 and p.train["lr"] != 1.0           # the preset is not changed


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="hinton-guide") as err:
        presets.get("hinton")
    assert "'hinton'" in str(err.value)


def test_a_preset_inside_fit_sets_its_schedules():
    x = (torch.rand(60, 16, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    p = presets.get("salakhutdinov-murray-cd25")
    torch.manual_seed(0)
    rbm = lw.RBM(16, 8, **p.model_kwargs()).init_visible_bias(x)
    history = lw.fit(rbm, x, **p.fit_options(epochs=7, batch_size=20, progress=False, device="cpu"))
    assert history["momentum"] == [0.5] * 5 + [0.9] * 2
    assert history["k"] == [1, 5, 9, 13, 17, 21, 25] and rbm.k == 25


# ---- run files ------------------------------------------------------------------------------------

RUN_FILES = {"mnist_rbm_hinton": "hinton-guide", "mnist_rbm_pcd_tieleman": "tieleman-pcd",
             "mnist_rbm_cd1": "salakhutdinov-murray-cd1", "mnist_rbm_cd3": "salakhutdinov-murray-cd3",
             "mnist_rbm_cd25": "salakhutdinov-murray-cd25", "mnist_dbm_salakhutdinov": "salakhutdinov-hinton-dbm"}


@pytest.mark.parametrize("config, name", sorted(RUN_FILES.items()))
def test_a_run_file_per_preset_cites_it_and_loads_its_settings(config, name):
    p = presets.get(name)
    lines = builtin_configs()[config].read_text().splitlines()
    comment = " ".join(line.lstrip("# ") for line in lines if line.startswith("#"))
    assert p.citation.split(",")[0] in comment          # e.g. "Salakhutdinov & Murray (2008)"
    cfg = load_config(config)
    assert cfg.preset == name and cfg.task == p.task
    assert {k: getattr(cfg.train, k) for k in p.train} == p.train
    assert {k: cfg.model[k] for k in p.model} == p.model
    if p.pretrain:
        assert {k: getattr(cfg.pretrain, k) for k in p.pretrain} == p.pretrain


def test_the_run_file_wins_over_the_preset_and_overrides_reach_it():
    cfg = load_config("mnist_rbm_hinton", ["train.epochs=2", "train.lr=0.5", "model.n_chains=7"])
    assert cfg.train.epochs == 2 and cfg.train.lr == 0.5 and cfg.model["n_chains"] == 7
    assert cfg.train.weight_decay == 0.0002 and cfg.model["k"] == 1


@pytest.mark.parametrize("values, message", [
    ({"task": "rbm", "preset": "hinton"}, "'preset' must be one of"),
    ({"task": "rbm", "preset": 3}, "'preset' must be one of"),
    ({"task": "dbm", "preset": "hinton-guide", "model": {"hidden_sizes": [4]}}, "recipe for task 'rbm'"),
    ({"preset": "hinton-guide"}, "this run file's task is 'compare'"),
    ({"task": "rbm", "preset": "hinton-guide", "model": {"n_hidden": 4}, "train": {"momentum": 0.9}},
     "'train.momentum' is 0.9, but preset 'hinton-guide' schedules it"),
    ({"task": "rbm", "preset": "salakhutdinov-murray-cd25", "model": {"n_hidden": 4, "k": 3}},
     "'model.k' is 3, but preset 'salakhutdinov-murray-cd25' schedules it"),
    ({"task": "rbm", "preset": "hinton-guide", "model": {"n_hidden": 4}, "train": {"epoch": 3}}, "train.epoch"),
])
def test_bad_presets_fail_at_load(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values)


def test_a_scheduled_key_at_its_starting_value_is_accepted():
    """The resolved config a run writes (config.yaml) loads again."""
    cfg = config_from_dict({"task": "rbm", "preset": "hinton-guide", "model": {"n_hidden": 4, "k": 1},
                            "train": {"momentum": 0.5}})
    assert cfg.train.momentum == 0.5
