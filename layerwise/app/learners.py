"""Layer learners for the variants of a ``compare`` run: pre-train a network from a checked
:class:`~layerwise.app.config.Variant`, or build it fresh (random initialisation)."""

from __future__ import annotations

from typing import Any

import torch

from ..models.autoencoder import AutoEncoder
from ..models.classifier import build_mlp
from ..models.cnn import CNN_CONFIGS, build_cnn, build_network, load_pretrained_convs
from ..models.conv_autoencoder import ConvAutoEncoder
from ..models.dbm import DBM
from ..models.dbn import DBN
from ..models.rbm import RBM
from ..pretraining import pretrain
from ..training import fit
from .config import RunConfig, Variant
from .data import Prepared, image_shape

__all__ = ["pretrain_variant", "fresh_network", "first_weight", "histories"]


def fresh_network(cfg: RunConfig, data: Prepared) -> torch.nn.Module:
    """The network of ``cfg`` with random initialisation: the named CNN, else the MLP of the network section."""
    if cfg.network.cnn is not None:
        return build_network(cfg.network.cnn, image_shape(data.image_shape, "A CNN"))
    return build_mlp(data.train_x.shape[1], cfg.network.hidden_sizes, cfg.network.activation, cfg.network.init)


def pretrain_variant(cfg: RunConfig, variant: Variant, x: torch.Tensor, seed: int, progress: bool,
                     shape: tuple[int, ...] = ()) -> tuple[torch.nn.Module, list, Any]:
    """Pre-train one variant on the unlabelled ``x``.

    Parameters
    ----------
    cfg : RunConfig
        The run (its network section and device).
    variant : Variant
        The checked variant (``cfg.learners[name]``).
    x : tensor (n, D)
        The training images, flattened.
    seed : int
        Seed of every fit.
    progress : bool
        Show progress bars.
    shape : tuple
        One image's shape (for conv autoencoders).

    Returns
    -------
    network : nn.Module
        The encoder to fine-tune.
    learners : list
        The trained layer learners, bottom first.
    record : object
        What holds the training histories (``histories`` or ``histories_``).
    """
    kind, options = variant.learner, variant.options
    fit_options = variant.train.fit_kwargs(cfg.device, seed)
    sizes = cfg.network.hidden_sizes
    if kind == "conv_autoencoder":  # greedy, one conv autoencoder per block of the CNN
        in_shape = image_shape(shape, "A CNN")
        makers = []
        for channels, kernel, pool in CNN_CONFIGS[cfg.network.cnn]["blocks"]:
            makers.append(lambda n, s=in_shape, c=channels, k=kernel, p=pool:
                          ConvAutoEncoder(s, c, k, p, **options))
            in_shape = (channels, in_shape[1] // pool, in_shape[2] // pool)
        stack = pretrain(makers, x, progress=progress, **fit_options)
        network = load_pretrained_convs(build_cnn(cfg.network.cnn, image_shape(shape, "A CNN")), stack)
        return network, stack.learners, stack
    if kind == "dbm":  # greedy pre-training with doubled inputs, then joint training, same settings
        dbm = DBM([x.shape[1], *sizes], **options)
        dbm.pretrain(x, progress=progress, **fit_options)
        dbm.histories_ = [*dbm.histories_, fit(dbm, x, progress=progress, desc="DBM joint training", **fit_options)]
        return dbm.encoder(), [dbm], dbm
    if kind == "dbn":
        dbn = DBN([x.shape[1], *sizes], **options)
        dbn.pretrain(x, progress=progress, **fit_options)
        return dbn.encoder(), list(dbn.rbms), dbn
    if kind == "rbm":
        makers = [lambda n, h=h: RBM(n, h, **options) for h in sizes]
    else:
        act = cfg.network.activation
        makers = [lambda n, h=h: AutoEncoder(n, [h], activation=act, **options) for h in sizes]
    stack = pretrain(makers, x, progress=progress, **fit_options)
    return stack, stack.learners, stack


def histories(record: Any) -> list:
    """The training histories of a pre-training record (a Stack's ``histories``, a model's ``histories_``)."""
    return list(getattr(record, "histories", None) or getattr(record, "histories_", None) or [[]])


def first_weight(learner: Any) -> torch.Tensor:
    """The first layer's weight matrix (n_hidden, n_inputs) of an autoencoder or an RBM, or the
    first convolution's filters (K, C, s, s)."""
    if isinstance(learner, ConvAutoEncoder):
        return learner.convs[0].weight.detach().cpu()
    if isinstance(learner, DBM):
        return learner.weights[0].detach().cpu()
    w = getattr(learner, "weight", None)
    return (w if isinstance(w, torch.Tensor) else learner.weights()[0]).detach().cpu()
