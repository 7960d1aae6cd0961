"""The data of a run: load, transform and flatten the splits named by a ``data:`` section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import datasets
from .config import ConfigError, DataConfig

__all__ = ["Prepared", "prepare_data", "image_shape", "grid_shape", "n_classes", "FACE_SETS"]

#: Face data sets (layerwise.faces): they take size and grayscale like image folders.
FACE_SETS = ("utkface", "wiki", "imdb")


@dataclass
class Prepared:
    """The flattened float splits of a run, and the shape of one image."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    image_shape: tuple[int, ...]


def prepare_data(cfg: DataConfig, seed: int = 0) -> Prepared:
    """Load, transform and flatten the train and test splits named by a :class:`DataConfig`.

    Parameters
    ----------
    cfg : DataConfig
        The run's ``data:`` section.
    seed : int
        The run's seed (the splits themselves are fixed).

    Returns
    -------
    Prepared
    """
    opts: dict[str, Any] = {"root": cfg.root, "flatten": False, "scale": cfg.scale}
    if cfg.path is not None:
        opts["path"] = cfg.path
    if cfg.size is not None:
        opts["size"] = tuple(cfg.size)
    if cfg.name in ("image-folder",) + FACE_SETS:
        opts["grayscale"] = cfg.grayscale
    opts.update(cfg.options)
    tx, ty = datasets.load(cfg.name, "train", **opts)
    try:
        sx, sy = datasets.load(cfg.name, "test", **opts)
    except ValueError:
        raise ConfigError(f"Data set {cfg.name!r} has no test split to evaluate on.")
    if cfg.max_train:
        tx, ty = tx[: cfg.max_train], ty[: cfg.max_train]
    if cfg.max_test:
        sx, sy = sx[: cfg.max_test], sy[: cfg.max_test]
    shape = tuple(tx.shape[1:])
    tx, sx = tx.reshape(len(tx), -1), sx.reshape(len(sx), -1)
    if cfg.divide is not None:
        t = datasets.Divide(cfg.divide)
        tx, sx = t(tx), t(sx)
    if cfg.binarize is not None:
        t = datasets.Binarize(threshold=cfg.binarize)
        tx, sx = t(tx), t(sx)
    if cfg.standardize:
        t = datasets.Standardize().fit(tx)
        tx, sx = t(tx), t(sx)
    return Prepared(tx.float(), ty.long(), sx.float(), sy.long(), shape)


def image_shape(shape: tuple[int, ...], what: str) -> tuple[int, int, int]:
    """``(H, W)`` -> ``(1, H, W)``; ``(C, H, W)`` unchanged; anything else a :class:`ConfigError` naming ``what``."""
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3:
        return tuple(shape)  # type: ignore[return-value]
    raise ConfigError(f"{what} needs images; the data set's rows have shape {shape}, not (H, W) or (C, H, W).")


def grid_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape to draw one image with: a single channel's ``(1, H, W)`` becomes ``(H, W)``."""
    return shape[1:] if len(shape) == 3 and shape[0] == 1 else shape


def n_classes(data: Prepared) -> int:
    """The number of classes: the largest label of either split, plus one."""
    return int(torch.cat([data.train_y, data.test_y]).max()) + 1
