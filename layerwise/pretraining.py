"""Greedy layer-wise pre-training.

Hinton, Osindero & Teh (2006) and Bengio, Lamblin, Popovici & Larochelle (2007): train
layer 1 (an autoencoder or an RBM) on the data x; keep its encoder, drop its decoder;
train layer 2 on the codes h1 = f1(x); ...; stack the encoders into a feed-forward network,
then append a classifier head and fine-tune the whole network with labels
(:func:`layerwise.finetune`, in :mod:`layerwise.models.classifier`).

:func:`pretrain` is generic over *layer learners*: any ``nn.Module`` that trains through
:func:`layerwise.fit` and provides

``encoder() -> nn.Module``
    the feed-forward piece to keep (sharing the learner's trained parameters);
``transform(x) -> codes``
    the codes passed to the next layer (means: h = E[h | x]);
``propagate`` (optional, ``"mean"`` or ``"sample"``) and ``sample_code(x)``
    where a learner says the next layer should see samples (as a DBN may);
``init_from_data(x)`` (optional)
    called once with the layer's training data before it trains (an RBM sets its visible
    biases from the base rates, as Hinton's practical guide advises).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ._validation import check_choice
from .training import History, as_arrays, fit

__all__ = ["Stack", "pretrain"]


class Stack(nn.Sequential):
    """The pre-trained encoders as an ``nn.Sequential``, with what pre-training recorded.

    Attributes
    ----------
    histories : list of History
        One per layer, from :func:`layerwise.fit`.
    seconds : list of float
        Wall-clock pre-training time per layer.
    learners : list of nn.Module
        The trained layer learners (their decoders too, for pictures).
    """

    def __init__(self, *modules: nn.Module):
        super().__init__(*modules)
        self.histories: list[History] = []
        self.seconds: list[float] = []
        self.learners: list[nn.Module] = []


def _per_layer(name: str, value: Any, n: int) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"'{name}' has {len(value)} entries, but there are {n} layer learners; give one "
                f"value for all layers or exactly one per layer."
            )
        return list(value)
    return [value] * n


def _n_inputs(learner: nn.Module) -> int | None:
    for attr in ("n_inputs", "n_visible", "in_features"):
        if isinstance(getattr(learner, attr, None), int):
            return getattr(learner, attr)
    return None


def pretrain(
    layer_learners: Sequence[nn.Module | Callable[[int], nn.Module]],
    data: Any,
    epochs: int | Sequence[int] = 10,
    batch_size: int | Sequence[int] = 64,
    lr: float | Sequence[float] = 0.01,
    *,
    propagate: str | None = None,
    checkpoint_dir: str | None = None,
    progress: bool | str = True,
    callbacks: Sequence = (),
    **fit_options: Any,
) -> Stack:
    """Train layer learners greedily, each on the codes of the one below; stack their encoders.

    Parameters
    ----------
    layer_learners : sequence of nn.Module or callables
        The learners, bottom first. A callable is called with the input size of its layer
        (``lambda n: AutoEncoder(n, 64)``), so sizes need not be written twice.
    data : tensor, array, or tuple (X, y)
        Unlabelled training inputs; labels, if given, are ignored.
    epochs, batch_size, lr : value or one value per layer
        Passed to :func:`layerwise.fit`.
    propagate : {"mean", "sample"}, optional
        What the next layer trains on; by default each learner's own ``propagate``
        attribute (``"mean"`` when absent): codes' means, or samples from q(h | x).
    checkpoint_dir : path-like, optional
        Run folder; layer k is checkpointed under ``layer{k}/``.
    progress : bool or {"auto", "bar", "lines", "off"}
        Progress display of each layer's fit (see :mod:`layerwise.progress`).
    callbacks : sequence
        Passed to every layer's fit.
    **fit_options
        Any other :func:`layerwise.fit` option (optimizer, momentum, weight_decay, device,
        seed, ...); a list gives one value per layer.

    Returns
    -------
    Stack
        An ``nn.Sequential`` of the learners' encoders (sharing their parameters), with
        ``histories``, ``seconds`` and ``learners``.
    """
    n_layers = len(layer_learners)
    if n_layers == 0:
        raise ValueError("'layer_learners' is empty; give at least one layer learner.")
    if propagate is not None:
        check_choice("propagate", propagate, ("mean", "sample"))
    x = as_arrays(data, "data")[0]
    if x.dim() != 2:
        x = x.reshape(x.shape[0], -1)
    options = {k: _per_layer(k, v, n_layers) for k, v in
               {"epochs": epochs, "batch_size": batch_size, "lr": lr, **fit_options}.items()}
    stack = Stack()
    codes = x
    for k, learner in enumerate(layer_learners):
        if not isinstance(learner, nn.Module) and callable(learner):
            learner = learner(codes.shape[1])
        for need in ("encoder", "transform"):
            if not callable(getattr(learner, need, None)):
                raise TypeError(
                    f"Layer learner {k + 1} ({type(learner).__name__}) has no {need}() method; "
                    "a layer learner needs encoder() and transform() besides training_loss."
                )
        expected = _n_inputs(learner)
        if expected is not None and expected != codes.shape[1]:
            below = "the data has" if k == 0 else f"layer {k} produces"
            raise ValueError(
                f"Layer learner {k + 1} ({type(learner).__name__}) expects {expected} inputs, "
                f"but {below} {codes.shape[1]} features."
            )
        if callable(getattr(learner, "init_from_data", None)):
            learner.init_from_data(codes)  # e.g. an RBM's visible biases from the base rates
        run = dict(progress=progress, callbacks=callbacks,
                   desc=f"pretrain layer {k + 1}/{n_layers}",
                   **{name: values[k] for name, values in options.items()})
        if checkpoint_dir is not None:
            run["checkpoint_dir"] = Path(checkpoint_dir) / f"layer{k + 1}"
        t0 = time.perf_counter()
        history = fit(learner, codes, **run)
        stack.seconds.append(time.perf_counter() - t0)
        stack.histories.append(history)
        stack.learners.append(learner)
        stack.append(learner.encoder())
        if k + 1 < n_layers:
            mode = propagate or getattr(learner, "propagate", "mean")
            with torch.no_grad():
                if mode == "sample":
                    if not callable(getattr(learner, "sample_code", None)):
                        raise TypeError(f"propagate='sample' needs {type(learner).__name__}.sample_code(x).")
                    codes = learner.sample_code(codes)
                else:
                    codes = learner.transform(codes)
            codes = codes.detach()
    return stack

