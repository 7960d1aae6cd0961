"""IMDB-WIKI's metadata (Rothe, Timofte & Van Gool, DEX, ICCVW 2015): find, read and clean it.

Layout: ``<root>/imdb-wiki/wiki_crop/wiki.mat``, else ``<root>/wiki_crop/wiki.mat``
(``imdb_crop/imdb.mat`` for ``imdb``); the images lie beside the ``.mat``, at ``full_path``
(``NN/xxx.jpg``). The file holds a struct named like it, with fields :data:`IMDB_WIKI_FIELDS`,
each 1 x N. Nothing here opens an image: :mod:`layerwise.datasets.faces` loads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_choice
from ._common import ENV_ROOT, check_bool, check_relative, check_optional_real, data_root, root_and_source, root_rule

__all__ = [
    "NAMES",
    "IMDB_WIKI_FIELDS",
    "DROP_REASONS",
    "find_imdb_wiki",
    "imdb_wiki_table",
    "age_at_photo",
    "clean_imdb_wiki",
    "locate",
]

#: IMDB-WIKI's two parts.
NAMES = ("wiki", "imdb")

#: The fields of the IMDB-WIKI struct, each 1 x N.
IMDB_WIKI_FIELDS = (
    "dob", "photo_taken", "full_path", "gender", "name", "face_location", "face_score", "second_face_score",
)

#: Why :func:`clean_imdb_wiki` drops a row, in the order tested: each row counts under the first.
DROP_REASONS = ("gender_unknown", "no_face", "low_face_score", "second_face", "implausible_age")

_MATLAB_EPOCH = 719529  # datenum of 1970-01-01 (MATLAB's day 1 is 0000-01-01)


# --------------------------------------------------------------------------------------------
# Where the files are
# --------------------------------------------------------------------------------------------
def _imdb_wiki_candidates(name: str, base: Path) -> list[Path]:
    rel = Path(f"{name}_crop") / f"{name}.mat"
    return [base / "imdb-wiki" / rel, base / rel]


def find_imdb_wiki(name: str = "wiki", root: str | os.PathLike | None = None) -> Path:
    """The IMDB-WIKI metadata file, looked for in a fixed order.

    Parameters
    ----------
    name : {'wiki', 'imdb'}
        Which part.
    root : str or os.PathLike, optional
        The data root (:func:`layerwise.datasets.data_root`).

    Returns
    -------
    pathlib.Path
        The first that exists of ``<root>/imdb-wiki/<name>_crop/<name>.mat`` (the layout of the
        shared data root) and ``<root>/<name>_crop/<name>.mat`` (the unpacked archive dropped in
        the root).

    Raises
    ------
    FileNotFoundError
        Naming both places looked at and how the data root was chosen.
    """
    name = check_choice("name", name, NAMES)
    base, how = root_and_source(root)
    candidates = _imdb_wiki_candidates(name, base)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{name} metadata not found: looked for {candidates[0]}, then {candidates[1]}, {root_rule(how, base)}. "
        f"Put IMDB-WIKI's {name}_crop/ folder ({name}.mat and its NN/ image folders) in {base / 'imdb-wiki'}, "
        f"or set {ENV_ROOT} (or root=) to the folder that holds it."
    )



def locate(name: str, root: str | os.PathLike | None = None) -> tuple[bool, str]:
    """``(found, location)`` for :func:`layerwise.datasets.available`: the file that would be read.

    Parameters
    ----------
    name : {'wiki', 'imdb'}
        Which part.
    root : str or os.PathLike, optional
        The data root.

    Returns
    -------
    found : bool
        Whether the metadata file exists (the images are not checked).
    location : str
        The file found, else the first place looked at.
    """
    candidates = _imdb_wiki_candidates(name, data_root(root))
    found = next((p for p in candidates if p.is_file()), None)
    return found is not None, str(found or candidates[0])


# --------------------------------------------------------------------------------------------
# IMDB-WIKI metadata
# --------------------------------------------------------------------------------------------
def _cell_str(value: Any) -> str:
    """One cell of a MATLAB cell array of strings -> str ('' when empty); nested cells unwrapped."""
    while isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        value = value.ravel()[0]
    return "" if value is None else str(value)


def _column_str(field: np.ndarray) -> np.ndarray:
    values = np.asarray(field)
    if values.dtype.kind == "U":  # a char matrix (one padded row per entry), not a cell array
        return np.array([str(v).rstrip() for v in values.ravel()], dtype=str)
    return np.array([_cell_str(v) for v in values.ravel()], dtype=str)


def _column_float(field: np.ndarray) -> np.ndarray:
    values = np.asarray(field)
    if values.dtype != object:
        return values.astype(np.float64).ravel()
    out = []
    for v in values.ravel():
        v = np.asarray(v, dtype=np.float64).ravel()
        out.append(v[0] if v.size else np.nan)
    return np.array(out, dtype=np.float64)


def _column_boxes(field: np.ndarray, n: int) -> np.ndarray:
    values = np.asarray(field)
    if values.dtype != object:  # a numeric (N, 4) or MATLAB-ordered (4, N) matrix
        values = values.astype(np.float64)
        if values.ndim == 2 and values.shape == (4, n) and n != 4:
            values = values.T
        return values.reshape(n, 4)
    boxes = np.full((values.size, 4), np.nan)
    for i, v in enumerate(values.ravel()):
        v = np.asarray(v, dtype=np.float64).ravel()
        if v.size == 4:
            boxes[i] = v
    return boxes


def _read_struct(mat_path: Path, key: str | None):
    import scipy.io
    import scipy.io.matlab

    try:
        mat = scipy.io.loadmat(mat_path, squeeze_me=False, struct_as_record=True)
    except (scipy.io.matlab.MatReadError, NotImplementedError, ValueError, TypeError, OSError, IndexError,
            KeyError, EOFError) as exc:  # what loadmat raises on garbage varies with the bytes
        raise ValueError(f"{mat_path}: could not read it as a MATLAB .mat file (v5/v7): {exc}") from exc
    variables = sorted(k for k in mat if not k.startswith("__"))
    if key is None:
        key = mat_path.stem if mat_path.stem in variables else (variables[0] if len(variables) == 1 else None)
    if key not in variables:
        raise ValueError(
            f"{mat_path}: expected one struct variable (named {mat_path.stem!r}) with fields "
            f"{', '.join(IMDB_WIKI_FIELDS)}; found the variable(s) {variables}."
        )
    struct = mat[key]
    names = struct.dtype.names or ()
    missing = [f for f in IMDB_WIKI_FIELDS if f not in names]
    if missing or struct.size != 1:
        what = f"lacks the field(s) {missing}" if missing else f"is a {struct.shape} struct array, not one struct"
        raise ValueError(
            f"{mat_path}: the variable {key!r} {what}; an IMDB-WIKI struct has the fields "
            f"{', '.join(IMDB_WIKI_FIELDS)} (found: {', '.join(names) or 'no fields, not a struct'})."
        )
    return struct.ravel()[0]


def imdb_wiki_table(mat_path: str | os.PathLike, key: str | None = None) -> dict[str, np.ndarray]:
    """Read the metadata of an IMDB-WIKI ``.mat`` file as a table, without opening an image.

    Parameters
    ----------
    mat_path : str or os.PathLike
        ``wiki.mat`` or ``imdb.mat`` (MATLAB v5/v7, read by ``scipy.io.loadmat``).
    key : str, optional
        The struct's variable name; by default the file's stem (``wiki``), else its only variable.

    Returns
    -------
    dict of numpy.ndarray
        N entries each: ``row`` (0..N-1), ``full_path`` (str, relative to the ``.mat``'s folder),
        ``name`` (str, '' when empty), ``gender`` (float: 1 male, 0 female, NaN unknown), ``y``
        (int: ``1 - gender``, 1 female, 0 male, -1 unknown), ``dob`` (MATLAB datenum),
        ``photo_taken`` (year), ``age`` (:func:`age_at_photo`; float, NaN when unknown),
        ``face_score`` (-inf: no face found), ``second_face_score`` (NaN: no second face),
        ``face_location`` ((N, 4) float: x1, y1, x2, y2 in pixels; NaN when malformed).

    Raises
    ------
    FileNotFoundError
        When ``mat_path`` does not exist.
    ValueError
        Naming the file: not a ``.mat`` file, no struct, missing fields (named), fields of
        different lengths, or a ``full_path`` that is absolute or has a ``..`` component (naming
        the row; symlinks are checked when the images are read).
    """
    mat_path = Path(mat_path)
    if not mat_path.is_file():
        raise FileNotFoundError(f"IMDB-WIKI .mat file not found: {mat_path}")
    record = _read_struct(mat_path, key)
    table = {
        "full_path": _column_str(record["full_path"]),
        "name": _column_str(record["name"]),
        "gender": _column_float(record["gender"]),
        "dob": _column_float(record["dob"]),
        "photo_taken": _column_float(record["photo_taken"]),
        "face_score": _column_float(record["face_score"]),
        "second_face_score": _column_float(record["second_face_score"]),
    }
    n = len(table["full_path"])
    lengths = {k: len(v) for k, v in table.items()}
    if len(set(lengths.values())) != 1 or np.asarray(record["face_location"]).size not in (n, 4 * n):
        lengths["face_location"] = np.asarray(record["face_location"]).size
        raise ValueError(f"{mat_path}: the struct's fields must all hold N entries; found lengths {lengths}.")
    for i, p in enumerate(table["full_path"]):
        check_relative(p, f"{mat_path}, full_path of row {i}")
    table["face_location"] = _column_boxes(record["face_location"], n)
    table["age"] = age_at_photo(table["dob"], table["photo_taken"])
    g = table["gender"]
    table["y"] = np.where(np.isnan(g), -1, 1 - np.nan_to_num(g)).astype(np.int64)
    table["row"] = np.arange(n, dtype=np.int64)
    return table


def age_at_photo(dob, photo_taken) -> np.ndarray:
    """Age in completed years on July 1st of the year the photo was taken (DEX's convention).

    ``age = photo_taken - year(dob) - [(month, day)(dob) > (7, 1)]``, the date of birth from the
    MATLAB datenum ``dob`` (day 1 = 0000-01-01, so Python's ordinal is ``dob - 366``; the
    fraction of a day is dropped).

    Parameters
    ----------
    dob : array-like
        MATLAB datenums.
    photo_taken : array-like
        Years.

    Returns
    -------
    numpy.ndarray
        float64 whole numbers; NaN where either input is not finite.
    """
    dob = np.floor(np.asarray(dob, dtype=np.float64))
    taken = np.asarray(photo_taken, dtype=np.float64)
    finite = np.isfinite(dob) & np.isfinite(taken)
    days = np.where(finite, dob - _MATLAB_EPOCH, 0).astype(np.int64).astype("datetime64[D]")
    month_start = days.astype("datetime64[M]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (days - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    after_july_1st = (month > 7) | ((month == 7) & (day > 1))
    return np.where(finite, taken - year - after_july_1st, np.nan)


def _drop_masks(table: dict, min_face_score, drop_second_face, min_age, max_age) -> list[np.ndarray]:
    score, age = table["face_score"], table["age"]
    no_face = np.isneginf(score) | np.isnan(score)
    low = np.zeros(len(score), bool) if min_face_score is None else score < min_face_score
    second = ~np.isnan(table["second_face_score"]) if drop_second_face else np.zeros(len(score), bool)
    bad_age = np.isnan(age)
    if min_age is not None:
        bad_age |= age < min_age
    if max_age is not None:
        bad_age |= age > max_age
    return [np.isnan(table["gender"]), no_face, low, second, bad_age]


def clean_imdb_wiki(
    table: dict[str, np.ndarray],
    *,
    min_face_score: float | None = 1.0,
    drop_second_face: bool = True,
    min_age: float | None = 0,
    max_age: float | None = 100,
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Drop the IMDB-WIKI rows unfit for sex prediction, counting why.

    The tests run in the order of :data:`DROP_REASONS`, and a row failing several counts under
    the first only, so ``sum(drop_counts.values()) + len(kept) == len(table)``:

    1. ``gender_unknown``: ``gender`` is NaN (no label);
    2. ``no_face``: ``face_score`` is -inf (the detector found no face; NaN counts too);
    3. ``low_face_score``: ``face_score < min_face_score``;
    4. ``second_face``: ``second_face_score`` is not NaN (another face in the photo; which one is
       the labelled person is unknown);
    5. ``implausible_age``: :func:`age_at_photo` NaN or outside ``[min_age, max_age]``.

    Parameters
    ----------
    table : dict of numpy.ndarray
        From :func:`imdb_wiki_table` (at least ``gender``, ``face_score``,
        ``second_face_score`` and ``age``).
    min_face_score : float or None
        Threshold of reason 3 (DEX's detector score; None: no threshold). Rows without a face
        are always dropped: there is no box to crop.
    drop_second_face : bool
        Apply reason 4.
    min_age, max_age : float or None
        Bounds of reason 5 (None: unbounded on that side).

    Returns
    -------
    cleaned : dict of numpy.ndarray
        The kept rows of every column, in table order (``row`` says where each came from).
    drop_counts : dict of str to int
        Reason -> number of rows, in the order above, every reason present.
    """
    min_face_score = check_optional_real("min_face_score", min_face_score)
    drop_second_face = check_bool("drop_second_face", drop_second_face)
    min_age = check_optional_real("min_age", min_age)
    max_age = check_optional_real("max_age", max_age)
    needed = ("gender", "face_score", "second_face_score", "age")
    missing = [k for k in needed if k not in table]
    if missing:
        raise ValueError(f"clean_imdb_wiki needs a table from imdb_wiki_table(); it lacks the column(s) {missing}.")
    reason = np.full(len(table["gender"]), -1)
    for i, mask in enumerate(_drop_masks(table, min_face_score, drop_second_face, min_age, max_age)):
        reason[(reason == -1) & mask] = i
    counts = {r: int(np.sum(reason == i)) for i, r in enumerate(DROP_REASONS)}
    keep = reason == -1
    return {k: v[keep] for k, v in table.items()}, counts


