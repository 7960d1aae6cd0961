"""Shared checks on user input: one wording for every error.

Every error names the parameter, the rule and the value, in the style of scikit-learn's
parameter validation ("The 'batch_size' parameter must be an int in the range [1, inf).
Got 0 instead."). Checks run before any work starts, so that a bad call never leaves a
half-written file or a half-trained model behind.
"""

from __future__ import annotations

import importlib
import math
import os
from numbers import Integral, Real
from typing import Any, Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "MemoryLimitError",
    "batch_data",
    "check_bool",
    "check_choice",
    "check_memory",
    "check_rows",
    "check_finite",
    "check_int",
    "check_real",
    "check_sizes",
    "check_tensor",
    "check_unit_interval",
    "dense_stack_elements",
    "as_float_tensor",
    "describe",
    "max_memory",
    "optional_module",
    "set_max_memory",
    "tensor_bytes",
]


def describe(value: Any) -> str:
    """How an error message shows a value: an array by its shape, anything else by its repr."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"an array of shape {tuple(value.shape)}"
    return repr(value)


def optional_module(name: str, extra: str, purpose: str):
    """Import the module ``name`` of an optional dependency, or say which extra installs it.

    Parameters
    ----------
    name : str
        The module, e.g. ``"matplotlib.figure"`` or ``"PIL.Image"``.
    extra : str
        The extra of layerwise that installs it, e.g. ``"plots"``.
    purpose : str
        What needs it, for the message ("Drawing pictures").

    Returns
    -------
    module

    Raises
    ------
    ImportError
        When the distribution is missing: ``"<purpose> needs <top module>, which is not
        installed; install it with pip install 'layerwise[<extra>]'."``. An ImportError raised
        inside an installed module is passed on unchanged.
    """
    top = name.split(".")[0]
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] != top:
            raise
        raise ImportError(f"{purpose} needs {top}, which is not installed; install it with "
                          f"pip install 'layerwise[{extra}]'.", name=exc.name) from exc


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise ValueError naming ``name`` and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"The '{name}' parameter must be an int in the range {_range(low, high, True)}. "
            f"Got {describe(value)} instead."
        )
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(
            f"The '{name}' parameter must be an int in the range {_range(low, high, True)}. "
            f"Got {value!r} instead."
        )
    return int(value)


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float, or raise naming ``name`` and the allowed interval.

    ``low_open`` / ``high_open`` exclude the end points: ``check_real("lr", lr, 0, low_open=True)``
    accepts (0, inf).
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"The '{name}' parameter must be a float in the range "
            f"{_range(low, high, False, low_open, high_open)}. Got {describe(value)} instead."
        )
    v = float(value)
    bad = math.isnan(v)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        raise ValueError(
            f"The '{name}' parameter must be a float in the range "
            f"{_range(low, high, False, low_open, high_open)}. Got {value!r} instead."
        )
    return v


def _range(low, high, integer, low_open=False, high_open=False) -> str:
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    left = "(" if low is None or low_open else "["
    right = ")" if high is None or high_open else "]"
    return f"{left}{lo}, {hi}{right}"


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Raise ValueError unless ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise ValueError(f"The '{name}' parameter must be one of {{{shown}}}. Got {value!r} instead.")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool, or raise TypeError naming ``name`` (1, "yes" and None are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The '{name}' parameter must be a bool (True or False). Got {describe(value)} instead.")
    return bool(value)


def as_float_tensor(name: str, data: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Convert array-like ``data`` to a floating tensor (keeping an existing float dtype)."""
    if isinstance(data, torch.Tensor):
        t = data
    else:
        try:
            arr = np.asarray(data)
        except (TypeError, ValueError) as exc:  # ragged nested lists
            raise ValueError(f"'{name}' must be an array of numbers; got {type(data).__name__}: {exc}") from exc
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"'{name}' must be an array of numbers (bool, int or float); got dtype {arr.dtype}.")
        t = torch.as_tensor(arr)
    if t.is_complex():
        raise ValueError(f"'{name}' must be an array of numbers (bool, int or float); got dtype {t.dtype}.")
    if not t.is_floating_point():
        t = t.to(dtype)
    return t


def check_finite(name: str, t: torch.Tensor) -> torch.Tensor:
    """Raise ValueError if ``t`` holds NaN or infinity, saying how many and where the first is."""
    if t.numel() == 0 or bool(torch.isfinite(t.sum())):
        return t  # a finite sum proves every entry finite (an overflow falls through to the exact check)
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        bad = (~finite).nonzero()
        first = tuple(int(i) for i in bad[0])
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(torch.isinf(t).sum())
        raise ValueError(
            f"'{name}' must hold only finite values; found {n_nan} NaN and {n_inf} infinite "
            f"value(s), the first at index {first}."
        )
    return t


def check_tensor(
    name: str,
    data: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    n_features: int | None = None,
    min_samples: int = 1,
    finite: bool = True,
) -> torch.Tensor:
    """Validate a data tensor: type, number of dimensions, features, emptiness and finiteness.

    Parameters
    ----------
    name : str
        What the caller calls it, used in the error message.
    data : array-like
        The data; converted with :func:`as_float_tensor`.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    n_features : int, optional
        Required size of the last dimension (for 2-d data).
    min_samples : int
        Smallest allowed first dimension (an empty data set is an error).
    finite : bool
        Reject NaN and infinity.
    """
    t = as_float_tensor(name, data)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if t.dim() not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(
                f"'{name}' must be a {want}-d array; got shape {tuple(t.shape)} ({t.dim()}-d)."
            )
    if t.dim() == 0 or t.shape[0] < min_samples:
        raise ValueError(
            f"'{name}' must hold at least {min_samples} sample(s); got shape {tuple(t.shape)}."
        )
    if n_features is not None and t.dim() >= 2 and t.shape[-1] != n_features:
        raise ValueError(
            f"'{name}' has {t.shape[-1]} features, but {n_features} were expected "
            f"(shape {tuple(t.shape)})."
        )
    if finite:
        check_finite(name, t)
    return t


def check_unit_interval(name: str, t: torch.Tensor, why: str) -> torch.Tensor:
    """Raise ValueError unless every value of ``t`` lies in [0, 1]; ``why`` says which setting needs it."""
    lo, hi = float(t.min()), float(t.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"'{name}' must lie in [0, 1] for {why}; got values in [{lo:.4g}, {hi:.4g}]. "
            "Scale the data (for example datasets.Divide(255)) or choose another loss."
        )
    return t


def check_sizes(name: str, sizes: Any, min_len: int, example: Sequence[int], hint: str = "") -> list[int]:
    """Layer sizes of a deep model, visible layer first: a list of at least ``min_len`` ints >= 1.

    ``example`` is a typical value quoted in the errors (its first ``min_len`` entries for a
    too-short list); ``hint`` is added to that error (a model that refuses too few layers can
    say what to use instead).
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(
            f"The '{name}' parameter must be a list of ints (visible layer first, e.g. {list(example)}). "
            f"Got {sizes!r} instead."
        )
    sizes = list(sizes)
    if len(sizes) < min_len:
        layers = "one hidden layer" if min_len == 2 else f"{min_len - 1} or more hidden layers"
        raise ValueError(
            f"The '{name}' parameter must list at least {min_len} layer sizes (the visible layer and "
            f"{layers}, e.g. {list(example)[:min_len]}). Got {sizes!r} instead.{hint}"
        )
    return [check_int(f"{name}[{i}]", s, 1) for i, s in enumerate(sizes)]


def batch_data(x: Any) -> Any:
    """The inputs of a batch: ``X`` of an ``(X, y)`` pair (a tuple or a DataLoader's list whose
    first item is an array), else ``x`` itself (so a plain list of rows stays the data)."""
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], (torch.Tensor, np.ndarray)):
        return x[0]
    return x


def check_rows(
    name: str,
    data: Any,
    n_features: int,
    *,
    flatten: bool = False,
    finite: bool = True,
) -> torch.Tensor:
    """Validate the input of an inference method: a batch of rows with ``n_features`` columns.

    The wording is :func:`check_tensor`'s, so ``fit`` and every inference path fail alike. A
    single 1-d sample is refused with a hint (``x.reshape(1, -1)``), as scikit-learn does.

    Parameters
    ----------
    name : str
        The argument's name, used in the error message.
    data : array-like
        The data, or an ``(X, y)`` batch (only ``X`` is read).
    n_features : int
        Required width of a row.
    flatten : bool
        Accept ``(n, d1, d2, ...)`` samples (images) and flatten them to rows.
    finite : bool
        Reject NaN and infinity.

    Returns
    -------
    torch.Tensor
        The rows, 2-d, as a float tensor (not yet moved to the model's device or dtype).
    """
    t = as_float_tensor(name, batch_data(data))
    if t.dim() == 1 and t.numel() == n_features:
        raise ValueError(
            f"'{name}' must be a 2-d array of rows; got one sample of shape {tuple(t.shape)}. "
            f"Pass x.reshape(1, -1) for a single sample."
        )
    if flatten and t.dim() > 2:
        t = t.reshape(t.shape[0], -1)
    return check_tensor(name, t, ndim=2, n_features=n_features, finite=finite)


def dense_stack_elements(sizes: Sequence[int], weight_copies: int = 1) -> int:
    """Numbers in a stack of dense layers ``sizes``: ``weight_copies`` weight matrices per pair of
    adjacent layers plus one bias per unit (what a memory guard counts before allocating)."""
    sizes = [int(s) for s in sizes]
    return weight_copies * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sum(sizes)


# ---- memory guard -------------------------------------------------------------------------------

_GIB = 1024**3
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": _GIB, "t": 1024**4}
_max_memory: int | None = None  # set_max_memory(); None: the environment or the default
DEFAULT_MEMORY_FRACTION = 0.5
"""Without a setting, a request may take this fraction of the machine's physical memory."""


class MemoryLimitError(ValueError, MemoryError):
    """A request would allocate more than :func:`max_memory` allows (refused before allocating).

    Both a ValueError (a bad size argument) and a MemoryError, so either ``except`` catches it.
    """


def _parse_bytes(text: str) -> int | None:
    s = text.strip().lower().replace(" ", "")
    if s in ("none", "off", "unlimited", "inf"):
        return None
    s = s.removesuffix("ib").removesuffix("b")
    unit = s[-1] if s and s[-1] in _UNITS else ""
    number = s[: len(s) - len(unit)]
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"LAYERWISE_MAX_MEMORY must be a positive size such as 8G, 512M or 1073741824 (bytes), "
            f"or 'none'. Got {text!r} instead."
        )
    return int(value * _UNITS[unit])


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return None


def max_memory() -> int | None:
    """The largest allocation (bytes) a constructor or sampler may request; None: no limit.

    In order: the value given to :func:`set_max_memory`; the environment variable
    ``LAYERWISE_MAX_MEMORY`` (``8G``, ``512M``, bytes, or ``none``); else
    ``DEFAULT_MEMORY_FRACTION`` (half) of the physical memory (``os.sysconf``).
    """
    if _max_memory is not None:
        return None if _max_memory < 0 else _max_memory
    env = os.environ.get("LAYERWISE_MAX_MEMORY")
    if env:
        return _parse_bytes(env)
    phys = _physical_memory()
    return None if phys is None else int(phys * DEFAULT_MEMORY_FRACTION)


def set_max_memory(limit: int | str | None) -> int | None:
    """Set the memory guard for this process; returns the previous setting (to restore it).

    Parameters
    ----------
    limit : int, str or None
        Bytes (int), a size such as ``"16G"``, ``"none"`` to switch the guard off, or None to
        go back to ``LAYERWISE_MAX_MEMORY`` / the default (half the physical memory).
    """
    global _max_memory
    previous = _max_memory
    if limit is None:
        _max_memory = None
    elif isinstance(limit, str):
        parsed = _parse_bytes(limit)
        _max_memory = -1 if parsed is None else parsed
    else:
        _max_memory = check_int("limit", limit, 1)
    return previous


def tensor_bytes(n_elements: int, dtype: torch.dtype | None = None) -> int:
    """Bytes of ``n_elements`` numbers of ``dtype`` (default: torch's default dtype)."""
    dtype = torch.get_default_dtype() if dtype is None else dtype
    return int(n_elements) * (torch.finfo(dtype).bits // 8 if dtype.is_floating_point else torch.iinfo(dtype).bits // 8)


def check_memory(what: str, n_bytes: int) -> int:
    """Refuse (:class:`MemoryLimitError`) a request of ``n_bytes`` above :func:`max_memory`.

    ``what`` names the request (``"RBM(784, 1000000000) parameters"``); the message gives the
    size in GiB, the limit and how to raise it. Costs nothing: call it before allocating.
    """
    limit = max_memory()
    if limit is not None and n_bytes > limit:
        raise MemoryLimitError(
            f"{what} would need {n_bytes / _GIB:.3g} GiB, more than the memory limit of "
            f"{limit / _GIB:.3g} GiB. Ask for less, or raise the limit with "
            "LAYERWISE_MAX_MEMORY=<size> (e.g. 64G, or 'none') or "
            "layerwise.set_max_memory(...)."
        )
    return n_bytes
