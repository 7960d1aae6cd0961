"""The divergence warnings of :func:`layerwise.fit`: a monitored metric that climbs, a run that ends worse.

A model names the history column to watch in its ``monitored_metric`` attribute (``"loss"``
when it has none; None: nothing is watched). Models whose loss is a noisy surrogate rather than
an objective (the RBM's CD/PCD surrogate, the wake-sleep losses of the SBN and the up-down DBN)
watch ``"reconstruction_error"``, measured once an epoch on a fixed subset of the training
data. The DBM watches nothing: its joint training raises the mean-field reconstruction error
after the greedy pre-training even when it goes well, and its bound needs log Z.
A rise counts only when it adds up to :data:`CLIMB_MIN_RISE` of the metric's value, so that
jitter at a noise floor is not reported.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

__all__ = ["DivergenceWarning", "CLIMB_MIN_RISE", "warn_if_climbing", "warn_if_worse"]

#: The warnings need the monitored metric to have grown by this fraction of its value.
CLIMB_MIN_RISE = 0.1


class DivergenceWarning(RuntimeWarning):
    """The monitored training metric climbed for ``climb_patience`` epochs in a row, or a run ended worse."""


def _advice(lr) -> str:
    return f"Try a smaller learning rate (now {lr}); climb_patience=None turns this warning off."


def warn_if_climbing(history: Sequence[dict], metric: str | None, patience: int | None, lr=None) -> None:
    """Warn once per climb when ``metric`` has risen in each of the last ``patience`` records.

    ``history`` is the list of per-epoch records (each with ``epoch``); a record without
    ``metric`` stops the watch. The warning comes when the climb reaches ``patience`` epochs
    (not again while it goes on), and only if the metric grew by ``CLIMB_MIN_RISE`` in all.
    """
    if metric is None or patience is None or len(history) <= patience:
        return
    values = [row.get(metric, float("nan")) for row in history[-(patience + 2):]]
    window = values[-(patience + 1):]
    if not all(math.isfinite(v) for v in window):
        return
    rises = all(b > a for a, b in zip(window, window[1:]))
    grew = window[-1] - window[0] >= CLIMB_MIN_RISE * abs(window[0])  # not jitter at a noise floor
    longer = len(values) > len(window) and math.isfinite(values[0]) and window[0] > values[0]  # warned already
    if rises and grew and not longer:
        warnings.warn(
            f"The training {metric} has risen for {patience} epochs in a row, from {window[0]:.6g} at epoch "
            f"{history[-patience - 1]['epoch']} to {window[-1]:.6g} at epoch {history[-1]['epoch']}: training may "
            f"be diverging. {_advice(lr)}", DivergenceWarning, stacklevel=3)


def warn_if_worse(history: Sequence[dict], metric: str | None, patience: int | None, lr=None) -> None:
    """At the end of a run of 3 or more epochs: warn when ``metric`` ended ``CLIMB_MIN_RISE`` above its
    first epoch's value (a run that saturated rather than climbed steadily: an RBM at lr=100)."""
    if metric is None or patience is None or len(history) < 3:
        return
    first, last = history[0].get(metric, float("nan")), history[-1].get(metric, float("nan"))
    if math.isfinite(first) and math.isfinite(last) and last - first >= CLIMB_MIN_RISE * abs(first):
        warnings.warn(
            f"The training {metric} ended at {last:.6g} after {len(history)} epochs, above the {first:.6g} "
            f"of epoch 1: training diverged or saturated. {_advice(lr)}", DivergenceWarning, stacklevel=3)
