"""Checkpoints: safetensors for every tensor, a small JSON for everything else; no pickle.

A checkpoint is a folder::

    last/
      model.safetensors     the model's state_dict (parameters and buffers, e.g. PCD chains)
      trainer.safetensors   optimiser state tensors (momentum, Adam moments) and RNG states
      checkpoint.json       format, model class and constructor arguments, epoch, history,
                            optimiser hyper-parameters, the fit() settings

It is rebuilt by ``ModelClass(**config)`` then ``load_state_dict`` (nanoGPT's recipe), so
loading never unpickles arbitrary objects. Writes are atomic: the folder is written under a
temporary name and swapped in with ``os.replace``, so a crash mid-write leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

FORMAT = "layerwise-checkpoint/1"
MODEL_FILE = "model.safetensors"
TRAINER_FILE = "trainer.safetensors"
META_FILE = "checkpoint.json"

__all__ = ["save_checkpoint", "load_checkpoint", "load_model", "CheckpointError", "model_spec"]


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit the model it is loaded into."""


def model_spec(model: torch.nn.Module) -> dict[str, Any]:
    """Return ``{"class": "module.Class", "config": {...}}`` for a model with a ``config()``."""
    cls = type(model)
    config = model.config() if hasattr(model, "config") else None
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "config": config}


def _tensors_for_saving(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses shared storage and non-contiguous tensors: store independent copies.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def _optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in sd["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    epoch: int = 0,
    history: list[dict] | None = None,
    fit_config: dict | None = None,
    rng: bool = True,
) -> Path:
    """Write a checkpoint folder atomically.

    Parameters
    ----------
    path : path-like
        The checkpoint folder (created; an existing one is replaced only once the new one
        is complete).
    model : nn.Module
        Saved through ``state_dict()``; ``model.config()`` (when present) is stored so
        that :func:`load_model` can rebuild it.
    optimizer : torch.optim.Optimizer, optional
        Its state (momentum buffers, Adam moments, step counts) for an exact resume.
    epoch : int
        Number of finished epochs.
    history : list of dict, optional
        Per-epoch records so far.
    fit_config : dict, optional
        The settings of the run, checked on resume.
    rng : bool
        Also store the torch (and CUDA) random number generator states.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "model": model_spec(model),
        "epoch": int(epoch),
        "history": list(history or []),
        "fit_config": fit_config or {},
    }
    if optimizer is not None:
        opt_tensors, meta["optimizer"] = _optimizer_state(optimizer)
        tensors.update(opt_tensors)
    if rng:
        tensors["rng.cpu"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = s
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        save_file(_tensors_for_saving(model.state_dict()), str(tmp / MODEL_FILE))
        save_file(_tensors_for_saving(tensors), str(tmp / TRAINER_FILE))
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=_json_default))
        old = path.parent / f".{path.name}.old"
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _json_default(obj):
    if isinstance(obj, torch.Tensor):
        return obj.item() if obj.numel() == 1 else obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint's JSON")


def _resolve(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir() and not (path / META_FILE).exists() and (path / "last" / META_FILE).exists():
        path = path / "last"  # a run folder: take its last checkpoint
    if not path.exists():
        old = path.parent / f".{path.name}.old"
        if (old / META_FILE).exists():  # a crash between the two renames
            return old
        raise CheckpointError(f"No checkpoint at '{path}': the folder does not exist.")
    for name in (META_FILE, MODEL_FILE):
        if not (path / name).is_file():
            raise CheckpointError(
                f"'{path}' is not a complete layerwise checkpoint: '{name}' is missing."
            )
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint folder (or a run folder's ``last/``) without building the model.

    Returns
    -------
    dict
        ``meta`` (the JSON), ``model_state`` and ``trainer_state`` (dicts of tensors).

    Raises
    ------
    CheckpointError
        When a file is missing, the JSON or a safetensors file is corrupt, or the format
        is not one this version reads.
    """
    path = _resolve(path)
    try:
        meta = json.loads((path / META_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"'{path / META_FILE}' is corrupt: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"'{path / META_FILE}' has format {meta.get('format')!r}; expected {FORMAT!r}."
        )
    out = {"meta": meta, "path": path}
    for key, name in (("model_state", MODEL_FILE), ("trainer_state", TRAINER_FILE)):
        file = path / name
        if not file.exists():
            out[key] = {}
            continue
        try:
            out[key] = load_file(str(file), device=str(map_location))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"'{file}' is corrupt or unreadable: {exc}") from exc
    return out


def load_state_into(model: torch.nn.Module, state: dict[str, torch.Tensor], source="checkpoint") -> None:
    """``model.load_state_dict(state)`` with an error that lists every missing, extra or misshapen entry."""
    own = model.state_dict()
    problems = []
    for k in own.keys() - state.keys():
        problems.append(f"missing '{k}'")
    for k in state.keys() - own.keys():
        problems.append(f"unexpected '{k}'")
    for k in own.keys() & state.keys():
        if tuple(own[k].shape) != tuple(state[k].shape):
            problems.append(f"'{k}' has shape {tuple(state[k].shape)} in the {source}, "
                            f"but {tuple(own[k].shape)} in the model")
    if problems:
        raise CheckpointError(
            f"The {source} does not fit {type(model).__name__}: " + "; ".join(sorted(problems)) + "."
        )
    model.load_state_dict(state)


def restore_trainer(optimizer, checkpoint: dict, rng: bool = True) -> None:
    """Restore optimiser state and RNG states from a :func:`load_checkpoint` result."""
    tensors = checkpoint["trainer_state"]
    if optimizer is not None and "optimizer" in checkpoint["meta"]:
        _restore_optimizer(optimizer, tensors, checkpoint["meta"]["optimizer"])
    if rng and "rng.cpu" in tensors:
        torch.set_rng_state(tensors["rng.cpu"].to("cpu", torch.uint8))
        cuda_states = [tensors[k].to("cpu", torch.uint8) for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])


#: Model classes that moved since checkpoints named them: old dotted name -> new one.
MOVED_CLASSES = {
    "layerwise.pretraining.Classifier": "layerwise.models.classifier.Classifier",
    "layerwise.models.cnn.CNNClassifier": "layerwise.models.classifier.CNNClassifier",
    "layerwise.models.dbm._ScaledRBM": "layerwise.models.dbm_parts.ScaledRBM",
}


def _import_class(dotted: str):
    dotted = MOVED_CLASSES.get(dotted, dotted)
    if not dotted.startswith("layerwise."):
        raise CheckpointError(
            f"Refusing to import model class {dotted!r} from a checkpoint: only layerwise's own "
            "models are rebuilt automatically. Build the model yourself and pass it as model=."
        )
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"Model class {dotted!r} named in the checkpoint does not exist.") from exc


def load_model(
    path: str | os.PathLike,
    model: torch.nn.Module | None = None,
    map_location: str | torch.device = "cpu",
) -> torch.nn.Module:
    """Rebuild a model from a checkpoint (``Class(**config)`` + weights), or fill ``model``.

    Parameters
    ----------
    path : path-like
        A checkpoint folder, or a run folder holding ``last/``.
    model : nn.Module, optional
        Load into this model instead of building one; shapes must match.
    map_location : str or torch.device
        Where the tensors go.
    """
    ckpt = load_checkpoint(path, map_location)
    if model is None:
        spec = ckpt["meta"]["model"]
        if spec.get("config") is None:
            raise CheckpointError(
                f"The checkpoint's model {spec.get('class')!r} stored no config(); pass model=."
            )
        model = _import_class(spec["class"])(**spec["config"])
    load_state_into(model, ckpt["model_state"])
    return model.to(map_location)
