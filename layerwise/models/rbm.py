"""Restricted Boltzmann machines: Bernoulli, spin (+-1) and Gaussian units; CD-k and PCD.

Energy, with ``s(v) = v`` for binary visible units and ``s(v) = v / sigma`` for Gaussian ones::

    E(v, h) = V(v) - h^T W s(v) - c^T h,
    V(v) = -b^T v                             (binary visible units)
    V(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2)  (Gaussian visible units)

``weight`` W has shape (n_hidden, n_visible), as ``nn.Linear``; ``visible_bias`` b,
``hidden_bias`` c. Summing the hidden units out gives the free energy::

    F(v) = -log sum_h exp(-E(v, h)) = V(v) - sum_j log sum_{h_j} exp(h_j a_j),  a = c + W s(v)

(``softplus(a_j)`` for Bernoulli hidden units, ``log(2 cosh a_j)`` for spin units). The
log-likelihood gradient is ``<v h>_data - <v h>_model`` (Hinton 2002); the model term comes
from k steps of block Gibbs sampling started at the data (CD-k, Hinton 2002) or from
persistent chains (PCD, Tieleman 2008). ``training_loss`` is the surrogate
``mean F(v_data) - mean F(v_model)`` whose gradient (the chains held fixed) is exactly that
rule; ``training_step`` applies the same gradient in closed form, 5 matrix products per CD-1
batch instead of autograd's 9, then lets the optimiser (momentum, weight decay on W only,
learning-rate schedule) take the step.

References: Hinton (2002), "Training products of experts by minimizing contrastive
divergence"; Tieleman (2008), "Training restricted Boltzmann machines using approximations to
the likelihood gradient"; Hinton (2010), "A practical guide to training restricted Boltzmann
machines"; Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks".
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import partition
from .._validation import check_int, check_memory, check_real, check_rows, check_tensor, tensor_bytes
from ..optim import outer_product_step
from ..training import all_reduce_mean
from ..units import Units, get_units, hidden_names, visible_names

__all__ = ["RBM"]


class RBM(nn.Module):
    r"""A restricted Boltzmann machine.

    Parameters
    ----------
    n_visible, n_hidden : int
        Layer sizes.
    visible : {"bernoulli", "spin", "gaussian"}
        Visible unit type; Bernoulli data may be binary or probabilities in [0, 1].
    hidden : {"bernoulli", "spin"}
        Hidden unit type.
    k : int
        Gibbs steps of the negative phase (CD-k, or per update for PCD).
    persistent : bool
        PCD: keep ``n_chains`` fantasy particles across updates (a buffer, saved in
        checkpoints) instead of restarting at the data.
    n_chains : int
        Number of persistent chains (independent of the batch size).
    sigma : float
        Standard deviation of Gaussian visible units (all units); ignored otherwise.
    learn_sigma : bool
        Learn ``log_sigma`` per visible unit (Gaussian only; uses autograd for the update).
    sparsity_target, sparsity_weight : float
        Penalty ``sparsity_weight / 2 * sum_j (q_j - sparsity_target)^2`` on the batch-mean
        hidden activations ``q_j`` (Lee, Ekanadham & Ng 2008); off when the weight is 0.
    sample_reconstruction : bool
        CD only: sample the last visible reconstruction instead of using its mean (Hinton's
        guide recommends the mean for Bernoulli units, which has less sampling noise).
    device, dtype : optional
        As for ``nn.Linear``.

    Examples
    --------
    >>> rbm = RBM(784, 500, k=1)
    >>> rbm
    RBM(784, 500)
    >>> RBM(6, 4, visible="gaussian", persistent=True, n_chains=10)
    RBM(6, 4, visible=gaussian, persistent=True, n_chains=10)
    """

    #: What layerwise.fit watches for its divergence warning: the loss is a noisy surrogate, not an objective.
    monitored_metric = "reconstruction_error"

    propagate = "mean"

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible: str = "bernoulli",
        hidden: str = "bernoulli",
        *,
        k: int = 1,
        persistent: bool = False,
        n_chains: int = 100,
        sigma: float = 1.0,
        learn_sigma: bool = False,
        sparsity_target: float = 0.1,
        sparsity_weight: float = 0.0,
        sample_reconstruction: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.n_visible = check_int("n_visible", n_visible, 1)
        self.n_hidden = check_int("n_hidden", n_hidden, 1)
        self.visible: Units = get_units(visible, visible_names(), "visible")
        self.hidden: Units = get_units(hidden, hidden_names(), "hidden")
        self.k = check_int("k", k, 1)
        self.persistent = bool(persistent)
        self.n_chains = check_int("n_chains", n_chains, 1)
        self.sigma_init = check_real("sigma", sigma, 0.0, low_open=True)
        self.learn_sigma = bool(learn_sigma)
        if self.learn_sigma and not self.visible.has_sigma:
            raise ValueError(f"learn_sigma=True needs visible='gaussian'. Got visible={self.visible.name!r} instead.")
        self.sparsity_target = check_real("sparsity_target", sparsity_target, 0.0, 1.0, low_open=True, high_open=True)
        self.sparsity_weight = check_real("sparsity_weight", sparsity_weight, 0.0)
        self.sample_reconstruction = bool(sample_reconstruction)
        n_params = self.n_hidden * self.n_visible + 2 * self.n_visible + self.n_hidden
        check_memory(f"RBM({self.n_visible}, {self.n_hidden}) parameters",
                     tensor_bytes(n_params + self.persistent * self.n_chains * self.n_visible, dtype))
        fk = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(self.n_hidden, self.n_visible, **fk))
        self.visible_bias = nn.Parameter(torch.empty(self.n_visible, **fk))
        self.hidden_bias = nn.Parameter(torch.empty(self.n_hidden, **fk))
        # log sigma per visible unit, for units with a scale (Gaussian); None for binary units
        log_sigma = torch.empty(self.n_visible, **fk) if self.visible.has_sigma else None
        if self.learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)
        if self.persistent:
            self.register_buffer("chains", torch.empty(self.n_chains, self.n_visible, **fk))
        else:
            self.register_buffer("chains", None)
        self.reset_parameters()

    # ---- parameters -------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Hinton's practical guide (2010), section 8: W ~ N(0, 0.01^2), biases 0; Gaussian
        sigma as given; PCD chains start as uniform random states (0.5 probabilities)."""
        with torch.no_grad():
            nn.init.normal_(self.weight, 0.0, 0.01)
            nn.init.zeros_(self.visible_bias)
            nn.init.zeros_(self.hidden_bias)
            self.visible.init_log_sigma(self.log_sigma, self.sigma_init)
            if self.chains is not None:
                self.chains.copy_(self._random_visible(self.n_chains))

    def _random_visible(self, n: int) -> Tensor:
        """n samples of the visible units from the base-rate model p(v) ~ exp(-V(v)) (no hidden units)."""
        a = self.visible_bias.detach().expand(n, self.n_visible)
        return self.visible.sample(a.clone(), log_sigma=self.log_sigma)

    @torch.no_grad()
    def init_visible_bias(self, x: Tensor) -> "RBM":
        """Set the visible biases from data (Hinton's guide, section 8): ``b_i = log(p_i / (1 - p_i))``
        with ``p_i`` the fraction of training vectors in which unit i is on (Bernoulli;
        ``atanh`` of the mean for spin units); the data mean for Gaussian units. PCD chains
        restart from the resulting base-rate model."""
        x = self.validate_data(x)
        self.visible_bias.copy_(self.visible.bias_from_mean(x.to(self.weight).mean(0)))
        if self.chains is not None:
            self.chains.copy_(self._random_visible(self.n_chains))
        return self

    def init_from_data(self, x: Tensor) -> "RBM":
        """Hook of :func:`layerwise.pretrain`: :meth:`init_visible_bias`."""
        return self.init_visible_bias(x)

    @property
    def sigma(self) -> Tensor:
        """Per-unit standard deviations of Gaussian visible units (ones for binary units)."""
        return self.visible.sigma(self.log_sigma, self.visible_bias)

    # ---- the maths: one method per formula ---------------------------------------------------

    def _stat(self, v: Tensor) -> Tensor:
        """s(v): v for binary visible units, v / sigma for Gaussian ones."""
        return self.visible.statistic(v, self.log_sigma)

    def hidden_input(self, v: Tensor) -> Tensor:
        """a = c + W s(v), shape (B, n_hidden)."""
        return F.linear(self._stat(v), self.weight, self.hidden_bias)

    def visible_term(self, v: Tensor) -> Tensor:
        """V(v): ``-b^T v`` (binary) or ``sum_i (v_i - b_i)^2 / (2 sigma_i^2)`` (Gaussian), shape (B,)."""
        return self.visible.visible_term(v, self.visible_bias, self.log_sigma)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """E(v, h) = V(v) - h^T W s(v) - c^T h, shape (B,). ``v`` and ``h`` are checked."""
        v, h = self._visible_rows(v), self._hidden_rows(h)
        if h.shape[0] != v.shape[0]:
            raise ValueError(f"'h' has {h.shape[0]} rows, but 'v' has {v.shape[0]}; give one hidden state per row.")
        return self.visible_term(v) - (h * self.hidden_input(v)).sum(1)

    def free_energy(self, v: Tensor) -> Tensor:
        """F(v) = -log sum_h exp(-E(v, h)) = V(v) - sum_j log sum_{h_j} exp(h_j a_j(v)), shape (B,).

        ``v`` is checked (:meth:`validate_data`'s rules); the unchecked formula is ``_free_energy``."""
        return self._free_energy(self._visible_rows(v))

    def _free_energy(self, v: Tensor) -> Tensor:
        return self.visible_term(v) - self.hidden.log_partition(self.hidden_input(v)).sum(1)

    def _free_energy_from_input(self, v: Tensor, a: Tensor) -> Tensor:
        return self.visible_term(v) - self.hidden.log_partition(a).sum(1)

    def hidden_probs(self, v: Tensor) -> Tensor:
        """E[h | v]: p(h_j = 1 | v) = sigmoid(a_j) for Bernoulli units (tanh(a_j) for spin units).
        ``v`` is checked."""
        return self._hidden_probs(self._visible_rows(v))

    def _hidden_probs(self, v: Tensor) -> Tensor:
        return self.hidden.mean(self.hidden_input(v))

    def sample_hidden(self, v: Tensor) -> Tensor:
        """h ~ p(h | v), the hidden units independent given v. ``v`` is checked."""
        return self._sample_hidden(self._visible_rows(v))

    def _sample_hidden(self, v: Tensor) -> Tensor:
        return self.hidden.sample(self.hidden_input(v))

    def visible_input(self, h: Tensor) -> Tensor:
        """b + W^T h for binary visible units; for Gaussian ones the mean b + sigma * (W^T h)."""
        return self.visible.visible_input(h, self.weight, self.visible_bias, self.log_sigma)

    def visible_mean(self, h: Tensor) -> Tensor:
        """E[v | h]: sigmoid(b + W^T h) (Bernoulli), tanh (spin), b + sigma W^T h (Gaussian).
        ``h`` is checked (width ``n_hidden``, finite, in the hidden units' range)."""
        return self._visible_mean(self._hidden_rows(h))

    def _visible_mean(self, h: Tensor) -> Tensor:
        return self.visible.mean(self.visible_input(h))

    def sample_visible(self, h: Tensor) -> Tensor:
        """v ~ p(v | h): Bernoulli / spin samples, or N(b + sigma W^T h, sigma^2) for Gaussian units.
        ``h`` is checked."""
        return self._sample_visible(self._hidden_rows(h))

    def _sample_visible(self, h: Tensor) -> Tensor:
        return self.visible.sample(self.visible_input(h), log_sigma=self.log_sigma)

    def gibbs(self, v: Tensor, steps: int = 1) -> Tensor:
        """``steps`` sweeps of block Gibbs sampling v -> h -> v, returning the last visible sample."""
        steps = check_int("steps", steps, 0)
        v = self._visible_rows(v)
        for _ in range(steps):
            v = self._sample_visible(self._sample_hidden(v))
        return v

    @torch.no_grad()
    def reconstruct(self, v: Tensor) -> Tensor:
        """Mean-field reconstruction E[v | h = E[h | v]]."""
        return self._visible_mean(self._hidden_probs(self._visible_rows(v)))

    @torch.no_grad()
    def transform(self, v: Tensor) -> Tensor:
        """Features E[h | v] (the codes greedy pre-training passes up)."""
        return self._hidden_probs(self._visible_rows(v))

    @torch.no_grad()
    def sample_code(self, v: Tensor) -> Tensor:
        """A sample h ~ p(h | v), for stacking on samples instead of means."""
        return self._sample_hidden(self._visible_rows(v))

    def encoder(self) -> nn.Sequential:
        """The recognition map v -> E[h | v] as ``nn.Sequential`` sharing this RBM's parameters."""
        lin = nn.Linear(self.n_visible, self.n_hidden, device=self.weight.device, dtype=self.weight.dtype)
        lin.weight = self.weight
        lin.bias = self.hidden_bias
        return nn.Sequential(*self.visible.encoder_input(self.log_sigma), lin, self.hidden.activation_module())

    def _input(self, v: Any) -> Tensor:
        """A batch already validated (by ``fit``): its X on the model's device and dtype, as rows."""
        if isinstance(v, (tuple, list)):
            v = v[0]
        v = torch.as_tensor(v)
        return v.to(self.weight.device, self.weight.dtype).reshape(v.shape[0], -1)

    def _visible_rows(self, v: Any, name: str = "v") -> Tensor:
        """The input of a public method: rows (or images, flattened) of ``n_visible`` finite values in
        the visible units' range, on the model's device and dtype."""
        t = check_rows(name, v, self.n_visible, flatten=True)
        self.visible.check_data(t, name)
        return t.to(self.weight.device, self.weight.dtype)

    def _hidden_rows(self, h: Any, name: str = "h") -> Tensor:
        """Hidden states or probabilities given to a public method, checked like :meth:`_visible_rows`."""
        t = check_rows(name, h, self.n_hidden)
        self.hidden.check_data(t, name, layer="hidden")
        return t.to(self.weight.device, self.weight.dtype)

    def _check_sample_memory(self, n: int, snapshots: int) -> None:
        """Refuse ``n`` chains (plus ``snapshots`` saved copies) that cannot fit in memory."""
        per_chain = 4 * self.n_visible + 2 * self.n_hidden + snapshots * self.n_visible  # v, h, means, clamps
        check_memory(f"{n} chains of {type(self).__name__}({self.n_visible}, {self.n_hidden})",
                     tensor_bytes(n * per_chain, self.weight.dtype))

    # ---- sampling and inference ----------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, steps: int = 1000, init: Tensor | None = None, *,
               clamp: Tensor | None = None, every: int | None = None) -> Tensor:
        """Run ``n`` Gibbs chains for ``steps`` sweeps and return their visible states.

        Parameters
        ----------
        n : int
            Number of chains (ignored when ``init`` is given: one chain per row).
        steps : int
            Gibbs sweeps.
        init : tensor (n, n_visible), optional
            Starting states; default random states from the base-rate model.
        clamp : bool tensor (n_visible,) or (n, n_visible), optional
            Units held at their ``init`` values (conditional sampling: infer the rest).
        every : int, optional
            Also return the chain every ``every`` sweeps: a tensor (T, n, n_visible) of
            snapshots (for pictures of the chain's evolution).

        Returns
        -------
        Tensor (n, n_visible) of the last states as visible means given the last hidden
        sample (less noisy to look at), or (T, n, n_visible) with ``every``.
        """
        steps = check_int("steps", steps, 0)
        every = check_int("every", every, 1) if every else None
        n_snaps = steps // every if every else 0
        if init is None:  # start from the base-rate model p(v) ~ exp(-V(v))
            n = check_int("n", n, 1)
            self._check_sample_memory(n, n_snaps)
            v = self._random_visible(n)
        else:
            v = self._visible_rows(init, "init").clone()
            self._check_sample_memory(v.shape[0], n_snaps)
        keep = None
        if clamp is not None:
            keep = torch.as_tensor(clamp, dtype=torch.bool, device=v.device).expand_as(v)
            fixed = v.clone()
        snaps = []
        for t in range(steps):
            h = self._sample_hidden(v)
            v = self._sample_visible(h)
            if keep is not None:
                v = torch.where(keep, fixed, v)
            if every and (t + 1) % every == 0:
                snaps.append(self._visible_mean(h) if keep is None else torch.where(keep, fixed, self._visible_mean(h)))
        if every:
            return torch.stack(snaps) if snaps else v.unsqueeze(0)
        if steps == 0:
            return v
        out = self._visible_mean(h)
        return out if keep is None else torch.where(keep, fixed, out)

    @torch.no_grad()
    def infer(self, v: Tensor, known: Tensor, steps: int = 200, burn_in: int = 50) -> Tensor:
        """Conditional inference: clamp the ``known`` visible units of ``v`` and estimate the
        probabilities (means) of the others, averaging E[v | h] over Gibbs sweeps after ``burn_in``.

        ``known`` is a bool mask of shape (n_visible,) or like ``v``; returns a tensor like ``v``
        with the known units unchanged.
        """
        v = self._visible_rows(v).clone()
        keep = torch.as_tensor(known, dtype=torch.bool, device=v.device).expand_as(v)
        fixed = v.clone()
        v = torch.where(keep, fixed, self.visible.mean(torch.zeros_like(v)))  # unknown units start at mean(0)
        total = torch.zeros_like(v)
        count = 0
        for t in range(check_int("steps", steps, 1)):
            h = self._sample_hidden(v)
            mean = self._visible_mean(h)
            v = torch.where(keep, fixed, self._sample_visible(h))
            if t >= burn_in:
                total += mean
                count += 1
        est = total / max(count, 1) if count else mean
        return torch.where(keep, fixed, est)

    @torch.no_grad()
    def recommend(self, liked: Sequence[int] | Tensor, top_k: int = 5, *, steps: int = 200,
                  names: Sequence[str] | None = None) -> list:
        """Top-down: given the visible units a person liked (indices), which others would they like?

        The liked units are clamped on and every other unit is inferred (``infer``); the
        ``top_k`` units with the highest probability among those not liked are returned, as
        ``(index, probability)`` pairs, or ``(name, probability)`` when ``names`` are given.
        """
        liked = [int(i) for i in torch.as_tensor(liked).reshape(-1).tolist()]
        for i in liked:
            if not 0 <= i < self.n_visible:
                raise ValueError(f"'liked' holds index {i}; expected indices in [0, {self.n_visible}).")
        v = torch.zeros(1, self.n_visible, device=self.weight.device, dtype=self.weight.dtype)
        mask = torch.zeros(self.n_visible, dtype=torch.bool)
        v[0, liked] = 1.0
        mask[liked] = True
        p = self.infer(v, mask, steps=steps)[0].cpu()
        p[mask] = -1.0
        order = p.argsort(descending=True)[: check_int("top_k", top_k, 1)]
        return [((names[i] if names is not None else int(i)), float(p[i])) for i in order]

    @torch.no_grad()
    def explain(self, v: Tensor | Sequence[int] | None = None, top_units: int = 3, top_visible: int = 5,
                names: Sequence[str] | None = None) -> list[dict]:
        """Bottom-up: which hidden units fire for ``v``, and which visible units each stands for.

        ``v`` is a visible vector, or a list of indices of units that are on (a person's liked
        films). Returns one dict per hidden unit, most active first: ``unit``, ``probability``
        p(h_j = 1 | v) and ``visible``, the ``top_visible`` visible units with the largest
        weights to it (by name when ``names`` are given). With ``v=None`` the hidden units are
        described by their weights alone, ordered by unit index.
        """
        if v is None:
            units = list(range(self.n_hidden))
            probs = [float("nan")] * self.n_hidden
        else:
            t = torch.as_tensor(v)
            if t.dtype in (torch.int32, torch.int64) and (t.dim() == 1 and t.numel() != self.n_visible):
                vec = torch.zeros(self.n_visible)
                vec[t] = 1.0
                t = vec
            p = self.hidden_probs(t.reshape(1, -1))[0].cpu()
            order = p.argsort(descending=True)[: check_int("top_units", top_units, 1)]
            units = order.tolist()
            probs = [float(p[j]) for j in units]
        out = []
        w = self.weight.detach().cpu()
        for j, pj in zip(units, probs):
            top = w[j].argsort(descending=True)[:top_visible].tolist()
            out.append({"unit": j, "probability": pj,
                        "visible": [names[i] if names is not None else i for i in top]})
        return out

    # ---- training ------------------------------------------------------------------------------

    def validate_data(self, x: Any) -> Tensor:
        """2-d, ``n_visible`` features, finite, non-empty, and in the visible units' range."""
        if isinstance(x, (tuple, list)):
            x = x[0]
        t = check_tensor("data", x, ndim=2, n_features=self.n_visible)
        self.visible.check_data(t)
        return t

    @torch.no_grad()
    def negative_phase(self, v0: Tensor, a0: Tensor | None = None, h0: Tensor | None = None) -> Tensor:
        """Samples of the model term: k Gibbs sweeps from the data (CD-k) or from the persistent
        chains (PCD, which are advanced in place). ``a0`` (the data's hidden input) saves a
        matrix product in CD, ``h0 = E[h | v0]`` a pass of the activation. Returns the visible
        states, detached."""
        return self._negative_phase(v0, a0, h0)

    def _negative_phase(self, v0: Tensor, a0: Tensor | None = None, h0: Tensor | None = None) -> Tensor:
        # the body of negative_phase, for callers already under no_grad (the training step)
        if self.persistent:
            v = self.chains
            for _ in range(self.k):
                v = self._sample_visible(self._sample_hidden(v))
            self.chains.copy_(v)
            return v.clone()
        a = self.hidden_input(v0) if a0 is None else a0
        v = v0
        for step in range(self.k):
            if step > 0:
                a = self.hidden_input(v)
            h = self.hidden.sample_from_mean(h0) if step == 0 and h0 is not None else self.hidden.sample(a)
            last = step == self.k - 1
            if last and not self.sample_reconstruction and self.visible.mean_reconstruction:
                v = self._visible_mean(h)
            else:
                v = self._sample_visible(h)
        return v

    def _sparsity_penalty(self, q: Tensor) -> Tensor:
        return self.sparsity_weight / 2 * ((q - self.sparsity_target) ** 2).sum()

    def training_loss(self, batch: Any) -> Tensor:
        """The CD/PCD surrogate ``mean F(v_data) - mean F(v_model)`` (+ the sparsity penalty),
        whose gradient with the chains held fixed is ``-(<v h>_data - <v h>_model)``."""
        v0 = self._input(batch)
        v_neg = self.negative_phase(v0)
        loss = self._free_energy(v0).mean() - self._free_energy(v_neg).mean()
        if self.sparsity_weight > 0:
            loss = loss + self._sparsity_penalty(self._hidden_probs(v0).mean(0))
        return loss

    @torch.no_grad()
    def gradient_terms(self, batch: Any) -> tuple[list[tuple[float, Tensor, Tensor]], list[Tensor], Tensor]:
        """The closed-form CD-k / PCD gradient of :meth:`training_loss` (to be descended).

        ::

            dW = -(E[h|v0] s(v0)^T / B - E[h|v-] s(v-)^T / B-)
            dc = -(mean E[h|v0] - mean E[h|v-])
            db = -(mean v0 - mean v-)                      (binary visible units)
            db = -(mean (v0 - b)/sigma^2 - mean (v- - b)/sigma^2)   (Gaussian)

        (plus the sparsity penalty's terms). 5 matrix products per CD-1 batch: ``dW`` is returned
        as ``(coef, left, right)`` terms, ``dW = sum coef * left^T @ right``, for
        :func:`layerwise.optim.outer_product_step`.

        Returns
        -------
        (terms, [db, dc], loss) with the surrogate loss computed from the products already made.
        """
        return self._gradient_terms(self._input(batch))

    def _gradient_terms(self, v0: Tensor, with_loss: bool = True):
        # The body of gradient_terms, for callers under no_grad: the hot path of a small batch,
        # where the time goes to per-call overhead more than to arithmetic (attributes read once).
        # with_loss=False: loss None (a third of a CD-1 step of batch 10; the update is the same).
        log_sigma, hidden, visible = self.log_sigma, self.hidden, self.visible
        a0 = self.hidden_input(v0)                       # 1
        h0 = hidden.mean(a0)
        v_neg = self._negative_phase(v0, a0, h0)         # 2 (CD-1)
        a_neg = self.hidden_input(v_neg)                 # 3
        h_neg = hidden.mean(a_neg)
        s0, s_neg = visible.statistic(v0, log_sigma), visible.statistic(v_neg, log_sigma)
        n0, n_neg = v0.shape[0], v_neg.shape[0]
        g_c = h_neg.mean(0) - h0.mean(0)
        # d/db and value of mean V(v0) - mean V(v-)
        g_b, visible_gap = visible.contrast(v0, v_neg, self.visible_bias, log_sigma, with_loss)
        loss = None
        if with_loss:
            hidden_lp = hidden.log_partition(a0).sum(1).mean() - hidden.log_partition(a_neg).sum(1).mean()
            loss = visible_gap - hidden_lp
        terms = [(1.0 / n_neg, h_neg, s_neg), (-1.0 / n0, h0, s0)]   # 4, 5 (made by the optimiser step)
        if self.sparsity_weight > 0:
            q = h0.mean(0)
            err = self.sparsity_weight * (q - self.sparsity_target)  # d penalty / d q
            dmean = hidden.mean_derivative(h0)                     # d E[h|v] / d a, (B, H)
            g_c = g_c + err * dmean.mean(0)
            terms.append((1.0 / n0, err * dmean, s0))
            if with_loss:
                loss = loss + self._sparsity_penalty(q)
        return terms, [g_b, g_c], loss

    def training_step(self, batch: Any, optimizer: torch.optim.Optimizer, with_loss: bool = True) -> Tensor | None:
        """One CD-k / PCD update: the closed-form gradient (:meth:`gradient_terms`), then the
        optimiser's step (:func:`layerwise.optim.outer_product_step`: momentum, weight decay on W
        only, learning-rate schedule as configured in :func:`layerwise.fit`).

        With ``learn_sigma`` the step goes through autograd on :meth:`training_loss` instead.
        Returns the surrogate loss; None with ``with_loss=False`` (``fit(track_loss=False)``),
        which skips computing it (the same update, a third less time per CD-1 batch of 10).
        """
        if self.learn_sigma:
            optimizer.zero_grad(set_to_none=True)
            loss = self.training_loss(batch)
            loss.backward()
            all_reduce_mean([p.grad for p in self.parameters() if p.grad is not None])
            optimizer.step()
            return loss.detach()
        with torch.no_grad():  # one context for the whole step (the parts have none of their own)
            terms, grads, loss = self._gradient_terms(self._input(batch), with_loss)
            outer_product_step(optimizer, [self.weight, self.visible_bias, self.hidden_bias], terms, grads)
        return loss

    @torch.no_grad()
    def metrics(self, batch: Any) -> dict[str, float]:
        """Once an epoch: squared reconstruction error per sample, mean free energy, and (binary
        visible units) the one-random-bit pseudo-log-likelihood estimate (as scikit-learn's)."""
        v = self._input(batch)
        recon = self._visible_mean(self._hidden_probs(v))
        out = {"reconstruction_error": float(((v - recon) ** 2).sum(1).mean()),
               "free_energy": float(self._free_energy(v).mean())}
        if self.visible.states is not None:
            # the batch was checked by its maker (fit, or layerwise.sklearn with strict=False)
            pll = partition.pseudo_log_likelihood(self, v, exact=False, checked=False)
            out["pseudo_log_likelihood"] = float(pll.mean())
        return out

    # ---- likelihoods (layerwise.partition) -----------------------------------------------------

    def log_partition(self, method: str = "exact", **options: Any) -> float:
        """log Z: ``method="exact"`` (sum over the smaller layer) or ``"ais"`` (annealed
        importance sampling, Salakhutdinov & Murray 2008). See :mod:`layerwise.partition`."""
        return partition.log_partition(self, method=method, **options)

    def log_likelihood(self, v: Tensor, method: str = "exact", log_z: float | None = None, **options: Any) -> Tensor:
        """log p(v) = -F(v) - log Z per row, with log Z by ``method`` unless given."""
        return partition.log_likelihood(self, v, method=method, log_z=log_z, **options)

    def pseudo_log_likelihood(self, v: Tensor, exact: bool = True, generator: torch.Generator | None = None) -> Tensor:
        """sum_i log p(v_i | v_-i) per row (``exact``), or n_visible times one random bit's term."""
        return partition.pseudo_log_likelihood(self, v, exact=exact, generator=generator)

    # ---- bookkeeping -------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "visible": self.visible.name,
                "hidden": self.hidden.name, "k": self.k, "persistent": self.persistent,
                "n_chains": self.n_chains, "sigma": self.sigma_init, "learn_sigma": self.learn_sigma,
                "sparsity_target": self.sparsity_target, "sparsity_weight": self.sparsity_weight,
                "sample_reconstruction": self.sample_reconstruction}

    def extra_repr(self) -> str:
        defaults = {"visible": "bernoulli", "hidden": "bernoulli", "k": 1, "persistent": False,
                    "n_chains": 100, "sigma": 1.0, "learn_sigma": False, "sparsity_target": 0.1,
                    "sparsity_weight": 0.0, "sample_reconstruction": False}
        cfg = self.config()
        parts = [str(self.n_visible), str(self.n_hidden)]
        for key, default in defaults.items():
            if key == "n_chains" and not self.persistent:
                continue
            if cfg[key] != default:
                parts.append(f"{key}={cfg[key]}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"RBM({self.extra_repr()})"
