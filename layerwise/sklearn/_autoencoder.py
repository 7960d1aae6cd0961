"""Autoencoder estimators: :class:`AutoEncoderTransformer` and :class:`StackedAutoEncoderClassifier`."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .. import functional as LF
from .._validation import check_choice, check_int, check_real
from ..models.autoencoder import SPARSITIES, AutoEncoder
from ..models.classifier import build_mlp, finetune
from ..pretraining import pretrain
from ._base import (DEPRECATED, FLOATS, EpochTrainerMixin, NetworkClassifierMixin, check_hidden_sizes,
                    check_training_options, check_X, device_of, draw_seed, encode_labels, seeded)
from ._rows import dense_tensor, map_rows, range_probe

__all__ = ["AutoEncoderTransformer", "StackedAutoEncoderClassifier"]


def check_autoencoder_options(est: Any, loss_name: str) -> None:
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



class AutoEncoderTransformer(EpochTrainerMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
    n_iter : int, default=50
        Epochs (passes over the data) of ``fit`` (>= 1), as ``BernoulliRBM``'s ``n_iter``.
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
        Show a progress bar with the running loss, and print the loss and the time of
        every epoch.
    max_epochs : int, default="deprecated"
        The old name of ``n_iter``.

        .. deprecated:: 0.2
            ``max_epochs`` was renamed ``n_iter`` (the name of ``BernoulliRBM`` and
            ``RBMTransformer``); the old name is removed in the next release.

    Notes
    -----
    A sparse ``X`` (any scipy format) is densified a mini-batch at a time in training and in
    chunks of rows by the other methods, never whole.

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
    ...                             noise_level=0.2, n_iter=5, random_state=0)
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
        n_iter=50,
        batch_size=32,
        learning_rate=1e-3,
        optimizer="adam",
        random_state=None,
        device="cpu",
        verbose=False,
        max_epochs=DEPRECATED,
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
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.max_epochs = max_epochs

    # ---- training (fit and partial_fit: EpochTrainerMixin) ----------------------------------

    _epochs_old_name = "max_epochs"
    _min_epochs = 1
    _progress_bar = True

    def _check_params(self) -> torch.device:
        check_hidden_sizes(self.hidden_layer_sizes)
        check_autoencoder_options(self, "loss")
        if self.output_activation is not None:
            check_choice("output_activation", self.output_activation, LF.OUTPUT_ACTIVATIONS)
        return check_training_options(self)

    def _build(self, X, device: torch.device, seed: int):
        """The autoencoder, checked against the data (``loss="bce"`` needs [0, 1])."""
        x = self._as_input(X, device)
        model = AutoEncoder(
            X.shape[1],
            check_hidden_sizes(self.hidden_layer_sizes),
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
            device=device,
        )
        model.validate_data(range_probe(X) if sp.issparse(X) else x)  # the probe: X's range, not densified
        return model, x

    def _optimizer_settings(self) -> tuple[str, dict]:
        # The penalty weight_decay is in the model's loss, so none in the optimiser.
        return self.optimizer, {"lr": float(self.learning_rate)}

    def _update_learned(self, x) -> None:
        self.components_ = self.model_.encoder_layers[0].weight.detach().cpu().numpy().copy()

    # ---- the maps -----------------------------------------------------------------------------

    def transform(self, X):
        """Encode ``X``: the codes of the deepest hidden layer (no noise).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, hidden_layer_sizes[-1])
            The codes, in the floating type of ``X`` (float64 for integer input).
        """
        check_is_fitted(self, "model_")
        X = check_X(self, X)
        with torch.no_grad():
            codes = map_rows(self.model_.transform, X, device_of(self.model_))
        return codes.cpu().numpy().astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Decode codes back to the input space: ``x' = g(h)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, hidden_layer_sizes[-1])
            Codes, as ``transform`` returns them.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            The reconstructions.
        """
        check_is_fitted(self, "model_")
        H = check_array(X, dtype=FLOATS, accept_sparse="csr")
        n_codes = self.model_.n_components
        if H.shape[1] != n_codes:
            raise ValueError(
                f"X has {H.shape[1]} features, but {type(self).__name__}.inverse_transform is "
                f"expecting {n_codes} features (the code size) as input."
            )
        with torch.no_grad():
            recon = map_rows(self.model_.decode, H, device_of(self.model_))
        return recon.cpu().numpy().astype(H.dtype, copy=False)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error per sample (higher is better).

        ``-1/n sum_b sum_i (g(f(x_b))_i - x_bi)^2`` with clean inputs: the same measure for
        every ``loss``, so that ``GridSearchCV`` can compare settings.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to reconstruct.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "model_")
        X = check_X(self, X)
        with torch.no_grad():
            err = map_rows(lambda x: (self.model_.reconstruct(x) - x).pow(2).sum(dim=1), X, device_of(self.model_))
        return -float(err.double().mean())

    @property
    def _n_features_out(self) -> int:
        """Number of output features (the code size), for ``get_feature_names_out``."""
        return self.model_.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags



class StackedAutoEncoderClassifier(NetworkClassifierMixin, ClassifierMixin, BaseEstimator):
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
    n_iter : int, default=50
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
        Show progress bars, and print the loss and the time of every epoch of fine-tuning.
    max_epochs : int, default="deprecated"
        The old name of ``n_iter``.

        .. deprecated:: 0.2
            ``max_epochs`` was renamed ``n_iter``; the old name is removed in the next release.

    Notes
    -----
    A sparse ``X`` is densified whole by ``fit`` (pre-training passes the data up through
    every layer), in chunks of rows by ``predict`` and ``predict_proba``.

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
    ...                                    n_iter=5, random_state=0).fit(X[:1000], y[:1000])
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
        n_iter=50,
        batch_size=32,
        learning_rate=0.01,
        optimizer="adam",
        random_state=None,
        device="cpu",
        verbose=False,
        max_epochs=DEPRECATED,
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
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.max_epochs = max_epochs

    _epochs_old_name = "max_epochs"
    _min_epochs = 1

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
        hidden = check_hidden_sizes(self.hidden_layer_sizes)
        check_autoencoder_options(self, "ae_loss")
        if not isinstance(self.pretrain, (bool, np.bool_)):
            raise TypeError(f"The 'pretrain' parameter must be a bool. Got {self.pretrain!r} instead.")
        check_int("pretrain_epochs", self.pretrain_epochs, 1)
        check_real("pretrain_learning_rate", self.pretrain_learning_rate, 0.0, low_open=True)
        epochs = self._fit_epochs()
        device = check_training_options(self)

        X, y = check_X(self, X, reset=True, y=y)
        encoder, y_index = encode_labels(self, y)

        seed = draw_seed(self.random_state)
        x = dense_tensor(X, device)
        common = dict(batch_size=self.batch_size, optimizer=self.optimizer, device=device,
                      seed=seed, progress=bool(self.verbose))
        with seeded(seed, device):  # attributes are set only once everything has trained
            if self.pretrain:
                body = pretrain([self._layer_learner(h) for h in hidden], x,
                                epochs=self.pretrain_epochs, lr=float(self.pretrain_learning_rate),
                                **common)
            else:
                body = build_mlp(X.shape[1], hidden, self.activation).to(device)
            model, history = finetune(
                body, (x, torch.as_tensor(y_index, dtype=torch.long, device=device)),
                n_classes=len(encoder.classes_), epochs=epochs,
                lr=float(self.learning_rate), callbacks=self._epoch_callbacks(), **common)
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
