"""A model's summary: its layers, parameters, parameter memory and (where cheap) output shapes.

:func:`summary` works on any ``torch.nn.Module``. Each row is a module that holds parameters or
buffers of its own (a ``Linear``, a ``Conv2d``, an RBM with its weight and biases), or a leaf
module (an activation); with ``input_size`` given, one forward pass on zeros (no gradients, the
random state untouched) records each row's output shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import nn

from ._validation import check_int

__all__ = ["LayerRow", "ModelSummary", "summary"]


@dataclass
class LayerRow:
    """One row of a :class:`ModelSummary`."""

    name: str
    kind: str
    params: int
    trainable: int
    output_shape: tuple[int, ...] | None = None


@dataclass
class ModelSummary:
    """What :func:`summary` returns; ``str()`` gives the table.

    Attributes
    ----------
    model : str
        The model's class name.
    rows : list of LayerRow
    total_params, trainable_params : int
        Parameters (elements) in all, and those with ``requires_grad``.
    param_bytes, buffer_bytes : int
        Memory of the parameters and of the buffers (persistent chains, running statistics).
    """

    model: str
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    param_bytes: int = 0
    buffer_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The totals, for a run's summary (``results.csv``, JSON)."""
        return {"parameters": self.total_params, "trainable_parameters": self.trainable_params,
                "parameter_bytes": self.param_bytes, "buffer_bytes": self.buffer_bytes}

    def __str__(self) -> str:
        shapes = any(r.output_shape is not None for r in self.rows)
        head = ["layer", "type"] + (["output shape"] if shapes else []) + ["parameters"]
        body = [[r.name or "(model)", r.kind] + ([_shape(r.output_shape)] if shapes else []) + [f"{r.params:,}"]
                for r in self.rows]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        line = "  ".join
        out = [line(h.ljust(w) for h, w in zip(head, widths)), line("-" * w for w in widths)]
        out += [line([c.ljust(w) for c, w in zip(row[:-1], widths)] + [row[-1].rjust(widths[-1])]) for row in body]
        out += [f"{self.model}: {self.total_params:,} parameters ({self.trainable_params:,} trainable), "
                f"{_bytes(self.param_bytes)} of parameters, {_bytes(self.buffer_bytes)} of buffers"]
        return "\n".join(s.rstrip() for s in out)


def _shape(shape) -> str:
    return "-" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def summary(model: nn.Module, input_size: Sequence[int] | None = None) -> ModelSummary:
    """Summarise ``model``: one row per layer, with parameter counts and memory.

    Parameters
    ----------
    model : nn.Module
        Any module (a layerwise model, an ``nn.Sequential`` from :func:`layerwise.pretrain`).
    input_size : sequence of int, optional
        The shape of one sample (``(784,)``, ``(1, 28, 28)``). When given, the model's
        ``forward`` runs once on a batch of two zero samples (in eval mode, without gradients, with
        torch's random state forked) and each row gets its output shape (the batch
        dimension shown as 2). Models whose ``forward`` needs more than one input have no
        shapes.

    Returns
    -------
    ModelSummary
        ``print(lw.summary(model))`` shows the table.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary() takes a torch.nn.Module. Got {type(model).__name__} instead.")
    if input_size is not None:
        if isinstance(input_size, int) and not isinstance(input_size, bool):
            input_size = (input_size,)
        if not isinstance(input_size, Sequence) or not input_size:
            raise TypeError(f"The 'input_size' parameter must be a sequence of ints (one sample's shape). "
                            f"Got {input_size!r} instead.")
        input_size = tuple(check_int(f"input_size[{i}]", s, 1) for i, s in enumerate(input_size))
    out = ModelSummary(model=type(model).__name__)
    rows: dict[nn.Module, LayerRow] = {}
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        has_own = own or list(module.buffers(recurse=False))
        if has_own or not list(module.children()):
            rows[module] = LayerRow(name, type(module).__name__, sum(p.numel() for p in own),
                                    sum(p.numel() for p in own if p.requires_grad))
    params = list(model.parameters())
    out.total_params = sum(p.numel() for p in params)
    out.trainable_params = sum(p.numel() for p in params if p.requires_grad)
    out.param_bytes = sum(p.numel() * p.element_size() for p in params)
    out.buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    if input_size is not None:
        _trace_shapes(model, rows, input_size)
    out.rows = list(rows.values())
    return out


def _trace_shapes(model: nn.Module, rows: dict[nn.Module, LayerRow], input_size: tuple[int, ...]) -> None:
    def hook(module, args, result):
        if isinstance(result, torch.Tensor):
            rows[module].output_shape = tuple(result.shape)

    handles = [m.register_forward_hook(hook) for m in rows]
    first = next(iter(model.parameters()), None)
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.get_default_dtype()
    device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            model.eval()
            model(torch.zeros((2, *input_size), dtype=dtype, device=device))
    except Exception:  # noqa: BLE001 - a forward that needs other inputs: no shapes
        for row in rows.values():
            row.output_shape = None
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
