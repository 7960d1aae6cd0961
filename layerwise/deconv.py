"""Deconvolutional networks: one namespace for the convolutional side of layerwise.

- :class:`DeconvNet` — Zeiler & Fergus (2014): project a trained CNN's feature maps back to
  pixel space (switch unpooling -> ReLU -> transposed convolution, layer by layer);
  :func:`projection_figure` draws the paper's figure 2 (top-k projections beside their inputs).
- :class:`ConvSparseCoding` — Zeiler, Krishnan, Taylor & Fergus (2010): filters and sparse
  feature maps, inference by ISTA / FISTA, filters learned through :func:`layerwise.fit`.
- :class:`ConvAutoEncoder` — conv/ReLU/max-pool encoder with an unpooling decoder, a layer
  learner of :func:`layerwise.pretrain` whose encoders initialise a CNN.
- :func:`build_cnn`, :data:`CNN_CONFIGS` (``"cnn-1"``, ``"cnn-2"``), :class:`CNNClassifier`,
  :func:`load_pretrained_convs`.

>>> import layerwise as lw
>>> net = lw.deconv.build_cnn("cnn-1", (1, 28, 28))
>>> lw.deconv.DeconvNet(net).n_layers
1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch

from . import plots
from ._validation import check_int
from .models.cnn import CNN_CONFIGS, CNNClassifier, build_cnn, conv_layers, describe_cnn, load_pretrained_convs
from .models.conv_autoencoder import ConvAutoEncoder
from .models.csc import ConvSparseCoding, plot_csc, soft_threshold, stack_maps
from .models.deconv import DeconvNet, TopActivations, conv_transpose, unpool

__all__ = ["CNNClassifier", "CNN_CONFIGS", "ConvAutoEncoder", "ConvSparseCoding", "DeconvNet", "TopActivations", "build_cnn",
           "conv_layers", "conv_transpose", "describe_cnn", "load_pretrained_convs", "plot_csc", "projection_figure",
           "soft_threshold", "stack_maps", "strongest_channels", "unpool"]


@torch.no_grad()
def strongest_channels(deconvnet: DeconvNet, data: Any, layer: int, n: int = 4, batch_size: int = 256) -> list[int]:
    """The ``n`` feature maps of ``layer`` with the largest activation anywhere in ``data``."""
    n = check_int("n", n, 1)
    x = deconvnet._images(data)
    best = None
    for i in range(0, x.shape[0], batch_size):
        m = deconvnet.features(x[i:i + batch_size], layer).flatten(2).amax(dim=(0, 2))
        best = m if best is None else torch.maximum(best, m)
    return best.topk(min(n, best.numel())).indices.tolist()


def projection_figure(deconvnet: DeconvNet, data: Any, path: str | os.PathLike, layers: Sequence[int] | int | None = None,
                      channels: Sequence[int] | None = None, top: int = 9, title: str | None = None) -> Path:
    """Write Zeiler & Fergus's figure 2 for a trained CNN: for each chosen layer and feature map,
    the projections of its ``top`` strongest activations in ``data`` (receptive-field crops)
    beside the input patches that produced them.

    Parameters
    ----------
    deconvnet : DeconvNet
        Attached to the trained CNN.
    data : Tensor
        Images to search (flat rows or (N, C, H, W)).
    path : path-like
        The PNG to write.
    layers : int or sequence of int, optional
        Conv layer indices (from 0); all layers when None.
    channels : sequence of int, optional
        Feature maps to show in every chosen layer; when None, each layer's 4 maps with the
        strongest activations.
    top : int
        Inputs per feature map.
    title : str, optional
        Title above the figure.
    """
    if layers is None:
        layers = list(range(deconvnet.n_layers))
    elif isinstance(layers, int):
        layers = [layers]
    rows = {}
    for layer in layers:
        deconvnet._check_layer(layer)
        chosen = list(channels) if channels is not None else strongest_channels(deconvnet, data, layer)
        for c in chosen:
            t = deconvnet.top_activations(data, layer, c, k=top)
            rows[f"layer {layer}, map {c}"] = (t.projection_patches, t.image_patches)
    return plots.plot_projections(rows, path, title=title)
