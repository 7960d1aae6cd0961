"""RBM estimators: :class:`RBMTransformer` (a drop-in for BernoulliRBM) and :class:`DBNClassifier`."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .._validation import check_bool, check_choice, check_int, check_real
from ..models.dbn import DBN
from ..models.rbm import RBM
from ..partition import pseudo_log_likelihood
from ..training import fit, resolve_device
from ._base import (DEPRECATED, MAX_SEED, EpochTrainerMixin, NetworkClassifierMixin, check_hidden_sizes,
                    check_training_options, check_X, device_of, draw_seed, encode_labels, seeded, to_tensor)
from ._rows import Rows, column_means, dense_tensor, map_rows, unit_range_policy

__all__ = ["DBNClassifier", "RBMTransformer"]


class RBMTransformer(EpochTrainerMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
    * Values outside [0, 1] for Bernoulli visible units (outside [-1, 1] for spin units):
      ``BernoulliRBM`` takes them silently; ``fit`` and ``partial_fit`` warn (``UserWarning``)
      and train on them as ``BernoulliRBM`` does (``strict=False``, the default; the visible
      biases start from the base rates clipped to [0, 1]), or raise ``ValueError``
      (``strict=True``). ``transform``, ``score_samples`` and ``gibbs`` take any real values,
      as ``BernoulliRBM``'s, so that test data slightly outside a scaler's training range
      still transform.
    * Sparse ``X`` (any scipy format; CSR inside) is taken by every method, as by
      ``BernoulliRBM``: ``fit`` densifies one mini-batch at a time (and once an epoch the at
      most 1024 rows of its monitor), the other methods chunks of rows; never the whole matrix.
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
    strict : bool, default=False
        What ``fit`` and ``partial_fit`` do with values outside the binary visible units'
        range ([0, 1]; [-1, 1] for spin units): False, warn and train on them (as
        ``BernoulliRBM``); True, raise ``ValueError``.

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
        Hidden states drawn after the last update, as ``BernoulliRBM``'s: with
        ``persistent=True`` from ``p(h | v_chain)`` of the persistent chains (``BernoulliRBM``
        keeps the chains as hidden states; here they are visible states, ``model_.chains``);
        with CD, where the negative phase starts at the data, from ``p(h | v)`` of the last
        ``batch_size`` rows of the last ``X`` trained on. Set by ``fit`` and ``partial_fit``.
    history_ : layerwise.History
        One record per epoch: ``epoch``, ``lr``, ``seconds`` and ``threads``; with ``verbose`` also the
        monitor's metrics (``reconstruction_error``, ``free_energy``, ``pseudo_log_likelihood``
        of at most 1024 training samples). The CD surrogate loss is not recorded, and with
        ``verbose=0`` nothing is computed per epoch beyond the updates (as ``BernoulliRBM``):
        the weights are the same either way. ``layerwise.fit(model_, ...)`` records both.
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
        strict=False,
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
        self.strict = strict

    # ---- training (fit and partial_fit: EpochTrainerMixin) ----------------------------------

    _keeps_random_state = True
    _records_loss = False  # the CD surrogate: a third of a batch of 10's step, and no objective
    _metrics_when_quiet = False  # BernoulliRBM too computes nothing per epoch with verbose=0

    def _check_params(self) -> torch.device:
        check_int("n_components", self.n_components, 1)
        check_real("learning_rate", self.learning_rate, 0.0, low_open=True)
        check_int("batch_size", self.batch_size, 1)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int("verbose", self.verbose, 0)
        check_int("k", self.k, 1)
        if not isinstance(self.persistent, (bool, np.bool_)):
            raise TypeError(f"The 'persistent' parameter must be a bool. Got {self.persistent!r} instead.")
        check_choice("visible", self.visible, ("bernoulli", "spin", "gaussian"))
        check_real("momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_bool("strict", self.strict)
        return resolve_device(self.device)

    def _binary_range(self) -> tuple[float, float] | None:
        """The states of binary visible units; None for Gaussian units (any real values)."""
        return {"bernoulli": (0.0, 1.0), "spin": (-1.0, 1.0)}.get(self.visible)

    def _check_data(self, X, method: str):
        """The ``strict`` policy on values outside the binary visible units' range; remembers
        whether ``X`` has some (it then trains as given, past the RBM's own range check)."""
        bounds = self._binary_range()
        self._outside = bounds is not None and unit_range_policy(
            self, X, method, *bounds, what=f"{self.visible.capitalize()} visible units",
            then="trains on them as given (as BernoulliRBM)")
        return X

    def _as_input(self, X, device: torch.device) -> torch.Tensor | Rows:
        if self._outside and not sp.issparse(X):
            return Rows(to_tensor(X, device), device)  # fit leaves the range to us
        return super()._as_input(X, device)

    def _build(self, X, device: torch.device, seed: int) -> tuple[RBM, torch.Tensor | Rows]:
        x = self._as_input(X, device)
        model = RBM(X.shape[1], self.n_components, visible=self.visible, k=self.k,
                    persistent=bool(self.persistent), n_chains=self.batch_size, device=device)
        if isinstance(x, torch.Tensor):
            model.init_visible_bias(x)  # checks the data's range
        else:  # sparse, or values outside the range (strict=False): the base rates, clipped
            bounds = self._binary_range()
            means = column_means(X).to(device)
            model.init_visible_bias(means.clamp(*bounds) if bounds is not None else means)
        return model, x

    def _optimizer_settings(self) -> tuple[str, dict]:
        return "sgd", {"lr": float(self.learning_rate), "momentum": float(self.momentum)}

    def _update_learned(self, x: torch.Tensor | Rows) -> None:
        with seeded((self._seed + self.n_iter_) % MAX_SEED, device_of(self.model_)), torch.no_grad():
            last = torch.arange(max(0, len(x) - self.batch_size), len(x))  # CD's chains start at the data
            v = self.model_.chains if self.model_.persistent else x[last]
            self.h_samples_ = self.model_._sample_hidden(v).cpu().numpy()
        self.components_ = self.model_.weight.detach().cpu().numpy().copy()
        self.intercept_hidden_ = self.model_.hidden_bias.detach().cpu().numpy().copy()
        self.intercept_visible_ = self.model_.visible_bias.detach().cpu().numpy().copy()

    def _describe(self, record: dict) -> str:
        """The verbose line's measure, as BernoulliRBM prints it."""
        if "pseudo_log_likelihood" in record:
            return f"pseudo-likelihood = {record['pseudo_log_likelihood']:.2f}"
        return f"reconstruction error = {record['reconstruction_error']:.4g}"

    # ---- the maps -----------------------------------------------------------------------------

    def transform(self, X):
        """The hidden units' probabilities ``p(h_j = 1 | v) = sigmoid(c_j + W_j v)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to transform; any real values (as ``BernoulliRBM``).

        Returns
        -------
        h : ndarray of shape (n_samples, n_components)
            In the floating type of ``X`` (float64 for integer input).
        """
        check_is_fitted(self, "model_")
        X = check_X(self, X)
        with torch.no_grad():  # any real values, as BernoulliRBM.transform (X checked above)
            h = map_rows(self.model_._hidden_probs, X, device_of(self.model_))
        return h.cpu().numpy().astype(X.dtype, copy=False)

    @available_if(lambda est: est.visible != "gaussian")
    def score_samples(self, X):
        """Pseudo-log-likelihood of each sample, estimated from one random unit (as ``BernoulliRBM``).

        ``n_features * log p(v_i | v_-i)`` for one unit ``i`` drawn at random per sample:
        ``-n_features * softplus(F(v) - F(v~))`` with ``v~`` the sample with unit ``i``
        flipped and ``F`` the free energy; unbiased for ``sum_i log p(v_i | v_-i)``. The
        random units come from ``random_state`` (the same for every call with an int).
        Only binary visible units have it: with ``visible="gaussian"`` the method is absent.
        As ``BernoulliRBM.score_samples``, it takes any real values (the flip of ``v_i`` is
        then ``1 - v_i``, ``-v_i`` for spin units), sparse ``X`` too.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Visible vectors (binary; for other values ``1 - v`` is used as the flip).

        Returns
        -------
        pseudo_likelihood : ndarray of shape (n_samples,)
            float64; higher is better, at most 0.
        """
        check_is_fitted(self, "model_")
        X = check_X(self, X)
        device = device_of(self.model_)
        generator = torch.Generator(device=device).manual_seed(draw_seed(self.random_state))
        with torch.no_grad():
            pll = map_rows(lambda x: pseudo_log_likelihood(self.model_, x, exact=False, generator=generator,
                                                           checked=False), X, device)
        return pll.double().cpu().numpy()

    def gibbs(self, v):
        """One block Gibbs step ``v -> h -> v'``: a sample of the visible units.

        The randomness comes from ``random_state_``, which every call advances (as
        ``BernoulliRBM.gibbs``); torch's global random state is left alone.

        Parameters
        ----------
        v : {array-like, sparse matrix} of shape (n_samples, n_features)
            Values of the visible layer to start from (any real values).

        Returns
        -------
        v_new : ndarray of shape (n_samples, n_features)
            Values of the visible layer after one Gibbs step, in the floating type of ``v``.
        """
        check_is_fitted(self, "model_")
        V = check_X(self, v)
        device = device_of(self.model_)
        with seeded(int(self.random_state_.randint(MAX_SEED)), device), torch.no_grad():
            # any real values, as BernoulliRBM.gibbs (V checked above)
            out = map_rows(lambda x: self.model_._sample_visible(self.model_._sample_hidden(x)), V, device)
        return out.cpu().numpy().astype(V.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        """Number of output features (hidden units), for ``get_feature_names_out``."""
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        # strict Bernoulli units need X in [0, 1]: negative values are rejected (so are values
        # above 1, which no tag can say); strict=False takes them with a warning.
        tags.input_tags.positive_only = self.visible == "bernoulli" and self.strict is True
        return tags


class DBNClassifier(NetworkClassifierMixin, ClassifierMixin, BaseEstimator):
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
    n_iter : int, default=50
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
        Show progress bars, and print the loss and the time of every epoch of fine-tuning.
    strict : bool, default=False
        With ``visible="bernoulli"``, what ``fit`` does with values of ``X`` outside [0, 1]:
        False, warn and clip them to [0, 1] (the layers above are trained on the bottom RBM's
        codes, which need binary data); True, raise ``ValueError``.
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
    >>> clf = DBNClassifier(hidden_layer_sizes=(64,), pretrain_epochs=3, n_iter=10,
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
        n_iter=50,
        batch_size=32,
        learning_rate=0.01,
        optimizer="adam",
        random_state=None,
        device="cpu",
        verbose=False,
        strict=False,
        max_epochs=DEPRECATED,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.k = k
        self.persistent = persistent
        self.propagate = propagate
        self.visible = visible
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_momentum = pretrain_momentum
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.strict = strict
        self.max_epochs = max_epochs

    _epochs_old_name = "max_epochs"
    _min_epochs = 1

    def fit(self, X, y):
        """Pre-train the DBN on ``X``, then fine-tune it as a classifier on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; in [0, 1] for ``visible="bernoulli"`` (see ``strict``).
        y : array-like of shape (n_samples,)
            Class labels (any hashable type: ints, strings, ...); at least two classes.

        Returns
        -------
        self : DBNClassifier
            The fitted classifier.
        """
        hidden = check_hidden_sizes(self.hidden_layer_sizes)
        check_int("k", self.k, 1)
        if not isinstance(self.persistent, (bool, np.bool_)):
            raise TypeError(f"The 'persistent' parameter must be a bool. Got {self.persistent!r} instead.")
        check_choice("propagate", self.propagate, ("mean", "sample"))
        check_choice("visible", self.visible, ("bernoulli", "spin", "gaussian"))
        check_int("pretrain_epochs", self.pretrain_epochs, 1)
        check_real("pretrain_learning_rate", self.pretrain_learning_rate, 0.0, low_open=True)
        check_real("pretrain_momentum", self.pretrain_momentum, 0.0, 1.0, high_open=True)
        check_bool("strict", self.strict)
        epochs = self._fit_epochs()
        device = check_training_options(self)

        X, y = check_X(self, X, reset=True, y=y)
        encoder, y_index = encode_labels(self, y)
        if self.visible == "bernoulli":
            X = self._clip_to_unit_interval(X, "fit")

        seed = draw_seed(self.random_state)
        x = dense_tensor(X, device)
        common = dict(batch_size=self.batch_size, device=device, seed=seed,
                      progress=bool(self.verbose))
        with seeded(seed, device):  # attributes are set only once everything has trained
            dbn = DBN((X.shape[1], *hidden), visible=self.visible, k=self.k,
                      persistent=bool(self.persistent), propagate=self.propagate, device=device)
            dbn.pretrain(x, epochs=self.pretrain_epochs, lr=float(self.pretrain_learning_rate),
                         optimizer="sgd", momentum=float(self.pretrain_momentum), **common)
            model = dbn.to_classifier(len(encoder.classes_), loss="cross_entropy")
            history = fit(model, (x, torch.as_tensor(y_index, dtype=torch.long, device=device)),
                          epochs=epochs, optimizer=self.optimizer, lr=float(self.learning_rate),
                          desc="fine-tune", callbacks=self._epoch_callbacks(), **common)
        self.classes_ = encoder.classes_
        self.dbn_ = dbn
        self.model_ = model
        self.history_ = history
        self.pretrain_histories_ = list(dbn.histories_)
        self.n_iter_ = len(history)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # The bottom RBM's strict Bernoulli units need X in [0, 1]: negative values are rejected
        # (so are values above 1, which no tag can say); strict=False clips them.
        tags.input_tags.positive_only = self.visible == "bernoulli" and self.strict is True
        return tags
