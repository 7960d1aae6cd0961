"""The training losses of an epoch, read on the host in windows: :class:`LossReader`.

:func:`layerwise.fit` reads a batch's loss on the host for three things: the NaN/inf guard, the
progress bar and the epoch's mean loss. Reading it every batch (``float(loss)``,
``bool(torch.isfinite(loss))``) stalls a GPU's queue once per batch, and on the CPU costs a few
small tensor operations per batch, which at a batch of 10 is a tenth of an RBM's step. The
losses are kept as they come (tensors on the device) and read together every
:data:`LOSS_READ_EVERY` batches, or once a second has passed, and at the end of the epoch.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch

__all__ = ["LOSS_READ_EVERY", "LossReader"]

#: Batches between two reads of the losses on the host (a read also comes after a second, and at
#: the end of each epoch): a diverging run is stopped at most this many batches late.
LOSS_READ_EVERY = 25


class LossReader:
    """The batches' losses of an epoch, kept on the device and read every ``LOSS_READ_EVERY``
    batches (or after a second) in one transfer: no host sync per batch on a GPU, a few tensor
    operations fewer per batch on the CPU. Each read checks the losses (``on_bad(batch, value)``
    for the first non-finite one, which raises) and updates the progress bar. The epoch's mean is
    the same float64 sum, batch by batch, as accumulating ``loss * batch_size`` on the device.
    The loss tensors are kept, not copied: a model must not write to a loss it returned."""

    def __init__(self, on_bad: Callable[[int, float], None], bar, epoch: str):
        self.on_bad, self.bar, self.epoch = on_bad, bar, epoch
        self.pending: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.total, self.done, self.last_read = 0.0, 0, time.perf_counter()

    def add(self, loss: torch.Tensor, size: int) -> None:
        """Keep a batch's loss (a tensor with one value) and its number of samples."""
        self.pending.append(loss)
        self.sizes.append(size)
        if len(self.pending) >= LOSS_READ_EVERY or time.perf_counter() - self.last_read >= 1.0:
            self.read()

    def read(self) -> None:
        """Read the losses kept since the last read: check them, add them up, update the bar."""
        if not self.pending:
            return
        pending = self.pending
        values = [pending[0].item()] if len(pending) == 1 else torch.stack(pending).tolist()
        for i, (value, size) in enumerate(zip(values, self.sizes[self.done:])):
            if not math.isfinite(value):
                self.on_bad(self.done + i, value)
            self.total += value * size
        self.done += len(values)
        self.pending, self.last_read = [], time.perf_counter()
        if self.bar is not None:
            self.bar.update(len(values))
            self.bar.set_postfix(epoch=self.epoch, loss=f"{values[-1]:.4g}", refresh=False)

    def mean(self) -> float:
        """Read what is left and return the epoch's mean loss (weighted by batch size)."""
        self.read()
        return self.total / max(sum(self.sizes), 1)
