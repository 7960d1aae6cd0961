"""Figures of the convolutional models: a sparse-coding layer's filters, reconstructions and
maps (:func:`plot_csc`), and Zeiler & Fergus's projections of a CNN (:func:`projection_figure`).

The models are duck-typed (no model is imported): :func:`plot_csc` needs a
:class:`~layerwise.models.csc.ConvSparseCoding`'s ``validate_data``, ``infer``, ``reconstruct``,
``weight``, ``n_filters`` and ``kernel_size``; :func:`projection_figure` a
:class:`~layerwise.models.deconv.DeconvNet`'s ``n_layers``, ``strongest_channels`` and
``top_activations``.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from .._validation import check_int
from .images import image_grid, plot_projections, save_image_grid

if TYPE_CHECKING:
    from ..models.csc import ConvSparseCoding
    from ..models.deconv import DeconvNet

__all__ = ["plot_csc", "projection_figure"]


def _show(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, 1 or 3, H, W) for display: RGB and grayscale as they are, other
    channel counts as the norm over channels."""
    if x.shape[1] in (1, 3):
        return x
    return np.sqrt((x ** 2).sum(1, keepdims=True))


def _unit(x: np.ndarray) -> np.ndarray:
    """Scale every (C, H, W) item to [0, 1] on its own."""
    lo = x.min(axis=(1, 2, 3), keepdims=True)
    hi = x.max(axis=(1, 2, 3), keepdims=True)
    return (x - lo) / np.where(hi > lo, hi - lo, 1.0)


def plot_csc(model: ConvSparseCoding, images: Any, path: str | os.PathLike, n_images: int = 4,
             n_maps: int = 6, title: str | None = None) -> Path:
    """Save one PNG: the learned filters on top, then one row per image with the image, its
    reconstruction D(z) and its ``n_maps`` most active feature maps (largest |z_k|_1).

    Images and their reconstructions share one grey scale per row; filters and maps are scaled
    each on its own (maps: mid-grey 0, white positive, black negative). Images with other
    than 1 or 3 channels (a second layer's input) are shown as the norm over channels.

    Parameters
    ----------
    model : ConvSparseCoding
    images : Tensor (N, C, H, W)
        The first ``n_images`` are shown (checked by ``model.validate_data``).
    path : str or path-like
        Where to write the PNG.
    n_images, n_maps : int
        Rows and maps per row.
    title : str, optional
        Title above the picture.

    Returns
    -------
    Path
        The written file.
    """
    n_images = check_int("n_images", n_images, 1)
    n_maps = min(check_int("n_maps", n_maps, 1), model.n_filters)
    y = model.validate_data(images).to(model.weight.device, model.weight.dtype)[:n_images]
    z = model.infer(y)
    rec = model.reconstruct(z)
    y_np, rec_np = (_show(t.detach().to("cpu", torch.float64).numpy()) for t in (y, rec))
    z_np = z.detach().to("cpu", torch.float64).numpy()                    # (N, K, H', W')
    n, c_show, h, w = y_np.shape
    hp, wp = z_np.shape[2:]
    top = (hp - h) // 2, (wp - w) // 2
    tiles = []
    for i in range(n):
        pair = _unit(np.stack([y_np[i], rec_np[i]]))                           # one scale per row
        pair = np.pad(pair, ((0, 0), (0, 0), (top[0], hp - h - top[0]), (top[1], wp - w - top[1])),
                      constant_values=0.5)
        order = np.argsort(-np.abs(z_np[i]).sum((1, 2)))[:n_maps]
        maps = z_np[i, order][:, None]                                        # (n_maps, 1, H', W')
        scale = np.abs(maps).max(axis=(1, 2, 3), keepdims=True)
        maps = 0.5 + 0.5 * maps / np.where(scale > 0, scale, 1.0)
        if c_show == 3:
            maps = np.repeat(maps, 3, axis=1)
        tiles.extend([pair[0], pair[1], *maps])
    ncols = 2 + n_maps
    rows = image_grid(np.stack(tiles), ncols=ncols, normalize=None, padding=1, pad_value=0.5)
    filt = _show(model.weight.detach().to("cpu", torch.float64).numpy())
    if c_show == 3 and filt.shape[1] == 1:
        filt = np.repeat(filt, 3, axis=1)
    per_row = max(1, (rows.shape[1] - 1) // (model.kernel_size + 1))
    fgrid = image_grid(filt, ncols=min(per_row, filt.shape[0]), normalize="each", padding=1, pad_value=1.0)
    width = max(rows.shape[1], fgrid.shape[1])

    def widen(g: np.ndarray) -> np.ndarray:
        pad = [(0, 0), (0, width - g.shape[1])] + ([(0, 0)] if g.ndim == 3 else [])
        return np.pad(g, pad, constant_values=1.0)

    sep = np.ones((2, width) + rows.shape[2:])
    picture = np.concatenate([widen(fgrid), sep, widen(rows)], axis=0)
    picture = picture[None, None] if picture.ndim == 2 else np.moveaxis(picture, -1, 0)[None]
    if title is None:
        title = f"{model.n_filters} filters; image | reconstruction | top maps"
    # about 48 screen pixels per map, the whole picture under 2000 pixels a side
    scale = max(1, min(math.ceil(48 / hp), 2000 // max(picture.shape[-2:])))
    return save_image_grid(picture, path, normalize=None, padding=0, title=title, scale=scale)


def projection_figure(deconvnet: DeconvNet, data: Any, path: str | os.PathLike,
                      layers: Sequence[int] | int | None = None, channels: Sequence[int] | None = None,
                      top: int = 9, title: str | None = None) -> Path:
    """Write Zeiler & Fergus's figure 2 for a trained CNN: for each chosen layer and feature map,
    the projections of its ``top`` strongest activations in ``data`` (receptive-field crops)
    beside the input patches that produced them.

    Parameters
    ----------
    deconvnet : DeconvNet
        Attached to the trained CNN.
    data : Tensor
        Images to search (flat rows or (N, C, H, W)).
    path : path-like
        The PNG to write.
    layers : int or sequence of int, optional
        Conv layer indices (from 0); all layers when None.
    channels : sequence of int, optional
        Feature maps to show in every chosen layer; when None, each layer's 4 maps with the
        strongest activations (:meth:`DeconvNet.strongest_channels`).
    top : int
        Inputs per feature map.
    title : str, optional
        Title above the figure.

    Returns
    -------
    Path
        The written file.

    Warns
    -----
    UserWarning
        Naming the dead maps (largest activation on ``data`` at most 0: their projections
        would be black panels), which are left out.

    Raises
    ------
    ValueError
        When every chosen map is dead.
    """
    if layers is None:
        layers = list(range(deconvnet.n_layers))
    elif isinstance(layers, int):
        layers = [layers]
    rows, dead = {}, []
    for layer in layers:  # strongest_channels and top_activations refuse a bad layer, naming it
        chosen = list(channels) if channels is not None else deconvnet.strongest_channels(data, layer)
        for c in chosen:
            t = deconvnet.top_activations(data, layer, c, k=top)
            if float(t.values[0]) <= 0.0:  # strongest first: no input excites this map
                dead.append(f"layer {layer}, map {c}")
                continue
            rows[f"layer {layer}, map {c}"] = (t.projection_patches, t.image_patches)
    if dead:
        what = f"{len(dead)} dead feature map(s) (largest activation 0 on the {_count(data)} inputs) left out: "
        if not rows:
            raise ValueError(f"Nothing to draw: every chosen map is dead; {what}{'; '.join(dead)}.")
        warnings.warn(what + "; ".join(dead) + ".", UserWarning, stacklevel=2)
    return plot_projections(rows, path, title=title)


def _count(data: Any) -> int:
    return len(data) if hasattr(data, "__len__") else 0
