"""layerwise.checkpoint: corrupt, missing and mismatched checkpoints fail with errors naming the
file or the tensor; only layerwise's own classes are rebuilt from a checkpoint."""

import pytest
import torch
from _models import Noisy, regression

import layerwise as lw
from layerwise import checkpoint as ckpt
from layerwise.checkpoint import CheckpointError
from layerwise.training import fit


@pytest.fixture
def ae():
    return lw.AutoEncoder(6, [3], loss="bce")


def test_corrupt_or_mismatched_checkpoint_errors(tmp_path):
    x, y = regression(10)
    fit(Noisy(), (x, y), epochs=1, batch_size=5, checkpoint_dir=tmp_path, progress=False, device="cpu")
    with pytest.raises(ckpt.CheckpointError, match=r"'lin.weight' has shape \(3, 5\) in the checkpoint, but \(2, 5\)"):
        ckpt.load_model(tmp_path, model=Noisy(n_out=2))
    (tmp_path / "last" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ckpt.CheckpointError, match="model.safetensors' is corrupt"):
        ckpt.load_model(tmp_path)
    (tmp_path / "last" / "checkpoint.json").write_text("{not json")
    with pytest.raises(ckpt.CheckpointError, match="checkpoint.json' is corrupt"):
        ckpt.load_model(tmp_path)
    with pytest.raises(ckpt.CheckpointError, match="No checkpoint at"):
        ckpt.load_model(tmp_path / "nowhere")


def test_checkpoint_refuses_foreign_classes(tmp_path):
    m = Noisy()
    ckpt.save_checkpoint(tmp_path / "c", m)
    with pytest.raises(ckpt.CheckpointError, match="Refusing to import"):
        ckpt.load_model(tmp_path / "c")
    assert isinstance(ckpt.load_model(tmp_path / "c", model=Noisy()), Noisy)


def test_missing_corrupt_and_mismatched_checkpoints(tmp_path, ae):
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        lw.load_model(tmp_path / "none")
    lw.fit(ae, torch.rand(10, 6), epochs=1, checkpoint_dir=tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match=r"'encoder_layers.0.weight' has shape \(3, 6\) in the checkpoint, but \(4, 6\)"):
        lw.load_model(tmp_path / "run", model=lw.AutoEncoder(6, [4]))
    (tmp_path / "run" / "last" / "model.safetensors").write_bytes(b"\0\1\2")
    with pytest.raises(CheckpointError, match="corrupt"):
        lw.load_model(tmp_path / "run")
    with pytest.raises(CheckpointError, match="corrupt"):  # resume refuses it too, before training
        lw.fit(lw.AutoEncoder(6, [3]), torch.rand(10, 6), epochs=2, checkpoint_dir=tmp_path / "run",
               resume=True, progress=False)
