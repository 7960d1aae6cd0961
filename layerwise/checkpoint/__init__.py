"""Checkpoints: safetensors for every tensor, a small JSON for everything else; no pickle.

A checkpoint is a folder::

    last/
      model.safetensors     the model's state_dict (parameters and buffers, e.g. PCD chains)
      trainer.safetensors   optimiser state tensors (momentum, Adam moments) and RNG states
      checkpoint.json       format, model class and constructor arguments, epoch, history,
                            optimiser hyper-parameters, the fit() settings

It is rebuilt by ``ModelClass(**config)`` then ``load_state_dict`` (nanoGPT's recipe), so
loading never unpickles arbitrary objects. A checkpoint may come from someone else, so nothing in
it is trusted: the class must be one of :data:`~layerwise.checkpoint.registry.MODEL_CLASSES` and
its arguments fit the constructor (:mod:`.registry`); the model is first built on the ``meta``
device (nothing allocated) and its state compared, tensor by tensor, with the file's header;
weights must be finite; counters are range-checked (:mod:`.checks`).

Writes are atomic and durable: the folder is written under a temporary name, its files and the
folder are fsynced, and it is swapped in with ``os.replace`` (the parent folder fsynced after), so
a crash mid-write leaves the previous checkpoint intact. The temporaries a killed save leaves
behind are removed by the next save, or by :func:`remove_leftovers` (``fit(resume=True)``).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .._files import share_like_umask
from .checks import (CheckpointError, check_finite_state, check_meta, compare_state, read_header, read_meta,
                     state_bytes)
from .registry import MODEL_CLASSES, MOVED_CLASSES, accepts, check_config, model_class

FORMAT = "layerwise-checkpoint/1"
MODEL_FILE = "model.safetensors"
TRAINER_FILE = "trainer.safetensors"
META_FILE = "checkpoint.json"
#: Memory a rebuilt model may hold beyond twice its checkpoint's tensors (non-persistent buffers).
ALLOCATION_SLACK = 64 * 2**20

__all__ = ["save_checkpoint", "json_value", "load_checkpoint", "load_model", "CheckpointError", "model_spec",
           "remove_leftovers", "MODEL_CLASSES", "MOVED_CLASSES"]


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


def _restore_optimizer(optimizer, tensors: dict[str, torch.Tensor], meta: Any, source: str) -> None:
    groups = meta.get("param_groups") if isinstance(meta, dict) else None
    scalars = meta.get("scalars", {}) if isinstance(meta, dict) else None
    if not (isinstance(groups, list) and all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                             and all(_is_count(p) for p in g["params"]) for g in groups)
            and isinstance(scalars, dict) and all(k.isdigit() and isinstance(v, dict) for k, v in scalars.items())):
        raise CheckpointError(f"The {source}'s optimiser state is malformed: 'param_groups' must be a list of "
                              "objects with integer 'params', 'scalars' an object keyed by parameter index.")
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, values in scalars.items():
        if "step" in values and not _is_count(values["step"]):
            raise CheckpointError(f"The {source}'s optimiser 'step' of parameter {pid} must be an int in the "
                                  f"range [0, inf); got {values['step']!r}.")
        state.setdefault(int(pid), {}).update(values)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"The {source}'s optimiser state does not fit {type(optimizer).__name__}: "
                              f"{type(exc).__name__} {exc}") from exc


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk (folders: POSIX only)."""
    if path.is_dir() and os.name == "nt":  # pragma: no cover - Windows cannot open a folder
        return
    flags = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if path.is_dir() else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _complete(path: Path) -> bool:
    return (path / META_FILE).is_file() and (path / MODEL_FILE).is_file()


def remove_leftovers(path: str | os.PathLike) -> list[Path]:
    """Clean up after a save that was killed.

    A save writes ``.<name>.tmp-*`` beside ``path`` and moves the previous checkpoint to
    ``.<name>.old`` for the instant of the swap; a killed save can leave either behind. The
    temporaries are removed. ``.<name>.old`` is renamed back to ``path`` when ``path`` is missing
    (killed between the two renames), removed when ``path`` is complete or ``.old`` is not, and
    kept when it is the only complete checkpoint. Call it only while no other process saves to ``path``.

    Parameters
    ----------
    path : path-like
        The checkpoint folder (``run_dir / "last"``).

    Returns
    -------
    list of Path
        What was removed.
    """
    path = Path(path)
    removed = []
    for tmp in sorted(path.parent.glob(f".{path.name}.tmp-*")):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed.append(tmp)
    old = path.parent / f".{path.name}.old"
    if old.exists():
        if not path.exists() and _complete(old):
            os.replace(old, path)
            _fsync(path.parent)
        elif _complete(path) or not _complete(old):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    if removed and path.parent.exists():
        _fsync(path.parent)
    return removed


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
        is complete and on disk). Temporaries of an earlier, killed save are removed first.
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
    remove_leftovers(path)
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
        share_like_umask(tmp, folder=True)  # mkdtemp's 0700 would hide the checkpoint from colleagues
        save_file(_tensors_for_saving(model.state_dict()), str(tmp / MODEL_FILE))
        save_file(_tensors_for_saving(tensors), str(tmp / TRAINER_FILE))
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=json_value))
        for name in (MODEL_FILE, TRAINER_FILE, META_FILE):
            share_like_umask(tmp / name)  # safetensors writes 0600
            _fsync(tmp / name)
        _fsync(tmp)
        old = path.parent / f".{path.name}.old"
        shutil.rmtree(old, ignore_errors=True)  # kept by remove_leftovers only beside a damaged path
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def json_value(obj):
    """A checkpoint's JSON form of ``obj`` (``json.dumps``'s ``default``): a tensor as a number or a
    list, a path as a string, a numpy scalar as a number; anything else raises TypeError."""
    if isinstance(obj, torch.Tensor):
        return obj.item() if obj.numel() == 1 else obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint's JSON")


def _resolve(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir() and not (path / META_FILE).exists() and \
            any((path / name / META_FILE).exists() for name in ("last", ".last.old")):
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


def _read_meta(path: Path) -> dict:
    return check_meta(read_meta(path / META_FILE), path / META_FILE, FORMAT)


def _read_tensors(file: Path, map_location) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"'{file}' is corrupt or unreadable: {exc}") from exc


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint folder (or a run folder's ``last/``) without building the model.

    Returns
    -------
    dict
        ``meta`` (the JSON), ``model_state`` and ``trainer_state`` (dicts of tensors).

    Raises
    ------
    CheckpointError
        When a file is missing, the JSON or a safetensors file is corrupt, the format is not one
        this version reads, or a counter is out of range (``epoch`` below 0, beyond the run's
        ``fit_config["epochs"]`` or not its history's last epoch).
    """
    path = _resolve(path)
    meta = _read_meta(path)
    out = {"meta": meta, "path": path}
    for key, name in (("model_state", MODEL_FILE), ("trainer_state", TRAINER_FILE)):
        file = path / name
        if file.exists():
            read_header(file)  # sizes checked against the file before anything is read
            out[key] = _read_tensors(file, map_location)
        else:
            out[key] = {}
    return out


def _signature(state: dict[str, torch.Tensor]) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    return {k: (tuple(v.shape), v.dtype) for k, v in state.items()}


def load_state_into(model: torch.nn.Module, state: dict[str, torch.Tensor], source="checkpoint", *,
                    allow_non_finite: bool = False) -> None:
    """``model.load_state_dict(state)`` once every entry is checked.

    Raises
    ------
    CheckpointError
        Listing every missing, extra, misshapen or mistyped entry; or naming the tensors that
        hold NaN or inf (unless ``allow_non_finite``).
    """
    compare_state(_signature(model.state_dict()), _signature(state), type(model).__name__, source)
    if not allow_non_finite:
        check_finite_state(state, source)
    model.load_state_dict(state)


def restore_trainer(optimizer, checkpoint: dict, rng: bool = True) -> None:
    """Restore optimiser state and RNG states from a :func:`load_checkpoint` result.

    The trainer file may hold only ``optimizer.<index>.<name>`` tensors (finite; a ``step`` a
    count), ``rng.cpu`` (torch's CPU generator state) and ``rng.cuda.<index>``.
    """
    tensors = checkpoint["trainer_state"]
    source = f"trainer state of '{checkpoint.get('path', 'the checkpoint')}'"
    _check_trainer_tensors(tensors, source)
    if optimizer is not None and "optimizer" in checkpoint["meta"]:
        _restore_optimizer(optimizer, tensors, checkpoint["meta"]["optimizer"], source)
    if rng and "rng.cpu" in tensors:
        torch.set_rng_state(tensors["rng.cpu"].to("cpu", torch.uint8))
        cuda_states = [tensors[k].to("cpu", torch.uint8) for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])


def _check_trainer_tensors(tensors: dict[str, torch.Tensor], source: str) -> None:
    cpu = torch.get_rng_state()
    for key, t in tensors.items():
        parts = key.split(".")
        if key == "rng.cpu":
            ok = t.dtype == torch.uint8 and t.shape == cpu.shape
        elif parts[:2] == ["rng", "cuda"]:
            ok = len(parts) == 3 and parts[2].isdigit() and t.dtype == torch.uint8 and t.dim() == 1
        elif parts[0] == "optimizer" and len(parts) >= 3 and parts[1].isdigit():
            check_finite_state({key: t}, source, hint="")
            ok = parts[2] != "step" or (t.numel() == 1 and float(t) >= 0 and float(t) == int(float(t)))
        else:
            ok = False
        if not ok:
            raise CheckpointError(f"The {source} holds an unexpected tensor '{key}' (dtype {t.dtype}, shape "
                                  f"{tuple(t.shape)}): expected optimizer.<index>.<name> (a 'step' a count), "
                                  f"rng.cpu (uint8, shape {tuple(cpu.shape)}) or rng.cuda.<index>.")


def _rebuild(spec: dict, header: dict, file: Path) -> torch.nn.Module:
    """``Class(**config)`` for a registered class with checked arguments, once a ``meta``-device build
    (nothing allocated) shows that its state is what the file holds."""
    if spec.get("config") is None:
        raise CheckpointError(f"The checkpoint's model {spec.get('class')!r} stored no config(); pass model=.")
    cls = model_class(spec["class"])
    config = check_config(cls, spec["config"], max_items=2 * max(len(header), 8))
    floats = {dtype for _, dtype in header.values() if dtype.is_floating_point}
    if len(floats) == 1 and floats != {torch.get_default_dtype()} and accepts(cls, "dtype"):
        config["dtype"] = floats.pop()  # a float64 model comes back in float64
    try:
        with torch.device("meta"):
            probe = cls(**config)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"The checkpoint's config for {cls.__name__} is refused by its constructor: "
                              f"{exc}") from exc
    compare_state(_signature(probe.state_dict()), header, cls.__name__, "checkpoint")
    need = state_bytes(itertools.chain(probe.parameters(), probe.buffers()))
    held = state_bytes(torch.empty(shape, dtype=dtype, device="meta") for shape, dtype in header.values())
    if need > 2 * held + ALLOCATION_SLACK:
        raise CheckpointError(f"The checkpoint's config for {cls.__name__} builds a model of {need} bytes, far "
                              f"more than the {held} bytes of weights in '{file}'; refusing to allocate it.")
    return cls(**config)


def load_model(
    path: str | os.PathLike,
    model: torch.nn.Module | None = None,
    map_location: str | torch.device = "cpu",
    *,
    allow_non_finite: bool = False,
) -> torch.nn.Module:
    """Rebuild a model from a checkpoint (``Class(**config)`` + weights), or fill ``model``.

    Nothing the checkpoint names is trusted: the class must be registered
    (:data:`MODEL_CLASSES`), its arguments must fit the constructor, and every tensor of
    ``model.safetensors`` must match the model's state by name, shape and dtype, all before
    the model or any weight is allocated.

    Parameters
    ----------
    path : path-like
        A checkpoint folder, or a run folder holding ``last/``.
    model : nn.Module, optional
        Load into this model instead of building one; names, shapes and dtypes must match.
    map_location : str or torch.device
        Where the tensors go.
    allow_non_finite : bool
        Load weights holding NaN or inf (refused by default).

    Raises
    ------
    CheckpointError
        When the checkpoint is missing or corrupt, names an unregistered class or arguments its
        constructor does not take, does not fit the model, or holds non-finite weights.
    """
    path = _resolve(path)
    meta = _read_meta(path)
    header = read_header(path / MODEL_FILE)
    if model is None:
        model = _rebuild(meta["model"], header, path / MODEL_FILE)
    else:
        compare_state(_signature(model.state_dict()), header, type(model).__name__, "checkpoint")
    load_state_into(model, _read_tensors(path / MODEL_FILE, map_location), allow_non_finite=allow_non_finite)
    return model.to(map_location)
