"""Resume with changed settings: refused by name (resume=True), or continued with a warning
(resume="force") with the documented meaning; epochs may grow; a missing trainer state is said."""

import json
import re

import pytest
import torch

from layerwise import checkpoint as ckpt
from layerwise.models.autoencoder import AutoEncoder
from layerwise.models.dbm import DBM
from layerwise.models.rbm import RBM
from layerwise.models.sbn import SigmoidBeliefNet
from layerwise.resume import InexactResumeWarning, ResumeMismatchError, settings_changes
from layerwise.training import default_optimizer, fit

from _models import Noisy, regression

pytestmark = pytest.mark.usefixtures("one_thread")

BASE = dict(epochs=4, batch_size=10, lr=0.03, momentum=0.9, seed=5, device="cpu", progress=False)


def _init(noise=0.1):
    torch.manual_seed(0)
    return Noisy(noise=noise).state_dict()


def _model(init, noise=0.1):
    m = Noisy(noise=noise)
    m.load_state_dict(init)
    return m


def _checkpointed(tmp_path, epochs=2, noise=0.1, **kw):
    """A run folder whose checkpoint has ``epochs`` epochs of a BASE run done."""
    init = _init(noise)
    fit(_model(init, noise), regression(64), **{**BASE, "epochs": epochs, **kw}, checkpoint_dir=tmp_path)
    return init


def _bare_epoch(model, opt, x, y, epoch):
    """One epoch of a bare loop with fit's per-epoch order (BASE: seed 5, batch 10, 64 rows)."""
    order = torch.randperm(64, generator=torch.Generator().manual_seed(5 + epoch))
    for s in range(0, 64, 10):
        i = order[s:s + 10]
        opt.zero_grad()
        model.training_loss((x[i], y[i])).backward()
        opt.step()


@pytest.mark.parametrize("change, shown", [
    ({"lr": 0.1}, "lr: 0.03 -> 0.1"),
    ({"batch_size": 16}, "batch_size: 10 -> 16"),
    ({"seed": 6}, "seed: 5 -> 6"),
    ({"momentum": 0.5}, "momentum: 0.9 -> 0.5"),
    ({"weight_decay": 0.01}, "weight_decay: 0.0 -> 0.01"),
    ({"optimizer": "adam"}, "optimizer: 'sgd' -> 'adam'"),
    ({"optimizer": "rmsprop"}, "optimizer: 'sgd' -> 'rmsprop'"),
    ({"lr_schedule": "exponential"}, "lr_schedule: None -> 'exponential'"),
    ({"shuffle": False}, "shuffle: True -> False"),
    ({"initial_epoch": 0}, "seeding: 'once' -> 'per-epoch'"),
])
def test_a_changed_setting_is_refused_by_name(change, shown, tmp_path):
    init = _checkpointed(tmp_path)
    before = (tmp_path / "last" / "checkpoint.json").read_text()
    with pytest.raises(ResumeMismatchError, match=re.escape(shown)) as info:
        fit(_model(init), regression(64), **{**BASE, **change}, checkpoint_dir=tmp_path, resume=True)
    assert "resume='force'" in str(info.value) and "\n" not in str(info.value)
    assert (tmp_path / "last" / "checkpoint.json").read_text() == before  # nothing trained, nothing written


def test_every_changed_key_is_named_at_once_and_the_model_is_compared(tmp_path):
    init = _checkpointed(tmp_path)
    with pytest.raises(ResumeMismatchError) as info:
        fit(_model(init, noise=0.2), regression(64), **{**BASE, "lr": 0.1, "seed": 1}, checkpoint_dir=tmp_path,
            resume=True)
    text = str(info.value)
    for shown in ("lr: 0.03 -> 0.1", "seed: 5 -> 1", "model.config.noise: 0.1 -> 0.2"):
        assert shown in text
    with pytest.raises(ResumeMismatchError, match=re.escape("data: [64, 5] -> [60, 5]")):
        x, y = regression(64)
        fit(_model(init), (x[:60], y[:60]), **BASE, checkpoint_dir=tmp_path, resume=True)


def test_an_rbms_k_is_compared_as_the_model_was_built_not_as_a_schedule_left_it(tmp_path):
    x = (torch.rand(40, 10, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    kw = dict(epochs=2, batch_size=10, lr=0.05, seed=1, device="cpu", progress=False, checkpoint_dir=tmp_path)
    torch.manual_seed(0)
    fit(RBM(10, 4, k=1), x, **kw)
    with pytest.raises(ResumeMismatchError, match=re.escape("model.config.k: 1 -> 3")):
        fit(RBM(10, 4, k=3), x, **{**kw, "epochs": 3}, resume=True)
    fit(RBM(10, 4, k=1), x, **{**kw, "epochs": 3}, resume=True)  # the same model trains on


def test_changing_the_optimiser_is_a_named_error_not_a_key_error_and_force_starts_it_afresh(tmp_path):
    """force: the checkpoint's weights, the new call's settings and a fresh Adam; compared with a
    bare loop from the checkpoint's weights (noise 0: torch's RNG plays no part)."""
    x, y = regression(64)
    init = _checkpointed(tmp_path, noise=0.0)
    with pytest.raises(ResumeMismatchError, match=re.escape("optimizer: 'sgd' -> 'adam'")):
        fit(_model(init, 0.0), (x, y), **{**BASE, "optimizer": "adam"}, checkpoint_dir=tmp_path, resume=True)
    ref = Noisy(noise=0.0)
    ref.load_state_dict(ckpt.load_checkpoint(tmp_path)["model_state"])
    forced = _model(init, 0.0)
    with pytest.warns(InexactResumeWarning) as record:
        h = fit(forced, (x, y), **{**BASE, "optimizer": "adam", "lr": 0.01}, checkpoint_dir=tmp_path, resume="force")
    said = " ".join(str(w.message) for w in record)
    assert "optimizer: 'sgd' -> 'adam'" in said and "not restored" in said
    assert h["epoch"] == [1, 2, 3, 4] and h["lr"][2:] == [0.01, 0.01]
    opt = default_optimizer(ref, "adam", 0.01, 0.0, 0.0)
    for epoch in (2, 3):
        _bare_epoch(ref, opt, x, y, epoch)
    for (name, a), b in zip(forced.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), name
    assert ckpt.load_checkpoint(tmp_path)["meta"]["fit_config"]["optimizer"] == "adam"  # the new settings saved


def test_force_keeps_the_momentum_buffer_and_applies_the_new_lr(tmp_path):
    """Reference: one bare SGD loop whose lr is switched from 0.03 to 0.01 after epoch 2."""
    x, y = regression(64)
    init = _checkpointed(tmp_path, noise=0.0)
    forced = _model(init, 0.0)
    with pytest.warns(InexactResumeWarning, match=re.escape("lr: 0.03 -> 0.01")):
        fit(forced, (x, y), **{**BASE, "lr": 0.01}, checkpoint_dir=tmp_path, resume="force")
    ref = _model(init, 0.0)
    opt = default_optimizer(ref, "sgd", 0.03, 0.9, 0.0)
    for epoch in range(4):
        if epoch == 2:
            for g in opt.param_groups:
                g["lr"] = 0.01
        _bare_epoch(ref, opt, x, y, epoch)
    for (name, a), b in zip(forced.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), name


def test_more_epochs_continue_a_finished_run_exactly(tmp_path):
    init = _checkpointed(tmp_path / "a", epochs=3)
    longer = _model(init)
    h = fit(longer, regression(64), **{**BASE, "epochs": 5}, checkpoint_dir=tmp_path / "a", resume=True)
    whole = _model(init)
    fit(whole, regression(64), **{**BASE, "epochs": 5})
    assert h["epoch"] == [1, 2, 3, 4, 5]
    for (name, a), b in zip(whole.state_dict().items(), longer.state_dict().values()):
        assert torch.equal(a, b), name


def test_epochs_may_not_change_with_a_length_dependent_schedule_nor_fall_below_the_epochs_done(tmp_path):
    init = _checkpointed(tmp_path, epochs=3, lr_schedule="linear")
    with pytest.raises(ResumeMismatchError, match=r"epochs: 3 -> 5 \(lr_schedule='linear' depends on the run's length\)"):
        fit(_model(init), regression(64), **{**BASE, "epochs": 5, "lr_schedule": "linear"}, checkpoint_dir=tmp_path,
            resume=True)
    with pytest.raises(ResumeMismatchError, match=r"epochs: 3 -> 2 \(fewer than the 3 the checkpoint has finished\)"):
        fit(_model(init), regression(64), **{**BASE, "epochs": 2, "lr_schedule": "linear"}, checkpoint_dir=tmp_path,
            resume=True)


def test_a_missing_trainer_state_is_refused_or_forced_with_a_warning(tmp_path):
    x, y = regression(64)
    init = _init()
    whole = _model(init)
    fit(whole, (x, y), **BASE)
    fit(_model(init), (x, y), **{**BASE, "epochs": 2}, checkpoint_dir=tmp_path)
    (tmp_path / "last" / ckpt.TRAINER_FILE).unlink()
    with pytest.raises(ResumeMismatchError, match=r"no trainer\.safetensors .* neither can be restored"):
        fit(_model(init), (x, y), **BASE, checkpoint_dir=tmp_path, resume=True)
    forced = _model(init)
    with pytest.warns(InexactResumeWarning, match="trainer.safetensors"):
        fit(forced, (x, y), **BASE, checkpoint_dir=tmp_path, resume="force")
    # it is not exact indeed (momentum and RNG lost), which is what the warning says
    assert not torch.equal(forced.lin.weight, whole.lin.weight)


def test_an_older_checkpoint_is_compared_on_the_keys_it_stored(tmp_path):
    x, y = regression(64)
    init = _init()
    whole = _model(init)
    fit(whole, (x, y), **BASE)
    fit(_model(init), (x, y), **{**BASE, "epochs": 2}, checkpoint_dir=tmp_path)
    meta_file = tmp_path / "last" / "checkpoint.json"
    meta = json.loads(meta_file.read_text())
    for key in ("model", "data", "seeding"):  # what checkpoints stored before these checks
        del meta["fit_config"][key]
    meta_file.write_text(json.dumps(meta))
    resumed = _model(init)
    fit(resumed, (x, y), **BASE, checkpoint_dir=tmp_path, resume=True)
    assert torch.equal(resumed.lin.weight, whole.lin.weight)
    with pytest.raises(ResumeMismatchError, match="lr: 0.03 -> 0.02"):  # what it stored is still checked
        fit(_model(init), (x, y), **{**BASE, "lr": 0.02, "epochs": 5}, checkpoint_dir=tmp_path, resume=True)


def test_settings_changes_lists_nested_keys_and_skips_absent_ones():
    saved = {"lr": 0.1, "model": {"class": "A", "config": {"k": 1}}, "epochs": 3, "old_only": 1}
    new = {"lr": 0.1, "model": {"class": "A", "config": {"k": 2}}, "epochs": 9, "new_only": 2}
    assert settings_changes(saved, new, done=3) == ["model.config.k: 1 -> 2"]
    assert settings_changes(saved, {**new, "epochs": 2}, done=3)[-1].startswith("epochs: 3 -> 2")


@pytest.mark.parametrize("resume, error", [("yes", ValueError), (1, TypeError), (None, TypeError)])
def test_resume_takes_false_true_or_force(resume, error, tmp_path):
    with pytest.raises(error, match=r"'resume' parameter must be one of \{False, True, 'force'\}"):
        fit(Noisy(), regression(10), checkpoint_dir=tmp_path, resume=resume, progress=False, device="cpu")


def test_a_setting_the_optimiser_does_not_use_is_not_a_change(tmp_path):
    """Adam has no momentum setting: a changed ``momentum`` neither alters the run nor is refused."""
    x, y = regression(64)
    init = _init()
    kw = {**BASE, "optimizer": "adam"}
    whole = _model(init)
    fit(whole, (x, y), **kw)
    fit(_model(init), (x, y), **{**kw, "epochs": 2}, checkpoint_dir=tmp_path)
    resumed = _model(init)
    fit(resumed, (x, y), **{**kw, "momentum": 0.1}, checkpoint_dir=tmp_path, resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


class _Interrupt(Exception):
    pass


def _stop_after(epoch):
    def cb(state, record):
        if record["epoch"] == epoch:
            raise _Interrupt  # after epoch 2's record, before its checkpoint: the checkpoint is epoch 1's
    return cb


@pytest.mark.parametrize("make", [
    lambda: RBM(12, 5, persistent=True, n_chains=8),
    lambda: DBM([12, 6, 4]),
    lambda: SigmoidBeliefNet([12, 6, 3]),
    lambda: AutoEncoder(12, [5], noise="masking", noise_level=0.3),
], ids=["pcd-rbm", "dbm", "sbn", "denoising-ae"])
def test_the_models_stochastic_state_resumes_exactly_through_the_checks(make, tmp_path):
    """The stored model config is the one the call began with, so a fresh model of the same
    arguments passes the comparison, and the resumed run is the uninterrupted one, bitwise."""
    x = (torch.rand(40, 12, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    kw = dict(epochs=3, batch_size=10, lr=0.05, momentum=0.5, seed=4, device="cpu", progress=False)
    torch.manual_seed(0)
    init = make().state_dict()

    def fresh():
        m = make()
        m.load_state_dict(init)
        return m

    whole = fresh()
    fit(whole, x, **kw)
    with pytest.raises(_Interrupt):
        fit(fresh(), x, checkpoint_dir=tmp_path, callbacks=[_stop_after(2)], **kw)
    torch.randn(10)  # disturb the global RNG: resume restores it
    resumed = fresh()
    fit(resumed, x, checkpoint_dir=tmp_path, resume=True, **kw)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
