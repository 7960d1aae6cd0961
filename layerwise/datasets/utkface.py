"""UTKFace crop_part1's labels: ``<root>/utkface-crop_part1/labels.csv`` and ``images/``.

Nothing here opens an image: :mod:`layerwise.datasets.faces` loads them.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ._common import check_relative, data_root, root_and_source, root_rule

__all__ = ["UTKFACE_FOLDER", "labels_path", "utkface_table", "locate"]

#: The folder under the data root.
UTKFACE_FOLDER = "utkface-crop_part1"


def labels_path(root: str | os.PathLike | None = None) -> Path:
    """The UTKFace label file, ``<root>/utkface-crop_part1/labels.csv``.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The data root (:func:`layerwise.datasets.data_root`).

    Returns
    -------
    pathlib.Path
        The file, which exists.

    Raises
    ------
    FileNotFoundError
        Naming where it was looked for and how the data root was chosen.
    """
    base, how = root_and_source(root)
    path = base / UTKFACE_FOLDER / "labels.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"utkface labels not found: looked for {path}, {root_rule(how, base)}. Expected the folder "
            f"{UTKFACE_FOLDER}/ with labels.csv (path,age,gender,...) and images/*.jpg.chip.jpg."
        )
    return path


def locate(name: str = "utkface", root: str | os.PathLike | None = None) -> tuple[bool, str]:
    """``(found, location)`` for :func:`layerwise.datasets.available`.

    Parameters
    ----------
    name : str
        Ignored (``'utkface'``).
    root : str or os.PathLike, optional
        The data root.

    Returns
    -------
    found : bool
        Whether ``labels.csv`` exists (the images are not checked).
    location : str
        The folder ``<root>/utkface-crop_part1``.
    """
    path = data_root(root) / UTKFACE_FOLDER / "labels.csv"
    return path.is_file(), str(path.parent)


def _parse_int(text: str, what: str, where: str, allowed: tuple[int, ...] | None = None) -> int:
    text = text.strip()
    if text == "":
        return -1
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 0 or (allowed is not None and value not in allowed):
        rule = f"one of {allowed}" if allowed else "a non-negative int"
        raise ValueError(f"{where}: {what} must be {rule} or blank; found {text!r}.")
    return value


def utkface_table(root: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Read ``<root>/utkface-crop_part1/labels.csv`` as a table, without opening an image.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The data root (:func:`layerwise.datasets.data_root`).

    Returns
    -------
    dict of numpy.ndarray
        One entry per CSV row (9,780 for crop_part1): ``row``, ``path`` (str, absolute),
        ``age`` (int), ``gender`` (int: 0 male, 1 female, -1 blank), ``y`` (= gender: UTKFace's
        convention is this package's) and ``race`` (0 White, 1 Black, 2 Asian, 3 Indian,
        4 Others, -1 blank). Two rows of crop_part1 have a blank gender; :func:`load` drops them.

    Raises
    ------
    FileNotFoundError
        Naming where labels.csv was looked for.
    ValueError
        Naming the file and line: missing columns, a non-integer age, a gender not 0/1/blank, a
        ``path`` that is absolute or has a ``..`` component (it must lie in the folder; symlinks
        are checked when the images are read).
    """
    path = labels_path(root)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("path", "age", "gender") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: the header lacks the column(s) {missing}; expected path,age,gender,race,...")
        rows = list(reader)
    ages, genders, races = [], [], []
    for line, r in enumerate(rows, start=2):
        where = f"{path}, line {line}"
        check_relative(r["path"] or "", where)
        ages.append(_parse_int(r["age"] or "", "age", where))
        genders.append(_parse_int(r["gender"] or "", "gender", where, (0, 1)))
        races.append(_parse_int(r.get("race") or "", "race", where, (0, 1, 2, 3, 4)))
    gender = np.array(genders, dtype=np.int64)
    return {
        "row": np.arange(len(rows), dtype=np.int64),
        "path": np.array([str(path.parent / r["path"]) for r in rows], dtype=str),
        "age": np.array(ages, dtype=np.int64),
        "gender": gender,
        "y": gender.copy(),
        "race": np.array(races, dtype=np.int64),
    }

