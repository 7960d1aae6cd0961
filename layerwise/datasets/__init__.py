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

:func:`load` finds a name in :data:`REGISTRY`, which maps it to the loader of its module:
:mod:`~layerwise.datasets.digits`, :mod:`~layerwise.datasets.idx` (MNIST-likes, the IDX reader
and the downloader), :mod:`~layerwise.datasets.arrays`, :mod:`~layerwise.datasets.image_folder`
and :mod:`~layerwise.datasets.faces` (y = 1 female, 0 male; it documents the face sets' options,
cleaning, split and cache, and reads the metadata through :mod:`~layerwise.datasets.imdb_wiki`
and :mod:`~layerwise.datasets.utkface`).

The data root is the ``root`` argument, else ``$LAYERWISE_DATA``, else ``~/.cache/layerwise``
(:func:`data_root`). Downloads (``download=True``, MNIST-likes only) are verified against the
SHA-256 table :data:`SHA256` and written atomically.

Transforms (:mod:`~layerwise.datasets.transforms`) are small callables on a batch (first
dimension = examples) that chain with :class:`Compose`: :class:`Flatten`, :class:`Binarize`,
:class:`Divide`, :class:`Standardize`. :func:`label_fraction` keeps a stratified fraction of the
labels, for semi-supervised runs.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .._validation import check_choice
from . import arrays, digits, faces, idx, image_folder, imdb_wiki, transforms, utkface
# DEFAULT_ROOT, ENV_ROOT and ENV_MIRROR are imported for users: they were names of the old module.
from ._common import DEFAULT_ROOT, ENV_ROOT, SPLITS, check_bool, check_scale, data_root  # noqa: F401
from .digits import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION
from .idx import DEFAULT_MIRRORS, ENV_MIRROR, SHA256, download, read_idx  # noqa: F401
from .transforms import Binarize, Compose, Divide, Flatten, Standardize, label_fraction

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
    "REGISTRY",
    "LoaderSpec",
    "Compose",
    "Flatten",
    "Binarize",
    "Divide",
    "Standardize",
    "label_fraction",
]


@dataclass(frozen=True)
class LoaderSpec:
    """How :func:`load` and :func:`available` reach one data set: an entry of :data:`REGISTRY`.

    Parameters
    ----------
    description : str
        One line for :func:`available`.
    loader : callable
        The module's ``load`` function. :func:`load` checks its own arguments, then calls
        ``loader(**{a: <value> for a in arguments}, **options)``.
    arguments : tuple of str
        Which of :func:`load`'s own arguments (``name``, ``split``, ``root``, ``flatten``,
        ``scale``, ``download``, ``mirror``) the loader takes, by keyword.
    options : tuple of str
        The extra keyword options the data set accepts, in the order error messages list them.
    locate : callable
        ``locate(name, root) -> (found, location)`` for :func:`available`.
    downloadable : bool
        Whether ``download=True`` can fetch the files.
    """

    description: str
    loader: Callable[..., Any]
    arguments: tuple[str, ...]
    options: tuple[str, ...]
    locate: Callable[[str, Any], tuple[bool, str]]
    downloadable: bool = False


_IDX_ARGUMENTS = ("name", "split", "root", "flatten", "scale", "download", "mirror")
_FACE_ARGUMENTS = ("name", "split", "root", "flatten", "scale")

#: Data set name -> :class:`LoaderSpec`, in the order :func:`available` lists them.
REGISTRY: dict[str, LoaderSpec] = {
    "digits": LoaderSpec(
        "scikit-learn's 8x8 digits, 1,797 images, 10 classes (embedded, no download)",
        digits.load, ("split", "flatten", "scale"), (), digits.locate,
    ),
    "mnist": LoaderSpec(
        "MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grayscale",
        idx.load, _IDX_ARGUMENTS, (), idx.locate, downloadable=True,
    ),
    "fashion-mnist": LoaderSpec(
        "Fashion-MNIST clothing, 60,000 train / 10,000 test, 28x28 grayscale",
        idx.load, _IDX_ARGUMENTS, (), idx.locate, downloadable=True,
    ),
    "arrays": LoaderSpec(
        "your .npz / .npy / .csv file: load('arrays', path=...)",
        arrays.load, ("flatten", "scale"), ("path", "label_column", "delimiter", "shape"), arrays.locate,
    ),
    "image-folder": LoaderSpec(
        "your PNG/JPEG images, one sub-folder per class: load('image-folder', path=...)",
        image_folder.load, ("split", "flatten", "scale"), ("path", "size", "grayscale", "return_classes"),
        image_folder.locate,
    ),
    "wiki": LoaderSpec(
        "IMDB-WIKI 'wiki' face photos, sex labels (62,328 entries before cleaning; wiki.mat + images)",
        faces.load, _FACE_ARGUMENTS, faces.OPTIONS["wiki"], faces.locate,
    ),
    "imdb": LoaderSpec(
        "IMDB-WIKI 'imdb' face photos, sex labels (imdb.mat + images)",
        faces.load, _FACE_ARGUMENTS, faces.OPTIONS["imdb"], faces.locate,
    ),
    "utkface": LoaderSpec(
        "UTKFace crop_part1, 9,780 aligned 200x200 face photos, sex and age labels",
        faces.load, _FACE_ARGUMENTS, faces.OPTIONS["utkface"], faces.locate,
    ),
}

#: The names :func:`load` accepts (the keys of :data:`REGISTRY` at import).
NAMES = tuple(REGISTRY)


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
        The data set (case-insensitive; ``_`` may replace ``-``); a key of :data:`REGISTRY`.

        ``digits``: scikit-learn's embedded 8x8 digits, split deterministically: for each class,
        a permutation from ``numpy.random.default_rng(0)`` puts round(20% of its examples) into
        ``test`` (359 of 1,797) and the rest into ``train`` (1,438); both keep the original order.
        ``mnist`` / ``fashion-mnist``: the IDX files in ``<root>/<name>/`` (``.gz``, or
        uncompressed without the ``.gz``).
        ``arrays`` / ``image-folder``: your own data, see ``options``.
        ``wiki`` / ``imdb`` / ``utkface``: face photos, y = 1 female, 0 male; a stratified 80/20
        split with seed 0; options and layout in :func:`layerwise.datasets.faces.load`.
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
        Without labels, ``y`` is -1 for every example (:func:`layerwise.datasets.arrays.load`).
        ``image-folder``: ``path`` (required; one sub-folder per class, class index = position
        in the sorted folder names; PNG/JPEG/BMP/GIF/TIFF/WebP read by Pillow; files that do not
        decode are skipped with one warning counting them), ``size`` ((width, height) to resize
        to, default: keep, all images must then share one size), ``grayscale`` (default True;
        False gives RGB), ``return_classes`` (default False; True returns ``(X, y, classes)``)
        (:func:`layerwise.datasets.image_folder.load`).
        ``wiki`` / ``imdb`` / ``utkface``: see :func:`layerwise.datasets.faces.load`.

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
    name = check_choice("name", name, REGISTRY)
    split = check_choice("split", split, SPLITS)
    flatten = check_bool("flatten", flatten)
    scale = check_scale(scale)
    download = check_bool("download", download)
    spec = REGISTRY[name]
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(spec.options) or "no options"
        raise TypeError(f"load({name!r}) got unexpected option(s) {unknown}; it accepts {accepted}.")
    given = {"name": name, "split": split, "root": root, "flatten": flatten, "scale": scale,
             "download": download, "mirror": mirror}
    return spec.loader(**{a: given[a] for a in spec.arguments}, **options)


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
    for name, spec in REGISTRY.items():
        found, location = spec.locate(name, base)
        rows.append(
            {
                "name": name,
                "description": spec.description,
                "location": location,
                "found": found,
                "downloadable": spec.downloadable,
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


def __getattr__(name: str) -> Any:
    # ``Scale``: the old name of Divide, kept one release (PEP 562 module __getattr__).
    if name == "Scale":
        warnings.warn(
            "layerwise.datasets.Scale is deprecated and will be removed in the next release; "
            "use layerwise.datasets.Divide, the same class.",
            FutureWarning,
            stacklevel=2,
        )
        return Divide
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
