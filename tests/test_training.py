"""The one training loop: batching, resume, NaN guard, checkpoints, bad input, DDP."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from layerwise import checkpoint as ckpt
from layerwise.models.autoencoder import AutoEncoder
from layerwise.models.rbm import RBM
from layerwise.training import Callback, History, NonFiniteLossError, default_optimizer, fit

from _models import Noisy, regression

HERE = Path(__file__).resolve().parent


def test_matches_a_bare_loop_over_the_same_batches():
    x, y = regression(50)
    torch.manual_seed(0)
    model = Noisy(noise=0.0)
    ref = Noisy(noise=0.0)
    ref.load_state_dict(model.state_dict())
    fit(model, (x, y), epochs=3, batch_size=16, lr=0.05, momentum=0.5, seed=11, device="cpu", progress=False)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.5)
    for epoch in range(3):  # the permutation DistributedSampler draws: randperm seeded seed + epoch
        order = torch.randperm(50, generator=torch.Generator().manual_seed(11 + epoch))
        for s in range(0, 50, 16):
            i = order[s:s + 16]
            opt.zero_grad()
            ref.training_loss((x[i], y[i])).backward()
            opt.step()
    for a, b in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_learns_least_squares_solution():
    x, y = regression(200)
    model = Noisy(noise=0.0)
    history = fit(model, (x, y), epochs=60, batch_size=20, optimizer="adam", lr=0.05, device="cpu", progress=False)
    xb = torch.cat([x, torch.ones(200, 1)], 1)
    sol = torch.linalg.lstsq(xb, y).solution
    torch.testing.assert_close(model.lin.weight.detach(), sol[:5].T, atol=5e-3, rtol=0)
    assert history["loss"][-1] < history["loss"][0] / 100


def test_initial_epoch_none_seeds_torch_once_as_before():
    """initial_epoch=None: torch's RNG seeded once at the start (the noise of epoch 2 follows on
    from epoch 1's draws), shuffling seed + epoch: a bare loop reproduces it bit for bit."""
    x, y = regression(40)
    torch.manual_seed(0)
    model = Noisy(noise=0.3)
    ref = Noisy(noise=0.3)
    ref.load_state_dict(model.state_dict())
    fit(model, (x, y), epochs=3, batch_size=16, lr=0.05, momentum=0.5, seed=11, device="cpu", progress=False)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.5)
    torch.manual_seed(11)
    for epoch in range(3):
        order = torch.randperm(40, generator=torch.Generator().manual_seed(11 + epoch))
        for s in range(0, 40, 16):
            i = order[s:s + 16]
            opt.zero_grad()
            ref.training_loss((x[i], y[i])).backward()
            opt.step()
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a, b)


def _split_equals_whole(make, data, epochs, **kw):
    """fit(epochs=n, initial_epoch=0) against n calls fit(epochs=e + 1, initial_epoch=e), the
    model and optimiser carried over; returns the two histories."""
    whole, opt_whole = make()
    parts, opt_parts = make()
    parts.load_state_dict(whole.state_dict())
    h_whole = fit(whole, data, epochs=epochs, initial_epoch=0, optimizer=opt_whole, **kw)
    h_parts = History()
    for e in range(epochs):
        h_parts.extend(fit(parts, data, epochs=e + 1, initial_epoch=e, optimizer=opt_parts, **kw))
    for (name, a), b in zip(whole.state_dict().items(), parts.state_dict().values()):
        assert torch.equal(a, b), name  # bitwise
    return h_whole, h_parts


def test_initial_epoch_splits_a_noisy_autoencoder_run_bitwise():
    x = torch.rand(50, 12, generator=torch.Generator().manual_seed(0))

    def make():
        torch.manual_seed(1)
        ae = AutoEncoder(12, 5, loss="bce", noise="masking", noise_level=0.3)
        return ae, default_optimizer(ae, "adam", 0.01, 0.0, 0.0)

    kw = dict(batch_size=16, seed=3, device="cpu", progress=False, lr_schedule="exponential")
    h_whole, h_parts = _split_equals_whole(make, x, 3, **kw)
    assert h_whole["epoch"] == h_parts["epoch"] == [1, 2, 3]
    assert h_whole["lr"] == h_parts["lr"] == pytest.approx([0.01, 0.0095, 0.009025])
    assert h_whole["loss"] == h_parts["loss"]
    # the noise is on: seeding once (initial_epoch=None) gives other weights after epoch 1
    once, opt = make()
    fit(once, x, epochs=3, optimizer=opt, **kw)
    split, opt = make()
    fit(split, x, epochs=3, initial_epoch=0, optimizer=opt, **kw)
    assert not torch.equal(once.encoder_layers[0].weight, split.encoder_layers[0].weight)


def test_initial_epoch_splits_a_cd_trained_rbm_run_bitwise():
    x = (torch.rand(60, 10, generator=torch.Generator().manual_seed(0)) > 0.5).float()

    def make():
        torch.manual_seed(2)
        rbm = RBM(10, 6, k=2)
        return rbm, default_optimizer(rbm, "sgd", 0.1, 0.5, 0.0)

    _split_equals_whole(make, x, 4, batch_size=10, seed=5, device="cpu", progress=False)
    # persistent chains (buffers) are carried over as well
    def make_pcd():
        torch.manual_seed(2)
        rbm = RBM(10, 6, persistent=True, n_chains=10)
        return rbm, default_optimizer(rbm, "sgd", 0.1, 0.5, 0.0)

    _split_equals_whole(make_pcd, x, 3, batch_size=10, seed=5, device="cpu", progress=False)


def test_track_loss_and_metrics_off_record_neither_and_train_the_same_weights():
    """RBM (a training_step with with_loss) and autoencoder (a training_loss): the same weights
    with per-epoch seeding; the loss and the monitor's metrics are simply not in the history."""
    x = (torch.rand(60, 10, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    calls = []

    class Counting(RBM):
        def training_step(self, batch, optimizer, with_loss=True):
            loss = super().training_step(batch, optimizer, with_loss)
            calls.append(loss)
            return loss

    def run(model_cls, **kw):
        torch.manual_seed(2)
        model = model_cls()
        history = fit(model, x, epochs=3, batch_size=10, lr=0.1, momentum=0.5, seed=5, device="cpu",
                      progress=False, initial_epoch=0, **kw)
        return model, history

    make_rbm = lambda: Counting(10, 6, k=2)  # noqa: E731
    full, h_full = run(make_rbm)
    assert all(isinstance(loss, torch.Tensor) for loss in calls) and len(calls) == 18
    calls.clear()
    lean, h_lean = run(make_rbm, track_loss=False, metrics=False)
    assert calls == [None] * 18  # the step was asked not to compute the loss
    for a, b in zip(full.state_dict().values(), lean.state_dict().values()):
        assert torch.equal(a, b)
    assert "loss" in h_full.columns and "pseudo_log_likelihood" in h_full.columns
    assert h_lean.columns == ["epoch", "lr", "seconds", "threads"]
    assert [r["epoch"] for r in h_lean] == [1, 2, 3]
    only_metrics = run(make_rbm, track_loss=False)[1]
    assert only_metrics["reconstruction_error"] == h_full["reconstruction_error"] and "loss" not in only_metrics.columns
    # a model whose loss is its gradient's: computed anyway, just not recorded
    make_ae = lambda: AutoEncoder(10, 4, noise="masking", noise_level=0.2)  # noqa: E731
    ae_full, ae_h = run(make_ae)
    ae_lean, ae_h_lean = run(make_ae, track_loss=False)
    assert torch.equal(ae_full.encoder_layers[0].weight, ae_lean.encoder_layers[0].weight)
    assert "loss" in ae_h.columns and "loss" not in ae_h_lean.columns


def test_initial_epoch_takes_the_groups_lr_as_base_and_checks_its_range():
    x, y = regression(20)
    model = Noisy()
    opt = default_optimizer(model, "sgd", 0.1, 0.0, 0.0)
    h = fit(model, (x, y), epochs=4, initial_epoch=2, batch_size=5, optimizer=opt, lr_schedule="linear",
            device="cpu", progress=False)
    assert h["epoch"] == [3, 4] and h["lr"] == pytest.approx([0.05, 0.025])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1]  # put back: the base of the next call
    for g in opt.param_groups:
        g["lr"] = 0.2  # a new base learning rate
    h = fit(model, (x, y), epochs=5, initial_epoch=4, batch_size=5, optimizer=opt, lr_schedule="linear",
            device="cpu", progress=False)
    assert h["lr"] == pytest.approx([0.2 * 0.2])
    assert fit(model, (x, y), epochs=2, initial_epoch=2, device="cpu", progress=False) == []
    with pytest.raises(ValueError, match=r"'initial_epoch' parameter must be an int in the range \[0, 2\]\. Got 3"):
        fit(model, (x, y), epochs=2, initial_epoch=3, device="cpu", progress=False)


def test_resume_with_initial_epoch_equals_uninterrupted_run(tmp_path):
    x, y = regression(64)
    kw = dict(epochs=4, batch_size=10, lr=0.03, momentum=0.9, seed=5, device="cpu", progress=False,
              initial_epoch=0)
    torch.manual_seed(0)
    init = Noisy().state_dict()
    full = Noisy()
    full.load_state_dict(init)
    fit(full, (x, y), **kw)
    part = Noisy()
    part.load_state_dict(init)
    with pytest.raises(KeyboardInterrupt):
        fit(part, (x, y), checkpoint_dir=tmp_path, callbacks=[StopAfter(3)], **kw)
    resumed = Noisy()
    history = fit(resumed, (x, y), checkpoint_dir=tmp_path, resume=True, **kw)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


class StopAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, record):
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt  # an interrupted run


def test_resume_equals_uninterrupted_run(tmp_path):
    x, y = regression(64)
    kw = dict(epochs=5, batch_size=10, lr=0.03, momentum=0.9, seed=5, device="cpu", progress=False)
    torch.manual_seed(0)
    init = Noisy().state_dict()
    full = Noisy()
    full.load_state_dict(init)
    fit(full, (x, y), checkpoint_dir=tmp_path / "a", **kw)

    part = Noisy()
    part.load_state_dict(init)
    with pytest.raises(KeyboardInterrupt):
        fit(part, (x, y), checkpoint_dir=tmp_path / "b", callbacks=[StopAfter(2)], **kw)
    # interrupted at the end of epoch 2, before its checkpoint: the last one is epoch 1's
    assert ckpt.load_checkpoint(tmp_path / "b" / "last")["meta"]["epoch"] == 1
    torch.randn(100)  # disturb the global RNG: resume must restore it
    resumed = Noisy()  # fresh weights: resume must load them
    history = fit(resumed, (x, y), checkpoint_dir=tmp_path / "b", resume=True, **kw)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5]
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_history_csv_checkpoint_and_metrics_once_an_epoch(tmp_path):
    x, y = regression(100)
    model = Noisy()
    h = fit(model, (x, y), epochs=3, batch_size=10, device="cpu", progress=False,
            checkpoint_dir=tmp_path, validation=regression(30, seed=2))
    assert model.metric_calls == 3 + 3  # one monitoring subset + one validation batch per epoch
    assert isinstance(h, History) and h["epoch"] == [1, 2, 3]
    assert {"loss", "mse", "val_loss", "val_mse", "seconds", "lr"} <= set(h.columns)
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch,loss")
    rebuilt = ckpt.load_model(tmp_path, model=Noisy())
    for a, b in zip(rebuilt.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name or ".old" in p.name]


class Exploding(Noisy):
    def training_loss(self, batch):
        loss = super().training_loss(batch)
        if self.blow:
            return loss * float("nan")
        return loss


class BlowAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, record):
        state.model.blow = record["epoch"] >= self.epoch


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path):
    x, y = regression(40)
    model = Exploding()
    model.blow = False
    with pytest.raises(NonFiniteLossError, match=r"nan at epoch 3, batch 1.*epoch 2"):
        fit(model, (x, y), epochs=5, batch_size=8, device="cpu", progress=False,
            checkpoint_dir=tmp_path, callbacks=[BlowAfter(2)])
    saved = ckpt.load_checkpoint(tmp_path)
    assert saved["meta"]["epoch"] == 2
    assert all(torch.isfinite(t).all() for t in saved["model_state"].values())


def test_lr_schedules_and_weight_decay_groups():
    x, y = regression(20)
    model = Noisy()
    h = fit(model, (x, y), epochs=4, batch_size=5, lr=0.1, lr_schedule="linear", device="cpu", progress=False)
    assert h["lr"] == pytest.approx([0.1, 0.075, 0.05, 0.025])
    opt = default_optimizer(model, "sgd", 0.1, 0.0, 0.3)
    decays = {p.dim(): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert decays == {2: 0.3, 1: 0.0}


class Manual(nn.Module):
    """Overrides training_step: the loop must call it and never backpropagate itself."""

    def __init__(self):
        super().__init__()
        self.register_buffer("total", torch.zeros(()))
        self.calls = 0

    def training_step(self, batch, optimizer):
        self.calls += 1
        self.total += batch.sum()
        return batch.mean()


def test_training_step_override_sees_every_sample_once_per_epoch():
    x = torch.arange(30.0).reshape(10, 3)
    m = Manual()
    h = fit(m, x, epochs=2, batch_size=4, device="cpu", progress=False)
    assert m.calls == 6
    assert float(m.total) == pytest.approx(2 * float(x.sum()))
    assert h["loss"][0] == pytest.approx(float(x.mean()))


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, r"'batch_size' parameter must be an int in the range \[1, inf\)\. Got 0"),
    ({"lr": -1.0}, r"'lr' parameter .* \(0\.0, inf\)\. Got -1\.0"),
    ({"lr": 0}, r"'lr'"),
    ({"momentum": 1.0}, r"'momentum'"),
    ({"optimizer": "lbfgs"}, r"'optimizer' parameter must be one of"),
    ({"resume": True}, r"resume=True needs a checkpoint_dir"),
    ({"lr_schedule": "warm"}, r"'lr_schedule'"),
    ({"lr": float("inf")}, r"'lr' parameter must be a float in the range \(0\.0, inf\)\. Got inf"),
    ({"callbacks": [42]}, r"'callbacks\[0\]' parameter must be a layerwise\.training\.Callback or a callable "
                          r"f\(state, record\)\. Got 42 \(int\)"),
    ({"callbacks": 42}, r"'callbacks' parameter must be a list of Callback objects or callables"),
    ({"callbacks": Callback()}, r"'callbacks' parameter must be a list"),
    ({"progress": 1}, r"'progress' parameter must be True, False or one of \{'auto', 'bar', 'lines', 'off'\}\. "
                      r"Got 1"),
    ({"threads": 0}, r"'threads' parameter must be an int in the range \[1, inf\)\. Got 0"),
    ({"shuffle": "yes"}, r"'shuffle' parameter must be a bool"),
    ({"desc": 3}, r"'desc' parameter must be a str or None\. Got 3"),
    ({"checkpoint_dir": 3}, r"'checkpoint_dir' parameter must be a path"),
    ({"lr_schedule": 3}, r"'lr_schedule' parameter must be one of .* a callable or None\. Got 3"),
    ({"climb_patience": 0}, r"'climb_patience' parameter must be an int in the range \[1, inf\)"),
    ({"track_loss": 0}, r"'track_loss' parameter must be a bool \(True or False\)\. Got 0"),
    ({"metrics": "no"}, r"'metrics' parameter must be a bool"),
    ({"resume": "yes", "checkpoint_dir": "x"}, r"'resume' parameter must be one of \{False, True, 'force'\}"),
])
def test_bad_settings_fail_before_work(kwargs, match, tmp_path, monkeypatch):
    x, y = regression(10)
    monkeypatch.chdir(tmp_path)
    kwargs = {"progress": False, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        fit(Noisy(), (x, y), device="cpu", **kwargs)
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_checkpoint_dir_naming_a_file_fails_before_work(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(ValueError, match=r"'checkpoint_dir' parameter must name a folder; '.*f' is a file"):
        fit(Noisy(), regression(10), checkpoint_dir=tmp_path / "f", progress=False, device="cpu")
    assert (tmp_path / "f").read_text() == "mine"


def test_bad_data_fails_before_work(tmp_path):
    x, y = regression(10)
    bad = x.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match=r"1 NaN .* index \(3, 2\)"):
        fit(Noisy(), (bad, y), progress=False, checkpoint_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="at least 1 sample"):
        fit(Noisy(), (x[:0], y[:0]), progress=False)
    with pytest.raises(ValueError, match=r"data\[0\] has 10 but data\[1\] has 9"):
        fit(Noisy(), (x, y[:9]), progress=False)
    with pytest.raises(TypeError, match="needs a training_loss"):
        fit(nn.Linear(2, 2), x, progress=False)


@pytest.mark.distributed
def test_torchrun_two_processes_equal_single_process(tmp_path):
    """DDP over 2 gloo processes with per-rank batch 8 == one process with batch 16."""
    sys.path.insert(0, str(HERE))
    import _ddp_worker as w

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    out = tmp_path / "ddp.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "0",
           "--rdzv_backend", "c10d", "--rdzv_endpoint", "127.0.0.1:0", str(HERE / "_ddp_worker.py"), str(out), "8"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = load_file(str(out))
    single = w.Regressor()
    fit(single, w.data(), epochs=3, batch_size=16, optimizer="sgd", lr=0.05, momentum=0.9, device="cpu", seed=3, progress=False)
    for k, v in single.state_dict().items():  # float64 (see _ddp_worker): they agree to ~1e-13
        assert ddp[k].dtype == torch.float64
        torch.testing.assert_close(ddp[k], v, rtol=1e-9, atol=1e-10)
    # and the same run with a different global batch differs: the comparison can fail
    other = w.Regressor()
    fit(other, w.data(), epochs=3, batch_size=8, optimizer="sgd", lr=0.05, momentum=0.9, device="cpu", seed=3, progress=False)
    assert not torch.allclose(other.net[0].weight, ddp["net.0.weight"], atol=1e-4)
