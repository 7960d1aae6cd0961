"""Up-down fine-tuning of a deep belief net (Hinton, Osindero & Teh 2006, appendix B).

Greedy stacking ties each directed layer's generative weights to the recognition weights of
the RBM that produced it. Fine-tuning unties them: for a DBN with layers
``v = h^0, h^1, ..., h^L`` (``sizes = [n_0, ..., n_L]``) the model keeps

* recognition weights ``R_k`` (``(n_k, n_{k-1})``) and biases ``c_k`` for k = 1 .. L-1:
  ``q(h^k_j = 1 | h^{k-1}) = sigm(R_k h^{k-1} + c_k)_j``;
* generative weights ``G_k`` (``(n_{k-1}, n_k)``, ``nn.Linear``'s (out, in) layout, so the
  transpose of RBM k's ``weight``) and biases ``b_{k-1}`` for k = 1 .. L-1:
  ``p(h^{k-1}_i = 1 | h^k) = sigm(G_k h^k + b_{k-1})_i``;
* the top RBM over ``(h^{L-1}, h^L)`` (a :class:`~layerwise.models.rbm.RBM`, ``top``).

One up-down step (the "contrastive wake-sleep" algorithm) on a batch:

1. up (wake) pass: ``h^k ~ q(h^k | h^{k-1})`` for k = 1 .. L-1, from the data;
2. top RBM: positive statistics at ``(h^{L-1}, p(h^L | h^{L-1}))``, then ``k_top`` Gibbs
   sweeps from there; the CD-k_top update of the top RBM at the negative state
   ``(h^{L-1}-, p(h^L | h^{L-1}-))``;
3. down (sleep) pass from the top RBM's negative visible state: ``h^{k-1} ~ p(h^{k-1} | h^k)``
   for the intermediate layers and the probabilities ``p(v | h^1)`` at the data layer (as
   Hinton et al.'s code and :meth:`DBN.down <layerwise.models.dbn.DBN.down>`);
4. generative delta rule on the wake states (the gradient of ``log p(h^{k-1} | h^k)``)::

       dG_k = mean (h^{k-1} - sigm(G_k h^k + b_{k-1})) (h^k)^T,   db_{k-1} = mean (...)

   recognition delta rule on the sleep states (the gradient of ``log q(h^k | h^{k-1})``)::

       dR_k = mean (h^k - sigm(R_k h^{k-1} + c_k)) (h^{k-1})^T,   dc_k = mean (...)

All updates (ascent directions) are handed to the optimiser negated, ``p.grad = -update``,
for one ``optimizer.step()``, so momentum, weight decay and learning-rate schedules apply.

References: Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets",
Neural Computation 18, appendix B; Hinton, Dayan, Frey & Neal (1995), "The wake-sleep
algorithm for unsupervised neural networks", Science 268.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._validation import (check_int, check_memory, check_real, check_sizes, check_tensor, dense_stack_elements,
                           tensor_bytes)
from ..functional import bernoulli_entropy, log_bernoulli, sample_bernoulli
from ..partition import CHUNK_ELEMENTS, MAX_ENUMERATED_UNITS
from ..training import all_reduce_mean
from .dbn import DBN
from .rbm import RBM

__all__ = ["UpDownDBN"]


class UpDownDBN(nn.Module):
    r"""A deep belief net with untied recognition and generative weights, fine-tuned by the
    up-down algorithm (contrastive wake-sleep, Hinton, Osindero & Teh 2006).

    Build it from a greedily pre-trained Bernoulli :class:`~layerwise.models.dbn.DBN` with
    :meth:`from_dbn`, or from sizes (random initialisation, as an RBM's) so that checkpoints
    can rebuild it; train it with :func:`layerwise.fit` (:meth:`training_step`).

    Parameters
    ----------
    sizes : list of int
        Layer sizes, data first, at least 3 entries (one directed layer and the top RBM).
    k_top : int
        Gibbs sweeps of the top RBM's contrastive-divergence update in each step.
    device, dtype : optional
        As for ``nn.Linear``.

    Attributes
    ----------
    recognition_weights, recognition_biases : nn.ParameterList
        ``[R_1, ..., R_{L-1}]`` of shapes ``(sizes[k], sizes[k-1])`` and ``[c_1, ..., c_{L-1}]``.
    generative_weights, generative_biases : nn.ParameterList
        ``[G_1, ..., G_{L-1}]`` of shapes ``(sizes[k-1], sizes[k])`` and ``[b_0, ..., b_{L-2}]``.
    top : RBM
        The top-level RBM over ``(h^{L-1}, h^L)``, Bernoulli units, ``k = k_top``.

    Examples
    --------
    >>> net = UpDownDBN([64, 32, 16], k_top=5)
    >>> net
    UpDownDBN([64, 32, 16], k_top=5)
    """

    #: What layerwise.fit watches for its divergence warning: the loss is a noisy surrogate, not an objective.
    monitored_metric = "reconstruction_error"

    def __init__(
        self,
        sizes: Sequence[int],
        k_top: int = 10,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.sizes = check_sizes("sizes", sizes, 2, (784, 500, 2000))
        if len(self.sizes) < 3:
            raise ValueError(
                "The 'sizes' parameter must list at least 3 layer sizes for up-down fine-tuning (the "
                f"visible layer, a directed hidden layer and the top RBM's hidden layer). Got {self.sizes!r} "
                "instead; a one-RBM DBN is just an RBM: train it with CD."
            )
        self.k_top = check_int("k_top", k_top, 1)
        check_memory(f"UpDownDBN({self.sizes}) parameters",
                     tensor_bytes(dense_stack_elements(self.sizes[:-1], weight_copies=2) + sum(self.sizes[:-1]), dtype))
        fk = {"device": device, "dtype": dtype}
        pairs = list(zip(self.sizes[:-2], self.sizes[1:-1]))  # the directed layers below the top RBM
        self.recognition_weights = nn.ParameterList(nn.Parameter(torch.empty(hi, lo, **fk)) for lo, hi in pairs)
        self.recognition_biases = nn.ParameterList(nn.Parameter(torch.empty(hi, **fk)) for _, hi in pairs)
        self.generative_weights = nn.ParameterList(nn.Parameter(torch.empty(lo, hi, **fk)) for lo, hi in pairs)
        self.generative_biases = nn.ParameterList(nn.Parameter(torch.empty(lo, **fk)) for lo, _ in pairs)
        self.top = RBM(self.sizes[-2], self.sizes[-1], k=self.k_top, **fk)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights ~ N(0, 0.01^2), biases 0 (Hinton's practical guide), the top RBM likewise."""
        with torch.no_grad():
            for w in (*self.recognition_weights, *self.generative_weights):
                nn.init.normal_(w, 0.0, 0.01)
            for b in (*self.recognition_biases, *self.generative_biases):
                nn.init.zeros_(b)
        self.top.reset_parameters()

    @classmethod
    def from_dbn(cls, dbn: DBN, k_top: int = 10) -> "UpDownDBN":
        """Untie a pre-trained Bernoulli DBN (at least 2 RBMs): ``R_k`` and ``c_k`` copy RBM k's
        ``weight`` and hidden biases, ``G_k`` and ``b_{k-1}`` its ``weight`` (transposed) and
        visible biases, for k = 1 .. L-1; ``top`` copies RBM L's weights and biases (not its
        training options: it trains by CD-``k_top``). The DBN is left unchanged."""
        if not isinstance(dbn, DBN):
            raise TypeError(f"UpDownDBN.from_dbn needs a layerwise DBN. Got {type(dbn).__name__} instead.")
        if dbn.n_layers < 2:
            raise ValueError(
                f"UpDownDBN.from_dbn needs a DBN with at least 2 RBMs (one directed layer below the top RBM); "
                f"got one with sizes {dbn.sizes}."
            )
        for i, rbm in enumerate(dbn.rbms):
            if rbm.visible.name != "bernoulli" or rbm.hidden.name != "bernoulli":
                raise ValueError(
                    "UpDownDBN supports Bernoulli units only (sigmoid belief layers); RBM "
                    f"{i} of the DBN has visible={rbm.visible.name!r}, hidden={rbm.hidden.name!r}. "
                    "Build the DBN with visible='bernoulli', hidden='bernoulli'."
                )
        w = dbn.rbms[0].weight
        net = cls(dbn.sizes, k_top=k_top, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            for k, rbm in enumerate(dbn.rbms[:-1]):
                net.recognition_weights[k].copy_(rbm.weight)
                net.recognition_biases[k].copy_(rbm.hidden_bias)
                net.generative_weights[k].copy_(rbm.weight.T)
                net.generative_biases[k].copy_(rbm.visible_bias)
            top = dbn.rbms[-1]
            net.top.weight.copy_(top.weight)
            net.top.visible_bias.copy_(top.visible_bias)
            net.top.hidden_bias.copy_(top.hidden_bias)
        return net

    @property
    def n_layers(self) -> int:
        """Number of hidden layers L (the directed ones and the top RBM's)."""
        return len(self.sizes) - 1

    # ---- input checks -----------------------------------------------------------------------

    def validate_data(self, x: Any) -> Tensor:
        """2-d, ``sizes[0]`` features, finite, non-empty, in [0, 1] (binary, or probabilities)."""
        if isinstance(x, (tuple, list)):
            x = x[0]
        t = check_tensor("data", x, ndim=2, n_features=self.sizes[0])
        lo, hi = float(t.min()), float(t.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"'data' must lie in [0, 1] (binary values, or probabilities) for an up-down DBN; got values "
                f"in [{lo:.4g}, {hi:.4g}]. Scale or binarise it first, e.g. (x > 0.5).float()."
            )
        return t

    def _data(self, x: Any) -> Tensor:
        w = self.top.weight
        return self.validate_data(x).to(w.device, w.dtype)

    @staticmethod
    def _batch(x: Any) -> Tensor:
        return x[0] if isinstance(x, (tuple, list)) else x

    # ---- the maths ----------------------------------------------------------------------------

    def recognition_logits(self, k: int, h_below: Tensor) -> Tensor:
        """``R_{k+1} h^k + c_{k+1}``: logits of layer k+1 given layer k (k = 0 .. L-2)."""
        return F.linear(h_below, self.recognition_weights[k], self.recognition_biases[k])

    def generative_logits(self, k: int, h_above: Tensor) -> Tensor:
        """``G_{k+1} h^{k+1} + b_k``: logits of layer k given layer k+1 (k = 0 .. L-2)."""
        return F.linear(h_above, self.generative_weights[k], self.generative_biases[k])

    @torch.no_grad()
    def up(self, x: Any) -> list[Tensor]:
        """The mean recognition pass ``[h^1, ..., h^L]``: ``h^k = sigm(R_k h^{k-1} + c_k)`` for the
        directed layers, then the top RBM's ``E[h^L | h^{L-1}]``."""
        h = self._data(x)
        out = []
        for k in range(len(self.recognition_weights)):
            h = torch.sigmoid(self.recognition_logits(k, h))
            out.append(h)
        out.append(self.top._hidden_probs(h))
        return out

    @torch.no_grad()
    def transform(self, x: Any) -> Tensor:
        """Top-layer features ``h^L`` of the mean up pass, (B, sizes[-1])."""
        return self.up(x)[-1]

    @torch.no_grad()
    def down(self, h: Tensor) -> Tensor:
        """Generative down pass from a state of layer L-1: intermediate layers sampled from
        ``p(h^{k-1} | h^k)``, the probabilities ``p(v = 1 | h^1)`` at the bottom (as ``DBN.down``)."""
        h = self.top._visible_rows(h, "h")
        for k in range(len(self.generative_weights) - 1, 0, -1):
            h = sample_bernoulli(torch.sigmoid(self.generative_logits(k, h)))
        return torch.sigmoid(self.generative_logits(0, h))

    @torch.no_grad()
    def reconstruct(self, x: Any) -> Tensor:
        """Deterministic reconstruction: recognition means up to layer L-1, generative means down."""
        h = self._data(x)
        for k in range(len(self.recognition_weights)):
            h = torch.sigmoid(self.recognition_logits(k, h))
        for k in range(len(self.generative_weights) - 1, -1, -1):
            h = torch.sigmoid(self.generative_logits(k, h))
        return h

    @torch.no_grad()
    def generate(self, n: int, gibbs_steps: int = 1000) -> Tensor:
        """``n`` samples: ``gibbs_steps`` Gibbs sweeps in the top RBM (from its base-rate model),
        a binary sample of layer L-1 from the chain's last conditional, then :meth:`down`.
        Returns visible probabilities, (n, sizes[0])."""
        n = check_int("n", n, 1)
        gibbs_steps = check_int("gibbs_steps", gibbs_steps, 0)
        check_memory(f"{n} samples of UpDownDBN({self.sizes})",
                     tensor_bytes(2 * n * sum(self.sizes), self.top.weight.dtype))
        chain = self.top.sample(n, gibbs_steps)
        return self.down(sample_bernoulli(chain))

    # ---- up-down learning ---------------------------------------------------------------------

    def _wake_states(self, v: Tensor) -> list[Tensor]:
        states = [v]
        for k in range(len(self.recognition_weights)):
            states.append(sample_bernoulli(torch.sigmoid(self.recognition_logits(k, states[-1]))))
        return states

    def _sleep_states(self, top_visible: Tensor) -> list[Tensor]:
        """``[v, h^1, ..., h^{L-1}]`` of the down pass from ``h^{L-1} = top_visible``."""
        states = [top_visible]
        for k in range(len(self.generative_weights) - 1, -1, -1):
            p = torch.sigmoid(self.generative_logits(k, states[0]))
            states.insert(0, p if k == 0 else sample_bernoulli(p))
        return states

    def generative_updates(self, wake: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor], Tensor]:
        """Delta rule at wake states ``[h^0, ..., h^{L-1}]``: ``([dG_1..], [db_0..], mean log-prob)``,
        the gradient of ``mean_B sum_k log p(h^{k-1} | h^k)`` (ascent direction)."""
        n = wake[0].shape[0]
        g_w, g_b, log_p = [], [], wake[0].new_zeros(())
        for k in range(len(self.generative_weights)):
            logits = self.generative_logits(k, wake[k + 1])
            err = wake[k] - torch.sigmoid(logits)
            g_w.append(err.T @ wake[k + 1] / n)
            g_b.append(err.mean(0))
            log_p = log_p + log_bernoulli(wake[k], logits).sum() / n
        return g_w, g_b, log_p

    def recognition_updates(self, sleep: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Delta rule at sleep states ``[h^0, ..., h^{L-1}]``: ``([dR_1..], [dc_1..])``, the
        gradient of ``mean_B sum_k log q(h^k | h^{k-1})`` (ascent direction)."""
        n = sleep[0].shape[0]
        g_r, g_c = [], []
        for k in range(len(self.recognition_weights)):
            logits = self.recognition_logits(k, sleep[k])
            err = sleep[k + 1] - torch.sigmoid(logits)
            g_r.append(err.T @ sleep[k] / n)
            g_c.append(err.mean(0))
        return g_r, g_c

    def _top_negative(self, x0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Positive hidden probabilities, negative visible state (binary) and its hidden probabilities
        after ``k_top`` Gibbs sweeps started at ``x0``."""
        top = self.top
        p0 = top._hidden_probs(x0)
        h = sample_bernoulli(p0)
        for step in range(self.k_top):
            x = sample_bernoulli(top._visible_mean(h))
            p = top._hidden_probs(x)
            if step < self.k_top - 1:
                h = sample_bernoulli(p)
        return p0, x, p

    def training_step(self, batch: Any, optimizer: torch.optim.Optimizer) -> Tensor:
        """One up-down update (see the module docstring), then ``optimizer.step()``.

        Returns the wake loss ``-mean_B sum_k log p(h^{k-1} | h^k)`` over the directed layers at
        the wake states of this batch (nats, before the step): the generative part of the
        description length, which the generative updates lower. (The top RBM's term needs its
        log Z and is not included; use :meth:`lower_bound` to evaluate the model.)
        """
        with torch.no_grad():
            top = self.top
            v = self._batch(batch).to(top.weight.device, top.weight.dtype)
            n = v.shape[0]
            wake = self._wake_states(v)
            x0 = wake[-1]
            p0, x_neg, p_neg = self._top_negative(x0)
            g_tw = (p_neg.T @ x_neg - p0.T @ x0) / n          # descent gradients of the top RBM
            g_tb = x_neg.mean(0) - x0.mean(0)
            g_tc = p_neg.mean(0) - p0.mean(0)
            sleep = self._sleep_states(x_neg)
            g_w, g_b, log_p = self.generative_updates(wake)
            g_r, g_c = self.recognition_updates(sleep)
            grads = [*(g.neg() for g in (*g_r, *g_c, *g_w, *g_b)), g_tw, g_tb, g_tc]
            all_reduce_mean(grads)
        params = [*self.recognition_weights, *self.recognition_biases, *self.generative_weights,
                  *self.generative_biases, top.weight, top.visible_bias, top.hidden_bias]
        for p, g in zip(params, grads):
            p.grad = g
        optimizer.step()
        return -log_p

    @torch.no_grad()
    def metrics(self, batch: Any) -> dict[str, float]:
        """Once an epoch: ``reconstruction_error``, the squared error per sample of :meth:`reconstruct`
        (recognition means up, generative means down)."""
        v = self._batch(batch).to(self.top.weight.device, self.top.weight.dtype)
        return {"reconstruction_error": float(((v - self.reconstruct(v)) ** 2).sum(1).mean())}

    # ---- the variational lower bound ----------------------------------------------------------

    def top_log_partition(self, v: Any = None, ais_options: dict | None = None,
                          generator: torch.Generator | None = None) -> float:
        """log Z of the top RBM: exact when its smaller layer has at most ``MAX_ENUMERATED_UNITS``
        units, else AIS (``ais_options``; ``data`` defaults to the recognition codes of ``v``)."""
        top = self.top
        if min(top.n_visible, top.n_hidden) <= MAX_ENUMERATED_UNITS:
            return float(top.log_partition(method="exact"))
        opts = dict(ais_options or {})
        if v is not None and "data" not in opts and "base_visible_bias" not in opts:
            opts["data"] = self.up(v)[-2]
        if generator is not None:
            opts.setdefault("generator", generator)
        return float(top.log_partition(method="ais", **opts))

    @torch.no_grad()
    def lower_bound(self, v: Any, log_z: float | None = None, n_samples: int = 10,
                    generator: torch.Generator | None = None, ais_options: dict | None = None) -> Tensor:
        r"""Monte Carlo estimate of the variational lower bound on log p(v), per row.

        With the recognition net ``q(h|v) = prod_k q(h^k | h^{k-1})`` (factorial sigmoid layers)::

            log p(v) >= E_q[ sum_{k<L} (log p(h^{k-1}|h^k) + H(q(h^k|h^{k-1})))
                             - F_top(h^{L-1}) ] - log Z_top,

        which for a two-layer net (``sizes = [n_0, n_1, n_2]``) reads
        ``E_q[log p(v|h^1) - F_top(h^1)] - log Z_top + H(q(h^1|v))``. The entropies are
        analytic; the expectation averages ``n_samples`` upward draws of ``(h^1, ..., h^{L-1})``
        per row (an unbiased estimate of the bound). ``log_z`` defaults to
        :meth:`top_log_partition` (exact for a small top RBM). For data that are probabilities,
        ``log p(v|h)`` is the negative cross-entropy.

        Returns
        -------
        Tensor (B,)
        """
        x = self._data(v)
        n_samples = check_int("n_samples", n_samples, 1)
        if log_z is None:
            log_z = self.top_log_partition(x, ais_options, generator)
        else:
            log_z = check_real("log_z", float(log_z))
        rows = max(1, CHUNK_ELEMENTS // (n_samples * max(self.sizes)))
        return torch.cat([self._bound(x[i:i + rows], n_samples, generator) for i in range(0, x.shape[0], rows)]) - log_z

    def _bound(self, x: Tensor, n_samples: int, generator: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        h = x[:, None, :].expand(n, n_samples, x.shape[1])
        total = x.new_zeros(n, n_samples)
        for k in range(len(self.recognition_weights)):
            a = self.recognition_logits(k, h)
            u = torch.rand(a.shape, generator=generator, device=a.device, dtype=a.dtype)
            h_up = (u < torch.sigmoid(a)).to(a.dtype)
            total += bernoulli_entropy(logits=a).sum(-1) + log_bernoulli(h, self.generative_logits(k, h_up))
            h = h_up
        total -= self.top._free_energy(h.reshape(n * n_samples, -1)).reshape(n, n_samples)
        return total.mean(1)

    # ---- bookkeeping --------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Constructor arguments, for :func:`layerwise.checkpoint.load_model`."""
        return {"sizes": list(self.sizes), "k_top": self.k_top}

    def extra_repr(self) -> str:
        return str(self.sizes) + ("" if self.k_top == 10 else f", k_top={self.k_top}")

    def __repr__(self) -> str:
        return f"UpDownDBN({self.extra_repr()})"
