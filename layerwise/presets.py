"""Training recipes from the literature, as named presets: :data:`PRESETS`, :func:`get`.

A :class:`Preset` is data (the model's options, :func:`layerwise.fit`'s options, a DBM's greedy
pre-training options) plus the schedule callbacks of its paper (momentum, Gibbs steps; the
learning-rate decay is ``fit``'s own ``lr_schedule``). One call gives everything ``fit`` needs::

    import layerwise as lw
    from layerwise import presets

    p = presets.get("hinton-guide")
    rbm = lw.RBM(784, 500, **p.model_kwargs()).init_visible_bias(X)
    lw.fit(rbm, X, **p.fit_options(epochs=20))          # options + the schedule callbacks

and ``layerwise run mnist_rbm_hinton`` runs it from a run file (``preset: hinton-guide``).

The recipes, with the source of every value (paper: stated in the paper's text; ours: the
paper gives no number, the value is our choice, kept as close to the paper's setting as we
could):

=============================  ==========================================================================
preset                         settings
=============================  ==========================================================================
``hinton-guide``               Hinton (2010), *A practical guide to training restricted Boltzmann
                               machines*, UTML TR 2010-003: CD-1 (section 3); mini-batches of 100
                               (section 4: 10 to 100 cases); momentum 0.5, then 0.9 from epoch 5
                               (section 9); weight cost 2e-4 on the weights only (section 10);
                               visible biases log(p / (1 - p)) from the base rates (section 8);
                               learning rate 0.01 (ours: section 7 gives a rule, updates about 1e-3
                               of the weights, not a number); 50 epochs (ours). Momentum and weight
                               cost are also those of the authors' released Matlab code (Hinton &
                               Salakhutdinov's ``rbm.m``; Salakhutdinov's ``dbm_mf.m``:
                               ``weightcost = 0.0002``, momentum 0.5, then 0.9 ``if epoch > 5``).
``tieleman-pcd``               Tieleman (2008), *Training restricted Boltzmann machines using
                               approximations to the likelihood gradient*, ICML: PCD, 100 persistent
                               chains (one per case of a mini-batch of 100), one Gibbs sweep per
                               update, learning rate decaying linearly to 0 (``lr_schedule:
                               linear``), no momentum; learning rate 0.05, weight decay 1e-4 and
                               50 epochs (ours).
``salakhutdinov-murray-cd1``   Salakhutdinov & Murray (2008), *On the quantitative analysis of deep
``salakhutdinov-murray-cd3``   belief networks*, ICML: 784-500 RBMs trained with CD-1, CD-3 and
``salakhutdinov-murray-cd25``  "CD25", whose number of Gibbs steps is increased gradually from 1 to
                               25 during training (the paper gives no exact schedule: ours is a
                               linear ramp over the run, ``round(1 + 24 e / (E - 1))`` at epoch e of
                               E); the other settings are ``hinton-guide``'s (ours).
``salakhutdinov-hinton-dbm``   Salakhutdinov & Hinton (2009), *Deep Boltzmann machines*, AISTATS:
                               greedy pre-training of the stack (doubled inputs), then joint
                               training with persistent chains: mini-batches of 100, 100 fantasy
                               particles, 5 Gibbs updates of them per weight update, learning rate
                               decreased gradually to 0 (``linear``) (paper); learning rate 0.001,
                               momentum 0.5, then 0.9 from epoch 5, weight cost 2e-4 (the authors'
                               ``dbm_mf.m``, which also runs 5 sweeps of 100 chains; the paper's
                               text gives 0.005, but 0.005 with the code's momentum 0.9 diverged at
                               epoch 6 of the 784-500-1000 MNIST run, the reconstruction error
                               jumping from 5.3 to 63.5, BENCHMARKS.md); pre-training with
                               CD-1 at learning rate 0.05 (ours); 100 pre-training epochs per
                               layer and 500 joint epochs (ours: the paper's run is long; a CPU run
                               overrides ``epochs``).
=============================  ==========================================================================

The values above are the ones in :data:`PRESETS`; ``tests/test_presets.py`` checks the two
against each other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .callbacks import EpochSchedule, GibbsStepsSchedule, LinearRamp, MomentumSchedule

__all__ = ["Preset", "PRESETS", "get", "names"]


@dataclass(frozen=True)
class Preset:
    """A training recipe from a paper: model options, fit options and schedules.

    Attributes
    ----------
    name : str
        The key in :data:`PRESETS` (and the value of a run file's ``preset:``).
    task : str
        What it trains: ``"rbm"`` or ``"dbm"`` (the ``task:`` of a run file that uses it).
    citation : str
        The paper.
    model : dict
        Constructor options of the model (``k``, ``persistent``, ``n_chains``).
    train : dict
        Options of :func:`layerwise.fit` (``epochs``, ``batch_size``, ``optimizer``, ``lr``,
        ``momentum``, ``weight_decay``, ``lr_schedule``); ``momentum`` and the model's ``k`` are
        the values of epoch 0 when a schedule moves them.
    pretrain : dict
        Options of a DBM's greedy pre-training (:meth:`layerwise.DBM.pretrain`); empty for an RBM.
    momentum : mapping or callable, optional
        The momentum schedule (:class:`layerwise.callbacks.MomentumSchedule`).
    k : mapping or callable, optional
        The Gibbs-steps schedule (:class:`layerwise.callbacks.GibbsStepsSchedule`).
    init_visible_bias : bool
        Start the visible biases at the data's base rates (``RBM.init_visible_bias``).
    """

    name: str
    task: str
    citation: str
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)
    momentum: Mapping[int, float] | Callable[[int, int], float] | None = None
    k: Mapping[int, int] | Callable[[int, int], float] | None = None
    init_visible_bias: bool = True

    def model_kwargs(self) -> dict[str, Any]:
        """The model's constructor options (a copy)."""
        return dict(self.model)

    def fit_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """:func:`layerwise.fit`'s options of the recipe, with ``overrides`` on top (no callbacks)."""
        return {**self.train, **overrides}

    def pretrain_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """:meth:`layerwise.DBM.pretrain`'s options of the recipe, with ``overrides`` on top."""
        return {**self.pretrain, **overrides}

    def callbacks(self) -> list[EpochSchedule]:
        """New schedule callbacks of the recipe (momentum, Gibbs steps), for one ``fit``."""
        out: list[EpochSchedule] = []
        if self.momentum is not None:
            out.append(MomentumSchedule(copy.copy(self.momentum)))
        if self.k is not None:
            out.append(GibbsStepsSchedule(copy.copy(self.k)))
        return out

    def fit_options(self, callbacks: Any = (), **overrides: Any) -> dict[str, Any]:
        """Everything :func:`layerwise.fit` needs: :meth:`fit_kwargs` plus ``callbacks``.

        Parameters
        ----------
        callbacks : iterable
            Your own callbacks; the recipe's schedules are appended.
        **overrides
            fit options replacing the recipe's (``epochs=5``, ``device="cuda"``, ...).

        Returns
        -------
        dict
            ``lw.fit(model, X, **preset.fit_options())``.
        """
        return {**self.fit_kwargs(**overrides), "callbacks": [*callbacks, *self.callbacks()]}

    def scheduled(self) -> dict[str, str]:
        """The settings a schedule moves, as ``{"train.momentum": ..., "model.k": ...}`` descriptions."""
        out = {}
        if self.momentum is not None:
            out["train.momentum"] = repr(self.momentum)
        if self.k is not None:
            out["model.k"] = repr(self.k)
        return out


_GUIDE = "Hinton (2010), A practical guide to training restricted Boltzmann machines, UTML TR 2010-003"
_SM08 = "Salakhutdinov & Murray (2008), On the quantitative analysis of deep belief networks, ICML"
_GUIDE_TRAIN = {"epochs": 50, "batch_size": 100, "optimizer": "sgd", "lr": 0.01, "momentum": 0.5,
                "weight_decay": 2e-4, "lr_schedule": None}
_GUIDE_MOMENTUM = {0: 0.5, 5: 0.9}


def _cd(k: int) -> Preset:
    return Preset(f"salakhutdinov-murray-cd{k}", "rbm", _SM08, model={"k": k}, train=dict(_GUIDE_TRAIN),
                  momentum=dict(_GUIDE_MOMENTUM))


#: The recipes, by name (see the module docstring for the sources of the values).
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("hinton-guide", "rbm", _GUIDE, model={"k": 1}, train=dict(_GUIDE_TRAIN), momentum=dict(_GUIDE_MOMENTUM)),
    Preset("tieleman-pcd", "rbm",
           "Tieleman (2008), Training restricted Boltzmann machines using approximations to the "
           "likelihood gradient, ICML",
           model={"k": 1, "persistent": True, "n_chains": 100},
           train={"epochs": 50, "batch_size": 100, "optimizer": "sgd", "lr": 0.05, "momentum": 0.0,
                  "weight_decay": 1e-4, "lr_schedule": "linear"}),
    _cd(1),
    _cd(3),
    Preset("salakhutdinov-murray-cd25", "rbm", _SM08, model={"k": 1}, train=dict(_GUIDE_TRAIN),
           momentum=dict(_GUIDE_MOMENTUM), k=LinearRamp(1, 25)),
    Preset("salakhutdinov-hinton-dbm", "dbm",
           "Salakhutdinov & Hinton (2009), Deep Boltzmann machines, AISTATS",
           model={"n_chains": 100, "k": 5},
           train={"epochs": 500, "batch_size": 100, "optimizer": "sgd", "lr": 0.001, "momentum": 0.5,
                  "weight_decay": 2e-4, "lr_schedule": "linear"},
           pretrain={"epochs": 100, "batch_size": 100, "optimizer": "sgd", "lr": 0.05, "momentum": 0.5,
                     "weight_decay": 2e-4, "lr_schedule": None},
           momentum=dict(_GUIDE_MOMENTUM), init_visible_bias=False),
)}


def names() -> tuple[str, ...]:
    """The names of the presets."""
    return tuple(PRESETS)


def get(name: str) -> Preset:
    """The preset called ``name``.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    if name not in PRESETS:
        raise ValueError(f"The 'preset' parameter must be one of {', '.join(PRESETS)}. Got {name!r} instead.")
    return PRESETS[name]
