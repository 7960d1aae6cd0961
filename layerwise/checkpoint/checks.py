"""What a checkpoint's files must satisfy before anything in them is used.

A checkpoint may come from someone else, so nothing it says is trusted: the JSON is read with a
size limit and its counters are range-checked (:func:`check_meta`); the tensors of a safetensors
file are listed from its header, before any is read, and compared by name, shape and dtype with
the state of the model they are loaded into (:func:`read_header`, :func:`compare_state`); their
values must be finite (:func:`check_finite_state`).
"""

from __future__ import annotations

import json
import math
import struct
from numbers import Integral
from pathlib import Path
from typing import Any, Mapping

import torch

__all__ = ["CheckpointError", "MAX_META_BYTES", "MAX_HEADER_BYTES", "DTYPES", "read_meta", "check_meta",
           "read_header", "compare_state", "check_finite_state", "state_bytes"]

#: Largest ``checkpoint.json`` read (a history of 100,000 epochs takes about 20 MB).
MAX_META_BYTES = 64 * 2**20
#: Largest safetensors header read (safetensors' own limit).
MAX_HEADER_BYTES = 100 * 2**20
#: safetensors dtype names -> torch dtypes (the ones layerwise writes, and torch's other plain ones).
DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit the model it is loaded into."""


def read_meta(file: Path) -> Any:
    """The parsed ``checkpoint.json``, refused when it is larger than :data:`MAX_META_BYTES` or not JSON."""
    size = file.stat().st_size
    if size > MAX_META_BYTES:
        raise CheckpointError(f"'{file}' is {size} bytes; a checkpoint's JSON may have at most {MAX_META_BYTES}.")
    try:
        return json.loads(file.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"'{file}' is corrupt: {exc}") from exc


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_meta(meta: Any, file: Path, fmt: str) -> dict:
    """Check the structure and the counters of a checkpoint's JSON; return it.

    ``epoch`` must be an int in ``[0, fit_config["epochs"]]`` (when the run's epochs are known),
    at least the number of history records, and equal to the last record's ``epoch``.
    """
    if not isinstance(meta, dict):
        raise CheckpointError(f"'{file}' must hold a JSON object; got {type(meta).__name__}.")
    if meta.get("format") != fmt:
        raise CheckpointError(f"'{file}' has format {meta.get('format')!r}; expected {fmt!r}.")
    spec = meta.get("model")
    if not (isinstance(spec, dict) and isinstance(spec.get("class"), str)
            and (spec.get("config") is None or isinstance(spec.get("config"), dict))):
        raise CheckpointError(f"'{file}': 'model' must be {{\"class\": str, \"config\": object or null}}; "
                              f"got {spec!r}.")
    epoch = meta.get("epoch", 0)
    if not _is_int(epoch) or epoch < 0:
        raise CheckpointError(f"'{file}': 'epoch' must be an int in the range [0, inf); got {epoch!r}.")
    history = meta.get("history", [])
    if not (isinstance(history, list) and all(isinstance(r, dict) for r in history)):
        raise CheckpointError(f"'{file}': 'history' must be a list of objects (one per epoch).")
    fit_config = meta.get("fit_config", {})
    if not isinstance(fit_config, dict):
        raise CheckpointError(f"'{file}': 'fit_config' must be an object; got {type(fit_config).__name__}.")
    epochs = fit_config.get("epochs")
    if epochs is not None and not (_is_int(epochs) and epochs >= 0):
        raise CheckpointError(f"'{file}': 'fit_config.epochs' must be an int in the range [0, inf); got {epochs!r}.")
    if epochs is not None and epoch > epochs:
        raise CheckpointError(f"'{file}': 'epoch' is {epoch}, beyond the {epochs} epochs of its run (fit_config).")
    if len(history) > epoch:
        raise CheckpointError(f"'{file}': 'epoch' is {epoch}, but the history has {len(history)} epochs.")
    last = history[-1].get("epoch") if history else None
    if last is not None and last != epoch:
        raise CheckpointError(f"'{file}': 'epoch' is {epoch}, but the history's last record is epoch {last!r}.")
    return meta


def read_header(file: Path) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """``{name: (shape, dtype)}`` of a safetensors file, from its header alone (no tensor is read).

    The header's size, every dtype, shape and byte range are checked against the file's size, so
    the sizes returned are ones the file really holds.
    """
    size = file.stat().st_size
    with open(file, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointError(f"'{file}' is corrupt or unreadable: {size} bytes, too short for a safetensors file.")
        (n,) = struct.unpack("<Q", head)
        if n > min(MAX_HEADER_BYTES, size - 8):
            raise CheckpointError(f"'{file}' is corrupt or unreadable: its header claims {n} bytes "
                                  f"(the file has {size}, the limit is {MAX_HEADER_BYTES}).")
        raw = fh.read(n)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"'{file}' is corrupt or unreadable: its header is not JSON ({exc}).") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"'{file}' is corrupt or unreadable: its header is not a JSON object.")
    data = size - 8 - n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = DTYPES[entry["dtype"]]
            shape = tuple(entry["shape"])
            start, end = entry["data_offsets"]
            ok = all(_is_int(d) and d >= 0 for d in shape) and _is_int(start) and _is_int(end) \
                and 0 <= start <= end <= data and end - start == math.prod(shape) * dtype.itemsize
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise CheckpointError(f"'{file}' is corrupt or unreadable: the header entry of tensor '{name}' "
                                  f"({entry!r}) is not a valid dtype, shape and byte range of this file.")
        out[name] = (shape, dtype)
    return out


def compare_state(own: Mapping[str, tuple[tuple[int, ...], torch.dtype]],
                  found: Mapping[str, tuple[tuple[int, ...], torch.dtype]], model: str, source: str) -> None:
    """Raise a CheckpointError listing every missing, unexpected, misshapen or mistyped tensor.

    ``own`` and ``found`` map names to ``(shape, dtype)``: the model's state and the file's.
    """
    problems = [f"missing '{k}'" for k in own.keys() - found.keys()]
    problems += [f"unexpected '{k}'" for k in found.keys() - own.keys()]
    for k in own.keys() & found.keys():
        (shape, dtype), (their_shape, their_dtype) = own[k], found[k]
        if tuple(shape) != tuple(their_shape):
            problems.append(f"'{k}' has shape {tuple(their_shape)} in the {source}, but {tuple(shape)} in the model")
        elif dtype != their_dtype:
            problems.append(f"'{k}' has dtype {their_dtype} in the {source}, but {dtype} in the model")
    if problems:
        raise CheckpointError(f"The {source} does not fit {model}: " + "; ".join(sorted(problems)) + ".")


def check_finite_state(state: Mapping[str, torch.Tensor], source: str,
                       hint: str = " (pass allow_non_finite=True to load them anyway)") -> None:
    """Raise a CheckpointError naming each floating tensor of ``state`` that holds NaN or inf."""
    bad = []
    for k, t in state.items():
        if t.is_floating_point() or t.is_complex():
            n = int((~torch.isfinite(t)).sum())
            if n:
                bad.append(f"'{k}' ({n} of {t.numel()} values)")
    if bad:
        raise CheckpointError(f"The {source} holds NaN or infinite values in " + ", ".join(sorted(bad))
                              + f"; refusing to load them{hint}.")


def state_bytes(tensors) -> int:
    """Bytes held by an iterable of tensors (meta tensors included: nothing is allocated)."""
    return sum(t.numel() * t.element_size() for t in tensors)
