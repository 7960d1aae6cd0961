"""A save killed with ``kill -9`` leaves its temporaries (``.last.tmp-*``, ``.last.old``) behind;
the next save, or ``fit(resume=True)``, removes them and the checkpoint stays intact (issue 12).

The kills are real: a child process saves a checkpoint and sends itself SIGKILL at a chosen point
of the save protocol (while writing the files, or between the two renames of the swap).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import layerwise as lw
from layerwise import checkpoint as ckpt

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
X = (torch.rand(16, 6, generator=torch.Generator().manual_seed(0)) < 0.4).float()
FIT = {"batch_size": 4, "lr": 0.1, "seed": 3, "progress": False}

CHILD = textwrap.dedent("""
    import os, signal, sys
    import torch
    import layerwise as lw
    from layerwise import checkpoint as ckpt

    run, when = sys.argv[1], sys.argv[2]
    model = lw.load_model(run)
    with torch.no_grad():
        model.weight.add_(1.0)  # a different checkpoint, so a half-written one would show
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    save_file, replace, calls = ckpt.save_file, os.replace, []

    def killing_save_file(tensors, filename):
        save_file(tensors, filename)
        if when == "writing":  # model.safetensors written, trainer.safetensors and the JSON not
            die()

    def killing_replace(src, dst):
        replace(src, dst)
        calls.append(dst)
        if when == "swapping" and len(calls) == 1:  # last/ moved to .last.old, the new one not yet in
            die()

    ckpt.save_file, os.replace = killing_save_file, killing_replace
    ckpt.save_checkpoint(os.path.join(run, "last"), model, epoch=1)
    sys.exit(3)  # not reached
""")


def _kill_mid_save(run: Path, when: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(run), when], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _leftovers(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.startswith(".last."))


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class _Stop(lw.Callback):
    """Ends the fit after ``after`` epochs of this call (0: before the first one)."""

    def __init__(self, after: int):
        self.after, self.start = after, None

    def on_fit_start(self, state):
        self.start = state.epoch
        state.stop = self.after == 0

    def on_epoch_end(self, state, record):
        state.stop = state.epoch - self.start >= self.after


@pytest.fixture
def trained(tmp_path):
    """A run folder of a 2-epoch fit stopped after epoch 1; the weights then, and those of the
    uninterrupted 2 epochs."""
    run = tmp_path / "run"
    torch.manual_seed(0)
    model = lw.RBM(6, 4, persistent=True, n_chains=4)
    lw.fit(model, X, epochs=2, checkpoint_dir=run, callbacks=[_Stop(1)], **FIT)
    assert ckpt.load_checkpoint(run)["meta"]["epoch"] == 1
    torch.manual_seed(0)
    reference = lw.RBM(6, 4, persistent=True, n_chains=4)
    lw.fit(reference, X, epochs=2, checkpoint_dir=tmp_path / "straight", **FIT)
    return run, _state(model), _state(reference)


@pytest.mark.parametrize("when, left", [("writing", [".last.tmp-"]), ("swapping", [".last.old", ".last.tmp-"])])
def test_resume_after_a_kill_removes_the_leftovers_and_continues_exactly(trained, when, left):
    run, at_1, straight = trained
    _kill_mid_save(run, when)
    assert [n[:len(prefix)] for n, prefix in zip(_leftovers(run), left)] == left  # what the kill left
    assert len(_leftovers(run)) == len(left)
    assert _same(_state(lw.load_model(run)), at_1)  # the previous checkpoint is still the one loaded
    model = lw.RBM(6, 4, persistent=True, n_chains=4)
    lw.fit(model, X, epochs=2, checkpoint_dir=run, resume=True, callbacks=[_Stop(0)], **FIT)  # nothing saved
    assert _leftovers(run) == [] and (run / "last" / ckpt.META_FILE).is_file()
    assert _same(_state(model), at_1)
    lw.fit(model, X, epochs=2, checkpoint_dir=run, resume=True, **FIT)
    assert _same(_state(model), straight)  # the checkpoint was intact: resume is exact
    assert _leftovers(run) == []


def _leave_as_a_kill_would(folder: Path, swapped: bool) -> None:
    """A half-written ``.last.tmp-*`` (killed while writing) and, when ``swapped``, ``last/`` moved
    to ``.last.old`` with the new one not yet in (killed between the renames); else a stale ``.old``."""
    tmp = folder / ".last.tmp-k9"
    tmp.mkdir()
    (tmp / ckpt.MODEL_FILE).write_bytes(b"\0" * 10)
    if swapped:
        os.replace(folder / "last", folder / ".last.old")
    else:
        (folder / ".last.old").mkdir()
        (folder / ".last.old" / ckpt.META_FILE).write_text("{}")


@pytest.mark.parametrize("swapped", [False, True], ids=["killed_writing", "killed_swapping"])
def test_the_next_save_removes_the_leftovers(tmp_path, swapped):
    torch.manual_seed(0)
    first, second = lw.RBM(6, 4), lw.RBM(6, 4)
    ckpt.save_checkpoint(tmp_path / "last", first, epoch=1)
    _leave_as_a_kill_would(tmp_path, swapped)
    assert _same(_state(lw.load_model(tmp_path / "last")), _state(first))  # intact meanwhile
    ckpt.save_checkpoint(tmp_path / "last", second, epoch=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert _same(_state(lw.load_model(tmp_path)), _state(second))
    assert ckpt.load_checkpoint(tmp_path)["meta"]["epoch"] == 2


def test_remove_leftovers_keeps_a_complete_checkpoint_and_restores_a_swapped_one(tmp_path):
    model = lw.RBM(6, 4)
    ckpt.save_checkpoint(tmp_path / "last", model, epoch=0)
    (tmp_path / ".last.tmp-x1").mkdir()
    (tmp_path / ".last.tmp-x1" / ckpt.MODEL_FILE).write_bytes(b"\0" * 10)
    (tmp_path / ".last.tmp-x2").write_bytes(b"")
    (tmp_path / ".other.tmp-x3").mkdir()  # another checkpoint's temporary is not ours to remove
    os.replace(tmp_path / "last", tmp_path / ".last.old")  # killed between the two renames
    removed = ckpt.remove_leftovers(tmp_path / "last")
    assert sorted(p.name for p in removed) == [".last.tmp-x1", ".last.tmp-x2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-x3", "last"]
    assert _same(_state(lw.load_model(tmp_path)), _state(model))
    ckpt.save_checkpoint(tmp_path / "old-and-new", model)
    (tmp_path / ".old-and-new.old").mkdir()  # a stale .old beside a complete checkpoint is removed
    assert [p.name for p in ckpt.remove_leftovers(tmp_path / "old-and-new")] == [".old-and-new.old"]
    # a damaged folder beside a complete .old: the only complete checkpoint is kept, the next save replaces both
    os.replace(tmp_path / "old-and-new", tmp_path / ".old-and-new.old")
    (tmp_path / "old-and-new").mkdir()
    assert ckpt.remove_leftovers(tmp_path / "old-and-new") == []
    assert (tmp_path / ".old-and-new.old" / ckpt.META_FILE).is_file()
    ckpt.save_checkpoint(tmp_path / "old-and-new", model, epoch=4)
    assert ckpt.load_checkpoint(tmp_path / "old-and-new")["meta"]["epoch"] == 4
    assert not (tmp_path / ".old-and-new.old").exists()


def test_saves_are_fsynced_before_the_swap(tmp_path, monkeypatch):
    """Every file, then the temporary folder, is fsynced before ``os.replace``; the parent after it."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name the fsynced files")
    ckpt.save_checkpoint(tmp_path / "last", lw.RBM(6, 4))
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    ckpt.save_checkpoint(tmp_path / "last", lw.RBM(6, 4))
    names = [(kind, Path(p).name) for kind, p in events]
    first_replace = names.index(("replace", ".last.old"))
    synced = {n for kind, n in names[:first_replace] if kind == "fsync"}
    assert {ckpt.MODEL_FILE, ckpt.TRAINER_FILE, ckpt.META_FILE} <= synced
    assert any(n.startswith(".last.tmp-") for n in synced)  # the new folder itself
    assert names[-2:] == [("replace", "last"), ("fsync", tmp_path.name)]  # the swap, then the parent
