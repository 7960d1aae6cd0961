"""Convolutional sparse coding: the deconvolutional network of Zeiler et al. (2010).

An image ``y`` with ``C`` channels (H x W) is explained by ``K`` sparse feature maps ``z_k``
convolved with filters ``f_{k,c}`` (s x s)::

    y_c ~ D(z)_c = sum_k z_k * f_{k,c}                       (true 2-d convolution, "valid")

    E(y, z) = (lam / 2) sum_c ||D(z)_c - y_c||_2^2 + sum_k |z_k|_1

The maps are larger than the image: ``z`` has shape (B, K, H + s - 1, W + s - 1), the "full"
support whose valid convolution with an s x s filter has the image's size H x W, so that
pixels near the border are explained as well as those in the middle. In torch terms::

    D(z)   = F.conv2d(z, weight.transpose(0, 1).flip(-1, -2))   # (B, C, H, W)
    D^T(r) = F.conv2d(r, weight, padding=s - 1)                  # (B, K, H + s - 1, W + s - 1)

(``F.conv2d`` is a correlation, hence the flip in D; its adjoint is the correlation of the
zero-padded residual with the unflipped filters.) ``weight`` has shape (K, C, s, s), one
filter bank per feature map, each filter ``weight[k]`` of unit norm over (C, s, s).

Inference (``infer``) minimises E over z with the filters fixed by ISTA, ``z <- S_t(z - t
lam D^T(D(z) - y))``, or by FISTA (Beck & Teboulle 2009), the same step taken from an
extrapolated point, which converges as O(1/k^2) instead of O(1/k). ``S_t`` is the
soft-thresholding :func:`layerwise.functional.soft_threshold` and ``t = 1/L`` with
``L = lam ||D||_2^2`` estimated by power iteration on D^T D (:meth:`ConvSparseCoding.lipschitz`).
Learning (``training_step``) alternates, as in the paper: infer z with the filters fixed, take a
gradient step on the filters for the data term with z fixed, and renormalise every filter to
unit norm. A second layer is another ``ConvSparseCoding`` trained on the first layer's maps
(:func:`stack_maps`).

References
----------
.. [Z10] M. D. Zeiler, D. Krishnan, G. W. Taylor, R. Fergus. "Deconvolutional networks".
   CVPR 2010.
.. [BT09] A. Beck, M. Teboulle. "A fast iterative shrinkage-thresholding algorithm for linear
   inverse problems". SIAM J. Imaging Sciences 2(1), 2009.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._validation import (as_float_tensor, batch_data, check_choice, check_finite, check_int, check_memory,
                           check_real, check_tensor, tensor_bytes)
from ..functional import soft_threshold
from ..training import all_reduce_mean

__all__ = ["ConvSparseCoding", "stack_maps"]

METHODS = ("ista", "fista")
#: The power-iteration estimate of ||D||^2 is multiplied by this, so that the step 1/L stays
#: below the true 1/L_true (power iteration approaches the top eigenvalue from below).
SAFETY = 1.01


def stack_maps(z: Tensor, pool: int | None = 2, absolute: bool = True) -> Tensor:
    """Input of the next layer from a layer's feature maps: ``|z|``, then ``pool x pool`` max pooling.

    Parameters
    ----------
    z : Tensor (B, K, H', W')
        Feature maps from :meth:`ConvSparseCoding.infer` (or ``forward``).
    pool : int or None
        Max-pooling size and stride (``ceil_mode=True``: a last partial cell is kept); None or 1:
        no pooling (the 2010 paper stacks the maps themselves).
    absolute : bool
        Take ``|z|`` first, so that pooling keeps the strongest response of either sign.

    Returns
    -------
    Tensor (B, K, ceil(H' / pool), ceil(W' / pool))
        Images with K channels: train ``ConvSparseCoding(K, ...)`` on them.
    """
    if not isinstance(z, Tensor) or z.dim() != 4:
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ValueError(f"'z' must be a 4-d tensor of feature maps (B, K, H, W); got {shape}.")
    if pool is not None:
        pool = check_int("pool", pool, 1)
    out = z.abs() if absolute else z
    if pool is not None and pool > 1:
        out = F.max_pool2d(out, pool, stride=pool, ceil_mode=True)
    return out


class ConvSparseCoding(nn.Module):
    r"""Convolutional sparse coding, one layer of a deconvolutional network (Zeiler et al. 2010).

    Minimises, for every image y (C x H x W) over its feature maps z (K x (H+s-1) x (W+s-1)),

    .. math::

        E(y, z) = \frac{\lambda}{2} \sum_c \Big\| \sum_k z_k * f_{k,c} - y_c \Big\|_2^2
                  + \sum_k |z_k|_1

    by ISTA or FISTA, and learns the filters f by alternating that inference with gradient
    steps on the filters, each filter kept at unit norm. See the module docstring for the
    convolution conventions.

    Parameters
    ----------
    in_channels : int
        Channels C of the input images (1 for grayscale, K of the layer below when stacking).
    n_filters : int
        Number K of feature maps (and of filter banks).
    kernel_size : int
        Side s of the square filters.
    lam : float
        Weight ``lambda`` (> 0) of the reconstruction term against the L1 term: larger gives
        better reconstructions and denser maps. With a single 1x1 unit filter the solution is
        ``soft_threshold(y, 1 / lam)``.
    method : {"fista", "ista"}
        Default inference algorithm.
    n_iter : int
        Default cap on inference iterations (>= 1).
    tol : float
        Default stopping tolerance (>= 0): inference stops when, for every image of the
        batch, ``|E_k - E_{k+1}| <= tol * |E_k|`` (the largest relative change of any image's
        objective), or after ``n_iter`` iterations. 0 runs all ``n_iter``.
    step : float, optional
        Fixed inference step size (> 0). Default ``1 / L`` with ``L`` from :meth:`lipschitz`,
        which guarantees convergence (and a monotone objective for ISTA).
    power_iter : int
        Cap on power iterations for :meth:`lipschitz` (>= 1).
    device, dtype : optional
        As for ``nn.Conv2d``.

    Examples
    --------
    >>> csc = ConvSparseCoding(1, 16, 5, lam=10.0)
    >>> csc
    ConvSparseCoding(1, 16, kernel_size=5, lam=10.0)
    >>> z = csc(torch.rand(4, 1, 8, 8))          # (4, 16, 12, 12) sparse maps
    """

    def __init__(
        self,
        in_channels: int,
        n_filters: int,
        kernel_size: int,
        lam: float = 10.0,
        method: str = "fista",
        n_iter: int = 100,
        tol: float = 1e-4,
        *,
        step: float | None = None,
        power_iter: int = 100,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.n_filters = check_int("n_filters", n_filters, 1)
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
        self.lam = check_real("lam", lam, 0.0, low_open=True)
        self.method = check_choice("method", method, METHODS)
        self.n_iter = check_int("n_iter", n_iter, 1)
        self.tol = check_real("tol", tol, 0.0)
        self.step = None if step is None else check_real("step", step, 0.0, low_open=True)
        self.power_iter = check_int("power_iter", power_iter, 1)
        check_memory(f"ConvSparseCoding({self.in_channels}, {self.n_filters}, kernel_size={self.kernel_size}) filters",
                     tensor_bytes(self.n_filters * self.in_channels * self.kernel_size ** 2, dtype))
        fk = {"device": device, "dtype": dtype}
        # (K, C, s, s), as nn.Conv2d(C, K, s).weight: filter bank k maps to feature map k.
        self.weight = nn.Parameter(torch.empty(self.n_filters, self.in_channels,
                                               self.kernel_size, self.kernel_size, **fk))
        self._lipschitz_cache: tuple | None = None  # (key, filters, L): not state, a speed-up
        self.reset_parameters()

    # ---- parameters -------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Filters ~ N(0, 1) entrywise, then each filter bank ``weight[k]`` scaled to unit norm
        (the constraint ``||f_k|| = 1`` of the learning problem)."""
        with torch.no_grad():
            nn.init.normal_(self.weight)
            self.normalize_filters()

    @torch.no_grad()
    def normalize_filters(self) -> None:
        """Project every filter bank ``weight[k]`` (C, s, s) onto the unit sphere, in place."""
        norm = self.weight.flatten(1).norm(dim=1).clamp_min(torch.finfo(self.weight.dtype).tiny)
        self.weight.div_(norm.view(-1, 1, 1, 1))

    # ---- the maths: one method per formula ---------------------------------------------------

    def _map_size(self, h: int, w: int) -> tuple[int, int]:
        s = self.kernel_size
        return h + s - 1, w + s - 1

    def _decoder_weight(self) -> Tensor:
        """The (C, K, s, s) kernel with which ``F.conv2d`` computes the convolution D."""
        return self.weight.transpose(0, 1).flip(-1, -2)

    def reconstruct(self, z: Tensor) -> Tensor:
        """D(z)_c = sum_k z_k * f_{k,c} (valid convolution): (B, K, H+s-1, W+s-1) -> (B, C, H, W).

        Differentiable in ``z`` and in ``weight``. ``z`` is checked (shape, finite).
        """
        return self._reconstruct(self._maps(z))

    def _reconstruct(self, z: Tensor) -> Tensor:
        return F.conv2d(z, self._decoder_weight())

    def adjoint(self, r: Tensor) -> Tensor:
        """D^T(r)_k = sum_c r_c (x) f_{k,c} (correlation of the zero-padded r): (B, C, H, W) ->
        (B, K, H+s-1, W+s-1), so that ``<D(z), r> = <z, D^T(r)>``. ``r`` is checked like images."""
        return self._adjoint(self._input(r, "r"))

    def _adjoint(self, r: Tensor) -> Tensor:
        return F.conv2d(r, self.weight, padding=self.kernel_size - 1)

    def objective(self, y: Tensor, z: Tensor) -> Tensor:
        """E(y, z) = (lam / 2) sum_c ||D(z)_c - y_c||^2 + sum_k |z_k|_1, per image: shape (B,)."""
        y = self._input(y)
        z = self._maps(z, y)
        return self._objective(y, z, self._reconstruct(z))

    def _objective(self, y: Tensor, z: Tensor, dz: Tensor) -> Tensor:
        """E from a precomputed D(z) (the inference loop has it already)."""
        return self.lam / 2 * (dz - y).pow(2).sum((1, 2, 3)) + z.abs().sum((1, 2, 3))

    def data_gradients(self, y: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """Gradients of the data term ``G = (lam / 2) sum_b ||D(z_b) - y_b||^2`` (summed over the batch).

        With the residual ``r = D(z) - y``::

            dG/dz = lam D^T(r)                                                (B, K, H+s-1, W+s-1)
            dG/df_{k,c} = lam sum_b corr(z_{b,k}, r_{b,c}), flipped            (K, C, s, s)

        the second as ``F.conv2d`` of the maps (batch as channels) with the residuals as
        kernels, flipped back because D convolves with the flipped filters.
        """
        y = self._input(y)
        z = self._maps(z, y)
        with torch.no_grad():
            r = self._reconstruct(z) - y                                         # (B, C, H, W)
            g_z = self.lam * self._adjoint(r)
            # (K, B, H', W') correlated with (C, B, H, W) -> (K, C, s, s)
            g_w = self.lam * F.conv2d(z.transpose(0, 1), r.transpose(0, 1)).flip(-1, -2)
        return g_z, g_w

    @torch.no_grad()
    def lipschitz(self, image_size: int | Sequence[int], n_iter: int | None = None,
                  tol: float = 1e-6) -> float:
        """L = SAFETY * lam * ||D||_2^2, the Lipschitz constant of the data term's gradient in z.

        ``||D||_2^2``, the largest eigenvalue of D^T D for H x W images, is estimated by power
        iteration (the Rayleigh quotient ``<v, D^T D v> / <v, v>``, which increases towards it)
        from a random vector of a fixed seed, drawn on the CPU so that every device starts
        from the same one (the global RNG is untouched), stopped when it
        changes by less than ``tol`` relatively or after ``n_iter`` rounds (default
        ``power_iter``), and multiplied by ``SAFETY`` = 1.01. The estimate is a function of the
        filters and the image size alone, so inference is reproducible; it is cached until the
        filters change.

        Parameters
        ----------
        image_size : int or (int, int)
            H and W of the images (D^T D depends on them through the borders).
        n_iter : int, optional
            Cap on rounds.
        tol : float
            Relative change of the estimate that counts as converged.
        """
        n_iter = self.power_iter if n_iter is None else check_int("n_iter", n_iter, 1)
        tol = check_real("tol", tol, 0.0)
        h, w = _pair("image_size", image_size)
        wt = self.weight
        key = (h, w, n_iter, tol, self.lam)
        cached = self._lipschitz_cache
        if (cached is not None and cached[0] == key and cached[1].device == wt.device
                and cached[1].dtype == wt.dtype and torch.equal(cached[1], wt)):
            return cached[2]
        gen = torch.Generator().manual_seed(0)  # on the CPU: the same start on every device
        v = torch.randn((1, self.n_filters, *self._map_size(h, w)), generator=gen,
                        dtype=torch.float64).to(wt.device, wt.dtype)
        wd = self._decoder_weight()
        rho = 0.0
        for _ in range(n_iter):
            v = v / v.norm().clamp_min(torch.finfo(wt.dtype).tiny)
            u = self._adjoint(F.conv2d(v, wd))                   # D^T D v
            new = float((u * v).sum())
            v = u
            done = abs(new - rho) <= tol * abs(new)
            rho = new
            if done:
                break
        big_l = SAFETY * self.lam * rho
        self._lipschitz_cache = (key, wt.detach().clone(), big_l)
        return big_l

    def _step_size(self, h: int, w: int) -> float:
        if self.step is not None:
            return self.step
        big_l = self.lipschitz((h, w))
        if big_l <= 0:  # all-zero filters: any step is exact, z stays 0
            return 1.0
        return 1.0 / big_l

    # ---- inference ---------------------------------------------------------------------------

    @torch.no_grad()
    def infer(self, y: Any, method: str | None = None, n_iter: int | None = None,
              tol: float | None = None, z0: Tensor | None = None, return_trace: bool = False):
        """Sparse feature maps z = argmin_z E(y, z) by ISTA or FISTA, batched over images.

        ISTA: ``z <- S_t(z - t lam D^T(D(z) - y))`` with ``t = 1/L`` (:meth:`lipschitz`) and
        the threshold ``t * 1`` (the L1 weight is 1). FISTA (Beck & Teboulle 2009) takes the
        same step from ``v = z_k + (t_k - 1)/t_{k+1} (z_k - z_{k-1})``,
        ``t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2``; D(v) comes from D(z_k) and D(z_{k-1}) by
        linearity, so both cost one D and one D^T per iteration.

        Parameters
        ----------
        y : Tensor (B, C, H, W), (B, H, W) when C = 1, or a tuple whose first item is one
            The images.
        method : {"ista", "fista"}, optional
            Default: the model's ``method``.
        n_iter : int, optional
            Iteration cap; default the model's ``n_iter``.
        tol : float, optional
            Stop when every image's objective changed by at most ``tol`` relatively in the
            last iteration (``max_b |E_b,k - E_b,k+1| / |E_b,k| <= tol``); 0 runs all
            ``n_iter``. Default: the model's ``tol``.
        z0 : Tensor (B, K, H+s-1, W+s-1), optional
            Starting maps (warm start); default zeros.
        return_trace : bool
            Also return the batch-mean objective before the first and after every iteration.

        Returns
        -------
        z : Tensor (B, K, H+s-1, W+s-1)
        trace : Tensor (iterations + 1,)
            Only with ``return_trace``; float64 on the CPU. For ISTA it never increases.
        """
        method = self.method if method is None else check_choice("method", method, METHODS)
        n_iter = self.n_iter if n_iter is None else check_int("n_iter", n_iter, 1)
        tol = self.tol if tol is None else check_real("tol", tol, 0.0)
        y = self._input(y)
        b, _, h, w = y.shape
        # z, z_prev, v, the gradient, z_new (+ D(z)s, image-sized): about 6 sets of maps
        check_memory(f"sparse codes of {b} image(s) of {h}x{w} with {self.n_filters} filters",
                     tensor_bytes(6 * b * self.n_filters * math.prod(self._map_size(h, w)), y.dtype))
        if z0 is not None:
            z0 = self._maps(z0, y)
        return self._infer(y, method, n_iter, tol, z0, return_trace)

    @torch.no_grad()
    def _infer(self, y: Tensor, method: str, n_iter: int, tol: float, z0: Tensor | None = None,
               return_trace: bool = False):
        """:meth:`infer` on checked images (B, C, H, W) on the model's device and dtype."""
        b, _, h, w = y.shape
        if z0 is None:
            z = torch.zeros(b, self.n_filters, *self._map_size(h, w), device=y.device, dtype=y.dtype)
        else:
            z = z0.clone()
        step = self._step_size(h, w)
        lam, wd = self.lam, self._decoder_weight()
        dz = F.conv2d(z, wd)                                     # D(z), (B, C, H, W)
        watch = tol > 0 or return_trace
        obj = self._objective(y, z, dz) if watch else None       # (B,)
        trace = [obj.mean()] if return_trace else []
        fista = method == "fista"
        t_k, beta = 1.0, 0.0
        z_prev, dz_prev = z, dz
        for _ in range(n_iter):
            if fista and beta > 0:
                v = torch.lerp(z, z_prev, -beta)                  # z + beta (z - z_prev)
                dv = torch.lerp(dz, dz_prev, -beta)               # D(v), by linearity
            else:
                v, dv = z, dz
            grad = self._adjoint(dv - y)                          # D^T(D(v) - y), without lam
            z_new = soft_threshold(torch.add(v, grad, alpha=-step * lam), step)
            dz_new = F.conv2d(z_new, wd)
            stop = False
            if watch:  # the objective is only computed when it is looked at
                obj_new = self._objective(y, z_new, dz_new)
                if return_trace:
                    trace.append(obj_new.mean())
                if tol > 0:
                    stop = float(((obj - obj_new).abs() - tol * obj.abs()).max()) <= 0
                obj = obj_new
            z_prev, dz_prev, z, dz = z, dz, z_new, dz_new
            if fista:
                t_next = (1.0 + math.sqrt(1.0 + 4.0 * t_k * t_k)) / 2.0
                beta, t_k = (t_k - 1.0) / t_next, t_next
            if stop:
                break
        if return_trace:
            return z, torch.stack(trace).to("cpu", torch.float64)
        return z

    def forward(self, y: Tensor) -> Tensor:
        """The sparse feature maps of ``y``: :meth:`infer` with the model's defaults."""
        return self.infer(y)

    @torch.no_grad()
    def transform(self, y: Any, pooling: str | int | None = None) -> Tensor:
        """Features for a classifier, one row per image.

        ``pooling=None``: the maps z flattened, (B, K (H+s-1) (W+s-1)); ``"max"``: the largest
        ``|z_k|`` of every map, (B, K); an int p: ``|z|`` max-pooled over p x p cells
        (:func:`stack_maps`), flattened.
        """
        if pooling is not None and not isinstance(pooling, str):
            pooling = check_int("pooling", pooling, 1)
        elif pooling is not None:
            check_choice("pooling", pooling, ("max",))
        z = self.infer(y)
        if pooling is None:
            return z.flatten(1)
        if pooling == "max":
            return z.abs().amax((2, 3))
        return stack_maps(z, pooling).flatten(1)

    # ---- data ---------------------------------------------------------------------------------

    def _input(self, y: Any, name: str = "y", check: bool = True) -> Tensor:
        """The images of a batch as (B, C, H, W) on the weight's device and dtype, shape-checked;
        with ``check`` also numeric and finite (``fit`` has checked its batches: ``check=False``)."""
        y = batch_data(y)
        y = as_float_tensor(name, y) if check else torch.as_tensor(y)
        self._check_shape(y, name)
        if check:
            check_finite(name, y)
        if y.dim() == 3:
            y = y.unsqueeze(1)
        wt = self.weight
        if y.dtype != wt.dtype or y.device != wt.device:
            y = y.to(device=wt.device, dtype=wt.dtype)
        return y

    def _check_shape(self, y: Tensor, name: str = "y") -> None:
        c, s = self.in_channels, self.kernel_size
        if y.dim() == 3 and c == 1:
            y = y.unsqueeze(1)
        if y.dim() != 4:
            also = " or (N, H, W)" if c == 1 else ""
            hint = ""
            if y.dim() == 2 and math.isqrt(y.shape[1]) ** 2 == y.shape[1]:
                side = math.isqrt(y.shape[1])
                hint = f" Flat images? Reshape them, e.g. x.reshape(-1, {c}, {side}, {side})." if c == 1 else ""
            raise ValueError(f"'{name}' must be a 4-d array of images (N, C, H, W){also}; got shape "
                             f"{tuple(y.shape)} ({y.dim()}-d).{hint}")
        if y.shape[0] < 1:
            raise ValueError(f"'{name}' must hold at least 1 image; got shape {tuple(y.shape)}.")
        if y.shape[1] != c:
            raise ValueError(f"'{name}' has {y.shape[1]} channel(s), but the model has in_channels={c} "
                             f"(shape {tuple(y.shape)}, expected (N, {c}, H, W)).")
        if y.shape[2] < s or y.shape[3] < s:
            raise ValueError(f"The images of '{name}' are {y.shape[2]}x{y.shape[3]}, smaller than the "
                             f"{s}x{s} filters (kernel_size={s}); use a smaller kernel_size.")

    def _maps(self, z: Any, y: Tensor | None = None) -> Tensor:
        """Check feature maps: (B, K, H+s-1, W+s-1), matching ``y`` when given."""
        z = as_float_tensor("z", z)
        if z.dim() != 4 or z.shape[1] != self.n_filters:
            raise ValueError(f"'z' must be feature maps of shape (B, {self.n_filters}, H + "
                             f"{self.kernel_size - 1}, W + {self.kernel_size - 1}); got {tuple(z.shape)}.")
        if y is not None:
            want = (y.shape[0], self.n_filters, *self._map_size(y.shape[2], y.shape[3]))
            if tuple(z.shape) != want:
                raise ValueError(f"'z' must have shape {want} for images of shape {tuple(y.shape)}; "
                                 f"got {tuple(z.shape)}.")
        check_finite("z", z)
        wt = self.weight
        if z.dtype != wt.dtype or z.device != wt.device:
            z = z.to(device=wt.device, dtype=wt.dtype)
        return z

    def validate_data(self, x: Any) -> Tensor:
        """Images (N, C, H, W) (or (N, H, W) for C = 1) with ``in_channels`` channels, at least
        as large as the filters, finite and non-empty. Returns them as a float tensor."""
        if isinstance(x, (tuple, list)):
            x = x[0]
        t = check_tensor("data", x, finite=False)
        self._check_shape(t, "data")
        check_finite("data", t)
        return t.unsqueeze(1) if t.dim() == 3 else t

    # ---- training ------------------------------------------------------------------------------

    def training_loss(self, batch: Any) -> Tensor:
        """Mean objective E(y, z*) over the batch, z* inferred with the filters fixed (no
        gradient through the inference); differentiable in ``weight``."""
        y = self._input(batch, check=False)
        z = self._infer(y, self.method, self.n_iter, self.tol)
        return self._objective(y, z, self._reconstruct(z)).mean()

    def training_step(self, batch: Any, optimizer: torch.optim.Optimizer) -> Tensor:
        """One step of the alternating minimisation of Zeiler et al. (2010).

        1. z = :meth:`infer` (y) with the filters fixed;
        2. the gradient of the batch-mean data term ``(lam / 2B) sum_b ||D(z_b) - y_b||^2``
           in the filters, in closed form (:meth:`data_gradients`, checked against autograd
           in the tests), handed to ``optimizer.step()``;
        3. every filter bank renormalised to unit norm.

        Returns the mean objective E(y, z) before the filter step.
        """
        y = self._input(batch, check=False)
        z = self._infer(y, self.method, self.n_iter, self.tol)
        with torch.no_grad():
            dz = self._reconstruct(z)
            loss = self._objective(y, z, dz).mean()
            r = dz - y
            g_w = (self.lam / y.shape[0]) * F.conv2d(z.transpose(0, 1), r.transpose(0, 1)).flip(-1, -2)
            all_reduce_mean([g_w])
        optimizer.zero_grad(set_to_none=True)
        self.weight.grad = g_w
        optimizer.step()
        self.normalize_filters()
        return loss

    @torch.no_grad()
    def metrics(self, batch: Any) -> dict[str, float]:
        """Once an epoch: mean objective, reconstruction MSE per pixel, fraction of nonzero z."""
        y = self._input(batch, check=False)
        z = self._infer(y, self.method, self.n_iter, self.tol)
        dz = self._reconstruct(z)
        return {"objective": float(self._objective(y, z, dz).mean()),
                "reconstruction_mse": float((dz - y).pow(2).mean()),
                "sparsity": float((z != 0).to(torch.float32).mean())}

    # ---- bookkeeping -------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable): ``ConvSparseCoding(**m.config())`` rebuilds it."""
        return {"in_channels": self.in_channels, "n_filters": self.n_filters,
                "kernel_size": self.kernel_size, "lam": self.lam, "method": self.method,
                "n_iter": self.n_iter, "tol": self.tol, "step": self.step,
                "power_iter": self.power_iter}

    def extra_repr(self) -> str:
        cfg = self.config()
        parts = [str(self.in_channels), str(self.n_filters), f"kernel_size={self.kernel_size}",
                 f"lam={self.lam}"]
        defaults = {"method": "fista", "n_iter": 100, "tol": 1e-4, "step": None, "power_iter": 100}
        parts += [f"{k}={cfg[k]}" for k, d in defaults.items() if cfg[k] != d]
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"ConvSparseCoding({self.extra_repr()})"


def _pair(name: str, value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return check_int(name, value[0], 1), check_int(name, value[1], 1)
    v = check_int(name, value, 1)
    return v, v

