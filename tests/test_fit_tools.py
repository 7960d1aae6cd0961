"""The practitioner's tools of fit: CSV and TensorBoard loggers, ``best/`` and early stopping on a
named metric (with resume), gradient clipping, mixed precision and the model summary."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import layerwise as lw
from layerwise import cli
from layerwise.callbacks import BestCheckpoint, CSVLogger, EarlyStopping, TensorBoardLogger
from layerwise.checkpoint import load_model
from layerwise.models.classifier import CNNClassifier, Classifier, build_mlp
from layerwise.models.conv_autoencoder import ConvAutoEncoder
from layerwise.resume import ResumeMismatchError
from layerwise.training import Callback

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    X, y = lw.datasets.load("digits")
    return X[:400], y[:400]


def _ae(seed=0, **kw):
    torch.manual_seed(seed)
    return lw.AutoEncoder(64, [16], **kw)


class Score(Callback):
    """Puts ``score = values[epoch - 1]`` into each record (before the callbacks after it)."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, state, record):
        record["score"] = self.values[record["epoch"] - 1]


class Snapshots(Callback):
    """The model's weights after every epoch."""

    def __init__(self):
        self.states = {}

    def on_epoch_end(self, state, record):
        self.states[record["epoch"]] = {k: v.clone() for k, v in state.model.state_dict().items()}


class Crash(Callback):
    """Raises at the start of the (0-based) epoch ``at``: a run killed after ``at`` epochs."""

    def __init__(self, at):
        self.at = at

    def on_epoch_start(self, state):
        if state.epoch == self.at:
            raise KeyboardInterrupt


# ---- loggers -------------------------------------------------------------------------------------


def test_csv_logger_writes_the_history_without_a_run_folder(tmp_path, digits):
    path = tmp_path / "logs" / "train.csv"
    h = lw.fit(_ae(), digits[0], validation=digits[0][:50], epochs=3, progress=False, callbacks=[CSVLogger(path)])
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 3 and list(rows[0]) == h.columns
    for row, rec in zip(rows, h):
        assert int(row["epoch"]) == rec["epoch"]
        assert float(row["loss"]) == pytest.approx(rec["loss"], rel=1e-12)
        assert float(row["val_loss"]) == pytest.approx(rec["val_loss"], rel=1e-12)


class FakeWriter:
    def __init__(self):
        self.scalars, self.flushes, self.closed = [], 0, False

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        self.flushes += 1

    def close(self):
        self.closed = True


def test_tensorboard_logger_logs_every_numeric_column_per_epoch(digits):
    writer = FakeWriter()
    h = lw.fit(_ae(), digits[0], validation=digits[0][:50], epochs=2, progress=False,
               callbacks=[TensorBoardLogger(writer=writer, prefix="ae/")])
    expected = [(f"ae/{k}", float(v), rec["epoch"]) for rec in h for k, v in rec.items() if k != "epoch"]
    assert writer.scalars == expected and writer.flushes == 2 and not writer.closed  # not ours to close
    assert {"ae/loss", "ae/val_loss", "ae/lr", "ae/seconds"} <= {t for t, _, _ in expected}


def test_tensorboard_logger_names_the_extra_when_the_package_is_missing(monkeypatch):
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith(("tensorboard.", "torch.utils.tensorboard"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    with pytest.raises(ImportError, match=r"layerwise\[tensorboard\]"):
        TensorBoardLogger()
    with pytest.raises(TypeError, match="add_scalar"):
        TensorBoardLogger(writer=object())


def test_tensorboard_logger_with_the_package(tmp_path, digits):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    h = lw.fit(_ae(), digits[0], epochs=2, progress=False, checkpoint_dir=tmp_path, callbacks=[TensorBoardLogger()])
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    events = acc.Scalars("loss")
    assert [e.step for e in events] == [1, 2]
    assert [e.value for e in events] == pytest.approx(h["loss"], rel=1e-6)


# ---- early stopping and best/ --------------------------------------------------------------------

SCORES = [5.0, 4.0, 4.5, 3.9, 4.0, 4.1, 3.0, 2.0, 1.0, 0.5]
# min_delta 0.05, patience 2: improvements at epochs 1, 2, 4 (3.9 < 4.0 - 0.05); 5 and 6 do not -> stop after 6


def test_early_stopping_stops_cleanly_after_patience_epochs(tmp_path, digits):
    stop = EarlyStopping("score", mode="min", patience=2, min_delta=0.05)
    h = lw.fit(_ae(), digits[0], epochs=10, progress=False, checkpoint_dir=tmp_path, callbacks=[Score(SCORES), stop])
    assert len(h) == 6 and stop.stopped_epoch == 6 and (stop.best, stop.best_epoch) == (3.9, 4)
    assert len(list(csv.DictReader(open(tmp_path / "history.csv")))) == 6
    meta = json.loads((tmp_path / "last" / "checkpoint.json").read_text())
    assert meta["epoch"] == 6 and len(meta["history"]) == 6


def test_early_stopping_mode_max_and_nan_never_improves(digits):
    stop = EarlyStopping("score", mode="max", patience=1)
    h = lw.fit(_ae(), digits[0][:64], epochs=10, progress=False, callbacks=[Score([1.0, 2.0, math.nan, 9.0]), stop])
    assert len(h) == 3 and (stop.best, stop.best_epoch) == (2.0, 2)


def test_a_monitor_that_is_no_column_is_refused_naming_the_columns(digits):
    with pytest.raises(ValueError, match=r"monitor='val_loss'.*'loss'.*Pass validation="):
        lw.fit(_ae(), digits[0][:64], epochs=2, progress=False, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="needs a folder"):
        lw.fit(_ae(), digits[0][:64], epochs=1, progress=False, callbacks=[BestCheckpoint(monitor="loss")])


def test_best_checkpoint_holds_the_weights_of_the_best_epoch(tmp_path, digits):
    snaps = Snapshots()
    best = BestCheckpoint(monitor="score", mode="min")
    lw.fit(_ae(), digits[0], epochs=6, progress=False, checkpoint_dir=tmp_path,
           callbacks=[Score(SCORES), snaps, best])
    assert best.path == tmp_path / "best" and best.best_epoch == 4
    model = load_model(tmp_path / "best")
    assert isinstance(model, lw.AutoEncoder)
    for k, v in model.state_dict().items():
        assert torch.equal(v, snaps.states[4][k]), k
        assert not torch.equal(v, snaps.states[6][k]) or v.dim() == 0
    meta = json.loads((tmp_path / "best" / "checkpoint.json").read_text())
    assert meta["epoch"] == 4 and len(meta["history"]) == 4
    last = load_model(tmp_path / "last")
    assert all(torch.equal(v, snaps.states[6][k]) for k, v in last.state_dict().items())


def test_best_and_early_stopping_resume_as_an_uninterrupted_run(tmp_path, digits):
    X, val = digits[0][:320], digits[0][320:]
    scores = [6.0, 5.0, 5.5, 4.0, 4.2, 4.3, 4.4, 1.0, 0.0, 0.0, 0.0, 0.0]   # best at 4, stop after 7

    def run(folder, extra=(), **kw):
        stop = EarlyStopping("score", patience=3)
        best = BestCheckpoint(monitor="score")
        h = lw.fit(_ae(), X, validation=val, epochs=12, progress=False, checkpoint_dir=folder, seed=3,
                   callbacks=[Score(scores), best, stop, *extra], **kw)
        return h, best, stop

    h_ref, best_ref, stop_ref = run(tmp_path / "ref")
    assert len(h_ref) == 7 and best_ref.best_epoch == 4 and stop_ref.stopped_epoch == 7
    with pytest.raises(KeyboardInterrupt):   # killed after 5 epochs: best/ of epoch 4, wait 1
        run(tmp_path / "cut", extra=[Crash(5)])
    h, best, stop = run(tmp_path / "cut", resume=True)
    drop = lambda hist: [{k: v for k, v in r.items() if k != "seconds"} for r in hist]  # noqa: E731
    assert drop(h) == drop(h_ref)
    assert [r["epoch"] for r in h] == list(range(1, 8)) and stop.stopped_epoch == 7
    assert (best.best, best.best_epoch, stop.wait) == (best_ref.best, 4, stop_ref.wait)
    for name in ("best", "last"):
        ref, got = load_model(tmp_path / "ref" / name), load_model(tmp_path / "cut" / name)
        for k, v in ref.state_dict().items():
            assert torch.equal(v, got.state_dict()[k]), (name, k)
    # a run that stopped early stays stopped when resumed with the same patience
    h_again, _, stop_again = run(tmp_path / "cut", resume=True)
    assert len(h_again) == 7 and stop_again.stopped_epoch == 7
    assert json.loads((tmp_path / "cut" / "last" / "checkpoint.json").read_text())["epoch"] == 7


def test_a_fresh_callback_takes_its_state_from_the_resumed_history(tmp_path, digits):
    X = digits[0][:128]
    lw.fit(_ae(), X, epochs=3, progress=False, checkpoint_dir=tmp_path, callbacks=[Score([3.0, 1.0, 2.0])])
    stop = EarlyStopping("score", patience=5)
    lw.fit(_ae(), X, epochs=3, progress=False, checkpoint_dir=tmp_path, resume=True, callbacks=[stop])
    assert (stop.best, stop.best_epoch, stop.wait) == (1.0, 2, 1)
    # trained further (4 epochs): the logger's file holds the restored epochs too
    log = CSVLogger(tmp_path / "other" / "h.csv")
    lw.fit(_ae(), X, epochs=4, progress=False, checkpoint_dir=tmp_path, resume=True,
           callbacks=[Score([3.0, 1.0, 2.0, 0.5]), stop, log])
    assert [r["epoch"] for r in csv.DictReader(open(log.path))] == ["1", "2", "3", "4"]
    assert (stop.best, stop.best_epoch, stop.wait) == (0.5, 4, 0)


# ---- gradient clipping ---------------------------------------------------------------------------


def _cnn():
    torch.manual_seed(0)
    return CNNClassifier("cnn-tiny", (1, 8, 8), 10)


def _mlp():
    torch.manual_seed(0)
    return Classifier(build_mlp(64, [16]), 10)


def test_clip_grad_norm_matches_a_hand_clipped_sgd_step(digits):
    X = digits[0][:100]
    model = _ae()
    ref = _ae()
    lr, clip = 0.5, 0.002
    lw.fit(model, X, epochs=1, batch_size=100, lr=lr, progress=False, clip_grad_norm=clip)
    params = list(ref.parameters())
    grads = torch.autograd.grad(ref.training_loss(X), params)
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    assert norm > 10 * clip   # the clip is active
    scale = clip / (float(norm) + 1e-6)
    for p, g, q in zip(params, grads, model.parameters()):
        torch.testing.assert_close(q, p.detach() - lr * scale * g, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("build", [_mlp, _cnn], ids=["classifier", "cnn"])
def test_clipped_step_moves_the_parameters_by_lr_times_the_clip(build, digits):
    X, y = digits
    model = build()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    lw.fit(model, (X[:64], y[:64]), epochs=1, batch_size=64, lr=0.1, progress=False, clip_grad_norm=1e-3)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert float((after - before).norm()) == pytest.approx(0.1 * 1e-3, rel=1e-3)


@pytest.mark.parametrize("model", [lambda: lw.RBM(64, 8), lambda: lw.DBM([64, 8, 4])], ids=["rbm", "dbm"])
def test_clipping_and_mixed_precision_are_refused_for_closed_form_steps(model, digits):
    X = (digits[0][:32] > 0.5).float()
    with pytest.raises(ValueError, match="closed-form update.*no gradient to clip"):
        lw.fit(model(), X, epochs=1, progress=False, clip_grad_norm=1.0)
    with pytest.raises(ValueError, match="precision='bf16'.*float32 or wider"):
        lw.fit(model(), X, epochs=1, progress=False, precision="bf16")


def test_bad_values_of_the_options_are_refused(digits):
    X = digits[0][:32]
    with pytest.raises(ValueError, match=r"'precision'.*'32', 'bf16', 'fp16'.*'16'"):
        lw.fit(_ae(), X, epochs=1, progress=False, precision="16")
    with pytest.raises(ValueError, match="'clip_grad_norm'.*Got 0"):
        lw.fit(_ae(), X, epochs=1, progress=False, clip_grad_norm=0)
    with pytest.raises(ValueError, match="float64"):
        lw.fit(lw.AutoEncoder(64, [8], dtype=torch.float64), X.double(), epochs=1, progress=False, precision="bf16")


# ---- mixed precision -----------------------------------------------------------------------------


def test_bf16_on_cpu_trains_an_autoencoder_close_to_float32(digits):
    X = digits[0]
    h32 = lw.fit(m32 := _ae(), X, epochs=5, optimizer="adam", lr=1e-2, progress=False)
    h16 = lw.fit(m16 := _ae(), X, epochs=5, optimizer="adam", lr=1e-2, progress=False, precision="bf16")
    assert h16["loss"][-1] < 0.8 * h16["loss"][0]                       # it trains
    assert h16["loss"][-1] == pytest.approx(h32["loss"][-1], rel=0.03)   # close to float32's
    assert h16["loss"] != h32["loss"]                                   # and autocast did run
    assert all(p.dtype == torch.float32 for p in m16.parameters())      # parameters stay float32
    assert m32.encoder_layers[0].weight.dtype == torch.float32


def test_bf16_trains_a_cnn_and_a_conv_autoencoder(digits):
    X, y = digits
    h = lw.fit(_cnn(), (X[:200], y[:200]), epochs=3, lr=0.1, momentum=0.9, progress=False, precision="bf16")
    h32 = lw.fit(_cnn(), (X[:200], y[:200]), epochs=3, lr=0.1, momentum=0.9, progress=False)
    assert h["loss"][-1] < h["loss"][0] and h["loss"][-1] == pytest.approx(h32["loss"][-1], rel=0.05)
    torch.manual_seed(0)
    cae = ConvAutoEncoder((1, 8, 8), channels=4, kernel_size=3)
    hc = lw.fit(cae, X[:200], epochs=2, optimizer="adam", lr=1e-2, progress=False, precision="bf16",
                clip_grad_norm=5.0)
    assert all(math.isfinite(v) for v in hc["loss"]) and hc["loss"][-1] < hc["loss"][0]


def test_fp16_uses_a_grad_scaler(digits):
    try:
        torch.amp.GradScaler("cpu")
        with torch.autocast("cpu", dtype=torch.float16):
            torch.ones(2, 2) @ torch.ones(2, 2)
    except (RuntimeError, TypeError, AssertionError) as exc:  # pragma: no cover - older torch
        pytest.skip(f"no fp16 autocast on this CPU torch: {exc}")
    h32 = lw.fit(_ae(), digits[0], epochs=3, lr=0.5, progress=False)
    h16 = lw.fit(_ae(), digits[0], epochs=3, lr=0.5, progress=False, precision="fp16")
    assert h16["loss"][-1] == pytest.approx(h32["loss"][-1], rel=0.05)


def test_precision_and_clipping_are_run_settings_checked_on_resume(tmp_path, digits):
    X = digits[0][:64]
    lw.fit(_ae(), X, epochs=1, progress=False, checkpoint_dir=tmp_path, precision="bf16", clip_grad_norm=1.0)
    saved = json.loads((tmp_path / "last" / "checkpoint.json").read_text())["fit_config"]
    assert (saved["precision"], saved["clip_grad_norm"]) == ("bf16", 1.0)
    with pytest.raises(ResumeMismatchError, match="precision"):
        lw.fit(_ae(), X, epochs=2, progress=False, checkpoint_dir=tmp_path, resume=True, clip_grad_norm=1.0)
    with pytest.raises(ResumeMismatchError, match="clip_grad_norm"):
        lw.fit(_ae(), X, epochs=2, progress=False, checkpoint_dir=tmp_path, resume=True, precision="bf16")
    lw.fit(_ae(), X, epochs=2, progress=False, checkpoint_dir=tmp_path, resume=True, precision="bf16",
           clip_grad_norm=1.0)


# ---- model summary -------------------------------------------------------------------------------


def test_summary_counts_parameters_memory_and_output_shapes():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    net[2].weight.requires_grad_(False)
    net.train()
    rng = torch.get_rng_state()
    s = lw.summary(net, input_size=(4,))
    assert torch.equal(torch.get_rng_state(), rng) and net.training
    assert [(r.name, r.kind, r.params, r.output_shape) for r in s.rows] == [
        ("0", "Linear", 15, (2, 3)), ("1", "ReLU", 0, (2, 3)), ("2", "Linear", 6, (2, 2))]
    assert (s.total_params, s.trainable_params, s.param_bytes, s.buffer_bytes) == (21, 15, 84, 0)
    text = str(s)
    assert "21 parameters (15 trainable)" in text and "84 B of parameters" in text and "(2, 3)" in text


def test_summary_of_layerwise_models():
    ae = lw.AutoEncoder(64, [16])
    s = lw.summary(ae, (64,))
    assert s.total_params == 64 * 16 + 16 + 16 * 64 + 64 and s.param_bytes == 4 * s.total_params
    assert s.rows[0].output_shape == (2, 16)
    rbm = lw.RBM(64, 8, dtype=torch.float64)
    s = lw.summary(rbm)
    assert [(r.name, r.kind, r.params) for r in s.rows] == [("", "RBM", 64 * 8 + 64 + 8)]
    assert s.param_bytes == 8 * (64 * 8 + 72) and "(model)" in str(s)
    bn = lw.summary(CNNClassifier("resnet-18-w16", (1, 8, 8), 3))
    assert bn.buffer_bytes > 0 and bn.total_params == sum(p.numel() for p in CNNClassifier(
        "resnet-18-w16", (1, 8, 8), 3).parameters())
    with pytest.raises(TypeError, match="input_size"):
        lw.summary(ae, input_size="64")
    with pytest.raises(ValueError, match=r"input_size\[0\]"):
        lw.summary(ae, input_size=(0,))
    with pytest.raises(TypeError, match="nn.Module"):
        lw.summary("ae")


def test_a_run_summary_holds_the_model_size(tmp_path):
    out = tmp_path / "ae"
    assert cli.main(["run", "digits_dae", "--out", str(out), "--no-progress", "--train.epochs=1",
                     "--data.max_train=100", "--data.max_test=50"]) == 0
    row = next(csv.DictReader(open(out / "results.csv")))
    model = load_model(out / "last")
    n = sum(p.numel() for p in model.parameters())
    assert int(row["parameters"]) == n and int(row["parameter_bytes"]) == 4 * n
    assert "parameters" in (out / "report.md").read_text()


@pytest.mark.distributed
def test_early_stopping_on_rank_0_stops_every_rank(tmp_path):
    """Epoch-end callbacks run on rank 0 only: fit broadcasts its stop, or rank 1 would train on alone."""
    here = Path(__file__).resolve().parent
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(here.parent), str(here)])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "0",
           "--rdzv_backend", "c10d", "--rdzv_endpoint", "127.0.0.1:0", str(here / "_ddp_stop_worker.py"), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == ["4", "4"]
