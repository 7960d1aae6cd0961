"""Gradient clipping and mixed precision for :func:`layerwise.fit` (its ``clip_grad_norm=`` and
``precision=`` options).

Both apply to models trained by autograd through ``training_loss(batch)``: the autoencoders,
the classifiers and the CNNs. A model with its own ``training_step`` (the RBM's and DBM's
contrastive-divergence updates, the SBN's wake-sleep, the up-down DBN, ISTA in convolutional
sparse coding) computes its update in closed form, without gradients: there is no gradient to
clip, and its Gibbs sampling and sufficient statistics need float32 or wider, so ``fit``
refuses both options for it, saying so.

``precision``
    ``"32"`` (the default) trains as before. ``"bf16"`` and ``"fp16"`` run the forward pass and
    the loss under :func:`torch.autocast` (matrix products and convolutions in the low
    precision; reductions, logarithms and losses in float32, by autocast's own op lists), while
    the parameters, their gradients and the optimiser stay float32. ``"fp16"`` also scales the
    loss with :class:`torch.amp.GradScaler` (a step whose gradients overflow is skipped and the
    scale lowered); its scale is not saved in checkpoints, so a resumed fp16 run restarts it
    and is not bitwise the uninterrupted run. bfloat16 has float32's range and needs no scaler;
    it works on CPUs and recent GPUs. Validation and ``metrics`` run in float32.
``clip_grad_norm``
    Rescale the gradients of all parameters together so that their global L2 norm is at most
    this value before each optimiser step (:func:`torch.nn.utils.clip_grad_norm_`; with fp16,
    on the unscaled gradients).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ._validation import check_choice, check_real

__all__ = ["PRECISIONS", "check_grad_options", "grad_options_config", "GradStep"]

PRECISIONS = ("32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_grad_options(model: nn.Module, has_step: bool, precision: Any, clip_grad_norm: Any) -> tuple[str, float | None]:
    """Check ``precision`` and ``clip_grad_norm`` for ``model``; return them normalised.

    Raises
    ------
    ValueError
        For a value out of range, or an option the model cannot take: a model with its own
        ``training_step`` (closed-form updates), or mixed precision on parameters that are not
        float32.
    """
    if isinstance(precision, int) and not isinstance(precision, bool):
        precision = str(precision)
    precision = check_choice("precision", precision, PRECISIONS)
    if clip_grad_norm is not None:
        clip_grad_norm = check_real("clip_grad_norm", clip_grad_norm, 0.0, math.inf, low_open=True, high_open=True)
    name = type(model).__name__
    if has_step and clip_grad_norm is not None:
        raise ValueError(
            f"clip_grad_norm={clip_grad_norm!r} clips the gradients of training_loss, but {name} trains "
            "with its own training_step (a closed-form update, such as contrastive divergence's, with no "
            "gradient to clip). Bound its steps with a smaller lr or with weight_decay instead.")
    if precision != "32":
        if has_step:
            raise ValueError(
                f"precision={precision!r} (mixed precision) is for models trained by autograd through "
                f"training_loss (autoencoders, classifiers, CNNs); {name} trains with its own training_step, "
                "whose sampling and statistics need float32 or wider. Use precision='32'.")
        wide = sorted({str(p.dtype).replace("torch.", "") for p in model.parameters()
                       if p.is_floating_point() and p.dtype != torch.float32})
        if wide:
            raise ValueError(f"precision={precision!r} autocasts a float32 model; {name} has {', '.join(wide)} "
                             "parameters. Use precision='32', or a float32 model.")
    return precision, clip_grad_norm


def grad_options_config(precision: str, clip_grad_norm: float | None) -> dict[str, Any]:
    """The options' entries of a run's settings, checked on resume (a checkpoint written before
    they existed lacks them, and resume compares only the keys both have)."""
    return {"precision": precision, "clip_grad_norm": clip_grad_norm}


class GradStep:
    """One autograd step with autocast, loss scaling and clipping: ``step(batch) -> loss``.

    Parameters
    ----------
    module : nn.Module
        Its ``forward(batch)`` returns the batch's loss (``fit``'s wrapper of ``training_loss``,
        DDP-wrapped under ``torchrun``).
    model : nn.Module
        The model whose parameters are clipped.
    optimizer : torch.optim.Optimizer
        Steps the parameters.
    device : torch.device
        Where the model runs (autocast's device type).
    precision : {"32", "bf16", "fp16"}
        See the module docstring.
    clip_grad_norm : float, optional
        The largest global gradient norm.

    Attributes
    ----------
    scaler : torch.amp.GradScaler or None
        The loss scaler of fp16.
    """

    def __init__(self, module: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer,
                 device: torch.device, precision: str = "32", clip_grad_norm: float | None = None) -> None:
        self.module, self.optimizer, self.device_type = module, optimizer, device.type
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.dtype = _DTYPES.get(precision)
        self.clip = clip_grad_norm
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    @classmethod
    def build(cls, module: nn.Module, model: nn.Module, optimizer, device: torch.device, precision: str,
              clip_grad_norm: float | None) -> "GradStep | None":
        """The step, or None at the defaults (``fit``'s own plain step then runs)."""
        if optimizer is None or (precision == "32" and clip_grad_norm is None):
            return None
        return cls(module, model, optimizer, device, precision, clip_grad_norm)

    def __call__(self, batch: Any) -> torch.Tensor:
        opt = self.optimizer
        opt.zero_grad(set_to_none=True)
        if self.dtype is None:
            loss = self.module(batch)
        else:
            with torch.autocast(self.device_type, dtype=self.dtype):
                loss = self.module(batch)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.clip is not None:
                self.scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(self.params, self.clip)
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            if self.clip is not None:
                nn.utils.clip_grad_norm_(self.params, self.clip)
            opt.step()
        return loss.detach().float()
