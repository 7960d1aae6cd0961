"""scikit-learn estimators: autoencoder features and stacked-autoencoder classifiers.

:class:`AutoEncoderTransformer` is an unsupervised transformer (``fit`` / ``transform`` /
``inverse_transform``) over :class:`layerwise.AutoEncoder`;
:class:`StackedAutoEncoderClassifier` pre-trains one autoencoder per hidden layer greedily
(:func:`layerwise.pretrain`) and fine-tunes the stack with a softmax head
(:func:`layerwise.finetune`). Both train through :func:`layerwise.fit` and follow
scikit-learn's conventions, so that they work in ``Pipeline``, ``GridSearchCV`` and ``clone``:

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
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import functional as LF
from ._validation import check_choice, check_int, check_real
from .models.autoencoder import SPARSITIES, AutoEncoder
from .pretraining import build_mlp, finetune, pretrain
from .training import OPTIMIZERS, History, default_optimizer, fit, resolve_device

__all__ = ["AutoEncoderTransformer", "StackedAutoEncoderClassifier"]

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

class StackedAutoEncoderClassifier(ClassifierMixin, BaseEstimator):
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
        check_classification_targets(y)
        encoder = LabelEncoder()
        y_index = encoder.fit_transform(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {encoder.classes_[0]!r}."
            )

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
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        with torch.no_grad():
            self.model_.eval()
            logits = self.model_(_to_tensor(X, _device_of(self.model_)))
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
