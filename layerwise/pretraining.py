"""Greedy layer-wise pre-training, then supervised fine-tuning.

Hinton, Osindero & Teh (2006) and Bengio, Lamblin, Popovici & Larochelle (2007): train
layer 1 (an autoencoder or an RBM) on the data x; keep its encoder, drop its decoder;
train layer 2 on the codes h1 = f1(x); ...; stack the encoders into a feed-forward network,
append a classifier head and fine-tune the whole network with labels.

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
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from . import functional as LF
from ._validation import check_choice, check_int
from .training import History, as_arrays, fit

__all__ = ["pretrain", "finetune", "Classifier", "Stack", "build_mlp"]



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
    progress: bool = True,
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
    progress : bool
        Progress bars.
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
            from pathlib import Path

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


def build_mlp(n_inputs: int, hidden_sizes: Sequence[int], activation: str = "sigmoid",
              init: str = "xavier") -> nn.Sequential:
    """A randomly initialised network with the same structure as :func:`pretrain`'s result.

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
    """

    def __init__(self, body: nn.Module, n_classes: int, loss: str = "cross_entropy",
                 n_features: int | None = None, init: str = "xavier"):
        super().__init__()
        self.n_classes = check_int("n_classes", n_classes, 2)
        self.loss = check_choice("loss", loss, ("cross_entropy", "bce"))
        self.body = body
        self.head = nn.Linear(n_features or _out_features(body), n_classes)
        _init_linear(self.head, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes)."""
        return self.head(self.body(x.reshape(x.shape[0], -1)))

    def training_loss(self, batch) -> torch.Tensor:
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
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities: softmax of the logits (normalised logistic outputs for ``bce``)."""
        self.eval()
        logits = self(x)
        if self.loss == "bce":
            p = torch.sigmoid(logits)
            return p / p.sum(1, keepdim=True)
        return torch.softmax(logits, 1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Most probable class per row."""
        self.eval()
        return self(x).argmax(1)

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of rows of ``x`` classified as ``y``."""
        device = next(self.parameters()).device
        return float((self.predict(x.to(device)).cpu() == y.cpu()).float().mean())


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
        Usually the :class:`Stack` from :func:`pretrain`, or :func:`build_mlp` for the
        baseline. Its parameters are trained too (fine-tuning, not a frozen feature map).
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
