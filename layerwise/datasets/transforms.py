"""Transforms on a batch (first dimension = examples) and the stratified label fraction.

Transforms are small callables that chain with :class:`Compose`: :class:`Flatten`,
:class:`Binarize`, :class:`Divide`, :class:`Standardize`. :func:`label_fraction` keeps a
stratified fraction of the labels, for semi-supervised runs.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np
import torch

from .._validation import as_float_tensor, check_real, check_unit_interval
from ._common import check_bool

__all__ = ["Compose", "Flatten", "Binarize", "Divide", "Standardize", "label_fraction"]


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
        self.stochastic = check_bool("stochastic", stochastic)
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
        """Learn the per-feature mean and standard deviation of ``x``.

        Parameters
        ----------
        x : torch.Tensor
            ``(N, ...)``, at least one example.

        Returns
        -------
        Standardize
            ``self``.
        """
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
        """``fit(x)``, then apply to ``x``.

        Parameters
        ----------
        x : torch.Tensor
            ``(N, ...)``.

        Returns
        -------
        torch.Tensor
            ``x`` standardised, of its shape.
        """
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
