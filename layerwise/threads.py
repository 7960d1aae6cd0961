"""How many intra-op threads :func:`layerwise.fit` trains with: chosen for the work per batch.

torch's CPU kernels split a matrix product over its intra-op threads (``torch.get_num_threads()``,
by default one per core). For a small product the threads spend longer waiting for each other than
computing, and when another process holds a core, OpenMP threads spin-wait for the one that was
descheduled: an RBM 64-256 at batch 10 trained 27-48x slower with torch's default 2 threads beside
one CPU-bound process on a 2-core machine than with one thread (and within 1.1x of scikit-learn
with one). So :func:`layerwise.fit` estimates the work of a batch (:func:`batch_work`, the
multiply-adds of the model's largest product) and uses one thread below
:data:`WORK_THRESHOLD`, all the cores it may run on (``os.sched_getaffinity``) above it
(:func:`choose_threads`), unless told a number (``threads=`` on ``fit``, ``--threads`` on the
command line).

``torch.set_num_threads`` is process-global: ``fit`` sets it for the duration of the call and puts
the caller's value back on return (:func:`intra_op_threads`), also on an error; importing
layerwise changes nothing. Another thread of the same process that runs torch work during a
``fit`` sees ``fit``'s setting. On CUDA the setting is left as it is (the products run on the GPU).
"""

from __future__ import annotations

import contextlib
import math
import os
from numbers import Integral
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from ._validation import check_int, describe

__all__ = ["WORK_THRESHOLD", "available_cores", "batch_work", "check_threads", "choose_threads",
           "intra_op_threads", "set_intra_op_threads", "default_threads", "describe_threads"]

#: Multiply-adds of a batch's largest product (see :func:`batch_work`) from which ``threads="auto"``
#: takes every core; below it one thread. Measured (README, "Threads"): at 784 x 500 x batch 100
#: (3.9e7) two threads were no faster than one on an idle 2-core machine, and far slower beside
#: another process; the gain of a second thread starts at a few 1e8.
WORK_THRESHOLD = 1e8

_default: list[Any] = ["auto"]


def available_cores() -> int:
    """The cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count()`` where absent)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # macOS, Windows
        return max(os.cpu_count() or 1, 1)


def batch_work(model: nn.Module, batch_size: int, sample_shape: Sequence[int] | None = None) -> float:
    """Multiply-adds of the largest matrix product of one batch, from the parameters' shapes.

    A weight with ``dim() >= 2`` of ``numel()`` entries costs ``numel() * batch_size``
    multiply-adds per product (a ``(batch, n_in) @ (n_in, n_out)`` product); a convolution's
    weight (``dim() > 2``) that many per output position, counted as the positions of one sample
    (``prod(sample_shape[2:])`` for data of shape ``(N, C, H, W)``; 1 when unknown). Biases and
    element-wise work are not counted. 0 for a model without such weights.
    """
    positions = math.prod(sample_shape[2:]) if sample_shape is not None and len(sample_shape) > 2 else 1
    work = 0.0
    for p in model.parameters():
        if p.dim() >= 2:
            work = max(work, float(p.numel()) * batch_size * (positions if p.dim() > 2 else 1))
    return work


def check_threads(threads: Any) -> str | int | None:
    """``threads`` must be ``"auto"``, an int >= 1, or None (the default: see :func:`default_threads`)."""
    if threads is None or (isinstance(threads, str) and threads == "auto"):
        return threads
    if isinstance(threads, str):
        raise ValueError(f"The 'threads' parameter must be 'auto' or an int >= 1. Got {threads!r} instead.")
    if isinstance(threads, bool) or not isinstance(threads, Integral):
        raise TypeError(f"The 'threads' parameter must be 'auto' or an int >= 1. Got {describe(threads)} instead.")
    return check_int("threads", threads, 1)


def choose_threads(threads: str | int | None, model: nn.Module, batch_size: int | None,
                   device: torch.device, sample_shape: Sequence[int] | None = None) -> int:
    """The intra-op threads ``fit`` trains with.

    An int is taken as it is; ``"auto"`` (and None, unless :func:`default_threads` set another
    default) is 1 when :func:`batch_work` is below :data:`WORK_THRESHOLD` and
    :func:`available_cores` from it. On CUDA, torch's current setting (nothing changes).
    """
    threads = check_threads(threads)
    if threads is None:
        threads = _default[0]
    if device.type != "cpu":
        return torch.get_num_threads()
    if threads != "auto":
        return threads
    work = batch_work(model, batch_size or 64, sample_shape)
    return 1 if work < WORK_THRESHOLD else available_cores()


def set_intra_op_threads(n: int) -> int:
    """``torch.set_num_threads(n)`` (only when it changes something); returns the setting before."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    return before


@contextlib.contextmanager
def intra_op_threads(n: int) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(n)``; the caller's setting is put back after it."""
    before = set_intra_op_threads(n)
    try:
        yield n
    finally:
        set_intra_op_threads(before)


@contextlib.contextmanager
def default_threads(threads: str | int) -> Iterator[None]:
    """What ``fit(threads=None)`` means inside the block (``"auto"`` outside): the command line's
    ``--threads`` sets it for every ``fit`` of a run (pretraining, fine-tuning, the estimators)."""
    value = check_threads(threads)
    if value is None:
        raise TypeError("The 'threads' parameter must be 'auto' or an int >= 1. Got None instead.")
    old = _default[0]
    _default[0] = value
    try:
        yield
    finally:
        _default[0] = old


def describe_threads(threads: str | int | None = None) -> str:
    """The thread policy in words, for a run's summary: ``"threads auto (1 below 1e+08 multiply-adds
    per batch, else 16)"`` or ``"threads 4"``; None: the current default (:func:`default_threads`)."""
    threads = check_threads(threads)
    if threads is None:
        threads = _default[0]
    if threads != "auto":
        return f"threads {threads}"
    return f"threads auto (1 below {WORK_THRESHOLD:.0e} multiply-adds per batch, else {available_cores()})"
