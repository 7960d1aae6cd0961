"""Tiny models shared by the tests of the training loop and of checkpoints."""

import numpy as np
import torch
from torch import nn

from layerwise.models.rbm import RBM


class Noisy(nn.Module):
    """A tiny model whose loss uses torch's RNG, so resume must restore RNG state too."""

    def __init__(self, n_in=5, n_out=3, noise=0.1):
        super().__init__()
        self.n_in, self.n_out, self.noise = n_in, n_out, noise
        self.lin = nn.Linear(n_in, n_out)
        self.metric_calls = 0

    def config(self):
        return {"n_in": self.n_in, "n_out": self.n_out, "noise": self.noise}

    def training_loss(self, batch):
        x, y = batch
        x = x + self.noise * torch.randn_like(x)
        return ((self.lin(x) - y) ** 2).sum(1).mean()

    def metrics(self, batch):
        self.metric_calls += 1
        x, y = batch
        return {"mse": float(((self.lin(x) - y) ** 2).mean())}


def regression(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    w = torch.randn(5, 3, generator=g)
    return x, x @ w + 0.01 * torch.randn(n, 3, generator=g)


def random_rbm(n_visible=10, n_hidden=8, visible="bernoulli", hidden="bernoulli", seed=0, scale=1.0, **kw):
    """A float64 RBM with N(0, scale^2) weights and N(0, 1) biases from numpy's generator ``seed``."""
    rng = np.random.default_rng(seed)
    rbm = RBM(n_visible, n_hidden, visible=visible, hidden=hidden, dtype=torch.float64, **kw)
    with torch.no_grad():
        rbm.weight.copy_(torch.from_numpy(rng.normal(0, scale, (n_hidden, n_visible))))
        rbm.visible_bias.copy_(torch.from_numpy(rng.normal(0, 1, n_visible)))
        rbm.hidden_bias.copy_(torch.from_numpy(rng.normal(0, 1, n_hidden)))
    return rbm
