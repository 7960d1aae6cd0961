"""Run under ``torchrun --nproc_per_node 2``: trains a small model with layerwise.fit and saves its weights.

Model and data are float64: with lr 0.05 and momentum 0.9 this run amplifies a perturbation of
the weights about 1000-fold over its 18 steps, so in float32 the rounding of one batch-16
gradient against the mean of two batch-8 gradients (~3e-8 a step) grows to ~5e-5 and the
comparison with the single process depends on the CPU's kernels; in float64 the two runs agree
to ~1e-13 and the test can hold them to a tolerance that any wrong shard or average breaks.
"""

import sys

import torch
from safetensors.torch import save_file
from torch import nn

from layerwise.training import fit


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 1)).double()

    def training_loss(self, batch):
        x, y = batch
        return ((self.net(x).squeeze(1) - y) ** 2).mean()


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(96, 6, generator=g)
    y = x @ torch.arange(1.0, 7.0) + 0.1 * torch.randn(96, generator=g)
    return x.double(), y.double()


if __name__ == "__main__":
    out, per_rank_batch = sys.argv[1], int(sys.argv[2])
    model = Regressor()
    history = fit(model, data(), epochs=3, batch_size=per_rank_batch, optimizer="sgd", lr=0.05,
                  momentum=0.9, device="cpu", seed=3, progress=False)
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
