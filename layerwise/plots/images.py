"""Image figures: grids of images, filters, reconstructions, samples and projections.

Also the shared checks and the atomic PNG writer of :mod:`layerwise.plots` (``check_path``,
``check_title``, ``save_figure``, ``to_numpy``), public to the sibling modules of the package.
:func:`image_grid` is the pure-numpy core: it tiles a batch of images into one array.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._validation import check_choice, check_int, check_real, check_tensor, describe, optional_module

if TYPE_CHECKING:  # matplotlib is an optional extra, imported when a picture is drawn
    from matplotlib.figure import Figure

__all__ = [
    "image_grid",
    "save_image_grid",
    "plot_filters",
    "plot_reconstructions",
    "plot_projections",
    "plot_samples",
]

NORMALIZE = ("each", "all", None)
DPI = 100
_MIN_TILE_PX = 48  # small tiles (8x8 digits) are upscaled to at least this many screen pixels
_MAX_SIDE_PX = 2000  # ...unless the whole picture would exceed this


# --------------------------------------------------------------------------------------------
# matplotlib, imported when the first picture is drawn
# --------------------------------------------------------------------------------------------


def matplotlib_module(name: str = "matplotlib"):
    """Import ``name`` (a matplotlib module) when a picture is drawn, not when layerwise is imported.

    matplotlib is the optional extra ``plots``: ``import layerwise`` and ``import
    layerwise.sklearn`` do not load it; without it only drawing fails, naming the extra.
    """
    return optional_module(name, "plots", "Drawing pictures")


def new_figure(**kwargs: Any) -> Figure:
    """A :class:`matplotlib.figure.Figure` (no pyplot, no global state) with ``kwargs``."""
    return matplotlib_module("matplotlib.figure").Figure(**kwargs)


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def check_image_shape(shape: Any) -> tuple[int, ...] | None:
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


def to_numpy(name: str, data: Any, ndim: tuple[int, ...]) -> np.ndarray:
    """Validate ``data`` (array-like or tensor, finite, non-empty) and return float64 numpy."""
    t = check_tensor(name, data, ndim=ndim)
    return t.detach().to(device="cpu", dtype=torch.float64).numpy()


def _as_images(name: str, images: Any, shape: Any) -> np.ndarray:
    """Return a validated (N, C, H, W) float64 array from (N, D), (N, H, W) or (N, C, H, W)."""
    arr = to_numpy(name, images, (2, 3, 4))
    shape = check_image_shape(shape)
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


def check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"The 'path' parameter must be a str or os.PathLike. Got {path!r} instead.")
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise ValueError(f"The 'path' parameter must name a '.png' file. Got {str(path)!r} instead.")
    return p


def check_title(title: Any) -> str | None:
    if title is not None and not isinstance(title, str):
        raise TypeError(f"The 'title' parameter must be a str or None. Got {title!r} instead.")
    return title


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG atomically (temp file in the same folder, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib_module("matplotlib.backends.backend_agg").FigureCanvasAgg(fig)
    # A unique name opened with "xb" (not mkstemp, whose 0600 mode would stick to the PNG).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fig.savefig(fh, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.05,
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
    fig = new_figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
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
    path = check_path(path)
    title = check_title(title)
    x = _as_images("images", images, shape)  # (N, C, H, W)
    grid = _tile(x, ncols, normalize, padding, pad_value)
    fig, _ = _image_figure(grid, _auto_scale(x.shape[2:], grid.shape, scale), title,
                           min_width_px=240 if title else 0)
    return save_figure(fig, path)


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
    w = to_numpy("weight", weight, (2, 4))
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
    path = check_path(path)
    title = check_title(title)
    n = check_int("n", n, 1)
    if not isinstance(rows, Mapping) or len(rows) == 0:
        shown = describe(rows) if not isinstance(rows, Mapping) else "{}"
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
    return save_figure(fig, path)


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
    path = check_path(path)
    title = check_title(title)
    if not isinstance(rows, Mapping) or len(rows) == 0:
        raise ValueError(f"The 'rows' parameter must be a non-empty dict of label -> (projections, inputs). "
                         f"Got {describe(rows) if not isinstance(rows, Mapping) else '{}'} instead.")
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
    fig = new_figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
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
    return save_figure(fig, path)
