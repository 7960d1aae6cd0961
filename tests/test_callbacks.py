"""callbacks.py: FilterSnapshots during fit; the pictures a run draws when fit ends, with the
random state left as it was."""

from types import SimpleNamespace

import pytest
import torch
from test_plots import assert_png
from torch import nn

from layerwise.callbacks import Curves, FilterSnapshots, Filters, Reconstructions, SamplePictures
from layerwise.models.autoencoder import AutoEncoder
from layerwise.models.rbm import RBM
from layerwise.training import fit


class TinyRBM(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(9, 16))
        self.layers = nn.ModuleList([nn.Linear(16, 4)])


def test_filter_snapshots_file_names(tmp_path):
    model = TinyRBM()
    cb = FilterSnapshots((4, 4), tmp_path / "snaps", every=2)
    for epoch in range(1, 6):
        cb.on_epoch_end(SimpleNamespace(model=model, epoch=epoch, checkpoint_dir=None), {})
    names = sorted(p.name for p in (tmp_path / "snaps").iterdir())
    assert names == ["filters_epoch002.png", "filters_epoch004.png"]
    assert cb.paths == [tmp_path / "snaps" / n for n in names]
    assert_png(cb.paths[0])


def test_filter_snapshots_attr_path_callable_and_default_folder(tmp_path):
    model = TinyRBM()
    state = SimpleNamespace(model=model, epoch=3, checkpoint_dir=tmp_path / "run")
    p1 = FilterSnapshots(attr="layers.0.weight").on_epoch_end(state, {})
    assert p1 == tmp_path / "run" / "filters" / "filters_epoch003.png"
    p2 = FilterSnapshots((4, 4), tmp_path / "c", attr=lambda m: m.weight * 2).on_epoch_end(state, {})
    assert p2.name == "filters_epoch003.png"
    with pytest.raises(AttributeError, match="'encoder.weight'"):
        FilterSnapshots(attr="encoder.weight").on_epoch_end(state, {})
    with pytest.raises(ValueError, match="needs a folder"):
        FilterSnapshots().on_epoch_end(SimpleNamespace(model=model, epoch=1, checkpoint_dir=None), {})
    with pytest.raises(ValueError, match="'every'"):
        FilterSnapshots(every=0)


def test_filter_snapshots_inside_fit(tmp_path):
    from layerwise.training import fit

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(4, 9))

        def training_loss(self, batch):
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            return ((x @ self.weight.t()) ** 2).mean()

    cb = FilterSnapshots(folder=tmp_path / "f")
    fit(Model(), torch.rand(32, 9), epochs=2, batch_size=16, device="cpu", progress=False,
        callbacks=[cb])
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [
        "filters_epoch001.png", "filters_epoch002.png"]


def test_pictures_at_fit_end_leave_the_random_state_alone(tmp_path):
    torch.manual_seed(0)
    x = torch.rand(40, 16)
    model = AutoEncoder(16, [4], noise="masking", noise_level=0.3)
    rbm = RBM(16, 4)
    pictures = [Filters(tmp_path / "filters.png", lambda m: m.encoder_layers[0].weight, shape=(4, 4)),
                Reconstructions(tmp_path / "recon.png", x[:5], shape=(4, 4)),
                SamplePictures(tmp_path, lambda m, n, steps, every: rbm.sample(n, steps, every=every), 16, (4, 4),
                               samples=4, steps=10, seed=3),
                Curves(tmp_path / "curves.png", ("loss",))]
    fit(model, x, epochs=1, batch_size=20, device="cpu", progress=False, callbacks=pictures)
    after_fit = torch.random.get_rng_state()
    for p in pictures[:3]:
        p.draw(model)
    assert torch.equal(torch.random.get_rng_state(), after_fit)
    for name in ("filters.png", "recon.png", "samples.png", "chain.png", "curves.png"):
        assert_png(tmp_path / name)
    # a model without input noise: nothing when only noisy reconstructions are wanted
    assert Reconstructions(tmp_path / "none.png", x[:5], noisy_only=True).draw(AutoEncoder(16, [4])) is None


# ---- schedules (on_epoch_start) ------------------------------------------------------------------

from layerwise.callbacks import GibbsStepsSchedule, LinearRamp, MomentumSchedule  # noqa: E402
from layerwise.training import Callback  # noqa: E402


def _binary(n=40, d=12, seed=0):
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def test_on_epoch_start_runs_before_each_epoch_with_its_number():
    seen = []

    class Probe(Callback):
        def on_epoch_start(self, state):
            seen.append(("start", state.epoch, len(state.history)))

        def on_epoch_end(self, state, record):
            seen.append(("end", state.epoch, len(state.history)))

    torch.manual_seed(0)
    fit(RBM(12, 4), _binary(), epochs=4, batch_size=20, initial_epoch=2, callbacks=[Probe()], progress=False,
        device="cpu")
    # 0-based epoch about to run, nothing of it in the history yet; on_epoch_end sees it done
    assert seen == [("start", 2, 0), ("end", 3, 1), ("start", 3, 1), ("end", 4, 2)]


def _spy(model, opt_box):
    """Record (momentum, k, lr, Gibbs sweeps) at every training step of ``model``."""
    calls = []
    step, sample_visible = model.training_step, model._sample_visible  # the unchecked sampler the PCD loop calls
    sweeps = [0]

    def counting_sample_visible(h):
        sweeps[0] += 1
        return sample_visible(h)

    def spy_step(batch, optimizer):
        sweeps[0] = 0
        loss = step(batch, optimizer)
        g = optimizer.param_groups[0]
        calls.append((g["momentum"], model.k, g["lr"], sweeps[0]))
        return loss

    model.training_step, model._sample_visible = spy_step, counting_sample_visible
    return calls


def test_the_momentum_k_and_lr_used_at_each_epoch():
    torch.manual_seed(0)
    model = RBM(12, 4, persistent=True, n_chains=10)   # PCD: k sweeps of sample_visible per update
    calls = _spy(model, None)
    history = fit(model, _binary(), epochs=4, batch_size=20, lr=0.1, lr_schedule="linear", momentum=0.3,
                  callbacks=[MomentumSchedule({0: 0.5, 2: 0.9}), GibbsStepsSchedule(LinearRamp(1, 4))],
                  progress=False, device="cpu")
    per_epoch = [calls[i] for i in range(0, 8, 2)]
    assert calls[1::2] == calls[0::2]                  # 2 batches an epoch, the same settings in both
    assert [c[0] for c in per_epoch] == [0.5, 0.5, 0.9, 0.9]
    assert [c[1] for c in per_epoch] == [1, 2, 3, 4] == [c[3] for c in per_epoch]   # k set, and k sweeps run
    assert [c[2] for c in per_epoch] == pytest.approx([0.1, 0.075, 0.05, 0.025])
    assert history["momentum"] == [0.5, 0.5, 0.9, 0.9] and history["k"] == [1, 2, 3, 4]


class _StopAfter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, state, record):
        state.stop = state.epoch >= self.epochs


def _scheduled_run(tmp_path, stop=None, resume=False):
    torch.manual_seed(1)
    model = RBM(12, 4, persistent=True, n_chains=10)
    callbacks = [MomentumSchedule({0: 0.5, 2: 0.9}), GibbsStepsSchedule(LinearRamp(1, 5))]
    if stop is not None:
        callbacks.append(_StopAfter(stop))
    history = fit(model, _binary(), epochs=5, batch_size=20, lr=0.05, lr_schedule="linear", seed=3,
                  checkpoint_dir=tmp_path, resume=resume, callbacks=callbacks, progress=False, device="cpu")
    return model, history


@pytest.mark.parametrize("stop", [1, 2, 3])
def test_a_run_resumed_mid_way_equals_an_uninterrupted_one(stop, tmp_path):
    whole, h_whole = _scheduled_run(tmp_path / "whole")
    part, _ = _scheduled_run(tmp_path / "split", stop=stop)
    assert not torch.equal(part.weight, whole.weight)
    resumed, h_resumed = _scheduled_run(tmp_path / "split", resume=True)   # a fresh model and fresh schedules
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name
    assert h_resumed["momentum"] == h_whole["momentum"] and h_resumed["k"] == h_whole["k"] == [1, 2, 3, 4, 5]


def test_linear_ramp_values():
    ramp = LinearRamp(1, 25)
    assert [round(ramp(e, 5)) for e in range(5)] == [1, 7, 13, 19, 25]
    assert ramp(0, 1) == 25 and LinearRamp(0.5, 0.9, over=3)(10, 100) == 0.9
    assert repr(ramp) == "LinearRamp(1, 25)"


def test_schedules_refuse_bad_values_and_models():
    with pytest.raises(ValueError, match="epoch"):
        MomentumSchedule({1: 0.5})
    with pytest.raises(ValueError, match="momentum"):
        MomentumSchedule({0: 1.5})
    with pytest.raises(ValueError, match="'k'"):
        GibbsStepsSchedule({0: 0})
    with pytest.raises(TypeError, match="schedule"):
        GibbsStepsSchedule(3)
    with pytest.raises(ValueError, match="Adam"):
        fit(RBM(12, 4, learn_sigma=False), _binary(), epochs=1, optimizer="adam", progress=False, device="cpu",
            callbacks=[MomentumSchedule({0: 0.5})])
    with pytest.raises(ValueError, match="AutoEncoder"):
        fit(AutoEncoder(12, [4]), _binary(), epochs=1, progress=False, device="cpu",
            callbacks=[GibbsStepsSchedule({0: 2})])
