"""Divergence: rates must be finite; a bad update (the epoch's last included) never reaches a
checkpoint; a warning when the monitored metric climbs, or a run ends above where it began."""

import math
import warnings

import pytest
import torch
from torch import nn

from layerwise import checkpoint as ckpt
from layerwise import datasets
from layerwise.models.autoencoder import AutoEncoder
from layerwise.models.dbm import DBM
from layerwise.models.rbm import RBM
from layerwise.models.sbn import SigmoidBeliefNet
from layerwise.models.updown import UpDownDBN
from layerwise.divergence import CLIMB_MIN_RISE
from layerwise.training import DivergenceWarning, NonFiniteLossError, NonFiniteParametersError, default_optimizer, fit

from _models import Noisy, regression

pytestmark = pytest.mark.usefixtures("one_thread")

X = torch.rand(64, 64, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": float("inf")}, r"'lr' parameter must be a float in the range \(0\.0, inf\)\. Got inf"),
    ({"lr": float("nan")}, r"'lr' parameter .* Got nan"),
    ({"lr": 1e300}, r"'lr' parameter must be a float in the range \(0\.0, 3\.40282\d*e\+38\)\. Got 1e\+300"),
    ({"weight_decay": float("inf")}, r"'weight_decay' parameter must be a float in the range \[0\.0, inf\)"),
    ({"momentum": float("nan")}, r"'momentum' parameter"),
])
def test_the_issues_example_with_a_non_finite_rate_is_refused_before_anything_is_written(kwargs, match, tmp_path):
    """fit(AutoEncoder(64, [32]), X[:64], epochs=3, batch_size=64, lr=inf, checkpoint_dir=r) kept a NaN
    'last good' checkpoint; now it is refused up front (1e300 overflows the float32 update)."""
    with pytest.raises(ValueError, match=match):
        fit(AutoEncoder(64, [32]), X[:64], epochs=3, batch_size=64, checkpoint_dir=tmp_path / "r", progress=False,
            device="cpu", **kwargs)
    assert not (tmp_path / "r").exists()


def test_an_optimiser_instance_with_an_infinite_lr_is_refused(tmp_path):
    model = Noisy()
    opt = default_optimizer(model, "sgd", 0.1, 0.0, 0.0)
    opt.param_groups[1]["lr"] = float("inf")
    with pytest.raises(ValueError, match=r"'optimizer\.param_groups\[1\]\['lr'\]' parameter .* Got inf"):
        fit(model, regression(16), optimizer=opt, checkpoint_dir=tmp_path / "r", progress=False, device="cpu")
    assert not (tmp_path / "r").exists()


def test_a_huge_finite_lr_never_saves_a_nan_checkpoint(tmp_path):
    """One batch per epoch: the loss (before the update) is finite, the update is not."""
    x, y = regression(64)
    torch.manual_seed(0)
    model = Noisy(noise=0.0)
    probe = Noisy(noise=0.0)
    probe.load_state_dict(model.state_dict())
    opt = torch.optim.SGD(probe.parameters(), lr=1e38)  # the reference: one plain step overflows
    loss = probe.training_loss((x, y))
    loss.backward()
    opt.step()
    assert math.isfinite(float(loss.detach())) and not torch.isfinite(probe.lin.weight).all()
    with pytest.raises(NonFiniteParametersError, match=r"'lin\.weight'.* after the updates of epoch 1; stopping\. "
                                                       r"No checkpoint was written"):
        fit(model, (x, y), epochs=3, batch_size=64, lr=1e38, checkpoint_dir=tmp_path / "r", progress=False,
            device="cpu")
    assert not (tmp_path / "r" / "last").exists()
    # the autoencoder of the issue saturates at such rates instead: whatever it saves is finite
    with pytest.warns(DivergenceWarning):
        fit(AutoEncoder(64, [32]), X, epochs=3, batch_size=64, lr=1e38, checkpoint_dir=tmp_path / "ae",
            progress=False, device="cpu")
    assert all(torch.isfinite(t).all() for t in ckpt.load_checkpoint(tmp_path / "ae")["model_state"].values())


class PoisonedLastStep(Noisy):
    """Plain SGD steps; step ``poison_at`` (counted from 1) leaves NaN in ``target`` after the update."""

    def __init__(self, poison_at, target):
        super().__init__(noise=0.0)
        self.register_buffer("chains", torch.zeros(4))
        self.poison_at, self.target, self.steps = poison_at, target, 0

    def training_step(self, batch, optimizer):
        optimizer.zero_grad()
        loss = self.training_loss(batch)
        loss.backward()
        optimizer.step()
        self.steps += 1
        if self.steps == self.poison_at:
            with torch.no_grad():
                self.state_dict(keep_vars=True)[self.target].view(-1)[0] = float("nan")
        return loss.detach()


@pytest.mark.parametrize("target", ["lin.weight", "chains"])
def test_a_bad_last_update_of_an_epoch_keeps_the_previous_checkpoint(target, tmp_path):
    x, y = regression(64)
    kw = dict(batch_size=16, lr=0.03, seed=2, progress=False, device="cpu")
    torch.manual_seed(0)
    init = PoisonedLastStep(8, target).state_dict()
    model = PoisonedLastStep(8, target)  # 4 batches an epoch: step 8 is epoch 2's last
    model.load_state_dict(init)
    with pytest.raises(NonFiniteParametersError, match=rf"'{target}' became NaN .* epoch 2; stopping\. The last "
                                                        r"good checkpoint \(epoch 1\) is kept"):
        fit(model, (x, y), epochs=4, checkpoint_dir=tmp_path, **kw)
    saved = ckpt.load_checkpoint(tmp_path)
    assert saved["meta"]["epoch"] == 1
    one = PoisonedLastStep(0, target)  # the reference: one epoch of the same run, never poisoned
    one.load_state_dict(init)
    fit(one, (x, y), epochs=1, **kw)
    for name, value in one.state_dict().items():
        assert torch.equal(saved["model_state"][name], value), name
    assert isinstance(NonFiniteParametersError("x"), NonFiniteLossError)  # old `except` clauses still catch it


class Scripted(nn.Module):
    """Its epoch-mean loss is ``losses[epoch]``; ``metrics`` gives ``recon`` from ``recons``."""

    def __init__(self, losses, recons=None, monitored="loss"):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.losses, self.recons, self.epoch = losses, recons, -1
        self.monitored_metric = monitored

    def training_step(self, batch, optimizer):
        return torch.tensor(self.losses[self.epoch])

    def metrics(self, batch):
        return {"recon": self.recons[self.epoch]} if self.recons else {}


def _run(model, patience=5):
    class Epoch:
        def on_epoch_start(self, state):
            model.epoch = state.epoch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(model, torch.zeros(4, 1), epochs=len(model.losses), batch_size=4, callbacks=[Epoch()], progress=False,
            device="cpu", climb_patience=patience)
    return [str(w.message) for w in caught if issubclass(w.category, DivergenceWarning)]


CLIMB = [9.0, 4.0, 3.0, 3.3, 3.6, 4.0, 4.5, 5.0, 5.5, 6.0]  # rises from epoch 4 on; ends below epoch 1


def test_a_climbing_loss_warns_once_after_patience_epochs_in_a_row():
    said = _run(Scripted(CLIMB))
    assert said == ["The training loss has risen for 5 epochs in a row, from 3 at epoch 3 to 5 at epoch 8: "
                    "training may be diverging. Try a smaller learning rate (now 0.01); climb_patience=None "
                    "turns this warning off."]
    assert "from 3 at epoch 3 to 4 at epoch 6" in _run(Scripted(CLIMB), patience=3)[0]
    assert _run(Scripted(CLIMB), patience=None) == []
    assert _run(Scripted(CLIMB[:7])) == []  # four rises only


def test_no_warning_for_jitter_nor_for_a_falling_run():
    jitter = [3.0, 3.01, 3.02, 3.03, 3.04, 3.05, 3.06, 3.07]  # 7 rises, 2 % in all (< CLIMB_MIN_RISE)
    assert 3.07 - 3.0 < CLIMB_MIN_RISE * 3.0
    assert _run(Scripted(jitter)) == []
    assert _run(Scripted([5.0, 4.0, 3.0, 2.5, 2.0, 1.8, 1.7, 1.6])) == []


def test_the_monitored_metric_is_the_models_choice():
    """A noisy surrogate loss that climbs while the reconstruction improves: no warning; the reverse warns."""
    falling = [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.9, 1.8]
    assert _run(Scripted(CLIMB, recons=falling, monitored="recon")) == []
    said = _run(Scripted(falling, recons=CLIMB, monitored="recon"))
    assert len(said) == 1 and said[0].startswith("The training recon has risen for 5 epochs")
    for cls in (RBM, SigmoidBeliefNet, UpDownDBN):  # a loss that is no objective: watch the reconstruction
        assert cls.monitored_metric == "reconstruction_error"
    assert DBM.monitored_metric is None  # nothing: its sound joint training raises the reconstruction error
    assert _run(Scripted(CLIMB, monitored=None)) == [] and _run(Scripted([3.0, 4.0, 5.0], monitored=None)) == []
    assert not hasattr(AutoEncoder, "monitored_metric")  # its loss is the objective


def test_a_run_ending_above_its_first_epoch_warns():
    said = _run(Scripted([3.0, 5.0, 4.0, 4.5, 3.9, 4.2]))
    assert said == ["The training loss ended at 4.2 after 6 epochs, above the 3 of epoch 1: training diverged or "
                    "saturated. Try a smaller learning rate (now 0.01); climb_patience=None turns this warning off."]


def test_an_rbm_at_lr_100_warns_where_lr_005_does_not():
    """The issue's case: a saturated RBM on the digits (reconstruction error 14-17 against 3-8)."""
    x = (datasets.load("digits")[0].reshape(-1, 64) > 0.5).float()

    def run(lr):
        torch.manual_seed(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            h = fit(RBM(64, 32), x, epochs=8, batch_size=20, lr=lr, momentum=0.5, progress=False, device="cpu")
        return h, [w for w in caught if issubclass(w.category, DivergenceWarning)]

    good, quiet = run(0.05)
    bad, loud = run(100.0)
    assert quiet == [] and good["reconstruction_error"][-1] < good["reconstruction_error"][0]
    assert len(loud) == 1 and "reconstruction_error ended at" in str(loud[0].message)


@pytest.mark.parametrize("factor", [float("inf"), float("nan"), -1.0])
def test_a_schedule_factor_that_is_not_finite_and_non_negative_stops_before_the_epoch(factor, tmp_path):
    model = Noisy()
    with pytest.raises(ValueError, match=rf"'lr_schedule' gave the factor {factor!r} at epoch 2 \(lr_schedule\(1\)\); expected a finite"):
        fit(model, regression(16), epochs=3, batch_size=8, lr_schedule=lambda e: 1.0 if e == 0 else factor,
            checkpoint_dir=tmp_path, progress=False, device="cpu")
    saved = ckpt.load_checkpoint(tmp_path)
    assert saved["meta"]["epoch"] == 1 and all(torch.isfinite(t).all() for t in saved["model_state"].values())
