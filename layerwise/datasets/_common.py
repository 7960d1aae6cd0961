"""What every loader of :mod:`layerwise.datasets` shares: the data root, option checks, scaling, shapes.

This module is the bottom of the package: every loader module imports it, it imports none of
them. Its names carry no leading underscore because the loader modules use them; they are the
package's internal API and are not re-exported by :mod:`layerwise.datasets` (except
:func:`data_root`, :data:`SPLITS`, :data:`DEFAULT_ROOT` and :data:`ENV_ROOT`).
"""

from __future__ import annotations

import math
import os
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_int, check_real

__all__ = [
    "SPLITS",
    "DEFAULT_ROOT",
    "ENV_ROOT",
    "TEST_FRACTION",
    "SPLIT_SEED",
    "data_root",
    "root_and_source",
    "root_rule",
    "check_bool",
    "check_optional_real",
    "check_scale",
    "check_size",
    "require_path",
    "check_relative",
    "contained",
    "apply_scale",
    "shape_images",
    "split_mask",
]

#: The splits every loader takes.
SPLITS = ("train", "test")
#: The data root when neither the ``root`` argument nor ``$LAYERWISE_DATA`` gives one.
DEFAULT_ROOT = "~/.cache/layerwise"
#: The environment variable naming the data root.
ENV_ROOT = "LAYERWISE_DATA"
#: :func:`split_mask`'s defaults: the fraction of each stratum that goes to ``test``, and the seed.
TEST_FRACTION = 0.2
SPLIT_SEED = 0


# --------------------------------------------------------------------------------------------
# The data root
# --------------------------------------------------------------------------------------------
def root_and_source(root: str | os.PathLike | None) -> tuple[Path, str]:
    """The data root and how it was chosen, for error messages.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The ``root`` argument of a loader.

    Returns
    -------
    root : pathlib.Path
        As :func:`data_root`.
    source : str
        ``"the root argument"``, ``"$LAYERWISE_DATA"`` or a sentence naming the default.

    Raises
    ------
    TypeError
        When ``root`` is neither None nor a path.
    """
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(
                f"The 'root' parameter must be a path (str or os.PathLike) or None. "
                f"Got {type(root).__name__} instead."
            )
        return Path(root).expanduser(), "the root argument"
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env).expanduser(), f"${ENV_ROOT}"
    return Path(DEFAULT_ROOT).expanduser(), f"the default {DEFAULT_ROOT} (no root argument, ${ENV_ROOT} unset)"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder where data sets are looked for and downloaded to.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Used as given (``~`` expanded) when not None.

    Returns
    -------
    pathlib.Path
        ``root``, else ``$LAYERWISE_DATA`` when set and non-empty, else ``~/.cache/layerwise``.
        The folder need not exist.
    """
    return root_and_source(root)[0]


def root_rule(how: str, base: Path) -> str:
    """The phrase of a "not found" message that says which data root was searched and why.

    Parameters
    ----------
    how : str
        The source returned by :func:`root_and_source`.
    base : pathlib.Path
        The data root.

    Returns
    -------
    str
        ``"under the data root <base> (taken from <how>; the rule is: ...)"``.
    """
    return (
        f"under the data root {base} (taken from {how}; the rule is: the root argument, else "
        f"${ENV_ROOT}, else {DEFAULT_ROOT})"
    )


# --------------------------------------------------------------------------------------------
# Option checks
# --------------------------------------------------------------------------------------------
def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool, or raise TypeError naming ``name``.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : Any
        A ``bool`` or ``numpy.bool_``; anything else (``1``, ``"yes"``) is refused.

    Returns
    -------
    bool
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The '{name}' parameter must be a bool. Got {value!r} instead.")
    return bool(value)


def check_optional_real(name: str, value: Any) -> float | None:
    """None, or ``value`` checked as a float (:func:`layerwise._validation.check_real`).

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : Any
        None or a real number.

    Returns
    -------
    float or None
    """
    return None if value is None else check_real(name, value)


def check_scale(scale: Any) -> str | float | None:
    """Check a loader's ``scale`` argument: ``'unit'``, None or a positive number.

    Parameters
    ----------
    scale : Any
        The value given.

    Returns
    -------
    'unit', None or float
    """
    if scale is None or scale == "unit":
        return scale
    if isinstance(scale, Real) and not isinstance(scale, bool):
        return check_real("scale", scale, 0.0, low_open=True)
    raise ValueError(f"The 'scale' parameter must be 'unit', None or a positive number. Got {scale!r} instead.")


def check_size(size: Any, optional: bool = False) -> tuple[int, int] | None:
    """Check an image ``size`` option: a pair of positive ints ``(width, height)``.

    Parameters
    ----------
    size : Any
        The value given.
    optional : bool
        Whether None is accepted (and returned).

    Returns
    -------
    tuple of (int, int) or None
    """
    if optional and size is None:
        return None
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in size)
    ):
        what = "None or a pair" if optional else "a pair"
        raise ValueError(
            f"The 'size' parameter must be {what} of positive ints (width, height). Got {size!r} instead."
        )
    return int(size[0]), int(size[1])


def require_path(name: str, path: Any) -> Path:
    """The ``path`` option of a loader that reads your own files (``arrays``, ``image-folder``).

    Parameters
    ----------
    name : str
        The data set, for the message.
    path : str, os.PathLike or None
        The value given; None means it was not given.

    Returns
    -------
    pathlib.Path
        ``~`` expanded; the file need not exist.
    """
    if path is None:
        raise TypeError(f"load({name!r}) needs path=..., the file or folder to read.")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"The 'path' parameter must be a str or os.PathLike. Got {type(path).__name__} instead.")
    return Path(path).expanduser()


# --------------------------------------------------------------------------------------------
# Files listed by a data set
# --------------------------------------------------------------------------------------------
def check_relative(path: str, where: str) -> str:
    """Refuse a listed file name that leaves its folder by its spelling alone (fast; no file is touched).

    Parameters
    ----------
    path : str
        A file name from a data set's metadata (``images/x.jpg``), relative to its folder.
    where : str
        The file and row it comes from, for the message.

    Returns
    -------
    str
        ``path``, which is relative and has no ``..`` component.

    Raises
    ------
    ValueError
        Naming ``where`` and ``path``.
    """
    parts = path.replace("\\", "/").split("/")
    if os.path.isabs(path) or path.startswith(("/", "\\")) or ".." in parts or "\0" in path:
        raise ValueError(
            f"{where}: the listed file {path!r} leaves the data set's folder (an absolute path or a '..' "
            f"component); listed files must be relative paths inside it."
        )
    return path


def contained(folder: str | os.PathLike, path: str | os.PathLike, where: str) -> Path:
    """``folder / path`` with every symlink resolved, refused when it lies outside ``folder``.

    Parameters
    ----------
    folder : str or os.PathLike
        The data set's folder (itself resolved first, so a symlinked data folder is fine).
    path : str or os.PathLike
        A listed file, relative to ``folder`` (or absolute).
    where : str
        The file and row it comes from, for the message.

    Returns
    -------
    pathlib.Path
        The resolved file (which need not exist).

    Raises
    ------
    ValueError
        When the resolved file is not inside the resolved ``folder``, naming ``where``, the
        listed path and where it leads.
    """
    base = Path(folder).resolve()
    target = (base / path).resolve()
    if base not in target.parents:
        raise ValueError(
            f"{where}: the listed file {str(path)!r} resolves to {target}, outside the data set's folder "
            f"{base} (symlinks followed); refusing to read it."
        )
    return target


# --------------------------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------------------------
def apply_scale(x: torch.Tensor, scale: str | float | None, unit: float | None) -> torch.Tensor:
    """Apply a checked ``scale`` to ``x``, in place.

    Parameters
    ----------
    x : torch.Tensor
        Raw values, float.
    scale : 'unit', None or float
        From :func:`check_scale`: ``'unit'`` divides by ``unit``, a number divides by it, None
        leaves ``x`` as it is.
    unit : float or None
        The format's maximum (255 for 8-bit pixels); None when unknown: ``'unit'`` then leaves
        ``x`` as it is.

    Returns
    -------
    torch.Tensor
        ``x`` itself.
    """
    if scale is None:
        return x
    if scale == "unit":
        return x if unit is None else x.div_(unit)
    return x.div_(float(scale))


def shape_images(x: torch.Tensor, flatten: bool) -> torch.Tensor:
    """``(N, H, W)`` or ``(N, C, H, W)`` images to ``(N, D)`` (``flatten``) or ``(N, C, H, W)``.

    Parameters
    ----------
    x : torch.Tensor
        The images.
    flatten : bool
        One row per example, or a channel axis.

    Returns
    -------
    torch.Tensor
    """
    if flatten:
        return x.reshape(x.shape[0], -1)
    return x.unsqueeze(1) if x.dim() == 3 else x


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------
def split_mask(strata, fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> np.ndarray:
    """Deterministic stratified test mask (the split of ``digits`` and of the face sets).

    For each stratum ``s >= 0`` in sorted order, a permutation from one
    ``numpy.random.default_rng(seed)`` puts ``floor(fraction * n_s + 0.5)`` of its ``n_s`` rows
    in the test split. Rows with ``s < 0`` (unlabelled) are never in it.

    Parameters
    ----------
    strata : array-like of int
        The stratum of each row.
    fraction : float
        In [0, 1].
    seed : int
        The generator's seed.

    Returns
    -------
    numpy.ndarray
        bool, True for the test rows.
    """
    strata = np.asarray(strata, dtype=np.int64)
    fraction = check_real("fraction", fraction, 0.0, 1.0)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    test = np.zeros(len(strata), dtype=bool)
    for s in np.unique(strata[strata >= 0]):
        members = np.flatnonzero(strata == s)
        test[rng.permutation(members)[: int(math.floor(fraction * len(members) + 0.5))]] = True
    return test
