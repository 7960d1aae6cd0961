"""Where :func:`layerwise.fit` takes its batches from: in-memory arrays or a torch data pipeline.

:func:`open_source` turns ``fit``'s ``data`` (or ``validation``) into one of two sources with one
interface: ``start(rank, world, device)``, ``batches(epoch)`` (``(batch, size)`` pairs),
``n_batches`` (None for a stream without a length), ``monitor()``, ``evaluation_batches(size)``,
``describe()`` (what a resume compares) and ``warn_on_resume(epoch)``:

:class:`ArraySource`
    a tensor, an array, a tuple ``(X, y)`` or a ``TensorDataset``: checked whole before any work
    (:func:`as_arrays`, the model's ``validate_data``), moved to the device once, and indexed by
    a ``DistributedSampler`` seeded with ``seed`` and the epoch. Under ``torchrun`` every rank
    holds the arrays and indexes its own share of every epoch's permutation. The monitoring set
    (the model's ``metrics`` once an epoch) is a fixed random subset of ``MONITOR_SIZE`` samples.
:class:`LoaderSource`
    a ``torch.utils.data.DataLoader``, a map-style ``Dataset`` or an ``IterableDataset`` (streaming
    data larger than memory). Batches come from the loader, with its ``batch_size`` (``fit``'s must
    be None or equal; an iterable dataset under ``batch_size=None`` yields whole batches itself),
    collate function and workers; each batch is checked (:func:`as_arrays`, the
    model's ``validate_data``) on the host, then moved to the device. The monitoring set is the
    first ``MONITOR_SIZE`` samples of the epoch's batches.

Order and sharding of a loader: ``fit`` rebuilds it over the same dataset. A map-style dataset
with the loader's default sampler (``shuffle=True`` or ``False``) gets a ``DistributedSampler``
seeded with ``seed`` and the epoch, exactly as in-memory arrays: the same batches as the arrays
for the same data, each rank reading only its share, and an exact resume. A custom sampler or
batch sampler is kept (with ``set_epoch(epoch)`` called when it has one); under ``torchrun`` it must
be a ``DistributedSampler``. An iterable dataset is not sharded by ``fit``: it must yield each
rank's share itself (``torch.distributed.get_rank()``, ``get_worker_info()``), and a resume starts
the epoch after the checkpoint's from the start of the stream, exact only when iterating it does
not depend on state of its own (a warning says so). The loader's workers are seeded from
``(seed, rank, epoch)`` through a generator of ``fit`` (the loader's own ``generator`` is replaced),
so that iterating the loader does not draw from torch's global stream.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import (BatchSampler, DataLoader, Dataset, DistributedSampler, IterableDataset, RandomSampler,
                              SequentialSampler, TensorDataset)

from ._validation import check_int, check_tensor
from .distributed import rank_seed

__all__ = ["as_arrays", "open_source", "ArraySource", "LoaderSource", "MONITOR_SIZE", "DATA_TYPES", "DEFAULT_BATCH_SIZE"]

#: ``fit``'s mini-batch size when neither ``batch_size`` nor a DataLoader gives one.
DEFAULT_BATCH_SIZE = 64
MONITOR_SIZE = 1024
DATA_TYPES = ("a tensor or array X, a tuple (X, y), a TensorDataset, a torch Dataset or IterableDataset, "
              "or a torch DataLoader")
_LOADER_STREAM = 1  # tag of the loader's worker-seed stream in rank_seed (the sampling stream is the rank's own)


def as_arrays(data: Any, name: str = "data") -> tuple[torch.Tensor, ...]:
    """Normalise ``data`` (tensor, array, (X, y) tuple or TensorDataset) to a tuple of tensors.

    Floating arrays are checked for NaN/inf; every array must have the same first dimension
    and at least one sample. A row source (``is_row_source``: layerwise.sklearn's sparse rows) is
    kept, unchecked. Anything else (a dict, a string, a DataLoader, ...) is refused with a
    TypeError naming what is taken.
    """
    if isinstance(data, TensorDataset):
        parts = tuple(data.tensors)
    elif isinstance(data, (tuple, list)):
        parts = tuple(data)
    else:
        parts = (data,)
    if not parts:
        raise ValueError(f"'{name}' is empty; expected a tensor X or a tuple (X, y).")
    arrays = []
    for i, part in enumerate(parts):
        label = name if len(parts) == 1 else f"{name}[{i}]"
        if getattr(part, "is_row_source", False):  # layerwise.sklearn's sparse rows: densified a batch at a
            arrays.append(part)                     # time, checked by its maker
            continue
        if isinstance(part, (dict, str, bytes, set, Dataset, DataLoader)) or (
                not isinstance(part, (torch.Tensor, np.ndarray, list, tuple)) and hasattr(part, "__next__")):
            raise TypeError(f"'{label}' must be an array of numbers (a tensor or a numpy array); got a "
                            f"{type(part).__name__}. The data of layerwise.fit is {DATA_TYPES}.")
        if isinstance(part, torch.Tensor) and not part.is_floating_point():
            t = part
            if t.dim() == 0 or t.shape[0] == 0:
                raise ValueError(f"'{label}' must hold at least 1 sample(s); got shape {tuple(t.shape)}.")
        elif isinstance(part, np.ndarray) and part.dtype.kind in "biu":  # labels, counts
            t = torch.as_tensor(part)
        else:
            t = check_tensor(label, part)
        arrays.append(t)
    n = arrays[0].shape[0]
    for i, t in enumerate(arrays[1:], 1):
        if t.shape[0] != n:
            raise ValueError(
                f"All arrays in '{name}' must have the same number of samples; "
                f"{name}[0] has {n} but {name}[{i}] has {t.shape[0]}."
            )
    return tuple(arrays)


def select(arrays: Sequence[torch.Tensor], idx: torch.Tensor):
    """The batch of rows ``idx``: a tensor for one array, a tuple of tensors for several
    (``index_select``: the rows of ``a[idx]`` at about half the cost for a small batch)."""
    def rows(a):
        return a.index_select(0, idx) if isinstance(a, torch.Tensor) else a[idx]
    if len(arrays) == 1:
        return rows(arrays[0])
    return tuple(rows(a) for a in arrays)


def array_batches(arrays: Sequence[torch.Tensor], batch_size: int) -> Iterator[tuple[Any, int]]:
    """(batch, its size) over ``arrays`` in order, ``batch_size`` rows at a time (for evaluation)."""
    n = arrays[0].shape[0]
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n), device=arrays[0].device)
        yield select(arrays, idx), idx.numel()


def _validate(model: Any, arrays: tuple[torch.Tensor, ...]) -> None:
    if hasattr(model, "validate_data") and isinstance(arrays[0], torch.Tensor):  # not a row source
        model.validate_data(arrays[0])


class ArraySource:
    """In-memory arrays (see the module docstring)."""

    exact_resume = True

    def __init__(self, arrays: tuple[torch.Tensor, ...], batch_size: int, shuffle: bool, seed: int):
        self.arrays, self.batch_size, self.shuffle, self.seed = arrays, batch_size, shuffle, seed
        self.n = arrays[0].shape[0]

    def describe(self) -> Any:
        """What resume compares: the data's shape."""
        return list(self.arrays[0].shape)

    def start(self, rank: int, world: int, device: torch.device) -> None:
        """Move the arrays to ``device``; this rank's sampler and the fixed monitoring subset."""
        self.device = device
        self.arrays = tuple(a.to(device) for a in self.arrays)
        self.sampler = DistributedSampler(range(self.n), num_replicas=world, rank=rank, shuffle=self.shuffle,
                                          seed=self.seed)
        gen = torch.Generator().manual_seed(self.seed + 7919)
        idx = torch.randperm(self.n, generator=gen)[:MONITOR_SIZE].sort().values.to(device)
        self._monitor = tuple(a[idx] for a in self.arrays)
        self.n_batches: int | None = -(-len(self.sampler) // self.batch_size)

    def batches(self, epoch: int) -> Iterator[tuple[Any, int]]:
        """(batch, its number of samples) for this rank's share of ``epoch``."""
        self.sampler.set_epoch(epoch)
        order = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long, device=self.device)
        for idx in order.split(self.batch_size):
            yield select(self.arrays, idx), idx.numel()

    def monitor(self) -> tuple[torch.Tensor, ...]:
        """The fixed monitoring subset (``metrics`` once an epoch)."""
        return self._monitor

    def evaluation_batches(self, batch_size: int) -> Iterator[tuple[Any, int]]:
        """All the arrays, in order, ``batch_size`` rows at a time (validation)."""
        return array_batches(self.arrays, batch_size)

    def warn_on_resume(self, epoch: int) -> None:
        """Arrays resume exactly: nothing to say."""


class LoaderSource:
    """A DataLoader, Dataset or IterableDataset (see the module docstring)."""

    def __init__(self, loader: DataLoader, model: Any, seed: int, shuffle: bool | None, batch_size: int | None,
                 name: str = "data"):
        self.loader, self.model, self.seed, self.name = loader, model, seed, name
        self.shuffle, self.batch_size = shuffle, batch_size
        self.iterable = isinstance(loader.dataset, IterableDataset)
        self.exact_resume = not self.iterable

    def describe(self) -> Any:
        """What resume compares: the dataset's type and length (None for a stream without one)."""
        return {"dataset": type(self.loader.dataset).__name__, "samples": _length(self.loader.dataset)}

    def start(self, rank: int, world: int, device: torch.device) -> None:
        """Rebuild the loader for this rank (sampler, generator); see the module docstring."""
        self.device, self.rank = device, rank
        old = self.loader
        self.generator = torch.Generator()
        kwargs = dict(num_workers=old.num_workers, collate_fn=old.collate_fn, pin_memory=old.pin_memory,
                      timeout=old.timeout, worker_init_fn=old.worker_init_fn, generator=self.generator,
                      multiprocessing_context=old.multiprocessing_context, prefetch_factor=old.prefetch_factor,
                      persistent_workers=old.persistent_workers, in_order=getattr(old, "in_order", True))
        if self.iterable:
            self.loader = DataLoader(old.dataset, batch_size=old.batch_size, drop_last=old.drop_last, **kwargs)
            self.sampler = None
        elif _default_batching(old):
            self.sampler = DistributedSampler(old.dataset, num_replicas=world, rank=rank, shuffle=self.shuffle,
                                              seed=self.seed)
            self.loader = DataLoader(old.dataset, batch_size=old.batch_size, sampler=self.sampler,
                                     drop_last=old.drop_last, **kwargs)
        else:
            if world > 1 and not isinstance(old.sampler, DistributedSampler) and not isinstance(
                    getattr(old.batch_sampler, "sampler", None), DistributedSampler):
                raise ValueError(
                    f"Under torch.distributed (world size {world}) a DataLoader's sampler must be the default "
                    f"(shuffle=True/False, sharded by fit) or a DistributedSampler; got "
                    f"{type(old.batch_sampler).__name__} over {type(old.sampler).__name__}.")
            self.sampler = old.batch_sampler if _is_custom(old.batch_sampler) else old.sampler
            self.loader = DataLoader(old.dataset, batch_sampler=old.batch_sampler, **kwargs)
        try:
            self.n_batches: int | None = len(self.loader)
        except TypeError:  # a stream without __len__
            self.n_batches = None
        self._monitor: tuple[torch.Tensor, ...] | None = None

    def batches(self, epoch: int) -> Iterator[tuple[Any, int]]:
        """(batch on the device, its number of samples) for ``epoch``; keeps the first
        ``MONITOR_SIZE`` samples as the epoch's monitoring set."""
        self.generator.manual_seed(rank_seed(self.seed, self.rank, epoch) ^ _LOADER_STREAM)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        kept: list[tuple[torch.Tensor, ...]] = []
        n_kept, b = 0, -1
        for b, raw in enumerate(self.loader):
            arrays = self.check_batch(raw, b, epoch)
            if n_kept < MONITOR_SIZE:
                kept.append(tuple(a[:MONITOR_SIZE - n_kept] for a in arrays))
                n_kept += kept[-1][0].shape[0]
            yield (arrays[0] if len(arrays) == 1 else arrays), arrays[0].shape[0]
        if b < 0:
            raise ValueError(f"The {describe_loader(self.loader)} yielded no batch in epoch {epoch + 1}; "
                             "a DataLoader must yield at least one batch an epoch.")
        self._monitor = tuple(torch.cat(parts) for parts in zip(*kept))

    def check_batch(self, raw: Any, b: int, epoch: int) -> tuple[torch.Tensor, ...]:
        """A loader's batch as a tuple of tensors on the device, checked as in-memory data is."""
        where = f"{self.name} batch {b + 1} of epoch {epoch + 1} from the {describe_loader(self.loader)}"
        if isinstance(raw, dict):
            raise TypeError(f"The {where} is a dict (keys {sorted(map(str, raw))[:5]}); layerwise.fit takes "
                            "batches that are a tensor X or a tuple (X, y) of tensors (return one from the "
                            "dataset or the collate_fn).")
        try:
            arrays = as_arrays(raw, "batch")
            _validate(self.model, arrays)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"The {where} was refused: {exc}") from exc
        return tuple(a.to(self.device, non_blocking=self.loader.pin_memory) for a in arrays)

    def monitor(self) -> tuple[torch.Tensor, ...]:
        """The first ``MONITOR_SIZE`` samples of the last epoch's batches."""
        return self._monitor

    def evaluation_batches(self, batch_size: int) -> Iterator[tuple[Any, int]]:
        """One pass over the loader, with its own batch size (validation)."""
        return self.batches(0)

    def warn_on_resume(self, epoch: int) -> None:
        """Warn that a stream resumes at the epoch boundary, from its start, not exactly."""
        if self.iterable:
            warnings.warn(
                f"Resuming from epoch {epoch} with an iterable dataset ({type(self.loader.dataset).__name__}): "
                f"epoch {epoch + 1} starts from the start of the stream; the run equals an uninterrupted one "
                "only if iterating the dataset does not depend on state of its own (a shuffle buffer, its own "
                "random generator, a file position).", UserWarning, stacklevel=3)


def describe_loader(loader: DataLoader) -> str:
    return f"DataLoader over {type(loader.dataset).__name__}"


def _length(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:
        return None


def _is_custom(batch_sampler: Any) -> bool:
    return not (type(batch_sampler) is BatchSampler)


def _default_batching(loader: DataLoader) -> bool:
    """Batches of ``batch_size`` over the default sequential or random sampler, a permutation of
    the dataset (fit may replace it); a sampler with replacement or its own ``num_samples`` is kept."""
    sampler = loader.sampler
    return (loader.batch_size is not None and not _is_custom(loader.batch_sampler)
            and (type(sampler) is SequentialSampler or type(sampler) is RandomSampler
                 and not sampler.replacement and getattr(sampler, "_num_samples", None) is None))


def open_source(data: Any, model: Any, batch_size: int | None, shuffle: bool | None, seed: int, name: str = "data"):
    """``fit``'s ``data`` as an :class:`ArraySource` or a :class:`LoaderSource`, checked.

    In-memory arrays are checked whole here (and by the model's ``validate_data``); a loader's
    settings are checked here and its batches as they come. ``batch_size`` None means 64 for
    arrays and datasets and the loader's own for a DataLoader; ``shuffle`` None means True for
    arrays and map-style datasets and the loader's own for a DataLoader. ``name`` ("data" or
    "validation") is what error messages call it.
    """
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    if isinstance(data, DataLoader):
        return _loader_source(data, model, batch_size, shuffle, seed, name)
    if isinstance(data, Dataset) and not isinstance(data, TensorDataset):
        order = None if isinstance(data, IterableDataset) else (True if shuffle is None else shuffle)
        loader = DataLoader(data, batch_size=batch_size or DEFAULT_BATCH_SIZE, shuffle=order)
        return _loader_source(loader, model, None, shuffle, seed, name)
    arrays = as_arrays(data, name)
    _validate(model, arrays)
    return ArraySource(arrays, batch_size or DEFAULT_BATCH_SIZE, True if shuffle is None else shuffle, seed)


def _loader_source(loader: DataLoader, model: Any, batch_size: int | None, shuffle: bool | None, seed: int,
                   name: str):
    """Check ``fit``'s batch_size and shuffle against the loader's own."""
    iterable = isinstance(loader.dataset, IterableDataset)
    if loader.batch_sampler is None and not iterable:
        raise ValueError(f"The {describe_loader(loader)} has batch_size=None: it yields single samples. "
                         "Give the DataLoader a batch_size (or a batch_sampler).")
    if batch_size is not None and batch_size != loader.batch_size:
        makes = (f"makes batches of {loader.batch_size}" if loader.batch_size is not None
                 else "yields the batches of its dataset (batch_size=None)")
        raise ValueError(f"The 'batch_size' parameter is {batch_size}, but the {describe_loader(loader)} {makes}: "
                         "the loader's batches are used. Pass batch_size=None (or the loader's).")
    own = None if iterable or not _default_batching(loader) else type(loader.sampler) is RandomSampler
    if shuffle is not None and shuffle != own:
        said = ("an iterable dataset's order is its own" if iterable else "its sampler decides the order"
                if own is None else f"it was built with shuffle={own}")
        raise ValueError(f"The 'shuffle' parameter is {shuffle}, but the {describe_loader(loader)} decides the "
                         f"order ({said}). Pass shuffle=None (or set it on the DataLoader).")
    return LoaderSource(loader, model, seed, own, loader.batch_size, name)
