"""ResNet-18 written in the project (no torchvision), for small images.

He, Zhang, Ren & Sun, "Deep residual learning for image recognition", CVPR 2016: four stages
of two basic blocks each (two 3x3 convolutions with batch normalisation, an identity or 1x1
projection shortcut, ReLU after the sum), widths w, 2w, 4w, 8w, the last three stages
starting with stride 2, then global average pooling. For the small images of this project
(32x32 faces, 28x28 digits) the stem is one 3x3 convolution with stride 1 and no max pool, as
the paper's CIFAR-10 networks do; the ImageNet stem (7x7 stride 2 and a max pool) would leave
a 1x1 map after the third stage. ``width=64`` is the paper's network (11.2 M parameters);
narrower ones keep the depth and shape at a fraction of the cost (width 16: 1/16 of the
multiply-adds, about 0.7 M parameters).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._validation import check_int

__all__ = ["BasicBlock", "build_resnet18"]


class BasicBlock(nn.Module):
    """``relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))``; the shortcut is the identity,
    or a strided 1x1 convolution with batch normalisation where the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, **fk)
        self.bn1 = nn.BatchNorm2d(out_channels, **fk)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, **fk)
        self.bn2 = nn.BatchNorm2d(out_channels, **fk)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False, **fk),
                                          nn.BatchNorm2d(out_channels, **fk))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def build_resnet18(in_shape: Sequence[int], width: int = 64, *,
                   device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> nn.Sequential:
    """ResNet-18's feature network: flat rows (N, C*H*W) in, (N, 8 * width) features out.

    Parameters
    ----------
    in_shape : (C, H, W)
        Image shape.
    width : int
        Channels of the first stage (64 in the paper).
    device, dtype : optional
        As for ``nn.Conv2d``.

    Returns
    -------
    nn.Sequential
        With ``n_features = 8 * width``; put a head on it with :class:`layerwise.Classifier`.

    Examples
    --------
    >>> net = build_resnet18((1, 32, 32), width=16)
    >>> net(torch.zeros(2, 1024)).shape
    torch.Size([2, 128])
    """
    if not isinstance(in_shape, (tuple, list)) or len(in_shape) != 3:
        raise ValueError(f"'in_shape' must be (channels, height, width); got {in_shape!r}.")
    c, h, w = (check_int(f"in_shape[{i}]", v, 1) for i, v in enumerate(in_shape))
    width = check_int("width", width, 1)
    if min(h, w) < 8:
        raise ValueError(f"ResNet-18 halves the image three times; {h}x{w} images are too small (at least 8x8).")
    fk = {"device": device, "dtype": dtype}
    layers: list[nn.Module] = [nn.Unflatten(1, (c, h, w)), nn.Conv2d(c, width, 3, 1, 1, bias=False, **fk),
                               nn.BatchNorm2d(width, **fk), nn.ReLU(inplace=True)]
    channels = width
    for stage, out in enumerate((width, 2 * width, 4 * width, 8 * width)):
        layers += [BasicBlock(channels, out, 1 if stage == 0 else 2, **fk), BasicBlock(out, out, **fk)]
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    net = nn.Sequential(*layers)
    net.n_features = channels
    return net
