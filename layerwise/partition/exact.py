r"""Exact log Z of an RBM by enumerating one binary layer (see :mod:`layerwise.partition`).

References
----------
Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks", ICML.
"""

from __future__ import annotations

import copy

import torch

from .._validation import check_choice, check_int
from ..functional import binary_states

__all__ = ["CHUNK_ELEMENTS", "MAX_ENUMERATED_UNITS", "exact_log_partition", "in_float64"]

#: Largest layer whose 2^n states the models enumerate by default (the DBN's and up-down DBN's
#: exact log Z of the top RBM and exact bound, the sigmoid belief net's exact likelihood).
MAX_ENUMERATED_UNITS = 20
#: Elements of one temporary tensor in the likelihood computations (rows and states are chunked to fit).
CHUNK_ELEMENTS = 1 << 22


def in_float64(model):
    """The model itself when its parameters are already float64, else a float64 copy (for summing exp(-E))."""
    p = next(model.parameters())
    if p.dtype == torch.float64:
        return model
    return copy.deepcopy(model).to(torch.float64)


@torch.no_grad()
def exact_log_partition(rbm, max_states: int = 2**25, batch_states: int = 2**14, *, over: str | None = None) -> float:
    r"""log Z by summing over every state of one binary layer, in float64.

    Summing over the hidden states ``h`` (the other layer integrated out in closed form)::

        log Z = logsumexp_h [ c^T h + sum_i log sum_{v_i} exp(v_i (b_i + (W^T h)_i)) ]

    for binary visible units (the inner sum is the visible units' ``log_partition``:
    ``softplus`` for Bernoulli, ``log 2 cosh`` for spin units). For Gaussian visible units,
    with ``u = W^T h`` and completing the square,
    ``-(v_i - b_i)^2 / (2 s_i^2) + v_i u_i / s_i = -(v_i - b_i - s_i u_i)^2 / (2 s_i^2)
    + b_i u_i / s_i + u_i^2 / 2``, so::

        int exp(-(v_i - b_i)^2 / (2 s_i^2) + (v_i / s_i) u_i) dv_i
            = sqrt(2 pi) s_i exp(b_i u_i / s_i + u_i^2 / 2),

        log Z = logsumexp_h [ c^T h + sum_i (b_i u_i / s_i + u_i^2 / 2) ]
                + sum_i log(sqrt(2 pi) s_i).

    Summing over the visible states instead uses the free energy:
    ``log Z = logsumexp_v -F(v)``.

    Parameters
    ----------
    rbm : RBM
        The model (any unit types; Gaussian visible units are always integrated, so the sum
        runs over the hidden states whatever the sizes).
    max_states : int
        Refuse to sum over more than this many states (2^25 by default, seconds on a GPU).
    batch_states : int
        States enumerated at once: memory is ``batch_states x n_visible`` float64 numbers
        per intermediate tensor.
    over : {"hidden", "visible"}, optional
        The layer to enumerate; default the smaller binary layer (hidden on a tie, and
        always hidden for Gaussian visible units).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When the layer has more than ``max_states`` states; use ``method="ais"`` then.
    """
    max_states = check_int("max_states", max_states, 1)
    batch_states = check_int("batch_states", batch_states, 1)
    gaussian = rbm.visible.states is None
    if over is None:
        over = "hidden" if gaussian or rbm.n_hidden <= rbm.n_visible else "visible"
    else:
        check_choice("over", over, ("hidden", "visible"))
        if gaussian and over == "visible":
            raise ValueError("over='visible' needs binary visible units; Gaussian visible units are "
                             "integrated analytically, so the sum must run over the hidden states (over='hidden').")
    n = rbm.n_hidden if over == "hidden" else rbm.n_visible
    if n > 62 or 2**n > max_states:
        raise ValueError(
            f"Exact log Z would sum over 2^{n} = {2**n} {over} states, more than max_states={max_states}. "
            "Use method='ais' (annealed importance sampling) for a model this size, or raise max_states."
        )
    m = in_float64(rbm)
    w, b, c = m.weight.detach(), m.visible_bias.detach(), m.hidden_bias.detach()
    units = m.hidden if over == "hidden" else m.visible
    const = 0.0
    if gaussian:
        s = m.sigma.detach()
        const = float(m.visible.log_normaliser(b, m.log_sigma))  # sum_i log(sqrt(2 pi) s_i)
    parts = []
    for start in range(0, 2**n, batch_states):
        x = binary_states(n, units.states, start, min(start + batch_states, 2**n), device=w.device, dtype=w.dtype)  # (S, n)
        if over == "visible":
            lz = -m.free_energy(x)
        elif gaussian:
            u = x @ w  # (S, n_visible)
            lz = x @ c + (b * u / s + u * u / 2).sum(1)
        else:
            lz = x @ c + m.visible.log_partition(b + x @ w).sum(1)
        parts.append(torch.logsumexp(lz, 0))
    return float(torch.logsumexp(torch.stack(parts), 0)) + const
