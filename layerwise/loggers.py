"""Loggers for :func:`layerwise.fit`: the per-epoch history as CSV, or as TensorBoard scalars.

A run with a ``checkpoint_dir`` writes ``history.csv`` there already; :class:`CSVLogger` is for
runs without one, or for another path. :class:`TensorBoardLogger` needs the optional
``tensorboard`` package (``pip install 'layerwise[tensorboard]'``), or a writer of your own.
Both log every numeric column of each epoch's record, on rank 0 (as every epoch-end callback).
"""

from __future__ import annotations

import math
import os
from numbers import Real
from pathlib import Path
from typing import Any

from .training import Callback

__all__ = ["CSVLogger", "TensorBoardLogger", "TENSORBOARD_HINT"]

TENSORBOARD_HINT = ("TensorBoardLogger needs the optional 'tensorboard' package: "
                    "pip install 'layerwise[tensorboard]' (or pip install tensorboard), "
                    "or pass writer= a SummaryWriter-like object of your own.")


def _check_path(name: str, value: Any) -> Path | None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"The '{name}' parameter must be a path (str or os.PathLike) or None. Got {value!r} instead.")
    return None if value is None else Path(value)


class CSVLogger(Callback):
    """Write the run's history (what ``fit`` returns) to a CSV file after every epoch.

    The whole file is rewritten atomically each epoch (one row per epoch, one column per
    history key), so a resumed run's file holds the restored epochs too.

    Parameters
    ----------
    path : str or path-like
        The CSV file (its folder is made).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        path = _check_path("path", path)
        if path is None:
            raise TypeError("The 'path' parameter must be a path (str or os.PathLike). Got None instead.")
        self.path = path

    def __repr__(self) -> str:
        return f"CSVLogger({str(self.path)!r})"

    def on_epoch_end(self, state: Any, record: dict | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state.history.to_csv(self.path)

    def on_fit_end(self, state: Any) -> None:
        """Write again: callbacks after this one may have added columns to the last record."""
        if state.history:
            self.on_epoch_end(state)


class TensorBoardLogger(Callback):
    """Log each epoch's numeric history entries as TensorBoard scalars (step: the epoch, 1-based).

    Parameters
    ----------
    log_dir : str or path-like, optional
        The event folder; default ``<checkpoint_dir>/tensorboard`` of the run, else
        TensorBoard's ``runs/<date>``.
    writer : object, optional
        Anything with ``add_scalar(tag, value, step)``, ``flush()`` and ``close()`` (a
        ``torch.utils.tensorboard.SummaryWriter``, tensorboardX's, ...); then ``log_dir`` is
        unused and the ``tensorboard`` package is not needed. Not closed at the end of ``fit``.
    prefix : str
        Put before every tag (e.g. ``"rbm/"``).

    Raises
    ------
    ImportError
        Without ``writer`` when the ``tensorboard`` package is missing (naming the extra).
    """

    def __init__(self, log_dir: str | os.PathLike | None = None, *, writer: Any = None, prefix: str = "") -> None:
        self.log_dir = _check_path("log_dir", log_dir)
        if not isinstance(prefix, str):
            raise TypeError(f"The 'prefix' parameter must be a str. Got {prefix!r} instead.")
        if writer is not None and not all(callable(getattr(writer, m, None)) for m in ("add_scalar", "flush", "close")):
            raise TypeError(f"The 'writer' parameter must have add_scalar, flush and close methods. Got {writer!r} instead.")
        self.prefix, self.writer, self._own = prefix, writer, writer is None
        self._factory = None if writer is not None else _summary_writer()

    def __repr__(self) -> str:
        return f"TensorBoardLogger(log_dir={None if self.log_dir is None else str(self.log_dir)!r}, prefix={self.prefix!r})"

    def on_fit_start(self, state: Any) -> None:
        if not self._own:
            return
        log_dir = self.log_dir
        if log_dir is None and state.checkpoint_dir is not None:
            log_dir = Path(state.checkpoint_dir) / "tensorboard"
        # a resumed run drops the events a killed run wrote after its checkpoint's epoch
        purge = int(state.epoch) + 1 if int(state.epoch) > 0 else None
        self.writer = self._factory(log_dir=None if log_dir is None else str(log_dir), purge_step=purge)

    def on_epoch_end(self, state: Any, record: dict) -> None:
        step = int(record.get("epoch", state.epoch))
        for key, value in record.items():
            if key != "epoch" and isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
                self.writer.add_scalar(self.prefix + key, float(value), step)
        self.writer.flush()

    def on_fit_end(self, state: Any) -> None:
        if self._own and self.writer is not None:
            self.writer.close()
            self.writer = None


def _summary_writer():
    """``torch.utils.tensorboard.SummaryWriter``, or ImportError naming the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch's module imports the tensorboard package
        raise ImportError(TENSORBOARD_HINT) from exc
    return SummaryWriter
