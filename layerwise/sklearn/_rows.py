"""Sparse input and out-of-range values for the estimators: rows densified a batch at a time.

scikit-learn's ``BernoulliRBM`` takes scipy sparse matrices (bag-of-words matrices with tens of
thousands of columns); densifying such a matrix whole can take gigabytes. Here a sparse ``X``
(converted to CSR by ``validate_data``) is never densified as a whole by the estimators trained
epoch by epoch (``RBMTransformer``, ``AutoEncoderTransformer``, ``DBMTransformer`` without
pre-training): :class:`Rows` gives :func:`layerwise.fit` the rows of each mini-batch as a
dense tensor, and :func:`map_rows` applies a map (``transform``, ``score_samples``, ...) to
chunks of at most :data:`CHUNK_VALUES` dense values. What densifies whole is said in each
estimator's docstring (:func:`dense_tensor`).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["CHUNK_VALUES", "Rows", "column_means", "dense_tensor", "map_rows", "range_probe", "unit_range_policy"]

CHUNK_VALUES = 2**22
"""Dense values (float32: 16 MiB) of one chunk of sparse rows in :func:`map_rows`."""


def _dense(X: Any, rows: Any) -> np.ndarray:
    """Rows ``rows`` (an index array or a slice) of the sparse ``X`` as a dense float32 array."""
    return X[rows].astype(np.float32).toarray()


class Rows:
    """The rows of a scipy CSR matrix (or of a tensor), as :func:`layerwise.fit` indexes them.

    ``rows[idx]`` is a dense float32 tensor of the selected rows on ``device`` (reshaped to
    ``(len(idx), *row_shape)``): :func:`layerwise.fit` densifies one mini-batch at a time (and
    the at most 1024 rows of its once-an-epoch monitor), never the whole matrix. A tensor is
    indexed as is: that form carries data that the model's own range check would refuse
    (``strict=False``), since :func:`layerwise.fit` leaves the checks of a row source to its
    caller.

    Parameters
    ----------
    data : scipy.sparse CSR matrix or torch.Tensor
        The samples, one per row.
    device : torch.device
        Where the batches go.
    row_shape : tuple of int, optional
        Shape of one sample (images for the convolutional models); default ``(n_features,)``.
    """

    is_row_source = True  # what layerwise.fit recognises (checks left to the caller)

    def __init__(self, data: Any, device: torch.device, row_shape: tuple[int, ...] | None = None):
        self.data = data
        self.device = torch.device(device)
        self.row_shape = tuple(row_shape) if row_shape is not None else (data.shape[1],)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.data.shape[0], *self.row_shape)

    def __len__(self) -> int:
        return self.data.shape[0]

    def to(self, device: Any) -> "Rows":
        """The same rows, with batches on ``device`` (a tensor is moved)."""
        data = self.data.to(device) if isinstance(self.data, torch.Tensor) else self.data
        return Rows(data, device, self.row_shape)

    def __getitem__(self, idx: Any) -> torch.Tensor:
        if isinstance(self.data, torch.Tensor):
            return self.data[idx]
        if isinstance(idx, torch.Tensor):
            idx = idx.cpu().numpy()
        dense = torch.from_numpy(_dense(self.data, idx))
        return dense.reshape(dense.shape[0], *self.row_shape).to(self.device)


def dense_tensor(X: Any, device: torch.device) -> torch.Tensor:
    """A float32 copy of ``X`` on ``device``; a sparse ``X`` is densified whole (the estimators that
    do this say so in their docstrings)."""
    array = X.astype(np.float32).toarray() if sp.issparse(X) else X
    return torch.tensor(np.asarray(array, dtype=np.float32), device=device)


def map_rows(fn: Callable[[torch.Tensor], torch.Tensor], X: Any, device: torch.device,
             row_shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """``fn`` of the rows of ``X``: of the whole array when dense (one call, as before sparse input
    was taken), of chunks of at most :data:`CHUNK_VALUES` dense values when sparse."""
    if not sp.issparse(X):
        x = dense_tensor(X, device)
        return fn(x.reshape(len(x), *row_shape) if row_shape is not None else x)
    rows = Rows(X, device, row_shape)
    step = max(1, CHUNK_VALUES // max(1, X.shape[1]))
    outs = [fn(rows[slice(start, start + step)]) for start in range(0, X.shape[0], step)]
    return torch.cat(outs) if outs else fn(rows[slice(0, 0)])


def column_means(X: Any) -> torch.Tensor:
    """The mean of each column of ``X`` (sparse or dense), float32, shape (1, n_features)."""
    return torch.as_tensor(np.asarray(X.mean(axis=0), dtype=np.float64).reshape(1, -1), dtype=torch.float32)


def range_probe(X: Any) -> torch.Tensor:
    """Two rows: the minimum and the maximum of each column of ``X`` (sparse or dense), float32.

    A model's range checks (in [0, 1], non-negative, ...) on these two rows say what they would
    say on ``X``, without densifying it."""
    lo = np.asarray(X.min(axis=0).toarray() if sp.issparse(X) else X.min(axis=0), dtype=np.float32)
    hi = np.asarray(X.max(axis=0).toarray() if sp.issparse(X) else X.max(axis=0), dtype=np.float32)
    return torch.as_tensor(np.vstack([lo.reshape(1, -1), hi.reshape(1, -1)]))


def unit_range_policy(est: Any, X: Any, method: str, low: float = 0.0, high: float = 1.0,
                      what: str = "Bernoulli visible units", then: str = "proceeds with them") -> bool:
    """Apply ``est.strict`` to the values of ``X`` outside ``[low, high]``; True when there are some.

    ``strict=True``: a ``ValueError`` (negative values with scikit-learn's wording, "Negative
    values in data passed to ...", which its common checks expect from ``positive_only``
    estimators). ``strict=False``: a ``UserWarning`` that says what the estimator does.
    """
    lo, hi = float(X.min()), float(X.max())
    if low <= lo and hi <= high:
        return False
    whom = f"{type(est).__name__}.{method}"
    start = (f"Negative values in data passed to {whom}" if lo < low == 0.0
             else f"Values outside [{low:g}, {high:g}] in data passed to {whom}")
    message = (f"{start}: {what} take values in [{low:g}, {high:g}] (binary values or probabilities); "
               f"got values in [{lo:.4g}, {hi:.4g}].")
    if est.strict:
        raise ValueError(f"{message} Scale X first (for example with MinMaxScaler), or pass strict=False.")
    warnings.warn(f"{message} strict=False: {type(est).__name__} {then}; pass strict=True to make "
                  "this an error.", UserWarning, stacklevel=4)
    return True
