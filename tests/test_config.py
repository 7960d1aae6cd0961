"""app/config.py: run files, typed sections checked when the file loads, overrides."""

import inspect

import pytest

from layerwise.data_source import DEFAULT_BATCH_SIZE
from layerwise import cli
from layerwise.app import config as app_config
from layerwise.app.config import (ConfigError, TrainConfig, apply_overrides, builtin_configs, config_from_dict,
                                  load_config)
from layerwise.training import fit

QUICK = ["--seeds=[0]", "--data.max_train=300", "--data.max_test=100", "--pretrain.epochs=2",
         "--finetune.epochs=2"]


def test_unknown_keys_are_named_with_the_valid_ones():
    with pytest.raises(ConfigError, match=r"Unknown key 'epochz'; valid keys are: .*seeds.*task"):
        config_from_dict({"epochz": 3})
    with pytest.raises(ConfigError, match=r"Unknown key 'pretrain.epoch'; valid keys of 'pretrain' are: batch_size, epochs, lr"):
        config_from_dict({"pretrain": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"'finetune.lr' must be of type float; got 'fast'"):
        config_from_dict({"finetune": {"lr": "fast"}})
    with pytest.raises(ConfigError, match="'task' must be one of"):
        config_from_dict({"task": "dance"})


def test_overrides_parse_yaml_values():
    values = apply_overrides({"pretrain": {"epochs": 3}}, ["--pretrain.epochs=5", "network.hidden_sizes=[8, 4]", "data.divide=null"])
    assert values == {"pretrain": {"epochs": 5}, "network": {"hidden_sizes": [8, 4]}, "data": {"divide": None}}
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        apply_overrides({}, ["--pretrain.epochs"])


@pytest.mark.parametrize("name", sorted(builtin_configs()))
def test_builtin_configs_are_valid(name):
    cfg = load_config(name)
    assert cfg.name


def test_bad_run_files_fail_with_a_message(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: compare\nvariants:\n  dae: {noise: masking, noise_levl: 0.3}\n")
    assert cli.main(["run", str(bad), "--out", str(tmp_path / "x"), "--no-progress", *QUICK]) == 2
    err = capsys.readouterr().err
    assert "Unknown key 'variants.<name>.noise_levl'" in err and "noise_level" in err
    assert not (tmp_path / "x" / "results.csv").exists()
    assert cli.main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "No run file" in capsys.readouterr().err
    bad.write_text("variants:\n  wide: {hidden_sizes: [5]}\n")
    assert cli.main(["run", str(bad), "--no-progress", "--out", str(tmp_path / "y")]) == 2
    assert "may not set hidden_sizes" in capsys.readouterr().err


def test_train_config_defaults_are_fits_own():
    params = inspect.signature(fit).parameters
    for name, value in vars(TrainConfig()).items():
        if name == "batch_size":  # fit's None means "the data's": DEFAULT_BATCH_SIZE for arrays
            assert params[name].default is None and value == DEFAULT_BATCH_SIZE == 64
            continue
        assert value == params[name].default, name


def test_fit_kwargs_pass_every_setting():
    t = TrainConfig(epochs=3, batch_size=7, optimizer="adam", lr=0.5, momentum=0.2, weight_decay=0.1,
                    lr_schedule="linear")
    assert t.fit_kwargs("cpu", 4) == {"epochs": 3, "batch_size": 7, "optimizer": "adam", "lr": 0.5, "momentum": 0.2,
                                      "weight_decay": 0.1, "lr_schedule": "linear", "device": "cpu", "seed": 4}


# A bad value in every section, the task's model sections and the variants included.
BAD = [
    ("digits_rbm", "--model.n_hidden=abc", "'model.n_hidden' must be of type int"),
    ("digits_rbm", "--model.n_hidden=null", "'model.n_hidden' must be of type int"),
    ("digits_rbm", "--model.persistent=3", "'model.persistent' must be of type bool"),
    ("digits_rbm", "--train.epochs=abc", "'train.epochs' must be of type int"),
    ("digits_rbm", "--evaluate.ais_runs=abc", "'evaluate.ais_runs' must be of type int"),
    ("digits_dae", "--model.hidden_sizes=abc", "'model.hidden_sizes' must be of type int | Sequence[int]"),
    ("digits_dae", "--model.noise_level=high", "'model.noise_level' must be of type float"),
    ("digits_dbn", "--model.k=abc", "'model.k' must be of type int"),
    ("digits_dbn", "--model.hidden_sizes=abc", "needs model.hidden_sizes"),
    ("digits_dbn", "--finetune.lr=fast", "'finetune.lr' must be of type float"),
    ("digits_dbm", "--model.n_chains=abc", "'model.n_chains' must be of type int"),
    ("digits_dbm", "--pretrain.momentum=abc", "'pretrain.momentum' must be of type float"),
    ("digits_sbn", "--model.hidden_sizes=[a, 2]", "needs model.hidden_sizes"),
    ("digits_cnn", "--model.network=5", "'model.network' must be of type str | Mapping[str, Any]"),
    ("digits_csc", "--model.lam=abc", "'model.lam' must be of type float"),
    ("digits_csc", "--model.step=abc", "'model.step' must be of type float | None"),
    ("demo", "--data.max_train=abc", "'data.max_train' must be of type int | None"),
    ("demo", "--data.divide=abc", "'data.divide' must be of type float | None"),
    ("demo", "--network.hidden_sizes=abc", "'network.hidden_sizes' must be of type list"),
    ("demo", "--classifier.loss=3", "'classifier.loss' must be of type str"),
    ("demo", "--seeds=abc", "'seeds' must be of type list"),
    ("demo", "--variants.denoising.noise_level=abc", "'variants.<name>.noise_level' must be of type float"),
    ("demo", "--variants.rbm.k=abc", "'variants.<name>.k' must be of type int"),
    ("demo", "--variants.rbm.pretrain.lr=abc", "'variants.<name>.pretrain.lr' must be of type float"),
    ("demo", "--variants.rbm.pretrain.lrr=0.1", "Unknown key 'variants.<name>.pretrain.lrr'"),
    ("demo", "--variants.dbm.learner=hopfield", "Unknown layer learner 'hopfield'"),
]


@pytest.mark.parametrize("name, override, message", BAD)
def test_a_bad_value_in_any_section_fails_before_the_run_folder_exists(name, override, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["run", name, "--out", str(out), "--no-progress", override]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_required_model_keys_fail_at_load(tmp_path):
    with pytest.raises(ConfigError, match="Task 'rbm' needs model.n_hidden"):
        config_from_dict({"task": "rbm"})
    with pytest.raises(ConfigError, match="needs model.n_filters, model.kernel_size"):
        config_from_dict({"task": "csc", "model": {"lam": 1.0}})
    with pytest.raises(ConfigError, match="Task 'dbm' needs model.hidden_sizes"):
        config_from_dict({"task": "dbm"})
    with pytest.raises(ConfigError, match="Unknown network 'cnn-9'"):
        config_from_dict({"task": "cnn", "model": {"network": "cnn-9"}})


def test_variants_are_checked_once_when_the_file_loads(monkeypatch):
    calls = []
    real = app_config._variant
    monkeypatch.setattr(app_config, "_variant", lambda cfg, options: calls.append(options) or real(cfg, options))
    cfg = load_config("demo")
    assert len(calls) == sum(v is not None for v in cfg.variants.values()) == 7
    assert cfg.learners["random"] is None
    dbm = cfg.learners["dbm"]
    assert dbm.learner == "dbm" and dbm.options == {}
    assert dbm.train == TrainConfig(epochs=20, batch_size=32, optimizer="sgd", lr=0.05, momentum=0.5)
    assert cfg.learners["denoising"].options == {"loss": "bce", "noise": "masking", "noise_level": 0.3,
                                                 "init": "xavier"}
    assert "learners" not in app_config.config_to_dict(cfg)
