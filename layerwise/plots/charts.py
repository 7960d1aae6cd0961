"""Charts: training curves, lines over a numeric axis, and bar charts."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .images import DPI, check_path, check_title, matplotlib_module, new_figure, save_figure, to_numpy

__all__ = ["plot_bars", "plot_curves", "plot_lines"]


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (Real, np.number, torch.Tensor)):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v


def plot_curves(
    histories: Mapping[str, Sequence[Mapping[str, Any]]],
    path: str | os.PathLike,
    keys: Sequence[str] | str = ("loss",),
    title: str | None = None,
    logy: bool = False,
) -> Path:
    """Save training curves: one subplot per key, one line per run.

    Parameters
    ----------
    histories : dict of str to list of dict
        Run name to its per-epoch records (``fit``'s ``History`` is such a list), each with
        ``"epoch"`` (the position, counted from 1, where missing) and the keys to plot.
        Records without a key are skipped for that key; NaN values show as gaps.
    path : str or path-like
        Where to write the PNG.
    keys : str or sequence of str
        Columns to plot, e.g. ``("loss", "val_loss")``. Keys that no run records are left out.
    title : str, optional
        Title above the figure.
    logy : bool
        Logarithmic y axes.

    Returns
    -------
    path : Path
        The written file.
    """
    path = check_path(path)
    title = check_title(title)
    if isinstance(keys, str):
        keys = (keys,)
    if not isinstance(keys, Sequence) or len(keys) == 0 or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"The 'keys' parameter must be a non-empty sequence of str. Got {keys!r} instead.")
    if not isinstance(histories, Mapping) or len(histories) == 0:
        raise ValueError(
            "The 'histories' parameter must be a non-empty dict of run name -> list of per-epoch "
            f"dicts. Got {histories!r} instead."
        )
    lines: dict[str, list[tuple[str, list[float], list[float]]]] = {k: [] for k in keys}
    seen: list[str] = []
    for name, history in histories.items():
        if isinstance(history, (str, bytes)) or not isinstance(history, Sequence) or not all(
                isinstance(r, Mapping) for r in history):
            raise TypeError(
                f"histories[{name!r}] must be a list of per-epoch dicts. Got {type(history).__name__} instead."
            )
        for r in history:
            seen.extend(k for k in r if k not in seen)
        for key in keys:
            xs, ys = [], []
            for i, record in enumerate(history):
                if key not in record:
                    continue
                y = _as_number(record[key])
                if y is None:
                    raise TypeError(
                        f"histories[{name!r}][{i}][{key!r}] must be a number. Got {record[key]!r} instead."
                    )
                x = _as_number(record.get("epoch", i + 1))
                xs.append(i + 1 if x is None else x)
                ys.append(y)
            if xs:
                lines[key].append((str(name), xs, ys))
    present = [k for k in keys if lines[k]]
    if not present:
        raise ValueError(
            f"None of the keys {list(keys)!r} is recorded in any history; recorded keys are {seen!r}."
        )
    fig = new_figure(figsize=(6.4, 0.6 + 2.6 * len(present)), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]
    for ax, key in zip(axes, present):
        for name, xs, ys in lines[key]:
            ax.plot(xs, ys, label=name, marker="o" if len(xs) <= 30 else None, markersize=3)
        ax.set_ylabel(key)
        if logy:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(matplotlib_module("matplotlib.ticker").MaxNLocator(integer=True))
    axes[-1].set_xlabel("epoch")
    if title is not None:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_lines(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    xlabel: str,
    ylabel: str,
    errors: Mapping[str, Sequence[float]] | None = None,
    title: str | None = None,
    logx: bool = False,
) -> Path:
    """Save one line per series over shared x values, with optional error bars.

    For example test accuracy against the fraction of labels kept, one line per network:
    ``plot_lines([0.01, 0.1, 1], {"FCNN-2": [.6, .7, .8]}, path, "label fraction", "accuracy",
    errors={"FCNN-2": [.02, .01, .01]}, logx=True)``.

    Parameters
    ----------
    x : sequence of float
        The x positions, shared by every series.
    series : dict of str to sequence of float
        Series name to one value per x (NaN for a missing point).
    path : str or path-like
        Where to write the PNG.
    xlabel, ylabel : str
        Axis labels.
    errors : dict of str to sequence of float, optional
        Half-widths of the error bars (e.g. one standard deviation), per series.
    title : str, optional
        Title above the chart.
    logx : bool
        Logarithmic x axis.

    Returns
    -------
    path : Path
        The written file.
    """
    path = check_path(path)
    title = check_title(title)
    xs = [_as_number(v) for v in x]
    if not xs or any(v is None for v in xs):
        raise ValueError(f"The 'x' parameter must be a non-empty sequence of numbers. Got {x!r} instead.")
    if not isinstance(series, Mapping) or not series:
        raise ValueError(f"The 'series' parameter must be a non-empty dict of name -> values. Got {series!r} instead.")
    fig = new_figure(figsize=(6.4, 4.2), dpi=DPI)
    ax = fig.add_subplot(1, 1, 1)
    colours = matplotlib_module().colormaps["tab10" if len(series) <= 10 else "tab20"].colors
    for i, (name, values) in enumerate(series.items()):
        ys = [_as_number(v) for v in values]
        if len(ys) != len(xs) or any(v is None for v in ys):
            raise ValueError(f"series[{name!r}] must hold {len(xs)} numbers (one per x). Got {values!r} instead.")
        err = None
        if errors is not None and name in errors:
            err = [_as_number(v) for v in errors[name]]
            if len(err) != len(xs) or any(v is None for v in err):
                raise ValueError(f"errors[{name!r}] must hold {len(xs)} numbers. Got {errors[name]!r} instead.")
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=str(name), color=colours[i % len(colours)])
    if logx:
        ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{v:g}" for v in xs])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title is not None:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def plot_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    ylabel: str,
    title: str | None = None,
    stacked: bool = False,
) -> Path:
    """Save a grouped or stacked bar chart.

    For example the time of each model split between pre-training and fine-tuning:
    ``plot_bars(["RBM", "AE"], {"pre-training": [12, 8], "fine-tuning": [3, 3]}, path,
    "seconds", stacked=True)``.

    Parameters
    ----------
    labels : sequence of str
        One group (x position) per label.
    series : dict of str to sequence of float
        Series name to one value per label; each series is one colour in the legend.
    path : str or path-like
        Where to write the PNG.
    ylabel : str
        Label of the y axis (the quantity and its unit).
    title : str, optional
        Title above the chart.
    stacked : bool
        Stack the series on one bar per label instead of placing them side by side.

    Returns
    -------
    path : Path
        The written file.
    """
    path = check_path(path)
    title = check_title(title)
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence) or len(labels) == 0:
        raise ValueError(f"The 'labels' parameter must be a non-empty sequence of str. Got {labels!r} instead.")
    labels = [str(label) for label in labels]
    if not isinstance(ylabel, str):
        raise TypeError(f"The 'ylabel' parameter must be a str. Got {ylabel!r} instead.")
    if not isinstance(series, Mapping) or len(series) == 0:
        raise ValueError(
            f"The 'series' parameter must be a non-empty dict of name -> values. Got {series!r} instead."
        )
    values = {}
    for name, vals in series.items():
        arr = to_numpy(f"series[{name!r}]", vals, (1,))
        if arr.shape[0] != len(labels):
            raise ValueError(
                f"series[{name!r}] has {arr.shape[0]} values but there are {len(labels)} labels."
            )
        values[str(name)] = arr
    x = np.arange(len(labels))
    fig = new_figure(figsize=(max(4.0, 1.0 + 0.9 * len(labels) * (1 if stacked else max(1, len(values) / 2))),
                          3.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 if stacked else 0.8 / len(values)
    bottom = np.zeros(len(labels))
    for j, (name, arr) in enumerate(values.items()):
        if stacked:
            ax.bar(x, arr, width, bottom=bottom, label=name)
            bottom = bottom + arr
        else:
            ax.bar(x - 0.4 + width * (j + 0.5), arr, width, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8)
    if title is not None:
        ax.set_title(title)
    return save_figure(fig, path)
