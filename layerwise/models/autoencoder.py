"""Autoencoders: basic, regularised (L2), sparse (L1, KL), denoising and contractive.

``h = f(x) = s_f(W_h x + b_h)``, ``y = g(h) = s_g(W_y h + b_y)``, trained by backpropagation
to minimise a reconstruction loss ``L(x, g(f(x~)))`` plus penalties (see
:meth:`AutoEncoder.training_loss`). Several hidden sizes give a deep autoencoder with a mirrored
decoder (Hinton & Salakhutdinov 2006).

References
----------
.. [HS06] G. E. Hinton, R. R. Salakhutdinov. "Reducing the dimensionality of data with neural
   networks". Science 313, 2006.
.. [V08] P. Vincent, H. Larochelle, Y. Bengio, P.-A. Manzagol. "Extracting and composing robust
   features with denoising autoencoders". ICML 2008.
.. [V10] P. Vincent et al. "Stacked denoising autoencoders". JMLR 11, 2010.
.. [R11] S. Rifai, P. Vincent, X. Muller, X. Glorot, Y. Bengio. "Contractive auto-encoders:
   explicit invariance during feature extraction". ICML 2011.
.. [Ng] A. Ng. "Sparse autoencoder". CS294A lecture notes, Stanford, 2011.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn
import torch.nn.functional as F

from .. import functional as LF
from .._validation import (check_choice, check_int, check_memory, check_real, check_rows, check_tensor,
                           check_unit_interval, dense_stack_elements, tensor_bytes)

__all__ = ["AutoEncoder"]

SPARSITIES = ("l1", "kl")
INITS = ("xavier", "gaussian")


class AutoEncoder(nn.Module):
    r"""A (deep, tied, sparse, denoising, contractive) autoencoder.

    Encoder ``n_inputs -> h_1 -> ... -> h_k`` (``nn.Linear`` + ``activation`` per layer) and the
    mirrored decoder ``h_k -> ... -> h_1 -> n_inputs`` (``activation`` between, and
    ``output_activation`` on the last layer). The code is the deepest layer ``h_k``.

    Parameters
    ----------
    n_inputs : int
        Number of input features ``D``.
    hidden_sizes : int or sequence of int
        Sizes of the encoder's layers; the last is the code size.
    activation : {"sigmoid", "tanh", "relu", "linear"}
        Activation of every hidden layer (encoder and decoder).
    output_activation : {"sigmoid", "tanh", "relu", "linear", "softmax"}, optional
        Activation of the reconstruction. Default: ``"sigmoid"`` for ``loss="bce"``,
        ``"softmax"`` for ``loss="ce"``, otherwise ``activation``, except that a relu
        autoencoder gets a linear output. ``"bce"`` needs ``"sigmoid"`` and ``"ce"`` needs
        ``"softmax"`` (both losses are computed from the logits).
    tied_weights : bool
        Decoder layer ``l`` uses ``W_l^T``, the transpose of encoder layer ``l``'s weight, with
        its own bias (one weight parameter per layer pair).
    loss : {"mse", "sse", "bce", "ce"}
        Reconstruction loss (see :mod:`layerwise.functional`): ``"mse"`` mean over features,
        ``"sse"`` half the sum over features (neon's ``SumSquared``), ``"bce"`` binary
        cross-entropy summed over features, ``"ce"`` multinomial cross-entropy; all averaged
        over the batch.
    weight_decay : float
        ``lambda`` of the penalty ``lambda sum W^2`` on the weight matrices (not the biases; a
        tied weight counts once). It is part of the loss, unlike ``fit(weight_decay=...)``,
        which decays inside the optimiser; use one or the other.
    sparsity : {None, "l1", "kl"}
        Sparsity penalty on the code: ``"l1"`` is ``sum_j |h_j|`` averaged over the batch;
        ``"kl"`` is ``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` the batch-mean
        activation of code unit ``j`` (Ng's notes). ``"kl"`` needs codes in (0, 1): sigmoid, or
        tanh codes mapped to ``(h + 1) / 2``.
    sparsity_weight : float
        Weight ``beta`` of the sparsity penalty (>= 0).
    sparsity_target : float
        Target activation ``rho`` in (0, 1) of the ``"kl"`` penalty.
    contractive_weight : float
        Weight ``lambda`` of the contractive penalty ``||J_f(x)||_F^2`` (Rifai et al. 2011),
        averaged over the batch; see :meth:`contractive_penalty`.
    noise : {None, "gaussian", "salt_and_pepper", "masking"}
        Corruption ``C(x~|x)`` of the denoising autoencoder (Vincent et al. 2008/2010), applied
        to the input only while training; the loss compares with the clean input.
    noise_level : float
        The standard deviation (``"gaussian"``, >= 0) or the probability of corrupting an
        entry (``"salt_and_pepper"`` to 0 or 1, ``"masking"`` to 0; in [0, 1]).
    init : {"xavier", "gaussian"}
        Weight initialisation: Glorot uniform, or ``N(0, 0.1^2)`` as in the lecture's neon
        example. Biases start at 0.
    device, dtype : optional
        Where and in which type to create the parameters (as in ``nn.Linear``).

    Attributes
    ----------
    encoder_layers : nn.ModuleList of nn.Linear
        ``encoder_layers[l].weight`` has shape (h_{l+1}, h_l) with ``h_0 = n_inputs``.
    decoder_layers : nn.ModuleList of nn.Linear
        Untied only: from the code back to the input, ``decoder_layers[-1]`` produces ``x``.
    decoder_biases : nn.ParameterList
        Tied only: the decoder's biases, in decoding order.
    propagate : str
        ``"mean"``: greedy pre-training feeds the next layer the codes (not samples).

    Examples
    --------
    >>> ae = AutoEncoder(64, 32, loss="bce", noise="masking", noise_level=0.25)
    >>> ae.extra_repr()
    '64, 32, loss=bce, noise=masking, noise_level=0.25'
    >>> ae.transform(torch.rand(10, 64)).shape
    torch.Size([10, 32])
    """

    propagate = "mean"

    def __init__(
        self,
        n_inputs: int,
        hidden_sizes: int | Sequence[int],
        activation: str = "sigmoid",
        output_activation: str | None = None,
        tied_weights: bool = False,
        loss: str = "mse",
        weight_decay: float = 0.0,
        sparsity: str | None = None,
        sparsity_weight: float = 0.0,
        sparsity_target: float = 0.05,
        contractive_weight: float = 0.0,
        noise: str | None = None,
        noise_level: float = 0.0,
        init: str = "xavier",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        # ---- validate every argument before building anything ------------------------------
        self.n_inputs = check_int("n_inputs", n_inputs, 1)
        if isinstance(hidden_sizes, (list, tuple)):
            if not hidden_sizes:
                raise ValueError("The 'hidden_sizes' parameter must hold at least one layer size. Got [] instead.")
            self.hidden_sizes = tuple(check_int("hidden_sizes", h, 1) for h in hidden_sizes)
        else:
            self.hidden_sizes = (check_int("hidden_sizes", hidden_sizes, 1),)
        self.activation = check_choice("activation", activation, LF.ACTIVATIONS)
        self.loss = check_choice("loss", loss, LF.LOSSES)
        if output_activation is None:
            output_activation = _default_output_activation(activation, loss)
        self.output_activation = check_choice("output_activation", output_activation, LF.OUTPUT_ACTIVATIONS)
        if loss == "bce" and output_activation != "sigmoid":
            raise ValueError(
                "loss='bce' needs output_activation='sigmoid' (the binary cross-entropy is computed "
                f"from the logits of a sigmoid output). Got output_activation={output_activation!r} instead."
            )
        if loss == "ce" and output_activation != "softmax":
            raise ValueError(
                "loss='ce' needs output_activation='softmax' (the multinomial cross-entropy is "
                f"computed from the logits of a softmax output). Got output_activation={output_activation!r} instead."
            )
        if not isinstance(tied_weights, bool):
            raise TypeError(f"The 'tied_weights' parameter must be a bool. Got {tied_weights!r} instead.")
        self.tied_weights = tied_weights
        self.weight_decay = check_real("weight_decay", weight_decay, 0.0)
        self.sparsity = check_choice("sparsity", sparsity, (None,) + SPARSITIES)
        self.sparsity_weight = check_real("sparsity_weight", sparsity_weight, 0.0)
        self.sparsity_target = check_real("sparsity_target", sparsity_target, 0.0, 1.0, low_open=True, high_open=True)
        if sparsity == "kl" and activation not in ("sigmoid", "tanh"):
            raise ValueError(
                "sparsity='kl' needs codes in (0, 1): activation='sigmoid' or 'tanh' (mapped to "
                f"(h + 1) / 2). Got activation={activation!r} instead; use sparsity='l1'."
            )
        self.contractive_weight = check_real("contractive_weight", contractive_weight, 0.0)
        self.noise = check_choice("noise", noise, (None,) + LF.NOISES)
        if noise == "gaussian":
            self.noise_level = check_real("noise_level", noise_level, 0.0)
        else:
            self.noise_level = check_real("noise_level", noise_level, 0.0, 1.0)
        self.init = check_choice("init", init, INITS)

        # ---- parameters, as in nn.Linear: weight (out, in) -----------------------------------
        factory_kwargs = {"device": device, "dtype": dtype}
        sizes = (self.n_inputs,) + self.hidden_sizes
        check_memory(f"AutoEncoder({self.n_inputs}, {list(self.hidden_sizes)}) parameters",
                     tensor_bytes(dense_stack_elements(sizes, 1 if tied_weights else 2) + sum(sizes[1:]), dtype))
        self.encoder_layers = nn.ModuleList(
            nn.Linear(sizes[i], sizes[i + 1], **factory_kwargs) for i in range(len(sizes) - 1)
        )
        back = sizes[::-1]  # (h_k, ..., h_1, n_inputs)
        if tied_weights:
            self.decoder_biases = nn.ParameterList(
                nn.Parameter(torch.empty(n, **factory_kwargs)) for n in back[1:]
            )
        else:
            self.decoder_layers = nn.ModuleList(
                nn.Linear(back[i], back[i + 1], **factory_kwargs) for i in range(len(back) - 1)
            )
        self.reset_parameters()

    # ---- parameters --------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Weights: Glorot/Xavier uniform ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``, or
        ``N(0, 0.1^2)`` for ``init="gaussian"``; biases 0 (cf. ``nn.Linear.reset_parameters``)."""
        for w in self.weights():
            if self.init == "xavier":
                nn.init.xavier_uniform_(w)
            else:
                nn.init.normal_(w, 0.0, 0.1)
        for b in self._biases():
            nn.init.zeros_(b)

    def weights(self) -> list[Tensor]:
        """The weight matrices, each once (a tied weight is listed with its encoder layer)."""
        ws = [layer.weight for layer in self.encoder_layers]
        if not self.tied_weights:
            ws += [layer.weight for layer in self.decoder_layers]
        return ws

    def _biases(self) -> list[Tensor]:
        bs = [layer.bias for layer in self.encoder_layers]
        if self.tied_weights:
            bs += list(self.decoder_biases)
        else:
            bs += [layer.bias for layer in self.decoder_layers]
        return bs

    def decoder_weight(self, i: int) -> Tensor:
        """Weight of decoder layer ``i`` (0 = the one reading the code), shape (out, in);
        ``encoder_layers[-1 - i].weight.T`` when the weights are tied."""
        if self.tied_weights:
            return self.encoder_layers[len(self.encoder_layers) - 1 - i].weight.T
        return self.decoder_layers[i].weight

    def decoder_bias(self, i: int) -> Tensor:
        """Bias of decoder layer ``i`` (0 = the one reading the code)."""
        return self.decoder_biases[i] if self.tied_weights else self.decoder_layers[i].bias

    @property
    def n_layers(self) -> int:
        """Number of encoder layers ``k``."""
        return len(self.hidden_sizes)

    @property
    def n_components(self) -> int:
        """Size of the code (the last hidden size)."""
        return self.hidden_sizes[-1]

    # ---- the maps -----------------------------------------------------------------------------

    def _input(self, x: Any) -> Tensor:
        if isinstance(x, (tuple, list)):  # (X, y) batches: the autoencoder reads X only
            x = x[0]
        w = self.encoder_layers[0].weight
        if not isinstance(x, Tensor):
            x = torch.as_tensor(x)
        if x.dtype != w.dtype or x.device != w.device:
            x = x.to(device=w.device, dtype=w.dtype)
        return x

    def _rows(self, x: Any, name: str = "x") -> Tensor:
        """The input of a public method, checked as :meth:`validate_data` checks ``fit``'s data
        (images are not flattened), on the model's device and dtype."""
        return self._input(self._check_range(check_rows(name, x, self.n_inputs), name))

    def _encode_all(self, x: Tensor) -> list[Tensor]:
        """Outputs ``h_1 ... h_k`` of every encoder layer, each (B, h_l)."""
        hs = []
        h = x
        for layer in self.encoder_layers:
            h = LF.activate(self.activation, layer(h))
            hs.append(h)
        return hs

    def _decode_logits(self, h: Tensor) -> Tensor:
        """Pre-activation ``a`` of the reconstruction (B, n_inputs): ``y = s_out(a)``."""
        last = self.n_layers - 1
        for i in range(self.n_layers):
            a = F.linear(h, self.decoder_weight(i), self.decoder_bias(i))
            if i < last:
                h = LF.activate(self.activation, a)
        return a

    def encode(self, x: Tensor) -> Tensor:
        """The code ``h_k = f(x)`` of the deepest layer, shape (B, h_k). ``x`` is checked."""
        return self._encode_all(self._rows(x))[-1]

    def decode(self, h: Tensor) -> Tensor:
        """The reconstruction ``y = g(h)`` from codes ``h``, shape (B, n_inputs). ``h`` is checked
        (``n_components`` finite values per row)."""
        return self._decode(self._input(check_rows("h", h, self.n_components)))

    def _decode(self, h: Tensor) -> Tensor:
        return LF.activate(self.output_activation, self._decode_logits(h))

    def forward(self, x: Tensor) -> Tensor:
        """The reconstruction ``g(f(x))`` of a clean input (never corrupted); differentiable, no
        input checks (:meth:`reconstruct` checks)."""
        return self._decode(self._encode_all(self._input(x))[-1])

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """``g(f(x))`` without noise and without gradients. ``x`` is checked."""
        return self.forward(self._rows(x))

    @torch.no_grad()
    def transform(self, x: Tensor) -> Tensor:
        """The codes ``f(x)`` without gradients (what greedy pre-training feeds the next layer)."""
        return self.encode(x)

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Apply the configured corruption ``x~ ~ C(x~|x)`` (identity when ``noise`` is None),
        whatever the mode; :meth:`training_loss` calls it only in training mode. ``x`` is checked."""
        return self._corrupt(self._rows(x), generator)

    def _corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return LF.corrupt(x, self.noise, self.noise_level, generator=generator)

    def encoder(self) -> nn.Sequential:
        """The encoder as ``nn.Sequential(Linear, activation, ..., Linear, activation)``.

        The ``nn.Linear`` modules are this autoencoder's own (shared, not copied): training the
        returned network (fine-tuning) changes this autoencoder's weights too. Use
        ``copy.deepcopy`` for an independent copy.
        """
        mods: list[nn.Module] = []
        for layer in self.encoder_layers:
            mods += [layer, LF.activation_module(self.activation)]
        return nn.Sequential(*mods)

    # ---- penalties ----------------------------------------------------------------------------

    def weight_penalty(self) -> Tensor:
        """``weight_decay * sum_l ||W_l||^2`` over the weight matrices (biases excluded)."""
        return self.weight_decay * LF.l2_penalty(self.weights())

    def sparsity_penalty(self, h: Tensor) -> Tensor:
        """``sparsity_weight * Omega(h)`` for codes ``h`` (B, h_k).

        ``"l1"``: ``Omega = 1/B sum_b sum_j |h_bj|``. ``"kl"``: ``Omega = sum_j KL(rho || rho_hat_j)``
        with ``rho_hat_j = 1/B sum_b h_bj`` (tanh codes are mapped to ``(h + 1) / 2`` first).
        """
        if self.sparsity is None:
            return h.new_zeros(())
        if self.sparsity == "l1":
            return self.sparsity_weight * LF.l1_penalty(h)
        p = (h + 1.0) / 2.0 if self.activation == "tanh" else h
        return self.sparsity_weight * LF.kl_sparsity(p.mean(dim=0), self.sparsity_target)

    def contractive_penalty(self, x: Tensor) -> Tensor:
        """``||J_f(x)||_F^2`` per sample, shape (B,), for the encoder ``f`` to the code (Rifai et
        al. 2011): ``sum_j s'(a_j)^2 ||W_j||^2`` for one layer, the exact product
        ``J = D_k W_k ... D_1 W_1`` for deeper encoders (see
        :func:`layerwise.functional.contractive_penalty`). Not multiplied by the weight."""
        return self._contractive(self._encode_all(self._rows(x)))

    def _contractive(self, hs: list[Tensor]) -> Tensor:
        derivs = [LF.activation_derivative(self.activation, h) for h in hs]
        return LF.contractive_penalty([layer.weight for layer in self.encoder_layers], derivs)

    # ---- the training contract ----------------------------------------------------------------

    def training_loss(self, x: Tensor) -> Tensor:
        r"""Loss of a batch ``x`` (B, n_inputs), averaged over the batch:

        ``L(x, g(f(x~))) + weight_decay sum ||W||^2 + beta Omega(h) + lambda 1/B sum_b ||J_f(x~_b)||_F^2``

        with ``x~ = corrupt(x)`` in training mode and ``x~ = x`` in eval mode; the loss compares
        with the clean ``x``. The sparsity and contractive terms are taken at the encoder's
        actual input ``x~`` (reusing its forward pass).
        """
        x = self._input(x)
        x_in = self._corrupt(x) if self.training else x
        hs = self._encode_all(x_in)
        loss = LF.reconstruction_loss(self.loss, self._decode_logits(hs[-1]), x, self.output_activation)
        if self.weight_decay > 0:
            loss = loss + self.weight_penalty()
        if self.sparsity is not None and self.sparsity_weight > 0:
            loss = loss + self.sparsity_penalty(hs[-1])
        if self.contractive_weight > 0:
            loss = loss + self.contractive_weight * self._contractive(hs).mean()
        return loss

    def validate_data(self, x: Any) -> Tensor:
        """Check data before training: 2-d, ``n_inputs`` features, finite, non-empty; in [0, 1]
        for ``loss="bce"``; non-negative for ``loss="ce"``. Returns it as a float tensor."""
        if isinstance(x, (tuple, list)):
            x = x[0]
        return self._check_range(check_tensor("data", x, ndim=2, n_features=self.n_inputs), "data")

    def _check_range(self, t: Tensor, name: str) -> Tensor:
        """In [0, 1] for ``loss="bce"``, non-negative for ``loss="ce"``."""
        if self.loss == "bce":
            check_unit_interval(name, t, "loss='bce' (binary cross-entropy)")
        elif self.loss == "ce" and float(t.min()) < 0.0:
            raise ValueError(
                f"'{name}' must be non-negative for loss='ce' (multinomial cross-entropy); got a "
                f"minimum of {float(t.min()):.4g}. Choose another loss or shift the data."
            )
        return t

    @torch.no_grad()
    def metrics(self, x: Tensor) -> dict[str, float]:
        """Reconstruction quality of clean inputs (no noise), for monitoring once an epoch:

        ``reconstruction_error``: mean squared error per feature, ``1/(B D) sum (y - x)^2``;
        ``sse_per_image``: ``1/B sum_b sum_i (y_bi - x_bi)^2``, the squared error per image
        that Hinton & Salakhutdinov (2006) report (not halved).
        """
        x = self._input(x)
        err = (self.forward(x) - x).pow(2)
        return {
            "reconstruction_error": float(err.mean()),
            "sse_per_image": float(err.sum(dim=1).mean()),
        }

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable): ``AutoEncoder(**ae.config())`` rebuilds it."""
        return {
            "n_inputs": self.n_inputs,
            "hidden_sizes": list(self.hidden_sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "tied_weights": self.tied_weights,
            "loss": self.loss,
            "weight_decay": self.weight_decay,
            "sparsity": self.sparsity,
            "sparsity_weight": self.sparsity_weight,
            "sparsity_target": self.sparsity_target,
            "contractive_weight": self.contractive_weight,
            "noise": self.noise,
            "noise_level": self.noise_level,
            "init": self.init,
        }

    def extra_repr(self) -> str:
        hidden = self.hidden_sizes[0] if len(self.hidden_sizes) == 1 else list(self.hidden_sizes)
        parts = [str(self.n_inputs), str(hidden)]
        defaults = {
            "activation": "sigmoid",
            "output_activation": _default_output_activation(self.activation, self.loss),
            "tied_weights": False,
            "loss": "mse",
            "weight_decay": 0.0,
            "sparsity": None,
            "sparsity_weight": 0.0,
            "sparsity_target": 0.05,
            "contractive_weight": 0.0,
            "noise": None,
            "noise_level": 0.0,
            "init": "xavier",
        }
        for name, default in defaults.items():
            value = getattr(self, name)
            if value != default:
                parts.append(f"{name}={value}")
        return ", ".join(parts)


def _default_output_activation(activation: str, loss: str) -> str:
    """``"sigmoid"`` for bce, ``"softmax"`` for ce, else the hidden activation (relu -> linear)."""
    if loss == "bce":
        return "sigmoid"
    if loss == "ce":
        return "softmax"
    return "linear" if activation == "relu" else activation
