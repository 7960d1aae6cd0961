"""layerwise: unsupervised learning and greedy layer-wise pre-training on PyTorch."""

__version__ = "0.1.0"
