"""Deep belief networks: a stack of RBMs trained greedily (Hinton, Osindero & Teh 2006).

A DBN with layers ``v = h^0, h^1, ..., h^L`` is a top-level RBM over ``(h^{L-1}, h^L)`` with a
directed sigmoid belief network below it::

    p(v, h^1, ..., h^L) = p(v | h^1) p(h^1 | h^2) ... p(h^{L-2} | h^{L-1}) p(h^{L-1}, h^L),
    p(h^{k-1} | h^k)    = the conditional p(v | h) of RBM k (sigm(b + W^T h) for binary units),
    p(h^{L-1}, h^L)     = exp(-E_L(h^{L-1}, h^L)) / Z_L   (the top RBM).

Greedy pre-training fits RBM 1 to the data, then RBM k+1 to the codes of RBM k, either the
probabilities ``E[h^k | h^{k-1}]`` or binary samples of ``q(h^k | h^{k-1})``; each new RBM
replaces the prior that the RBM below implied over its hidden layer (with tied weights the
two agree exactly, which is why the greedy step cannot lower the variational bound). The
recognition (up) pass uses each RBM's factorial posterior ``q(h^k | h^{k-1})``; generation runs
Gibbs sampling in the top RBM, then one directed down pass.

References: Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets",
Neural Computation 18; Salakhutdinov & Murray (2008), "On the quantitative analysis of deep
belief networks", ICML; Bengio, Lamblin, Popovici & Larochelle (2007), "Greedy layer-wise
training of deep networks", NIPS.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from .._validation import (check_choice, check_int, check_memory, check_real, check_sizes, dense_stack_elements,
                           tensor_bytes)
from ..functional import binary_states
from ..likelihood import raise_log_likelihood
from ..partition import CHUNK_ELEMENTS, MAX_ENUMERATED_UNITS, ais_log_partition
from ..pretraining import pretrain
from ..sandwich import SandwichBounds
from .classifier import Classifier
from .rbm import RBM

__all__ = ["DBN"]


def _log_conditional(rbm: RBM, x: Tensor, a: Tensor, paired: bool) -> Tensor:
    """log p(x | h) under ``rbm``'s visible conditional, given a = ``rbm.visible_input(h)``.

    Binary units: ``sum_i x_i a_i - log sum_{x_i} exp(x_i a_i)`` (for Bernoulli units
    ``x_i log sigm(a_i) + (1 - x_i) log(1 - sigm(a_i))``); Gaussian units:
    ``log N(x; a, sigma^2)``. ``x`` is (N, n_visible). ``paired``: ``a`` is (N, S, n_visible),
    one input per row and sample; otherwise ``a`` is (S, n_visible), shared by all rows.
    Returns (N, S).
    """
    if rbm.visible.has_sigma:
        const = -rbm.log_sigma.sum() - 0.5 * rbm.n_visible * math.log(2 * math.pi)
        sigma = rbm.sigma
        if paired:
            z = (x[:, None, :] - a) / sigma  # (N, S, nv)
            return -0.5 * (z * z).sum(-1) + const
        xs, as_ = x / sigma, a / sigma
        sq = (xs * xs).sum(1)[:, None] - 2 * xs @ as_.T + (as_ * as_).sum(1)[None, :]
        return -0.5 * sq + const
    log_norm = rbm.visible.log_partition(a).sum(-1)  # (N, S) or (S,)
    if paired:
        return (x[:, None, :] * a).sum(-1) - log_norm
    return x @ a.T - log_norm[None, :]


class DBN(nn.Module):
    r"""A deep belief network: RBMs stacked greedily, a top RBM over a sigmoid belief net.

    ``rbms[k]`` connects layer ``k`` (its visible units) with layer ``k + 1`` (its hidden
    units); layer 0 is the data.

    Parameters
    ----------
    sizes : list of int
        Layer sizes, data first: ``[784, 500, 500, 2000]`` gives three RBMs. At least 2 entries.
    visible : {"bernoulli", "spin", "gaussian"}
        Unit type of the data layer (the first RBM's visible units).
    hidden : {"bernoulli", "spin"}
        Unit type of every hidden layer (so also of the visible units of RBMs 2, 3, ...).
    k, persistent, n_chains, sparsity_target, sparsity_weight
        Passed to every :class:`~layerwise.models.rbm.RBM` (CD-k or PCD, sparsity penalty).
    propagate : {"mean", "sample"}
        What RBM k+1 is trained on during :meth:`pretrain`: the probabilities
        ``E[h^k | h^{k-1}]`` ("mean", less noisy) or binary samples from ``q(h^k | h^{k-1})``
        ("sample", as in Hinton, Osindero & Teh 2006).
    sigma : float
        Standard deviation of Gaussian data units (first RBM only).
    device, dtype : optional
        As for ``nn.Linear``.

    Attributes
    ----------
    rbms : nn.ModuleList of RBM
        The layers, bottom first.
    histories_ : list of History
        Per-layer training records of the last :meth:`pretrain`.
    seconds_ : list of float
        Per-layer wall-clock pre-training time of the last :meth:`pretrain`.

    Examples
    --------
    >>> dbn = DBN([784, 500, 2000], persistent=True)
    >>> dbn
    DBN(
      [784, 500, 2000], persistent=True
      (rbms): ModuleList(
        (0): RBM(784, 500, persistent=True)
        (1): RBM(500, 2000, persistent=True)
      )
    )
    """

    #: The top RBM's log Z is computed exactly when its smaller layer has at most this many units.
    MAX_EXACT_LOG_Z_UNITS = MAX_ENUMERATED_UNITS
    #: How a DBN trains instead of through :func:`layerwise.fit` (it has no ``training_loss``):
    #: ``fit`` quotes this in its TypeError.
    trained_by = "dbn.pretrain(X) (greedy, one RBM at a time, through layerwise.pretrain)"

    def __init__(
        self,
        sizes: Sequence[int],
        visible: str = "bernoulli",
        hidden: str = "bernoulli",
        k: int = 1,
        persistent: bool = False,
        n_chains: int = 100,
        propagate: str = "mean",
        sparsity_target: float = 0.1,
        sparsity_weight: float = 0.0,
        *,
        sigma: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.sizes = check_sizes("sizes", sizes, 2, (784, 500, 2000))
        self.propagate = check_choice("propagate", propagate, ("mean", "sample"))
        self.sigma = check_real("sigma", sigma, 0.0, low_open=True)
        chains = n_chains * sum(self.sizes[:-1]) if persistent and isinstance(n_chains, int) else 0
        check_memory(f"DBN({self.sizes}) parameters",
                     tensor_bytes(dense_stack_elements(self.sizes) + sum(self.sizes[1:-1]) + chains, dtype))
        common = dict(hidden=hidden, k=k, persistent=persistent, n_chains=n_chains,
                      sparsity_target=sparsity_target, sparsity_weight=sparsity_weight,
                      device=device, dtype=dtype)
        # RBM k+1 sees layer k's hidden units as its visible units: same unit type.
        self.rbms = nn.ModuleList(
            RBM(n_in, n_out, visible=visible if i == 0 else hidden, sigma=self.sigma if i == 0 else 1.0, **common)
            for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]))
        )

    # ---- the recognition (up) pass ------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """Number of RBMs (hidden layers)."""
        return len(self.rbms)

    def validate_data(self, x: Any) -> Tensor:
        """2-d, ``sizes[0]`` features, finite, non-empty, in the data units' range (the first RBM's check)."""
        return self.rbms[0].validate_data(x)

    def _data(self, x: Any) -> Tensor:
        x = self.validate_data(x)
        w = self.rbms[0].weight
        return x.to(w.device, w.dtype)

    def forward(self, x: Tensor) -> Tensor:
        """Top-layer means by the deterministic up-pass, differentiable (no input checks)."""
        for rbm in self.rbms:
            x = rbm._hidden_probs(x)
        return x

    @torch.no_grad()
    def up(self, x: Any) -> list[Tensor]:
        """The mean up-pass: ``[h^1, ..., h^L]`` with ``h^k = E[h^k | h^{k-1}]`` under RBM k's
        factorial posterior (``sigm(c_k + W_k h^{k-1})`` for Bernoulli units), ``h^0 = x``."""
        h = self._data(x)
        out = []
        for rbm in self.rbms:
            h = rbm._hidden_probs(h)
            out.append(h)
        return out

    @torch.no_grad()
    def transform(self, x: Any) -> Tensor:
        """Top-layer features ``h^L`` of the mean up-pass, shape (B, sizes[-1])."""
        return self.up(x)[-1]

    def encoder(self) -> nn.Sequential:
        """``nn.Sequential`` of the RBMs' encoders (``Sequential(Linear, Sigmoid)`` each), sharing
        the DBN's parameters: the feed-forward network that fine-tuning starts from."""
        return nn.Sequential(*(rbm.encoder() for rbm in self.rbms))

    def to_classifier(self, n_classes: int, loss: str = "cross_entropy"):
        """A :class:`~layerwise.models.classifier.Classifier` over a deep copy of :meth:`encoder`, ready
        for :func:`layerwise.fit`; fine-tuning it leaves the DBN unchanged."""
        body = copy.deepcopy(self.encoder())
        w = self.rbms[0].weight
        return Classifier(body, n_classes, loss=loss).to(w.device)

    # ---- greedy pre-training -------------------------------------------------------------------

    def pretrain(
        self,
        data: Any,
        epochs: int | Sequence[int] = 10,
        batch_size: int | Sequence[int] = 64,
        lr: float | Sequence[float] = 0.05,
        optimizer: str = "sgd",
        momentum: float = 0.5,
        *,
        progress: bool = True,
        **fit_options: Any,
    ) -> "DBN":
        """Greedy layer-wise training (Hinton, Osindero & Teh 2006): RBM 1 on the data, RBM k+1
        on layer k's codes (``propagate``: means or samples of q(h^k | h^{k-1})) with the lower
        RBMs fixed.

        Goes through :func:`layerwise.pretrain`, which first sets each RBM's visible biases from
        its training data (``init_visible_bias``: ``b_i = log(p_i / (1 - p_i))``, Hinton's
        guide) and trains it with :func:`layerwise.fit`. Training continues from the current
        weights (call ``reset_parameters`` on the RBMs to start afresh).

        Parameters
        ----------
        data : tensor, array or tuple (X, y)
            Unlabelled training data, (N, sizes[0]); labels are ignored.
        epochs, batch_size, lr : value or one value per layer
        optimizer, momentum : as for :func:`layerwise.fit`
        progress : bool
            Progress bars.
        **fit_options
            Any other option of :func:`layerwise.pretrain` / :func:`layerwise.fit`
            (``weight_decay``, ``device``, ``seed``, ``lr_schedule``, ``checkpoint_dir``, ...).

        Returns
        -------
        self, with ``histories_`` and ``seconds_`` (one entry per layer).
        """
        if isinstance(data, (tuple, list)):
            data = data[0]
        x = self.validate_data(data)
        stack = pretrain(list(self.rbms), x, epochs=epochs, batch_size=batch_size, lr=lr,
                         optimizer=optimizer, momentum=momentum, propagate=self.propagate,
                         progress=progress, **fit_options)
        self.histories_ = stack.histories
        self.seconds_ = stack.seconds
        return self

    # ---- generation ----------------------------------------------------------------------------

    @torch.no_grad()
    def down(self, h: Tensor) -> Tensor:
        """The directed down pass from a state of layer L-1 (the top RBM's visible layer):
        ``h^{k-1} ~ p(h^{k-1} | h^k)`` (RBM k's visible conditional) for the intermediate layers,
        and the mean ``E[v | h^1]`` at the bottom. Returns (B, sizes[0])."""
        h = self.rbms[-1]._visible_rows(h, "h")
        if self.n_layers == 1:
            return h
        for rbm in list(self.rbms)[-2:0:-1]:  # rbms[L-2], ..., rbms[1]
            h = rbm._sample_visible(h)
        return self.rbms[0]._visible_mean(h)

    @torch.no_grad()
    def generate(self, n: int, gibbs_steps: int = 1000, every: int | None = None,
                 init: Any = None) -> Tensor:
        """Samples from the DBN: Gibbs sampling in the top RBM, then one down pass.

        The top RBM's chains run over its visible layer ``h^{L-1}`` for ``gibbs_steps`` sweeps
        (``rbms[-1].sample``), starting from its base-rate model (its visible biases, set from
        the codes it was trained on) or from the up-pass of ``init``. The last ``h^{L-1}`` is
        sampled from the chain's last conditional, then passed down through the sigmoid belief
        net (:meth:`down`): intermediate layers sampled, the data layer as probabilities.

        Parameters
        ----------
        n : int
            Number of samples (chains); ignored when ``init`` is given (one per row).
        gibbs_steps : int
            Gibbs sweeps in the top RBM.
        every : int, optional
            Also return the down-passed chain every ``every`` sweeps.
        init : tensor (n, sizes[0]), optional
            Data to start the chains from (their mean up-pass to layer L-1).

        Returns
        -------
        Tensor (n, sizes[0]) of visible means, or (T, n, sizes[0]) snapshots with ``every``.
        """
        gibbs_steps = check_int("gibbs_steps", gibbs_steps, 0)
        if every is not None:
            every = check_int("every", every, 1)
        top = self.rbms[-1]
        start = None
        if init is not None:
            start = self._data(init)
            for rbm in self.rbms[:-1]:
                start = rbm._hidden_probs(start)
            start = top.visible.sample_from_mean(start) if self.n_layers > 1 else start
        else:
            n = check_int("n", n, 1)
        n_chains, n_snaps = (n if start is None else start.shape[0]), (gibbs_steps // every if every else 1)
        check_memory(f"{n_chains} samples of DBN({self.sizes})",
                     tensor_bytes(n_chains * (2 * sum(self.sizes) + n_snaps * self.sizes[0]), top.weight.dtype))
        chain = top.sample(n, gibbs_steps, init=start, every=every)  # visible means of the top RBM
        if self.n_layers == 1:
            return chain

        def down(m: Tensor) -> Tensor:
            return self.down(top.visible.sample_from_mean(m))

        if every:
            return torch.stack([down(m) for m in chain])
        return down(chain)

    # ---- the variational lower bound on log p(v) ------------------------------------------------

    @torch.no_grad()
    def lower_bound(
        self,
        v: Any,
        log_z: float | None = None,
        n_samples: int = 10,
        ais_options: dict | None = None,
        generator: torch.Generator | None = None,
        *,
        exact: bool | None = None,
        top: str = "log_z",
        raise_options: dict | None = None,
    ) -> Tensor:
        r"""Variational lower bound on log p(v) per row (Salakhutdinov & Murray 2008, eq. 12).

        For a two-layer DBN, with Q(h^1 | v) the first RBM's factorial posterior,
        p(v | h^1) its visible conditional and F_2 the top RBM's free energy::

            log p(v) >= sum_{h^1} Q(h^1|v) [log p(v|h^1) - F_2(h^1)] + H(Q(h^1|v)) - log Z_2,
            H(Q)     =  sum_j [log sum_{h_j} exp(h_j a_j) - a_j E_Q[h_j]],  a = c_1 + W_1 v

        (the binary entropy of ``sigm(a_j)`` for Bernoulli units). The gap is
        KL(Q(h^1|v) || p(h^1|v)), zero when the top RBM's weights are the first RBM's,
        transposed. Deeper DBNs use the same bound recursively (Hinton, Osindero & Teh 2006,
        sec. 4): log p(h^{k-1}) for the DBN above layer k-1 is replaced by its own bound, so::

            log p(v) >= E_{Q}[ sum_{k<L} (log p(h^{k-1}|h^k) + H(Q(h^k|h^{k-1})))
                               - F_L(h^{L-1}) ] - log Z_L,

        with h^k ~ Q(h^k | h^{k-1}) drawn upward. For a one-RBM DBN it is log p(v) itself.

        The top RBM enters only through its normalised log-marginal ``log p_top(h^{L-1}) =
        -F_L(h^{L-1}) - log Z_L`` (``top="log_z"``). With ``top="raise"`` it is replaced by its RAISE
        estimate (:func:`layerwise.likelihood.raise_log_likelihood` on the states ``h^{L-1}`` as the
        top RBM's visible vectors; Burda, Grosse & Salakhutdinov 2015), a stochastic lower bound on
        ``log p_ann(h^{L-1})`` that needs no log Z: conservative once the schedule is long enough
        for ``p_ann`` to be the top RBM (a short one can favour the up-pass codes), where an AIS
        log Z (a stochastic *under*-estimate) makes ``top="log_z"`` optimistic. :meth:`lower_bound_interval`
        gives both, on the same samples.

        Each expectation over a hidden layer is a sum over its 2^n states (``exact``) or a Monte
        Carlo average: ``n_samples`` draws of h^1 per row, then one draw per higher layer
        (unbiased for the bound). The entropies are analytic. ``log p(v|h)`` is a
        log-probability for binary (or Gaussian) data; for probabilities in (0, 1) it is the
        negative cross-entropy.

        Parameters
        ----------
        v : tensor (B, sizes[0])
            Data.
        log_z : float, optional
            log Z of the top RBM; by default exact when its smaller layer has at most
            ``MAX_EXACT_LOG_Z_UNITS`` units, else annealed importance sampling. With an AIS
            estimate the result estimates the bound (AIS tends to underestimate log Z, which
            makes it optimistic, see Salakhutdinov & Murray 2008).
        n_samples : int
            Samples of h^1 per row for the Monte Carlo expectation.
        ais_options : dict, optional
            Options of the top RBM's ``log_partition(method="ais", ...)``: ``n_runs``,
            ``n_betas``, ...; unless ``data`` or ``base_visible_bias`` is given, the base
            rates of the AIS start model come from the up-pass codes of ``v``.
        generator : torch.Generator, optional
            Random numbers of the Monte Carlo samples (and of AIS unless ``ais_options`` gives one).
        exact : bool, optional
            True: enumerate every hidden layer below the top (at most ``MAX_ENUMERATED_UNITS``
            units each); False: Monte Carlo; None: enumerate a layer when its 2^n states are
            no more than ``n_samples``.
        top : {"log_z", "raise"}
            The top RBM's log-marginal: ``-F_L - log Z_L`` (``log_z`` as above), or its RAISE
            estimate (``log_z`` must then be None; binary hidden states only).
        raise_options : dict, optional
            ``top="raise"``: options of :func:`~layerwise.likelihood.raise_log_likelihood`
            (``n_runs``, ``n_betas``, ``data``, ...; ``generator`` defaults to ``generator``).

        Returns
        -------
        Tensor (B,)
        """
        x = self._data(v)
        n_samples = check_int("n_samples", n_samples, 1)
        check_choice("top", top, ("log_z", "raise"))
        enumerate_layer = self._enumerated_layers(exact, n_samples)
        if top == "raise":
            if log_z is not None:
                raise ValueError(f"top='raise' replaces log Z by RAISE; got log_z={log_z!r} as well. Give one.")
            opts = dict(raise_options or {})
            if generator is not None:
                opts.setdefault("generator", generator)
            return self._bound_rows(x, self._raise_top(opts), n_samples, enumerate_layer, generator)
        if log_z is None:
            log_z = self.top_log_partition(x, ais_options, generator)
        else:
            log_z = check_real("log_z", float(log_z))
        return self._bound_rows(x, self._log_z_top(log_z), n_samples, enumerate_layer, generator)

    def _enumerated_layers(self, exact: bool | None, n_samples: int) -> list[bool]:
        """Per hidden layer below the top, whether :meth:`lower_bound` sums over its states."""
        if exact is not None and not isinstance(exact, bool):
            raise TypeError(f"The 'exact' parameter must be a bool or None. Got {exact!r} instead.")
        enumerate_layer = []
        for k, rbm in enumerate(self.rbms[:-1]):
            if exact:
                if rbm.n_hidden > MAX_ENUMERATED_UNITS:
                    raise ValueError(
                        f"exact=True enumerates the 2^{rbm.n_hidden} states of hidden layer {k + 1}; at most "
                        f"{MAX_ENUMERATED_UNITS} units can be enumerated. Use exact=False (Monte Carlo)."
                    )
                enumerate_layer.append(True)
            else:
                enumerate_layer.append(exact is None and 2 ** rbm.n_hidden <= n_samples)
        return enumerate_layer

    def _bound_rows(self, x: Tensor, top_fn: Callable[[Tensor], Tensor], n_samples: int,
                    enumerate_layer: list[bool], generator: torch.Generator | None) -> Tensor:
        rows = max(1, CHUNK_ELEMENTS // (n_samples * max(self.sizes)))
        return torch.cat([self._bound(0, x[i:i + rows], top_fn, n_samples, enumerate_layer, generator)
                          for i in range(0, x.shape[0], rows)])

    def _log_z_top(self, log_z: float) -> Callable[[Tensor], Tensor]:
        """The top RBM's log-marginal ``-F(h) - log Z``."""
        top = self.rbms[-1]
        return lambda h: -top._free_energy(h) - log_z  # h from the up-pass: checked already

    def _raise_top(self, raise_options: dict) -> Callable[[Tensor], Tensor]:
        """The top RBM's log-marginal by RAISE (a stochastic lower bound, no log Z)."""
        top = self.rbms[-1]
        return lambda h: raise_log_likelihood(top, h, **raise_options).log_likelihood.to(h.device, h.dtype)

    @torch.no_grad()
    def lower_bound_interval(
        self,
        v: Any,
        n_samples: int = 10,
        *,
        log_z: float | None = None,
        ais_options: dict | None = None,
        raise_options: dict | None = None,
        generator: torch.Generator | None = None,
        exact: bool | None = None,
    ) -> SandwichBounds:
        r"""Both ends of the log Z uncertainty of the DBN bound (:meth:`lower_bound`), per row.

        With ``B(v; t) = E_Q[sum_{k<L} (log p(h^{k-1}|h^k) + H(Q(h^k|h^{k-1}))) + t(h^{L-1})]``
        (Salakhutdinov & Murray 2008, eq. 12, the top RBM entering through ``t``) and
        ``B*(v) = B(v; log p_top)`` the bound with the exact log Z, which is ``<= log p(v)``
        (the gap is a KL divergence)::

            lower = B(v; RAISE)                 E[lower] <= B(v; log p_ann) -> B*(v),
            upper = B(v; -F_L - log Z_hat)      = B*(v) + log Z - log Z_hat,  E[upper] >= B*(v).

        ``upper`` is the usual figure with AIS's log Z (:meth:`top_log_partition`, exact when the
        top RBM is small enough to enumerate, or ``log_z``): AIS under-estimates log Z in
        expectation (Jensen), so it is optimistic, and far too high when the annealing misses a
        mode. ``lower`` replaces the top RBM's normalised log-marginal by RAISE (Burda, Grosse &
        Salakhutdinov 2015) on the states ``h^{L-1}`` as its visible vectors: a stochastic lower
        bound on the annealing model's ``log p_ann(h)``, which is at or below ``log p_top(h)`` on
        average over the top RBM's own samples and tends to it as the schedule lengthens; it
        needs no log Z. The up-pass states are not the top RBM's samples, though: a short
        schedule's smoother ``p_ann`` can give them more mass than ``p_top`` (on random tiny DBNs,
        whose codes are atypical for the top RBM, ``B(v; log p_ann) > B*`` in most seeds at 3 to
        10 temperatures; ``tests/test_sbn_dbn_sandwich.py``). So ``[lower, upper]`` brackets
        ``B*`` in expectation once the schedule is long enough that ``lower`` stops moving, and
        then ``lower`` is the conservative figure to quote for ``log p(v)``. ``upper`` is no bound
        on ``log p(v)``: it can lie on either side of it.

        A method here rather than a function in ``layerwise.likelihood``: the two ends must take
        the expectations over Q on the *same* samples of ``h`` (the generator's state is replayed),
        so that they differ by the top RBM's term alone, and only the bound's recursion can do that.

        Parameters
        ----------
        v : tensor (B, sizes[0])
        n_samples, ais_options, exact
            As for :meth:`lower_bound`.
        log_z : float, optional
            The top RBM's log Z for ``upper``; by default :meth:`top_log_partition`.
        raise_options : dict, optional
            Of :func:`~layerwise.likelihood.raise_log_likelihood`; its own ``generator`` by
            default seeded from ``generator``.
        generator : torch.Generator, optional
            For the samples of h (shared by both ends) and AIS.

        Returns
        -------
        SandwichBounds
            ``lower_rows`` / ``upper_rows`` per row (float64), ``details["log_z"]``.
        """
        x = self._data(v)
        n_samples = check_int("n_samples", n_samples, 1)
        enumerate_layer = self._enumerated_layers(exact, n_samples)
        dev = x.device
        if generator is None:
            generator = torch.Generator(device=dev).manual_seed(int(torch.randint(2**62, (1,))))
        if log_z is None:
            log_z = self.top_log_partition(x, ais_options, generator)
        log_z = check_real("log_z", float(log_z))
        opts = dict(raise_options or {})
        if "generator" not in opts:
            opts["generator"] = torch.Generator(device=dev).manual_seed(
                int(torch.randint(2**62, (1,), generator=generator, device=dev)))
        state = generator.get_state()
        upper = self._bound_rows(x, self._log_z_top(log_z), n_samples, enumerate_layer, generator)
        generator.set_state(state)  # the same samples of h for the other end
        lower = self._bound_rows(x, self._raise_top(opts), n_samples, enumerate_layer, generator)
        lower, upper = lower.to(torch.float64).cpu(), upper.to(torch.float64).cpu()
        return SandwichBounds(lower=float(lower.mean()), upper=float(upper.mean()), lower_rows=lower,
                              upper_rows=upper, details={"log_z": log_z, "raise_options": opts})

    def top_log_partition(self, v: Tensor | None = None, ais_options: dict | None = None,
                          generator: torch.Generator | None = None) -> float:
        """log Z of the top RBM: exact (sum over its smaller layer) when that layer has at most
        ``MAX_EXACT_LOG_Z_UNITS`` units, else AIS with ``ais_options`` (``data`` defaults to the
        up-pass codes of ``v`` at the top RBM's visible layer), checked against the proven floor
        (``AISResult.log_z_checked``: the floor when the estimate fell below it)."""
        top = self.rbms[-1]
        if min(top.n_visible, top.n_hidden) <= self.MAX_EXACT_LOG_Z_UNITS:
            return float(top.log_partition(method="exact"))
        opts = dict(ais_options or {})
        if v is not None and "data" not in opts and "base_visible_bias" not in opts:
            codes = self._data(v)
            for rbm in self.rbms[:-1]:
                codes = rbm._hidden_probs(codes)
            opts["data"] = codes
        if generator is not None:
            opts.setdefault("generator", generator)
        return ais_log_partition(top, **{**opts, "return_bounds": True}).log_z_checked  # the proven floor when AIS fell below it

    def _bound(self, k: int, x: Tensor, top_fn: Callable[[Tensor], Tensor], n_samples: int,
               enumerate_layer: list[bool], generator: torch.Generator | None) -> Tensor:
        """Lower bound on log p(x) for the DBN formed by ``rbms[k:]``, x a state of layer k, (N,);
        ``top_fn`` gives the top RBM's log-marginal (exact with log Z, or RAISE)."""
        rbm = self.rbms[k]
        if k == self.n_layers - 1:
            return top_fn(x)
        a = rbm.hidden_input(x)  # (N, nh)
        units = rbm.hidden
        entropy = units.entropy(a).sum(1)  # H(Q(h|x)), (N,)
        if enumerate_layer[k]:
            # sum_h Q(h|x) [log p(x|h) + bound(h)], log Q(h|x) = h.a - sum_j log sum_{h_j} e^{h_j a_j}
            log_norm = units.log_partition(a).sum(1, keepdim=True)  # (N, 1)
            # (S, nh), first unit most significant: the order this sum has always run in (its
            # last bit depends on the order of the terms)
            states = binary_states(rbm.n_hidden, units.states, device=a.device, dtype=a.dtype).flip(1)
            step = max(1, CHUNK_ELEMENTS // max(rbm.n_visible, x.shape[0]))
            expect = torch.zeros_like(entropy)
            for s in range(0, states.shape[0], step):
                h = states[s:s + step]  # (Sc, nh)
                inner = self._bound(k + 1, h, top_fn, n_samples, enumerate_layer, generator)  # (Sc,)
                log_px = _log_conditional(rbm, x, rbm.visible_input(h), paired=False)  # (N, Sc)
                q = torch.exp(a @ h.T - log_norm)  # (N, Sc)
                expect += (q * (log_px + inner[None, :])).sum(1)
        else:
            n, s = x.shape[0], (n_samples if k == 0 else 1)
            h = units.sample(a[:, None, :].expand(n, s, rbm.n_hidden), generator=generator)  # (N, s, nh)
            inner = self._bound(k + 1, h.reshape(n * s, -1), top_fn, n_samples, enumerate_layer, generator)
            log_px = _log_conditional(rbm, x, rbm.visible_input(h), paired=True)  # (N, s)
            expect = (log_px + inner.reshape(n, s)).mean(1)
        return expect + entropy

    # ---- bookkeeping -------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Constructor arguments, for :func:`layerwise.checkpoint.load_model`."""
        r = self.rbms[0]
        return {"sizes": list(self.sizes), "visible": r.visible.name, "hidden": r.hidden.name, "k": r.k,
                "persistent": r.persistent, "n_chains": r.n_chains, "propagate": self.propagate,
                "sparsity_target": r.sparsity_target, "sparsity_weight": r.sparsity_weight,
                "sigma": self.sigma}

    def extra_repr(self) -> str:
        defaults = {"visible": "bernoulli", "hidden": "bernoulli", "k": 1, "persistent": False,
                    "n_chains": 100, "propagate": "mean", "sparsity_target": 0.1, "sparsity_weight": 0.0,
                    "sigma": 1.0}
        cfg = self.config()
        parts = [str(self.sizes)]
        for key, default in defaults.items():
            if key == "n_chains" and not cfg["persistent"]:
                continue
            if key == "sigma" and cfg["visible"] != "gaussian":
                continue
            if cfg[key] != default:
                parts.append(f"{key}={cfg[key]}")
        return ", ".join(parts)
