"""How :func:`layerwise.fit` shows its progress: a tqdm bar, or lines fit for a log file.

``progress=`` on ``fit`` (``--progress`` on the command line) is one of

``"auto"`` (and ``True``)
    a bar when stderr is a terminal (or in a Jupyter kernel: tqdm's widget), else lines;
``"bar"``
    a tqdm bar (a frame per update: meant for a terminal);
``"lines"``
    one line on stderr per epoch, and one every :data:`LINE_EVERY` seconds within a long epoch:
    ``<desc>: epoch 3/10, batch 120/600, loss 0.1234`` then ``<desc>: epoch 3/10 done, loss
    0.1234, 12.3 s`` (a log of ``make demo > log`` grows by a few lines per epoch, not by a
    frame per update);
``"off"`` (and ``False``)
    nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ._validation import describe

__all__ = ["PROGRESS_MODES", "LINE_EVERY", "check_progress", "LineProgress", "make_progress"]

PROGRESS_MODES = ("auto", "bar", "lines", "off")

#: Seconds between two lines within an epoch in ``"lines"`` mode (the epoch's end always writes one).
LINE_EVERY = 30.0


def check_progress(progress: Any) -> str:
    """``progress`` as one of :data:`PROGRESS_MODES` (True is ``"auto"``, False ``"off"``)."""
    if progress is True or progress is False:
        return "auto" if progress else "off"
    if isinstance(progress, str) and progress in PROGRESS_MODES:
        return progress
    kind = ValueError if isinstance(progress, str) else TypeError
    raise kind("The 'progress' parameter must be True, False or one of {'auto', 'bar', 'lines', 'off'}. "
               f"Got {describe(progress)} instead.")


class LineProgress:
    """The bar's interface (``update``, ``set_postfix``, ``close``) written as plain lines.

    A line within an epoch comes at most every ``every`` seconds; :meth:`epoch_end` writes the
    epoch's line. ``stream`` is read at each write (sys.stderr by default, so that a captured or
    redirected stderr gets the lines).
    """

    def __init__(self, total: int | None, desc: str, stream: Any = None, every: float = LINE_EVERY):
        self.total, self.desc, self.stream, self.every = total, desc, stream, every
        self.n, self.postfix, self.last = 0, {}, time.perf_counter()
        self.epoch_n = 0

    def _write(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"{self.desc}: {text}", file=stream, flush=True)
        self.last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n
        self.epoch_n += n
        if time.perf_counter() - self.last >= self.every:
            epoch = self.postfix.get("epoch", "?")
            loss = self.postfix.get("loss")
            self._write(f"epoch {epoch}, batch {self.epoch_n}" + (f", loss {loss}" if loss is not None else ""))

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        self.postfix.update(values)

    def epoch_end(self, epoch: str, record: dict) -> None:
        """Write the epoch's line: its mean loss and seconds."""
        self._write(f"epoch {epoch} done, loss {record.get('loss', float('nan')):.4g}, "
                    f"{record.get('seconds', float('nan')):.1f} s")
        self.epoch_n = 0

    def close(self) -> None:
        pass


def make_progress(mode: str, total: int | None, desc: str, enabled: bool = True):
    """None (``"off"``, or not ``enabled``: another rank than 0), a tqdm bar or a :class:`LineProgress`."""
    if not enabled or mode == "off":
        return None
    if mode == "auto":  # a Jupyter kernel's stderr is no terminal, but tqdm.auto draws a widget there
        mode = "bar" if _is_terminal(sys.stderr) or "ipykernel" in sys.modules else "lines"
    if mode == "lines":
        return LineProgress(total, desc)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
