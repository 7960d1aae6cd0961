"""Your own arrays: ``.npz``, ``.npy`` or ``.csv`` / ``.tsv`` files of numbers."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_finite
from ._common import apply_scale, check_bool, check_scale, require_path

__all__ = ["load", "locate", "NPZ_KEYS"]

#: The ``(X, y)`` key pairs looked for in a ``.npz`` file, in this order (labels optional).
NPZ_KEYS = (("X", "y"), ("x", "y"), ("data", "target"))
# The default of load's delimiter: by the file's suffix (None is a value: whitespace).
_BY_SUFFIX = object()


def _integral_labels(values: np.ndarray, where: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == bool:
        return values.astype(np.int64)
    if not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"{where}: labels must be numbers; found dtype {values.dtype}.")
    if np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{where}: labels must be integers (class indices); found {values[i]!r} at row {i}."
            )
    return values.astype(np.int64)


def _read_csv(path: Path, label_column, delimiter) -> tuple[np.ndarray, np.ndarray | None]:
    with open(path, encoding="utf-8") as fh:
        first = ""
        for line in fh:
            if line.strip():
                first = line
                break
    if not first:
        raise ValueError(f"{path}: the file is empty; expected rows of numbers.")
    fields = [f.strip() for f in (first.split(delimiter) if delimiter else first.split())]
    try:
        [float(f) for f in fields]
        skip = 0
    except ValueError:
        skip = 1  # a header line
    try:
        table = np.loadtxt(path, delimiter=delimiter, skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: could not read it as numeric {path.suffix[1:].upper()}: {exc}") from exc
    if label_column is None:
        return table, None
    n_cols = table.shape[1]
    if isinstance(label_column, bool) or not isinstance(label_column, (int, np.integer)) or not (
        -n_cols <= label_column < n_cols
    ):
        raise ValueError(
            f"The 'label_column' parameter must be None or an int in the range [{-n_cols}, {n_cols - 1}] "
            f"({path} has {n_cols} columns). Got {label_column!r} instead."
        )
    col = int(label_column) % n_cols
    labels = _integral_labels(table[:, col], f"{path}, label column {label_column}")
    return np.delete(table, col, axis=1), labels


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: could not read it as .npz: {exc}") from exc
    with archive:
        keys = set(archive.files)
        for xk, yk in NPZ_KEYS:
            if xk in keys:
                try:
                    x = archive[xk]
                    y = archive[yk] if yk in keys else None
                except ValueError as exc:  # object arrays need pickle, which we never allow
                    raise ValueError(f"{path}: could not read key {xk!r}/{yk!r}: {exc}") from exc
                return x, y
    pairs = ", ".join(f"{a}/{b}" for a, b in NPZ_KEYS)
    raise ValueError(f"{path}: found keys {sorted(keys)}; expected one of the pairs {pairs} (labels optional).")


def load(
    path: str | os.PathLike | None = None,
    *,
    flatten: bool = True,
    scale: str | float | None = "unit",
    label_column: int | None = -1,
    delimiter: Any = _BY_SUFFIX,
    shape: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load your own array file; ``layerwise.datasets.load("arrays", path=...)`` calls this one.

    There is no split: the file is the data set.

    Parameters
    ----------
    path : str or os.PathLike
        Required. ``.npz`` with keys ``X``/``y``, ``x``/``y`` or ``data``/``target``
        (:data:`NPZ_KEYS`; labels optional); ``.npy`` holding X; ``.csv``/``.tsv`` of numbers, a
        non-numeric first line being skipped as a header.
    flatten : bool
        True: ``X`` is ``(N, D)``. False: see ``shape``.
    scale : 'unit', None or float
        Arrays have no known maximum: ``'unit'`` returns them as stored and warns when they are
        outside [0, 1]; None returns them as stored silently; a number divides.
    label_column : int or None
        CSV only: the column of the labels (default -1, the last); None for no labels.
    delimiter : str or None, optional
        CSV only: the field separator; by default ``,`` for ``.csv`` and a tab for ``.tsv``;
        None splits on whitespace.
    shape : tuple of int, optional
        Per-example shape for ``flatten=False``; by default 3-d X gains a channel axis and other
        X keep their shape.

    Returns
    -------
    X : torch.Tensor
        float32, one row per example.
    y : torch.Tensor
        int64 labels, ``(N,)``; -1 for every example when the file has none.

    Raises
    ------
    TypeError
        No ``path``.
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        A malformed file (naming it), non-numeric or non-finite values, non-integer labels.
    """
    flatten = check_bool("flatten", flatten)
    scale = check_scale(scale)
    path = require_path("arrays", path)
    if not path.is_file():
        raise FileNotFoundError(f"arrays file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        x, y = _read_npz(path)
    elif suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(f"{path}: could not read it as .npy: {exc}") from exc
        y = None
    elif suffix in (".csv", ".tsv"):
        if delimiter is _BY_SUFFIX:
            delimiter = "," if suffix == ".csv" else "\t"
        x, y = _read_csv(path, label_column, delimiter)
    else:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; expected .npz, .npy, .csv or .tsv.")
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{path}: X must hold numbers; found dtype {x.dtype}.")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(
            f"{path}: X must be an array with one row per example, at least 2-d and non-empty; "
            f"found shape {x.shape}."
        )
    if y is None:
        y = np.full(x.shape[0], -1, dtype=np.int64)
    else:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != x.shape[0]:
            raise ValueError(f"{path}: y must be 1-d with one label per row of X ({x.shape[0]}); found shape {y.shape}.")
        y = _integral_labels(y, str(path))
    t = check_finite(f"X from {path}", torch.from_numpy(x.astype(np.float32)))
    if scale == "unit":
        lo, hi = float(t.min()), float(t.max())
        if lo < 0.0 or hi > 1.0:
            warnings.warn(
                f"{path}: values lie in [{lo:.4g}, {hi:.4g}], not [0, 1], and are returned as stored "
                "(arrays have no known maximum). Pass scale=<number> to divide by it (scale=255 for "
                "8-bit pixels), or scale=None to keep them as stored without this warning.",
                UserWarning,
                stacklevel=3,
            )
    t = apply_scale(t, scale, None)
    if flatten:
        return t.reshape(t.shape[0], -1), torch.from_numpy(y)
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        if math.prod(shape) != math.prod(t.shape[1:]):
            raise ValueError(
                f"The 'shape' parameter {shape} does not fit examples of shape {tuple(t.shape[1:])} from {path}."
            )
        t = t.reshape(t.shape[0], *shape)
    elif t.dim() == 3:
        t = t.unsqueeze(1)
    return t, torch.from_numpy(y)




def locate(name: str = "arrays", root: str | os.PathLike | None = None) -> tuple[bool, str]:
    """``(found, location)`` for :func:`layerwise.datasets.available`: the file you pass.

    Parameters
    ----------
    name : str
        Ignored (``'arrays'``).
    root : str or os.PathLike, optional
        Ignored: the path is given to :func:`load`.

    Returns
    -------
    found : bool
        True: there is nothing to look for before ``path`` is given.
    location : str
        ``"the path you pass: path=..."``.
    """
    return True, "the path you pass: path=..."
