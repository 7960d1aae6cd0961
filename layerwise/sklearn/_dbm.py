"""Deep Boltzmann machine features: :class:`DBMTransformer`."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_bool, check_choice, check_int, check_real
from ..models.dbm import DBM
from ..training import resolve_device
from ._base import EpochTrainerMixin, check_hidden_sizes, check_X, device_of
from ._rows import dense_tensor, map_rows, range_probe

__all__ = ["DBMTransformer"]


class DBMTransformer(EpochTrainerMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
    strict : bool, default=False
        What ``fit``, ``partial_fit`` and ``transform`` do with values of ``X`` outside
        [0, 1]: False, warn and clip them to [0, 1]; True, raise ``ValueError``.

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
    ``transform``: the DBM's visible units are Bernoulli (see ``strict``).

    A sparse ``X`` is densified a mini-batch at a time in training and in chunks of rows in
    ``transform``; the greedy pre-training (``pretrain_epochs > 0``) densifies it whole.

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
        strict=False,
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
        self.strict = strict

    # ---- training (fit and partial_fit: EpochTrainerMixin) ----------------------------------

    _seed_offset = 1  # the greedy pre-training is seeded with the seed itself

    def _check_params(self) -> torch.device:
        hidden = check_hidden_sizes(self.hidden_layer_sizes)
        if len(hidden) < 2:
            raise ValueError(
                "The 'hidden_layer_sizes' parameter must list at least 2 hidden layer sizes. "
                f"Got {self.hidden_layer_sizes!r} instead: a DBM with one hidden layer is an RBM, "
                "use RBMTransformer(persistent=True)."
            )
        check_real("learning_rate", self.learning_rate, 0.0, low_open=True)
        check_int("batch_size", self.batch_size, 1)
        check_int("pretrain_epochs", self.pretrain_epochs, 0)
        check_int("mf_steps", self.mf_steps, 0)
        check_int("n_chains", self.n_chains, 1)
        check_int("k", self.k, 1)
        check_choice("layers", self.layers, ("top", "all"))
        check_real("momentum", self.momentum, 0.0, 1.0, high_open=True)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int("verbose", self.verbose, 0)
        check_bool("strict", self.strict)
        return resolve_device(self.device)

    def _check_data(self, X, method: str):
        return self._clip_to_unit_interval(X, method)

    def _build(self, X, device: torch.device, seed: int):
        """The DBM, pre-trained greedily when ``pretrain_epochs > 0``."""
        x = self._as_input(X, device)
        model = DBM([X.shape[1], *check_hidden_sizes(self.hidden_layer_sizes)], n_chains=self.n_chains,
                    mf_steps=self.mf_steps, mf_tol=0.0, k=self.k, device=device)
        if sp.issparse(X):
            model.validate_data(range_probe(X))  # what fit checks on a tensor
        if self.pretrain_epochs > 0:
            whole = x if isinstance(x, torch.Tensor) else dense_tensor(X, device)  # sparse: densified whole
            model.pretrain(whole, epochs=self.pretrain_epochs, batch_size=self.batch_size,
                           lr=float(self.learning_rate), optimizer="sgd",
                           momentum=float(self.momentum), progress=False, device=device, seed=seed)
        self.pretrain_histories_ = list(model.histories_) if self.pretrain_epochs > 0 else []
        return model, x

    def _optimizer_settings(self) -> tuple[str, dict]:
        return "sgd", {"lr": float(self.learning_rate), "momentum": float(self.momentum)}

    def _describe(self, record: dict) -> str:
        return f"reconstruction error = {record['reconstruction_error']:.4g}"

    def _update_learned(self, x) -> None:
        self.components_ = self.model_.weights[0].detach().cpu().numpy().copy()

    # ---- the map ------------------------------------------------------------------------------

    def transform(self, X):
        """The mean-field posterior means of the top hidden layer (or of every hidden layer).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in [0, 1] to transform (see ``strict``).

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            ``hidden_layer_sizes[-1]`` features for ``layers="top"``, their sum for
            ``layers="all"``; in the floating type of ``X`` (float64 for integer input).
        """
        check_is_fitted(self, "model_")
        X = self._clip_to_unit_interval(check_X(self, X), "transform")
        h = map_rows(lambda x: self.model_.transform(x, layers=self.layers), X, device_of(self.model_))
        return h.cpu().numpy().astype(X.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        """Number of output features, for ``get_feature_names_out``."""
        sizes = self.model_.sizes
        return sum(sizes[1:]) if self.layers == "all" else sizes[-1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        # strict Bernoulli visible units need X in [0, 1]: negative values are rejected (so are
        # values above 1, which no tag can say); strict=False clips them.
        tags.input_tags.positive_only = self.strict is True
        return tags
