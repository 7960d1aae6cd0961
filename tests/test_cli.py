"""Run files, the runner and the command line."""

import csv
import subprocess
import sys

import pytest
import yaml

from layerwise import cli
from layerwise.config import ConfigError, apply_overrides, builtin_configs, config_from_dict, load_config
from layerwise.runner import verdict

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


def test_verdict_paired_t_test():
    assert verdict([]) == "baseline"
    assert verdict([0.05, 0.06, 0.055]).startswith("helped: +5.5")
    assert verdict([-0.05, -0.06, -0.055]).startswith("hurt")
    assert verdict([0.05, -0.04, 0.01]).startswith("no clear difference")
    # +2.5 ± 0.87 points over 3 seeds: 2.9 standard errors, within t(0.975, 2) = 4.30 of zero
    assert verdict([0.01, 0.025, 0.04]).startswith("no clear difference")
    assert "one seed" in verdict([0.02])


def test_help_on_every_command(capsys):
    for args in ([], ["demo", "--help"], ["run", "--help"], ["datasets", "--help"], ["configs", "--help"], ["evaluate", "--help"]):
        try:
            code = cli.main(args)
        except SystemExit as exc:
            code = exc.code
        assert code == 0
        assert "usage" in capsys.readouterr().out.lower()


def test_datasets_and_configs_listing(capsys, tmp_path):
    assert cli.main(["datasets", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "mnist" in out and str(tmp_path) in out
    assert cli.main(["configs"]) == 0
    assert "demo" in capsys.readouterr().out


def test_run_compare_writes_report_results_and_pictures(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["run", "demo", "--out", str(out), "--no-progress", *QUICK]) == 0
    printed = capsys.readouterr().out
    assert "| random |" in printed and "| denoising |" in printed
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["variant"] for r in rows] == ["random", "autoencoder", "denoising", "sparse", "contractive", "rbm", "dbn", "dbm"]
    assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in rows)
    assert float(rows[0]["pretrain_seconds"]) == 0.0 and float(rows[1]["pretrain_seconds"]) > 0.0
    report = (out / "report.md").read_text()
    assert "does pre-training help" in report and "![filters_autoencoder.png]" in report
    for name in ("filters_denoising.png", "reconstructions_denoising.png", "finetune_curves.png",
                 "pretrain_curves.png", "time_split.png"):
        assert (out / name).stat().st_size > 1000, name
    assert yaml.safe_load((out / "config.yaml").read_text())["data"]["max_train"] == 300


def test_run_autoencoder_then_evaluate_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "ae"
    assert cli.main(["run", "digits_dae", "--out", str(out), "--no-progress", "--train.epochs=2"]) == 0
    assert (out / "last" / "model.safetensors").exists() and (out / "reconstructions.png").exists()
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--data", "digits"]) == 0
    assert "reconstruction_error" in capsys.readouterr().out


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


def test_console_script_is_installed():
    proc = subprocess.run([sys.executable, "-m", "layerwise.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "demo" in proc.stdout


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


def test_sample_refuses_models_without_chains(tmp_path, capsys):
    out = tmp_path / "ae"
    assert cli.main(["run", "digits_dae", "--out", str(out), "--no-progress", "--train.epochs=1"]) == 0
    capsys.readouterr()
    assert cli.main(["sample", str(out)]) == 2
    assert "cannot be sampled" in capsys.readouterr().err


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
