"""What :func:`layerwise.fit` checks before it resumes from a checkpoint.

``fit`` stores its settings in every checkpoint (``fit_config`` of ``checkpoint.json``): the
model's class and constructor arguments at the start of the call, the data's shape, ``epochs``,
``batch_size``, ``seed``, ``shuffle``, the number of processes, the seeding mode
(``initial_epoch`` given or not), the optimiser and its settings (``lr``, ``momentum``,
``weight_decay``, or an optimiser instance's param-group settings) and ``lr_schedule``. A resume
compares them with the new call's:

- ``resume=True`` refuses any change with :class:`ResumeMismatchError`, naming every changed
  key with its old and new value, and refuses a checkpoint without its trainer state
  (``trainer.safetensors``: optimiser state and random number generator states), so that a
  resumed run ends with the weights of an uninterrupted run, bit for bit.
- ``epochs`` may grow (train further) or shrink, down to the epochs the checkpoint has
  finished, unless ``lr_schedule`` is ``"linear"`` or ``"cosine"``, whose factors depend on the
  run's length; the longer run then equals an uninterrupted run of the new length.
- ``resume="force"`` continues anyway, with an :class:`InexactResumeWarning` that lists what
  differs: the weights, buffers, epoch, history and random states come from the checkpoint,
  every setting from the new call; the optimiser state (momentum, Adam moments) is kept when the
  optimiser is the same kind, and dropped (a fresh optimiser) when it changed. The result is that
  of no uninterrupted run.

Not compared: the data's values (only its shape), ``device``, ``validation``, callbacks (a
schedule that depends on the run's length makes a longer run inexact), and what a callable
``lr_schedule`` computes (only that it is a callable).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import torch

from . import checkpoint as ckpt

__all__ = ["ResumeMismatchError", "InexactResumeWarning", "RESUME_MODES", "check_resume_mode",
           "as_json", "settings_changes", "check_resume", "restore_trainer_state"]

RESUME_MODES = (False, True, "force")
#: lr_schedule values whose factor at an epoch depends on the run's length.
LENGTH_DEPENDENT_SCHEDULES = ("linear", "cosine")


class ResumeMismatchError(ckpt.CheckpointError):
    """A resume would not be exact: the settings changed, or the trainer state is missing."""


class InexactResumeWarning(UserWarning):
    """``resume="force"`` continued a run whose result will differ from an uninterrupted one."""


def check_resume_mode(resume: Any) -> bool | str:
    """``resume`` must be False, True or ``"force"``."""
    if not any(resume is m or (isinstance(resume, str) and resume == m) for m in RESUME_MODES):
        raise (ValueError if isinstance(resume, str) else TypeError)(
            f"The 'resume' parameter must be one of {{False, True, 'force'}}. Got {resume!r} instead.")
    return resume


def _plain(obj: Any) -> Any:
    """The checkpoint's JSON form (:func:`layerwise.checkpoint.json_value`), else the repr."""
    try:
        return ckpt.json_value(obj)
    except TypeError:
        return repr(obj)


def as_json(value: Any) -> Any:
    """``value`` as it reads back from a checkpoint's JSON (tuples become lists, tensors numbers)."""
    return json.loads(json.dumps(value, default=_plain))


def _flat(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {f"{prefix}.len": len(value)}
        for i, v in enumerate(value):
            out.update(_flat(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def settings_changes(saved: dict, new: dict, done: int) -> list[str]:
    """The changes that make a resume inexact, one ``"key: old -> new"`` string each.

    Only keys present in both are compared (an older checkpoint stored fewer). ``done`` is the
    number of epochs the checkpoint has finished.
    """
    old_flat, new_flat = _flat(saved, ""), _flat(new, "")
    changes = [f"{k}: {old_flat[k]!r} -> {new_flat[k]!r}" for k in old_flat
               if k in new_flat and k != "epochs" and old_flat[k] != new_flat[k]]
    if "epochs" in saved and "epochs" in new:
        epochs, schedule = new["epochs"], new.get("lr_schedule")
        if epochs < done:
            changes.append(f"epochs: {saved['epochs']!r} -> {epochs!r} (fewer than the {done} the checkpoint "
                           "has finished)")
        elif epochs != saved["epochs"] and schedule in LENGTH_DEPENDENT_SCHEDULES:
            changes.append(f"epochs: {saved['epochs']!r} -> {epochs!r} (lr_schedule={schedule!r} depends on "
                           "the run's length)")
    return changes


def check_resume(checkpoint: dict, new: dict, mode: bool | str) -> bool:
    """Compare a :func:`layerwise.checkpoint.load_checkpoint` result with the new settings.

    Returns True when the resume is exact. Raises :class:`ResumeMismatchError` for a change or a
    missing trainer state under ``mode=True``; warns (:class:`InexactResumeWarning`) and returns
    False under ``mode="force"``.
    """
    meta = checkpoint["meta"]
    where = checkpoint.get("path", "the checkpoint")
    changes = settings_changes(meta.get("fit_config") or {}, new, int(meta.get("epoch", 0)))
    problems = []
    if changes:
        problems.append("the fit settings differ from the checkpoint's: " + "; ".join(changes))
    if "rng.cpu" not in checkpoint["trainer_state"]:
        problems.append(f"it has no {ckpt.TRAINER_FILE} (optimiser and random number generator states), "
                        "so neither can be restored")
    if not problems:
        return True
    text = f"Resuming from '{where}' would not be exact: " + "; and ".join(problems) + "."
    if mode != "force":
        raise ResumeMismatchError(
            f"{text} Call fit with the saved settings, use another checkpoint_dir, or pass resume='force' "
            "to continue from the checkpoint's weights with the new settings (not exact).")
    warnings.warn(f"{text} Continuing (resume='force'): the result will differ from an uninterrupted run.",
                  InexactResumeWarning, stacklevel=3)
    return False


def restore_trainer_state(optimizer: torch.optim.Optimizer | None, checkpoint: dict, exact: bool) -> None:
    """Load the optimiser and RNG states of ``checkpoint``.

    Exact: everything as saved (an optimiser state that does not fit is a CheckpointError).
    Not exact (``resume="force"``): the optimiser state only where it fits, and the param
    groups' settings (lr, momentum, ...) of the new call kept over the saved ones.
    """
    if exact:
        try:
            ckpt.restore_trainer(optimizer, checkpoint)
        except (ValueError, KeyError) as exc:
            raise ckpt.CheckpointError(
                f"The optimiser state in '{checkpoint.get('path')}' does not fit "
                f"{type(optimizer).__name__}: {exc!r}.") from exc
        return
    fresh = [{k: v for k, v in g.items() if k not in ("params", "initial_lr")}
             for g in optimizer.param_groups] if optimizer is not None else []
    saved_kind = (checkpoint["meta"].get("fit_config") or {}).get("optimizer")
    new_kind = type(optimizer).__name__.lower() if optimizer is not None else None
    same = optimizer is not None and saved_kind is not None and _same_kind(saved_kind, optimizer)
    ckpt.restore_trainer(None, checkpoint)  # the random number generator states
    if optimizer is None or "optimizer" not in checkpoint["meta"]:
        return
    try:
        if not same:
            raise ValueError(f"the optimiser changed ({saved_kind!r} -> {new_kind!r})")
        if "rng.cpu" not in checkpoint["trainer_state"]:
            raise ValueError(f"{ckpt.TRAINER_FILE} is missing")
        ckpt.restore_trainer(optimizer, checkpoint, rng=False)
    except (ValueError, KeyError) as exc:
        warnings.warn(f"The optimiser state of the checkpoint is not restored ({exc}); the optimiser "
                      "starts afresh.", InexactResumeWarning, stacklevel=3)
        optimizer.state.clear()
    for group, settings in zip(optimizer.param_groups, fresh):
        group.update(settings)


def _same_kind(saved_kind: str, optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``fit_config['optimizer']`` (a name like ``"adam"`` or a class name) names ``optimizer``'s class."""
    return saved_kind.lower() == type(optimizer).__name__.lower()
