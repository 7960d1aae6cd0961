"""Supervised networks: a feature network with a classifier head, and fine-tuning.

:class:`Classifier` puts a linear head on any feature network (the :class:`~layerwise.pretraining.Stack`
of :func:`layerwise.pretrain`, the baseline of :func:`build_mlp`, a CNN of
:func:`layerwise.models.cnn.build_network`) and trains through :func:`layerwise.fit`;
:func:`finetune` does both in one call. :class:`CNNClassifier` is a named (or configured) CNN
with its head, rebuildable from a checkpoint.

Models (``DBN.to_classifier``, ``DBM.to_classifier``) build on this module, so it imports only
what lies below the models: the training loop, :mod:`layerwise.functional` and the CNN builders.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import functional as LF
from .._validation import batch_data, check_choice, check_int, check_tensor
from ..training import History, as_arrays, fit
from .cnn import build_network

__all__ = ["CNNClassifier", "Classifier", "build_mlp", "finetune"]


def build_mlp(n_inputs: int, hidden_sizes: Sequence[int], activation: str = "sigmoid",
              init: str = "xavier") -> nn.Sequential:
    """A randomly initialised network with the same structure as :func:`layerwise.pretrain`'s result.

    ``Sequential(Sequential(Linear, act), ...)``: the baseline that pre-training is compared with.
    ``init`` is ``"xavier"`` (uniform, biases 0, as the autoencoders use), ``"gaussian"``
    (N(0, 0.1^2), the lecture's neon code) or ``"torch"`` (``nn.Linear``'s default).
    """
    check_int("n_inputs", n_inputs, 1)
    check_choice("activation", activation, LF.ACTIVATIONS)
    check_choice("init", init, ("xavier", "gaussian", "torch"))
    blocks = []
    for n_in, n_out in zip([n_inputs, *hidden_sizes[:-1]], hidden_sizes):
        lin = nn.Linear(n_in, check_int("hidden_sizes[i]", n_out, 1))
        _init_linear(lin, init)
        blocks.append(nn.Sequential(lin, LF.activation_module(activation)))
    return nn.Sequential(*blocks)


def _init_linear(lin: nn.Linear, init: str) -> None:
    if init == "xavier":
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
    elif init == "gaussian":
        nn.init.normal_(lin.weight, 0.0, 0.1)
        nn.init.zeros_(lin.bias)


def _out_features(network: nn.Module) -> int:
    if isinstance(getattr(network, "n_features", None), int):
        return network.n_features  # e.g. a CNN of layerwise.models.cnn.build_cnn
    last = None
    for m in network.modules():
        if isinstance(m, nn.Linear):
            last = m.out_features
    if last is None:
        raise ValueError("Cannot tell the network's output size: it has no nn.Linear; pass n_features=.")
    return last


def _in_features(network: nn.Module) -> int | None:
    """Width of the input rows when the network's first layer with weights is an ``nn.Linear``, else None."""
    first = next((m for m in network.modules() if not list(m.children()) and any(True for _ in m.parameters())), None)
    return first.in_features if isinstance(first, nn.Linear) else None


class Classifier(nn.Module):
    """A feature network with a classifier head, trained through :func:`layerwise.fit`.

    Parameters
    ----------
    body : nn.Module
        The (pre-trained or random) feature network.
    n_classes : int
        Number of classes.
    loss : {"cross_entropy", "bce"}
        ``"cross_entropy"``: softmax outputs, L = -log p(y|x). ``"bce"``: one logistic unit per
        class trained on one-hot targets with binary cross-entropy, as in the lecture's
        neon example (Affine 2 logistic, CrossEntropyBinary).
    n_features : int, optional
        Output size of ``body``; found from its last ``nn.Linear`` when omitted.
    init : {"xavier", "gaussian", "torch"}
        Initialisation of the head, as in :func:`build_mlp`.
    device, dtype : optional
        Of the head, as for ``nn.Linear`` (the body is taken as it is).
    """

    def __init__(self, body: nn.Module, n_classes: int, loss: str = "cross_entropy",
                 n_features: int | None = None, init: str = "xavier", *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.n_classes = check_int("n_classes", n_classes, 2)
        self.loss = check_choice("loss", loss, ("cross_entropy", "bce"))
        self.body = body
        self.head = nn.Linear(n_features or _out_features(body), n_classes, device=device, dtype=dtype)
        _init_linear(self.head, init)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, n_classes)."""
        return self.head(self.body(x.reshape(x.shape[0], -1)))

    def validate_data(self, x: Any) -> Tensor:
        """Finite, non-empty rows (or images, flattened to rows) of the width the body takes.

        The width is checked when the body starts with an ``nn.Linear`` (an MLP, a pre-trained stack);
        other bodies check their own input. Returns the data as a float tensor; raises ValueError
        naming the bad width.
        """
        return self._check_input(x, "data")

    def _check_input(self, x: Any, name: str) -> Tensor:
        t = check_tensor(name, batch_data(x), ndim=(2, 3, 4))
        width = _in_features(self.body)
        got = int(t[0].numel())
        if width is not None and got != width:
            raise ValueError(f"'{name}' has {got} features per row, but this classifier's network takes {width}.")
        return t

    def _inputs(self, x: Any) -> Tensor:
        """The input of :meth:`predict` and friends: checked as ``fit`` checks its data, on the
        model's device and dtype."""
        p = next(self.parameters())
        return self._check_input(x, "x").to(p.device, p.dtype)

    def training_loss(self, batch) -> Tensor:
        x, y = batch
        logits = self(x)
        if self.loss == "bce":
            return F.binary_cross_entropy_with_logits(
                logits, F.one_hot(y, self.n_classes).to(logits.dtype), reduction="sum") / x.shape[0]
        return F.cross_entropy(logits, y)

    def metrics(self, batch) -> dict[str, float]:
        x, y = batch
        return {"accuracy": float((self(x).argmax(1) == y).float().mean())}

    @torch.no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """Class probabilities: softmax of the logits (normalised logistic outputs for ``bce``)."""
        self.eval()
        logits = self(self._inputs(x))
        if self.loss == "bce":
            p = torch.sigmoid(logits)
            return p / p.sum(1, keepdim=True)
        return torch.softmax(logits, 1)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Most probable class per row. ``x`` is checked (finite, the network's width)."""
        self.eval()
        return self(self._inputs(x)).argmax(1)

    def accuracy(self, x: Tensor, y: Tensor) -> float:
        """Fraction of rows of ``x`` classified as ``y`` (one label per row)."""
        y = torch.as_tensor(y)
        pred = self.predict(x)
        if y.shape != pred.shape:
            raise ValueError(f"'y' must hold one label per row of 'x' (shape {tuple(pred.shape)}); "
                             f"got shape {tuple(y.shape)}.")
        return float((pred.cpu() == y.cpu()).float().mean())


def finetune(
    network: nn.Module,
    data: Any,
    n_classes: int | None = None,
    *,
    loss: str = "cross_entropy",
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 0.1,
    **fit_options: Any,
) -> tuple[Classifier, History]:
    """Append a classifier head to ``network`` and train everything with labels.

    Parameters
    ----------
    network : nn.Module
        Usually the :class:`~layerwise.pretraining.Stack` from :func:`layerwise.pretrain`, or
        :func:`build_mlp` for the baseline. Its parameters are trained too (fine-tuning, not a
        frozen feature map).
    data : tuple (X, y)
        Labelled inputs; ``y`` int class indices in [0, n_classes).
    n_classes : int, optional
        Defaults to ``max(y) + 1``.
    loss : {"cross_entropy", "bce"}
        See :class:`Classifier`.
    epochs, batch_size, lr, **fit_options
        Passed to :func:`layerwise.fit` (``validation=(X_val, y_val)`` reports ``val_accuracy``).

    Returns
    -------
    (Classifier, History)
    """
    arrays = as_arrays(data, "data")
    if len(arrays) != 2:
        raise ValueError(f"finetune needs labelled data (X, y); got {len(arrays)} array(s).")
    x, y = arrays
    if y.is_floating_point() or y.dim() != 1:
        raise ValueError(f"Labels 'y' must be a 1-d array of int class indices; got dtype {y.dtype}, shape {tuple(y.shape)}.")
    if int(y.min()) < 0:
        raise ValueError(f"Labels 'y' must be >= 0; got {int(y.min())}.")
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    if int(y.max()) >= n_classes:
        raise ValueError(f"Labels 'y' must lie in [0, {n_classes}); got {int(y.max())}.")
    model = Classifier(network, max(n_classes, 2), loss=loss)
    fit_options.setdefault("desc", "fine-tune")
    history = fit(model, (x.reshape(x.shape[0], -1), y.long()), epochs=epochs,
                  batch_size=batch_size, lr=lr, **fit_options)
    return model, history


class CNNClassifier(Classifier):
    """A named (or configured) CNN of :func:`~layerwise.models.cnn.build_network` with a linear
    head, rebuildable from a checkpoint (``config()``), trained by :func:`layerwise.fit` on flat
    rows with labels.

    Parameters
    ----------
    network : str or mapping
        As ``config`` of :func:`~layerwise.models.cnn.build_network` (``"cnn-1"``, ``"cnn-2"``,
        ``"resnet-18"``, or blocks and hidden sizes).
    in_shape : (C, H, W)
        Image shape.
    n_classes : int
        Number of classes.
    loss : {"cross_entropy", "bce"}
        As in :class:`Classifier`.
    device, dtype : optional
        As for ``nn.Conv2d`` and ``nn.Linear``.

    Examples
    --------
    >>> clf = CNNClassifier("cnn-1", (1, 28, 28), 10)
    >>> clf(torch.zeros(2, 784)).shape
    torch.Size([2, 10])
    """

    def __init__(self, network: str | Mapping[str, Any] = "cnn-1", in_shape: Sequence[int] = (1, 28, 28),
                 n_classes: int = 10, loss: str = "cross_entropy", *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        body = build_network(network, tuple(in_shape), device=device, dtype=dtype)
        super().__init__(body, n_classes, loss=loss, n_features=body.n_features, device=device, dtype=dtype)
        self.network = network if isinstance(network, str) else {
            "blocks": [list(b) for b in network.get("blocks", [])], "hidden": list(network.get("hidden", []))}
        self.in_shape = tuple(int(v) for v in in_shape)

    @property
    def n_inputs(self) -> int:
        """Input size C*H*W of one flat row."""
        c, h, w = self.in_shape
        return c * h * w

    def _check_input(self, x: Any, name: str) -> Tensor:
        """Images as flat rows (N, C*H*W), (N, C, H, W), or (N, H, W) when C = 1; finite and
        non-empty. Returns them as a float tensor; raises ValueError naming the bad shape."""
        t = check_tensor(name, batch_data(x), ndim=(2, 3, 4))
        c, h, w = self.in_shape
        if t.dim() == 2 and t.shape[1] != self.n_inputs:
            raise ValueError(f"'{name}' has {t.shape[1]} features, but this CNN takes {self.n_inputs} = "
                             f"{self.in_shape} per image.")
        if t.dim() == 3 and (c != 1 or tuple(t.shape[1:]) != (h, w)):
            raise ValueError(f"'{name}' has images of shape {tuple(t.shape[1:])}; this CNN takes {self.in_shape}"
                             f" ({c} channel(s)).")
        if t.dim() == 4 and tuple(t.shape[1:]) != self.in_shape:
            raise ValueError(f"'{name}' has images of shape {tuple(t.shape[1:])}; this CNN takes {self.in_shape}"
                             f" ({c} channel(s)).")
        return t

    def config(self) -> dict[str, Any]:
        """Constructor arguments: ``CNNClassifier(**clf.config())`` rebuilds it."""
        return {"network": self.network, "in_shape": list(self.in_shape), "n_classes": self.n_classes, "loss": self.loss}
