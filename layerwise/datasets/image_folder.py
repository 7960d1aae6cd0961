"""Your own images, one sub-folder per class (PNG/JPEG/BMP/GIF/TIFF/WebP, read by Pillow)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch

from .._validation import check_choice, optional_module
from ._common import SPLITS, apply_scale, check_bool, check_scale, check_size, contained, require_path, shape_images

__all__ = ["load", "locate", "IMAGE_SUFFIXES"]

#: The file name endings read as images (case-insensitive); other files are ignored.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def load(
    path: str | os.PathLike | None = None,
    split: str = "train",
    *,
    flatten: bool = True,
    scale: str | float | None = "unit",
    size: Any = None,
    grayscale: bool = True,
    return_classes: bool = False,
):
    """Load a folder of images, one sub-folder per class; ``datasets.load("image-folder")`` calls this one.

    Parameters
    ----------
    path : str or os.PathLike
        Required: the folder. The class index of an image is the position of its sub-folder in
        the sorted folder names. When ``path`` holds both ``train/`` and ``test/``, ``split``
        picks one; otherwise all of ``path`` is read. Files that do not decode are skipped with
        one warning counting them. Every image must lie inside ``path`` once symlinks are
        resolved: a symlinked class folder or file that leads elsewhere is refused (ValueError).
    split : {'train', 'test'}
        See ``path``.
    flatten : bool
        True: ``X`` is ``(N, C*H*W)``. False: ``(N, C, H, W)``.
    scale : 'unit', None or float
        ``'unit'``: divided by 255. None: raw 0..255. A number: divide by it.
    size : (int, int), optional
        ``(width, height)`` to resize to (bilinear); by default images keep their size, and all
        must then share one size.
    grayscale : bool
        True (``C = 1``, Pillow's ``"L"``) or RGB (``C = 3``).
    return_classes : bool
        Also return the class names.

    Returns
    -------
    X : torch.Tensor
        float32, ``(N, D)`` or ``(N, C, H, W)``.
    y : torch.Tensor
        int64 class indices, ``(N,)``.
    classes : list of str
        Only with ``return_classes=True``: the sub-folder names, index = class.

    Raises
    ------
    TypeError
        No ``path``.
    FileNotFoundError
        ``path`` is not a folder.
    ValueError
        No class folders, no readable image, images of different sizes without ``size``, or a
        class folder or image that resolves (symlinks followed) to somewhere outside ``path``.
    """
    Image = optional_module("PIL.Image", "faces", "Reading image folders")

    split = check_choice("split", split, SPLITS)
    flatten = check_bool("flatten", flatten)
    scale = check_scale(scale)
    path = require_path("image-folder", path)
    if not path.is_dir():
        raise FileNotFoundError(f"image folder not found: {path} (expected a folder with one sub-folder per class)")
    if (path / split).is_dir() and all((path / s).is_dir() for s in SPLITS):
        path = path / split
    size = check_size(size, optional=True)
    grayscale = check_bool("grayscale", grayscale)
    mode = "L" if grayscale else "RGB"
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"{path}: no class sub-folders; expected one sub-folder of images per class.")
    images, labels, skipped = [], [], []
    for index, cls in enumerate(classes):
        for file in sorted((path / cls).iterdir()):
            if not file.is_file() or file.suffix.lower() not in IMAGE_SUFFIXES or file.name.startswith("."):
                continue
            contained(path, file.relative_to(path), f"image folder {path}, class {cls!r}")
            try:
                with Image.open(file) as im:
                    im = im.convert(mode)
                    if size is not None and im.size != size:
                        im = im.resize(size, Image.Resampling.BILINEAR)
                    pixels = np.asarray(im, dtype=np.uint8)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                skipped.append(f"{file} ({type(exc).__name__}: {exc})")
                continue
            if images and pixels.shape != images[0][1].shape:
                raise ValueError(
                    f"{file} is {pixels.shape[1]}x{pixels.shape[0]} but {images[0][0]} is "
                    f"{images[0][1].shape[1]}x{images[0][1].shape[0]}; pass size=(width, height) to resize all."
                )
            images.append((file, pixels))
            labels.append(index)
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} file(s) under {path} that could not be decoded as images: "
            + "; ".join(skipped[:5])
            + (" ..." if len(skipped) > 5 else ""),
            UserWarning,
            stacklevel=3,
        )
    if not images:
        raise ValueError(
            f"{path}: no images found in the class folders {classes}; expected files ending in "
            f"{', '.join(IMAGE_SUFFIXES)}."
        )
    stack = np.stack([p for _, p in images])  # (N, H, W) or (N, H, W, 3)
    if stack.ndim == 4:
        stack = stack.transpose(0, 3, 1, 2)  # (N, 3, H, W)
    x = apply_scale(torch.from_numpy(np.ascontiguousarray(stack)).to(torch.float32), scale, 255.0)
    y = torch.tensor(labels, dtype=torch.int64)
    x = shape_images(x, flatten)
    if check_bool("return_classes", return_classes):
        return x, y, classes
    return x, y




def locate(name: str = "image-folder", root: str | os.PathLike | None = None) -> tuple[bool, str]:
    """``(found, location)`` for :func:`layerwise.datasets.available`: the folder you pass.

    Parameters
    ----------
    name : str
        Ignored (``'image-folder'``).
    root : str or os.PathLike, optional
        Ignored: the path is given to :func:`load`.

    Returns
    -------
    found : bool
        True: there is nothing to look for before ``path`` is given.
    location : str
        ``"the path you pass: path=..."``.
    """
    return True, "the path you pass: path=..."
