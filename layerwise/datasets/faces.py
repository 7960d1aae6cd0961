"""Face photos with sex labels: IMDB-WIKI (``wiki``, ``imdb``) and UTKFace (``utkface``).

These are the loaders behind ``datasets.load("wiki" | "imdb" | "utkface", split, root=...)``, for
the lecture's "predict a person's sex from a face photo" experiment. They read the data root in
place and never copy an image anywhere (both sets are for non-commercial research only); what they
keep is a cache of the prepared, downsized arrays. The metadata readers live in
:mod:`layerwise.datasets.imdb_wiki` and :mod:`layerwise.datasets.utkface`; their public names are
re-exported here.

Conventions shared by the three loaders
---------------------------------------
Labels
    ``y = 1`` female, ``y = 0`` male: :data:`SEX_CLASSES` ``= ("male", "female")``, index = label.
    This is UTKFace's own convention. IMDB-WIKI stores ``gender`` 1 male, 0 female, NaN unknown,
    so its label is ``y = 1 - gender``; rows of unknown sex are dropped.
Split
    Neither set has a train/test split. Each row of the full labelled table is assigned once:
    within each stratum, a permutation from ``numpy.random.default_rng(SPLIT_SEED)`` (seed 0,
    strata in sorted order, as the digits split) sends ``floor(0.2 n + 0.5)`` rows to ``test``
    and the rest to ``train`` (:func:`split_mask`). Strata: the label for IMDB-WIKI; label x
    (age >= 18) for UTKFace, so ``adults_only`` keeps a stratified 80/20 split too. Filters
    (cleaning thresholds, ``adults_only``, ``limit``) act after the assignment, so changing
    them never moves an example from one split to the other.
``limit``
    Keep the first ``limit`` examples of the split in a fixed shuffled order of the table
    (ranks from ``numpy.random.default_rng(1).permutation(n_rows)``); only those are decoded.
    The examples are returned in table order.
Pixels
    The image is cropped (IMDB-WIKI: the face box plus ``margin``; UTKFace: a central ``crop``),
    converted to grayscale (Pillow's ``"L"``: ``0.299 R + 0.587 G + 0.114 B``) or RGB, and
    resized to ``size = (width, height)`` with Pillow's bilinear filter (antialiased when
    shrinking). Images that are missing, do not decode, or have an unusable face box are counted
    skips: one warning and the summary name them; they never stop the load.
Paths
    A listed image must lie inside the folder of its metadata file (``labels.csv``'s folder,
    the ``.mat``'s folder): an absolute path or a ``..`` component is refused when the table is
    read, and each image's path is resolved (symlinks followed) before it is opened; one that
    leads outside the folder stops the load with a ValueError naming the row.
Summary
    One paragraph of what was dropped and why, printed when ``verbose=True`` (the default) and
    returned in ``info["summary"]`` with ``return_info=True``.
Cache
    The prepared uint8 arrays are saved as ``<name>-<split>-<key>.npz``, ``key`` a SHA-256 of the
    options that change them and the metadata file's path, size and mtime (edited images are
    not noticed: pass ``cache=False`` or delete the file). Folder: ``cache_dir`` if given, else
    ``<root>/.layerwise-cache/faces/``, else (data root read-only) ``~/.cache/layerwise/faces/``
    (:func:`cache_dirs`). A cached load returns identical arrays without opening an image.

IMDB-WIKI layout (Rothe, Timofte & Van Gool, DEX, ICCVW 2015)
-------------------------------------------------------------
``<root>/imdb-wiki/wiki_crop/wiki.mat``, else ``<root>/wiki_crop/wiki.mat`` (``imdb_crop/imdb.mat``
for ``imdb``); the images lie beside the ``.mat``, at ``full_path`` (``NN/xxx.jpg``). The file
holds a struct named like it, with fields :data:`IMDB_WIKI_FIELDS`, each 1 x N
(:mod:`layerwise.datasets.imdb_wiki`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._files import share_like_umask
from .._validation import check_choice, check_int, check_real, optional_module
from . import imdb_wiki, utkface
from ._common import (
    SPLIT_SEED,
    SPLITS,
    TEST_FRACTION,
    apply_scale,
    check_bool,
    check_optional_real,
    check_scale,
    check_size,
    contained,
    data_root,
    shape_images,
    split_mask,
)
from .imdb_wiki import (
    DROP_REASONS,
    IMDB_WIKI_FIELDS,
    age_at_photo,
    clean_imdb_wiki,
    find_imdb_wiki,
    imdb_wiki_table,
)
from .utkface import UTKFACE_FOLDER, labels_path, utkface_table

__all__ = [
    "SEX_CLASSES",
    "IMDB_WIKI_FIELDS",
    "DROP_REASONS",
    "SKIP_REASONS",
    "TEST_FRACTION",
    "SPLIT_SEED",
    "ORDER_SEED",
    "UTKFACE_FOLDER",
    "load",
    "find_imdb_wiki",
    "imdb_wiki_table",
    "age_at_photo",
    "clean_imdb_wiki",
    "utkface_table",
    "split_mask",
    "cache_dirs",
    "cached",
    "locate",
    "OPTIONS",
]

NAMES = ("wiki", "imdb", "utkface")

#: Class names, index = label: ``y = 0`` male, ``y = 1`` female (UTKFace's convention).
SEX_CLASSES = ("male", "female")

#: Why an image of a kept row is skipped while loading.
SKIP_REASONS = ("missing", "unreadable", "bad_face_box")

#: The seed of ``limit``'s order. :data:`TEST_FRACTION` (0.2, the fraction of each stratum that
#: goes to ``test``) and :data:`SPLIT_SEED` (0, the split's seed) come from the package's split.
ORDER_SEED = 1

CACHE_VERSION = 1
_DROP_TEXT = {
    "gender_unknown": "unknown gender (NaN)",
    "no_face": "no face found (face_score = -inf)",
    "low_face_score": "face_score below {min_face_score}",
    "second_face": "a second face (second_face_score not NaN)",
    "implausible_age": "age outside [{min_age}, {max_age}]",
}
_DEFAULTS = {
    "size": (32, 32),
    "grayscale": True,
    "margin": 0.4,
    "crop": 1.0,
    "min_face_score": 1.0,
    "drop_second_face": True,
    "min_age": 0,
    "max_age": 100,
    "adults_only": False,
    "limit": None,
    "cache_dir": None,
    "cache": True,
    "verbose": True,
    "return_info": False,
}
# Options that change the prepared arrays (and so the cache key).
_KEYED = ("size", "grayscale", "margin", "crop", "min_face_score", "drop_second_face", "min_age", "max_age",
          "adults_only", "limit")


_FACE_OPTIONS = ("size", "grayscale", "limit", "cache", "cache_dir", "verbose", "return_info")
#: The options :func:`load` accepts for each data set, in the order error messages list them.
OPTIONS = {
    "wiki": _FACE_OPTIONS + ("margin", "min_face_score", "drop_second_face", "min_age", "max_age"),
    "imdb": _FACE_OPTIONS + ("margin", "min_face_score", "drop_second_face", "min_age", "max_age"),
    "utkface": _FACE_OPTIONS + ("crop", "adults_only"),
}


# --------------------------------------------------------------------------------------------
# Option checks (before any work)
# --------------------------------------------------------------------------------------------
def _check_path(name: str, value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"The '{name}' parameter must be a path (str or os.PathLike) or None. Got {value!r} instead.")
    return Path(value).expanduser()


def _check_options(name: str, options: dict) -> dict:
    """Fill in the defaults and check every option's type and range; returns the full dict."""
    accepted = OPTIONS[name]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"load({name!r}) got unexpected option(s) {unknown}; it accepts {', '.join(accepted)}.")
    o = {k: options.get(k, _DEFAULTS[k]) for k in accepted}
    o["size"] = check_size(o["size"])
    for flag in ("grayscale", "drop_second_face", "adults_only", "cache", "verbose", "return_info"):
        if flag in o:
            o[flag] = check_bool(flag, o[flag])
    if "margin" in o:
        o["margin"] = check_real("margin", o["margin"], 0.0)
    if "crop" in o:
        o["crop"] = check_real("crop", o["crop"], 0.0, 1.0, low_open=True)
    if "min_face_score" in o:
        o["min_face_score"] = check_optional_real("min_face_score", o["min_face_score"])
        o["min_age"] = check_optional_real("min_age", o["min_age"])
        o["max_age"] = check_optional_real("max_age", o["max_age"])
        if o["min_age"] is not None and o["max_age"] is not None and o["min_age"] > o["max_age"]:
            raise ValueError(
                f"The 'min_age' parameter must not exceed 'max_age'. Got min_age={o['min_age']:g} "
                f"and max_age={o['max_age']:g} instead."
            )
    if o["limit"] is not None:
        o["limit"] = check_int("limit", o["limit"], 1)
    o["cache_dir"] = _check_path("cache_dir", o["cache_dir"])
    return o


def locate(name: str, root: str | os.PathLike | None = None) -> tuple[bool, str]:
    """``(found, location)`` for :func:`layerwise.datasets.available`: the file that would be read.

    Parameters
    ----------
    name : {'wiki', 'imdb', 'utkface'}
        The data set.
    root : str or os.PathLike, optional
        The data root.

    Returns
    -------
    found : bool
        Whether the metadata file exists (the images are not checked).
    location : str
        The file (IMDB-WIKI) or folder (UTKFace) found, else the first place looked at.
    """
    name = check_choice("name", name, NAMES)
    if name == "utkface":
        return utkface.locate(name, root)
    return imdb_wiki.locate(name, root)


# --------------------------------------------------------------------------------------------
# Limit (the split itself is _common.split_mask)
# --------------------------------------------------------------------------------------------
def _select(rows: np.ndarray, in_split: np.ndarray, n_table: int, limit: int | None) -> np.ndarray:
    """The table rows to load: ``rows[in_split]``, cut to the ``limit`` first of the fixed order."""
    chosen = rows[in_split]
    if limit is not None and len(chosen) > limit:
        rank = np.empty(n_table, dtype=np.int64)
        rank[np.random.default_rng(ORDER_SEED).permutation(n_table)] = np.arange(n_table)
        chosen = np.sort(chosen[np.argsort(rank[chosen], kind="stable")[:limit]])
    return chosen


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
class _BadBox(ValueError):
    pass


def _margin_box(box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` widened by ``margin`` x its width / height on each side, clipped, as ints.

    Coordinates are Pillow's crop box (0-based, right and bottom excluded); the one-pixel
    difference from MATLAB's 1-based inclusive ``img(y1:y2, x1:x2)`` is ignored.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or w <= 0 or h <= 0:
        raise _BadBox(f"face box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is empty or not finite")
    left = max(0, math.floor(x1 - margin * w))
    top = max(0, math.floor(y1 - margin * h))
    right = min(width, math.ceil(x2 + margin * w))
    bottom = min(height, math.ceil(y2 + margin * h))
    if right <= left or bottom <= top:
        raise _BadBox(f"face box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the {width}x{height} image")
    return left, top, right, bottom


def _central_box(crop: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The central ``crop`` fraction of each side (at least one pixel)."""
    w, h = max(1, round(crop * width)), max(1, round(crop * height))
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h


def _read_image(path: str, box, o: dict) -> np.ndarray:
    """One image -> uint8 (H, W) or (H, W, 3): crop, convert, resize."""
    Image = optional_module("PIL.Image", "faces", "Reading face photos")

    with Image.open(path) as im:
        im.load()
        if box is not None:
            im = im.crop(_margin_box(box, o["margin"], *im.size))
        elif o.get("crop", 1.0) < 1.0:
            im = im.crop(_central_box(o["crop"], *im.size))
        im = im.convert("L" if o["grayscale"] else "RGB")
        if im.size != o["size"]:
            im = im.resize(o["size"], Image.Resampling.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def _read_images(paths, boxes, o: dict, what: str, folder: Path, rows: list[str]):
    """Decode every image; returns (pixels (n, C, H, W) uint8, ok mask, skip counts).

    Each path is resolved first (symlinks followed) and refused, naming its row (``rows[i]``),
    when it leads outside ``folder``.
    """
    Image = optional_module("PIL.Image", "faces", "Reading face photos")
    from tqdm.auto import tqdm

    w, h = o["size"]
    channels = 1 if o["grayscale"] else 3
    out = np.zeros((len(paths), h, w, channels), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    skipped = {r: 0 for r in SKIP_REASONS}
    examples = []
    for i in tqdm(range(len(paths)), desc=what, unit="img", disable=None if len(paths) > 500 else True, leave=False):
        contained(folder, paths[i], rows[i])
        try:
            pixels = _read_image(paths[i], None if boxes is None else boxes[i], o)
        except FileNotFoundError:
            reason = "missing"
        except _BadBox as exc:
            reason, detail = "bad_face_box", str(exc)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            reason, detail = "unreadable", f"{type(exc).__name__}: {exc}"
        else:
            out[i] = pixels.reshape(h, w, channels)
            ok[i] = True
            continue
        skipped[reason] += 1
        if len(examples) < 5:
            examples.append(f"{paths[i]} ({'not found' if reason == 'missing' else detail})")
    return out.transpose(0, 3, 1, 2), ok, skipped, examples


def _warn_skips(name: str, skipped: dict, examples: list) -> None:
    total = sum(skipped.values())
    if total:
        counts = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in skipped.items() if n)
        warnings.warn(
            f"{name}: skipped {total} image(s) ({counts}), e.g. " + "; ".join(examples) + (" ..." if total > 5 else ""),
            UserWarning,
            stacklevel=4,
        )


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------
def _writable(folder: Path) -> bool:
    """Whether files may be created under ``folder`` (or its nearest existing parent).

    A folder whose permission bits forbid writing counts as read-only even for root, who could
    write anyway: the shared data root is marked so on purpose.
    """
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    try:
        mode = probe.stat().st_mode
    except OSError:
        return False
    return probe.is_dir() and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(probe, os.W_OK)


def cache_dirs(root: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """The cache folders, in the order they are searched; new cache files go to the first writable one.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The data root (:func:`layerwise.datasets.data_root`).
    cache_dir : str or os.PathLike, optional
        When given, the only folder.

    Returns
    -------
    list of pathlib.Path
        ``[cache_dir]``, else ``[<root>/.layerwise-cache/faces, ~/.cache/layerwise/faces]``.
    """
    cache_dir = _check_path("cache_dir", cache_dir)
    if cache_dir is not None:
        return [cache_dir]
    return [data_root(root) / ".layerwise-cache" / "faces", Path.home() / ".cache" / "layerwise" / "faces"]


def _cache_name(name: str, split: str, source: Path, o: dict) -> str:
    st = source.stat()
    keyed = {k: (list(o[k]) if isinstance(o[k], tuple) else o[k]) for k in _KEYED if k in o}
    blob = {"version": CACHE_VERSION, "name": name, "split": split, "options": keyed,
            "source": [str(source.resolve()), st.st_size, st.st_mtime_ns]}
    key = hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]
    return f"{name}-{split}-{key}.npz"


def _cache_read(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in ("X", "y", "age", "row", "path")}
            data.update(json.loads(str(f["meta"])))
        return data
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        warnings.warn(f"ignoring the unreadable cache file {path} ({exc}); preparing the arrays again.",
                      UserWarning, stacklevel=4)
        return None


def _cache_write(folders: list[Path], filename: str, data: dict) -> Path | None:
    for folder in folders:
        if not _writable(folder):
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
        except OSError:
            continue
        try:
            meta = json.dumps({k: data[k] for k in ("summary", "dropped", "skipped")})
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, X=data["X"], y=data["y"], age=data["age"], row=data["row"],
                         path=data["path"], meta=np.array(meta))
            share_like_umask(tmp)  # mkstemp's 0o600 would hide a shared cache from other users
            os.replace(tmp, folder / filename)
            return folder / filename
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            warnings.warn(f"could not write the cache file in {folder} ({exc}).", UserWarning, stacklevel=4)
    warnings.warn(
        f"no cache written: none of {', '.join(str(f) for f in folders)} is writable; pass cache_dir= "
        "to a writable folder (or cache=False to silence this).",
        UserWarning,
        stacklevel=4,
    )
    return None


def cached(name: str, split: str = "train", root: str | os.PathLike | None = None, **options: Any) -> Path | None:
    """The cache file that :func:`load` with these arguments would read, or None when there is none.

    Parameters
    ----------
    name : {'wiki', 'imdb', 'utkface'}
        The data set.
    split : {'train', 'test'}
        The split.
    root : str or os.PathLike, optional
        The data root (:func:`layerwise.datasets.data_root`).
    **options
        As for :func:`load`; only those that change the arrays (and ``cache_dir``) matter.

    Returns
    -------
    pathlib.Path or None
        The first cache folder's file (:func:`cache_dirs`) holding these arrays.

    Raises
    ------
    TypeError, ValueError, FileNotFoundError
        As :func:`load` does for bad options or a missing metadata file.
    """
    name = check_choice("name", name, NAMES)
    split = check_choice("split", split, SPLITS)
    o = _check_options(name, options)
    source = labels_path(root) if name == "utkface" else find_imdb_wiki(name, root)
    filename = _cache_name(name, split, source, o)
    return next((d / filename for d in cache_dirs(root, o["cache_dir"]) if (d / filename).is_file()), None)


# --------------------------------------------------------------------------------------------
# Preparing one split
# --------------------------------------------------------------------------------------------
def _fmt_counts(counts: dict, texts: dict) -> str:
    parts = [f"{n:,} {texts.get(r, r.replace('_', ' '))}" for r, n in counts.items() if n]
    return ", ".join(parts) if parts else "none"


def _prepare_imdb_wiki(name: str, split: str, source: Path, o: dict) -> tuple[dict, str, list]:
    table = imdb_wiki_table(source)
    test = split_mask(table["y"])
    cleaned, dropped = clean_imdb_wiki(table, min_face_score=o["min_face_score"],
                                       drop_second_face=o["drop_second_face"], min_age=o["min_age"],
                                       max_age=o["max_age"])
    rows = _select(cleaned["row"], test[cleaned["row"]] == (split == "test"), len(table["row"]), o["limit"])
    bounds = {k: "-inf" if o[k] is None else f"{o[k]:g}" for k in ("min_face_score", "min_age")}
    bounds["max_age"] = "inf" if o["max_age"] is None else f"{o['max_age']:g}"
    texts = {r: t.format(**bounds) for r, t in _DROP_TEXT.items()}
    head = (f"{name}: {len(table['row']):,} entries in {source}; dropped {_fmt_counts(dropped, texts)} "
            f"(each row counted under its first reason, in that order); kept {len(cleaned['row']):,}")
    paths = [str(source.parent / p) for p in table["full_path"][rows]]
    sel = {"row": rows, "y": table["y"][rows], "age": table["age"][rows].astype(np.int64), "path": paths,
           "box": table["face_location"][rows], "dropped": dropped}
    return sel, head, [f"crop = face box + {o['margin']:g} x its size on each side"]


def _prepare_utkface(split: str, source: Path, o: dict) -> tuple[dict, str, list]:
    table = utkface_table(source.parent.parent)
    labelled = table["gender"] >= 0
    adult = table["age"] >= 18
    test = split_mask(np.where(labelled, 2 * table["gender"] + adult, -1))
    dropped = {"gender_unknown": int(np.sum(~labelled)),
               "under_18": int(np.sum(labelled & ~adult)) if o["adults_only"] else 0}
    keep = labelled & (adult if o["adults_only"] else True)
    rows = _select(table["row"], keep & (test == (split == "test")), len(table["row"]), o["limit"])
    texts = {"gender_unknown": "with a blank gender", "under_18": "under 18 (adults_only)"}
    head = (f"utkface: {len(table['row']):,} rows in {source}; dropped {_fmt_counts(dropped, texts)}; "
            f"kept {int(keep.sum()):,}")
    sel = {"row": rows, "y": table["y"][rows], "age": table["age"][rows], "path": list(table["path"][rows]),
           "box": None, "dropped": dropped}
    crop = "whole image (already aligned and cropped)" if o["crop"] == 1.0 else f"central {o['crop']:g} of each side"
    return sel, head, [f"crop = {crop}"]


def _prepare(name: str, split: str, source: Path, o: dict) -> dict:
    if name == "utkface":
        sel, head, notes = _prepare_utkface(split, source, o)
    else:
        sel, head, notes = _prepare_imdb_wiki(name, split, source, o)
    if len(sel["row"]) == 0:
        raise ValueError(f"{name}: no rows of split {split!r} are left to load: {head}.")
    line = (lambda r: f"line {r + 2}") if name == "utkface" else (lambda r: f"row {r}")
    rows = [f"{source}, {line(int(r))}" for r in sel["row"]]
    X, ok, skipped, examples = _read_images(sel["path"], sel["box"], o, f"{name} {split}", source.parent, rows)
    if not ok.any():
        where = f"beside {source}, at its full_path (NN/xxx.jpg)" if name != "utkface" else f"in {source.parent}"
        raise ValueError(
            f"{name}: none of the images of the {len(ok):,} selected rows of split {split!r} could be read "
            f"({_fmt_counts(skipped, {})}), e.g. {'; '.join(examples[:3])}. The images must lie {where}."
        )
    _warn_skips(name, skipped, examples)
    limit = f", the first {o['limit']:,} of the fixed order" if o["limit"] is not None else ""
    summary = (f"{head}. Split {split!r} ({TEST_FRACTION:.0%} of each stratum to test, seed {SPLIT_SEED}"
               f"{limit}): {len(ok):,} rows; images: {int(ok.sum()):,} read, skipped "
               f"{_fmt_counts(skipped, {})}. {'; '.join(notes)}; {'grayscale' if o['grayscale'] else 'RGB'}, "
               f"resized to {o['size'][0]}x{o['size'][1]}; y = 1 female, 0 male.")
    return {"X": X[ok], "y": np.asarray(sel["y"])[ok].astype(np.int64), "age": np.asarray(sel["age"])[ok],
            "row": sel["row"][ok], "path": np.array(sel["path"], dtype=str)[ok], "summary": summary,
            "dropped": sel["dropped"], "skipped": skipped}


def load(
    name: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    flatten: bool = True,
    scale: str | float | None = "unit",
    **options: Any,
):
    """Load face photos with sex labels; :func:`layerwise.datasets.load` calls this one.

    Parameters
    ----------
    name : {'wiki', 'imdb', 'utkface'}
        IMDB-WIKI's parts (see the module docstring for the layout) or UTKFace crop_part1
        (``<root>/utkface-crop_part1/labels.csv`` and ``images/``).
    split : {'train', 'test'}
        The deterministic stratified 80/20 split of the module docstring.
    root : str or os.PathLike, optional
        The data root (:func:`layerwise.datasets.data_root`).
    flatten, scale
        As in :func:`layerwise.datasets.load` (``'unit'`` divides by 255).
    **options
        All loaders: ``size`` ((width, height), default (32, 32)), ``grayscale`` (default True;
        False: RGB), ``limit`` (int or None), ``cache`` (default True), ``cache_dir`` (path or
        None: :func:`cache_dirs`), ``verbose`` (print the summary; default True),
        ``return_info`` (default False: True returns ``(X, y, info)``).
        ``wiki`` / ``imdb``: ``margin`` (default 0.4: the face box grows by 0.4 x its width on
        the left and on the right, 0.4 x its height above and below, then is clipped to the
        image), ``min_face_score`` (1.0), ``drop_second_face`` (True), ``min_age`` (0),
        ``max_age`` (100): :func:`clean_imdb_wiki`.
        ``utkface``: ``crop`` (fraction of each side kept by a central crop, in (0, 1]; default
        1.0, the whole image: the photos are already aligned face crops, so there is no face
        box to add a margin to), ``adults_only`` (default False; True keeps age >= 18).

    Returns
    -------
    X : torch.Tensor
        float32, ``(N, C*H*W)`` or ``(N, C, H, W)``; ``C = 1`` grayscale, 3 RGB.
    y : torch.Tensor
        int64, 1 female, 0 male (:data:`SEX_CLASSES`).
    info : dict
        Only with ``return_info=True``: ``row`` (index into :func:`imdb_wiki_table` /
        :func:`utkface_table`), ``age``, ``path`` (arrays, one per example), ``summary``,
        ``dropped`` (table-stage counts), ``skipped`` (image-stage counts, :data:`SKIP_REASONS`),
        ``cache`` (the cache file or None) and ``from_cache``.

    Raises
    ------
    TypeError, ValueError
        Bad options, before any file is opened.
    FileNotFoundError
        No metadata file, naming where it was looked for.
    ValueError
        A malformed metadata file, or not one image of the split could be read.
    """
    name = check_choice("name", name, NAMES)
    split = check_choice("split", split, SPLITS)
    flatten = check_bool("flatten", flatten)
    scale = check_scale(scale)
    o = _check_options(name, options)
    source = labels_path(root) if name == "utkface" else find_imdb_wiki(name, root)
    folders = cache_dirs(root, o["cache_dir"])
    filename = _cache_name(name, split, source, o)
    data, where = None, None
    if o["cache"]:
        where = next((d / filename for d in folders if (d / filename).is_file()), None)
        data = _cache_read(where) if where is not None else None
    from_cache = data is not None
    if not from_cache:
        data = _prepare(name, split, source, o)
        where = _cache_write(folders, filename, data) if o["cache"] else None
    summary = data["summary"] + (f" Loaded from the cache {where}." if from_cache else
                                 f" Cached in {where}." if where else "")
    if o["verbose"]:
        print(summary)
    x = torch.from_numpy(np.ascontiguousarray(data["X"])).to(torch.float32)
    x = shape_images(apply_scale(x, scale, 255.0), flatten)
    y = torch.from_numpy(np.asarray(data["y"], dtype=np.int64))
    if not o["return_info"]:
        return x, y
    info = {"row": data["row"], "age": data["age"], "path": data["path"], "summary": summary,
            "dropped": data["dropped"], "skipped": data["skipped"], "cache": where, "from_cache": from_cache}
    return x, y, info
