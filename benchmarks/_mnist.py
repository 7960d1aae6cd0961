"""Shared by the quality benchmarks: binarised MNIST and the machine line they print first."""

from __future__ import annotations

import os

import torch

import layerwise as lw


def binarised_mnist(train_size: int, test_size: int, threshold: float = 0.5):
    """``(x, y, xt, yt)``: the first ``train_size`` training and ``test_size`` test images,
    pixels binarised at ``threshold`` (the papers sample them stochastically instead)."""
    binarize = lw.datasets.Binarize(threshold)
    x, y = lw.datasets.load("mnist", "train")
    xt, yt = lw.datasets.load("mnist", "test")
    return binarize(x[:train_size]), y[:train_size], binarize(xt[:test_size]), yt[:test_size]


def machine() -> str:
    """``"2 CPUs, torch 2.13.0+cpu (2 threads)"``."""
    return f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads)"
