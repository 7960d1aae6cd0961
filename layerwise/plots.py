"""Pictures: filters, reconstructions, samples, training curves and bar charts.

Callbacks and the command line call these functions; models never plot. Figures are built
as :class:`matplotlib.figure.Figure` objects drawn by ``FigureCanvasAgg``, never through
``pyplot``, so nothing here needs a display or touches matplotlib's global state and the
module is safe to use from worker processes and headless machines.

Every ``save_*`` / ``plot_*`` function validates its input before drawing, creates the
parent folders, writes the PNG atomically (a temporary file in the same folder, then
``os.replace``, so a reader never sees half a file) and returns the :class:`~pathlib.Path`.

:func:`image_grid` is the pure-numpy core: it tiles a batch of images into one array.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import torch
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._validation import _describe, check_choice, check_int, check_real, check_tensor

__all__ = [
    "image_grid",
    "save_image_grid",
    "plot_filters",
    "plot_reconstructions",
    "plot_projections",
    "plot_samples",
    "plot_curves",
    "plot_lines",
    "plot_bars",
]

NORMALIZE = ("each", "all", None)
_DPI = 100
_MIN_TILE_PX = 48  # small tiles (8x8 digits) are upscaled to at least this many screen pixels
_MAX_SIDE_PX = 2000  # ...unless the whole picture would exceed this


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_shape(shape: Any) -> tuple[int, ...] | None:
    """Return ``shape`` as (H, W) or (C, H, W) with C in {1, 3}, or raise naming it."""
    if shape is None:
        return None
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or len(shape) not in (2, 3):
        raise ValueError(
            f"The 'shape' parameter must be a tuple (H, W) or (C, H, W). Got {shape!r} instead."
        )
    out = tuple(check_int("shape", s, 1) for s in shape)
    if len(out) == 3 and out[0] not in (1, 3):
        raise ValueError(
            f"The 'shape' parameter must have 1 or 3 channels (grayscale or RGB) to be shown "
            f"as an image. Got {tuple(shape)!r} ({out[0]} channels) instead."
        )
    return out


#: Public name of the shape check, for picture writers outside this module (layerwise.callbacks).
check_image_shape = _check_shape


def _to_numpy(name: str, data: Any, ndim: tuple[int, ...]) -> np.ndarray:
    """Validate ``data`` (array-like or tensor, finite, non-empty) and return float64 numpy."""
    t = check_tensor(name, data, ndim=ndim)
    return t.detach().to(device="cpu", dtype=torch.float64).numpy()


def _as_images(name: str, images: Any, shape: Any) -> np.ndarray:
    """Return a validated (N, C, H, W) float64 array from (N, D), (N, H, W) or (N, C, H, W)."""
    arr = _to_numpy(name, images, (2, 3, 4))
    shape = _check_shape(shape)
    n = arr.shape[0]
    per_sample = int(np.prod(arr.shape[1:]))
    if shape is None:
        if arr.ndim == 2:
            side = math.isqrt(per_sample)
            if side * side != per_sample:
                raise ValueError(
                    f"'{name}' has {per_sample} values per sample, which is not a square number; "
                    f"pass shape=(H, W) or (C, H, W). Got shape=None with data of shape {arr.shape}."
                )
            shape = (side, side)
        else:
            shape = arr.shape[1:]
    if int(np.prod(shape)) != per_sample:
        raise ValueError(
            f"'{name}' has {per_sample} values per sample (data of shape {arr.shape}), which "
            f"cannot be shown as images of shape {tuple(shape)} ({int(np.prod(shape))} values)."
        )
    if len(shape) == 2:
        shape = (1, *shape)
    if shape[0] not in (1, 3):
        raise ValueError(
            f"'{name}' must hold 1- or 3-channel images (grayscale or RGB); got {shape[0]} "
            f"channels (data of shape {arr.shape}). Pass shape=(H, W) or (C, H, W)."
        )
    return arr.reshape(n, *shape)


def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"The 'path' parameter must be a str or os.PathLike. Got {path!r} instead.")
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise ValueError(f"The 'path' parameter must name a '.png' file. Got {str(path)!r} instead.")
    return p


def _check_title(title: Any) -> str | None:
    if title is not None and not isinstance(title, str):
        raise TypeError(f"The 'title' parameter must be a str or None. Got {title!r} instead.")
    return title


def _save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG atomically (temp file in the same folder, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    # A unique name opened with "xb" (not mkstemp, whose 0600 mode would stick to the PNG).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fig.savefig(fh, format="png", dpi=_DPI, bbox_inches="tight", pad_inches=0.05,
                        facecolor="white")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# --------------------------------------------------------------------------------------------
# Image grids
# --------------------------------------------------------------------------------------------


def _normalize(x: np.ndarray, normalize: str | None) -> np.ndarray:
    """Map (N, C, H, W) values into [0, 1]; a constant range falls back to clipping."""
    if normalize is None:
        return np.clip(x, 0.0, 1.0)
    axes = (1, 2, 3) if normalize == "each" else None
    lo = x.min(axis=axes, keepdims=True)
    hi = x.max(axis=axes, keepdims=True)
    span = hi - lo
    flat = span == 0
    scaled = (x - lo) / np.where(flat, 1.0, span)
    return np.where(flat, np.clip(x, 0.0, 1.0), scaled)


def image_grid(
    images: Any,
    shape: Sequence[int] | None = None,
    ncols: int | None = None,
    normalize: str | None = "each",
    padding: int = 1,
    pad_value: float = 0.5,
) -> np.ndarray:
    """Tile a batch of images into one array, row by row.

    Parameters
    ----------
    images : array-like or Tensor of shape (N, D), (N, H, W) or (N, C, H, W)
        The batch. Flat rows (N, D) need ``shape`` unless D is a square number, in which case
        square images are assumed. Tensors may live on any device and need no ``detach``.
    shape : tuple (H, W) or (C, H, W), optional
        Shape of one image, C in {1, 3}. For 3-d and 4-d input it defaults to
        ``images.shape[1:]``; when given, each sample is reshaped to it.
    ncols : int, optional
        Tiles per row; default ``ceil(sqrt(N))``. Rows are added as needed.
    normalize : {"each", "all", None}
        ``"each"`` scales every tile to [0, 1] on its own (filters, whose scales differ);
        ``"all"`` uses one min/max over the whole batch (samples, reconstructions);
        ``None`` clips to [0, 1]. A tile (or batch) with a constant value has no scale to
        use and is clipped instead.
    padding : int
        Pixels between tiles and around the border.
    pad_value : float
        Value of the padding and of empty cells, in [0, 1]; mid-grey by default so that it
        stands apart from both black background and white ink.

    Returns
    -------
    grid : ndarray of float64
        Shape (rows*(H+p)+p, ncols*(W+p)+p) for one channel, or with a trailing axis of 3
        for RGB; values in [0, 1].

    Examples
    --------
    >>> image_grid(np.arange(8.0).reshape(2, 4), shape=(2, 2), normalize=None, padding=0)
    array([[0., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    x = _as_images("images", images, shape)  # (N, C, H, W)
    return _tile(x, ncols, normalize, padding, pad_value)


def _tile(x: np.ndarray, ncols: Any, normalize: Any, padding: Any, pad_value: Any) -> np.ndarray:
    """:func:`image_grid` on a validated (N, C, H, W) array."""
    check_choice("normalize", normalize, NORMALIZE)
    padding = check_int("padding", padding, 0)
    pad_value = check_real("pad_value", pad_value, 0.0, 1.0)
    n, c, h, w = x.shape
    ncols = math.ceil(math.sqrt(n)) if ncols is None else check_int("ncols", ncols, 1)
    nrows = math.ceil(n / ncols)
    x = _normalize(x, normalize)
    grid = np.full((c, nrows * (h + padding) + padding, ncols * (w + padding) + padding),
                   pad_value, dtype=np.float64)
    for i in range(n):
        r, col = divmod(i, ncols)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = x[i]
    return grid[0] if c == 1 else np.moveaxis(grid, 0, -1)


def _auto_scale(tile: tuple[int, int], grid: tuple[int, ...], scale: Any) -> int:
    """Screen pixels per image pixel: small tiles are enlarged, large pictures are not."""
    if scale is not None:
        return check_int("scale", scale, 1)
    by_tile = math.ceil(_MIN_TILE_PX / max(tile))
    by_grid = _MAX_SIDE_PX // max(grid[:2])
    return max(1, min(by_tile, by_grid))


def _image_figure(grid: np.ndarray, scale: int, title: str | None,
                  min_width_px: int = 0) -> tuple[Figure, Any]:
    """A figure whose axes show ``grid`` at ``scale`` screen pixels per pixel."""
    h, w = grid.shape[:2]
    width_px, height_px = max(w * scale, min_width_px), h * scale
    fig = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0,
              interpolation="nearest", resample=False)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=10)
    return fig, ax


def save_image_grid(
    images: Any,
    path: str | os.PathLike,
    shape: Sequence[int] | None = None,
    ncols: int | None = None,
    normalize: str | None = "all",
    title: str | None = None,
    scale: int | None = None,
    padding: int = 1,
    pad_value: float = 0.5,
) -> Path:
    """Save a batch of images as one tiled PNG.

    Grayscale images use a grey colour map (0 black, 1 white), RGB images their own colours;
    pixels are drawn with nearest-neighbour interpolation, never smoothed.

    Parameters
    ----------
    images, shape, ncols, normalize, padding, pad_value
        As in :func:`image_grid` (``normalize`` defaults to ``"all"`` here).
    path : str or path-like
        Where to write the PNG (must end in ``.png``); parent folders are created.
    title : str, optional
        Title above the grid.
    scale : int, optional
        Screen pixels per image pixel. By default small tiles are enlarged to about 48
        pixels (8x8 digits by 6, 28x28 by 2), keeping the picture under 2000 pixels a side.

    Returns
    -------
    path : Path
        The written file.
    """
    path = _check_path(path)
    title = _check_title(title)
    x = _as_images("images", images, shape)  # (N, C, H, W)
    grid = _tile(x, ncols, normalize, padding, pad_value)
    fig, _ = _image_figure(grid, _auto_scale(x.shape[2:], grid.shape, scale), title,
                           min_width_px=240 if title else 0)
    return _save(fig, path)


def plot_samples(
    samples: Any,
    path: str | os.PathLike,
    shape: Sequence[int] | None = None,
    ncols: int | None = None,
    title: str | None = "Samples",
    normalize: str | None = "all",
    scale: int | None = None,
) -> Path:
    """Save generated samples or Gibbs chains as a PNG grid.

    A thin alias of :func:`save_image_grid` with a default title. For chains, stack the
    steps as (T * K, D) with the K chains side by side and pass ``ncols=K``: each row is
    then one step of every chain.

    Parameters
    ----------
    samples : array-like or Tensor of shape (N, D), (N, H, W) or (N, C, H, W)
        The samples (probabilities or binary states).
    path : str or path-like
        Where to write the PNG.
    shape, ncols, normalize, scale
        As in :func:`save_image_grid`.
    title : str, optional
        Title above the grid.

    Returns
    -------
    path : Path
        The written file.
    """
    return save_image_grid(samples, path, shape=shape, ncols=ncols, normalize=normalize,
                           title=title, scale=scale)


def plot_filters(
    weight: Any,
    path: str | os.PathLike,
    shape: Sequence[int] | None = None,
    max_filters: int = 100,
    title: str | None = None,
    scale: int | None = None,
) -> Path:
    """Save the rows of a weight matrix as images: the filters of a first layer.

    Each filter is scaled to [0, 1] on its own (``normalize="each"``), so that a weak filter
    is as visible as a strong one.

    Parameters
    ----------
    weight : array-like or Tensor of shape (n_hidden, n_visible) or (out, in, kH, kW)
        An RBM's ``weight`` or an autoencoder's first encoder weight (one filter per row),
        or a convolution weight with 1 or 3 input channels.
    path : str or path-like
        Where to write the PNG.
    shape : tuple (H, W) or (C, H, W), optional
        Image shape of one row; needed unless n_visible is a square number.
    max_filters : int
        Show at most this many filters (the first ones).
    title : str, optional
        Title above the grid.
    scale : int, optional
        As in :func:`save_image_grid`.

    Returns
    -------
    path : Path
        The written file.
    """
    w = _to_numpy("weight", weight, (2, 4))
    max_filters = check_int("max_filters", max_filters, 1)
    # Filters are mid-grey on average, so white separators stand apart better than grey ones.
    return save_image_grid(w[:max_filters], path, shape=shape, normalize="each",
                           title=title, scale=scale, pad_value=1.0)


def plot_reconstructions(
    rows: Mapping[str, Any],
    path: str | os.PathLike,
    shape: Sequence[int] | None = None,
    n: int = 10,
    title: str | None = None,
    scale: int | None = None,
) -> Path:
    """Save labelled rows of images side by side, e.g. inputs above their reconstructions.

    ``{"clean": x, "noisy": x_tilde, "reconstruction": r}`` shows the first ``n`` inputs,
    their corrupted versions and the denoised reconstructions, column by column. All rows
    share one grey scale (``normalize="all"`` over everything shown), so that intensities
    compare across rows.

    Parameters
    ----------
    rows : dict of str to array-like
        Row label to a batch of images, each as in :func:`image_grid`; all of one image shape.
    path : str or path-like
        Where to write the PNG.
    shape : tuple (H, W) or (C, H, W), optional
        Shape of one image, as in :func:`image_grid`.
    n : int
        Columns: the first ``n`` images of each row (fewer if no row has that many).
    title : str, optional
        Title above the figure.
    scale : int, optional
        As in :func:`save_image_grid`.

    Returns
    -------
    path : Path
        The written file.
    """
    path = _check_path(path)
    title = _check_title(title)
    n = check_int("n", n, 1)
    if not isinstance(rows, Mapping) or len(rows) == 0:
        shown = _describe(rows) if not isinstance(rows, Mapping) else "{}"
        raise ValueError(
            f"The 'rows' parameter must be a non-empty dict of label -> images. Got {shown} instead."
        )
    batches = {}
    for label, images in rows.items():
        if not isinstance(label, str):
            raise TypeError(f"The labels of 'rows' must be str. Got {label!r} instead.")
        batches[label] = _as_images(f"rows[{label!r}]", images, shape)[:n]
    first_label, first = next(iter(batches.items()))
    for label, b in batches.items():
        if b.shape[1:] != first.shape[1:]:
            raise ValueError(
                f"All rows must hold images of one shape; rows[{first_label!r}] has "
                f"{first.shape[1:]} (C, H, W) but rows[{label!r}] has {b.shape[1:]}."
            )
    ncols = max(b.shape[0] for b in batches.values())
    # One scale over everything shown, then one grid per row, stacked without doubled padding.
    scaled = _normalize(np.concatenate(list(batches.values())), "all")
    pad = 1
    parts, start = [], 0
    for i, b in enumerate(batches.values()):
        g = _tile(scaled[start:start + b.shape[0]], ncols, None, pad, 0.5)
        parts.append(g if i == 0 else g[pad:])
        start += b.shape[0]
    grid = np.concatenate(parts, axis=0)
    h = first.shape[2]
    fig, ax = _image_figure(grid, _auto_scale(first.shape[2:], grid.shape, scale), title)
    ax.set_yticks([pad + h / 2 - 0.5 + i * (h + pad) for i in range(len(batches))])
    ax.set_yticklabels(list(batches), fontsize=10)
    ax.tick_params(axis="y", length=0)
    return _save(fig, path)


def plot_projections(
    rows: Mapping[str, tuple[Any, Any]],
    path: str | os.PathLike,
    title: str | None = None,
    scale: int | None = None,
) -> Path:
    """Save feature projections beside the input patches that produced them (Zeiler & Fergus
    2014, figure 2): one row per feature, projections on the left, inputs on the right.

    Every tile is scaled to [0, 1] on its own (projections of different features and layers
    have unrelated scales); rows may have different patch sizes (deeper layers see more).

    Parameters
    ----------
    rows : dict of str to (projections, inputs)
        Row label (e.g. ``"layer 2, map 7"``) to two batches of images of one shape each, as
        in :func:`image_grid`: typically ``TopActivations.projection_patches`` and
        ``TopActivations.image_patches`` of :meth:`layerwise.deconv.DeconvNet.top_activations`.
    path : str or path-like
        Where to write the PNG.
    title : str, optional
        Title above the figure.
    scale : int, optional
        Screen pixels per image pixel; by default about 48 pixels per tile.

    Returns
    -------
    path : Path
        The written file.
    """
    path = _check_path(path)
    title = _check_title(title)
    if not isinstance(rows, Mapping) or len(rows) == 0:
        raise ValueError(f"The 'rows' parameter must be a non-empty dict of label -> (projections, inputs). "
                         f"Got {_describe(rows) if not isinstance(rows, Mapping) else '{}'} instead.")
    grids = []
    for label, pair in rows.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"rows[{label!r}] must be a pair (projections, inputs).")
        proj = _as_images(f"rows[{label!r}][0]", pair[0], None)
        inp = _as_images(f"rows[{label!r}][1]", pair[1], None)
        grids.append((str(label), _tile(proj, proj.shape[0], "each", 1, 1.0), _tile(inp, inp.shape[0], "each", 1, 1.0),
                      proj.shape[2:]))
    tile_px = _MIN_TILE_PX if scale is None else check_int("scale", scale, 1) * max(g[3][0] for g in grids)
    heights = [tile_px * g[1].shape[0] / g[3][0] for g in grids]
    widths = [tile_px * g[1].shape[1] / g[3][1] for g in grids]
    width_px, height_px = 2 * max(widths) + 160, sum(heights) + 30 * len(grids) + (30 if title else 0)
    fig = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
    spec = fig.add_gridspec(len(grids), 2, height_ratios=heights, hspace=0.35, wspace=0.05)
    for i, (label, gp, gi, _) in enumerate(grids):
        for j, (grid, what) in enumerate(((gp, "projections"), (gi, "inputs"))):
            ax = fig.add_subplot(spec[i, j])
            ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}: {what}", fontsize=9)
    if title is not None:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


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
    path = _check_path(path)
    title = _check_title(title)
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
    fig = Figure(figsize=(6.4, 0.6 + 2.6 * len(present)), dpi=_DPI, layout="constrained")
    axes = fig.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]
    for ax, key in zip(axes, present):
        for name, xs, ys in lines[key]:
            ax.plot(xs, ys, label=name, marker="o" if len(xs) <= 30 else None, markersize=3)
        ax.set_ylabel(key)
        if logy:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].set_xlabel("epoch")
    if title is not None:
        fig.suptitle(title)
    return _save(fig, path)


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
    path = _check_path(path)
    title = _check_title(title)
    xs = [_as_number(v) for v in x]
    if not xs or any(v is None for v in xs):
        raise ValueError(f"The 'x' parameter must be a non-empty sequence of numbers. Got {x!r} instead.")
    if not isinstance(series, Mapping) or not series:
        raise ValueError(f"The 'series' parameter must be a non-empty dict of name -> values. Got {series!r} instead.")
    fig = Figure(figsize=(6.4, 4.2), dpi=_DPI)
    ax = fig.add_subplot(1, 1, 1)
    colours = matplotlib.colormaps["tab10" if len(series) <= 10 else "tab20"].colors
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
    return _save(fig, path)


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
    path = _check_path(path)
    title = _check_title(title)
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
        arr = _to_numpy(f"series[{name!r}]", vals, (1,))
        if arr.shape[0] != len(labels):
            raise ValueError(
                f"series[{name!r}] has {arr.shape[0]} values but there are {len(labels)} labels."
            )
        values[str(name)] = arr
    x = np.arange(len(labels))
    fig = Figure(figsize=(max(4.0, 1.0 + 0.9 * len(labels) * (1 if stacked else max(1, len(values) / 2))),
                          3.6), dpi=_DPI, layout="constrained")
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
    return _save(fig, path)
