"""app/tasks.py: every single-model task of ``layerwise run``, through the command line, and
every setting of its sections reaching fit and the model."""

import csv

import pytest

from layerwise import cli


def test_run_autoencoder_then_evaluate_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "ae"
    assert cli.main(["run", "digits_dae", "--out", str(out), "--no-progress", "--train.epochs=2"]) == 0
    assert (out / "last" / "model.safetensors").exists() and (out / "reconstructions.png").exists()
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--data", "digits"]) == 0
    assert "reconstruction_error" in capsys.readouterr().out


def test_run_rbm_task_with_ais_then_sample(tmp_path, capsys):
    out = tmp_path / "rbm"
    assert cli.main(["run", "digits_rbm", "--out", str(out), "--no-progress", "--model.n_hidden=16",
                     "--train.epochs=3", "--evaluate.ais_runs=20", "--evaluate.ais_betas=500",
                     "--evaluate.samples=8", "--evaluate.sample_steps=20"]) == 0
    row = next(csv.DictReader(open(out / "results.csv")))
    ll, low, high = (float(row[k]) for k in ("test_log_likelihood_ais", "test_log_likelihood_low", "test_log_likelihood_high"))
    assert -64 * 0.7 < ll < 0 and low <= ll <= high  # 64 binary pixels: log p(v) between -64 log 2 and 0
    for name in ("filters.png", "samples.png", "chain.png", "curves.png", "report.md"):
        assert (out / name).exists(), name
    capsys.readouterr()
    assert cli.main(["sample", str(out), "--n", "4", "--steps", "10", "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "samples.png").exists() and (tmp_path / "s" / "chain.png").exists()


def test_run_dbn_task(tmp_path):
    cfg = tmp_path / "dbn.yaml"
    cfg.write_text("name: tiny-dbn\ntask: dbn\ndata: {name: digits, binarize: 0.5, label_fraction: 0.2}\n"
                   "model: {hidden_sizes: [16, 8], persistent: true, n_chains: 20}\n"
                   "pretrain: {epochs: 2, batch_size: 32, lr: 0.05, momentum: 0.5}\n"
                   "finetune: {epochs: 3, batch_size: 16, lr: 0.1, momentum: 0.9}\n"
                   "evaluate: {ais_runs: 10, ais_betas: 200, samples: 8, sample_steps: 10}\n")
    out = tmp_path / "run"
    assert cli.main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    row = next(csv.DictReader(open(out / "results.csv")))
    assert float(row["test_lower_bound"]) < 0 and 0 <= float(row["test_accuracy"]) <= 1
    assert (out / "samples.png").exists() and (out / "last" / "model.safetensors").exists()
    assert cli.main(["sample", str(out), "--n", "3", "--steps", "5"]) == 0


@pytest.mark.parametrize("name, extra", [
    ("mnist_rbm", ["--train.epochs=1", "--evaluate.ais_runs=5", "--evaluate.ais_betas=100"]),
    ("mnist_dbn", ["--pretrain.epochs=1", "--finetune.epochs=1", "--evaluate.ais_runs=5", "--evaluate.ais_betas=100",
                   "--model.hidden_sizes=[32, 16]"]),
    ("mnist_dae", ["--train.epochs=1"]),
])
def test_mnist_configs_run_on_a_slice(name, extra, data_root, tmp_path):
    if not (data_root / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("MNIST not in the data root")
    out = tmp_path / name
    args = ["run", name, "--out", str(out), "--no-progress", f"--data.root={data_root}",
            "--data.max_train=600", "--data.max_test=200", "--evaluate.samples=4", "--evaluate.sample_steps=5", *extra]
    assert cli.main(args) == 0
    assert (out / "report.md").exists() and (out / "results.csv").exists()


def test_run_cnn_then_visualize_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "cnn"
    assert cli.main(["run", "digits_cnn", "--out", str(out), "--no-progress", "--train.epochs=1",
                     "--data.max_train=200", "--data.max_test=100"]) == 0
    assert "conv 16@3x3 -> pool 2 -> conv 32@3x3 -> pool 2 -> fc 64: test accuracy" in capsys.readouterr().out
    for name in ("projections.png", "filters.png", "curves.png"):
        assert (out / name).stat().st_size > 1000, name
    png = tmp_path / "proj.png"
    assert cli.main(["visualize", str(out), "--layer", "1", "--channels", "0", "5", "--top", "3",
                     "--n", "50", "--out", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert cli.main(["visualize", str(out), "--layer", "2"]) == 2
    assert "'layer' parameter must be a conv layer index in [0, 1]" in capsys.readouterr().err
    assert cli.main(["visualize", str(out), "--channels", "32"]) == 2
    assert "'channel' parameter" in capsys.readouterr().err


def test_run_csc_and_conv_autoencoder_pretraining(tmp_path, capsys):
    out = tmp_path / "csc"
    assert cli.main(["run", "digits_csc", "--out", str(out), "--no-progress", "--train.epochs=1",
                     "--data.max_train=64", "--data.max_test=16", "--model.n_iter=10"]) == 0
    assert (out / "csc.png").stat().st_size > 1000 and (out / "last" / "model.safetensors").exists()
    assert cli.main(["visualize", str(out)]) == 2
    assert "no nn.Conv2d" in capsys.readouterr().err
    run = tmp_path / "conv.yaml"
    run.write_text("task: compare\nseeds: [0]\ndata: {name: digits, label_fraction: 0.2, max_train: 300, max_test: 100}\n"
                   "network: {cnn: cnn-tiny}\npretrain: {epochs: 1, optimizer: adam, lr: 0.003}\n"
                   "finetune: {epochs: 2, optimizer: adam, lr: 0.003}\n"
                   "variants: {random: null, conv: {learner: conv_autoencoder, noise: masking, noise_level: 0.2}}\n")
    assert cli.main(["run", str(run), "--out", str(tmp_path / "cmp"), "--no-progress"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "cmp" / "results.csv")))
    assert [r["variant"] for r in rows] == ["random", "conv"] and float(rows[1]["pretrain_seconds"]) > 0
    assert (tmp_path / "cmp" / "filters_conv.png").exists() and (tmp_path / "cmp" / "reconstructions_conv.png").exists()
    capsys.readouterr()
    run.write_text("task: compare\nvariants: {conv: {learner: conv_autoencoder}}\n")
    assert cli.main(["run", str(run), "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "conv_autoencoder variant pre-trains the blocks of a CNN" in capsys.readouterr().err
    run.write_text("task: compare\nnetwork: {cnn: cnn-7}\nvariants: {conv: {learner: conv_autoencoder}}\n")
    assert cli.main(["run", str(run), "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "Unknown network 'cnn-7'" in capsys.readouterr().err


@pytest.mark.parametrize("name, expect", [("digits_sbn", "log_likelihood_is_10 "), ("digits_dbm", "lower_bound_ais")])
def test_run_sbn_and_dbm(name, expect, tmp_path, capsys):
    out = tmp_path / name
    assert cli.main(["run", name, "--out", str(out), "--no-progress", "--train.epochs=1", "--pretrain.epochs=1",
                     "--data.max_train=200", "--data.max_test=50", "--evaluate.ais_runs=10",
                     "--evaluate.ais_betas=100", "--evaluate.samples=8", "--evaluate.sample_steps=20"]) == 0
    assert expect in capsys.readouterr().out
    assert (out / "samples.png").stat().st_size > 500 and (out / "filters.png").exists()
    assert (out / "last" / "model.safetensors").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"task: {name.split('_')[1]}\nmodel: {{hidden_sizes: [4, 2], n_chainz: 3}}\n")
    assert cli.main(["run", str(bad), "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "n_chainz" in capsys.readouterr().err


def test_run_dbn_with_up_down_fine_tuning(tmp_path, capsys):
    out = tmp_path / "dbn"
    assert cli.main(["run", "digits_dbn", "--out", str(out), "--no-progress", "--pretrain.epochs=1",
                     "--train.epochs=1", "--finetune.epochs=1", "--data.max_train=200", "--data.max_test=50",
                     "--evaluate.ais_runs=10", "--evaluate.ais_betas=100", "--evaluate.samples=8",
                     "--evaluate.sample_steps=20", "--evaluate.updown_epochs=2"]) == 0
    printed = capsys.readouterr().out
    assert "lower_bound_before_updown" in printed and "lower_bound_after_updown" in printed
    for name in ("samples_updown_before.png", "samples_updown_after.png"):
        assert (out / name).stat().st_size > 500


# ---- every setting of a task's sections reaches fit and the model ------------------------------

from layerwise import presets  # noqa: E402
from layerwise.app import tasks  # noqa: E402
from layerwise.callbacks import GibbsStepsSchedule, MomentumSchedule  # noqa: E402
from layerwise.models.dbm import DBM  # noqa: E402
from layerwise.models.dbn import DBN  # noqa: E402
from layerwise.training import History  # noqa: E402

TRAIN = {"epochs": 3, "batch_size": 7, "optimizer": "adam", "lr": 0.125, "momentum": 0.25, "weight_decay": 0.01,
         "lr_schedule": "linear"}
PRETRAIN = {"epochs": 2, "batch_size": 9, "optimizer": "sgd", "lr": 0.0625, "momentum": 0.75, "weight_decay": 0.002,
            "lr_schedule": "cosine"}
FINETUNE = {"epochs": 4, "batch_size": 5, "optimizer": "adam", "lr": 0.5, "momentum": 0.125, "weight_decay": 0.003,
            "lr_schedule": "exponential"}
MODELS = {
    "digits_dae": {"hidden_sizes": [6], "activation": "tanh", "output_activation": "sigmoid", "tied_weights": True,
                   "loss": "bce", "weight_decay": 0.001, "sparsity": "l1", "sparsity_weight": 0.5,
                   "sparsity_target": 0.2, "contractive_weight": 0.25, "noise": "gaussian", "noise_level": 0.2,
                   "init": "gaussian"},
    "digits_rbm": {"n_hidden": 6, "visible": "bernoulli", "hidden": "bernoulli", "k": 2, "persistent": True,
                   "n_chains": 7, "sigma": 0.5, "learn_sigma": False, "sparsity_target": 0.2, "sparsity_weight": 0.5,
                   "sample_reconstruction": True},
    "digits_dbn": {"hidden_sizes": [6, 4], "visible": "bernoulli", "hidden": "bernoulli", "k": 2, "persistent": True,
                   "n_chains": 7, "propagate": "sample", "sparsity_target": 0.2, "sparsity_weight": 0.5, "sigma": 0.5},
    "digits_dbm": {"hidden_sizes": [6, 4], "n_chains": 7, "mf_steps": 3, "mf_tol": 0.001, "damping": 0.25, "k": 2},
    "digits_sbn": {"hidden_sizes": [6, 4]},
    "digits_cnn": {"network": "cnn-tiny", "loss": "bce"},
    "digits_csc": {"n_filters": 3, "kernel_size": 3, "lam": 2.0, "method": "ista", "n_iter": 4, "tol": 0.01,
                   "step": 0.5, "power_iter": 5},
}
# which section each fit call of a task gets, in order
FITS = {"digits_dae": ["train"], "digits_rbm": ["train"], "digits_dbn": ["pretrain", "updown", "finetune"],
        "digits_dbm": ["pretrain", "train"], "digits_sbn": ["train"], "digits_cnn": ["train"], "digits_csc": ["train"]}


def test_one_registry_of_tasks():
    from layerwise.app.config import MODEL_SECTIONS, TASK_NAMES

    assert TASK_NAMES == ("compare", *tasks.TASKS)
    assert all(tasks.TASKS[name].section is MODEL_SECTIONS[name] for name in tasks.TASKS)
    assert {name.split("_")[1] for name in MODELS} == set(tasks.TASKS) - {"autoencoder"} | {"dae"}


def _yaml(value):
    return str(value).replace("True", "true").replace("False", "false").replace("None", "null")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_setting_of_a_task_reaches_fit_and_the_model(name, tmp_path, monkeypatch):
    calls = []

    def spy_fit(model, data, **kwargs):
        calls.append((model, kwargs))
        return History()

    def spy_pretrain(self, data, **kwargs):
        calls.append((self, kwargs))
        return self

    monkeypatch.setattr(tasks, "fit", spy_fit)
    monkeypatch.setattr(DBN, "pretrain", spy_pretrain)
    monkeypatch.setattr(DBM, "pretrain", spy_pretrain)
    sections = {"train": TRAIN, "pretrain": PRETRAIN, "finetune": FINETUNE, "model": MODELS[name]}
    args = [f"--{s}.{k}={_yaml(v)}" for s, values in sections.items() for k, v in values.items()]
    args += ["--seeds=[3]", "--device=cpu", "--data.max_train=60", "--data.max_test=20", "--evaluate.ais_runs=2",
             "--evaluate.ais_betas=10", "--evaluate.samples=2", "--evaluate.sample_steps=2",
             "--evaluate.updown_epochs=5"]
    assert cli.main(["run", name, "--out", str(tmp_path / "run"), "--no-progress", *args]) == 0
    assert len(calls) == len(FITS[name])
    for (model, kwargs), section in zip(calls, FITS[name]):
        expected = dict(TRAIN, epochs=5) if section == "updown" else sections[section]
        assert {k: kwargs[k] for k in expected} == expected, section
        assert kwargs["device"] == "cpu" and kwargs["seed"] == 3
    config = calls[0][0].config()
    for key, value in MODELS[name].items():
        if key == "hidden_sizes" and "sizes" in config:
            assert config["sizes"][1:] == value
        else:
            assert config[key] == value, key


PRESET_RUNS = {"mnist_rbm_hinton": "hinton-guide", "mnist_rbm_pcd_tieleman": "tieleman-pcd",
               "mnist_rbm_cd25": "salakhutdinov-murray-cd25", "mnist_dbm_salakhutdinov": "salakhutdinov-hinton-dbm"}


@pytest.mark.parametrize("config", sorted(PRESET_RUNS))
def test_every_setting_of_a_preset_reaches_fit_and_the_model(config, tmp_path, monkeypatch):
    calls = []

    def spy_fit(model, data, **kwargs):
        calls.append(("fit", model, kwargs))
        return History()

    def spy_pretrain(self, data, **kwargs):
        calls.append(("pretrain", self, kwargs))
        return self

    monkeypatch.setattr(tasks, "fit", spy_fit)
    monkeypatch.setattr(DBM, "pretrain", spy_pretrain)
    p = presets.get(PRESET_RUNS[config])
    args = ["--seeds=[3]", "--device=cpu", "--data.name=digits", "--data.max_train=60", "--data.max_test=20",
            "--evaluate.ais_runs=0", "--evaluate.samples=2", "--evaluate.sample_steps=2"]
    if p.task == "dbm":
        args.append("--model.hidden_sizes=[6, 4]")
    assert cli.main(["run", config, "--out", str(tmp_path / "run"), "--no-progress", *args]) == 0
    assert [c[0] for c in calls] == (["pretrain", "fit"] if p.task == "dbm" else ["fit"])
    by_name = {name: (model, kwargs) for name, model, kwargs in calls}
    model, kwargs = by_name["fit"]
    assert {k: kwargs[k] for k in p.train} == p.train and kwargs["seed"] == 3
    assert {k: model.config()[k] for k in p.model} == p.model
    schedules = {type(c): c.schedule for c in kwargs["callbacks"]
                 if isinstance(c, (MomentumSchedule, GibbsStepsSchedule))}
    expected = {cls: s for cls, s in ((MomentumSchedule, p.momentum), (GibbsStepsSchedule, p.k)) if s is not None}
    assert {cls: repr(s) for cls, s in schedules.items()} == {cls: repr(s) for cls, s in expected.items()}
    if p.pretrain:
        assert {k: by_name["pretrain"][1][k] for k in p.pretrain} == p.pretrain


def test_a_preset_run_file_runs_on_digits(tmp_path):
    """The smoke run of a preset's run file: --data.name=digits and one epoch; the schedule's values in the history."""
    out = tmp_path / "cd25"
    assert cli.main(["run", "mnist_rbm_cd25", "--data.name=digits", "--train.epochs=2", "--model.n_hidden=16",
                     "--out", str(out), "--no-progress", "--evaluate.ais_runs=0", "--evaluate.samples=4",
                     "--evaluate.sample_steps=5"]) == 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [int(r["k"]) for r in rows] == [1, 25] and [float(r["momentum"]) for r in rows] == [0.5, 0.5]
    assert "preset: salakhutdinov-murray-cd25" in (out / "config.yaml").read_text()
