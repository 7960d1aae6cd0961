"""Stateless maths shared by the models: activations, corruptions, losses, penalties, and the
shrinkage and unpooling of the convolutional models; Boltzmann helpers (binary states, Bernoulli
log-probabilities, entropies and samples).

Every function works on batches: a tensor of shape ``(B, D)`` holds ``B`` samples of ``D``
features. Losses are summed (or averaged, for ``"mse"``) over features and averaged over the
batch, so that their size does not depend on the batch size. Nothing here holds state, draws
from a global generator other than torch's own (every random function takes ``generator=``),
or prints.

References
----------
.. [V08] P. Vincent, H. Larochelle, Y. Bengio, P.-A. Manzagol. "Extracting and composing
   robust features with denoising autoencoders". ICML 2008.
.. [V10] P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio, P.-A. Manzagol. "Stacked denoising
   autoencoders". JMLR 11, 2010.
.. [R11] S. Rifai, P. Vincent, X. Muller, X. Glorot, Y. Bengio. "Contractive auto-encoders:
   explicit invariance during feature extraction". ICML 2011.
.. [Ng] A. Ng. "Sparse autoencoder". CS294A lecture notes, Stanford, 2011.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "LOSSES",
    "NOISES",
    "activate",
    "activation_derivative",
    "activation_module",
    "gaussian_noise",
    "salt_and_pepper",
    "masking_noise",
    "corrupt",
    "mse_loss",
    "sse_loss",
    "bce_with_logits",
    "ce_with_logits",
    "reconstruction_loss",
    "l1_penalty",
    "l2_penalty",
    "kl_divergence_bernoulli",
    "kl_sparsity",
    "contractive_penalty",
    "soft_threshold",
    "unpool",
    "binary_states",
    "log_bernoulli",
    "bernoulli_entropy",
    "sample_bernoulli",
]

# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------

#: Elementwise activations, usable for hidden and output layers.
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
#: Output activations: the elementwise ones plus ``"softmax"`` over the features.
OUTPUT_ACTIVATIONS = ACTIVATIONS + ("softmax",)

_ACTIVATE: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "linear": lambda a: a,
    "softmax": lambda a: torch.softmax(a, dim=-1),
}


def activate(name: str, a: Tensor) -> Tensor:
    """Apply the activation ``name`` to pre-activations ``a``.

    ``sigmoid(a) = 1 / (1 + exp(-a))``, ``tanh(a)``, ``relu(a) = max(a, 0)``,
    ``linear(a) = a``, ``softmax(a)_i = exp(a_i) / sum_k exp(a_k)`` (over the last dimension).
    """
    try:
        return _ACTIVATE[name](a)
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; expected one of {OUTPUT_ACTIVATIONS}.") from None


def activation_derivative(name: str, y: Tensor) -> Tensor:
    """Derivative ``s'(a)`` of an elementwise activation, written through its output ``y = s(a)``.

    - sigmoid: ``s'(a) = y (1 - y)``
    - tanh:    ``s'(a) = 1 - y^2``
    - relu:    ``s'(a) = 1[y > 0]`` (0 at ``a = 0``, as autograd takes it)
    - linear:  ``s'(a) = 1``

    Written through the output so that the contractive penalty [R11]_ needs no second pass
    over the pre-activations. ``"softmax"`` is not elementwise and has no such form.
    """
    if name == "sigmoid":
        return y * (1.0 - y)
    if name == "tanh":
        return 1.0 - y * y
    if name == "relu":
        return (y > 0).to(y.dtype)
    if name == "linear":
        return torch.ones_like(y)
    raise ValueError(
        f"activation_derivative needs an elementwise activation, one of {ACTIVATIONS}; got {name!r}."
    )


def activation_module(name: str) -> nn.Module:
    """A fresh ``nn.Module`` computing the activation ``name`` (``nn.Identity`` for linear)."""
    modules = {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "linear": nn.Identity,
        "softmax": lambda: nn.Softmax(dim=-1),
    }
    if name not in modules:
        raise ValueError(f"Unknown activation {name!r}; expected one of {OUTPUT_ACTIVATIONS}.")
    return modules[name]()


# --------------------------------------------------------------------------------------------
# Corruptions (denoising autoencoders, [V08]_, [V10]_ section 4.2)
# --------------------------------------------------------------------------------------------

#: Corruption processes C(x~ | x) by name.
NOISES = ("gaussian", "salt_and_pepper", "masking")


def gaussian_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """Additive isotropic Gaussian noise: ``x~ = x + eps``, ``eps ~ N(0, sigma^2 I)`` [V10]_."""
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + sigma * eps


def salt_and_pepper(
    x: Tensor,
    p: float,
    low: float = 0.0,
    high: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Salt-and-pepper noise [V10]_: each entry, with probability ``p``, is set to ``low`` or
    ``high`` (the minimum or maximum possible value) with equal chance; the others are kept.

    ``x~_i = low`` with prob. ``p/2``, ``high`` with prob. ``p/2``, ``x_i`` with prob. ``1 - p``.
    """
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    # u < p/2 -> low, p/2 <= u < p -> high: one uniform draw decides both events.
    out = torch.where(u < p, torch.where(u < 0.5 * p, low, high), x)
    return out.to(x.dtype)


def masking_noise(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Masking noise [V08]_: each entry is set to 0 with probability ``p``, independently for
    every entry of every sample: ``x~_i = x_i * m_i``, ``m_i ~ Bernoulli(1 - p)``."""
    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p
    return x * keep.to(x.dtype)


def corrupt(x: Tensor, noise: str | None, level: float, generator: torch.Generator | None = None) -> Tensor:
    """Apply the corruption ``noise`` (one of :data:`NOISES`, or ``None`` for none) at ``level``
    (sigma for ``"gaussian"``, the probability p otherwise)."""
    if noise is None or level == 0.0:
        return x
    if noise == "gaussian":
        return gaussian_noise(x, level, generator=generator)
    if noise == "salt_and_pepper":
        return salt_and_pepper(x, level, generator=generator)
    if noise == "masking":
        return masking_noise(x, level, generator=generator)
    raise ValueError(f"Unknown noise {noise!r}; expected None or one of {NOISES}.")


# --------------------------------------------------------------------------------------------
# Reconstruction losses: summed or averaged over features, averaged over the batch
# --------------------------------------------------------------------------------------------

#: Reconstruction losses by name.
LOSSES = ("mse", "sse", "bce", "ce")


def _reduce(per_sample: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "none":
        return per_sample
    raise ValueError(f"reduction must be 'mean' or 'none'; got {reduction!r}.")


def mse_loss(y: Tensor, x: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: ``L = 1/D sum_i (y_i - x_i)^2`` per sample, averaged over the batch
    (equal to ``torch.nn.functional.mse_loss(y, x)``). ``reduction="none"`` gives ``(B,)``."""
    return _reduce((y - x).pow(2).mean(dim=-1), reduction)


def sse_loss(y: Tensor, x: Tensor, reduction: str = "mean") -> Tensor:
    """Sum-squared error: ``L = 1/2 sum_i (y_i - x_i)^2`` per sample, averaged over the batch.

    This is the cost Intel neon's ``SumSquared`` reports (``sum(square(y - t), axis=0) / 2``
    per sample, the batch mean taken by ``GeneralizedCost``), the cost of the lecture's
    autoencoder example; its gradient per sample is ``y - x``.
    """
    return _reduce(0.5 * (y - x).pow(2).sum(dim=-1), reduction)


def bce_with_logits(a: Tensor, x: Tensor, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of a sigmoid output, computed from its logits ``a`` for stability:

    ``L = - sum_i [x_i log sigm(a_i) + (1 - x_i) log(1 - sigm(a_i))]`` per sample (summed over
    features), averaged over the batch; targets ``x`` in [0, 1]. [V10]_ eq. (2).
    """
    per = F.binary_cross_entropy_with_logits(a, x, reduction="none").sum(dim=-1)
    return _reduce(per, reduction)


def ce_with_logits(a: Tensor, x: Tensor, reduction: str = "mean") -> Tensor:
    """Multinomial cross-entropy of a softmax output, from its logits ``a``:

    ``L = - sum_i x_i log softmax(a)_i`` per sample, averaged over the batch. ``x`` is a
    non-negative target (a distribution, or counts) over the ``D`` features.
    """
    return _reduce(-(x * torch.log_softmax(a, dim=-1)).sum(dim=-1), reduction)


def reconstruction_loss(
    loss: str, a: Tensor, x: Tensor, output_activation: str, reduction: str = "mean"
) -> Tensor:
    """Reconstruction loss ``loss`` of the output pre-activations ``a`` against the target ``x``.

    ``"mse"`` and ``"sse"`` compare ``y = s_out(a)`` with ``x``; ``"bce"`` (needs a sigmoid
    output) and ``"ce"`` (needs a softmax output) are computed from the logits ``a``.
    """
    if loss == "mse":
        return mse_loss(activate(output_activation, a), x, reduction)
    if loss == "sse":
        return sse_loss(activate(output_activation, a), x, reduction)
    if loss == "bce":
        if output_activation != "sigmoid":
            raise ValueError(f"loss='bce' needs a sigmoid output; got {output_activation!r}.")
        return bce_with_logits(a, x, reduction)
    if loss == "ce":
        if output_activation != "softmax":
            raise ValueError(f"loss='ce' needs a softmax output; got {output_activation!r}.")
        return ce_with_logits(a, x, reduction)
    raise ValueError(f"Unknown loss {loss!r}; expected one of {LOSSES}.")


# --------------------------------------------------------------------------------------------
# Penalties
# --------------------------------------------------------------------------------------------


def l2_penalty(weights: Sequence[Tensor]) -> Tensor:
    """Weight decay ``sum_l sum_ij (W_l)_ij^2`` over the given weight matrices (pass weights,
    not biases). Its gradient with respect to ``W`` is ``2 W``."""
    return sum(w.pow(2).sum() for w in weights)


def l1_penalty(h: Tensor) -> Tensor:
    """L1 sparsity of codes ``h`` (B, H): ``1/B sum_b sum_j |h_bj|`` (a Laplace prior on the code)."""
    return h.abs().sum(dim=-1).mean()


def kl_divergence_bernoulli(rho: float | Tensor, rho_hat: Tensor, eps: float = 1e-6) -> Tensor:
    """Elementwise ``KL(rho || rho_hat) = rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat))``.

    ``rho_hat`` is clamped to ``[eps, 1 - eps]`` so that a dead or saturated unit gives a large
    but finite penalty.
    """
    rho_hat = rho_hat.clamp(eps, 1.0 - eps)
    rho = torch.as_tensor(rho, dtype=rho_hat.dtype, device=rho_hat.device)
    return rho * torch.log(rho / rho_hat) + (1.0 - rho) * torch.log((1.0 - rho) / (1.0 - rho_hat))


def kl_sparsity(rho_hat: Tensor, rho: float, eps: float = 1e-6) -> Tensor:
    """KL sparsity penalty of Ng's sparse autoencoder notes [Ng]_:

    ``sum_j KL(rho || rho_hat_j)``, with ``rho_hat_j`` the average activation of hidden unit ``j``
    over the batch (values in (0, 1)) and ``rho`` the target (e.g. 0.05).
    """
    return kl_divergence_bernoulli(rho, rho_hat, eps).sum()


def contractive_penalty(weights: Sequence[Tensor], derivatives: Sequence[Tensor]) -> Tensor:
    """Squared Frobenius norm of the encoder's Jacobian, per sample [R11]_.

    For ``h = s_k(W_k s_{k-1}(... s_1(W_1 x + b_1) ...) + b_k)`` with elementwise activations the
    Jacobian is ``J(x) = D_k W_k ... D_1 W_1`` with ``D_l = diag(s_l'(a_l))``. For one layer,

        ``||J||_F^2 = sum_j s'(a_j)^2 sum_i W_ji^2``          (Rifai et al. 2011, eq. 5)

    For deeper encoders the product is formed explicitly per sample (no autograd, so it also
    works under ``torch.no_grad``) and ``||A W_1||_F^2`` is taken as ``trace(A (W_1 W_1^T) A^T)``
    when ``W_1`` is wider than tall.

    Parameters
    ----------
    weights : sequence of Tensor
        ``W_1 ... W_k``, each of shape (out, in) as in ``nn.Linear``.
    derivatives : sequence of Tensor
        ``s_l'(a_l)`` for each layer, shape (B, out_l) (see :func:`activation_derivative`).

    Returns
    -------
    Tensor
        ``||J_f(x_b)||_F^2`` for every sample, shape (B,).
    """
    if len(weights) != len(derivatives) or not weights:
        raise ValueError("contractive_penalty needs one derivative tensor per weight matrix.")
    w1, d1 = weights[0], derivatives[0]
    if len(weights) == 1:
        return d1.pow(2) @ w1.pow(2).sum(dim=1)  # (B,)
    # M = D_k W_k D_{k-1} W_{k-1} ... W_2, built from the top: (B, h_k, h_1)
    m = derivatives[-1].unsqueeze(-1) * weights[-1]  # (B, h_k, h_{k-1})
    for w, d in zip(reversed(weights[1:-1]), reversed(derivatives[1:-1])):
        m = (m * d.unsqueeze(1)) @ w  # (B, h_k, h_{l-1})
    a = m * d1.unsqueeze(1)  # (B, h_k, h_1)
    if w1.shape[1] <= w1.shape[0]:
        return (a @ w1).pow(2).sum(dim=(1, 2))
    gram = w1 @ w1.T  # (h_1, h_1)
    return ((a @ gram) * a).sum(dim=(1, 2))


# --------------------------------------------------------------------------------------------
# Convolutional maps: shrinkage (ISTA / FISTA) and switch unpooling (deconvnets)
# --------------------------------------------------------------------------------------------


def soft_threshold(x: Tensor, t: float | Tensor) -> Tensor:
    """S_t(x) = sign(x) max(|x| - t, 0), the proximal operator of ``t |x|_1`` (elementwise).

    Computed as ``x - clamp(x, -t, t)``, which is exactly that and two kernels long.
    """
    if isinstance(t, Tensor):
        return x - torch.maximum(torch.minimum(x, t), -t)
    return x - x.clamp(-t, t)


def unpool(y: Tensor, indices: Tensor, output_size: Sequence[int]) -> Tensor:
    """Max unpooling with the switches: ``out[b, c].flat[indices[b, c, i, j]] += y[b, c, i, j]``.

    The adjoint of max pooling with its argmax held fixed; for non-overlapping windows it equals
    ``F.max_unpool2d(y, indices, ..., output_size)``, and where overlapping windows chose the same
    pixel the contributions add up (``max_unpool2d`` would keep an arbitrary one).

    Parameters
    ----------
    y : Tensor (B, C, h, w)
        Pooled maps (or what is projected through them).
    indices : Tensor (B, C, h, w)
        The switches: flat positions in the (H, W) input, from ``max_pool2d(..., return_indices=True)``.
    output_size : (H, W)
        The pooling layer's input size.

    Returns
    -------
    Tensor (B, C, H, W)
    """
    b, c = y.shape[:2]
    h, w = output_size[-2:]
    out = y.new_zeros(b, c, h * w)
    out.scatter_add_(2, indices.flatten(2), y.flatten(2))
    return out.view(b, c, h, w)


# --------------------------------------------------------------------------------------------
# Boltzmann helpers: binary states, factorial Bernoulli units (RBM, DBN, DBM, SBN, up-down)
# --------------------------------------------------------------------------------------------


def binary_states(
    n: int,
    states: tuple[float, float] = (0.0, 1.0),
    start: int = 0,
    stop: int | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Rows ``start .. stop - 1`` of the ``2^n`` joint states of ``n`` binary units.

    Row ``k`` holds the bits of ``k``, least significant first: unit ``j`` is bit ``j`` of
    ``k`` (so ``binary_states(2)`` is ``[[0, 0], [1, 0], [0, 1], [1, 1]]``), each bit mapped to
    the units' two ``states`` (``(0, 1)`` for Bernoulli units, ``(-1, 1)`` for spin units).
    Enumerating in slices (``start``, ``stop``) keeps memory bounded when summing over all states.

    Parameters
    ----------
    n : int
        Number of units (at most 62, so that every row index fits in an int64).
    states : (float, float)
        The values of a bit 0 and a bit 1.
    start, stop : int
        The slice of rows; ``stop`` defaults to ``2^n``.
    device, dtype : optional
        Of the result (default dtype: torch's default float type).

    Returns
    -------
    Tensor of shape (stop - start, n).
    """
    stop = 2**n if stop is None else stop
    k = torch.arange(start, stop, device=device)
    bits = (k.unsqueeze(1) >> torch.arange(n, device=device)) & 1  # (S, n)
    lo, hi = states
    return lo + (hi - lo) * bits.to(dtype or torch.get_default_dtype())


def log_bernoulli(x: Tensor, logits: Tensor) -> Tensor:
    """``log p(x | a) = sum_i x_i a_i - softplus(a_i)`` of factorial Bernoulli units, summed over
    the last dimension.

    (``log sigm(a) = a - softplus(a)`` and ``log(1 - sigm(a)) = -softplus(a)``.) For ``x`` holding
    probabilities instead of bits it is the negative cross-entropy ``-H(x, sigm(a))``.
    """
    return (x * logits - F.softplus(logits)).sum(-1)


def bernoulli_entropy(probs: Tensor | None = None, *, logits: Tensor | None = None) -> Tensor:
    """Elementwise entropy of Bernoulli units, from their means or from their logits.

    - ``probs`` p: ``H = -[p log p + (1 - p) log(1 - p)]`` (``0 log 0 = 0``);
    - ``logits`` a (p = sigm(a)): ``H = softplus(a) - a sigm(a)``, exact for saturated units
      where p rounds to 0 or 1.

    Give exactly one of the two (as ``torch.distributions.Bernoulli``).
    """
    if (probs is None) == (logits is None):
        raise ValueError("bernoulli_entropy needs exactly one of 'probs' and 'logits'.")
    if logits is not None:
        return F.softplus(logits) - logits * torch.sigmoid(logits)
    return -(torch.special.xlogy(probs, probs) + torch.special.xlogy(1 - probs, 1 - probs))


def sample_bernoulli(p: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Bernoulli(p) samples as ``u < p`` with ``u ~ U[0, 1)``, in ``p``'s dtype.

    The same distribution as ``torch.bernoulli`` (on the CPU even the same numbers for the same
    seed), about 1.6x faster on the CPU (measured on (100, 500) tensors). Probabilities outside
    [0, 1] act as clamped to it.
    """
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return torch.lt(u, p, out=u)  # written over u, in p's dtype: no second tensor
