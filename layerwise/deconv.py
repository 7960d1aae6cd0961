"""Deconvolutional networks: one namespace for the convolutional side of layerwise.

A facade: every name is defined elsewhere and re-exported here unchanged.

- :class:`DeconvNet` — Zeiler & Fergus (2014): project a trained CNN's feature maps back to
  pixel space (switch unpooling -> ReLU -> transposed convolution, layer by layer);
  :func:`projection_figure` draws the paper's figure 2 (top-k projections beside their inputs).
- :class:`ConvSparseCoding` — Zeiler, Krishnan, Taylor & Fergus (2010): filters and sparse
  feature maps, inference by ISTA / FISTA, filters learned through :func:`layerwise.fit`;
  :func:`plot_csc` draws its filters, reconstructions and maps.
- :class:`ConvAutoEncoder` — conv/ReLU/max-pool encoder with an unpooling decoder, a layer
  learner of :func:`layerwise.pretrain` whose encoders initialise a CNN.
- :func:`build_cnn`, :data:`CNN_CONFIGS` (``"cnn-1"``, ``"cnn-2"``), :class:`CNNClassifier`,
  :func:`load_pretrained_convs`.

Where they live: the models in :mod:`layerwise.models` (``cnn``, ``classifier``, ``csc``,
``conv_autoencoder``, ``deconv``), ``soft_threshold`` and ``unpool`` in
:mod:`layerwise.functional`, the figures in :mod:`layerwise.plots`; ``strongest_channels(d,
...)`` is the method :meth:`DeconvNet.strongest_channels`.

>>> import layerwise as lw
>>> net = lw.deconv.build_cnn("cnn-1", (1, 28, 28))
>>> lw.deconv.DeconvNet(net).n_layers
1
"""

from .functional import soft_threshold, unpool
from .models.classifier import CNNClassifier
from .models.cnn import CNN_CONFIGS, build_cnn, conv_layers, describe_cnn, load_pretrained_convs
from .models.conv_autoencoder import ConvAutoEncoder
from .models.csc import ConvSparseCoding, stack_maps
from .models.deconv import DeconvNet, TopActivations, conv_transpose
from .plots import plot_csc, projection_figure

#: ``strongest_channels(deconvnet, data, layer, n=4, batch_size=256)``: the method, unbound.
strongest_channels = DeconvNet.strongest_channels

__all__ = ["CNNClassifier", "CNN_CONFIGS", "ConvAutoEncoder", "ConvSparseCoding", "DeconvNet", "TopActivations", "build_cnn",
           "conv_layers", "conv_transpose", "describe_cnn", "load_pretrained_convs", "plot_csc", "projection_figure",
           "soft_threshold", "stack_maps", "strongest_channels", "unpool"]
