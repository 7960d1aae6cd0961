"""Zeiler & Fergus (2014) feature projection: a deconvnet attached to a trained CNN.

A convolutional layer is conv -> ReLU -> max pool. Its mirror maps a feature map back to the
layer's input: **unpool** (:func:`layerwise.functional.unpool`: each value goes back to the
position of the maximum its pooling window chose, recorded as a "switch" on the forward pass;
zeros elsewhere) -> **ReLU** -> **transposed convolution** with the same filters (the adjoint of
the convolution, ``F.conv_transpose2d`` with the CNN's own weight, no bias). Applied layer by
layer down to the input, it shows which pixels a feature responds to.

    M. D. Zeiler, R. Fergus. Visualizing and understanding convolutional networks. ECCV 2014.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._validation import check_choice, check_int, check_tensor
from ..functional import unpool

__all__ = ["DeconvNet", "TopActivations", "conv_transpose"]

_SHAPE_OPS = (nn.Flatten, nn.Unflatten)
_SKIPPED = (nn.Dropout, nn.Dropout2d, nn.Identity)  # identities at evaluation time


def _padding(conv: nn.Conv2d) -> tuple[int, int]:
    if conv.padding_mode != "zeros":
        raise ValueError(f"{conv} pads with {conv.padding_mode!r}; DeconvNet supports zero padding only.")
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return (0, 0)
        pads = []
        for k, d in zip(conv.kernel_size, conv.dilation):
            total = d * (k - 1)
            if total % 2:
                raise ValueError(f"{conv} pads 'same' asymmetrically (even kernel); give integer padding instead.")
            pads.append(total // 2)
        return tuple(pads)  # type: ignore[return-value]
    return tuple(conv.padding)  # type: ignore[return-value]


def conv_transpose(y: Tensor, conv: nn.Conv2d, input_size: Sequence[int]) -> Tensor:
    """The adjoint of ``conv`` (without its bias): ``<conv(x) - bias, y> = <x, conv_transpose(y)>``.

    ``F.conv_transpose2d`` with the convolution's own weight, stride, padding, dilation and
    groups; ``output_padding`` recovers the exact input size ``input_size`` (H, W) that a strided
    convolution leaves ambiguous.
    """
    pad = _padding(conv)
    out_pad = []
    for i in range(2):
        k, s, d = conv.kernel_size[i], conv.stride[i], conv.dilation[i]
        natural = (y.shape[2 + i] - 1) * s - 2 * pad[i] + d * (k - 1) + 1
        out_pad.append(input_size[-2 + i] - natural)
    return F.conv_transpose2d(y, conv.weight, None, conv.stride, pad, tuple(out_pad), conv.groups, conv.dilation)


@dataclass
class TopActivations:
    """The inputs that excite one feature map most (see :meth:`DeconvNet.top_activations`).

    Attributes
    ----------
    indices : Tensor (k,)
        Rows of the data, strongest first.
    values : Tensor (k,)
        The feature map's largest activation in each of them.
    positions : Tensor (k, 2)
        Where in the map (row, column) that activation is.
    images : Tensor (k, C, H, W)
        The inputs.
    projections : Tensor (k, C, H, W)
        Their projections of that single strongest activation (``mode="max"``).
    boxes : Tensor (k, 4)
        The receptive field of each activation in pixels: top, left, bottom, right (exclusive;
        may reach past the image border).
    image_patches, projection_patches : Tensor (k, C, r, r)
        The inputs and projections cropped to those boxes (zero outside the image).
    """

    indices: Tensor
    values: Tensor
    positions: Tensor
    images: Tensor
    projections: Tensor
    boxes: Tensor
    image_patches: Tensor
    projection_patches: Tensor


class DeconvNet:
    """Project the feature maps of a trained CNN back to pixel space (Zeiler & Fergus 2014).

    Parameters
    ----------
    cnn : nn.Module
        A trained network whose modules, in registration order, are ``Conv2d``, ``ReLU`` and
        ``MaxPool2d`` blocks (with ``Flatten`` / ``Unflatten`` reshapes and ``Dropout`` /
        ``Identity`` anywhere): a :func:`layerwise.models.cnn.build_cnn` network, a
        :class:`layerwise.Classifier` around one, a pre-trained conv-autoencoder stack, or any
        ``nn.Sequential`` of that form. Whatever follows the last convolution's block (``Linear``
        layers, heads) is not needed and is ignored. Any other layer before it (``BatchNorm2d``,
        another activation, average pooling) is refused with an error naming it: its mirror is
        not defined by the method.

    Attributes
    ----------
    n_layers : int
        Number of convolutional layers; ``layer`` arguments index them from 0 (bottom).
    channels : list of int
        Feature maps per convolutional layer.

    Notes
    -----
    For conv layer ``L`` the projected feature map is the output of its block: conv -> ReLU ->
    max pool (when there is one). Going down, each block is mirrored as unpool (switches) ->
    ReLU -> :func:`conv_transpose`. Switches are those of the image being projected.

    Examples
    --------
    >>> from layerwise.models.cnn import build_cnn
    >>> net = build_cnn("cnn-2", (1, 28, 28))
    >>> deconv = DeconvNet(net)
    >>> deconv.project(torch.rand(4, 784), layer=1, channel=3, mode="max").shape
    torch.Size([4, 1, 28, 28])
    """

    def __init__(self, cnn: nn.Module):
        if not isinstance(cnn, nn.Module):
            raise TypeError(f"DeconvNet needs a torch.nn.Module; got {type(cnn).__name__}.")
        leaves = [m for m in cnn.modules() if not list(m.children())]
        convs = [i for i, m in enumerate(leaves) if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ValueError(f"{type(cnn).__name__} has no nn.Conv2d layer: there is nothing to project.")
        # the last block runs from the last conv to the last spatial op before anything else
        end = convs[-1]
        while end + 1 < len(leaves) and isinstance(leaves[end + 1], (nn.ReLU, nn.MaxPool2d) + _SKIPPED):
            end += 1
        steps = leaves[:end + 1]
        for i, m in enumerate(steps):
            if not isinstance(m, (nn.Conv2d, nn.ReLU, nn.MaxPool2d) + _SHAPE_OPS + _SKIPPED):
                raise ValueError(
                    f"Layer {i} of the CNN ({m}) is not supported by DeconvNet: the Zeiler-Fergus "
                    "projection mirrors Conv2d, ReLU and MaxPool2d (plus Flatten/Unflatten, Dropout, "
                    "Identity) only."
                )
            if isinstance(m, nn.Conv2d):
                _padding(m)
        self.cnn = cnn
        self.steps = steps
        self._convs = [i for i, m in enumerate(steps) if isinstance(m, nn.Conv2d)]
        # a layer's feature map is the output of the last 4-d op of its block
        self._ends = []
        for j, start in enumerate(self._convs):
            stop = self._convs[j + 1] if j + 1 < len(self._convs) else len(steps)
            e = start
            while e + 1 < stop and not isinstance(steps[e + 1], _SHAPE_OPS):
                e += 1
            self._ends.append(e)
        first = steps[0]
        self.in_shape = tuple(first.unflattened_size) if isinstance(first, nn.Unflatten) else None
        self.n_layers = len(self._convs)
        self.channels = [steps[i].out_channels for i in self._convs]

    def __repr__(self) -> str:
        return f"DeconvNet({self.n_layers} conv layers, channels={self.channels})"

    # ---- checks -------------------------------------------------------------------------------

    def check_layer(self, layer: Any) -> int:
        """Return ``layer`` if it is a conv layer index in [0, n_layers), else raise ValueError naming it."""
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < self.n_layers:
            raise ValueError(
                f"The 'layer' parameter must be a conv layer index in [0, {self.n_layers - 1}] (this CNN "
                f"has {self.n_layers} convolutional layers). Got {layer!r} instead."
            )
        return layer

    def check_channel(self, layer: int, channel: Any) -> int | None:
        """Return ``channel`` (None, or a feature map index of conv layer ``layer``), else raise ValueError."""
        if channel is None:
            return None
        return check_int("channel", channel, 0, self.channels[layer] - 1)

    def _images(self, x: Any) -> Tensor:
        conv0 = self.steps[self._convs[0]]
        device, dtype = conv0.weight.device, conv0.weight.dtype
        x = check_tensor("x", x, ndim=(2, 3, 4))
        if x.dim() == 2:
            if self.in_shape is None:
                raise ValueError(
                    f"'x' has shape {tuple(x.shape)}: give images (B, C, H, W); this CNN does not say "
                    "its input shape (no nn.Unflatten in front)."
                )
            n = self.in_shape[0] * self.in_shape[1] * self.in_shape[2]
            if x.shape[1] != n:
                raise ValueError(f"'x' has {x.shape[1]} features, but the CNN takes {n} = {self.in_shape} per image.")
            x = x.reshape(x.shape[0], *self.in_shape)
        elif x.dim() == 3:
            x = x.unsqueeze(1)
        if x.shape[1] != conv0.in_channels:
            raise ValueError(
                f"'x' has {x.shape[1]} channel(s), but the CNN's first convolution takes {conv0.in_channels} "
                f"(shape {tuple(x.shape)})."
            )
        if self.in_shape is not None and tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"'x' has images of shape {tuple(x.shape[1:])}; the CNN takes {self.in_shape}.")
        return x.to(device, dtype)

    # ---- forward with switches, backward projection -------------------------------------------

    def _forward(self, x: Tensor, end: int) -> tuple[Tensor, list]:
        """Run steps 0..end; record each step's input shape (and a pool's switches)."""
        records: list = []
        for i, m in enumerate(self.steps[:end + 1]):
            shape = x.shape
            if isinstance(m, nn.Unflatten) and i == 0 and x.dim() == 4:
                records.append((shape, None))
                continue
            if isinstance(m, nn.MaxPool2d):
                x, idx = F.max_pool2d(x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode,
                                      return_indices=True)
                records.append((shape, idx))
            elif isinstance(m, _SKIPPED):
                records.append((shape, None))
            else:
                x = m(x)
                records.append((shape, None))
        return x, records

    def _backward(self, y: Tensor, records: list, end: int) -> Tensor:
        for i in range(end, -1, -1):
            m, (shape, idx) = self.steps[i], records[i]
            if isinstance(m, nn.MaxPool2d):
                y = unpool(y, idx, shape[-2:])
            elif isinstance(m, nn.ReLU):
                y = F.relu(y)
            elif isinstance(m, nn.Conv2d):
                y = conv_transpose(y, m, shape[-2:])
            elif isinstance(m, _SHAPE_OPS) and not (i == 0 and isinstance(m, nn.Unflatten)):
                y = y.reshape(shape)
        return y

    @torch.no_grad()
    def features(self, x: Any, layer: int) -> Tensor:
        """The feature maps of conv layer ``layer`` (its block's output), shape (B, K, h, w)."""
        layer = self.check_layer(layer)
        return self._forward(self._images(x), self._ends[layer])[0]

    @torch.no_grad()
    def project(self, x: Any, layer: int, channel: int | None = None, mode: str = "all") -> Tensor:
        """Project feature maps of conv layer ``layer`` back to pixel space.

        Parameters
        ----------
        x : Tensor (B, C, H, W), or flat rows (B, C*H*W) when the CNN starts with ``Unflatten``
            The images whose features (and switches) are projected.
        layer : int
            Conv layer index, 0 for the bottom one.
        channel : int, optional
            Keep only this feature map (the others set to zero); all of them when None.
        mode : {"all", "max"}
            ``"all"`` projects the whole map(s); ``"max"`` only the single strongest activation
            (of ``channel``, or over every channel when None), as in the paper's figures.

        Returns
        -------
        Tensor (B, C, H, W)
            The projections, on the CNN's device.
        """
        layer = self.check_layer(layer)
        channel = self.check_channel(layer, channel)
        check_choice("mode", mode, ("all", "max"))
        x = self._images(x)
        end = self._ends[layer]
        fmap, records = self._forward(x, end)
        return self._backward(self._select(fmap, channel, mode)[0], records, end)

    @staticmethod
    def _select(fmap: Tensor, channel: int | None, mode: str) -> tuple[Tensor, Tensor, Tensor]:
        """Zero all but ``channel`` (and, for "max", all but its largest value): (map, value, flat index)."""
        keep = torch.zeros_like(fmap)
        src = fmap if channel is None else fmap[:, channel:channel + 1]
        flat = src.flatten(1)
        value, pos = flat.max(1)
        if mode == "all":
            if channel is None:
                return fmap.clone(), value, pos
            keep[:, channel] = fmap[:, channel]
            return keep, value, pos
        one = torch.zeros_like(flat)
        one.scatter_(1, pos[:, None], value[:, None])
        one = one.view_as(src)
        if channel is None:
            return one, value, pos
        keep[:, channel:channel + 1] = one
        return keep, value, pos

    def receptive_field(self, layer: int) -> tuple[int, float, float]:
        """Size ``r``, jump ``j`` and first centre ``s`` of conv layer ``layer``'s units in pixels:
        the unit at map position ``p`` sees the ``r x r`` window centred on ``s + j p``."""
        layer = self.check_layer(layer)
        r, j, s = 1, 1.0, 0.0
        for m in self.steps[:self._ends[layer] + 1]:
            if isinstance(m, nn.Conv2d):
                k, st, pad, d = m.kernel_size[0], m.stride[0], _padding(m)[0], m.dilation[0]
            elif isinstance(m, nn.MaxPool2d):
                k, st, pad, d = (m.kernel_size, m.stride, m.padding, m.dilation)
                k, st, pad, d = (v if isinstance(v, int) else v[0] for v in (k, st, pad, d))
            else:
                continue
            k_eff = d * (k - 1) + 1
            r += (k_eff - 1) * j
            s += ((k_eff - 1) / 2 - pad) * j
            j *= st
        return int(r), j, s

    @torch.no_grad()
    def strongest_channels(self, data: Any, layer: int, n: int = 4, batch_size: int = 256) -> list[int]:
        """The ``n`` feature maps of conv layer ``layer`` with the largest activation anywhere in
        ``data`` (strongest first), searched ``batch_size`` images at a time."""
        n = check_int("n", n, 1)
        x = self._images(data)
        best = None
        for i in range(0, x.shape[0], batch_size):
            m = self.features(x[i:i + batch_size], layer).flatten(2).amax(dim=(0, 2))
            best = m if best is None else torch.maximum(best, m)
        return best.topk(min(n, best.numel())).indices.tolist()

    @torch.no_grad()
    def top_activations(self, data: Any, layer: int, channel: int, k: int = 9, batch_size: int = 256) -> TopActivations:
        """The ``k`` inputs of ``data`` that excite feature map ``channel`` of ``layer`` most,
        with the projections of that strongest activation and the receptive-field crops."""
        layer = self.check_layer(layer)
        channel = self.check_channel(layer, channel)
        if channel is None:
            raise ValueError("top_activations needs a channel (an int); got None.")
        k = check_int("k", k, 1)
        batch_size = check_int("batch_size", batch_size, 1)
        x = self._images(data)
        if k > x.shape[0]:
            raise ValueError(f"k={k} is larger than the {x.shape[0]} inputs given.")
        end = self._ends[layer]
        values = torch.cat([self._forward(x[i:i + batch_size], end)[0][:, channel].flatten(1).max(1).values
                            for i in range(0, x.shape[0], batch_size)])
        top_values, top = values.topk(k)
        images = x[top]
        fmap, records = self._forward(images, end)
        selected, _, pos = self._select(fmap, channel, "max")
        projections = self._backward(selected, records, end)
        w = fmap.shape[-1]
        positions = torch.stack([pos // w, pos % w], 1)
        r, jump, start = self.receptive_field(layer)
        centres = start + jump * positions.to(torch.float64)
        tl = torch.round(centres - (r - 1) / 2).to(torch.long)
        boxes = torch.cat([tl, tl + r], 1)
        return TopActivations(top.cpu(), top_values.cpu(), positions.cpu(), images, projections, boxes.cpu(),
                              _crop(images, tl, r), _crop(projections, tl, r))


def _crop(images: Tensor, top_left: Tensor, r: int) -> Tensor:
    """r x r crops at ``top_left`` (row, col) per image, zero outside the image."""
    padded = F.pad(images, (r, r, r, r))
    out = [padded[i, :, t + r:t + 2 * r, left + r:left + 2 * r] for i, (t, left) in enumerate(top_left.tolist())]
    return torch.stack(out)
