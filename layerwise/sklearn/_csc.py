"""Convolutional sparse coding features: :class:`ConvSparseCodingTransformer`."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_int, check_real
from ..models.csc import ConvSparseCoding
from ..training import resolve_device
from ._base import DEPRECATED, EpochTrainerMixin, check_X, device_of, renamed_parameter, to_tensor
from ._rows import Rows, map_rows, range_probe

__all__ = ["ConvSparseCodingTransformer"]


class ConvSparseCodingTransformer(EpochTrainerMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
    max_iter : int
        Cap on the ISTA/FISTA iterations of one inference (>= 1).
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
    n_iter : int, default="deprecated"
        The old name of ``max_iter`` (inference iterations, not epochs).

        .. deprecated:: 0.2
            ``n_iter`` was renamed ``max_iter``, scikit-learn's name for the iterations of a
            solver (as in ``Lasso``), because ``n_iter`` counts epochs in ``RBMTransformer``
            and ``DBMTransformer`` (as in ``BernoulliRBM``). The epochs of this estimator
            keep the name ``max_epochs`` for now: passing ``n_iter`` must not silently
            change meaning within one release.

    Notes
    -----
    A sparse ``X`` (any scipy format) is densified a mini-batch of images at a time in training
    and in chunks of rows by ``transform``, never whole.

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
                 max_iter=50, tol=1e-4, max_epochs=5, batch_size=32, learning_rate=0.05, random_state=None,
                 verbose=0, device="cpu", n_iter=DEPRECATED):
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.lam = lam
        self.image_shape = image_shape
        self.pooling = pooling
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_iter = n_iter

    # ---- training (fit and partial_fit: EpochTrainerMixin) ----------------------------------

    _epochs_param = "max_epochs"
    _min_epochs = 1

    def _check_params(self) -> torch.device:
        check_int(*renamed_parameter(self, "max_iter", "n_iter"), 1)
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

    def _as_input(self, X, device: torch.device) -> torch.Tensor | Rows:
        """The rows of ``X`` as images of ``image_shape_`` (sparse: densified a batch at a time)."""
        if sp.issparse(X):
            return Rows(X, device, self.image_shape_)
        return to_tensor(X, device).reshape(X.shape[0], *self.image_shape_)

    def _build(self, X, device: torch.device, seed: int) -> tuple[ConvSparseCoding, torch.Tensor | Rows]:
        shape = self._shape(X.shape[1])
        _, max_iter = renamed_parameter(self, "max_iter", "n_iter", warn=False)  # warned in _check_params
        model = ConvSparseCoding(shape[0], self.n_filters, self.kernel_size, lam=self.lam,
                                 method=self.method, n_iter=max_iter, tol=self.tol, device=device)
        x = Rows(X, device, shape) if sp.issparse(X) else to_tensor(X, device).reshape(X.shape[0], *shape)
        # filters larger than the image: an error before any work (sparse: on X's range, two images)
        model.validate_data(range_probe(X).reshape(2, *shape) if sp.issparse(X) else x)
        self.image_shape_ = shape
        return model, x

    def _optimizer_settings(self) -> tuple[str, dict]:
        return "sgd", {"lr": float(self.learning_rate)}

    def _describe(self, record: dict) -> str:
        return f"objective = {record['objective']:.4g}"

    def _update_learned(self, x) -> None:
        self.components_ = self.model_.weight.detach().cpu().numpy().copy()
        with torch.no_grad():
            self._n_out = int(self.model_.transform(x[:1], pooling=self.pooling).shape[1])

    # ---- the map ------------------------------------------------------------------------------

    def transform(self, X):
        """The sparse maps of each image, inferred with the learned filters, flattened or pooled.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            ``n_filters`` features for ``pooling="max"``; in the floating type of ``X``.
        """
        check_is_fitted(self, "model_")
        X = check_X(self, X)
        z = map_rows(lambda x: self.model_.transform(x, pooling=self.pooling), X, device_of(self.model_),
                     self.image_shape_)
        return z.cpu().numpy().astype(X.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        return self._n_out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags
