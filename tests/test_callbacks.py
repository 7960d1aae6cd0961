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
