"""A run file is checked whole before anything is written: one line naming key, value and rule; exit 2."""

import dataclasses
import re

import pytest

from layerwise import cli
from layerwise.app.config import ConfigError, RunConfig, TrainConfig, load_config
from layerwise.app.run import run

BASE = ("name: t\nseeds: [0]\ndata: {name: digits, max_train: 60, max_test: 30}\n"
        "pretrain: {epochs: 1}\nfinetune: {epochs: 1}\nvariants: {random: null, ae: {}}\n")

# (override, the key it names, the value it names): the seven cases first.
BAD = [
    ("--data.name=nope", "data.name", "'nope'"),
    ("--network.hidden_sizes=[10, -5]", "network.hidden_sizes[1]", "-5"),
    ("--data.max_train=abc", "data.max_train", "'abc'"),
    ("--data.divide=0", "data.divide", "0"),
    ("--seeds=[a, b]", "seeds[0]", "'a'"),
    ("--data.label_fraction=2.0", "data.label_fraction", "2.0"),
    ("--device=tpu", "device", "'tpu'"),
    # and the rest of the sections
    ("--seeds=[]", "seeds", "[]"),
    ("--seeds=[0, -1]", "seeds[1]", "-1"),
    ("--data.max_test=0", "data.max_test", "0"),
    ("--data.divide=.inf", "data.divide", "inf"),
    ("--data.scale=-2", "data.scale", "-2"),
    ("--data.size=[0, 8]", "data.size[0]", "0"),
    ("--data.path=x.npz", "data.path", "'x.npz'"),
    ("--data.options={limit: 5}", "data.options.limit", "'digits'"),
    ("--network.hidden_sizes=[]", "network.hidden_sizes", "[]"),
    ("--network.activation=softplus", "network.activation", "'softplus'"),
    ("--network.init=zeros", "network.init", "'zeros'"),
    ("--classifier.loss=hinge", "classifier.loss", "'hinge'"),
    ("--pretrain.epochs=-1", "pretrain.epochs", "-1"),
    ("--finetune.batch_size=0", "finetune.batch_size", "0"),
    ("--finetune.optimizer=lbfgs", "finetune.optimizer", "'lbfgs'"),
    ("--finetune.lr=.inf", "finetune.lr", "inf"),
    ("--finetune.lr=-0.1", "finetune.lr", "-0.1"),
    ("--pretrain.momentum=1.0", "pretrain.momentum", "1.0"),
    ("--train.weight_decay=-1", "train.weight_decay", "-1"),
    ("--finetune.lr_schedule=step", "finetune.lr_schedule", "'step'"),
    ("--evaluate.samples=0", "evaluate.samples", "0"),
    ("--evaluate.ais_betas=1", "evaluate.ais_betas", "1"),
    ("--variants.ae.pretrain.lr=-1", "variants.ae.pretrain.lr", "-1"),
    ("--variants.ae.pretrain.batch_size=0", "variants.ae.pretrain.batch_size", "0"),
    ("--name=a/b", "name", "'a/b'"),
]


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_line_naming(err, command, key, value):
    assert err.count("\n") == 1, err
    assert err.startswith(f"layerwise {command}: error: "), err
    assert f"'{key}'" in err and value in err, err
    assert "Traceback" not in err and "slice indices" not in err and "invalid literal" not in err


@pytest.mark.parametrize("override, key, value", BAD)
def test_run_refuses_a_bad_value_writing_nothing(override, key, value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text(BASE)
    for out in ([], ["--out", "out"]):  # the default folder runs/<name>-<time>, and a named one
        assert cli.main(["run", "base.yaml", "--no-progress", *out, override]) == 2
        captured = capsys.readouterr()
        _one_line_naming(captured.err, "run", key, value)
        assert captured.out == ""  # not even the "run folder ..." line
        assert _listing(tmp_path) == ["base.yaml"]


def test_device_option_is_checked_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text(BASE)
    assert cli.main(["run", "base.yaml", "--device", "tpu", "--out", "o"]) == 2
    _one_line_naming(capsys.readouterr().err, "run", "device", "'tpu'")
    assert _listing(tmp_path) == ["base.yaml"]


# experiment's own --seeds N replaces the run files' seeds: its check is the option's
@pytest.mark.parametrize("override, key, value", [b for b in BAD[:7] if b[1] != "seeds[0]"]
                         + [("--seeds=0", "seeds", "0"), ("--label-fractions=0.5,2", "label_fractions", "2.0")])
def test_experiment_refuses_a_bad_value_writing_nothing(override, key, value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text(BASE)
    assert cli.main(["experiment", "base.yaml", "--seeds", "1", "--no-progress", override]) == 2
    _one_line_naming(capsys.readouterr().err, "experiment", key, value)
    assert _listing(tmp_path) == ["base.yaml"]


@pytest.mark.parametrize("task, override, key, value", [
    ("digits_rbm", "--model.n_hidden=-5", "model.n_hidden", "-5"),
    ("digits_rbm", "--model.k=0", "model.k", "0"),
    ("digits_dbn", "--model.hidden_sizes=[8, 0]", "model.hidden_sizes[1]", "0"),
    ("digits_dae", "--model.hidden_sizes=[-3]", "model.hidden_sizes[0]", "-3"),
    ("digits_dbm", "--model.hidden_sizes=[-1, 4]", "model.hidden_sizes[0]", "-1"),
    ("digits_csc", "--model.n_filters=0", "model.n_filters", "0"),
    # the constructor's own checks, run on the meta device before anything is written
    ("digits_dae", "--model.noise_level=5.0", "model.noise_level", "5.0"),
    ("digits_csc", "--model.lam=-1.0", "model.lam", "-1.0"),
    ("digits_rbm", "--model.sparsity_target=2.0", "model.sparsity_target", "2.0"),
    ("demo", "--variants.denoising.noise_level=3.0", "variants.denoising.noise_level", "3.0"),
])
def test_model_values_are_checked(task, override, key, value, tmp_path, capsys):
    assert cli.main(["run", task, "--out", str(tmp_path / "o"), override]) == 2
    _one_line_naming(capsys.readouterr().err, "run", key, value)
    assert _listing(tmp_path) == []


def test_data_files_must_be_there(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["run", "mnist_dae", "--out", str(tmp_path / "o"), f"--data.root={empty}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Data set 'mnist' (data.name) is not found" in err and str(empty) in err
    (tmp_path / "c.yaml").write_text("data: {name: image-folder, path: nowhere}\n")
    with pytest.raises(ConfigError, match="'data.path' is 'nowhere', which does not exist"):
        load_config(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text("data: {name: arrays}\n")
    with pytest.raises(ConfigError, match="Data set 'arrays' needs 'data.path'"):
        load_config(tmp_path / "c.yaml")
    assert _listing(tmp_path) == ["c.yaml", "empty"]


def test_out_naming_a_file_writes_nothing(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(BASE)
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    for out in (taken, taken / "sub"):
        assert cli.main(["run", str(tmp_path / "base.yaml"), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "'--out' is" in err and f"'{taken}' is a file" in err
    assert cli.main(["experiment", str(tmp_path / "base.yaml"), "--out", str(taken)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert taken.read_text() == "keep me" and _listing(tmp_path) == ["base.yaml", "taken"]


def test_run_api_checks_a_config_built_in_python(tmp_path):
    cfg = load_config("demo")
    for bad in (dataclasses.replace(cfg, name="../../escaped"), dataclasses.replace(cfg, seeds=[-1]),
                RunConfig(finetune=TrainConfig(lr=float("nan")))):
        with pytest.raises(ConfigError):
            run(bad, tmp_path / "out")
    cfg.name = "../x"  # changed after loading: checked again
    with pytest.raises(ConfigError, match=re.escape("got '../x'")):
        run(cfg, tmp_path / "out")
    assert _listing(tmp_path) == []


def test_a_good_run_still_runs(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(BASE)
    assert cli.main(["run", str(tmp_path / "base.yaml"), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert (tmp_path / "o" / "report.md").is_file() and (tmp_path / "o" / "config.yaml").is_file()


def test_trial_build_draws_no_random_number_and_allocates_nothing():
    import torch

    torch.manual_seed(0)
    state = torch.get_rng_state().clone()
    cfg = load_config("digits_rbm", ["--model.n_hidden=1000000"])  # 64 x 10**6 weights: not allocated
    assert cfg.model["n_hidden"] == 10**6 and torch.equal(state, torch.get_rng_state())
