"""scikit-learn's embedded 8x8 digits (1,797 images, no download), split 80/20 by class."""

from __future__ import annotations

import os

import numpy as np
import torch

from .._validation import check_choice
from ._common import SPLITS, apply_scale, check_bool, check_scale, shape_images, split_mask

__all__ = ["load", "locate", "DIGITS_TEST_FRACTION", "DIGITS_SPLIT_SEED"]

#: digits: the fraction of each class that goes to the test split, and the split's seed.
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


def load(split: str = "train", *, flatten: bool = True, scale: str | float | None = "unit"):
    """Load scikit-learn's 8x8 digits; :func:`layerwise.datasets.load` calls this one.

    The split is deterministic: for each class, a permutation from
    ``numpy.random.default_rng(DIGITS_SPLIT_SEED)`` puts round(20% of its examples) into
    ``test`` (359 of 1,797) and the rest into ``train`` (1,438)
    (:func:`~layerwise.datasets.faces.split_mask`); both keep the original order.

    Parameters
    ----------
    split : {'train', 'test'}
        Which split.
    flatten : bool
        True: ``X`` is ``(N, 64)``. False: ``(N, 1, 8, 8)``.
    scale : 'unit', None or float
        ``'unit'``: divided by 16, into [0, 1]. None: raw 0..16. A number: divide by it.

    Returns
    -------
    X : torch.Tensor
        float32, ``(N, 64)`` or ``(N, 1, 8, 8)``.
    y : torch.Tensor
        int64 digit classes, ``(N,)``.
    """
    from sklearn.datasets import load_digits

    split = check_choice("split", split, SPLITS)
    flatten = check_bool("flatten", flatten)
    scale = check_scale(scale)
    bunch = load_digits()
    data = np.asarray(bunch.data, dtype=np.float32)  # (1797, 64), values 0..16
    target = np.asarray(bunch.target, dtype=np.int64)
    test = split_mask(target, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    keep = test if split == "test" else ~test
    x = torch.from_numpy(data[keep].reshape(-1, 8, 8).copy())
    y = torch.from_numpy(target[keep].copy())
    return shape_images(apply_scale(x, scale, 16.0), flatten), y


def locate(name: str = "digits", root: str | os.PathLike | None = None) -> tuple[bool, str]:
    """``(found, location)`` for :func:`layerwise.datasets.available`: always found, inside scikit-learn.

    Parameters
    ----------
    name : str
        Ignored (``'digits'``).
    root : str or os.PathLike, optional
        Ignored: the data set ships with scikit-learn.

    Returns
    -------
    found : bool
        True.
    location : str
        Where it lives.
    """
    return True, "inside scikit-learn (sklearn.datasets.load_digits)"
