"""IDX files (the format of MNIST), their checked download, and the MNIST-like data sets.

``mnist`` and ``fashion-mnist`` are the four original IDX ``.gz`` files (or the same without
``.gz``) in ``<root>/<name>/``, named as the original distributions name them. Downloads
(:func:`download`) are verified against the SHA-256 table :data:`SHA256` and written atomically.
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
import zlib
from pathlib import Path

import numpy as np
import torch

from .._files import share_like_umask
from .._validation import check_choice, check_finite
from ._common import (
    ENV_ROOT,
    SPLITS,
    apply_scale,
    check_bool,
    check_scale,
    data_root,
    root_and_source,
    root_rule,
    shape_images,
)

__all__ = ["read_idx", "download", "load", "locate", "NAMES", "SHA256", "DEFAULT_MIRRORS", "ENV_MIRROR"]

#: The data sets read from IDX files.
NAMES = ("mnist", "fashion-mnist")
#: The environment variable naming a download mirror.
ENV_MIRROR = "LAYERWISE_MIRROR"

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

# IDX type codes -> big-endian numpy dtypes (the format of LeCun's MNIST page).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CHUNK = 1 << 20


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
        share_like_umask(tmp)  # mkstemp's 0600 would hide a shared data root from other users
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


_download = download  # load's ``download`` flag hides the function's name inside load


# --------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST
# --------------------------------------------------------------------------------------------
def _find_idx(folder: Path, filename: str) -> Path | None:
    for candidate in (folder / filename, folder / filename[: -len(".gz")]):
        if candidate.is_file():
            return candidate
    return None


def _missing_error(name: str, root: Path, how: str, missing: list[Path]) -> FileNotFoundError:
    shown = ", ".join(str(p) for p in missing)
    return FileNotFoundError(
        f"{name} file(s) not found: {shown}. Looked in {root / name}, {root_rule(how, root)}. "
        f"Pass download=True to fetch the files, or set {ENV_ROOT} (or root=) to a folder whose "
        f"{name}/ sub-folder holds {', '.join(_IDX_FILES['train'] + _IDX_FILES['test'])}."
    )


def load(
    name: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    flatten: bool = True,
    scale: str | float | None = "unit",
    download: bool = False,
    mirror: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load ``mnist`` or ``fashion-mnist``; :func:`layerwise.datasets.load` calls this one.

    Parameters
    ----------
    name : {'mnist', 'fashion-mnist'}
        The data set: the IDX files in ``<root>/<name>/``, ``.gz`` or uncompressed without it.
    split : {'train', 'test'}
        The original split (60,000 / 10,000 examples).
    root : str or os.PathLike, optional
        The data root (:func:`layerwise.datasets.data_root`).
    flatten : bool
        True: ``X`` is ``(N, H*W)``. False: ``(N, 1, H, W)``.
    scale : 'unit', None or float
        ``'unit'``: divided by 255 (8-bit files; other types are returned as stored). None: raw.
        A number: divide by it.
    download : bool
        Fetch the split's missing files first (:func:`download`).
    mirror : str, optional
        Where to download from; see :func:`download`.

    Returns
    -------
    X : torch.Tensor
        float32, ``(N, D)`` or ``(N, 1, H, W)``.
    y : torch.Tensor
        int64 labels, ``(N,)``.

    Raises
    ------
    FileNotFoundError
        A missing file, naming where it was looked for and how the data root was chosen.
    ValueError
        A malformed file (naming it), image and label files of different lengths, or float
        pixels that are NaN or infinite (naming the file, their count and the first index).
    """
    name = check_choice("name", name, NAMES)
    split = check_choice("split", split, SPLITS)
    flatten = check_bool("flatten", flatten)
    scale = check_scale(scale)
    base, how = root_and_source(root)
    folder = base / name
    if check_bool("download", download):
        _download(name, base, split=split, mirror=mirror)
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
    if images.dtype.kind == "f":  # float IDX files can hold NaN / inf (or overflow float32)
        check_finite(f"pixels of {image_path}", x)
    y = torch.from_numpy(labels.astype(np.int64))
    unit = 255.0 if images.dtype == np.uint8 else None
    return shape_images(apply_scale(x, scale, unit), flatten), y


def locate(name: str, root: str | os.PathLike | None = None) -> tuple[bool, str]:
    """``(found, location)`` for :func:`layerwise.datasets.available`.

    Parameters
    ----------
    name : {'mnist', 'fashion-mnist'}
        The data set.
    root : str or os.PathLike, optional
        The data root.

    Returns
    -------
    found : bool
        Whether all four files (``.gz`` or uncompressed) are in ``<root>/<name>/``.
    location : str
        That folder.
    """
    folder = data_root(root) / name
    files = _IDX_FILES["train"] + _IDX_FILES["test"]
    return all(_find_idx(folder, f) is not None for f in files), str(folder)


