"""The command line and its reports (issue 13, item 5): ``evaluate`` on every task's run folder
with the run's data transforms, one-line model descriptions, ``--version``, help text, curve
labels, the AIS progress bar, dead maps in ``visualize``, and file modes under the umask."""

from __future__ import annotations

import csv
import io
import os
import stat
import tomllib
from pathlib import Path

import pytest
import torch
from torch import nn

import layerwise as lw
from layerwise import cli, datasets
from layerwise.app.evaluate import evaluate_checkpoint
from layerwise.app.report import describe_model
from layerwise.callbacks import Curves, split_validation
from layerwise.partition import ais_log_partition

QUICK = ["--no-progress", "--train.epochs=1", "--evaluate.samples=4", "--evaluate.sample_steps=5"]


def _row(out: Path) -> dict:
    return next(csv.DictReader(open(out / "results.csv")))


# ---- --version, help ---------------------------------------------------------------------------


def test_version_prints_the_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    version = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out == f"layerwise {version}\n" and lw.__version__ == version


def test_demo_help_shows_one_percent_sign(capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "With 10% of the digits" in out and "%%" not in out


# ---- evaluate: the numbers of the run's own report ----------------------------------------------


@pytest.mark.parametrize("config, extra, keys", [
    ("digits_rbm", ["--model.n_hidden=16", "--evaluate.ais_runs=0"], ["reconstruction_error", "free_energy"]),
    ("digits_dae", [], ["reconstruction_error", "sse_per_image"]),
    ("digits_cnn", ["--data.max_train=200", "--data.max_test=100"], ["accuracy"]),
    ("digits_csc", ["--data.max_train=64", "--data.max_test=16", "--model.n_iter=10"],
     ["objective", "reconstruction_mse", "sparsity"]),
    ("digits_sbn", ["--data.max_train=200", "--data.max_test=50", "--evaluate.ais_runs=5"], ["reconstruction_error"]),
    ("digits_dbm", ["--pretrain.epochs=1", "--data.max_train=200", "--data.max_test=50", "--evaluate.ais_runs=0"],
     ["reconstruction_error", "variational_free_energy"]),
])
def test_evaluate_gives_the_numbers_of_the_runs_report(config, extra, keys, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["run", config, "--out", str(out), *QUICK, *extra]) == 0
    row = _row(out)
    assert "\n" not in row["model"] and not row["model"].endswith("(")  # one line, not "AutoEncoder("
    capsys.readouterr()
    for where in (out, out / "last"):
        values = evaluate_checkpoint(where, log=lambda *_: None)
        for k in keys:
            assert values[k] == pytest.approx(float(row[f"test_{k}"]), rel=1e-6), k
    assert cli.main(["evaluate", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith(f"{row['model']} on digits/test (the run's data transforms)")


def test_evaluate_reapplies_the_binarisation(tmp_path):
    out = tmp_path / "rbm"
    assert cli.main(["run", "digits_rbm", "--out", str(out), *QUICK, "--model.n_hidden=16",
                     "--evaluate.ais_runs=0"]) == 0
    reported = float(_row(out)["test_reconstruction_error"])
    rbm = lw.load_model(out)
    raw = datasets.load("digits", "test")[0]
    with torch.no_grad():
        on_raw = rbm.metrics(raw)["reconstruction_error"]
        on_binary = rbm.metrics((raw > 0.5).float())["reconstruction_error"]
    assert abs(on_raw - reported) > 0.05  # the transform matters: what evaluate computed before
    assert on_binary == pytest.approx(reported, rel=1e-6)
    assert evaluate_checkpoint(out, log=lambda *_: None)["reconstruction_error"] == pytest.approx(on_binary, rel=1e-6)
    # another data set keeps the run's transforms; the train split is its own
    train = evaluate_checkpoint(out, "digits", "train", log=lambda *_: None)
    with torch.no_grad():
        want = rbm.metrics((datasets.load("digits", "train")[0] > 0.5).float())["reconstruction_error"]
    assert train["reconstruction_error"] == pytest.approx(want, rel=1e-6)


def test_evaluate_a_dbn_run_gives_each_layers_numbers(tmp_path):
    cfg = tmp_path / "dbn.yaml"
    cfg.write_text("name: tiny-dbn\ntask: dbn\ndata: {name: digits, binarize: 0.5, label_fraction: 0.2}\n"
                   "model: {hidden_sizes: [16, 8]}\npretrain: {epochs: 1, batch_size: 32, lr: 0.05}\n"
                   "finetune: {epochs: 1, batch_size: 16, lr: 0.1}\n"
                   "evaluate: {ais_runs: 0, samples: 4, sample_steps: 5}\n")
    out = tmp_path / "run"
    assert cli.main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    values = evaluate_checkpoint(out, log=lambda *_: None)
    dbn = lw.load_model(out)
    x = (datasets.load("digits", "test")[0] > 0.5).float()
    with torch.no_grad():
        h1 = torch.sigmoid(x @ dbn.rbms[0].weight.T + dbn.rbms[0].hidden_bias)
        want0 = dbn.rbms[0].metrics(x)["reconstruction_error"]
        want1 = dbn.rbms[1].metrics(h1)["reconstruction_error"]
    assert values["layer0_reconstruction_error"] == pytest.approx(want0, rel=1e-6)
    assert values["layer1_reconstruction_error"] == pytest.approx(want1, rel=1e-5)


def test_evaluate_a_bare_checkpoint_reads_the_named_data_set(tmp_path):
    torch.manual_seed(0)
    ae = lw.AutoEncoder(64, [8])
    lw.save_checkpoint(tmp_path / "ae", ae)
    values = evaluate_checkpoint(tmp_path / "ae", "digits", "test", log=lambda *_: None)
    with torch.no_grad():
        want = ae.eval().metrics(datasets.load("digits", "test")[0])
    assert values == pytest.approx(want)


def test_describe_model_is_one_line():
    assert describe_model(lw.AutoEncoder(64, [32, 16])) == "AutoEncoder(64, [32, 16])"
    assert "\n" in repr(lw.AutoEncoder(64, [32, 16]))
    assert describe_model(lw.RBM(6, 4)) == repr(lw.RBM(6, 4)) == "RBM(6, 4)"
    assert describe_model(nn.Sequential(nn.Linear(2, 2))) == "Sequential"
    cnn = lw.deconv.CNNClassifier(in_shape=(1, 8, 8), n_classes=10, network="cnn-tiny")
    assert describe_model(cnn) == "cnn-tiny (conv 8@3x3 -> pool 2)"


# ---- curves -------------------------------------------------------------------------------------


def test_validation_curves_are_labelled_validation(tmp_path, monkeypatch):
    history = [{"epoch": 1, "loss": 1.0, "val_loss": 1.5, "val_accuracy": 0.5},
               {"epoch": 2, "loss": 0.5, "val_loss": 1.2, "val_accuracy": 0.6}]
    assert split_validation(history) == {
        "training": [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}],
        "validation": [{"epoch": 1, "loss": 1.5, "accuracy": 0.5}, {"epoch": 2, "loss": 1.2, "accuracy": 0.6}]}
    assert list(split_validation(history, "fine-tuning")) == ["fine-tuning", "fine-tuning, validation"]
    assert list(split_validation([{"epoch": 1, "loss": 1.0}])) == ["training"]
    seen = {}
    monkeypatch.setattr(lw.callbacks, "plot_curves", lambda runs, path, keys: seen.update(runs=runs, keys=keys))
    Curves(tmp_path / "c.png", ("loss", "val_loss", "val_accuracy")).on_fit_end(type("S", (), {"history": history})())
    assert seen["keys"] == ["loss", "accuracy"] and list(seen["runs"]) == ["training", "validation"]
    monkeypatch.undo()
    Curves(tmp_path / "c.png", ("loss", "val_accuracy")).on_fit_end(type("S", (), {"history": history})())
    assert (tmp_path / "c.png").stat().st_size > 1000


# ---- the AIS progress bar -----------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _ais(progress: bool) -> float:
    torch.manual_seed(0)
    rbm = lw.RBM(6, 4)
    return ais_log_partition(rbm, n_runs=10, n_betas=300, generator=torch.Generator().manual_seed(1),
                             progress=progress, return_bounds=False, floor_check="off")


def test_ais_progress_bar_on_a_terminal_only(monkeypatch, capsys):
    quiet = _ais(True)  # pytest captures stderr: not a terminal, no bar
    assert capsys.readouterr().err == ""
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    assert _ais(False) == quiet and term.getvalue() == ""
    assert _ais(True) == quiet  # the bar draws no random numbers
    assert "AIS" in term.getvalue() and "beta" in term.getvalue()


# ---- visualize: dead maps -----------------------------------------------------------------------


def _cnn_with_dead_map(path: Path) -> Path:
    torch.manual_seed(0)
    model = lw.deconv.CNNClassifier(in_shape=(1, 8, 8), n_classes=10, network="cnn-tiny")
    conv = lw.deconv.conv_layers(model)[0]
    with torch.no_grad():
        conv.weight[:3] = 0.0
        conv.bias[:3] = -1.0  # maps 0-2 never fire after the ReLU
        conv.weight[3:].abs_()
        conv.bias[3:] = 0.1  # maps 3-7 fire on every image
    return lw.save_checkpoint(path, model)


def test_visualize_skips_dead_maps_and_says_so(tmp_path, capsys):
    ckpt = _cnn_with_dead_map(tmp_path / "cnn")
    png = tmp_path / "p.png"
    assert cli.main(["visualize", str(ckpt), "--channels", "0", "4", "--top", "2", "--n", "40",
                     "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "1 dead feature map(s)" in out and "layer 0, map 0." in out and png.stat().st_size > 500
    assert cli.main(["visualize", str(ckpt), "--channels", "0", "1", "--n", "40", "--out", str(png)]) == 2
    assert "every chosen map is dead" in capsys.readouterr().err
    assert cli.main(["visualize", str(ckpt), "--n", "40", "--top", "2", "--out", str(png)]) == 0  # the 4 strongest
    assert "dead feature map" not in capsys.readouterr().out


# ---- file modes follow the umask ----------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_checkpoints_follow_the_umask(umask, tmp_path):
    path = lw.save_checkpoint(tmp_path / "run" / "last", lw.RBM(4, 3))
    assert _mode(path) == 0o777 & ~umask  # 0755 under 022, not mkdtemp's 0700
    files = sorted(path.iterdir())
    assert len(files) == 3 and all(_mode(f) == 0o666 & ~umask for f in files)  # 0644, not 0600


def test_downloads_follow_the_umask(umask, data_root, tmp_path):
    source = data_root / "mnist"
    if not (source / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("MNIST not in the data root")
    written = datasets.download("mnist", tmp_path, split="test", mirror=data_root.as_uri() + "/")
    assert written and all(_mode(p) == 0o666 & ~umask for p in written)
