"""The pieces a :class:`~layerwise.models.dbm.DBM` is built from, outside its own class: the
doubled-input RBMs of its greedy pre-training, and its annealing path for AIS
(:func:`layerwise.partition.anneal`).

References
----------
Salakhutdinov & Hinton (2009), "Deep Boltzmann machines", AISTATS; (2012), "An efficient learning
procedure for deep Boltzmann machines", Neural Computation 24. Neal (2001), "Annealed importance
sampling".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.nn import functional as F

from ..functional import sample_bernoulli
from ..partition import AnnealingPath
from .rbm import RBM

if TYPE_CHECKING:
    from .dbm import DBM

__all__ = ["ScaledRBM", "DBMPath"]


class ScaledRBM(RBM):
    """An RBM whose bottom-up input is ``up * W v + c`` and top-down input ``down * W^T h + b``.

    The doubled-input RBMs of DBM pre-training (Salakhutdinov & Hinton 2009, section 3.1;
    2012, section 4). The closed-form update of :class:`RBM` is used unchanged: the gradient
    of the scaled model is ``up``/``down`` times the plain one, a learning-rate factor.
    """

    def __init__(self, n_visible: int, n_hidden: int, up: float, down: float, **kwargs: Any) -> None:
        super().__init__(n_visible, n_hidden, **kwargs)
        self.up, self.down = float(up), float(down)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "up": self.up, "down": self.down}

    def hidden_input(self, v: Tensor) -> Tensor:
        return torch.addmm(self.hidden_bias, v, self.weight.T, alpha=self.up) if v.dim() == 2 \
            else self.up * F.linear(v, self.weight) + self.hidden_bias

    def visible_input(self, h: Tensor) -> Tensor:
        return self.visible_bias + self.down * (h @ self.weight)


class DBMPath(AnnealingPath):
    r"""The annealing path of :meth:`DBM.log_partition` (``method="ais"``) for :func:`layerwise.partition.anneal`.

    A state is the list of every layer's states; the odd layers are summed out in
    :meth:`log_unnormalised` (:meth:`DBM.log_marginal` of the even layers), so only the even
    layers matter to the weights. The base model has visible biases ``b_A`` and nothing else.

    **Reversibility** (what RAISE, ``layerwise.likelihood.reverse_anneal``, needs). Layers
    connect only to their neighbours, so the even layers ``e`` and the odd layers ``o`` form the
    two sides of a bipartite Boltzmann machine (an RBM with ``e`` visible): given ``e`` the odd
    layers are independent of each other, and given ``o`` the even ones are. :meth:`transition`
    draws every odd layer afresh from ``p_beta(o | e)`` (their old states are never read) and
    then every even layer from ``p_beta(e' | o)``, so as a kernel on the even layers::

        T(e' | e) = sum_o p_beta(o | e) p_beta(e' | o),
        p_beta(e) T(e' | e) = sum_o p_beta(e, o) p_beta(e', o) / p_beta(o)   (symmetric in e, e'),

    detailed balance with respect to ``p_beta(e)``, the marginal :meth:`log_unnormalised`
    weighs. The sweep is reversible on the state the weights see, exactly as an RBM's block
    sweep is on v (``tests/test_likelihood_dbm.py`` checks the kernel against the enumerated
    table); the odd layers in a state are scratch.
    """

    def __init__(self, dbm: "DBM", base_bias: Tensor) -> None:
        self.dbm, self.b_a = dbm, base_bias
        self.device = base_bias.device
        self.log_base_z = float(F.softplus(base_bias).sum()) + sum(dbm.sizes[1:]) * math.log(2.0)

    def sample_base(self, n_runs: int, generator: torch.Generator | None) -> list[Tensor]:
        """Exact samples of A: visible units Bernoulli(sigmoid(b_A)), hidden units fair coins."""
        b_a = self.b_a
        x = [sample_bernoulli(torch.sigmoid(b_a).expand(n_runs, -1).contiguous(), generator)]
        x += [sample_bernoulli(torch.full((n_runs, s), 0.5, device=b_a.device, dtype=b_a.dtype), generator)
              for s in self.dbm.sizes[1:]]
        return x

    def log_unnormalised(self, state: list[Tensor], beta: float) -> Tensor:
        return self.dbm.log_marginal(state, 0, beta, self.b_a)

    def transition(self, state: list[Tensor], beta: float, generator: torch.Generator | None) -> list[Tensor]:
        """One Gibbs sweep of p_beta: the odd layers given the even ones, then the even given the odd."""
        m, x = self.dbm, state
        for parity in (1, 0):
            for l in range(parity, len(m.sizes), 2):
                a = beta * m.layer_input(x, l)
                if l == 0:
                    a = a + (1.0 - beta) * self.b_a
                x[l] = sample_bernoulli(torch.sigmoid(a), generator)
        return x
