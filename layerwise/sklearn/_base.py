"""What the six estimators share: seeding, tensors, devices, data checks, and the one epoch loop.

:class:`TorchEstimatorMixin` (all six) draws the seed from ``random_state``, converts arrays
to tensors, checks that data lie in [0, 1] and prints the verbose line of an epoch.
:class:`EpochTrainerMixin` (the four transformers) adds the one ``fit`` / ``partial_fit`` /
``_train``: ``fit`` is a reset plus exactly the epochs that ``partial_fit`` would run one by
one, because every epoch ``e`` (counted over all calls, ``n_iter_``) is run by
:func:`layerwise.fit` with ``initial_epoch=e``, which seeds the shuffling and torch's RNG from
the seed and ``e`` alone, so that noise and sampling do not depend on how the epochs were split
into calls.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from numbers import Integral
from typing import Any, Iterator

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_bool, check_choice, check_int, check_real
from ..training import OPTIMIZERS, History, default_optimizer, fit, resolve_device
from ._rows import Rows, map_rows, unit_range_policy

__all__ = ["DEPRECATED", "FLOATS", "MAX_SEED", "EpochTrainerMixin", "NetworkClassifierMixin",
           "TorchEstimatorMixin", "check_X", "check_hidden_sizes", "check_training_options", "device_of", "draw_seed",
           "encode_labels", "renamed_parameter", "seeded", "to_tensor"]

FLOATS = (np.float64, np.float32)
MAX_SEED = np.iinfo(np.int32).max
DEPRECATED = "deprecated"
"""Default of a renamed parameter's old name: set means the user passed the old name."""


def renamed_parameter(est: Any, new: str, old: str, warn: bool = True) -> tuple[str, Any]:
    """``(name, value)`` of the parameter ``new``, or of its old name ``old`` when that was set.

    scikit-learn's deprecation pattern: the old name stays in ``__init__`` with the default
    ``"deprecated"`` (so that ``get_params`` and ``clone`` keep working); set, it wins and
    raises a ``FutureWarning`` (unless ``warn=False``) that names the new parameter. It goes
    in the next release.
    """
    value = getattr(est, old)
    if isinstance(value, str) and value == DEPRECATED:
        return new, getattr(est, new)
    if warn:
        warnings.warn(
            f"The '{old}' parameter of {type(est).__name__} was renamed '{new}' and will be removed "
            f"in the next release; use {new}={value!r} instead.", FutureWarning, stacklevel=4)
    return old, value


def check_X(est: Any, X: Any, reset: bool = False, y: Any = "no_validation") -> Any:
    """``validate_data`` of the estimators: float64 or float32, finite, dense or scipy sparse
    (any format, converted to CSR); ``(X, y)`` when ``y`` is given (None included: an error)."""
    return validate_data(est, X, y, dtype=FLOATS, accept_sparse="csr", reset=reset)


def check_hidden_sizes(value: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of ints >= 1 (a single int means one layer)."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) == 0:
        raise ValueError(
            "The 'hidden_layer_sizes' parameter must be a non-empty tuple of ints in the range "
            f"[1, inf). Got {value!r} instead."
        )
    return tuple(check_int("hidden_layer_sizes", h, 1) for h in value)


def check_training_options(est: Any) -> torch.device:
    """``batch_size``, ``learning_rate``, ``optimizer`` and ``device`` of the estimators trained by
    a named optimiser; returns the device."""
    check_int("batch_size", est.batch_size, 1)
    check_real("learning_rate", est.learning_rate, 0.0, low_open=True)
    check_choice("optimizer", est.optimizer, OPTIMIZERS)
    return resolve_device(est.device)


def draw_seed(random_state: Any) -> int:
    """One int seed for torch from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(MAX_SEED))


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch for the duration of a fit, restoring the global random state afterwards."""
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def device_of(module: torch.nn.Module) -> torch.device:
    """The device of ``module``'s parameters."""
    return next(module.parameters()).device


def to_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """A float32 copy of ``X`` on ``device`` (the caller's array is never shared or modified)."""
    return torch.tensor(np.asarray(X, dtype=np.float32), device=device)


def encode_labels(est: Any, y: np.ndarray) -> tuple[LabelEncoder, np.ndarray]:
    """Class indices of ``y`` and their encoder; at least two classes."""
    check_classification_targets(y)
    encoder = LabelEncoder()
    y_index = encoder.fit_transform(y)
    if len(encoder.classes_) < 2:
        raise ValueError(
            f"{type(est).__name__} needs samples of at least 2 classes in the data, but "
            f"the data contains only one class: {encoder.classes_[0]!r}."
        )
    return encoder, y_index


class TorchEstimatorMixin:
    """Seeds, data checks and the verbose line shared by every estimator of this package."""

    _epochs_param = "n_iter"  # the number of epochs of fit (of fine-tuning for the classifiers)
    _epochs_old_name: str | None = None  # its deprecated name, if any
    _min_epochs = 0

    def _fit_epochs(self) -> int:
        """The number of epochs of ``fit``, checked (under the name the user set)."""
        if self._epochs_old_name is None:
            name, value = self._epochs_param, getattr(self, self._epochs_param)
        else:
            name, value = renamed_parameter(self, self._epochs_param, self._epochs_old_name)
        return check_int(name, value, self._min_epochs)

    def _clip_to_unit_interval(self, X: Any, method: str) -> Any:
        """``X`` with the ``strict`` policy of the estimators whose Bernoulli visible units feed
        deeper layers (DBM, DBN): outside [0, 1], an error with ``strict=True``, else a warning
        and ``X`` clipped to [0, 1] (a copy; sparse stays sparse)."""
        check_bool("strict", self.strict)
        if not unit_range_policy(self, X, method, then="clips them to [0, 1]"):
            return X
        if sp.issparse(X):
            X = X.copy()
            np.clip(X.data, 0.0, 1.0, out=X.data)
            return X
        return np.clip(X, 0.0, 1.0)

    def _describe(self, record: dict) -> str:
        """The measure in the verbose line of an epoch."""
        return f"loss = {record['loss']:.4g}"

    def _print_epoch(self, state: Any, record: dict) -> None:
        """The verbose line of an epoch, as BernoulliRBM prints it (a :func:`layerwise.fit` callback)."""
        print(f"[{type(self).__name__}] Iteration {record['epoch']}, {self._describe(record)}, "
              f"time = {record['seconds']:.2f}s")

    def _epoch_callbacks(self) -> list:
        return [self._print_epoch] if self.verbose else []


class EpochTrainerMixin(TorchEstimatorMixin):
    """The one ``fit`` / ``partial_fit`` / ``_train`` of the transformers trained epoch by epoch.

    A subclass provides ``_check_params() -> device``, ``_build(X, device, seed) -> (model, x)``
    (run seeded; raise before any attribute is set), ``_optimizer_settings() -> (name, group
    settings)`` and ``_update_learned(x)``; it may change ``_as_input``, ``_check_data``,
    ``_describe`` and the class attributes below.
    """

    _seed_offset = 0  # fit's seed is the estimator's seed plus this
    _progress_bar = False  # a tqdm bar with verbose
    _keeps_random_state = False  # keep the RandomState the seed came from as random_state_
    # What the history records (layerwise.fit's track_loss and metrics): the training loss, and
    # the monitor's metrics also with verbose=0. A transformer whose loss is a per-batch cost
    # worth saving at small batches (the RBM's surrogate) turns them off; the weights are the same.
    _records_loss = True
    _metrics_when_quiet = True

    def fit(self, X, y=None):
        """Train a new model on ``X``: a reset followed by the epochs that ``partial_fit`` would run.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        device = self._check_params()
        epochs = self._fit_epochs()
        X = self._check_data(check_X(self, X, reset=True), "fit")
        self._train(self._reset(X, device), epochs)
        return self

    def partial_fit(self, X, y=None):
        """Train one more epoch on ``X`` (in batches of ``batch_size``) from the current model.

        The first call (or a call on an unfitted estimator) builds the model as ``fit`` does;
        later calls keep the weights, the optimiser's state (momentum, Adam's moments) and the
        model's buffers (persistent chains), and take the current ``learning_rate`` (and
        ``momentum``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first = not hasattr(self, "model_")
        device = self._check_params()
        self._fit_epochs()  # checked as in fit
        X = self._check_data(check_X(self, X, reset=first), "partial_fit")
        if first:
            x = self._reset(X, device)
        else:
            x = self._as_input(X, device_of(self.model_))
            for group in self.optimizer_.param_groups:
                group.update(self._optimizer_settings()[1])
        self._train(x, 1)
        return self

    def _check_data(self, X: Any, method: str) -> Any:
        """Checks of the training data beyond the model's own (none by default); returns ``X``
        as it trains (the ``strict`` policy may clip it)."""
        return X

    def _as_input(self, X: Any, device: torch.device) -> torch.Tensor | Rows:
        """``X`` as the model's input: a tensor, or the rows of a sparse ``X`` (densified a
        mini-batch at a time by :func:`layerwise.fit`)."""
        return Rows(X, device) if sp.issparse(X) else to_tensor(X, device)

    def _reset(self, X: np.ndarray, device: torch.device) -> torch.Tensor:
        """Build the model and its optimiser from a fresh seed (the reset of ``fit``); return ``X``
        as the model's input. Attributes are set only once the model is built."""
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(MAX_SEED))
        with seeded(seed, device):
            model, x = self._build(X, device, seed)
        name, settings = self._optimizer_settings()
        self._seed = seed
        self.model_ = model
        if self._keeps_random_state:
            self.random_state_ = rng
        self.optimizer_ = default_optimizer(model, name, settings["lr"], settings.get("momentum", 0.0), 0.0)
        self.history_ = History()
        self.n_iter_ = 0
        return x

    def _train(self, x: torch.Tensor, epochs: int) -> None:
        """``epochs`` more epochs: epochs ``n_iter_`` to ``n_iter_ + epochs - 1`` of one run
        (:func:`layerwise.fit` with ``initial_epoch=n_iter_``), so that ``fit`` and as many
        ``partial_fit`` calls see the same batches and the same random draws."""
        device = device_of(self.model_)
        start = self.n_iter_
        with seeded(self._seed, device):  # fit seeds again; this keeps the global RNG as it was
            history = fit(self.model_, x, epochs=start + epochs, initial_epoch=start,
                          batch_size=self.batch_size, optimizer=self.optimizer_, device=device,
                          seed=self._seed + self._seed_offset, callbacks=self._epoch_callbacks(),
                          progress=self._progress_bar and bool(self.verbose), desc=type(self).__name__,
                          track_loss=self._records_loss, metrics=self._metrics_when_quiet or bool(self.verbose))
        self.history_.extend(history)
        self.n_iter_ = start + epochs
        self._update_learned(x)


class NetworkClassifierMixin(TorchEstimatorMixin):
    """predict / predict_proba of the classifiers whose fitted network is ``model_``."""

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's outputs).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples (a sparse ``X`` is densified in chunks of rows).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow ``classes_``; float64.
        """
        check_is_fitted(self, "model_")
        X = check_X(self, X)
        with torch.no_grad():
            self.model_.eval()
            logits = map_rows(self.model_, X, device_of(self.model_))
        return torch.softmax(logits.double(), dim=1).cpu().numpy()

    def predict(self, X):
        """The most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels, of the type given to ``fit``.
        """
        check_is_fitted(self, "model_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
