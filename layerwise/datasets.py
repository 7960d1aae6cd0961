"""Data sets as ``(X, y)`` tensors, the data root, an IDX reader, a checked downloader and transforms.

Every loader returns ``X`` as a float32 tensor, ``(N, D)`` by default or ``(N, C, H, W)`` with
``flatten=False`` (``C = 1`` for grayscale), and ``y`` as an int64 tensor of class indices
(``-1`` where a data set has no labels).

=================  =========================================================================
name               what
=================  =========================================================================
``digits``         scikit-learn's embedded 8x8 digits (1,797 images, no download); default
``mnist``          MNIST, the four original IDX ``.gz`` files in ``<root>/mnist/``
``fashion-mnist``  Fashion-MNIST, same file names and layout, in ``<root>/fashion-mnist/``
``arrays``         your own ``.npz`` / ``.npy`` / ``.csv`` file: ``load("arrays", path=...)``
``image-folder``   your own images, one sub-folder per class: ``load("image-folder", path=...)``
``wiki``           IMDB-WIKI face photos, sex labels, ``<root>/imdb-wiki/wiki_crop/wiki.mat``
``imdb``           the same for IMDB-WIKI's imdb part, ``<root>/imdb-wiki/imdb_crop/imdb.mat``
``utkface``        UTKFace crop_part1 face photos, sex labels, ``<root>/utkface-crop_part1/``
=================  =========================================================================

The face sets (y = 1 female, 0 male) are read by :mod:`layerwise.faces`, which documents their
options, cleaning, split and cache.

The data root is the ``root`` argument, else ``$LAYERWISE_DATA``, else ``~/.cache/layerwise``
(:func:`data_root`). Downloads (``download=True``, MNIST-likes only) are verified against the
SHA-256 table :data:`SHA256` and written atomically.

Transforms are small callables on a batch (first dimension = examples) that chain with
:class:`Compose`: :class:`Flatten`, :class:`Binarize`, :class:`Divide`, :class:`Standardize`.
:func:`label_fraction` keeps a stratified fraction of the labels, for semi-supervised runs.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zlib
from numbers import Real
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from ._validation import as_float_tensor, check_choice, check_finite, check_real, check_unit_interval

__all__ = [
    "load",
    "data_root",
    "read_idx",
    "download",
    "available",
    "format_available",
    "NAMES",
    "SPLITS",
    "SHA256",
    "DEFAULT_MIRRORS",
    "DIGITS_TEST_FRACTION",
    "DIGITS_SPLIT_SEED",
    "Compose",
    "Flatten",
    "Binarize",
    "Divide",
    "Scale",
    "Standardize",
    "label_fraction",
]

NAMES = ("digits", "mnist", "fashion-mnist", "arrays", "image-folder", "wiki", "imdb", "utkface")
SPLITS = ("train", "test")
DEFAULT_ROOT = "~/.cache/layerwise"
ENV_ROOT = "LAYERWISE_DATA"
ENV_MIRROR = "LAYERWISE_MIRROR"

#: digits: the fraction of each class that goes to the test split, and the split's seed.
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0

# The IDX files of each split, (images, labels), as named by the original distributions.
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: SHA-256 of the original ``.gz`` files (from ``shared/data/*/PROVENANCE.md``; the files'
#: MD5s there match the published ones that torchvision and TensorFlow check).
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

#: Public mirrors tried in order when neither ``mirror`` nor ``$LAYERWISE_MIRROR`` is given;
#: each is the folder holding that data set's four files (torchvision's and TensorFlow's).
DEFAULT_MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

_DESCRIPTIONS = {
    "digits": "scikit-learn's 8x8 digits, 1,797 images, 10 classes (embedded, no download)",
    "mnist": "MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grayscale",
    "fashion-mnist": "Fashion-MNIST clothing, 60,000 train / 10,000 test, 28x28 grayscale",
    "arrays": "your .npz / .npy / .csv file: load('arrays', path=...)",
    "image-folder": "your PNG/JPEG images, one sub-folder per class: load('image-folder', path=...)",
    "wiki": "IMDB-WIKI 'wiki' face photos, sex labels (62,328 entries before cleaning; wiki.mat + images)",
    "imdb": "IMDB-WIKI 'imdb' face photos, sex labels (imdb.mat + images)",
    "utkface": "UTKFace crop_part1, 9,780 aligned 200x200 face photos, sex and age labels",
}

_FACE_OPTIONS = ("size", "grayscale", "limit", "cache", "cache_dir", "verbose", "return_info")
_OPTIONS = {
    "digits": (),
    "mnist": (),
    "fashion-mnist": (),
    "arrays": ("path", "label_column", "delimiter", "shape"),
    "image-folder": ("path", "size", "grayscale", "return_classes"),
    # faces.py: wiki / imdb / utkface
    "wiki": _FACE_OPTIONS + ("margin", "min_face_score", "drop_second_face", "min_age", "max_age"),
    "imdb": _FACE_OPTIONS + ("margin", "min_face_score", "drop_second_face", "min_age", "max_age"),
    "utkface": _FACE_OPTIONS + ("crop", "adults_only"),
}

# IDX type codes -> big-endian numpy dtypes (the format of LeCun's MNIST page).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_CHUNK = 1 << 20


# --------------------------------------------------------------------------------------------
# The data root
# --------------------------------------------------------------------------------------------
def _root_and_source(root: str | os.PathLike | None) -> tuple[Path, str]:
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
    return _root_and_source(root)[0]


# --------------------------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------------------------
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the format of MNIST), gzip-compressed or raw.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
    uint32; the payload is the values in C order, big-endian.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is decompressed when it starts with the gzip magic bytes or ends in ``.gz``.

    Returns
    -------
    numpy.ndarray
        The values, of the file's shape, in the native byte order.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Naming the file, when it is not valid gzip, its header is not IDX, or its payload is
        shorter or longer than the header's dimensions say.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: not a valid gzip file (corrupt or truncated download?): {exc}") from exc
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file: expected a 4-byte header, found {len(data)} byte(s).")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: the magic number must start with two zero bytes, "
            f"found 0x{data[0]:02x} 0x{data[1]:02x}."
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({d.name})" for c, d in _IDX_DTYPES.items())
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X}; expected one of {known}.")
    if ndim == 0:
        raise ValueError(f"{path}: the IDX header gives 0 dimensions; expected at least 1.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimension(s) need {header} bytes, "
            f"found {len(data)}."
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "too long"
        raise ValueError(
            f"{path}: {what}: expected {expected} bytes of data after the header "
            f"(shape {dims}, {dtype.name}), found {found}."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------
def _mirror_urls(name: str, mirror: str | None) -> tuple[list[str], str]:
    if mirror is None:
        mirror = os.environ.get(ENV_MIRROR) or None
        origin = f"${ENV_MIRROR}"
    else:
        origin = "the mirror argument"
    if mirror is None:
        return list(DEFAULT_MIRRORS[name]), "the default mirrors"
    if not isinstance(mirror, str):
        raise TypeError(f"The 'mirror' parameter must be a URL string or None. Got {type(mirror).__name__} instead.")
    scheme = urllib.parse.urlsplit(mirror).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(
            f"The mirror URL from {origin} must start with http://, https:// or file://. Got {mirror!r} instead."
        )
    if "{name}" in mirror:
        base = mirror.format(name=name)
    else:
        base = mirror.rstrip("/") + "/" + name
    return [base.rstrip("/") + "/"], origin


def _fetch(url: str, target: Path, sha256: str) -> None:
    """Download ``url`` to ``target`` via a temporary file in the same folder; check SHA-256."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = None
            if total is not None:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=None, leave=False)
            try:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        got = digest.hexdigest()
        if got != sha256:
            raise ValueError(
                f"checksum mismatch for {target.name} downloaded from {url}: "
                f"expected sha256 {sha256}, got {got}. The file was not saved."
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def download(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    split: str | None = None,
    mirror: str | None = None,
) -> list[Path]:
    """Fetch the missing files of a downloadable data set into the data root.

    Each file is written to a temporary file beside its target, its SHA-256 checked against
    :data:`SHA256`, then moved into place with ``os.replace``; on any failure the temporary
    file is removed, so the data root never holds a partial or unverified file. Files already
    present are left alone.

    Parameters
    ----------
    name : {'mnist', 'fashion-mnist'}
        The data set.
    root : str or os.PathLike, optional
        The data root (see :func:`data_root`); files go to ``<root>/<name>/``.
    split : {'train', 'test'}, optional
        Fetch only this split's two files; None fetches all four.
    mirror : str, optional
        Base URL; a file is fetched from ``<mirror>/<name>/<file>`` (the layout of the data
        root, so a data root served over HTTP is a mirror), or, when ``mirror`` contains
        ``{name}``, from ``mirror.format(name=name) + "/" + file``. Defaults to
        ``$LAYERWISE_MIRROR``, else the public mirrors of :data:`DEFAULT_MIRRORS`, tried in order.
        ``http://``, ``https://`` and ``file://`` URLs are accepted.

    Returns
    -------
    list of pathlib.Path
        The files written (empty when nothing was missing).

    Raises
    ------
    ValueError
        "checksum mismatch" with the file, expected and received SHA-256.
    OSError
        When no mirror could deliver a file (naming the URLs tried).
    """
    name = check_choice("name", name, tuple(SHA256))
    splits = SPLITS if split is None else (check_choice("split", split, SPLITS),)
    folder = data_root(root) / name
    files = [f for s in splits for f in _IDX_FILES[s]]
    missing = [f for f in files if not (folder / f).is_file()]
    if not missing:
        return []
    urls, origin = _mirror_urls(name, mirror)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for filename in missing:
            errors = []
            for base in urls:
                url = base + filename
                try:
                    _fetch(url, folder / filename, SHA256[name][filename])
                except (urllib.error.URLError, OSError) as exc:  # HTTPError is a URLError
                    errors.append(f"{url}: {exc}")
                    continue
                written.append(folder / filename)
                break
            else:
                raise OSError(
                    f"could not download {filename} for {name!r} from {origin}: "
                    + "; ".join(errors)
                    + f". Pass mirror= (or set ${ENV_MIRROR}) to a reachable copy, or put the "
                    f"files in {folder} yourself."
                )
    finally:
        if created and not written:
            try:
                folder.rmdir()
            except OSError:
                pass
    return written


# --------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------
def _check_scale(scale: Any) -> str | float | None:
    if scale is None or scale == "unit":
        return scale
    if isinstance(scale, Real) and not isinstance(scale, bool):
        return check_real("scale", scale, 0.0, low_open=True)
    raise ValueError(f"The 'scale' parameter must be 'unit', None or a positive number. Got {scale!r} instead.")


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The '{name}' parameter must be a bool. Got {value!r} instead.")
    return bool(value)


def _apply_scale(x: torch.Tensor, scale: str | float | None, unit: float | None) -> torch.Tensor:
    """``unit``: the divisor of scale='unit' (the format's maximum), None when unknown."""
    if scale is None:
        return x
    if scale == "unit":
        return x if unit is None else x.div_(unit)
    return x.div_(float(scale))


def _shape_images(x: torch.Tensor, flatten: bool) -> torch.Tensor:
    """(N, H, W) or (N, C, H, W) -> (N, D) or (N, C, H, W)."""
    if flatten:
        return x.reshape(x.shape[0], -1)
    return x.unsqueeze(1) if x.dim() == 3 else x


def _load_digits(split: str, flatten: bool, scale) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    data = np.asarray(bunch.data, dtype=np.float32)  # (1797, 64), values 0..16
    target = np.asarray(bunch.target, dtype=np.int64)
    test = np.zeros(len(target), dtype=bool)
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    for c in np.unique(target):
        members = np.flatnonzero(target == c)
        n_test = int(math.floor(DIGITS_TEST_FRACTION * len(members) + 0.5))
        test[rng.permutation(members)[:n_test]] = True
    keep = test if split == "test" else ~test
    x = torch.from_numpy(data[keep].reshape(-1, 8, 8).copy())
    y = torch.from_numpy(target[keep].copy())
    return _shape_images(_apply_scale(x, scale, 16.0), flatten), y


def _find_idx(folder: Path, filename: str) -> Path | None:
    for candidate in (folder / filename, folder / filename[: -len(".gz")]):
        if candidate.is_file():
            return candidate
    return None


def _missing_error(name: str, root: Path, how: str, missing: list[Path]) -> FileNotFoundError:
    shown = ", ".join(str(p) for p in missing)
    return FileNotFoundError(
        f"{name} file(s) not found: {shown}. Looked in {root / name}, under the data root {root} "
        f"(taken from {how}; the rule is: the root argument, else ${ENV_ROOT}, else {DEFAULT_ROOT}). "
        f"Pass download=True to fetch the files, or set {ENV_ROOT} (or root=) to a folder whose "
        f"{name}/ sub-folder holds {', '.join(_IDX_FILES['train'] + _IDX_FILES['test'])}."
    )


def _load_idx_set(name, split, root, flatten, scale, dl, mirror) -> tuple[torch.Tensor, torch.Tensor]:
    base, how = _root_and_source(root)
    folder = base / name
    if dl:
        download(name, base, split=split, mirror=mirror)
    image_file, label_file = _IDX_FILES[split]
    paths = [_find_idx(folder, f) for f in (image_file, label_file)]
    if any(p is None for p in paths):
        missing = [folder / f for f, p in zip((image_file, label_file), paths) if p is None]
        raise _missing_error(name, base, how, missing)
    image_path, label_path = paths
    images = read_idx(image_path)
    labels = read_idx(label_path)
    if images.ndim != 3:
        raise ValueError(f"{image_path}: expected a 3-d IDX file of images (N, H, W); found shape {images.shape}.")
    if labels.ndim != 1:
        raise ValueError(f"{label_path}: expected a 1-d IDX file of labels (N,); found shape {labels.shape}.")
    if len(images) != len(labels):
        raise ValueError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels; "
            "the counts must be equal."
        )
    x = torch.from_numpy(images).to(torch.float32)
    y = torch.from_numpy(labels.astype(np.int64))
    unit = 255.0 if images.dtype == np.uint8 else None
    return _shape_images(_apply_scale(x, scale, unit), flatten), y


def _require_path(name: str, options: dict) -> Path:
    if "path" not in options or options["path"] is None:
        raise TypeError(f"load({name!r}) needs path=..., the file or folder to read.")
    path = options["path"]
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"The 'path' parameter must be a str or os.PathLike. Got {type(path).__name__} instead.")
    return Path(path).expanduser()


def _integral_labels(values: np.ndarray, where: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == bool:
        return values.astype(np.int64)
    if not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"{where}: labels must be numbers; found dtype {values.dtype}.")
    if np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{where}: labels must be integers (class indices); found {values[i]!r} at row {i}."
            )
    return values.astype(np.int64)


def _read_csv(path: Path, label_column, delimiter) -> tuple[np.ndarray, np.ndarray | None]:
    with open(path, encoding="utf-8") as fh:
        first = ""
        for line in fh:
            if line.strip():
                first = line
                break
    if not first:
        raise ValueError(f"{path}: the file is empty; expected rows of numbers.")
    fields = [f.strip() for f in (first.split(delimiter) if delimiter else first.split())]
    try:
        [float(f) for f in fields]
        skip = 0
    except ValueError:
        skip = 1  # a header line
    try:
        table = np.loadtxt(path, delimiter=delimiter, skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: could not read it as numeric {path.suffix[1:].upper()}: {exc}") from exc
    if label_column is None:
        return table, None
    n_cols = table.shape[1]
    if isinstance(label_column, bool) or not isinstance(label_column, (int, np.integer)) or not (
        -n_cols <= label_column < n_cols
    ):
        raise ValueError(
            f"The 'label_column' parameter must be None or an int in the range [{-n_cols}, {n_cols - 1}] "
            f"({path} has {n_cols} columns). Got {label_column!r} instead."
        )
    col = int(label_column) % n_cols
    labels = _integral_labels(table[:, col], f"{path}, label column {label_column}")
    return np.delete(table, col, axis=1), labels


_NPZ_KEYS = (("X", "y"), ("x", "y"), ("data", "target"))


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: could not read it as .npz: {exc}") from exc
    with archive:
        keys = set(archive.files)
        for xk, yk in _NPZ_KEYS:
            if xk in keys:
                try:
                    x = archive[xk]
                    y = archive[yk] if yk in keys else None
                except ValueError as exc:  # object arrays need pickle, which we never allow
                    raise ValueError(f"{path}: could not read key {xk!r}/{yk!r}: {exc}") from exc
                return x, y
    pairs = ", ".join(f"{a}/{b}" for a, b in _NPZ_KEYS)
    raise ValueError(f"{path}: found keys {sorted(keys)}; expected one of the pairs {pairs} (labels optional).")


def _load_arrays(split, flatten, scale, options) -> tuple[torch.Tensor, torch.Tensor]:
    path = _require_path("arrays", options)
    if not path.is_file():
        raise FileNotFoundError(f"arrays file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        x, y = _read_npz(path)
    elif suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(f"{path}: could not read it as .npy: {exc}") from exc
        y = None
    elif suffix in (".csv", ".tsv"):
        delimiter = options.get("delimiter", "," if suffix == ".csv" else "\t")
        x, y = _read_csv(path, options.get("label_column", -1), delimiter)
    else:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; expected .npz, .npy, .csv or .tsv.")
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{path}: X must hold numbers; found dtype {x.dtype}.")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(
            f"{path}: X must be an array with one row per example, at least 2-d and non-empty; "
            f"found shape {x.shape}."
        )
    if y is None:
        y = np.full(x.shape[0], -1, dtype=np.int64)
    else:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != x.shape[0]:
            raise ValueError(f"{path}: y must be 1-d with one label per row of X ({x.shape[0]}); found shape {y.shape}.")
        y = _integral_labels(y, str(path))
    t = check_finite(f"X from {path}", torch.from_numpy(x.astype(np.float32)))
    if scale == "unit":
        lo, hi = float(t.min()), float(t.max())
        if lo < 0.0 or hi > 1.0:
            warnings.warn(
                f"{path}: values lie in [{lo:.4g}, {hi:.4g}], not [0, 1], and are returned as stored "
                "(arrays have no known maximum). Pass scale=<number> to divide by it (scale=255 for "
                "8-bit pixels), or scale=None to keep them as stored without this warning.",
                UserWarning,
                stacklevel=3,
            )
    t = _apply_scale(t, scale, None)
    if flatten:
        return t.reshape(t.shape[0], -1), torch.from_numpy(y)
    shape = options.get("shape")
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        if math.prod(shape) != math.prod(t.shape[1:]):
            raise ValueError(
                f"The 'shape' parameter {shape} does not fit examples of shape {tuple(t.shape[1:])} from {path}."
            )
        t = t.reshape(t.shape[0], *shape)
    elif t.dim() == 3:
        t = t.unsqueeze(1)
    return t, torch.from_numpy(y)


def _load_image_folder(split, flatten, scale, options):
    from PIL import Image

    path = _require_path("image-folder", options)
    if not path.is_dir():
        raise FileNotFoundError(f"image folder not found: {path} (expected a folder with one sub-folder per class)")
    if (path / split).is_dir() and all((path / s).is_dir() for s in SPLITS):
        path = path / split
    size = options.get("size")
    if size is not None:
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in size)
        ):
            raise ValueError(
                f"The 'size' parameter must be None or a pair of positive ints (width, height). Got {size!r} instead."
            )
        size = (int(size[0]), int(size[1]))
    grayscale = _check_bool("grayscale", options.get("grayscale", True))
    mode = "L" if grayscale else "RGB"
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"{path}: no class sub-folders; expected one sub-folder of images per class.")
    images, labels, skipped = [], [], []
    for index, cls in enumerate(classes):
        for file in sorted((path / cls).iterdir()):
            if not file.is_file() or file.suffix.lower() not in _IMAGE_SUFFIXES or file.name.startswith("."):
                continue
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
            f"{', '.join(_IMAGE_SUFFIXES)}."
        )
    stack = np.stack([p for _, p in images])  # (N, H, W) or (N, H, W, 3)
    if stack.ndim == 4:
        stack = stack.transpose(0, 3, 1, 2)  # (N, 3, H, W)
    x = _apply_scale(torch.from_numpy(np.ascontiguousarray(stack)).to(torch.float32), scale, 255.0)
    y = torch.tensor(labels, dtype=torch.int64)
    x = _shape_images(x, flatten)
    if _check_bool("return_classes", options.get("return_classes", False)):
        return x, y, classes
    return x, y


def load(
    name: str = "digits",
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    flatten: bool = True,
    scale: str | float | None = "unit",
    download: bool = False,
    mirror: str | None = None,
    **options: Any,
):
    """Load a data set as ``(X, y)`` tensors.

    Parameters
    ----------
    name : {'digits', 'mnist', 'fashion-mnist', 'arrays', 'image-folder', 'wiki', 'imdb', 'utkface'}
        The data set (case-insensitive; ``_`` may replace ``-``).

        ``digits``: scikit-learn's embedded 8x8 digits, split deterministically: for each class,
        a permutation from ``numpy.random.default_rng(0)`` puts round(20% of its examples) into
        ``test`` (359 of 1,797) and the rest into ``train`` (1,438); both keep the original order.
        ``mnist`` / ``fashion-mnist``: the IDX files in ``<root>/<name>/`` (``.gz``, or
        uncompressed without the ``.gz``).
        ``arrays`` / ``image-folder``: your own data, see ``options``.
        ``wiki`` / ``imdb`` / ``utkface``: face photos, y = 1 female, 0 male; a stratified 80/20
        split with seed 0; options and layout in :func:`layerwise.faces.load`.
    split : {'train', 'test'}
        Which split. ``arrays`` ignores it (the file is the data set); ``image-folder`` uses
        ``<path>/<split>/`` when ``path`` holds both ``train/`` and ``test/``, else all of ``path``.
    root : str or os.PathLike, optional
        The data root; see :func:`data_root`.
    flatten : bool
        True: ``X`` is ``(N, D)``. False: ``(N, C, H, W)``, ``C = 1`` for grayscale, 3 for RGB.
    scale : 'unit', None or float
        ``'unit'``: pixels in [0, 1] (divided by 16 for digits, by 255 for 8-bit images).
        None: raw values as float32 (0..16 for digits, 0..255 for MNIST and images), e.g. for the
        lecture's "divide by 128" (:class:`Divide`). A number: divide by it.
        ``arrays`` have no known maximum: ``'unit'`` returns them as stored and warns when they
        are outside [0, 1]; None returns them as stored silently; a number divides.
    download : bool
        MNIST-likes only: fetch missing files first (:func:`download`); ignored by the others.
    mirror : str, optional
        Where to download from; see :func:`download`.
    **options
        ``arrays``: ``path`` (required; ``.npz`` with keys ``X``/``y``, ``x``/``y`` or
        ``data``/``target``, labels optional; ``.npy`` holding X; ``.csv``/``.tsv`` of numbers, a
        non-numeric first line being skipped as a header), ``label_column`` (CSV: default -1,
        None for no labels), ``delimiter`` (CSV), ``shape`` (per-example shape for
        ``flatten=False``; by default 3-d X gains a channel axis and other X keep their shape).
        Without labels, ``y`` is -1 for every example.
        ``image-folder``: ``path`` (required; one sub-folder per class, class index = position
        in the sorted folder names; PNG/JPEG/BMP/GIF/TIFF/WebP read by Pillow; files that do not
        decode are skipped with one warning counting them), ``size`` ((width, height) to resize
        to, default: keep, all images must then share one size), ``grayscale`` (default True;
        False gives RGB), ``return_classes`` (default False; True returns ``(X, y, classes)``).
        ``wiki`` / ``imdb`` / ``utkface``: see :func:`layerwise.faces.load`.

    Returns
    -------
    X : torch.Tensor
        float32, ``(N, D)`` or ``(N, C, H, W)``.
    y : torch.Tensor
        int64 class indices, ``(N,)``; -1 where there are no labels.
    classes : list of str
        Only for ``image-folder`` with ``return_classes=True``.

    Raises
    ------
    ValueError
        Unknown name or split, bad option values, malformed files (naming the file).
    FileNotFoundError
        A missing file, naming where it was looked for and how the data root was chosen.
    TypeError
        An option the data set does not take.

    Examples
    --------
    >>> X, y = load("digits")                       # (1438, 64) in [0, 1]
    >>> X, y = load("mnist", "test", scale=None)    # (10000, 784), raw 0..255
    """
    if isinstance(name, str):
        name = name.lower().replace("_", "-")
    name = check_choice("name", name, NAMES)
    split = check_choice("split", split, SPLITS)
    flatten = _check_bool("flatten", flatten)
    scale = _check_scale(scale)
    download = _check_bool("download", download)
    unknown = sorted(set(options) - set(_OPTIONS[name]))
    if unknown:
        accepted = ", ".join(_OPTIONS[name]) or "no options"
        raise TypeError(f"load({name!r}) got unexpected option(s) {unknown}; it accepts {accepted}.")
    if name == "digits":
        return _load_digits(split, flatten, scale)
    if name in ("mnist", "fashion-mnist"):
        return _load_idx_set(name, split, root, flatten, scale, download, mirror)
    if name == "arrays":
        return _load_arrays(split, flatten, scale, options)
    if name in ("wiki", "imdb", "utkface"):
        from . import faces

        return faces.load(name, split, root, flatten=flatten, scale=scale, **options)
    return _load_image_folder(split, flatten, scale, options)


# --------------------------------------------------------------------------------------------
# What is available
# --------------------------------------------------------------------------------------------
def available(root: str | os.PathLike | None = None) -> list[dict]:
    """Describe every data set and whether it can be loaded now.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The data root; see :func:`data_root`.

    Returns
    -------
    list of dict
        One per data set, with keys ``name``, ``description``, ``location`` (where it is looked
        for), ``found`` (True when :func:`load` can run without a download: always for
        ``digits``, and for ``arrays`` / ``image-folder``, which read the path you give) and
        ``downloadable`` (whether ``download=True`` can fetch it).
    """
    base = data_root(root)
    rows = []
    for name in NAMES:
        if name in SHA256:
            folder = base / name
            files = _IDX_FILES["train"] + _IDX_FILES["test"]
            found = all(_find_idx(folder, f) is not None for f in files)
            location = str(folder)
        elif name == "digits":
            found, location = True, "inside scikit-learn (sklearn.datasets.load_digits)"
        elif name in ("wiki", "imdb", "utkface"):
            from . import faces

            found, location = faces.locate(name, base)
        else:
            found, location = True, "the path you pass: path=..."
        rows.append(
            {
                "name": name,
                "description": _DESCRIPTIONS[name],
                "location": location,
                "found": found,
                "downloadable": name in SHA256,
            }
        )
    return rows


def format_available(rows: Sequence[dict]) -> str:
    """Format :func:`available`'s rows as a plain-text table.

    Parameters
    ----------
    rows : sequence of dict
        Rows with keys ``name``, ``found``, ``location`` and ``description``.

    Returns
    -------
    str
        A header line and one aligned line per data set, without a trailing newline.
        ``found`` shows ``yes``, or ``no`` (plus ``(download=True)`` when it can be fetched).
    """
    table = [("name", "found", "location", "description")]
    for r in rows:
        found = "yes" if r["found"] else ("no (download=True)" if r.get("downloadable") else "no")
        table.append((str(r["name"]), found, str(r["location"]), str(r["description"])))
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in table]
    return "\n".join(line.rstrip() for line in lines)


# --------------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------------
class Compose:
    """Apply transforms in order: ``Compose([Divide(255), Binarize()])(X)``.

    Parameters
    ----------
    transforms : iterable of callable
        Each takes and returns a tensor.
    """

    def __init__(self, transforms: Iterable[Callable[[torch.Tensor], torch.Tensor]]):
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {i} must be callable. Got {t!r} instead.")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"Compose([{', '.join(repr(t) for t in self.transforms)}])"


class Flatten:
    """``(N, ...) -> (N, D)``: one row per example."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = as_float_tensor("x", x)
        if x.dim() == 0:
            raise ValueError("Flatten needs a batch with one example per row; got a 0-d tensor.")
        return x.reshape(x.shape[0], -1)

    def __repr__(self) -> str:
        return "Flatten()"


class Binarize:
    """Binary pixels: ``x > threshold`` gives 1, else 0; or Bernoulli samples with p = x.

    Parameters
    ----------
    threshold : float
        Deterministic mode: values strictly greater than it become 1 (as sklearn's Binarizer).
    stochastic : bool
        Sample each pixel from Bernoulli(x) (``x`` must lie in [0, 1]), as in Salakhutdinov &
        Murray's binarised MNIST. Each call draws fresh samples.
    seed : int, optional
        Seeds the sampler's own generator (reproducible sequence of calls); None uses torch's
        global RNG.
    """

    def __init__(self, threshold: float = 0.5, *, stochastic: bool = False, seed: int | None = None):
        self.threshold = check_real("threshold", threshold)
        self.stochastic = _check_bool("stochastic", stochastic)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"The 'seed' parameter must be an int or None. Got {seed!r} instead.")
        self.seed = None if seed is None else int(seed)
        self._generator: torch.Generator | None = None

    def _gen(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
        return self._generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = as_float_tensor("x", x)
        if not self.stochastic:
            return (x > self.threshold).to(x.dtype)
        check_unit_interval("x", x, "stochastic binarization (pixels are probabilities)")
        return torch.bernoulli(x, generator=self._gen(x.device))

    def __repr__(self) -> str:
        if self.stochastic:
            return f"Binarize(stochastic=True, seed={self.seed})"
        return f"Binarize(threshold={self.threshold})"


class Divide:
    """``x / divisor``; the lecture divides raw pixels (0..255) by 128.

    Parameters
    ----------
    divisor : float
        A positive number.
    """

    def __init__(self, divisor: float):
        self.divisor = check_real("divisor", divisor, 0.0, low_open=True)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return as_float_tensor("x", x) / self.divisor

    def __repr__(self) -> str:
        return f"Divide({self.divisor:g})"


#: The name ``_validation.check_unit_interval``'s message suggests (``datasets.Scale(255)``).
Scale = Divide


class Standardize:
    """Per-feature ``(x - mean) / std``, with mean and std from :meth:`fit`.

    Parameters
    ----------
    min_std : float
        Floor on the standard deviation, so constant features map to 0 instead of dividing by 0.

    Attributes
    ----------
    mean_, std_ : torch.Tensor
        Over the examples (dimension 0) of the data given to :meth:`fit`; ``std_`` is the
        population standard deviation, floored at ``min_std``.
    """

    def __init__(self, min_std: float = 1e-6):
        self.min_std = check_real("min_std", min_std, 0.0, low_open=True)
        self.mean_: torch.Tensor | None = None
        self.std_: torch.Tensor | None = None

    def fit(self, x: torch.Tensor) -> "Standardize":
        """Learn the per-feature mean and standard deviation of ``x`` (N, ...); returns self."""
        x = as_float_tensor("x", x)
        if x.dim() == 0 or x.shape[0] < 1:
            raise ValueError(f"Standardize.fit needs at least 1 example; got shape {tuple(x.shape)}.")
        self.mean_ = x.mean(dim=0)
        self.std_ = x.std(dim=0, correction=0).clamp_min(self.min_std)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean_ is None:
            raise RuntimeError("Standardize must be fitted first: call .fit(X_train), then apply it.")
        x = as_float_tensor("x", x)
        if tuple(x.shape[1:]) != tuple(self.mean_.shape):
            raise ValueError(
                f"Standardize was fitted on examples of shape {tuple(self.mean_.shape)}; "
                f"got shape {tuple(x.shape[1:])}."
            )
        return (x - self.mean_.to(x)) / self.std_.to(x)

    def fit_transform(self, x: torch.Tensor) -> torch.Tensor:
        """``fit(x)`` then apply to ``x``."""
        return self.fit(x)(x)

    def __repr__(self) -> str:
        return "Standardize()" if self.min_std == 1e-6 else f"Standardize(min_std={self.min_std:g})"


def label_fraction(X, y, fraction: float, seed: int = 0):
    """Keep a stratified fraction of the labelled examples, for training with few labels.

    From each class ``c`` with ``n_c`` labelled examples, ``max(1, floor(fraction * n_c + 0.5))``
    are drawn without replacement (a permutation from ``numpy.random.default_rng(seed)``).
    Examples labelled -1 (unlabelled) are never kept.

    Parameters
    ----------
    X : torch.Tensor or array-like
        Examples, first dimension N.
    y : torch.Tensor or array-like
        Integer labels, ``(N,)``.
    fraction : float
        In (0, 1].
    seed : int
        Seed of the draw.

    Returns
    -------
    X_sub : torch.Tensor
    y_sub : torch.Tensor
    indices : torch.Tensor
        int64 positions in ``X`` of the kept examples, ascending: ``X_sub = X[indices]``.
    """
    fraction = check_real("fraction", fraction, 0.0, 1.0, low_open=True)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"The 'seed' parameter must be an int. Got {seed!r} instead.")
    X = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    if y.dim() != 1 or X.dim() == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must hold the same number of examples, y 1-d; got X of shape {tuple(X.shape)} "
            f"and y of shape {tuple(y.shape)}."
        )
    if y.is_floating_point() or y.is_complex():
        raise ValueError(f"y must hold integer class labels; got dtype {y.dtype}.")
    labels = y.cpu().numpy().astype(np.int64)
    rng = np.random.default_rng(int(seed))
    keep = []
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == c)
        k = max(1, int(math.floor(fraction * len(members) + 0.5)))
        keep.append(rng.permutation(members)[:k])
    if not keep:
        raise ValueError("y holds no labelled examples (every label is -1); nothing to keep.")
    indices = torch.from_numpy(np.sort(np.concatenate(keep))).to(torch.int64)
    return X[indices.to(X.device)], y[indices.to(y.device)], indices
