r"""Deep Boltzmann machines with binary {0, 1} units (Salakhutdinov & Hinton 2009).

A DBM over layers ``x_0 = v, x_1 = h^1, ..., x_L = h^L`` (L >= 2) is an undirected model with
connections between adjacent layers only::

    E(x_0, ..., x_L) = - sum_{l=0}^{L} b_l^T x_l - sum_{l=1}^{L} x_l^T W_l x_{l-1},
    p(x_0, ..., x_L) = exp(-E) / Z,

``W_l`` of shape ``(n_l, n_{l-1})`` as ``nn.Linear`` (out = the layer above, in = the layer
below). Every layer is conditionally independent of the others given its two neighbours::

    p(x_l = 1 | x_{l-1}, x_{l+1}) = sigmoid(W_l x_{l-1} + W_{l+1}^T x_{l+1} + b_l)

(the missing term dropped at the bottom and the top), so the odd layers given the even ones
and the even given the odd can each be sampled in one block: a Gibbs sweep is two blocks.

Learning follows the log-likelihood gradient ``<x_l x_{l-1}^T>_data - <x_l x_{l-1}^T>_model``:
the data term with the fully factorised mean-field posterior ``q(h | v)`` (the fixed point of
``mu_l = sigmoid(W_l mu_{l-1} + W_{l+1}^T mu_{l+1} + b_l)``, v clamped), the model term from
persistent Gibbs chains (Tieleman 2008). Greedy pre-training of a stack of RBMs with doubled
inputs gives the starting point. ``log p(v)`` is bounded below by the variational bound
``-E_q[E(v, h)] + H(q) - log Z`` with ``log Z`` exact (tiny models) or by annealed
importance sampling.

References
----------
Salakhutdinov & Hinton (2009), "Deep Boltzmann machines", AISTATS.
Salakhutdinov & Hinton (2012), "An efficient learning procedure for deep Boltzmann machines",
Neural Computation 24.
Tieleman (2008), "Training restricted Boltzmann machines using approximations to the
likelihood gradient", ICML.
Neal (2001), "Annealed importance sampling"; Salakhutdinov & Murray (2008), "On the
quantitative analysis of deep belief networks", ICML.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._validation import (as_float_tensor, check_choice, check_int, check_memory, check_real, check_sizes, check_tensor,
                           check_finite, check_unit_interval, dense_stack_elements, tensor_bytes)
from ..functional import bernoulli_entropy, binary_states, sample_bernoulli
from ..partition import (FLOOR_CHECKS, AISResult, ais_betas, anneal, check_ais_result, check_betas,
                         in_float64, is_discrete, log_z_floor)
from ..pretraining import pretrain
from ..training import all_reduce_mean
from ..units import get_units
from .classifier import Classifier
from .dbm_parts import DBMPath, ScaledRBM

__all__ = ["DBM"]

#: Default largest number of states :meth:`DBM.log_partition` enumerates with ``method="exact"``.
MAX_EXACT_STATES = 2**25

_BERNOULLI = get_units("bernoulli")


class DBM(nn.Module):
    r"""A deep Boltzmann machine with binary {0, 1} units.

    Parameters
    ----------
    sizes : list of int
        ``[n_visible, n_1, ..., n_L]`` with L >= 2 hidden layers. One hidden layer is refused:
        that model is an RBM (``layerwise.RBM(n_visible, n_hidden, persistent=True)``).
    n_chains : int
        Persistent Gibbs chains ("fantasy particles") of the model term, independent of the
        batch size; a state of every layer, kept as buffers ``chain0 .. chainL`` (saved in
        checkpoints, moved by ``.to()``).
    mf_steps : int
        Most mean-field sweeps per inference (0: the recognition pass alone).
    mf_tol : float
        Mean-field stops once no posterior mean changes by more than this in a sweep.
    damping : float in [0, 1)
        ``mu <- damping * mu_old + (1 - damping) * mu_new`` in the mean-field updates.
    k : int
        Gibbs sweeps of the persistent chains per parameter update.
    device, dtype : optional
        As for ``nn.Linear``.

    Attributes
    ----------
    weights : nn.ParameterList
        ``weights[l - 1]`` is ``W_l``, shape ``(sizes[l], sizes[l - 1])``.
    biases : nn.ParameterList
        ``biases[l]`` is ``b_l``, shape ``(sizes[l],)``; ``biases[0]`` the visible biases.

    Notes
    -----
    A state of the whole network is a list ``[x_0, x_1, ..., x_L]`` of ``(B, sizes[l])``
    tensors. Training goes through :func:`layerwise.fit` (``training_step``); the loss shown
    there is the surrogate ``mean E(v, mu) - mean E(chains)`` (see :meth:`training_step`).

    Examples
    --------
    >>> DBM([784, 500, 1000])
    DBM([784, 500, 1000])
    """

    #: Nothing for layerwise.fit's divergence warning to watch: the loss is a PCD surrogate, and the
    #: mean-field reconstruction error rises in sound joint training after the greedy pre-training.
    monitored_metric = None

    def __init__(
        self,
        sizes: Sequence[int],
        n_chains: int = 100,
        mf_steps: int = 10,
        mf_tol: float = 1e-5,
        damping: float = 0.0,
        k: int = 1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.sizes = check_sizes("sizes", sizes, 3, (784, 500, 1000),
                                 " A DBM with one hidden layer is an RBM: use "
                                 "layerwise.RBM(n_visible, n_hidden, persistent=True).")
        self.n_chains = check_int("n_chains", n_chains, 1)
        self.mf_steps = check_int("mf_steps", mf_steps, 0)
        self.mf_tol = check_real("mf_tol", mf_tol, 0.0)
        self.damping = check_real("damping", damping, 0.0, 1.0, high_open=True)
        self.k = check_int("k", k, 1)
        check_memory(f"DBM({self.sizes}, n_chains={self.n_chains}) parameters and chains",
                     tensor_bytes(dense_stack_elements(self.sizes) + self.n_chains * sum(self.sizes), dtype))
        fk = {"device": device, "dtype": dtype}
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.empty(n_out, n_in, **fk)) for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])])
        self.biases = nn.ParameterList([nn.Parameter(torch.empty(n, **fk)) for n in self.sizes])
        for l, n in enumerate(self.sizes):
            self.register_buffer(f"chain{l}", torch.empty(self.n_chains, n, **fk))
        self.reset_parameters()

    # ---- parameters -------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """W ~ N(0, 0.01^2), biases 0 (Hinton's practical guide, section 8); the persistent chains
        restart as uniform random binary states."""
        with torch.no_grad():
            for w in self.weights:
                nn.init.normal_(w, 0.0, 0.01)
            for b in self.biases:
                nn.init.zeros_(b)
            for x in self.chains:
                x.copy_(sample_bernoulli(torch.full_like(x, 0.5)))

    @property
    def n_layers(self) -> int:
        """L, the number of hidden layers."""
        return len(self.sizes) - 1

    @property
    def chains(self) -> list[Tensor]:
        """The persistent chains' states ``[x_0, ..., x_L]`` (the buffers themselves)."""
        return [getattr(self, f"chain{l}") for l in range(len(self.sizes))]

    def _like(self) -> Tensor:
        return self.weights[0]

    def _visible(self, v: Any) -> Tensor:
        """Data to the model's device and dtype, checked (2-d, sizes[0] features, in [0, 1])."""
        t = self.validate_data(v)
        w = self._like()
        return t.to(w.device, w.dtype)

    def _check_states(self, states: Sequence[Tensor], values: bool = True) -> list[Tensor]:
        """Shapes of one state per layer; with ``values`` also finite and in [0, 1] (binary states or
        their means), as :meth:`validate_data` checks the data."""
        states = list(states)
        if len(states) != len(self.sizes):
            raise ValueError(f"'states' must list {len(self.sizes)} tensors (one per layer, visible first); "
                             f"got {len(states)}.")
        if values:
            states = [as_float_tensor(f"states[{l}]", x) for l, x in enumerate(states)]
        for l, (x, n) in enumerate(zip(states, self.sizes)):
            if x.dim() != 2 or x.shape[1] != n or x.shape[0] != states[0].shape[0]:
                raise ValueError(f"'states[{l}]' must have shape (B, {n}) with the same B for every layer; "
                                 f"got {tuple(x.shape)}.")
            if values:
                check_unit_interval(f"states[{l}]", check_finite(f"states[{l}]", x), "a DBM's binary units")
        return states

    # ---- the maths: one method per formula ---------------------------------------------------

    def layer_input(self, states: Sequence[Tensor], l: int) -> Tensor:
        """a_l = W_l x_{l-1} + W_{l+1}^T x_{l+1} + b_l (terms beyond the bottom or top dropped), (B, n_l)."""
        a = self.biases[l]
        if l > 0:
            a = F.linear(states[l - 1], self.weights[l - 1], a)
        if l < self.n_layers:
            a = a + states[l + 1] @ self.weights[l]
        return a

    def conditional(self, states: Sequence[Tensor], l: int) -> Tensor:
        """p(x_l = 1 | x_{l-1}, x_{l+1}) = sigmoid(W_l x_{l-1} + W_{l+1}^T x_{l+1} + b_l), shape (B, n_l).
        ``states`` are checked (shapes, finite, in [0, 1])."""
        check_int("l", l, 0, self.n_layers)
        return torch.sigmoid(self.layer_input(self._check_states(states), l))

    def energy(self, states: Sequence[Tensor]) -> Tensor:
        """E(x_0, .., x_L) = -sum_l b_l^T x_l - sum_l x_l^T W_l x_{l-1}, shape (B,).

        Multilinear in the layers, so for a factorised q with means ``mu`` it is also
        ``E_q[E] = E(mu)``."""
        return self._energy(self._check_states(states))

    def _energy(self, states: list[Tensor]) -> Tensor:
        e = -sum(x @ b for x, b in zip(states, self.biases))
        for l in range(1, len(self.sizes)):
            e = e - (states[l] * F.linear(states[l - 1], self.weights[l - 1])).sum(1)
        return e

    @torch.no_grad()
    def gibbs(self, states: Sequence[Tensor], steps: int = 1, *, clamp_visible: bool = False,
              generator: torch.Generator | None = None) -> list[Tensor]:
        """``steps`` block Gibbs sweeps: the odd layers given the even ones, then the even given the odd.

        Returns a new list of states (the input is not changed). ``clamp_visible`` keeps x_0.
        """
        return self._gibbs(self._check_states(states), check_int("steps", steps, 0), clamp_visible, generator)

    def _gibbs(self, states: list[Tensor], steps: int, clamp_visible: bool = False,
               generator: torch.Generator | None = None) -> list[Tensor]:
        x = [s.clone() for s in states]
        for _ in range(steps):
            for parity in (1, 0):
                for l in range(parity, len(self.sizes), 2):
                    if l == 0 and clamp_visible:
                        continue
                    x[l] = sample_bernoulli(torch.sigmoid(self.layer_input(x, l)), generator)
        return x

    def random_states(self, n: int, generator: torch.Generator | None = None) -> list[Tensor]:
        """n uniform random binary states of every layer (the chains' starting point)."""
        w = self._like()
        return [sample_bernoulli(torch.full((check_int("n", n, 1), s), 0.5, device=w.device, dtype=w.dtype), generator)
                for s in self.sizes]

    @torch.no_grad()
    def sample(self, n: int, steps: int = 1000, *, generator: torch.Generator | None = None) -> Tensor:
        """Visible samples: ``n`` chains from uniform random states, ``steps`` Gibbs sweeps.

        Returns the visible means ``E[v | h^1] = sigmoid(W_1^T h^1 + b_0)`` given the last h^1
        sample (less noisy to look at, as :meth:`RBM.sample`), shape (n, sizes[0]); with
        ``steps=0`` the random visible states.
        """
        steps = check_int("steps", steps, 0)
        n = check_int("n", n, 1)
        check_memory(f"{n} chains of DBM({self.sizes})", tensor_bytes(3 * n * sum(self.sizes), self._like().dtype))
        x = self.random_states(n, generator)
        if steps == 0:
            return x[0]
        x = self._gibbs(x, steps, generator=generator)
        return self.conditional(x, 0)

    # ---- mean-field inference ----------------------------------------------------------------

    @torch.no_grad()
    def recognition(self, v: Tensor) -> list[Tensor]:
        """The bottom-up initialisation of mean-field: ``[v, mu_1, ..., mu_L]`` with

        ``mu_l = sigmoid(2 W_l mu_{l-1} + b_l)`` for ``l < L`` and ``mu_L = sigmoid(W_L mu_{L-1} + b_L)``:
        the weights doubled where the missing top-down input would come from (Salakhutdinov &
        Hinton 2009, section 3.1). ``v`` is checked (:meth:`validate_data`)."""
        return self._recognition(self._visible(v))

    def _recognition(self, v: Tensor) -> list[Tensor]:
        mu = [v]
        for l in range(1, len(self.sizes)):
            scale = 2.0 if l < self.n_layers else 1.0
            mu.append(torch.sigmoid(torch.addmm(self.biases[l], mu[-1], self.weights[l - 1].T, alpha=scale)))
        return mu

    @torch.no_grad()
    def mean_field(self, v: Any, steps: int | None = None, tol: float | None = None,
                   damping: float | None = None, *, return_steps: bool = False):
        r"""Mean-field posteriors q(h | v) = prod_l prod_j mu_{l,j}^{h} (1 - mu_{l,j})^{1-h}, v clamped.

        Starting from :meth:`recognition`, each sweep updates the odd hidden layers, then the
        even ones (each block exact given the other, so the variational bound cannot go down
        without damping)::

            mu_l <- damping * mu_l + (1 - damping) * sigmoid(W_l mu_{l-1} + W_{l+1}^T mu_{l+1} + b_l)

        until no mean changes by more than ``tol`` in a sweep (over the whole batch) or
        ``steps`` sweeps ran. Defaults: the model's ``mf_steps``, ``mf_tol``, ``damping``.

        Returns
        -------
        list ``[v, mu_1, ..., mu_L]`` of (B, sizes[l]) tensors; with ``return_steps`` also the
        number of sweeps run.
        """
        steps = self.mf_steps if steps is None else check_int("steps", steps, 0)
        tol = self.mf_tol if tol is None else check_real("tol", tol, 0.0)
        damping = self.damping if damping is None else check_real("damping", damping, 0.0, 1.0, high_open=True)
        mu, done = self._mean_field(self._visible(v), steps, tol, damping)
        return (mu, done) if return_steps else mu

    def _mean_field(self, v: Tensor, steps: int, tol: float, damping: float) -> tuple[list[Tensor], int]:
        """:meth:`mean_field` on a checked batch: (posteriors, sweeps run)."""
        mu = self._recognition(v)
        done = 0
        for _ in range(steps):
            change = []
            for parity in (1, 0):
                for l in range(parity or 2, len(self.sizes), 2):  # odd layers, then even hidden layers
                    new = torch.sigmoid(self.layer_input(mu, l))
                    if damping:
                        new = damping * mu[l] + (1.0 - damping) * new
                    change.append((new - mu[l]).abs().max())
                    mu[l] = new
            done += 1
            if float(torch.stack(change).max()) <= tol:  # one device sync per sweep
                break
        return mu, done

    @torch.no_grad()
    def transform(self, v: Any, layers: str = "top") -> Tensor:
        """Features: the mean-field posterior means of the top hidden layer (``layers="top"``),
        or of every hidden layer concatenated (``"all"``), shape (B, n_L) or (B, n_1 + ... + n_L)."""
        check_choice("layers", layers, ("top", "all"))
        mu = self.mean_field(v)
        return mu[-1] if layers == "top" else torch.cat(mu[1:], 1)

    def variational_free_energy(self, v: Any, mu: Sequence[Tensor] | None = None) -> Tensor:
        r"""E_q[E(v, h)] - H(q) per row, with q the mean-field posterior (computed unless ``mu`` is given).

        ``E_q[E] = E(v, mu)`` because E is linear in each layer and q factorises;
        ``H(q) = -sum_{l>=1} sum_j [mu log mu + (1 - mu) log(1 - mu)]``. ``log p(v) >= -this - log Z``.
        """
        mu = self.mean_field(v) if mu is None else self._check_states(mu)
        return self._energy(mu) - sum(bernoulli_entropy(m).sum(1) for m in mu[1:])

    @torch.no_grad()
    def lower_bound(self, v: Any, log_z: Any = None, **options: Any) -> Tensor:
        r"""The variational lower bound on log p(v) per row (Salakhutdinov & Hinton 2009, eq. 6)::

            log p(v) >= -E_q[E(v, h)] + H(q) - log Z

        with q the fully factorised mean-field posterior (:meth:`mean_field`).

        Parameters
        ----------
        v : tensor (B, sizes[0])
        log_z : float or AISResult, optional
            log Z; by default computed with :meth:`log_partition` (``options`` passed on, e.g.
            ``method="ais"``). An AIS estimate makes the result an estimate, not a strict bound;
            an :class:`~layerwise.partition.AISResult` counts as its ``log_z_checked`` (the floor
            when the estimate fell below it, so that the result is at least not too high from log Z).

        Returns
        -------
        Tensor (B,), float64.
        """
        if log_z is None:
            log_z = self.log_partition(**options)
        elif options:
            raise TypeError(f"Options {sorted(options)} are only used to compute log Z; 'log_z' was given.")
        log_z = check_real("log_z", log_z.log_z_checked if isinstance(log_z, AISResult) else float(log_z))
        x = self._visible(v)
        return -self.variational_free_energy(x).to(torch.float64) - log_z

    # ---- training ------------------------------------------------------------------------------

    def validate_data(self, x: Any) -> Tensor:
        """2-d, ``sizes[0]`` features, finite, non-empty, values in [0, 1] (binary or probabilities)."""
        if isinstance(x, (tuple, list)):
            x = x[0]
        t = check_tensor("data", x, ndim=2, n_features=self.sizes[0])
        return check_unit_interval("data", t, "a DBM's binary visible units")

    @torch.no_grad()
    def advance_chains(self) -> list[Tensor]:
        """k Gibbs sweeps of the persistent chains, written back to the buffers; returns their new states."""
        x = self._gibbs(self.chains, self.k)
        for buf, s in zip(self.chains, x):
            buf.copy_(s)
        return x

    @torch.no_grad()
    def gradients(self, data_states: Sequence[Tensor], model_states: Sequence[Tensor]) -> list[Tensor]:
        r"""The log-likelihood gradient estimate, weights first, then biases::

            dW_l = <x_l x_{l-1}^T>_data - <x_l x_{l-1}^T>_model,   db_l = <x_l>_data - <x_l>_model,

        averages over the rows of ``data_states`` (mean-field means, v clamped) and of
        ``model_states`` (chain samples). The direction of *ascent*."""
        return self._gradients(self._check_states(data_states), self._check_states(model_states))

    def _gradients(self, d: list[Tensor], m: list[Tensor]) -> list[Tensor]:
        nd, nm = d[0].shape[0], m[0].shape[0]
        gw = [d[l].T @ d[l - 1] / nd - m[l].T @ m[l - 1] / nm for l in range(1, len(self.sizes))]
        gb = [d[l].mean(0) - m[l].mean(0) for l in range(len(self.sizes))]
        return gw + gb

    def training_step(self, batch: Any, optimizer: torch.optim.Optimizer) -> Tensor:
        r"""One update (Salakhutdinov & Hinton 2009, Algorithm 1).

        1. Data term: ``mu = mean_field(v)``.
        2. Model term: the persistent chains advance ``k`` Gibbs sweeps.
        3. ``p.grad = -(<.>_data - <.>_model)`` for every W and b (:meth:`gradients`), then
           ``optimizer.step()`` (momentum, weight decay on W, schedules as configured in
           :func:`layerwise.fit`).

        Returns the surrogate ``mean E(v, mu) - mean E(chains)``: its gradient with mu and the
        chains held fixed is exactly the update's ``p.grad`` (it is not a likelihood; it goes
        to 0 as the data and model statistics agree in energy).
        """
        with torch.no_grad():
            v = self._visible(batch)
            mu, _ = self._mean_field(v, self.mf_steps, self.mf_tol, self.damping)
            x = self.advance_chains()
            grads = self._gradients(mu, x)
            loss = self._energy(mu).mean() - self._energy(x).mean()
            all_reduce_mean(grads)
        for p, g in zip([*self.weights, *self.biases], grads):
            p.grad = g.neg_()
        optimizer.step()
        return loss

    @torch.no_grad()
    def reconstruct(self, v: Any) -> Tensor:
        """Mean-field reconstruction sigmoid(W_1^T mu_1 + b_0) with mu the mean-field posterior of v."""
        mu = self.mean_field(v)
        return self.conditional(mu, 0)

    @torch.no_grad()
    def metrics(self, batch: Any) -> dict[str, float]:
        """Once an epoch: ``reconstruction_error`` (squared error per sample of :meth:`reconstruct`)
        and ``variational_free_energy`` (mean E_q[E] - H(q); the bound is minus it minus log Z)."""
        v = self._visible(batch)
        mu, _ = self._mean_field(v, self.mf_steps, self.mf_tol, self.damping)
        rec = self.conditional(mu, 0)
        return {"reconstruction_error": float(((v - rec) ** 2).sum(1).mean()),
                "variational_free_energy": float(self.variational_free_energy(v, mu).mean())}

    # ---- greedy pre-training -------------------------------------------------------------------

    def pretrain(self, data: Any, epochs: int | Sequence[int] = 10, batch_size: int | Sequence[int] = 64,
                 lr: float | Sequence[float] = 0.05, optimizer: str = "sgd", momentum: float = 0.5, *,
                 progress: bool = True, **fit_options: Any) -> "DBM":
        r"""Greedy layer-wise pre-training with doubled inputs, then the weights copied into the DBM.

        A stack of L RBMs (CD-1, :class:`layerwise.RBM`'s closed-form update) is trained with
        :func:`layerwise.pretrain`, RBM l on the codes of RBM l-1 (their bottom-up means). In
        the DBM every intermediate layer gets input from below *and* above, so each RBM
        doubles the input that its half of the DBM will lack (Salakhutdinov & Hinton 2009,
        section 3.1; 2012, section 4):

        * bottom RBM (v, h^1): hidden input ``2 W_1 v + c`` (the visible layer "doubled"),
          visible input ``W_1^T h + b``;
        * intermediate RBMs (h^{l-1}, h^l): ``2 W_l`` both ways, i.e. an RBM with weights
          ``2 W_l`` whose weights are halved when composed into the DBM;
        * top RBM (h^{L-1}, h^L): hidden input ``W_L h^{L-1} + c``, visible input ``2 W_L^T h + b``.

        The DBM then takes ``W_l`` as trained, ``b_0`` from the bottom RBM's visible biases,
        ``b_L`` from the top RBM's hidden biases, and for each intermediate layer the average of
        the hidden biases of the RBM below and the visible biases of the RBM above. The
        persistent chains restart from uniform random states.

        Parameters
        ----------
        data : tensor, array or tuple (X, y)
            Training data (N, sizes[0]) in [0, 1]; labels are ignored.
        epochs, batch_size, lr : value or one value per RBM
        optimizer, momentum : as for :func:`layerwise.fit`
        progress : bool
        **fit_options
            Other options of :func:`layerwise.pretrain` / :func:`layerwise.fit` (``seed``,
            ``device``, ``weight_decay``, ...).

        Returns
        -------
        self, with ``histories_``, ``seconds_`` and ``rbms_`` (the trained RBMs).
        """
        x = self.validate_data(data)
        L = self.n_layers
        w = self._like()
        rbms = []
        for l in range(1, L + 1):
            up = 2.0 if l < L else 1.0
            down = 2.0 if l > 1 else 1.0
            rbms.append(ScaledRBM(self.sizes[l - 1], self.sizes[l], up, down, device=w.device, dtype=w.dtype))
        stack = pretrain(rbms, x, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                         momentum=momentum, progress=progress, **fit_options)
        with torch.no_grad():
            for l, rbm in enumerate(rbms, 1):
                self.weights[l - 1].copy_(rbm.weight)
            self.biases[0].copy_(rbms[0].visible_bias)
            self.biases[L].copy_(rbms[-1].hidden_bias)
            for l in range(1, L):
                self.biases[l].copy_((rbms[l - 1].hidden_bias + rbms[l].visible_bias) / 2)
            for buf, s in zip(self.chains, self.random_states(self.n_chains)):
                buf.copy_(s)
        self.histories_ = stack.histories
        self.seconds_ = stack.seconds
        self.rbms_ = rbms
        return self

    # ---- discriminative fine-tuning ----------------------------------------------------------

    def encoder(self, double: bool = True) -> nn.Sequential:
        """A new ``nn.Sequential`` of ``Sequential(Linear, Sigmoid)`` blocks computing :meth:`recognition`:
        layer l has weight ``2 W_l`` (``l < L``, with ``double``) or ``W_l`` and bias ``b_l``.
        Copies, not shared with the DBM."""
        blocks = []
        for l in range(1, len(self.sizes)):
            w = self.weights[l - 1].detach()
            lin = nn.Linear(self.sizes[l - 1], self.sizes[l], device=w.device, dtype=w.dtype)
            with torch.no_grad():
                lin.weight.copy_(w * (2.0 if double and l < self.n_layers else 1.0))
                lin.bias.copy_(self.biases[l].detach())
            blocks.append(nn.Sequential(lin, nn.Sigmoid()))
        return nn.Sequential(*blocks)

    def to_classifier(self, n_classes: int, loss: str = "cross_entropy", double: bool = True):
        """A :class:`~layerwise.models.classifier.Classifier` over :meth:`encoder` (the recognition pass as a
        feed-forward sigmoid net, doubled weights below the top by default), for :func:`layerwise.fit`.

        A simplification of the paper's fine-tuning (section 4), which also feeds the mean-field
        posterior of h^2 as an extra input; fine-tuning leaves the DBM unchanged."""
        return Classifier(self.encoder(double=double), n_classes, loss=loss).to(self._like().device)

    # ---- partition function ----------------------------------------------------------------------

    def log_marginal(self, states: Sequence[Tensor], enumerated: int, beta: float = 1.0,
                      base_bias: Tensor | None = None) -> Tensor:
        r"""log of the unnormalised marginal of the layers of parity ``enumerated`` (0: even, 1: odd),
        the other layers summed out analytically, at inverse temperature ``beta``::

            log p*_beta(x_kept) = sum_{l kept} beta b_l^T x_l + [l = 0] (1 - beta) b_A^T x_0
                                  + sum_{l summed} sum_j softplus(beta a_{l,j} (+ (1 - beta) b_A at l = 0))

        with ``a_l`` the layer input (:meth:`layer_input`; only kept layers enter it). ``states``
        holds the kept layers (the others may be anything). Shape (B,)."""
        out = 0.0
        for l in range(len(self.sizes)):
            if l % 2 == enumerated:
                t = beta * (states[l] @ self.biases[l])
                if l == 0 and base_bias is not None:
                    t = t + (1.0 - beta) * (states[0] @ base_bias)
                out = out + t
            else:
                a = beta * self.layer_input(states, l)
                if l == 0 and base_bias is not None:
                    a = a + (1.0 - beta) * base_bias
                out = out + F.softplus(a).sum(1)
        return out

    @torch.no_grad()
    def log_partition(self, method: str = "exact", *, max_states: int = MAX_EXACT_STATES,
                      batch_states: int = 2**14, n_runs: int = 100, n_betas: int = 10000,
                      betas: Sequence[float] | Tensor | None = None, data: Any = None,
                      generator: torch.Generator | None = None, floor_states: Any = None,
                      floor_check: str = "warn", segments: int | Sequence[float] = 10, progress: bool = True):
        r"""log Z, exactly (``"exact"``, a float) or by annealed importance sampling (``"ais"``, an
        :class:`~layerwise.partition.AISResult` with the estimate and its ±3 SE band).

        **exact**: enumerate the layers of one parity (odd or even, whichever has fewer units)
        in float64 and sum the others out analytically (:meth:`log_marginal` at beta = 1)::

            log Z = logsumexp_{x_odd} [ sum_{l odd} b_l^T x_l + sum_{l even} sum_j softplus(a_{l,j}) ].

        Refused (ValueError) above ``max_states`` states.

        **ais** (Neal 2001; Salakhutdinov & Hinton 2009, section 3.2): the base model A has no
        weights, visible biases ``b_A`` (the data's base rates ``log(p / (1 - p))`` with ``data``,
        else zero: uniform) and zero hidden biases, so ``log Z_A = sum_i softplus(b_{A,i}) +
        (n_1 + ... + n_L) log 2``. ``p_beta ∝ exp(-(1 - beta) E_A - beta E)``: every weight and
        bias scaled by beta, plus ``(1 - beta) b_A`` on the visible layer. The odd layers are
        summed out analytically, so the chain lives on the even layers with unnormalised
        marginal ``p*_beta(x_even)`` (:meth:`log_marginal`); each run starts at an exact sample
        of A and, for ``k = 1..K``::

            log w += log p*_{beta_k}(x_even) - log p*_{beta_{k-1}}(x_even),
            x ~ one Gibbs sweep of p_{beta_k}: odd layers | even, then even layers | odd.

        ``log Z = log Z_A + log mean_r w_r``; the band is ``log_z ± 3 std(w) / (sqrt(R) mean w)``.
        The estimate is checked against the proven floor :meth:`log_z_floor` over the distinct
        even-layer states of ``floor_states`` (default: :meth:`floor_states` of binary ``data``),
        the persistent chains and the runs' end states (:func:`layerwise.partition.check_ais_result`).

        Parameters
        ----------
        method : {"exact", "ais"}
        max_states, batch_states : int
            Exact: the most states to enumerate, and how many at once.
        n_runs, n_betas : int
            AIS: runs and inverse temperatures (``layerwise.partition.ais_betas``).
        betas : sequence, optional
            AIS: an explicit schedule from 0 to 1 (overrides ``n_betas``).
        data : tensor, optional
            AIS: fit the base model's visible biases to the data's means.
        generator : torch.Generator, optional
            AIS: on the model's device, for reproducible runs.
        floor_states : tensor (n, sizes[0] + sizes[2] + ...), optional
            AIS: even-layer states for the floor (e.g. :meth:`floor_states` of data and chains).
        floor_check : {"warn", "raise", "off"}
            AIS: what an estimate below the floor does (``"off"``: no floor, no ESS warning).
        segments : int or sequence of float
            AIS: the beta segments of the variance diagnostics (``layerwise.partition.anneal``).
        progress : bool
            AIS: a progress bar over the temperatures when stderr is a terminal.
        """
        check_choice("method", method, ("exact", "ais"))
        check_choice("floor_check", floor_check, FLOOR_CHECKS)
        m = in_float64(self)
        odd = sum(self.sizes[1::2])
        even = sum(self.sizes[0::2])
        if method == "exact":
            max_states = check_int("max_states", max_states, 1)
            batch_states = check_int("batch_states", batch_states, 1)
            parity = 1 if odd <= even else 0
            n = min(odd, even)
            if n > 62 or 2**n > max_states:
                raise ValueError(
                    f"Exact log Z would enumerate 2^{n} = {2**n} states of the {'odd' if parity else 'even'} layers, "
                    f"more than max_states={max_states}. Use method='ais' (annealed importance sampling) "
                    "for a DBM this size, or raise max_states."
                )
            w, parts = m._like(), []
            for start in range(0, 2**n, batch_states):
                bits = binary_states(n, start=start, stop=min(start + batch_states, 2**n),
                                     device=w.device, dtype=w.dtype)  # (S, n), bit j of the row index is unit j
                parts.append(torch.logsumexp(m.log_marginal(m._split(bits, parity), parity), 0))
            return float(torch.logsumexp(torch.stack(parts), 0))

        n_runs = check_int("n_runs", n_runs, 1)
        betas_t = ais_betas(n_betas) if betas is None else check_betas(betas)
        res = anneal(m.annealing_path(data=data), betas_t, n_runs, generator, segments=segments, progress=progress)
        if floor_check == "off":
            return res
        seen = [torch.cat(res.end_states[0::2], 1), torch.cat(self.chains[0::2], 1)]  # AIS ends, persistent chains
        if not is_discrete(seen[1], (0.0, 1.0)):
            seen.pop()
        if floor_states is not None:
            seen.append(floor_states)
        elif data is not None and is_discrete(self._visible(data), (0.0, 1.0)):
            seen.append(self.floor_states(data))
        return check_ais_result(res, m.log_z_floor(seen), floor_check)

    def annealing_path(self, base_bias: Tensor | None = None, data: Any = None) -> DBMPath:
        """The path of :meth:`log_partition` (``"ais"``) and of ``likelihood.dbm_raise_log_likelihood``:
        :class:`~layerwise.models.dbm_parts.DBMPath` from the base model with visible biases ``base_bias``
        (or the base rates ``log(p / (1 - p))`` of ``data``; default zero: uniform) to this DBM, in this
        DBM's dtype."""
        w = self._like()
        if base_bias is not None and data is not None:
            raise ValueError("Give at most one of 'base_bias' and 'data'.")
        if data is not None:
            base_bias = _BERNOULLI.bias_from_mean(self._visible(data).to(w.device, w.dtype).mean(0))
        return DBMPath(self, torch.zeros(self.sizes[0], device=w.device, dtype=w.dtype) if base_bias is None
                       else base_bias.to(w.device, w.dtype))

    @torch.no_grad()
    def floor_states(self, v: Any, batch_size: int = 4096) -> Tensor:
        """Even-layer states ``[v, round(mu_2), round(mu_4), ...]`` of binary ``v`` with the mean-field
        posterior rounded (:meth:`mean_field`, ``batch_size`` rows at a time), for :meth:`log_z_floor`.
        Shape (B, n_0 + n_2 + ...), on the CPU."""
        x, out = self._visible(v), []
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            out.append(torch.cat([xb] + [torch.round(t) for t in self.mean_field(xb)[2::2]], 1).cpu())
        return torch.cat(out)

    def even_free_energy(self, x: Tensor) -> Tensor:
        r"""``F(x_even) = -log sum_{x_odd} exp(-E)``, the odd layers summed out exactly (:meth:`log_marginal`
        at beta = 1); ``x`` holds the even layers side by side, shape (B, n_0 + n_2 + ...) -> (B,)."""
        return -self.log_marginal(self._split(x.to(self._like().dtype), 0), 0)

    def _split(self, x: Tensor, parity: int) -> list[Tensor | None]:
        """The layers of one parity from their states side by side (the others None)."""
        states, offset = [None] * len(self.sizes), 0
        for l in range(parity, len(self.sizes), 2):
            states[l], offset = x[:, offset:offset + self.sizes[l]], offset + self.sizes[l]
        return states

    @torch.no_grad()
    def log_z_floor(self, states: Any) -> float:
        r"""A proven floor on log Z: ``log sum exp(-F(x_even))`` over the distinct even-layer ``states``
        (:meth:`floor_states`, AIS end states), the odd layers summed out exactly. Z sums positive terms
        ``exp(-F(x_even))`` over every even-layer state, so a subset sums to less; computed in float64
        (:func:`layerwise.partition.log_z_floor`)."""
        m = in_float64(self)
        return log_z_floor(m, states, free_energy=m.even_free_energy, values=(0.0, 1.0))

    # ---- bookkeeping -------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Constructor arguments, for :func:`layerwise.checkpoint.load_model`."""
        return {"sizes": list(self.sizes), "n_chains": self.n_chains, "mf_steps": self.mf_steps,
                "mf_tol": self.mf_tol, "damping": self.damping, "k": self.k}

    def extra_repr(self) -> str:
        defaults = {"n_chains": 100, "mf_steps": 10, "mf_tol": 1e-5, "damping": 0.0, "k": 1}
        cfg = self.config()
        return ", ".join([str(self.sizes)] + [f"{k}={cfg[k]}" for k, d in defaults.items() if cfg[k] != d])

    def __repr__(self) -> str:
        return f"DBM({self.extra_repr()})"
