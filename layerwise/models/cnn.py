"""A small family of convolutional networks, built from a config (no torchvision).

A network is ``Unflatten -> [Conv2d -> ReLU -> MaxPool2d] x blocks -> Flatten ->
[Linear -> ReLU] x hidden``, as an ``nn.Sequential`` that takes flat rows (N, C*H*W) like every
data set of layerwise, so that :class:`layerwise.Classifier` puts a linear head on it and
:func:`layerwise.finetune` / :func:`layerwise.fit` train it unchanged (the named CNN with its
head, :class:`~layerwise.models.classifier.CNNClassifier`, lives beside ``Classifier``).
Convolutions are padded to keep the spatial size ("same" for odd kernels); each 2x2 max pool
halves it.

The lecture names CNN-1 and CNN-2 without their sizes; ours (LeNet-like, Zeiler & Fergus's
conv -> ReLU -> max-pool block)::

    cnn-1: conv 32 @ 5x5 -> pool 2 -> fc 128                       28x28: 28 -> 14;  32x32: 32 -> 16
    cnn-2: conv 32 @ 5x5 -> pool 2 -> conv 64 @ 5x5 -> pool 2 -> fc 128
                                                        28x28: 28 -> 14 -> 7; 32x32: 32 -> 16 -> 8
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from .._validation import check_int
from .resnet import build_resnet18

__all__ = ["CNN_CONFIGS", "RESNETS", "build_cnn", "build_network", "describe_cnn", "network_names", "conv_layers", "load_pretrained_convs"]

#: Named networks: conv blocks as (channels, kernel, pool) and the hidden fully-connected sizes.
CNN_CONFIGS: dict[str, dict[str, Any]] = {
    "cnn-1": {"blocks": [(32, 5, 2)], "hidden": [128]},
    "cnn-2": {"blocks": [(32, 5, 2), (64, 5, 2)], "hidden": [128]},
    "cnn-tiny": {"blocks": [(8, 3, 2)], "hidden": []},  # for tests and the 8x8 digits demo
}


def _check_shape(in_shape: Any) -> tuple[int, int, int]:
    if not isinstance(in_shape, (tuple, list)) or len(in_shape) != 3:
        raise ValueError(f"'in_shape' must be (channels, height, width); got {in_shape!r}.")
    return tuple(check_int(f"in_shape[{i}]", v, 1) for i, v in enumerate(in_shape))  # type: ignore[return-value]


def _blocks(config: str | Mapping[str, Any]) -> tuple[list[tuple[int, int, int]], list[int]]:
    if isinstance(config, str):
        if config not in CNN_CONFIGS:
            raise ValueError(f"Unknown network {config!r}; the named networks are {network_names()}.")
        config = CNN_CONFIGS[config]
    unknown = set(config) - {"blocks", "hidden"}
    if unknown:
        raise ValueError(f"Unknown CNN config key(s) {sorted(unknown)}; the keys are 'blocks' and 'hidden'.")
    blocks = []
    for i, block in enumerate(config.get("blocks", [])):
        if not isinstance(block, (tuple, list)) or len(block) != 3:
            raise ValueError(f"blocks[{i}] must be (channels, kernel, pool); got {block!r}.")
        blocks.append((check_int(f"blocks[{i}].channels", block[0], 1), check_int(f"blocks[{i}].kernel", block[1], 1),
                       check_int(f"blocks[{i}].pool", block[2], 1)))
    if not blocks:
        raise ValueError("A CNN needs at least one conv block in 'blocks'.")
    hidden = [check_int(f"hidden[{i}]", h, 1) for i, h in enumerate(config.get("hidden", []))]
    return blocks, hidden


def describe_cnn(config: str | Mapping[str, Any]) -> str:
    """One line for reports: ``"conv 32@5x5 -> pool 2 -> fc 128"`` (prefixed by the name when named)."""
    if isinstance(config, str) and config in RESNETS:
        return f"{config} (ResNet-18, widths {RESNETS[config]}-{8 * RESNETS[config]}, 3x3 stem)"
    blocks, hidden = _blocks(config)
    parts = []
    for channels, kernel, pool in blocks:
        parts.append(f"conv {channels}@{kernel}x{kernel}" + (f" -> pool {pool}" if pool > 1 else ""))
    parts += [f"fc {h}" for h in hidden]
    text = " -> ".join(parts)
    return f"{config} ({text})" if isinstance(config, str) else text


def build_cnn(config: str | Mapping[str, Any], in_shape: Sequence[int], *,
              device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> nn.Sequential:
    """The feature network of a CNN (no classifier head): flat rows in, features out.

    Parameters
    ----------
    config : str or mapping
        A name from :data:`CNN_CONFIGS` (``"cnn-1"``, ``"cnn-2"``) or
        ``{"blocks": [(channels, kernel, pool), ...], "hidden": [sizes]}``.
    in_shape : (C, H, W)
        Shape of one image; the network's input rows have C*H*W values.
    device, dtype : optional
        As for ``nn.Conv2d`` and ``nn.Linear``.

    Returns
    -------
    nn.Sequential
        ``Unflatten, (Conv2d, ReLU, MaxPool2d)*, Flatten, (Linear, ReLU)*``; its ``n_features``
        attribute is the output size. Put a head on it with ``layerwise.Classifier(net, n_classes)``.

    Examples
    --------
    >>> net = build_cnn("cnn-2", (1, 28, 28))
    >>> net(torch.zeros(2, 784)).shape
    torch.Size([2, 128])
    """
    c, h, w = _check_shape(in_shape)
    blocks, hidden = _blocks(config)
    fk = {"device": device, "dtype": dtype}
    layers: list[nn.Module] = [nn.Unflatten(1, (c, h, w))]
    for i, (channels, kernel, pool) in enumerate(blocks):
        if kernel > h + 2 * (kernel // 2) or kernel > w + 2 * (kernel // 2):
            raise ValueError(f"Block {i}'s {kernel}x{kernel} kernel does not fit its {h}x{w} input.")
        layers += [nn.Conv2d(c, channels, kernel, padding=kernel // 2, **fk), nn.ReLU()]
        h, w = h + 2 * (kernel // 2) - kernel + 1, w + 2 * (kernel // 2) - kernel + 1
        if pool > 1:
            if pool > h or pool > w:
                raise ValueError(f"Block {i}'s {pool}x{pool} pool does not fit its {h}x{w} maps; "
                                 "use fewer blocks or a larger image.")
            layers.append(nn.MaxPool2d(pool))
            h, w = h // pool, w // pool
        c = channels
    layers.append(nn.Flatten())
    n = c * h * w
    for size in hidden:
        layers += [nn.Linear(n, size, **fk), nn.ReLU()]
        n = size
    net = nn.Sequential(*layers)
    net.n_features = n
    return net


#: Named residual networks (see :mod:`layerwise.models.resnet`): name -> first-stage width.
RESNETS: dict[str, int] = {"resnet-18": 64, "resnet-18-w16": 16}


def network_names() -> list[str]:
    """Every named convolutional network: :data:`CNN_CONFIGS` and :data:`RESNETS`."""
    return sorted(CNN_CONFIGS) + sorted(RESNETS)


def build_network(config: str | Mapping[str, Any], in_shape: Sequence[int], *,
                  device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> nn.Sequential:
    """:func:`build_cnn`, or :func:`layerwise.models.resnet.build_resnet18` for a name in
    :data:`RESNETS` (``"resnet-18"``, ``"resnet-18-w16"`` with a quarter of the width).

    ``device`` and ``dtype`` are passed to the layers, as for ``nn.Conv2d``."""
    if isinstance(config, str) and config in RESNETS:
        return build_resnet18(tuple(in_shape), RESNETS[config], device=device, dtype=dtype)
    if isinstance(config, str) and config not in CNN_CONFIGS:
        raise ValueError(f"Unknown network {config!r}; the named networks are {network_names()}.")
    return build_cnn(config, in_shape, device=device, dtype=dtype)


def conv_layers(network: nn.Module) -> list[nn.Conv2d]:
    """The ``Conv2d`` modules of ``network``, in forward order."""
    return [m for m in network.modules() if isinstance(m, nn.Conv2d)]


@torch.no_grad()
def load_pretrained_convs(network: nn.Module, pretrained: nn.Module) -> nn.Module:
    """Copy the filters of ``pretrained``'s convolutions into ``network``'s first ones, in order.

    ``pretrained`` is typically the :class:`layerwise.models.conv_autoencoder.ConvAutoEncoder`
    stack returned by :func:`layerwise.pretrain`, ``network`` a CNN of :func:`build_cnn` (or a
    :class:`layerwise.Classifier` around one). Shapes must agree layer by layer.

    Returns
    -------
    network, initialised in place.
    """
    source, target = conv_layers(pretrained), conv_layers(network)
    if not source:
        raise ValueError(f"{type(pretrained).__name__} has no Conv2d layer to copy from.")
    if len(source) > len(target):
        raise ValueError(f"The pre-trained network has {len(source)} convolutions, the target only {len(target)}.")
    for i, (s, t) in enumerate(zip(source, target)):
        if s.weight.shape != t.weight.shape:
            raise ValueError(f"Convolution {i}: pre-trained filters {tuple(s.weight.shape)} do not fit the "
                             f"network's {tuple(t.weight.shape)}.")
        t.weight.copy_(s.weight)
        if t.bias is not None:
            if s.bias is not None:
                t.bias.copy_(s.bias)
            else:
                t.bias.zero_()
    return network

