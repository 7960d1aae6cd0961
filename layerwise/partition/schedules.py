r"""AIS schedules from a measured variance: temperatures where the log-weight variance accrues.

Why the rule (the small-step analysis of Neal 2001, section 5, and of Grosse, Maddison &
Salakhutdinov 2013, section 3). Take transitions that mix well, so the state before the step to
``beta`` is drawn from ``p_beta'`` with ``beta' = beta - delta``. The step's increment of the log
weight is ``log p*_beta(x) - log p*_beta'(x) ~ delta g_beta(x)`` with ``g_beta = d/dbeta log
p*_beta``, so its variance is ``delta^2 I(beta)``, where ``I(beta) = Var_{p_beta} g_beta`` is the
Fisher information along the path (the metric of the thermodynamic length, Crooks 2007). The
increments of successive steps are then nearly independent and::

    Var log w ~ sum_k delta_k^2 I(beta_k).

A segment ``s`` of width ``L_s`` cut into ``n_s`` equal steps contributes ``v_s ~ n_s (L_s /
n_s)^2 I_s = L_s^2 I_s / n_s``: each step's variance shrinks like ``1 / n_s^2``, their sum over
the segment like ``1 / n_s``. Minimising ``sum_s L_s^2 I_s / m_s`` over step counts ``m_s`` with
``sum_s m_s = K`` (a Lagrange multiplier, or Cauchy-Schwarz) gives::

    m_s ∝ L_s sqrt(I_s),    Var log w ~ (sum_s L_s sqrt(I_s))^2 / K = Lambda^2 / K,

steps of equal variance ``Lambda^2 / K^2`` each (equal steps in thermodynamic length ``Lambda``).
A pilot run that measured ``v_s`` over ``n_s`` steps estimates ``L_s sqrt(I_s) ~ sqrt(n_s v_s)``,
hence the rule of :func:`betas_from_variance`::

    m_s ∝ (1 - u) sqrt(n_s v_s) / sum_t sqrt(n_t v_t) + u L_s,

with a fraction ``u`` of the steps kept uniform in beta, so that no segment is left without
steps because a short pilot saw no variance there.

When the transitions mix slowly (a mode the chains reach late, the 784-500 PCD RBM of
BENCHMARKS.md), successive increments are correlated and the measured ``v_s`` includes that; the
rule still moves the steps to where the variance was measured, but its ``1 / K`` prediction no
longer holds, and the pilot can only see a mode that some pilot run reached.

References
----------
Neal (2001), "Annealed importance sampling", Statistics and Computing 11, 125-139.
Gelman & Meng (1998), "Simulating normalizing constants: from importance sampling to bridge
sampling to path sampling", Statistical Science 13, 163-185.
Crooks (2007), "Measuring thermodynamic length", Physical Review Letters 99, 100602.
Grosse, Maddison & Salakhutdinov (2013), "Annealing between distributions by averaging moments",
NeurIPS.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._validation import as_float_tensor, check_finite, check_int, check_real

__all__ = ["betas_from_variance", "nonempty_segments", "steps_per_segment"]


def _edges64(edges: Any) -> Tensor:
    t = as_float_tensor("edges", edges, torch.float64).detach().to("cpu", torch.float64)
    if t.dim() != 1 or t.numel() < 2 or float(t[0]) != 0.0 or float(t[-1]) != 1.0 or bool((t[1:] <= t[:-1]).any()):
        raise ValueError(f"'edges' must increase strictly from 0 to 1; got {t.tolist()!r}.")
    return t


def steps_per_segment(edges: Any, betas: Any) -> Tensor:
    """How many steps of the schedule ``betas`` fall in each segment ``(e_{s-1}, e_s]``.

    The step to ``beta_k`` counts in the segment holding ``beta_k`` (as in
    :func:`~layerwise.partition.anneal`); a step that repeats a beta does nothing and is not
    counted.

    Parameters
    ----------
    edges : sequence of float
        ``0 = e_0 < ... < e_S = 1``.
    betas : sequence of float
        The schedule, non-decreasing from 0 to 1.

    Returns
    -------
    Tensor (S,), int64
    """
    e = _edges64(edges)
    b = as_float_tensor("betas", betas, torch.float64).detach().to("cpu", torch.float64)
    moved = b[1:][b[1:] != b[:-1]]
    seg = (torch.searchsorted(e, moved) - 1).clamp(min=0)
    return torch.bincount(seg, minlength=e.numel() - 1)


def nonempty_segments(edges: Any, betas: Any) -> Tensor:
    """``edges`` with the interior edges removed that would leave a segment without a step of
    ``betas`` (the empty segment merges into its right neighbour; the last segment always holds
    the step to beta = 1), so that every segment has a measured variance.

    Returns
    -------
    Tensor (S' + 1,), float64
        Edges from 0 to 1, every segment holding at least one step.
    """
    e = _edges64(edges)
    counts = steps_per_segment(e, betas).tolist()
    kept, pending = [0.0], 0
    for s in range(len(counts) - 1):
        pending += counts[s]
        if pending > 0:
            kept.append(float(e[s + 1]))
            pending = 0
    kept.append(1.0)
    return torch.tensor(kept, dtype=torch.float64)


def betas_from_variance(edges: Any, variance: Any, steps: Any, n_betas: int, uniform_fraction: float = 0.1) -> Tensor:
    r"""A schedule of ``n_betas`` inverse temperatures that puts the steps where a pilot run
    measured the log-weight variance (see the module for the derivation)::

        mass_s = (1 - u) sqrt(n_s v_s) / sum_t sqrt(n_t v_t) + u L_s,

    the share of the ``K = n_betas - 1`` steps given to segment ``s`` (width ``L_s``, pilot
    variance ``v_s`` of its increments over ``n_s`` pilot steps), spread uniformly inside it:
    ``beta_k = C^{-1}(k / K)`` for the piecewise-linear cumulative ``C`` of the masses. With equal
    steps the per-step variance is ``v_s n_s / m_s^2`` in segment ``s``; at ``u = 0`` it is the same
    in every segment, which minimises ``Var log w ~ sum_s v_s n_s / m_s`` at fixed ``K`` (Neal
    2001; Grosse, Maddison & Salakhutdinov 2013).

    Parameters
    ----------
    edges : sequence of float (S + 1,)
        Segment edges ``0 = e_0 < ... < e_S = 1`` (``AISResult.segment_betas``).
    variance : sequence of float (S,)
        The pilot's variance of the log-weight increments per segment
        (``AISResult.segment_variance``); negative values are taken as 0.
    steps : sequence of int (S,)
        The pilot's steps per segment (:func:`steps_per_segment`).
    n_betas : int
        Temperatures of the new schedule, 0 and 1 included (``n_betas - 1`` steps).
    uniform_fraction : float in [0, 1]
        ``u``: the share of the steps spread uniformly in beta whatever the pilot measured.
        When the pilot measured no variance at all, the schedule is uniform.

    Returns
    -------
    Tensor (n_betas,), float64
        Non-decreasing from exactly 0 to exactly 1.
    """
    e = _edges64(edges)
    n_seg = e.numel() - 1
    v = check_finite("variance", as_float_tensor("variance", variance, torch.float64).detach().cpu().double())
    n = as_float_tensor("steps", steps, torch.float64).detach().cpu().double()
    if tuple(v.shape) != (n_seg,) or tuple(n.shape) != (n_seg,):
        raise ValueError(f"'variance' and 'steps' must have one value per segment ({n_seg},); "
                         f"got shapes {tuple(v.shape)} and {tuple(n.shape)}.")
    if bool((n < 0).any()):
        raise ValueError(f"'steps' must be step counts (>= 0); got {n.tolist()!r}.")
    n_betas = check_int("n_betas", n_betas, 2)
    u = check_real("uniform_fraction", uniform_fraction, 0.0, 1.0)
    widths = torch.diff(e)
    w = (v.clamp(min=0) * n).sqrt()
    mass = widths.clone() if float(w.sum()) <= 0 else (1 - u) * w / w.sum() + u * widths
    mass = mass / mass.sum()
    cdf = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(mass, 0)])
    t = torch.linspace(0.0, 1.0, n_betas, dtype=torch.float64)
    seg = (torch.searchsorted(cdf, t, right=True) - 1).clamp(0, n_seg - 1)  # skips segments of no mass
    frac = ((t - cdf[seg]) / mass[seg].clamp(min=1e-300)).clamp(0, 1)
    betas = torch.cummax(e[seg] + frac * widths[seg], 0).values.clamp(0, 1)
    betas[0], betas[-1] = 0.0, 1.0
    return betas
