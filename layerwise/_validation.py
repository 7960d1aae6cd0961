"""Shared checks on user input: one wording for every error.

Every error names the parameter, the rule and the value, in the style of scikit-learn's
parameter validation ("The 'batch_size' parameter must be an int in the range [1, inf).
Got 0 instead."). Checks run before any work starts, so that a bad call never leaves a
half-written file or a half-trained model behind.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "check_bool",
    "check_choice",
    "check_finite",
    "check_int",
    "check_real",
    "check_sizes",
    "check_tensor",
    "check_unit_interval",
    "as_float_tensor",
    "describe",
]


def describe(value: Any) -> str:
    """How an error message shows a value: an array by its shape, anything else by its repr."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"an array of shape {tuple(value.shape)}"
    return repr(value)


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
            t = torch.as_tensor(np.asarray(data))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"'{name}' must be an array of numbers. Got {type(data).__name__}: {exc}") from exc
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
