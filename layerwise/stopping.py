"""Model selection on a named metric: the ``best/`` checkpoint and early stopping.

:class:`BestCheckpoint` saves the model to ``best/`` (beside ``last/`` in the run folder, with
the same atomic save; :func:`layerwise.load_model` loads it) after every epoch whose monitored
value improves on the best so far; :class:`EarlyStopping` ends :func:`layerwise.fit` after
``patience`` epochs without improvement. The run then ends cleanly: the epoch's ``last/``
checkpoint and ``history.csv`` are written, ``on_fit_end`` callbacks run, and ``fit`` returns
the history.

An epoch improves when its value ``v`` beats the best ``b`` by more than ``min_delta``:
``v < b - min_delta`` with ``mode="min"``, ``v > b + min_delta`` with ``mode="max"``; the first
finite value always does, and a NaN never does.

Their state (the best value, its epoch, the epochs since) is a function of the run's history,
which every checkpoint holds: on resume (and at any ``fit`` call that starts with a history)
they recompute it from that history, so a resumed run selects the same ``best/`` and stops at
the same epoch as an uninterrupted one, and a run that stopped early stays stopped when it is
resumed with the same patience. A call with ``initial_epoch > 0`` and no history (a run split
into calls) carries the callback's own state over from the previous call.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from ._validation import check_choice, check_int, check_real
from .training import Callback

__all__ = ["MetricMonitor", "BestCheckpoint", "EarlyStopping"]


class MetricMonitor(Callback):
    """Track the best value of one history column (the base of the two callbacks here).

    Parameters
    ----------
    monitor : str
        The history column: ``"val_loss"``, ``"loss"``, ``"val_accuracy"``, a model metric, ...
    mode : {"min", "max"}
        Whether smaller or larger values are better.
    min_delta : float
        The least change (>= 0) that counts as an improvement.

    Attributes
    ----------
    best : float or None
        The best value so far.
    best_epoch : int or None
        Its epoch (1-based, as in the history).
    wait : int
        Epochs since the best one.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", min_delta: float = 0.0) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"The 'monitor' parameter must be a history column's name (a str). Got {monitor!r} instead.")
        self.monitor = monitor
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.min_delta = check_real("min_delta", min_delta, 0.0, math.inf, high_open=True)
        self.reset()

    def reset(self) -> None:
        """Forget the best value."""
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def improves(self, value: float) -> bool:
        """Whether ``value`` beats the best so far by more than ``min_delta``."""
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, record: dict) -> bool:
        """Take one epoch's record into account; return whether it improved."""
        if self.monitor not in record:
            cols = ", ".join(repr(k) for k in record)
            hint = " Pass validation= to fit for the val_* columns." if self.monitor.startswith("val_") else ""
            raise ValueError(f"{type(self).__name__}(monitor={self.monitor!r}): the history has no such column "
                             f"(its columns: {cols}).{hint}")
        value = float(record[self.monitor])
        if self.improves(value):
            self.best, self.best_epoch, self.wait = value, int(record.get("epoch", 0)), 0
            return True
        self.wait += 1
        return False

    def on_fit_start(self, state: Any) -> None:
        """Recompute the state from the run's history (a resumed run's, restored from its checkpoint)."""
        if state.history or int(state.epoch) == 0:
            self.reset()
            for record in state.history:
                self.update(record)


class BestCheckpoint(MetricMonitor):
    """Save the model to ``best/`` after every epoch that improves the monitored metric.

    The folder holds the model (``model.safetensors``), the epoch and the history up to it
    (``checkpoint.json``), written atomically like ``last/``; ``lw.load_model(folder)`` rebuilds
    the model. It holds no optimiser state: resume from ``last/``.

    Parameters
    ----------
    folder : str or path-like, optional
        Where to save; default ``<checkpoint_dir>/best`` of the run.
    monitor, mode, min_delta
        See :class:`MetricMonitor`; e.g. ``BestCheckpoint(monitor="val_loss", mode="min")``.

    Attributes
    ----------
    path : Path or None
        The folder, once ``fit`` has started.
    """

    def __init__(self, folder: str | os.PathLike | None = None, monitor: str = "val_loss", mode: str = "min",
                 min_delta: float = 0.0) -> None:
        if folder is not None and not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"The 'folder' parameter must be a path (str or os.PathLike) or None. Got {folder!r} instead.")
        super().__init__(monitor, mode, min_delta)
        self.folder = None if folder is None else Path(folder)
        self.path: Path | None = self.folder

    def __repr__(self) -> str:
        return (f"BestCheckpoint(folder={self.folder!r}, monitor={self.monitor!r}, mode={self.mode!r}, "
                f"min_delta={self.min_delta!r})")

    def on_fit_start(self, state: Any) -> None:
        if self.folder is None and state.checkpoint_dir is None:
            raise ValueError("BestCheckpoint needs a folder: pass folder=... or run fit with a checkpoint_dir.")
        self.path = self.folder if self.folder is not None else Path(state.checkpoint_dir) / "best"
        super().on_fit_start(state)

    def on_epoch_end(self, state: Any, record: dict) -> None:
        if self.update(record):
            ckpt.save_checkpoint(self.path, state.model, epoch=int(state.epoch), history=state.history, rng=False)


class EarlyStopping(MetricMonitor):
    """Stop training after ``patience`` epochs in a row without improvement of the monitored metric.

    Parameters
    ----------
    monitor, mode, min_delta
        See :class:`MetricMonitor`.
    patience : int
        Epochs (>= 1) without improvement before stopping.

    Attributes
    ----------
    stopped_epoch : int or None
        The (1-based) epoch after which training stopped.

    Examples
    --------
    Keep the best model on the validation loss, and stop after 5 epochs without progress::

        stops = [lw.callbacks.EarlyStopping("val_loss", patience=5),
                 lw.callbacks.BestCheckpoint(monitor="val_loss")]
        lw.fit(ae, X_train, validation=X_val, epochs=200, checkpoint_dir="run", callbacks=stops)
        best = lw.load_model("run/best")
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 5, min_delta: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = check_int("patience", patience, 1)
        self.stopped_epoch: int | None = None

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, patience={self.patience}, "
                f"min_delta={self.min_delta!r})")

    def on_fit_start(self, state: Any) -> None:
        super().on_fit_start(state)
        self.stopped_epoch = None
        if self.wait >= self.patience:  # a run that stopped early, resumed: it stays stopped
            self.stopped_epoch = int(state.epoch)
            state.stop = True

    def on_epoch_end(self, state: Any, record: dict) -> None:
        self.update(record)
        if self.wait >= self.patience:
            self.stopped_epoch = int(state.epoch)
            state.stop = True
