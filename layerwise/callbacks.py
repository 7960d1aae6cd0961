"""Callbacks for :func:`layerwise.fit`: pictures (filters, reconstructions, samples, curves) and
schedules (momentum, Gibbs steps).

Each is a :class:`layerwise.training.Callback`. :class:`FilterSnapshots` writes the first-layer
filters after every few epochs; the others write one picture when training ends
(``on_fit_end``), and have a ``draw(model)`` method that writes it for a model trained elsewhere
(a pre-trained layer, a fine-tuned network). Pictures that draw random numbers (noisy inputs,
Gibbs chains) do so inside :func:`torch.random.fork_rng`, so that drawing them leaves the global
random state, and with it every number computed afterwards, as it was.

The schedules (:class:`MomentumSchedule`, :class:`GibbsStepsSchedule`) set a training setting in
``on_epoch_start`` from the epoch number (and the run's length) alone, on every process, so that
a run resumed from a checkpoint, or split into calls with ``initial_epoch``, trains with the same
settings as an uninterrupted one; each writes the value it set into the epoch's history record.

Also here (from :mod:`layerwise.loggers` and :mod:`layerwise.stopping`): :class:`CSVLogger`,
:class:`TensorBoardLogger`, :class:`BestCheckpoint` (``best/``) and :class:`EarlyStopping`.
"""

from __future__ import annotations

import os
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable

import torch

from ._validation import check_int, check_real
from .plots import check_image_shape, plot_curves, plot_filters, plot_reconstructions, plot_samples
from .loggers import CSVLogger, TensorBoardLogger
from .stopping import BestCheckpoint, EarlyStopping
from .training import Callback

__all__ = ["FilterSnapshots", "Filters", "Reconstructions", "SamplePictures", "Curves", "split_validation",
           "LinearRamp", "EpochSchedule", "MomentumSchedule", "GibbsStepsSchedule",
           "CSVLogger", "TensorBoardLogger", "BestCheckpoint", "EarlyStopping"]


class FilterSnapshots(Callback):
    """Epoch callback for :func:`layerwise.training.fit`: save the first-layer filters.

    Writes ``folder/filters_epoch{N:03d}.png`` after every ``every``-th epoch N, with
    :func:`plot_filters`, so that one can watch filters form during training.

    Parameters
    ----------
    shape : tuple (H, W) or (C, H, W), optional
        Image shape of one filter; needed unless n_visible is a square number.
    folder : str or path-like, optional
        Where to write; default ``<checkpoint_dir>/filters`` of the run.
    every : int
        Save after epochs ``every``, ``2 * every``, ...
    attr : str or callable
        The weight: a dotted attribute path on the model (``"weight"`` for an RBM,
        ``"encoder_layers.0.weight"`` for an autoencoder), or ``f(model) -> tensor``.
    max_filters : int
        Show at most this many filters.

    Attributes
    ----------
    paths : list of Path
        The files written so far.
    """

    def __init__(
        self,
        shape: Sequence[int] | None = None,
        folder: str | os.PathLike | None = None,
        *,
        every: int = 1,
        attr: str | Callable[[torch.nn.Module], Any] = "weight",
        max_filters: int = 100,
    ) -> None:
        self.shape = check_image_shape(shape)
        if folder is not None and not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"The 'folder' parameter must be a path or None. Got {folder!r} instead.")
        self.folder = None if folder is None else Path(folder)
        self.every = check_int("every", every, 1)
        if not (isinstance(attr, str) and attr) and not callable(attr):
            raise TypeError(
                f"The 'attr' parameter must be an attribute name or a callable(model). Got {attr!r} instead."
            )
        self.attr = attr
        self.max_filters = check_int("max_filters", max_filters, 1)
        self.paths: list[Path] = []

    def __repr__(self) -> str:
        return (f"FilterSnapshots(shape={self.shape}, folder={self.folder!r}, every={self.every}, "
                f"attr={self.attr!r})")

    def _weight(self, model: Any) -> Any:
        if callable(self.attr):
            return self.attr(model)
        obj = model
        for part in self.attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise AttributeError(
                    f"FilterSnapshots(attr={self.attr!r}): {type(model).__name__} has no "
                    f"attribute {self.attr!r} (failed at {part!r}). Pass attr= the weight's "
                    "dotted name or a callable(model) -> tensor."
                ) from None
        return obj

    def on_epoch_end(self, state: Any, record: Mapping[str, Any] | None = None) -> Path | None:
        """Save the filters if ``state.epoch`` is a multiple of ``every``; return the path."""
        epoch = int(state.epoch)
        if epoch % self.every:
            return None
        folder = self.folder
        if folder is None:
            run_dir = getattr(state, "checkpoint_dir", None)
            if run_dir is None:
                raise ValueError(
                    "FilterSnapshots needs a folder: pass folder=... or run fit with a checkpoint_dir."
                )
            folder = Path(run_dir) / "filters"
        with torch.no_grad():
            weight = self._weight(state.model)
        path = plot_filters(weight, folder / f"filters_epoch{epoch:03d}.png", shape=self.shape,
                            max_filters=self.max_filters,
                            title=f"{type(state.model).__name__} filters, epoch {epoch}")
        self.paths.append(path)
        return path


class Filters(Callback):
    """Write the first-layer filters once, when training ends.

    Parameters
    ----------
    path : str or path-like
        The PNG to write.
    weight : callable
        ``weight(model) -> tensor``: (n_filters, n_inputs), or conv filters (K, C, s, s).
    shape : tuple (H, W) or (C, H, W), optional
        Image shape of one filter (see :func:`layerwise.plots.plot_filters`).
    title : str, optional
        The picture's title (plot_filters' own when None).
    """

    def __init__(self, path: str | os.PathLike, weight: Callable[[Any], torch.Tensor],
                 shape: Sequence[int] | None = None, title: str | None = None) -> None:
        self.path, self.weight, self.shape, self.title = Path(path), weight, shape, title

    def draw(self, model: Any) -> Path:
        """Write the picture for ``model``; return its path."""
        options = {} if self.title is None else {"title": self.title}
        with torch.no_grad():
            weight = self.weight(model).detach().cpu()
        return plot_filters(weight, self.path, shape=self.shape, **options)

    def on_fit_end(self, state: Any) -> None:
        self.draw(state.model)


class Reconstructions(Callback):
    """Write inputs beside their reconstructions (and the noisy inputs of a denoising model).

    Parameters
    ----------
    path : str or path-like
        The PNG to write.
    x : tensor (n, D)
        The clean inputs (moved to the model's device).
    shape : tuple, optional
        Image shape of one input.
    title : str, optional
        The picture's title.
    n : int, optional
        How many inputs to show (plot_reconstructions' default when None).
    noisy_only : bool
        Draw nothing for a model without input noise.
    """

    def __init__(self, path: str | os.PathLike, x: torch.Tensor, shape: Sequence[int] | None = None,
                 title: str | None = None, n: int | None = None, noisy_only: bool = False) -> None:
        self.path, self.x, self.shape, self.title, self.n = Path(path), x, shape, title, n
        self.noisy_only = noisy_only

    def draw(self, model: Any) -> Path | None:
        """Write the picture for ``model`` (random state untouched); return its path, or None."""
        noise = getattr(model, "noise", None)
        if self.noisy_only and not noise:
            return None
        x = self.x.to(next(model.parameters()).device)
        panel = {"clean": x.cpu()}
        with torch.random.fork_rng():
            if noise:
                model.train()
                x_in = model.corrupt(x)
                model.eval()
                panel["noisy"] = x_in.cpu()
            else:
                x_in = x
            with torch.no_grad():
                panel["reconstruction"] = model(x_in).reshape(len(x), -1).cpu()
        options = {k: v for k, v in (("n", self.n), ("title", self.title)) if v is not None}
        return plot_reconstructions(panel, self.path, shape=self.shape, **options)

    def on_fit_end(self, state: Any) -> None:
        self.draw(state.model)


class SamplePictures(Callback):
    """``samples.png`` (the chains' last states) and ``chain.png`` (snapshots of the first 8 chains).

    Parameters
    ----------
    folder : str or path-like
        Where to write.
    draw_chains : callable
        ``draw_chains(model, n, steps, every) -> (T, n, D)``: the visible states every ``every`` sweeps.
    n_visible : int
        D, the width of one state.
    shape : tuple
        Image shape of one state; nothing is drawn when it is not an image shape.
    samples, steps : int
        Chains and Gibbs sweeps.
    seed : int
        The chains start from ``torch.manual_seed(seed)`` (inside a forked random state).
    """

    def __init__(self, folder: str | os.PathLike, draw_chains: Callable[..., torch.Tensor], n_visible: int,
                 shape: Sequence[int], samples: int, steps: int, seed: int) -> None:
        self.folder, self.draw_chains, self.n_visible = Path(folder), draw_chains, n_visible
        self.shape, self.samples, self.steps, self.seed = tuple(shape), samples, steps, seed

    def draw(self, model: Any) -> None:
        """Run the chains of ``model`` and write both pictures."""
        every = max(self.steps // 10, 1)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            snaps = self.draw_chains(model, self.samples, self.steps, every)         # (T, n, D)
        if len(self.shape) < 2:
            return
        plot_samples(snaps[-1].cpu(), self.folder / "samples.png", shape=self.shape,
                     title=f"{self.samples} samples after {self.steps} Gibbs sweeps")
        k = min(8, snaps.shape[1])
        plot_samples(snaps[:, :k].reshape(-1, self.n_visible).cpu(), self.folder / "chain.png", shape=self.shape,
                     ncols=k, title=f"{k} chains, every {every} sweeps (top to bottom)")

    def on_fit_end(self, state: Any) -> None:
        state.model.eval()
        self.draw(state.model)


class Curves(Callback):
    """Write the training curves of this fit (its history) when training ends.

    One panel per measure: ``loss`` and ``val_loss`` (the same measure on the validation data)
    share the panel ``loss``, as the lines ``"training"`` and ``"validation"`` (with a ``label``:
    ``"<label>"`` and ``"<label>, validation"``).

    Parameters
    ----------
    path : str or path-like
        The PNG to write.
    keys : sequence of str
        The history's columns to draw (``val_x`` draws the panel ``x``).
    label : str, optional
        The legend's name for this run (default: ``"training"``).
    """

    def __init__(self, path: str | os.PathLike, keys: Sequence[str], label: str | None = None) -> None:
        self.path, self.keys, self.label = Path(path), tuple(keys), label

    def on_fit_end(self, state: Any) -> None:
        keys = list(dict.fromkeys(k[len(_VAL):] if k.startswith(_VAL) else k for k in self.keys))
        plot_curves(split_validation(state.history, self.label), self.path, keys=keys)


_VAL = "val_"


def split_validation(history: Sequence[dict], label: str | None = None) -> dict[str, list[dict]]:
    """A history as two named runs for :func:`~layerwise.plots.plot_curves`: the columns measured
    on the training data under ``"training"``, the ``val_*`` columns, renamed without their
    prefix (``val_loss`` -> ``loss``), under ``"validation"``; ``epoch`` in both.

    Parameters
    ----------
    history : sequence of dict
        Per-epoch records.
    label : str, optional
        Names the runs ``label`` and ``"<label>, validation"`` instead.

    Returns
    -------
    dict of str to list of dict
        The validation run only when some record has a ``val_*`` column.
    """
    train = [{k: v for k, v in r.items() if not k.startswith(_VAL)} for r in history]
    val = [{(k[len(_VAL):] if k.startswith(_VAL) else k): v for k, v in r.items()
            if k == "epoch" or k.startswith(_VAL)} for r in history]
    runs = {label or "training": train}
    if any(k.startswith(_VAL) for r in history for k in r):
        runs[f"{label}, validation" if label else "validation"] = val
    return runs


# ---- schedules ---------------------------------------------------------------------------------


class LinearRamp:
    """A value going linearly from ``start`` (epoch 0) to ``end`` (the last epoch), then held.

    ``value(e) = start + (end - start) * min(e / (n - 1), 1)`` at the 0-based epoch ``e``, with
    ``n = over`` or, when ``over`` is None, the run's number of epochs. Called as
    ``ramp(epoch, epochs)``.

    Parameters
    ----------
    start, end : float
        The values at epoch 0 and from epoch ``n - 1`` on.
    over : int, optional
        The ramp's length in epochs (default: the whole run).
    """

    def __init__(self, start: float, end: float, over: int | None = None) -> None:
        self.start = check_real("start", start)
        self.end = check_real("end", end)
        self.over = None if over is None else check_int("over", over, 1)

    def __call__(self, epoch: int, epochs: int) -> float:
        n = self.over if self.over is not None else epochs
        t = min(epoch / (n - 1), 1.0) if n > 1 else 1.0
        return self.start + (self.end - self.start) * t

    def __repr__(self) -> str:
        over = "" if self.over is None else f", over={self.over}"
        return f"LinearRamp({self.start:g}, {self.end:g}{over})"


class EpochSchedule(Callback):
    """A training setting set at the start of every epoch from the epoch number alone.

    Subclasses say what is set (:meth:`apply`), under which history column (``key``), and check
    a value (:meth:`check`).

    Parameters
    ----------
    schedule : mapping {epoch: value} or callable
        Milestones: the value from each 0-based epoch on (piecewise constant; epoch 0 must be
        one of them), e.g. ``{0: 0.5, 5: 0.9}``; or ``f(epoch, epochs) -> value`` such as
        :class:`LinearRamp`.
    """

    key = "value"

    def __init__(self, schedule: Mapping[int, float] | Callable[[int, int], float]) -> None:
        if isinstance(schedule, Mapping):
            if not schedule or 0 not in schedule or not all(
                    isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in schedule):
                raise ValueError(f"The 'schedule' parameter must map 0-based epochs (ints >= 0, 0 among them) "
                                 f"to values. Got {dict(schedule)!r} instead.")
            self.schedule: Mapping[int, float] | Callable[[int, int], float] = {
                e: self.check(schedule[e]) for e in sorted(schedule)}
        elif callable(schedule):
            self.schedule = schedule
        else:
            raise TypeError(f"The 'schedule' parameter must be a mapping {{epoch: value}} or a callable "
                            f"(epoch, epochs) -> value. Got {schedule!r} instead.")
        self.current: float | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.schedule!r})"

    def check(self, value: Any) -> Any:
        """Return ``value`` if the setting can take it; raise naming it otherwise."""
        return value

    def value(self, epoch: int, epochs: int) -> Any:
        """The setting for the 0-based ``epoch`` of a run of ``epochs`` epochs."""
        if callable(self.schedule):
            return self.check(self.schedule(epoch, epochs))
        return self.schedule[max(e for e in self.schedule if e <= epoch)]

    def apply(self, state: Any, value: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def on_epoch_start(self, state: Any) -> None:
        """Set the value of epoch ``state.epoch`` (every process)."""
        self.current = self.value(int(state.epoch), int(state.epochs))
        self.apply(state, self.current)

    def on_epoch_end(self, state: Any, record: dict | None = None) -> None:
        """Write the value the epoch trained with into its history record (as ``key``)."""
        if record is not None and self.current is not None:
            record[self.key] = self.current


class MomentumSchedule(EpochSchedule):
    """Set the optimiser's momentum at the start of every epoch.

    Hinton's practical guide (2010, section 9): momentum 0.5 while the reconstruction error
    falls fast, then 0.9, i.e. ``MomentumSchedule({0: 0.5, 5: 0.9})``. Every param group's
    ``momentum`` is set (SGD and RMSprop have one; Adam has none and is refused).

    Parameters
    ----------
    schedule : mapping {epoch: momentum} or callable
        Values in [0, 1); see :class:`EpochSchedule`.
    """

    key = "momentum"

    def check(self, value: Any) -> float:
        return check_real("momentum", value, 0.0, 1.0, high_open=True)

    def apply(self, state: Any, value: float) -> None:
        opt = state.optimizer
        if opt is None or any("momentum" not in g for g in opt.param_groups):
            raise ValueError(f"MomentumSchedule needs an optimiser with momentum (sgd or rmsprop); "
                             f"got {type(opt).__name__ if opt is not None else None}.")
        for g in opt.param_groups:
            g["momentum"] = value


class GibbsStepsSchedule(EpochSchedule):
    """Set the model's number of Gibbs sweeps ``k`` (CD-k, PCD, the DBM's chains) every epoch.

    Salakhutdinov & Murray (2008) train "CD25" with k increased gradually from 1 to 25:
    ``GibbsStepsSchedule(LinearRamp(1, 25))`` (a callable's value is rounded to an int).

    Parameters
    ----------
    schedule : mapping {epoch: k} or callable
        Values are ints >= 1; see :class:`EpochSchedule`.
    """

    key = "k"

    def check(self, value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value):
            value = int(round(value))
        return check_int("k", value, 1)

    def apply(self, state: Any, value: int) -> None:
        if not isinstance(getattr(state.model, "k", None), int):
            raise ValueError(f"GibbsStepsSchedule needs a model with Gibbs steps 'k' (an RBM, a DBM); "
                             f"got {type(state.model).__name__}.")
        state.model.k = value
