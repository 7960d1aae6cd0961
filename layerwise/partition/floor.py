r"""A proven floor on log Z from the states a run has seen.

For a model over discrete states ``x`` with unnormalised probability ``p*(x) = exp(-F(x))``
(an RBM's visible vectors with the hidden units summed out; a DBM's even layers with the odd
layers summed out), ``Z = sum_x exp(-F(x))`` is a sum of positive terms, so the sum over any
set ``S`` of *distinct* states is smaller::

    log Z >= log sum_{x in S} exp(-F(x))          (the floor)

with equality when ``S`` holds every state. The bound is deterministic: no sampling, no
variance. The states can come from anywhere (training data, persistent chains, AIS end
states); each must be counted once, so they are deduplicated first. Annealed importance
sampling estimates log Z from below in expectation but can miss a mode entirely; an estimate
under this floor proves that it did, and a log-likelihood ``-F(v) - log Z`` is then at most
``-F(v) - floor`` (a proven upper bound).

The sum is over a discrete set: for continuous (Gaussian) visible units Z is an integral and
point values of the density bound nothing, so the floor is refused.

References
----------
Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks", ICML
(AIS for RBMs; its bias is downwards in log space).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from .._validation import as_float_tensor
from .exact import CHUNK_ELEMENTS, in_float64

__all__ = ["distinct_states", "is_discrete", "log_z_floor"]


def _stack(states: Any) -> Tensor:
    if isinstance(states, Tensor):
        t = states
    elif isinstance(states, (list, tuple)) and states and all(isinstance(s, Tensor) for s in states):
        t = torch.cat([s.detach().reshape(s.shape[0], -1).to("cpu", torch.float64) for s in states], 0)
    else:
        t = as_float_tensor("states", states, torch.float64)
    t = t.detach()
    if t.dim() != 2 or t.shape[0] == 0:
        raise ValueError(f"'states' must be a non-empty 2-d tensor (n_states, n_units); got shape {tuple(t.shape)}.")
    return t


def is_discrete(states: Tensor, values: Sequence[float]) -> bool:
    """Whether every entry of ``states`` is one of the two unit ``values`` (e.g. ``(0, 1)``)."""
    lo, hi = values
    return bool(((states == lo) | (states == hi)).all())


def distinct_states(states: Any, values: Sequence[float] = (0.0, 1.0)) -> Tensor:
    """The distinct rows of ``states`` (binary units taking ``values``), as float64 on the CPU.

    Parameters
    ----------
    states : tensor (n, d) or sequence of tensors (n_i, d)
        States, concatenated along the rows when a sequence.
    values : pair of float
        The two states of a unit: ``(0, 1)`` (Bernoulli) or ``(-1, 1)`` (spin).

    Returns
    -------
    Tensor (m, d), m <= n, float64, rows sorted.

    Raises
    ------
    ValueError
        When an entry is neither of ``values`` (a probability is no state).
    """
    t = _stack(states)
    lo, hi = float(values[0]), float(values[1])
    if not is_discrete(t, (lo, hi)):
        bad = t[~((t == lo) | (t == hi))][0]
        raise ValueError(f"'states' must hold unit states only, each entry {lo} or {hi}; got {float(bad)!r}. "
                         "Binarise probabilities first (they are not states of the model).")
    bits = (t == hi).to(torch.uint8).cpu()
    uniq = torch.unique(bits, dim=0)
    return lo + (hi - lo) * uniq.to(torch.float64)


@torch.no_grad()
def log_z_floor(model: Any, states: Any, *, free_energy: Callable[[Tensor], Tensor] | None = None,
                values: Sequence[float] | None = None) -> float:
    r"""A proven lower bound on log Z: ``log sum_x exp(-F(x))`` over the distinct ``states``.

    ``Z = sum_x exp(-F(x))`` sums positive terms over every state, so any subset of distinct
    states sums to less: ``log Z >= floor``, with equality when the states are all of them.
    Computed in one pass over the deduplicated states, in chunks, in float64 (a float32 model
    is copied to float64 for it).

    Parameters
    ----------
    model : RBM or any model with ``free_energy``
        The model; for an RBM its visible units must be binary (Bernoulli or spin).
    states : tensor (n, d) or sequence of tensors
        States the run has seen (training data, chain states, AIS end states); duplicates are
        counted once.
    free_energy : callable, optional
        ``x (chunk, d) -> F(x) (chunk,)`` of the float64 model; default ``model.free_energy``
        (the DBM passes its even-layer free energy with the odd layers summed out).
    values : pair of float, optional
        The two unit states; default ``model.visible.states`` (an RBM), else ``(0, 1)``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For continuous visible units (Z is then an integral, not a sum), or states that are
        not unit states.
    """
    if values is None:
        visible = getattr(model, "visible", None)
        values = visible.states if visible is not None else (0.0, 1.0)
        if values is None:
            raise ValueError(f"The floor on log Z needs discrete visible units; this model has "
                             f"visible={visible.name!r} (Z is an integral, point densities bound nothing).")
    x = distinct_states(states, values)
    if free_energy is None:
        free_energy = in_float64(model).free_energy
    device = _device_of(model)
    width = max(x.shape[1], sum(int(q.shape[0]) for q in model.parameters() if q.dim() == 2))
    rows = max(1, CHUNK_ELEMENTS // width)
    parts = []
    for start in range(0, x.shape[0], rows):
        chunk = x[start:start + rows].to(device)
        parts.append(torch.logsumexp(-free_energy(chunk).to(torch.float64), 0).cpu())
    return float(torch.logsumexp(torch.stack(parts), 0))


def _device_of(model) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
