"""Unit types of Boltzmann machines: Bernoulli {0, 1}, spin {-1, +1}, Gaussian.

A layer of units is described by how its units respond to their total input ``a``
(bias plus the weighted input from the other layer):

``mean(a)``
    E[x | a]: ``sigmoid(a)`` for Bernoulli, ``tanh(a)`` for spin units, ``a`` for Gaussian
    units (whose input already includes the bias and the sigma scaling, see ``RBM``);
``sample(a)``
    a draw from p(x | a);
``log_partition(a)``
    ``log sum_x exp(a x)`` over the unit's states, elementwise — what summing the unit out of
    ``exp(-E)`` leaves: ``softplus(a)`` for Bernoulli, ``log(2 cosh a)`` for spin units. Its
    derivative is ``mean(a)``.

New unit types (softmax, ReLU / noisy rectified units) are new subclasses here; the RBM does
not change. References: Hinton (2010), "A practical guide to training restricted Boltzmann
machines", UTML TR 2010-003; Welling, Rosen-Zvi & Hinton (2005), "Exponential family
harmoniums".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Units", "Bernoulli", "Spin", "Gaussian", "UNITS", "get_units"]


def _bernoulli(p: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Bernoulli(p) samples as ``u < p`` with u ~ U[0, 1): the same distribution as
    ``torch.bernoulli``, about 1.6x faster on the CPU (measured on (100, 500) tensors)."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return (u < p).to(p.dtype)


class Units:
    """Interface of a unit type (stateless; one shared instance per type)."""

    name: str = ""
    #: The two states of a binary unit, ``None`` for real-valued units.
    states: tuple[float, float] | None = None

    def mean(self, a: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, a: Tensor, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def sample_from_mean(self, m: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A sample given the mean ``m = mean(a)`` already computed (saves a pass over ``a``)."""
        raise NotImplementedError

    def log_partition(self, a: Tensor) -> Tensor:
        raise NotImplementedError

    def check_data(self, x: Tensor, name: str = "data") -> None:
        """Raise ValueError for values these units cannot take (probabilities are allowed)."""

    def __repr__(self) -> str:
        return self.name


class Bernoulli(Units):
    """Binary {0, 1} units: p(x = 1 | a) = sigmoid(a), log sum_x e^{a x} = softplus(a)."""

    name = "bernoulli"
    states = (0.0, 1.0)

    def mean(self, a: Tensor) -> Tensor:
        return torch.sigmoid(a)

    def sample(self, a: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return _bernoulli(torch.sigmoid(a), generator)

    def sample_from_mean(self, m: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return _bernoulli(m, generator)

    def log_partition(self, a: Tensor) -> Tensor:
        return F.softplus(a)

    def check_data(self, x: Tensor, name: str = "data") -> None:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"'{name}' must lie in [0, 1] for Bernoulli visible units (binary values, or "
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

    def sample(self, a: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return 2.0 * _bernoulli(torch.sigmoid(2.0 * a), generator) - 1.0

    def sample_from_mean(self, m: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return 2.0 * _bernoulli((1.0 + m) / 2.0, generator) - 1.0   # p(+1) = (1 + tanh a) / 2

    def log_partition(self, a: Tensor) -> Tensor:
        return torch.logaddexp(a, -a)

    def check_data(self, x: Tensor, name: str = "data") -> None:
        lo, hi = float(x.min()), float(x.max())
        if lo < -1.0 or hi > 1.0:
            raise ValueError(
                f"'{name}' must lie in [-1, 1] for spin (+-1) visible units; got values in "
                f"[{lo:.4g}, {hi:.4g}]. Map binary data with 2 x - 1."
            )


class Gaussian(Units):
    """Real-valued units with unit variance around their input: x | a ~ N(a, 1).

    The RBM scales by sigma itself: v = b + sigma * (W^T h) + sigma * eps.
    """

    name = "gaussian"
    states = None

    def mean(self, a: Tensor) -> Tensor:
        return a

    def sample(self, a: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return a + torch.randn(a.shape, generator=generator, device=a.device, dtype=a.dtype)

    def sample_from_mean(self, m: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.sample(m, generator)

    def log_partition(self, a: Tensor) -> Tensor:  # pragma: no cover - hidden Gaussians are not offered
        raise NotImplementedError("Gaussian units cannot be summed out elementwise; they are integrated by the RBM.")


UNITS: dict[str, Units] = {"bernoulli": Bernoulli(), "spin": Spin(), "gaussian": Gaussian()}


def get_units(name: str | Units, allowed: tuple[str, ...] | None = None, where: str = "units") -> Units:
    """The unit type called ``name`` (or ``name`` itself when it is a :class:`Units`)."""
    if isinstance(name, Units):
        return name
    names = allowed or tuple(UNITS)
    if name not in names:
        raise ValueError(f"The '{where}' parameter must be one of {{{', '.join(map(repr, names))}}}. Got {name!r} instead.")
    return UNITS[name]
