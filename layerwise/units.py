"""Unit types of Boltzmann machines: Bernoulli {0, 1}, spin {-1, +1}, Gaussian.

A layer of units is described by how its units respond to their total input ``a``
(bias plus the weighted input from the other layer):

``mean(a)``
    E[x | a]: ``sigmoid(a)`` for Bernoulli, ``tanh(a)`` for spin units, ``a`` for Gaussian
    units (whose input already includes the bias and the sigma scaling, see ``visible_input``);
``sample(a)``
    a draw from p(x | a);
``log_partition(a)``
    ``log sum_x exp(a x)`` over the unit's states, elementwise — what summing the unit out of
    ``exp(-E)`` leaves: ``softplus(a)`` for Bernoulli, ``log(2 cosh a)`` for spin units. Its
    derivative is ``mean(a)``;
``entropy(a)``, ``mean_derivative(m)``, ``bias_from_mean(m)``, ``activation_module()``
    the entropy of p(x | a), d mean / d a written through the mean, the bias whose units alone
    have mean ``m`` (Hinton's base rates), and an ``nn.Module`` computing ``mean``.

As the visible layer of an RBM with energy ``E(v, h) = V(v) - h^T W s(v) - c^T h`` the units
also give the visible term ``V(v)``, the statistic ``s(v)``, the input ``a`` of ``p(v | h)``
and the visible part of the CD update. Units with a per-unit standard deviation sigma
(``has_sigma``: Gaussian) take the RBM's ``log_sigma`` there; binary units ignore it.

New unit types (softmax, ReLU / noisy rectified units) are new subclasses here; the RBM does
not change. References: Hinton (2010), "A practical guide to training restricted Boltzmann
machines", UTML TR 2010-003; Welling, Rosen-Zvi & Hinton (2005), "Exponential family
harmoniums".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .functional import bernoulli_entropy, sample_bernoulli

__all__ = ["Units", "Bernoulli", "Spin", "Gaussian", "UNITS", "get_units", "visible_names", "hidden_names"]


class Scale(nn.Module):
    """Multiplies its input by a fixed vector (1 / sigma in a Gaussian RBM's encoder)."""

    def __init__(self, factor: Tensor):
        super().__init__()
        self.register_buffer("factor", factor.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor


class Units:
    """Interface of a unit type (stateless; one shared instance per type)."""

    name: str = ""
    #: The two states of a binary unit, ``None`` for real-valued units.
    states: tuple[float, float] | None = None
    #: Whether the units have a per-unit standard deviation sigma (an RBM then keeps ``log_sigma``).
    has_sigma: bool = False
    #: Whether CD may end on the mean of the last reconstruction instead of a sample (Hinton's
    #: guide, section 3.2, for binary units).
    mean_reconstruction: bool = True
    #: Whether an RBM may use them as its hidden layer (they sum out of exp(-E) in closed form,
    #: :meth:`log_partition`, so the free energy exists).
    can_be_hidden: bool = True

    def mean(self, a: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, a: Tensor, generator: torch.Generator | None = None, log_sigma: Tensor | None = None) -> Tensor:
        """A draw from p(x | a) (``log_sigma``: the scale of units that have one)."""
        raise NotImplementedError

    def sample_from_mean(self, m: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A sample given the mean ``m = mean(a)`` already computed (saves a pass over ``a``)."""
        raise NotImplementedError

    def log_partition(self, a: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self, a: Tensor) -> Tensor:
        """H(x | a) elementwise: ``log_partition(a) - a mean(a)`` (p(x | a) = exp(a x - log_partition(a)))."""
        return self.log_partition(a) - a * self.mean(a)

    def mean_derivative(self, m: Tensor) -> Tensor:
        """d mean / d a, written through the mean ``m = mean(a)``."""
        raise NotImplementedError

    def bias_from_mean(self, m: Tensor) -> Tensor:
        """The bias b with ``mean(b) = m``: the units' base rates (Hinton's guide, section 8)."""
        raise NotImplementedError

    def activation_module(self) -> nn.Module:
        """A fresh ``nn.Module`` computing ``mean`` (the encoder's activation)."""
        raise NotImplementedError

    def check_data(self, x: Tensor, name: str = "data", layer: str = "visible") -> None:
        """Raise ValueError for values these units cannot take (probabilities are allowed);
        ``layer`` ("visible" or "hidden") is named in the message."""

    # ---- as the visible layer of an RBM: E(v, h) = V(v) - h^T W s(v) - c^T h ------------------

    def sigma(self, log_sigma: Tensor | None, like: Tensor) -> Tensor:
        """Per-unit standard deviations: ones (shaped as ``like``) for units without a scale."""
        return torch.ones_like(like)

    def init_log_sigma(self, log_sigma: Tensor | None, sigma: float) -> None:
        """Fill ``log_sigma`` (in place) for a starting standard deviation ``sigma``; no-op without one."""

    def statistic(self, v: Tensor, log_sigma: Tensor | None = None) -> Tensor:
        """s(v), what the weights multiply: ``v`` (``v / sigma`` for Gaussian units)."""
        return v

    def visible_term(self, v: Tensor, bias: Tensor, log_sigma: Tensor | None = None) -> Tensor:
        """V(v), the visible units' own energy: ``-b^T v``, shape (B,)."""
        return -v @ bias

    def visible_input(self, h: Tensor, weight: Tensor, bias: Tensor, log_sigma: Tensor | None = None) -> Tensor:
        """The input ``a`` of p(v | h): ``b + W^T h``, shape (B, n_visible)."""
        if h.dim() == 2:
            return torch.addmm(bias, h, weight)  # b + h W, (B, n_visible), one fused call
        return bias + h @ weight

    def log_normaliser(self, bias: Tensor, log_sigma: Tensor | None = None) -> Tensor:
        """``log sum_v exp(-V(v))`` of the layer alone (nothing coupled to it), a scalar:
        ``sum_i log_partition(b_i)`` for binary units."""
        return self.log_partition(bias).sum()

    def contrast(self, v_data: Tensor, v_model: Tensor, bias: Tensor,
                 log_sigma: Tensor | None = None, with_value: bool = True) -> tuple[Tensor, Tensor | None]:
        """The visible part of a CD/PCD update of ``mean V(v_data) - mean V(v_model)``.

        Returns its gradient in the bias and its value (None with ``with_value=False``): for
        ``V(v) = -b^T v`` the gradient is ``mean v_model - mean v_data`` and the value that
        gradient dotted with b (no pass over the batch)."""
        g_b = v_model.mean(0) - v_data.mean(0)
        return g_b, (g_b @ bias if with_value else None)

    def encoder_input(self, log_sigma: Tensor | None) -> list[nn.Module]:
        """Modules computing s(v) ahead of an encoder's ``Linear`` (none for binary units)."""
        return []

    def __repr__(self) -> str:
        return self.name


class Bernoulli(Units):
    """Binary {0, 1} units: p(x = 1 | a) = sigmoid(a), log sum_x e^{a x} = softplus(a)."""

    name = "bernoulli"
    states = (0.0, 1.0)

    def mean(self, a: Tensor) -> Tensor:
        return torch.sigmoid(a)

    def sample(self, a: Tensor, generator: torch.Generator | None = None, log_sigma: Tensor | None = None) -> Tensor:
        return sample_bernoulli(torch.sigmoid(a), generator)

    def sample_from_mean(self, m: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return sample_bernoulli(m, generator)

    def log_partition(self, a: Tensor) -> Tensor:
        return F.softplus(a)

    def entropy(self, a: Tensor) -> Tensor:
        return bernoulli_entropy(logits=a)

    def mean_derivative(self, m: Tensor) -> Tensor:
        return m * (1 - m)

    def bias_from_mean(self, m: Tensor) -> Tensor:
        """``log(p / (1 - p))`` with p = m clamped to [1e-3, 1 - 1e-3]."""
        p = m.clamp(1e-3, 1 - 1e-3)
        return torch.log(p / (1 - p))

    def activation_module(self) -> nn.Module:
        return nn.Sigmoid()

    def check_data(self, x: Tensor, name: str = "data", layer: str = "visible") -> None:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"'{name}' must lie in [0, 1] for Bernoulli {layer} units (binary values, or "
                f"probabilities); got values in [{lo:.4g}, {hi:.4g}]. Scale the data to [0, 1] "
                "(datasets.Divide(255)) or use visible='gaussian'."
            )


class Spin(Units):
    """Binary {-1, +1} units: p(x = +1 | a) = sigmoid(2a), E[x | a] = tanh(a),
    log sum_x e^{a x} = log(2 cosh a)."""

    name = "spin"
    states = (-1.0, 1.0)

    def mean(self, a: Tensor) -> Tensor:
        return torch.tanh(a)

    def sample(self, a: Tensor, generator: torch.Generator | None = None, log_sigma: Tensor | None = None) -> Tensor:
        return 2.0 * sample_bernoulli(torch.sigmoid(2.0 * a), generator) - 1.0

    def sample_from_mean(self, m: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return 2.0 * sample_bernoulli((1.0 + m) / 2.0, generator) - 1.0   # p(+1) = (1 + tanh a) / 2

    def log_partition(self, a: Tensor) -> Tensor:
        return torch.logaddexp(a, -a)

    def mean_derivative(self, m: Tensor) -> Tensor:
        return 1 - m * m

    def bias_from_mean(self, m: Tensor) -> Tensor:
        """``atanh(m)`` with m clamped to [-1 + 2e-3, 1 - 2e-3]."""
        return torch.atanh(m.clamp(-1 + 2e-3, 1 - 2e-3))

    def activation_module(self) -> nn.Module:
        return nn.Tanh()

    def check_data(self, x: Tensor, name: str = "data", layer: str = "visible") -> None:
        lo, hi = float(x.min()), float(x.max())
        if lo < -1.0 or hi > 1.0:
            raise ValueError(
                f"'{name}' must lie in [-1, 1] for spin (+-1) {layer} units; got values in "
                f"[{lo:.4g}, {hi:.4g}]. Map binary data with 2 x - 1."
            )


class Gaussian(Units):
    """Real-valued units around their input: x | a ~ N(a, sigma^2), sigma = exp(log_sigma) per
    unit (1 without ``log_sigma``).

    As an RBM's visible layer they own the sigma scaling: ``V(v) = sum_i (v_i - b_i)^2 /
    (2 sigma_i^2)``, ``s(v) = v / sigma`` and the input of p(v | h) is its mean
    ``b + sigma * (W^T h)``, so v = b + sigma * (W^T h) + sigma * eps.
    """

    name = "gaussian"
    states = None
    has_sigma = True
    mean_reconstruction = False  # CD samples the last reconstruction of Gaussian units
    can_be_hidden = False  # hidden Gaussians are not offered (no log_partition)

    def mean(self, a: Tensor) -> Tensor:
        return a

    def sample(self, a: Tensor, generator: torch.Generator | None = None, log_sigma: Tensor | None = None) -> Tensor:
        noise = torch.randn(a.shape, generator=generator, device=a.device, dtype=a.dtype)
        if log_sigma is None:
            return a + noise
        return a + log_sigma.exp() * noise

    def sample_from_mean(self, m: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.sample(m, generator)

    def log_partition(self, a: Tensor) -> Tensor:  # pragma: no cover - hidden Gaussians are not offered
        raise NotImplementedError("Gaussian units cannot be summed out elementwise; they are integrated by the RBM.")

    def mean_derivative(self, m: Tensor) -> Tensor:
        return torch.ones_like(m)

    def bias_from_mean(self, m: Tensor) -> Tensor:
        """The mean itself."""
        return m

    def activation_module(self) -> nn.Module:
        return nn.Identity()

    def sigma(self, log_sigma: Tensor | None, like: Tensor) -> Tensor:
        return log_sigma.exp()

    def init_log_sigma(self, log_sigma: Tensor | None, sigma: float) -> None:
        log_sigma.fill_(math.log(sigma))  # in double: exact for float64 models

    def statistic(self, v: Tensor, log_sigma: Tensor | None = None) -> Tensor:
        return v / log_sigma.exp()

    def visible_term(self, v: Tensor, bias: Tensor, log_sigma: Tensor | None = None) -> Tensor:
        """V(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2), shape (B,)."""
        return (((v - bias) / log_sigma.exp()) ** 2).sum(1) / 2

    def visible_input(self, h: Tensor, weight: Tensor, bias: Tensor, log_sigma: Tensor | None = None) -> Tensor:
        """The mean of p(v | h): ``b + sigma * (W^T h)``."""
        return bias + log_sigma.exp() * (h @ weight)

    def log_normaliser(self, bias: Tensor, log_sigma: Tensor | None = None) -> Tensor:
        """``log int exp(-V(v)) dv = sum_i log(sqrt(2 pi) sigma_i)`` (whatever the bias), in the
        bias's dtype."""
        return (0.5 * math.log(2 * math.pi) + torch.log(log_sigma.exp().to(bias.dtype))).sum()

    def contrast(self, v_data: Tensor, v_model: Tensor, bias: Tensor,
                 log_sigma: Tensor | None = None, with_value: bool = True) -> tuple[Tensor, Tensor | None]:
        """Gradient ``mean (v_model - b) / sigma^2 - mean (v_data - b) / sigma^2`` and the value
        ``mean V(v_data) - mean V(v_model)`` (None with ``with_value=False``)."""
        var = log_sigma.exp() ** 2
        g_b = ((v_model - bias) / var).mean(0) - ((v_data - bias) / var).mean(0)
        if not with_value:
            return g_b, None
        gap = self.visible_term(v_data, bias, log_sigma).mean() - self.visible_term(v_model, bias, log_sigma).mean()
        return g_b, gap

    def encoder_input(self, log_sigma: Tensor | None) -> list[nn.Module]:
        return [Scale(1.0 / log_sigma.detach().exp())]


UNITS: dict[str, Units] = {"bernoulli": Bernoulli(), "spin": Spin(), "gaussian": Gaussian()}


def visible_names() -> tuple[str, ...]:
    """Names of the unit types an RBM's visible layer can take: every registered type."""
    return tuple(UNITS)


def hidden_names() -> tuple[str, ...]:
    """Names of the unit types an RBM's hidden layer can take (``can_be_hidden``)."""
    return tuple(name for name, units in UNITS.items() if units.can_be_hidden)


def get_units(name: str | Units, allowed: tuple[str, ...] | None = None, where: str = "units") -> Units:
    """The unit type called ``name`` (or ``name`` itself when it is a :class:`Units`)."""
    if isinstance(name, Units):
        return name
    names = allowed or tuple(UNITS)
    if name not in names:
        raise ValueError(f"The '{where}' parameter must be one of {{{', '.join(map(repr, names))}}}. Got {name!r} instead.")
    return UNITS[name]
