"""Convolutional autoencoder: conv -> ReLU -> max-pool blocks and their deconvnet mirror.

Encoder block ``l``: ``h_l = maxpool(relu(conv(h_{l-1}; W_l) + b_l))``, recording the pooling
switches. Decoder block ``l`` (mirrored, top first): unpool with those switches -> ReLU ->
transposed convolution (with ``W_l`` itself when ``tied``, the deconvnet of Zeiler & Fergus, or
with its own filters) + a bias; the bottom block's output goes through ``output_activation``.
The loss is a reconstruction loss of :mod:`layerwise.functional`, with optional denoising
corruption of the input as in the fully-connected :class:`layerwise.AutoEncoder`.

Trained end to end (several blocks) or greedily block by block as layer learners of
:func:`layerwise.pretrain` (one block each: flat rows in, flat codes out); the encoders then
initialise a CNN of :mod:`layerwise.models.cnn` (:func:`~layerwise.models.cnn.load_pretrained_convs`).

References
----------
.. [M11] J. Masci, U. Meier, D. Ciresan, J. Schmidhuber. "Stacked convolutional auto-encoders
   for hierarchical feature extraction". ICANN 2011.
.. [ZF14] M. D. Zeiler, R. Fergus. "Visualizing and understanding convolutional networks". ECCV 2014.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import functional as LF
from .._validation import (as_float_tensor, batch_data, check_choice, check_int, check_memory, check_real, check_rows,
                           check_tensor, check_unit_interval, tensor_bytes)

__all__ = ["ConvAutoEncoder"]


class ConvAutoEncoder(nn.Module):
    """A convolutional autoencoder with switch unpooling (flat rows in, flat codes out).

    Parameters
    ----------
    in_shape : (C, H, W)
        Shape of one input image; inputs are rows of C*H*W values (or (B, C, H, W) tensors).
    channels : int or sequence of int
        Feature maps of each encoder block.
    kernel_size : int
        Odd filter size; convolutions are padded to keep the spatial size.
    pool : int
        Max-pool window (and stride) of every block; 1 for none.
    tied : bool
        Decode with the encoder's own filters (the deconvnet mirror) instead of separate ones.
    loss : {"mse", "sse", "bce"}
        Reconstruction loss; ``"bce"`` needs inputs in [0, 1] and gives a sigmoid output.
    output_activation : {"linear", "sigmoid", "relu", "tanh"}, optional
        Default: sigmoid for ``"bce"``, linear otherwise.
    noise : {None, "gaussian", "masking", "salt_and_pepper"}
        Denoising corruption of the input during training (see :func:`layerwise.functional.corrupt`).
    noise_level : float
        Its level (sigma, or the fraction of pixels).
    device, dtype : optional
        As for ``nn.Conv2d``.

    Examples
    --------
    >>> cae = ConvAutoEncoder((1, 28, 28), [16, 32], kernel_size=5)
    >>> cae.transform(torch.rand(3, 784)).shape       # 32 maps of 7x7, flattened
    torch.Size([3, 1568])
    """

    def __init__(self, in_shape: Sequence[int], channels: int | Sequence[int] = 16, kernel_size: int = 5,
                 pool: int = 2, *, tied: bool = False, loss: str = "mse", output_activation: str | None = None,
                 noise: str | None = None, noise_level: float = 0.0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        if not isinstance(in_shape, (tuple, list)) or len(in_shape) != 3:
            raise ValueError(f"'in_shape' must be (channels, height, width); got {in_shape!r}.")
        self.in_shape = tuple(check_int(f"in_shape[{i}]", v, 1) for i, v in enumerate(in_shape))
        chans = [channels] if isinstance(channels, int) else list(channels)
        if not chans:
            raise ValueError("'channels' is empty; give the feature maps of at least one block.")
        self.channels = [check_int("channels", c, 1) for c in chans]
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"The 'kernel_size' parameter must be odd (padding keeps the size). Got {kernel_size!r} instead.")
        self.pool = check_int("pool", pool, 1)
        self.tied = bool(tied)
        self.loss = check_choice("loss", loss, ("mse", "sse", "bce"))
        default_out = "sigmoid" if loss == "bce" else "linear"
        self.output_activation = check_choice("output_activation", output_activation or default_out,
                                              ("linear", "sigmoid", "relu", "tanh"))
        self.noise = check_choice("noise", noise, (None, "gaussian", "masking", "salt_and_pepper"))
        self.noise_level = check_real("noise_level", noise_level, 0.0)
        fk = {"device": device, "dtype": dtype}
        c, h, w = self.in_shape
        sizes = [c] + self.channels
        weights = self.kernel_size ** 2 * sum(a * b for a, b in zip(sizes, sizes[1:]))
        check_memory(f"ConvAutoEncoder({list(self.in_shape)}, {self.channels}) parameters",
                     tensor_bytes((1 if self.tied else 2) * weights + 2 * sum(sizes), dtype))
        self.shapes = [(c, h, w)]  # input shape of every block, then the code's
        convs, decs = [], []
        for i, out in enumerate(self.channels):
            if self.pool > 1 and (h < self.pool or w < self.pool):
                raise ValueError(f"Block {i} gets {h}x{w} maps, smaller than the {self.pool}x{self.pool} pool; "
                                 "use fewer blocks, pool=1 or larger images.")
            convs.append(nn.Conv2d(c, out, self.kernel_size, padding=self.kernel_size // 2, **fk))
            decs.append(nn.ConvTranspose2d(out, c, self.kernel_size, padding=self.kernel_size // 2,
                                           bias=True, **fk) if not self.tied else None)
            c, h, w = out, h // self.pool, w // self.pool
            self.shapes.append((c, h, w))
        self.convs = nn.ModuleList(convs)
        self.decoders = nn.ModuleList([d for d in decs if d is not None])
        self.decoder_biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(s[0], **fk)) for s in self.shapes[:-1]] if self.tied else [])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-uniform filters for the ReLU encoder (``nn.Conv2d``'s default), zero biases."""
        for conv in self.convs:
            nn.init.kaiming_uniform_(conv.weight, a=math.sqrt(5))
            nn.init.zeros_(conv.bias)
        for dec in self.decoders:
            nn.init.kaiming_uniform_(dec.weight, a=math.sqrt(5))
            nn.init.zeros_(dec.bias)

    @property
    def n_inputs(self) -> int:
        """Input size C*H*W (what :func:`layerwise.pretrain` checks)."""
        c, h, w = self.in_shape
        return c * h * w

    @property
    def n_components(self) -> int:
        """Size of the flat code."""
        c, h, w = self.shapes[-1]
        return c * h * w

    # ---- maps ---------------------------------------------------------------------------------

    def _images(self, x: Any) -> Tensor:
        if isinstance(x, (tuple, list)):
            x = x[0]
        w = self.convs[0].weight
        x = torch.as_tensor(x).to(w.device, w.dtype)
        return x.reshape(x.shape[0], *self.in_shape)

    def _encode(self, x: Tensor) -> tuple[Tensor, list]:
        switches = []
        for conv in self.convs:
            size = x.shape[-2:]
            x = F.relu(conv(x))
            if self.pool > 1:
                pre = x.shape[-2:]
                x, idx = F.max_pool2d(x, self.pool, return_indices=True)
                switches.append((idx, pre, size))
            else:
                switches.append((None, x.shape[-2:], size))
        return x, switches

    def _decode_logits(self, z: Tensor, switches: list) -> Tensor:
        for i in range(len(self.convs) - 1, -1, -1):
            idx, pre, size = switches[i]
            if idx is not None:
                z = LF.unpool(z, idx, pre)
            z = F.relu(z)
            if self.tied:
                conv = self.convs[i]
                z = F.conv_transpose2d(z, conv.weight, self.decoder_biases[i], padding=self.kernel_size // 2)
            else:
                z = self.decoders[i](z)
            if i > 0:
                z = F.relu(z)
        return z

    def _checked(self, x: Any, name: str = "x") -> Tensor:
        """The input of a public method: rows of C*H*W values or images (B, ...) of as many, finite,
        in [0, 1] for ``loss="bce"`` (as :meth:`validate_data`), as (B, C, H, W) on the model's device."""
        t = as_float_tensor(name, batch_data(x))
        if t.dim() > 2:
            t = t.reshape(t.shape[0], -1)
        t = check_rows(name, t, self.n_inputs)
        if self.loss == "bce":
            check_unit_interval(name, t, "loss='bce' (binary cross-entropy)")
        return self._images(t)

    def encode(self, x: Any) -> Tensor:
        """The code maps (B, C_k, H_k, W_k) of the top block. ``x`` is checked."""
        return self._encode(self._checked(x))[0]

    def forward(self, x: Any) -> Tensor:
        """Reconstruction (B, C, H, W) of a clean input; differentiable, no input checks
        (:meth:`reconstruct` checks)."""
        z, switches = self._encode(self._images(x))
        return LF.activate(self.output_activation, self._decode_logits(z, switches))

    @torch.no_grad()
    def reconstruct(self, x: Any) -> Tensor:
        """Reconstruction, flat (B, C*H*W), without gradients. ``x`` is checked."""
        return self.forward(self._checked(x)).flatten(1)

    @torch.no_grad()
    def transform(self, x: Any) -> Tensor:
        """Flat codes (B, n_components): what greedy pre-training feeds the next block."""
        return self.encode(x).flatten(1)

    def corrupt(self, x: Any, generator: torch.Generator | None = None) -> Tensor:
        """The configured corruption of ``x`` (identity when ``noise`` is None), as flat rows."""
        return LF.corrupt(self._checked(x), self.noise, self.noise_level, generator=generator).flatten(1)

    def encoder(self) -> nn.Sequential:
        """The encoder as ``Unflatten, (Conv2d, ReLU, MaxPool2d)*, Flatten`` sharing this model's
        convolutions: flat rows in, flat codes out (a :func:`layerwise.pretrain` stack entry)."""
        mods: list[nn.Module] = [nn.Unflatten(1, self.in_shape)]
        for conv in self.convs:
            mods += [conv, nn.ReLU()] + ([nn.MaxPool2d(self.pool)] if self.pool > 1 else [])
        return nn.Sequential(*mods, nn.Flatten())

    # ---- training contract ----------------------------------------------------------------------

    def training_loss(self, batch: Any) -> Tensor:
        """Reconstruction loss of the clean input from its (corrupted, in training) version,
        averaged over the batch (``"mse"``: mean over pixels; ``"sse"``/``"bce"``: summed)."""
        x = self._images(batch)
        x_in = LF.corrupt(x, self.noise, self.noise_level) if self.training else x
        z, switches = self._encode(x_in)
        a = self._decode_logits(z, switches)
        return LF.reconstruction_loss(self.loss, a.flatten(1), x.flatten(1), self.output_activation)

    def validate_data(self, x: Any) -> Tensor:
        """Rows of C*H*W values or (B, C, H, W) images, finite; in [0, 1] for ``loss="bce"``."""
        if isinstance(x, (tuple, list)):
            x = x[0]
        t = check_tensor("data", x, ndim=(2, 4))
        if t.dim() == 4 and tuple(t.shape[1:]) != self.in_shape:
            raise ValueError(f"'data' has images of shape {tuple(t.shape[1:])}; this autoencoder takes {self.in_shape}"
                             f" ({self.in_shape[0]} channel(s)).")
        if t.dim() == 2 and t.shape[1] != self.n_inputs:
            raise ValueError(f"'data' has {t.shape[1]} features, but this autoencoder takes {self.n_inputs} = "
                             f"{self.in_shape} per image.")
        if self.loss == "bce":
            check_unit_interval("data", t, "loss='bce' (binary cross-entropy)")
        return t

    @torch.no_grad()
    def metrics(self, batch: Any) -> dict[str, float]:
        """Mean squared reconstruction error per pixel, and the fraction of active code units."""
        x = self._images(batch)
        z, switches = self._encode(x)
        y = LF.activate(self.output_activation, self._decode_logits(z, switches))
        return {"reconstruction_error": float((y - x).pow(2).mean()), "active_codes": float((z > 0).float().mean())}

    def config(self) -> dict[str, Any]:
        """Constructor arguments: ``ConvAutoEncoder(**cae.config())`` rebuilds it."""
        return {"in_shape": list(self.in_shape), "channels": list(self.channels), "kernel_size": self.kernel_size,
                "pool": self.pool, "tied": self.tied, "loss": self.loss, "output_activation": self.output_activation,
                "noise": self.noise, "noise_level": self.noise_level}

    def extra_repr(self) -> str:
        return (f"in_shape={self.in_shape}, channels={self.channels}, kernel_size={self.kernel_size}, "
                f"pool={self.pool}" + (", tied=True" if self.tied else "") + f", loss={self.loss!r}")
