"""scikit-learn estimators: RBM, DBM, autoencoder and sparse-coding features, DBN and stacked-autoencoder classifiers.

:class:`AutoEncoderTransformer` is an unsupervised transformer (``fit`` / ``transform`` /
``inverse_transform``) over :class:`layerwise.AutoEncoder`;
:class:`StackedAutoEncoderClassifier` pre-trains one autoencoder per hidden layer greedily
(:func:`layerwise.pretrain`) and fine-tunes the stack with a softmax head
(:func:`layerwise.finetune`). :class:`RBMTransformer` is a drop-in for scikit-learn's
``BernoulliRBM`` over :class:`layerwise.models.rbm.RBM`; :class:`DBNClassifier` pre-trains a
deep belief network (:class:`layerwise.models.dbn.DBN`) and fine-tunes it with labels;
:class:`DBMTransformer` gives the mean-field posteriors of a deep Boltzmann machine
(:class:`layerwise.models.dbm.DBM`) as features; :class:`ConvSparseCodingTransformer` the
sparse maps of a deconvolutional network. All train through :func:`layerwise.fit` and follow
scikit-learn's conventions, so that they work in ``Pipeline``, ``GridSearchCV`` and ``clone``:

* ``__init__`` only stores its keyword arguments; they are checked in ``fit``, with the
  wording of :mod:`layerwise._validation` (parameter, rule, value);
* what is learned ends in ``_`` (``model_``, ``n_features_in_``, ``history_``, ...);
* ``random_state`` is kept raw; ``fit`` draws one seed from ``check_random_state`` that seeds
  the weights' initialisation, the shuffling, the corruption noise and the Gibbs sampling.
  Training runs inside ``torch.random.fork_rng``, so fitting never changes torch's global
  random state;
* ``fit`` and ``partial_fit`` return ``self``; ``fit`` is a reset followed by exactly the
  epochs that ``partial_fit`` would run one by one, noise and sampling included (each epoch
  is seeded from the seed and its number, :func:`layerwise.fit`'s ``initial_epoch``);
* names: ``n_iter`` counts epochs (``BernoulliRBM``'s name), ``max_iter`` caps the
  iterations of a solver (``Lasso``'s name). The old names ``max_epochs`` (epochs of the
  autoencoder estimators and of ``DBNClassifier``) and ``n_iter`` of
  ``ConvSparseCodingTransformer`` (now ``max_iter``) still work, with a ``FutureWarning``.

The input is checked by :func:`sklearn.utils.validation.validate_data`; the networks compute
in float32, and the outputs are returned in the input's floating type (float64 or float32).
Every estimator takes scipy sparse input (any format; CSR inside): the ones trained epoch by
epoch densify one mini-batch at a time, every method chunks of rows (``_rows``); each
estimator's docstring says where it densifies more. Bernoulli visible units take values
outside [0, 1] with a warning (``strict=False``, the default; ``strict=True``: an error):
``RBMTransformer`` trains on them as ``BernoulliRBM`` does, ``DBMTransformer`` and
``DBNClassifier`` clip them to [0, 1].

The estimators live in one module per family, as scikit-learn's own: ``_autoencoder``,
``_rbm``, ``_dbm`` and ``_csc``, over ``_base`` (what they share). Requires scikit-learn >= 1.6
(``validate_data`` and ``__sklearn_tags__``).
"""

from ._autoencoder import AutoEncoderTransformer, StackedAutoEncoderClassifier
from ._csc import ConvSparseCodingTransformer
from ._dbm import DBMTransformer
from ._rbm import DBNClassifier, RBMTransformer

__all__ = ["AutoEncoderTransformer", "ConvSparseCodingTransformer", "DBMTransformer", "DBNClassifier",
           "RBMTransformer", "StackedAutoEncoderClassifier"]
