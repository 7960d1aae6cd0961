"""app/compare.py: the one cell runner behind ``layerwise run`` (task compare) and
``layerwise experiment``: cells, resume, report."""

import csv

import pytest
import yaml

from layerwise import cli
from layerwise.app.compare import load_experiment, parse_fractions
from layerwise.app.config import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest

QUICK = ["--seeds=[0]", "--data.max_train=300", "--data.max_test=100", "--pretrain.epochs=2",
         "--finetune.epochs=2"]

# The face configs, on the embedded digits so that the test needs no data root: every network
# of the experiment runs, for one epoch.
DIGITS = ["--data.name=digits", "--data.size=null", "--data.divide=null", "--data.scale=unit",
          "--data.max_train=300", "--data.max_test=100", "--finetune.epochs=1", "--pretrain.epochs=1"]


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


def test_label_fractions_and_config_errors(tmp_path):
    assert parse_fractions("0.01,0.1,1.0") == [0.01, 0.1, 1.0]
    for bad in ("0", "1.5", "x", "-0.1", ""):
        with pytest.raises(ValueError, match="fraction"):
            parse_fractions(bad)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntask: rbm\n")
    with pytest.raises(ConfigError, match="task: compare"):
        load_experiment([bad])
    bad.write_text("name: x\ntask: compare\nnetwork: {cnn: vgg-16}\nvariants: {a: null}\n")
    with pytest.raises(ConfigError, match="Unknown network 'vgg-16'"):
        load_experiment([bad])
    with pytest.raises(ConfigError, match="No run file or folder"):
        load_experiment([tmp_path / "missing"])
    configs = load_experiment(["faces"])
    assert [c.name for c in configs] == ["FCNN-1", "FCNN-2", "FCNN-2-sigmoid", "FCNN-3", "CNN-1", "CNN-2", "ResNet-18"]


def test_experiment_runs_every_face_network_resumes_and_reports(tmp_path, capsys):
    out = tmp_path / "exp"
    args = ["experiment", "faces", "--seeds", "2", "--label-fractions", "0.2,1.0", "--out", str(out), "--no-progress"]
    assert cli.main(args + DIGITS) == 0
    printed = capsys.readouterr().out
    assert "44 cells" in printed and "### 20% of the training labels" in printed
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 11 * 2 * 2
    networks = {r["network"] for r in rows}
    assert {"FCNN-2 + SAE", "FCNN-2 sigmoid + DBN", "CNN-2 + conv-AE", "ResNet-18"} <= networks
    for r in rows:
        assert 0.0 <= float(r["test_accuracy"]) <= 1.0
        pre = float(r["pretrain_seconds"])
        assert (pre > 0) == ("+" in r["network"])           # only the pre-trained networks pre-train
    # the labelled subset grows with the fraction, and does not depend on the network
    n = {(r["network"], r["seed"], r["label_fraction"]): int(r["n_labelled"]) for r in rows}
    assert n[("FCNN-1", "0", "0.2")] == n[("CNN-2", "0", "0.2")] < n[("FCNN-1", "0", "1.0")] == 300
    report = (out / "report.md").read_text()
    assert "vs FCNN-2: " in report and "![accuracy_vs_labels.png]" in report
    assert (out / "accuracy_vs_labels.png").stat().st_size > 1000 and (out / "time_split.png").stat().st_size > 1000
    # a rerun finds every cell done and trains nothing
    before = (out / "results.csv").read_text()
    assert cli.main(args + DIGITS) == 0
    assert "resuming: 44 finished cell(s)" in capsys.readouterr().out
    assert (out / "results.csv").read_text() == before
    # a new label fraction adds only its own cells
    assert cli.main(["experiment", "faces", "--seeds", "1", "--label-fractions", "0.5", "--out", str(out),
                     "--no-progress"] + DIGITS) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 44 + 11 and (out / "results.csv").read_text().startswith(before)


def test_experiment_bad_arguments(tmp_path, capsys):
    assert cli.main(["experiment", "faces", "--label-fractions", "0,1", "--out", str(tmp_path / "x")]) == 2
    assert "(0, 1]" in capsys.readouterr().err
    assert cli.main(["experiment", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "No run file or folder 'nope'" in capsys.readouterr().err


def test_every_face_config_runs_on_utkface_at_a_tiny_budget(data_root, tmp_path, capsys):
    """The smoke test of the face experiment on the real photos: 120 training and 120 test images
    (decoded here, cached under tmp_path), one epoch each, one seed."""
    if not (data_root / "utkface-crop_part1" / "labels.csv").exists():
        pytest.skip("UTKFace not in the data root")
    out = tmp_path / "faces"
    tiny = ["--data.options.limit=120", f"--data.options.cache_dir={tmp_path / 'cache'}", "--data.options.verbose=false",
            "--finetune.epochs=1", "--pretrain.epochs=1", f"--data.root={data_root}"]
    assert cli.main(["experiment", "faces", "--seeds", "1", "--label-fractions", "0.1,1.0", "--out", str(out),
                     "--no-progress", *tiny]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 11 * 2
    assert {int(r["n_labelled"]) for r in rows} == {12, 120}      # 10 % of 120, stratified by sex
    assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in rows)
    assert "CNN-2 + conv-AE" in (out / "report.md").read_text()
