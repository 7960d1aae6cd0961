"""scikit-learn estimators: RBM, DBM and autoencoder features, DBN and stacked-autoencoder classifiers.

:class:`AutoEncoderTransformer` is an unsupervised transformer (``fit`` / ``transform`` /
``inverse_transform``) over :class:`layerwise.AutoEncoder`;
:class:`StackedAutoEncoderClassifier` pre-trains one autoencoder per hidden layer greedily
(:func:`layerwise.pretrain`) and fine-tunes the stack with a softmax head
(:func:`layerwise.finetune`). :class:`RBMTransformer` is a drop-in for scikit-learn's
``BernoulliRBM`` over :class:`layerwise.models.rbm.RBM`; :class:`DBNClassifier` pre-trains a
deep belief network (:class:`layerwise.models.dbn.DBN`) and fine-tunes it with labels;
:class:`DBMTransformer` gives the mean-field posteriors of a deep Boltzmann machine
(:class:`layerwise.models.dbm.DBM`) as features. All
train through :func:`layerwise.fit` and follow scikit-learn's conventions, so that they work
in ``Pipeline``, ``GridSearchCV`` and ``clone``:

* ``__init__`` only stores its keyword arguments; they are checked in ``fit``, with the
  wording of :mod:`layerwise._validation` (parameter, rule, value);
* what is learned ends in ``_`` (``model_``, ``n_features_in_``, ``history_``, ...);
* ``random_state`` is kept raw; ``fit`` draws one seed from ``check_random_state`` that seeds
  the weights' initialisation, the shuffling and the corruption noise. Training runs inside
  ``torch.random.fork_rng``, so fitting never changes torch's global random state;
* ``fit`` and ``partial_fit`` return ``self``; ``fit`` is a reset followed by the epochs that
  ``partial_fit`` would run one by one.

The input is checked by :func:`sklearn.utils.validation.validate_data`; the networks compute
in float32, and the outputs are returned in the input's floating type (float64 or float32).

Requires scikit-learn >= 1.6 (``validate_data`` and ``__sklearn_tags__``).
"""

from __future__ import annotations

from contextlib import contextmanager
from numbers import Integral
from typing import Any, Iterator

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import functional as LF
from ._validation import check_choice, check_int, check_real
from .models.autoencoder import SPARSITIES, AutoEncoder
from .models.classifier import build_mlp, finetune
from .models.csc import ConvSparseCoding
from .models.dbm import DBM
from .models.dbn import DBN
from .models.rbm import RBM
from .pretraining import pretrain
from .training import OPTIMIZERS, History, default_optimizer, fit, resolve_device

__all__ = ["AutoEncoderTransformer", "ConvSparseCodingTransformer", "DBMTransformer", "DBNClassifier",
           "RBMTransformer", "StackedAutoEncoderClassifier"]

_FLOATS = (np.float64, np.float32)
_MAX_SEED = np.iinfo(np.int32).max


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------

def _check_hidden_sizes(value: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of ints >= 1 (a single int means one layer)."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) == 0:
        raise ValueError(
            "The 'hidden_layer_sizes' parameter must be a non-empty tuple of ints in the range "
            f"[1, inf). Got {value!r} instead."
        )
    return tuple(check_int("hidden_layer_sizes", h, 1) for h in value)


def _check_autoencoder_options(est: Any, loss_name: str) -> None:
    """The options that the estimators pass to :class:`AutoEncoder`, checked under their own names."""
    check_choice("activation", est.activation, LF.ACTIVATIONS)
    check_choice(loss_name, getattr(est, loss_name), LF.LOSSES)
    check_choice("noise", est.noise, (None,) + LF.NOISES)
    if est.noise == "gaussian":
        check_real("noise_level", est.noise_level, 0.0)
    else:
        check_real("noise_level", est.noise_level, 0.0, 1.0)
    check_choice("sparsity", est.sparsity, (None,) + SPARSITIES)
    check_real("sparsity_weight", est.sparsity_weight, 0.0)
    check_real("sparsity_target", est.sparsity_target, 0.0, 1.0, low_open=True, high_open=True)
    check_real("contractive_weight", est.contractive_weight, 0.0)
    check_real("weight_decay", est.weight_decay, 0.0)
    if not isinstance(est.tied_weights, (bool, np.bool_)):
        raise TypeError(f"The 'tied_weights' parameter must be a bool. Got {est.tied_weights!r} instead.")


def _check_training_options(est: Any) -> torch.device:
    """``max_epochs``, ``batch_size``, ``learning_rate``, ``optimizer`` and ``device``."""
    check_int("max_epochs", est.max_epochs, 1)
    check_int("batch_size", est.batch_size, 1)
    check_real("learning_rate", est.learning_rate, 0.0, low_open=True)
    check_choice("optimizer", est.optimizer, OPTIMIZERS)
    return resolve_device(est.device)


def _draw_seed(random_state: Any) -> int:
    """One int seed for torch from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(_MAX_SEED))


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch for the duration of a fit, restoring the global random state afterwards."""
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _to_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """A float32 copy of ``X`` on ``device`` (the caller's array is never shared or modified)."""
    return torch.tensor(np.asarray(X, dtype=np.float32), device=device)


def _train_epochs(est: Any, x: torch.Tensor, epochs: int, describe: Any, offset: int = 0) -> None:
    """``epochs`` more epochs of ``est.model_`` on ``x`` with ``est.optimizer_``, each one
    :func:`layerwise.fit` call seeded with ``est._seed + offset + e`` (``e`` counted over all
    calls, ``est.n_iter_``), so that ``fit`` and as many ``partial_fit`` calls see the same
    batches and the same random draws. Each record is numbered and kept in ``est.history_``;
    with ``verbose``, one line per epoch as BernoulliRBM prints it, ``describe(record)`` in it."""
    device = _device_of(est.model_)
    for _ in range(epochs):
        seed = (est._seed + offset + est.n_iter_) % _MAX_SEED
        with _seeded(seed, device):
            record = fit(est.model_, x, epochs=1, batch_size=est.batch_size, optimizer=est.optimizer_,
                         device=device, seed=seed, progress=False)[0]
        est.n_iter_ += 1
        record["epoch"] = est.n_iter_
        est.history_.append(record)
        if est.verbose:
            print(f"[{type(est).__name__}] Iteration {est.n_iter_}, {describe(record)}, "
                  f"time = {record['seconds']:.2f}s")


def _check_unit_interval(X: np.ndarray, whom: str, why: str) -> None:
    """Raise ValueError unless every value of ``X`` lies in [0, 1].

    Negative values get scikit-learn's wording ("Negative values in data passed to ..."), which
    its common checks expect from estimators tagged ``positive_only``.
    """
    lo, hi = float(X.min()), float(X.max())
    if lo >= 0.0 and hi <= 1.0:
        return
    start = f"Negative values in data passed to {whom}" if lo < 0.0 else f"Values above 1 in data passed to {whom}"
    raise ValueError(
        f"{start}: X must lie in [0, 1] for {why} (binary values or probabilities); got values "
        f"in [{lo:.4g}, {hi:.4g}]. Scale X to [0, 1] first (for example with MinMaxScaler)."
    )


def _encode_labels(est: Any, y: np.ndarray) -> tuple[LabelEncoder, np.ndarray]:
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


def _predict_proba(est: Any, X: Any) -> np.ndarray:
    """Softmax of the logits of ``est.model_`` (a :class:`layerwise.Classifier`), float64."""
    check_is_fitted(est, "model_")
    X = validate_data(est, X, dtype=_FLOATS, reset=False)
    with torch.no_grad():
        est.model_.eval()
        logits = est.model_(_to_tensor(X, _device_of(est.model_)))
    return torch.softmax(logits.double(), dim=1).cpu().numpy()


# --------------------------------------------------------------------------------------------
# AutoEncoderTransformer
# --------------------------------------------------------------------------------------------

class AutoEncoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Autoencoder features: basic, sparse, denoising or contractive, as a transformer.

    Trains a :class:`layerwise.AutoEncoder` ``x -> h -> x'`` on ``X`` and transforms samples
    into their codes ``h`` (the deepest hidden layer). Several hidden sizes give a deep
    autoencoder with a mirrored decoder.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(64,)
        Sizes of the encoder's layers; the last is the number of output features.
    activation : {"sigmoid", "tanh", "relu", "linear"}, default="sigmoid"
        Activation of the hidden layers.
    loss : {"mse", "sse", "bce", "ce"}, default="mse"
        Reconstruction loss. ``"bce"`` needs ``X`` in [0, 1] and ``"ce"`` non-negative ``X``;
        ``fit`` raises ``ValueError`` otherwise.
    output_activation : {"sigmoid", "tanh", "relu", "linear", "softmax"}, default=None
        Activation of the reconstruction. None: ``"sigmoid"`` for ``"bce"``, ``"softmax"``
        for ``"ce"``, otherwise ``activation`` (``"linear"`` for relu). Use ``"linear"`` for
        standardised data, which a sigmoid output cannot reach.
    noise : {"gaussian", "salt_and_pepper", "masking"}, default=None
        Corruption of the input during training (denoising autoencoder).
    noise_level : float, default=0.0
        Standard deviation (``"gaussian"``, >= 0) or probability of corrupting an entry
        (in [0, 1]).
    sparsity : {"l1", "kl"}, default=None
        Sparsity penalty on the code: L1, or ``KL(rho || rho_hat)`` of the mean activations.
    sparsity_weight : float, default=0.0
        Weight of the sparsity penalty (>= 0).
    sparsity_target : float, default=0.05
        Target mean activation ``rho`` in (0, 1) of the ``"kl"`` penalty.
    contractive_weight : float, default=0.0
        Weight of the contractive penalty ``||J_f(x)||_F^2`` (>= 0).
    weight_decay : float, default=0.0
        L2 penalty ``lambda sum W^2`` on the weight matrices (not the biases), in the loss.
    tied_weights : bool, default=False
        Decoder weights are the transposed encoder weights.
    max_epochs : int, default=50
        Passes over the data in ``fit`` (>= 1).
    batch_size : int, default=32
        Samples per gradient step.
    learning_rate : float, default=1e-3
        Step size of the optimiser (> 0).
    optimizer : {"adam", "sgd", "adamw", "rmsprop"}, default="adam"
        Optimiser; ``partial_fit`` keeps its state from call to call.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the noise. Pass an int for
        reproducible results.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when present).
    verbose : bool, default=False
        Show a progress bar with the running loss.

    Attributes
    ----------
    model_ : layerwise.AutoEncoder
        The trained autoencoder.
    components_ : ndarray of shape (hidden_layer_sizes[0], n_features_in_)
        Weights of the first encoder layer (one filter per row), a float32 copy.
    history_ : layerwise.History
        One record per epoch (``loss``, ``reconstruction_error``, ``seconds``, ...).
    n_iter_ : int
        Epochs trained so far.
    optimizer_ : torch.optim.Optimizer
        The optimiser, kept for ``partial_fit``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    StackedAutoEncoderClassifier : pre-trained autoencoder layers, fine-tuned as a classifier.
    sklearn.neural_network.BernoulliRBM : RBM features.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from layerwise.sklearn import AutoEncoderTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> ae = AutoEncoderTransformer(hidden_layer_sizes=(32,), loss="bce", noise="masking",
    ...                             noise_level=0.2, max_epochs=5, random_state=0)
    >>> ae.fit_transform(X).shape
    (1797, 32)
    >>> ae.inverse_transform(ae.transform(X[:3])).shape
    (3, 64)
    >>> model = make_pipeline(ae, LogisticRegression(max_iter=1000)).fit(X, y)
    """

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        activation="sigmoid",
        loss="mse",
        output_activation=None,
        noise=None,
        noise_level=0.0,
        sparsity=None,
        sparsity_weight=0.0,
        sparsity_target=0.05,
        contractive_weight=0.0,
        weight_decay=0.0,
        tied_weights=False,
        max_epochs=50,
        batch_size=32,
        learning_rate=1e-3,
        optimizer="adam",
        random_state=None,
        device="cpu",
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.output_activation = output_activation
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.contractive_weight = contractive_weight
        self.weight_decay = weight_decay
        self.tied_weights = tied_weights
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ---- training -----------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Train a new autoencoder on ``X`` for ``max_epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : AutoEncoderTransformer
            The fitted transformer.
        """
        device = self._check_params()
        X = validate_data(self, X, dtype=_FLOATS)
        x = _to_tensor(X, device)
        self._initialize(x)
        self._train(x, self.max_epochs)
        return self

    def partial_fit(self, X, y=None):
        """Train one more epoch on ``X``, starting from the current weights.

        The first call (or a call on an unfitted transformer) builds the autoencoder as
        ``fit`` does; later calls keep the weights and the optimiser's state, and take the
        current ``learning_rate``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : AutoEncoderTransformer
            The updated transformer.
        """
        first = not hasattr(self, "model_")
        device = self._check_params()
        X = validate_data(self, X, dtype=_FLOATS, reset=first)
        if first:
            x = _to_tensor(X, device)
            self._initialize(x)
        else:
            x = _to_tensor(X, _device_of(self.model_))
            self.model_.validate_data(x)
            for group in self.optimizer_.param_groups:
                group["lr"] = group["initial_lr"] = float(self.learning_rate)
        self._train(x, 1)
        return self

    def _check_params(self) -> torch.device:
        _check_hidden_sizes(self.hidden_layer_sizes)
        _check_autoencoder_options(self, "loss")
        if self.output_activation is not None:
            check_choice("output_activation", self.output_activation, LF.OUTPUT_ACTIVATIONS)
        return _check_training_options(self)

    def _initialize(self, x: torch.Tensor) -> None:
        """Build the autoencoder and its optimiser from a fresh seed (the reset of ``fit``).

        The data are checked against the model (``loss="bce"`` needs [0, 1]) before any
        attribute is set, so that a failed ``fit`` leaves no half-fitted transformer.
        """
        seed = _draw_seed(self.random_state)
        with _seeded(seed, x.device):
            model = AutoEncoder(
                x.shape[1],
                _check_hidden_sizes(self.hidden_layer_sizes),
                activation=self.activation,
                output_activation=self.output_activation,
                tied_weights=bool(self.tied_weights),
                loss=self.loss,
                weight_decay=self.weight_decay,
                sparsity=self.sparsity,
                sparsity_weight=self.sparsity_weight,
                sparsity_target=self.sparsity_target,
                contractive_weight=self.contractive_weight,
                noise=self.noise,
                noise_level=self.noise_level,
                device=x.device,
            )
        model.validate_data(x)
        self._seed = seed
        self.model_ = model
        # The penalty weight_decay is in the model's loss, so none in the optimiser.
        self.optimizer_ = default_optimizer(model, self.optimizer, float(self.learning_rate), 0.0, 0.0)
        self.history_ = History()
        self.n_iter_ = 0

    def _train(self, x: torch.Tensor, epochs: int) -> None:
        """``epochs`` more epochs; epoch ``e`` (counted over all calls) shuffles with seed + e,
        so that ``fit`` and as many ``partial_fit`` calls see the same batches."""
        device = _device_of(self.model_)
        seed = (self._seed + self.n_iter_) % _MAX_SEED
        with _seeded(seed, device):
            history = fit(self.model_, x, epochs=epochs,
                          batch_size=self.batch_size, optimizer=self.optimizer_, device=device,
                          seed=seed, progress=bool(self.verbose), desc=type(self).__name__)
        for record in history:
            self.n_iter_ += 1
            record["epoch"] = self.n_iter_
            self.history_.append(record)
        self.components_ = self.model_.encoder_layers[0].weight.detach().cpu().numpy().copy()

    # ---- the maps -----------------------------------------------------------------------------

    def transform(self, X):
        """Encode ``X``: the codes of the deepest hidden layer (no noise).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, hidden_layer_sizes[-1])
            The codes, in the floating type of ``X`` (float64 for integer input).
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        with torch.no_grad():
            codes = self.model_.transform(_to_tensor(X, _device_of(self.model_)))
        return codes.cpu().numpy().astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Decode codes back to the input space: ``x' = g(h)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, hidden_layer_sizes[-1])
            Codes, as ``transform`` returns them.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            The reconstructions.
        """
        check_is_fitted(self, "model_")
        H = check_array(X, dtype=_FLOATS)
        n_codes = self.model_.n_components
        if H.shape[1] != n_codes:
            raise ValueError(
                f"X has {H.shape[1]} features, but {type(self).__name__}.inverse_transform is "
                f"expecting {n_codes} features (the code size) as input."
            )
        with torch.no_grad():
            recon = self.model_.decode(_to_tensor(H, _device_of(self.model_)))
        return recon.cpu().numpy().astype(H.dtype, copy=False)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error per sample (higher is better).

        ``-1/n sum_b sum_i (g(f(x_b))_i - x_bi)^2`` with clean inputs: the same measure for
        every ``loss``, so that ``GridSearchCV`` can compare settings.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to reconstruct.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        x = _to_tensor(X, _device_of(self.model_))
        with torch.no_grad():
            err = (self.model_.reconstruct(x) - x).pow(2).sum(dim=1)
        return -float(err.double().mean())

    @property
    def _n_features_out(self) -> int:
        """Number of output features (the code size), for ``get_feature_names_out``."""
        return self.model_.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# --------------------------------------------------------------------------------------------
# StackedAutoEncoderClassifier
# --------------------------------------------------------------------------------------------

class _NetworkClassifierMixin:
    """predict / predict_proba of the classifiers whose fitted network is ``model_``."""

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's outputs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow ``classes_``.
        """
        return _predict_proba(self, X)

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


class StackedAutoEncoderClassifier(_NetworkClassifierMixin, ClassifierMixin, BaseEstimator):
    """A feed-forward classifier pre-trained greedily as a stack of autoencoders.

    With ``pretrain=True`` one autoencoder per hidden layer is trained on the codes of the
    layer below (Bengio et al. 2007; Vincent et al. 2010 with ``noise``); their encoders form
    the hidden layers, a softmax layer is added and the whole network is fine-tuned with the
    cross-entropy of the labels. ``pretrain=False`` fine-tunes the same network from a random
    (Glorot) initialisation: the baseline that pre-training is compared with.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Sizes of the hidden layers, bottom first.
    activation : {"sigmoid", "tanh", "relu", "linear"}, default="sigmoid"
        Activation of the hidden layers (of the network and of its autoencoders).
    pretrain : bool, default=True
        Greedy autoencoder pre-training of the hidden layers before fine-tuning.
    ae_loss : {"mse", "sse", "bce", "ce"}, default="mse"
        Reconstruction loss of the autoencoders. ``"bce"`` needs ``X`` in [0, 1].
    noise : {"gaussian", "salt_and_pepper", "masking"}, default=None
        Corruption of the autoencoders' inputs (stacked denoising autoencoders).
    noise_level : float, default=0.0
        Standard deviation (``"gaussian"``) or corruption probability (in [0, 1]).
    sparsity : {"l1", "kl"}, default=None
        Sparsity penalty on the autoencoders' codes.
    sparsity_weight : float, default=0.0
        Weight of the sparsity penalty.
    sparsity_target : float, default=0.05
        Target activation of the ``"kl"`` penalty, in (0, 1).
    contractive_weight : float, default=0.0
        Weight of the contractive penalty.
    weight_decay : float, default=0.0
        L2 penalty on the autoencoders' weights during pre-training (not in fine-tuning).
    tied_weights : bool, default=False
        Tied encoder/decoder weights in the autoencoders.
    pretrain_epochs : int, default=20
        Epochs per autoencoder (>= 1).
    pretrain_learning_rate : float, default=1e-3
        Learning rate of pre-training (> 0).
    max_epochs : int, default=50
        Epochs of fine-tuning (>= 1).
    batch_size : int, default=32
        Samples per gradient step, in pre-training and fine-tuning.
    learning_rate : float, default=0.01
        Learning rate of fine-tuning (> 0).
    optimizer : {"adam", "sgd", "adamw", "rmsprop"}, default="adam"
        Optimiser of pre-training and fine-tuning.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the noise.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    verbose : bool, default=False
        Show progress bars.

    Attributes
    ----------
    model_ : layerwise.Classifier
        The fine-tuned network: ``model_.body`` (the hidden layers) and ``model_.head``.
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    history_ : layerwise.History
        Fine-tuning, one record per epoch (``loss``, ``accuracy``, ...).
    pretrain_histories_ : list of layerwise.History
        One per autoencoder; empty when ``pretrain=False``.
    n_iter_ : int
        Epochs of fine-tuning.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    AutoEncoderTransformer : autoencoder features for any downstream estimator.
    sklearn.neural_network.MLPClassifier : the same network without pre-training.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from layerwise.sklearn import StackedAutoEncoderClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> clf = StackedAutoEncoderClassifier(hidden_layer_sizes=(64, 32), ae_loss="bce",
    ...                                    noise="masking", noise_level=0.2, pretrain_epochs=3,
    ...                                    max_epochs=5, random_state=0).fit(X[:1000], y[:1000])
    >>> clf.predict_proba(X[1000:1003]).shape
    (3, 10)
    >>> bool(clf.score(X[1000:], y[1000:]) > 0.8)
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="sigmoid",
        pretrain=True,
        ae_loss="mse",
        noise=None,
        noise_level=0.0,
        sparsity=None,
        sparsity_weight=0.0,
        sparsity_target=0.05,
        contractive_weight=0.0,
        weight_decay=0.0,
        tied_weights=False,
        pretrain_epochs=20,
        pretrain_learning_rate=1e-3,
        max_epochs=50,
        batch_size=32,
        learning_rate=0.01,
        optimizer="adam",
        random_state=None,
        device="cpu",
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.pretrain = pretrain
        self.ae_loss = ae_loss
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.contractive_weight = contractive_weight
        self.weight_decay = weight_decay
        self.tied_weights = tied_weights
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X, y):
        """Pre-train (unless ``pretrain=False``) and fine-tune on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (any hashable type: ints, strings, ...); at least two classes.

        Returns
        -------
        self : StackedAutoEncoderClassifier
            The fitted classifier.
        """
        hidden = _check_hidden_sizes(self.hidden_layer_sizes)
        _check_autoencoder_options(self, "ae_loss")
        if not isinstance(self.pretrain, (bool, np.bool_)):
            raise TypeError(f"The 'pretrain' parameter must be a bool. Got {self.pretrain!r} instead.")
        check_int("pretrain_epochs", self.pretrain_epochs, 1)
        check_real("pretrain_learning_rate", self.pretrain_learning_rate, 0.0, low_open=True)
        device = _check_training_options(self)

        X, y = validate_data(self, X, y, dtype=_FLOATS)
        encoder, y_index = _encode_labels(self, y)

        seed = _draw_seed(self.random_state)
        x = _to_tensor(X, device)
        common = dict(batch_size=self.batch_size, optimizer=self.optimizer, device=device,
                      seed=seed, progress=bool(self.verbose))
        with _seeded(seed, device):  # attributes are set only once everything has trained
            if self.pretrain:
                body = pretrain([self._layer_learner(h) for h in hidden], x,
                                epochs=self.pretrain_epochs, lr=float(self.pretrain_learning_rate),
                                **common)
            else:
                body = build_mlp(X.shape[1], hidden, self.activation).to(device)
            model, history = finetune(
                body, (x, torch.as_tensor(y_index, dtype=torch.long, device=device)),
                n_classes=len(encoder.classes_), epochs=self.max_epochs,
                lr=float(self.learning_rate), **common)
        self.classes_ = encoder.classes_
        self.model_ = model
        self.history_ = history
        self.pretrain_histories_ = list(body.histories) if self.pretrain else []
        self.n_iter_ = len(history)
        return self

    def _layer_learner(self, n_hidden: int):
        """A callable building the autoencoder of one layer from its input size."""
        options = dict(
            activation=self.activation, loss=self.ae_loss, tied_weights=bool(self.tied_weights),
            weight_decay=self.weight_decay, sparsity=self.sparsity,
            sparsity_weight=self.sparsity_weight, sparsity_target=self.sparsity_target,
            contractive_weight=self.contractive_weight, noise=self.noise,
            noise_level=self.noise_level,
        )
        return lambda n_inputs: AutoEncoder(n_inputs, n_hidden, **options)



# --------------------------------------------------------------------------------------------
# RBMTransformer
# --------------------------------------------------------------------------------------------

class RBMTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Restricted Boltzmann machine features: a drop-in for ``sklearn.neural_network.BernoulliRBM``.

    Trains a :class:`layerwise.models.rbm.RBM` with ``n_components`` hidden units on ``X`` by
    contrastive divergence (CD-k, Hinton 2002) or persistent contrastive divergence (PCD,
    Tieleman 2008) with plain SGD, and transforms samples into the hidden units' probabilities
    ``p(h_j = 1 | v) = sigmoid(c_j + W_j v)``.

    The parameters that ``BernoulliRBM`` has keep its names and defaults; the differences:

    * ``BernoulliRBM`` always trains by PCD with ``batch_size`` persistent chains and one Gibbs
      step per update; here the default is CD-1 (``persistent=False``: the negative phase
      starts at the batch, and its last visible step is the mean, as Hinton's practical guide
      advises). ``persistent=True`` gives PCD with ``batch_size`` chains as ``BernoulliRBM``,
      ``k`` Gibbs steps per update. CD-1 learns good features fast; PCD follows the
      likelihood more closely (see ``score_samples``).
    * The visible biases start at the log-odds of the training data's base rates (Hinton's
      guide, section 8), not at 0; the weights at N(0, 0.01^2) as in both.
    * ``partial_fit`` runs one epoch over ``X`` in batches of ``batch_size`` (so ``n_iter``
      calls equal one ``fit``); ``BernoulliRBM.partial_fit`` takes a single step with all of
      ``X`` as one batch.
    * ``fit`` shuffles the batches every epoch; ``fit`` and ``partial_fit`` return ``self``.
    * ``fit`` checks that ``X`` lies in [0, 1] for Bernoulli visible units (``BernoulliRBM``
      does not check). ``transform``, ``score_samples`` and ``gibbs`` take any real values,
      so that test data slightly outside a scaler's training range still transform.
    * The computation is float32 in torch (on ``device``); outputs come back in the input's
      floating type.

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units (output features).
    learning_rate : float, default=0.1
        SGD step size (> 0) on the mean gradient of a batch, as ``BernoulliRBM``'s.
    batch_size : int, default=10
        Samples per update; also the number of persistent chains with ``persistent=True``.
    n_iter : int, default=10
        Epochs of ``fit`` (>= 0).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the Gibbs sampling of training, and the
        random bits of ``score_samples``. Pass an int for reproducible results.
    verbose : int, default=0
        When > 0, print the pseudo-log-likelihood (of at most 1024 training samples) and the
        time of every epoch, as ``BernoulliRBM`` does.
    k : int, default=1
        Gibbs steps of the negative phase (CD-k, or per update for PCD).
    persistent : bool, default=False
        PCD with ``batch_size`` persistent chains instead of CD-k.
    visible : {"bernoulli", "spin", "gaussian"}, default="bernoulli"
        Visible units: binary {0, 1} (``X`` in [0, 1]), spin {-1, +1} (``X`` in [-1, 1]) or
        Gaussian with unit variance (standardised real ``X``; use a smaller
        ``learning_rate``, about 0.01; no ``score_samples`` then).
    momentum : float, default=0.0
        SGD momentum in [0, 1) (Hinton's guide: 0.5, then 0.9).
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when present).

    Attributes
    ----------
    model_ : layerwise.models.rbm.RBM
        The trained RBM.
    components_ : ndarray of shape (n_components, n_features_in_)
        The weight matrix W (one filter per row), a float32 copy.
    intercept_hidden_ : ndarray of shape (n_components,)
        Hidden biases c.
    intercept_visible_ : ndarray of shape (n_features_in_,)
        Visible biases b.
    h_samples_ : ndarray of shape (batch_size, n_components)
        Only with ``persistent=True``: hidden states of the persistent chains, drawn from
        ``p(h | v_chain)`` after the last update (``BernoulliRBM`` keeps the chains as hidden
        states; here they are visible states, ``model_.chains``).
    history_ : layerwise.History
        One record per epoch (``loss``, ``reconstruction_error``, ``pseudo_log_likelihood``,
        ``seconds``, ...).
    n_iter_ : int
        Epochs trained so far.
    optimizer_ : torch.optim.SGD
        The optimiser, kept for ``partial_fit`` (its momentum buffers).
    random_state_ : RandomState
        Draws the seeds of ``gibbs`` (made at ``fit``, advanced by every call).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    sklearn.neural_network.BernoulliRBM : the numpy estimator this one replaces.
    AutoEncoderTransformer : autoencoder features.
    DBNClassifier : stacked RBMs, fine-tuned as a classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from layerwise.sklearn import RBMTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X > 7).astype(float)
    >>> rbm = RBMTransformer(n_components=64, learning_rate=0.05, n_iter=5, random_state=0)
    >>> rbm.fit_transform(X).shape
    (1797, 64)
    >>> rbm.score_samples(X[:3]).shape
    (3,)
    >>> model = make_pipeline(rbm, LogisticRegression(max_iter=1000)).fit(X, y)
    """

    def __init__(
        self,
        n_components=256,
        learning_rate=0.1,
        batch_size=10,
        n_iter=10,
        random_state=None,
        verbose=0,
        k=1,
        persistent=False,
        visible="bernoulli",
        momentum=0.0,
        device="cpu",
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.random_state = random_state
        self.verbose = verbose
        self.k = k
        self.persistent = persistent
        self.visible = visible
        self.momentum = momentum
        self.device = device

    # ---- training -----------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Train a new RBM on ``X`` for ``n_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: in [0, 1] for Bernoulli visible units (binary or probabilities).
        y : None
            Ignored.

        Returns
        -------
        self : RBMTransformer
            The fitted transformer.
        """
        device = self._check_params()
        X = validate_data(self, X, dtype=_FLOATS)
        self._check_range(X, "fit")
        x = _to_tensor(X, device)
        self._initialize(x)
        self._train(x, self.n_iter)
        return self

    def partial_fit(self, X, y=None):
        """Train one more epoch on ``X`` (in batches of ``batch_size``) from the current weights.

        The first call (or a call on an unfitted transformer) builds the RBM as ``fit`` does;
        later calls keep the weights, the persistent chains and the momentum, and take the
        current ``learning_rate`` and ``momentum``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : RBMTransformer
            The updated transformer.
        """
        first = not hasattr(self, "model_")
        device = self._check_params()
        X = validate_data(self, X, dtype=_FLOATS, reset=first)
        self._check_range(X, "partial_fit")
        if first:
            x = _to_tensor(X, device)
            self._initialize(x)
        else:
            x = _to_tensor(X, _device_of(self.model_))
            for group in self.optimizer_.param_groups:
                group["lr"] = group["initial_lr"] = float(self.learning_rate)
                group["momentum"] = float(self.momentum)
        self._train(x, 1)
        return self

    def _check_params(self) -> torch.device:
        check_int("n_components", self.n_components, 1)
        check_real("learning_rate", self.learning_rate, 0.0, low_open=True)
        check_int("batch_size", self.batch_size, 1)
        check_int("n_iter", self.n_iter, 0)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int("verbose", self.verbose, 0)
        check_int("k", self.k, 1)
        if not isinstance(self.persistent, (bool, np.bool_)):
            raise TypeError(f"The 'persistent' parameter must be a bool. Got {self.persistent!r} instead.")
        check_choice("visible", self.visible, ("bernoulli", "spin", "gaussian"))
        check_real("momentum", self.momentum, 0.0, 1.0, high_open=True)
        return resolve_device(self.device)

    def _check_range(self, X: np.ndarray, method: str) -> None:
        """The training data must lie in the visible units' range (the RBM checks it too,
        but this error has scikit-learn's wording for negative values)."""
        if self.visible == "bernoulli":
            _check_unit_interval(X, f"{type(self).__name__}.{method}", "Bernoulli visible units")

    def _initialize(self, x: torch.Tensor) -> None:
        """Build the RBM and its optimiser from a fresh seed (the reset of ``fit``)."""
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(_MAX_SEED))
        with _seeded(seed, x.device):
            model = RBM(x.shape[1], self.n_components, visible=self.visible, k=self.k,
                        persistent=bool(self.persistent), n_chains=self.batch_size,
                        device=x.device)
            model.init_visible_bias(x)  # checks the data's range before any attribute is set
        self._seed = seed
        self.model_ = model
        self.optimizer_ = default_optimizer(model, "sgd", float(self.learning_rate),
                                            float(self.momentum), 0.0)
        self.random_state_ = rng
        self.history_ = History()
        self.n_iter_ = 0

    def _train(self, x: torch.Tensor, epochs: int) -> None:
        """``epochs`` more epochs, each one :func:`layerwise.fit` call seeded with seed + e (e
        counted over all calls), so that ``fit`` and as many ``partial_fit`` calls see the same
        batches and the same Gibbs samples."""
        _train_epochs(self, x, epochs, self._describe)
        device = _device_of(self.model_)
        if self.model_.persistent:
            with _seeded((self._seed + self.n_iter_) % _MAX_SEED, device), torch.no_grad():
                h = self.model_.sample_hidden(self.model_.chains)
            self.h_samples_ = h.cpu().numpy()
        self.components_ = self.model_.weight.detach().cpu().numpy().copy()
        self.intercept_hidden_ = self.model_.hidden_bias.detach().cpu().numpy().copy()
        self.intercept_visible_ = self.model_.visible_bias.detach().cpu().numpy().copy()

    @staticmethod
    def _describe(record: dict) -> str:
        """The verbose line's measure, as BernoulliRBM prints it."""
        if "pseudo_log_likelihood" in record:
            return f"pseudo-likelihood = {record['pseudo_log_likelihood']:.2f}"
        return f"reconstruction error = {record['reconstruction_error']:.4g}"

    # ---- the maps -----------------------------------------------------------------------------

    def transform(self, X):
        """The hidden units' probabilities ``p(h_j = 1 | v) = sigmoid(c_j + W_j v)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to transform.

        Returns
        -------
        h : ndarray of shape (n_samples, n_components)
            In the floating type of ``X`` (float64 for integer input).
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        h = self.model_.transform(_to_tensor(X, _device_of(self.model_)))
        return h.cpu().numpy().astype(X.dtype, copy=False)

    @available_if(lambda est: est.visible != "gaussian")
    def score_samples(self, X):
        """Pseudo-log-likelihood of each sample, estimated from one random unit (as ``BernoulliRBM``).

        ``n_features * log p(v_i | v_-i)`` for one unit ``i`` drawn at random per sample:
        ``-n_features * softplus(F(v) - F(v~))`` with ``v~`` the sample with unit ``i``
        flipped and ``F`` the free energy; unbiased for ``sum_i log p(v_i | v_-i)``. The
        random units come from ``random_state`` (the same for every call with an int).
        Only binary visible units have it: with ``visible="gaussian"`` the method is absent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Visible vectors (binary; for probabilities ``1 - v`` is used as the flip).

        Returns
        -------
        pseudo_likelihood : ndarray of shape (n_samples,)
            float64; higher is better, at most 0.
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        x = _to_tensor(X, _device_of(self.model_))
        generator = torch.Generator(device=x.device).manual_seed(_draw_seed(self.random_state))
        with torch.no_grad():
            pll = self.model_.pseudo_log_likelihood(x, exact=False, generator=generator)
        return pll.double().cpu().numpy()

    def gibbs(self, v):
        """One block Gibbs step ``v -> h -> v'``: a sample of the visible units.

        The randomness comes from ``random_state_``, which every call advances (as
        ``BernoulliRBM.gibbs``); torch's global random state is left alone.

        Parameters
        ----------
        v : array-like of shape (n_samples, n_features)
            Values of the visible layer to start from.

        Returns
        -------
        v_new : ndarray of shape (n_samples, n_features)
            Values of the visible layer after one Gibbs step, in the floating type of ``v``.
        """
        check_is_fitted(self, "model_")
        V = validate_data(self, v, dtype=_FLOATS, reset=False)
        device = _device_of(self.model_)
        with _seeded(int(self.random_state_.randint(_MAX_SEED)), device), torch.no_grad():
            out = self.model_.gibbs(_to_tensor(V, device), 1)
        return out.cpu().numpy().astype(V.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        """Number of output features (hidden units), for ``get_feature_names_out``."""
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # Bernoulli units need X in [0, 1]: negative values are rejected (so are values
        # above 1, which no tag can say).
        tags.input_tags.positive_only = self.visible == "bernoulli"
        return tags


# --------------------------------------------------------------------------------------------
# DBNClassifier
# --------------------------------------------------------------------------------------------

class DBNClassifier(_NetworkClassifierMixin, ClassifierMixin, BaseEstimator):
    """A feed-forward classifier pre-trained as a deep belief network.

    ``fit`` trains a :class:`layerwise.models.dbn.DBN` greedily, one RBM per hidden layer,
    each on the codes of the layer below (Hinton, Osindero & Teh 2006), by CD-k or PCD with
    SGD and momentum; the RBMs' recognition weights become the sigmoid hidden layers of a
    network, a softmax layer is added, and the whole network is fine-tuned with the
    cross-entropy of the labels (Hinton & Salakhutdinov 2006).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Hidden units of the RBMs, bottom first.
    k : int, default=1
        Gibbs steps of the RBMs' negative phase.
    persistent : bool, default=False
        Pre-train the RBMs by PCD instead of CD-k.
    propagate : {"mean", "sample"}, default="mean"
        What each RBM passes up to the next while pre-training: the probabilities
        ``p(h | v)`` or binary samples of them.
    visible : {"bernoulli", "spin", "gaussian"}, default="bernoulli"
        Units of the data layer: binary {0, 1} (``X`` in [0, 1], checked), spin {-1, +1}
        (``X`` in [-1, 1]) or Gaussian with unit variance (standardised real ``X``; use a
        smaller ``pretrain_learning_rate``, about 0.005).
    pretrain_epochs : int, default=10
        Epochs per RBM (>= 1).
    pretrain_learning_rate : float, default=0.05
        SGD step size of pre-training (> 0).
    pretrain_momentum : float, default=0.5
        SGD momentum of pre-training, in [0, 1).
    max_epochs : int, default=50
        Epochs of fine-tuning (>= 1).
    batch_size : int, default=32
        Samples per step, in pre-training and fine-tuning.
    learning_rate : float, default=0.01
        Step size of fine-tuning (> 0).
    optimizer : {"adam", "sgd", "adamw", "rmsprop"}, default="adam"
        Optimiser of fine-tuning (pre-training uses SGD with ``pretrain_momentum``).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the Gibbs sampling.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    verbose : bool, default=False
        Show progress bars.

    Attributes
    ----------
    model_ : layerwise.Classifier
        The fine-tuned network: ``model_.body`` (the hidden layers) and ``model_.head``.
    dbn_ : layerwise.models.dbn.DBN
        The pre-trained DBN. Its recognition weights were copied into ``model_`` before
        fine-tuning, so it stays the generative model of the pre-training.
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    history_ : layerwise.History
        Fine-tuning, one record per epoch (``loss``, ``accuracy``, ...).
    pretrain_histories_ : list of layerwise.History
        One per RBM (``loss``, ``reconstruction_error``, ``pseudo_log_likelihood``, ...).
    n_iter_ : int
        Epochs of fine-tuning.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    RBMTransformer : one RBM as a feature transformer.
    StackedAutoEncoderClassifier : the same with autoencoders instead of RBMs.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from layerwise.sklearn import DBNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> clf = DBNClassifier(hidden_layer_sizes=(64,), pretrain_epochs=3, max_epochs=10,
    ...                     random_state=0).fit(X[:1000], y[:1000])
    >>> clf.predict_proba(X[1000:1003]).shape
    (3, 10)
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        k=1,
        persistent=False,
        propagate="mean",
        visible="bernoulli",
        pretrain_epochs=10,
        pretrain_learning_rate=0.05,
        pretrain_momentum=0.5,
        max_epochs=50,
        batch_size=32,
        learning_rate=0.01,
        optimizer="adam",
        random_state=None,
        device="cpu",
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.k = k
        self.persistent = persistent
        self.propagate = propagate
        self.visible = visible
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_momentum = pretrain_momentum
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X, y):
        """Pre-train the DBN on ``X``, then fine-tune it as a classifier on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; in [0, 1] for ``visible="bernoulli"``.
        y : array-like of shape (n_samples,)
            Class labels (any hashable type: ints, strings, ...); at least two classes.

        Returns
        -------
        self : DBNClassifier
            The fitted classifier.
        """
        hidden = _check_hidden_sizes(self.hidden_layer_sizes)
        check_int("k", self.k, 1)
        if not isinstance(self.persistent, (bool, np.bool_)):
            raise TypeError(f"The 'persistent' parameter must be a bool. Got {self.persistent!r} instead.")
        check_choice("propagate", self.propagate, ("mean", "sample"))
        check_choice("visible", self.visible, ("bernoulli", "spin", "gaussian"))
        check_int("pretrain_epochs", self.pretrain_epochs, 1)
        check_real("pretrain_learning_rate", self.pretrain_learning_rate, 0.0, low_open=True)
        check_real("pretrain_momentum", self.pretrain_momentum, 0.0, 1.0, high_open=True)
        device = _check_training_options(self)

        X, y = validate_data(self, X, y, dtype=_FLOATS)
        encoder, y_index = _encode_labels(self, y)
        if self.visible == "bernoulli":
            _check_unit_interval(X, f"{type(self).__name__}.fit", "Bernoulli visible units")

        seed = _draw_seed(self.random_state)
        x = _to_tensor(X, device)
        common = dict(batch_size=self.batch_size, device=device, seed=seed,
                      progress=bool(self.verbose))
        with _seeded(seed, device):  # attributes are set only once everything has trained
            dbn = DBN((X.shape[1], *hidden), visible=self.visible, k=self.k,
                      persistent=bool(self.persistent), propagate=self.propagate, device=device)
            dbn.pretrain(x, epochs=self.pretrain_epochs, lr=float(self.pretrain_learning_rate),
                         optimizer="sgd", momentum=float(self.pretrain_momentum), **common)
            model = dbn.to_classifier(len(encoder.classes_), loss="cross_entropy")
            history = fit(model, (x, torch.as_tensor(y_index, dtype=torch.long, device=device)),
                          epochs=self.max_epochs, optimizer=self.optimizer,
                          lr=float(self.learning_rate), desc="fine-tune", **common)
        self.classes_ = encoder.classes_
        self.dbn_ = dbn
        self.model_ = model
        self.history_ = history
        self.pretrain_histories_ = list(dbn.histories_)
        self.n_iter_ = len(history)
        return self


    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The bottom RBM's Bernoulli units need X in [0, 1]: negative values are rejected
        # (so are values above 1, which no tag can say).
        tags.input_tags.positive_only = self.visible == "bernoulli"
        return tags


# --------------------------------------------------------------------------------------------
# ConvSparseCodingTransformer
# --------------------------------------------------------------------------------------------


class ConvSparseCodingTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Convolutional sparse coding features (Zeiler, Krishnan, Taylor & Fergus 2010).

    ``fit`` learns ``n_filters`` unit-norm filters by alternating ISTA/FISTA inference of the
    sparse maps with gradient steps on the filters (:class:`layerwise.deconv.ConvSparseCoding`
    through :func:`layerwise.fit`); ``transform`` infers the maps of new images, minimising
    ``(lam/2) ||sum_k z_k * f_k - y||^2 + sum_k |z_k|_1``, and returns them flattened or pooled.

    Parameters
    ----------
    n_filters : int
        Number of filters (feature maps) K.
    kernel_size : int
        Side of the square filters; at most the image's height and width.
    lam : float
        Weight of the reconstruction term (> 0): larger gives denser maps.
    image_shape : tuple (H, W) or (C, H, W), optional
        Shape of one row of X as an image. Default: a square grayscale image when
        ``n_features`` is a square number, else a one-row image (1, 1, n_features) — a 1-d
        signal, which needs ``kernel_size=1``.
    pooling : {"max"}, int or None
        ``"max"``: the largest ``|z_k|`` of each map (K features); an int p: ``|z|``
        max-pooled over p x p cells, flattened; None: the maps themselves, flattened.
    method : {"fista", "ista"}
        Inference algorithm.
    n_iter : int
        Cap on inference iterations.
    tol : float
        Relative change of the objective that stops inference.
    max_epochs : int
        Epochs of filter learning in ``fit``.
    batch_size : int
        Images per filter step.
    learning_rate : float
        SGD step on the filters.
    random_state : int, RandomState or None
        Seeds the initial filters and the batch order.
    verbose : int
        Print the objective after every epoch.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"``.

    Attributes
    ----------
    model_ : layerwise.deconv.ConvSparseCoding
        The learned model.
    components_ : ndarray of shape (n_filters, C, kernel_size, kernel_size)
        The filters.
    image_shape_ : tuple (C, H, W)
        The image shape used.
    history_ : layerwise.History
        One record per epoch (``loss``, ``objective``, ``reconstruction_mse``, ``sparsity``).
    n_iter_ : int
        Epochs trained.
    n_features_in_ : int
        Number of features seen during ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from layerwise.sklearn import ConvSparseCodingTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> csc = ConvSparseCodingTransformer(n_filters=8, kernel_size=3, pooling=4, max_epochs=1, random_state=0)
    >>> csc.fit_transform(X[:100] / 16).shape          # 8 maps of 10x10, pooled 4x4 -> 3x3
    (100, 72)
    """

    def __init__(self, n_filters=16, kernel_size=5, lam=10.0, image_shape=None, pooling="max", method="fista",
                 n_iter=50, tol=1e-4, max_epochs=5, batch_size=32, learning_rate=0.05, random_state=None,
                 verbose=0, device="cpu"):
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.lam = lam
        self.image_shape = image_shape
        self.pooling = pooling
        self.method = method
        self.n_iter = n_iter
        self.tol = tol
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    def _check_params(self) -> torch.device:
        check_int("max_epochs", self.max_epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("learning_rate", self.learning_rate, 0.0, low_open=True)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int("verbose", self.verbose, 0)
        p = self.pooling
        if not (p is None or p == "max" or (isinstance(p, Integral) and not isinstance(p, bool) and p >= 1)):
            raise ValueError(f"The 'pooling' parameter must be 'max', an int in the range [1, inf) or None. "
                             f"Got {p!r} instead.")
        return resolve_device(self.device)

    def _shape(self, n_features: int) -> tuple[int, int, int]:
        shape = self.image_shape
        if shape is None:
            side = int(round(n_features ** 0.5))
            return (1, side, side) if side * side == n_features else (1, 1, n_features)
        if not isinstance(shape, (tuple, list)) or len(shape) not in (2, 3):
            raise ValueError(f"The 'image_shape' parameter must be (H, W) or (C, H, W). Got {shape!r} instead.")
        shape = tuple(check_int("image_shape", v, 1) for v in shape)
        shape = (1, *shape) if len(shape) == 2 else shape
        if shape[0] * shape[1] * shape[2] != n_features:
            raise ValueError(f"image_shape={self.image_shape!r} holds {shape[0] * shape[1] * shape[2]} values, "
                             f"but X has {n_features} features.")
        return shape

    def _images(self, X: np.ndarray, device: torch.device) -> torch.Tensor:
        return _to_tensor(X, device).reshape(len(X), *self.image_shape_)

    def fit(self, X, y=None):
        """Learn the filters on the rows of ``X`` (images flattened) for ``max_epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images, one per row.
        y : None
            Ignored.

        Returns
        -------
        self : ConvSparseCodingTransformer
        """
        device = self._check_params()
        X = validate_data(self, X, dtype=_FLOATS)
        self._train(self._initialize(X, device), self.max_epochs)
        return self

    def partial_fit(self, X, y=None):
        """One more epoch of filter learning on ``X``; the first call builds the model as ``fit`` does.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : ConvSparseCodingTransformer
        """
        first = not hasattr(self, "model_")
        device = self._check_params()
        X = validate_data(self, X, dtype=_FLOATS, reset=first)
        if first:
            x = self._initialize(X, device)
        else:
            x = self._images(X, _device_of(self.model_))
            for group in self.optimizer_.param_groups:
                group["lr"] = group["initial_lr"] = float(self.learning_rate)
        self._train(x, 1)
        return self

    def _initialize(self, X: np.ndarray, device: torch.device) -> torch.Tensor:
        """Build the model and its optimiser from a fresh seed; return X as images."""
        shape = self._shape(X.shape[1])
        seed = _draw_seed(self.random_state)
        with _seeded(seed, device):
            model = ConvSparseCoding(shape[0], self.n_filters, self.kernel_size, lam=self.lam,
                                     method=self.method, n_iter=self.n_iter, tol=self.tol, device=device)
        x = _to_tensor(X, device).reshape(len(X), *shape)
        model.validate_data(x)  # filters larger than the image: an error before any work
        self.image_shape_, self._seed, self.model_ = shape, seed, model
        self.optimizer_ = default_optimizer(model, "sgd", float(self.learning_rate), 0.0, 0.0)
        self.history_ = History()
        self.n_iter_ = 0
        return x

    def _train(self, x: torch.Tensor, epochs: int) -> None:
        _train_epochs(self, x, epochs, lambda r: f"objective = {r['objective']:.4g}")
        self.components_ = self.model_.weight.detach().cpu().numpy().copy()
        with torch.no_grad():
            self._n_out = int(self.model_.transform(x[:1], pooling=self.pooling).shape[1])

    def transform(self, X):
        """The sparse maps of each image, inferred with the learned filters, flattened or pooled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            ``n_filters`` features for ``pooling="max"``; in the floating type of ``X``.
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        z = self.model_.transform(self._images(X, _device_of(self.model_)), pooling=self.pooling)
        return z.cpu().numpy().astype(X.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        return self._n_out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# --------------------------------------------------------------------------------------------
# DBMTransformer
# --------------------------------------------------------------------------------------------


class DBMTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Deep Boltzmann machine features: the mean-field posteriors of a DBM's hidden layers.

    Trains a :class:`layerwise.models.dbm.DBM` (Salakhutdinov & Hinton 2009) with binary units
    on ``X`` by its own update (mean-field data term, persistent Gibbs chains for the model
    term) through :func:`layerwise.fit`, optionally after greedy pre-training with doubled
    inputs (:meth:`DBM.pretrain`), and transforms samples into the mean-field posterior means
    ``q(h | v)`` of the top hidden layer (``layers="top"``) or of every hidden layer,
    concatenated (``layers="all"``).

    Mean-field runs exactly ``mf_steps`` sweeps (the DBM is built with ``mf_tol=0``), so the
    features of a sample do not depend on the other samples it is transformed with.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(64, 32)
        Sizes of the hidden layers, bottom first; at least two (one hidden layer is an RBM:
        use :class:`RBMTransformer`).
    learning_rate : float, default=0.05
        SGD step size (> 0), of pre-training and of the DBM's training.
    batch_size : int, default=20
        Samples per update.
    n_iter : int, default=10
        Epochs of DBM training in ``fit`` (>= 0).
    pretrain_epochs : int, default=0
        Epochs of greedy pre-training per layer (>= 0) before the DBM's training; 0: none,
        the DBM starts from small random weights.
    mf_steps : int, default=10
        Mean-field sweeps per inference (>= 0; 0: the recognition pass alone), in training
        and in ``transform``.
    n_chains : int, default=100
        Persistent Gibbs chains of the model term (independent of ``batch_size``).
    k : int, default=1
        Gibbs sweeps of the chains per update.
    layers : {"top", "all"}, default="top"
        Features: the top hidden layer's posterior, or every hidden layer's, concatenated.
    momentum : float, default=0.5
        SGD momentum in [0, 1), of pre-training and training.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the pre-training, the shuffling and the Gibbs chains. Pass
        an int for reproducible results.
    verbose : int, default=0
        When > 0, print the reconstruction error and the time of every epoch.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when present).

    Attributes
    ----------
    model_ : layerwise.models.dbm.DBM
        The trained DBM.
    components_ : ndarray of shape (hidden_layer_sizes[0], n_features_in_)
        The bottom weight matrix W_1 (one filter per row), a float32 copy.
    history_ : layerwise.History
        One record per epoch of DBM training (``loss``, ``reconstruction_error``,
        ``variational_free_energy``, ``seconds``, ...).
    pretrain_histories_ : list of layerwise.History
        One per layer when ``pretrain_epochs > 0``, else empty.
    n_iter_ : int
        Epochs of DBM training so far.
    optimizer_ : torch.optim.SGD
        The optimiser, kept for ``partial_fit`` (its momentum buffers).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    Notes
    -----
    ``X`` must lie in [0, 1] (binary values or probabilities) in ``fit``, ``partial_fit`` and
    ``transform``: the DBM's visible units are Bernoulli.

    See Also
    --------
    RBMTransformer : one RBM as a feature transformer.
    DBNClassifier : stacked RBMs (directed above the top), fine-tuned as a classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from layerwise.sklearn import DBMTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16 > 0.5).astype(float)
    >>> dbm = DBMTransformer(hidden_layer_sizes=(32, 16), n_iter=2, random_state=0)
    >>> dbm.fit_transform(X[:200]).shape
    (200, 16)
    """

    def __init__(
        self,
        hidden_layer_sizes=(64, 32),
        learning_rate=0.05,
        batch_size=20,
        n_iter=10,
        pretrain_epochs=0,
        mf_steps=10,
        n_chains=100,
        k=1,
        layers="top",
        momentum=0.5,
        random_state=None,
        verbose=0,
        device="cpu",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.pretrain_epochs = pretrain_epochs
        self.mf_steps = mf_steps
        self.n_chains = n_chains
        self.k = k
        self.layers = layers
        self.momentum = momentum
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    # ---- training -----------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Build a new DBM, pre-train it (``pretrain_epochs > 0``) and train it ``n_iter`` epochs on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data in [0, 1] (binary or probabilities).
        y : None
            Ignored.

        Returns
        -------
        self : DBMTransformer
            The fitted transformer.
        """
        hidden, device = self._check_params()
        X = validate_data(self, X, dtype=_FLOATS)
        _check_unit_interval(X, f"{type(self).__name__}.fit", "Bernoulli visible units")
        x = _to_tensor(X, device)
        self._initialize(x, hidden)
        self._train(x, self.n_iter)
        return self

    def partial_fit(self, X, y=None):
        """Train one more epoch on ``X`` (in batches of ``batch_size``) from the current DBM.

        The first call (or a call on an unfitted transformer) builds and pre-trains the DBM as
        ``fit`` does; later calls keep the weights, the persistent chains and the momentum,
        and take the current ``learning_rate`` and ``momentum``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data in [0, 1].
        y : None
            Ignored.

        Returns
        -------
        self : DBMTransformer
            The updated transformer.
        """
        first = not hasattr(self, "model_")
        hidden, device = self._check_params()
        X = validate_data(self, X, dtype=_FLOATS, reset=first)
        _check_unit_interval(X, f"{type(self).__name__}.partial_fit", "Bernoulli visible units")
        if first:
            x = _to_tensor(X, device)
            self._initialize(x, hidden)
        else:
            x = _to_tensor(X, _device_of(self.model_))
            for group in self.optimizer_.param_groups:
                group["lr"] = group["initial_lr"] = float(self.learning_rate)
                group["momentum"] = float(self.momentum)
        self._train(x, 1)
        return self

    def _check_params(self) -> tuple[tuple[int, ...], torch.device]:
        hidden = _check_hidden_sizes(self.hidden_layer_sizes)
        if len(hidden) < 2:
            raise ValueError(
                "The 'hidden_layer_sizes' parameter must list at least 2 hidden layer sizes. "
                f"Got {self.hidden_layer_sizes!r} instead: a DBM with one hidden layer is an RBM, "
                "use RBMTransformer(persistent=True)."
            )
        check_real("learning_rate", self.learning_rate, 0.0, low_open=True)
        check_int("batch_size", self.batch_size, 1)
        check_int("n_iter", self.n_iter, 0)
        check_int("pretrain_epochs", self.pretrain_epochs, 0)
        check_int("mf_steps", self.mf_steps, 0)
        check_int("n_chains", self.n_chains, 1)
        check_int("k", self.k, 1)
        check_choice("layers", self.layers, ("top", "all"))
        check_real("momentum", self.momentum, 0.0, 1.0, high_open=True)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int("verbose", self.verbose, 0)
        return hidden, resolve_device(self.device)

    def _initialize(self, x: torch.Tensor, hidden: tuple[int, ...]) -> None:
        """Build (and pre-train) the DBM and its optimiser from a fresh seed (the reset of ``fit``)."""
        seed = _draw_seed(self.random_state)
        with _seeded(seed, x.device):
            model = DBM([x.shape[1], *hidden], n_chains=self.n_chains, mf_steps=self.mf_steps,
                        mf_tol=0.0, k=self.k, device=x.device)
            if self.pretrain_epochs > 0:
                model.pretrain(x, epochs=self.pretrain_epochs, batch_size=self.batch_size,
                               lr=float(self.learning_rate), optimizer="sgd",
                               momentum=float(self.momentum), progress=False, device=x.device, seed=seed)
        self._seed = seed
        self.model_ = model
        self.pretrain_histories_ = list(model.histories_) if self.pretrain_epochs > 0 else []
        self.optimizer_ = default_optimizer(model, "sgd", float(self.learning_rate), float(self.momentum), 0.0)
        self.history_ = History()
        self.n_iter_ = 0

    def _train(self, x: torch.Tensor, epochs: int) -> None:
        """``epochs`` more epochs, each one :func:`layerwise.fit` call seeded with seed + 1 + e (e
        counted over all calls), so that ``fit`` and as many ``partial_fit`` calls see the same
        batches and the same Gibbs samples."""
        _train_epochs(self, x, epochs, lambda r: f"reconstruction error = {r['reconstruction_error']:.4g}", offset=1)
        self.components_ = self.model_.weights[0].detach().cpu().numpy().copy()

    # ---- the map ------------------------------------------------------------------------------

    def transform(self, X):
        """The mean-field posterior means of the top hidden layer (or of every hidden layer).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in [0, 1] to transform.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            ``hidden_layer_sizes[-1]`` features for ``layers="top"``, their sum for
            ``layers="all"``; in the floating type of ``X`` (float64 for integer input).
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        _check_unit_interval(X, f"{type(self).__name__}.transform", "Bernoulli visible units")
        h = self.model_.transform(_to_tensor(X, _device_of(self.model_)), layers=self.layers)
        return h.cpu().numpy().astype(X.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        """Number of output features, for ``get_feature_names_out``."""
        sizes = self.model_.sizes
        return sum(sizes[1:]) if self.layers == "all" else sizes[-1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # Bernoulli visible units need X in [0, 1]: negative values are rejected (so are
        # values above 1, which no tag can say).
        tags.input_tags.positive_only = True
        return tags
