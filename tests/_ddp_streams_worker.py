"""Run under ``torchrun --nproc_per_node 2`` by tests/test_ddp_streams.py; writes one file per rank.

1. PCD: both ranks build the same RBM (same seed: the same weights and chains) and train it;
   ``pcd_rank<r>`` holds the rank's chains and weights afterwards.
2. Broadcast: rank r builds an RBM with seed r (different weights); after ``fit`` the weights of
   ``bcast_rank<r>`` must agree (rank 0's were broadcast, then the averaged updates kept them equal).
3. Expectation: ``REPS`` one-step CD-1 fits of a 3x2 RBM from fixed weights, 4 rows per rank
   (8 rows in all, in order), seed = repetition; ``updates_rank0`` holds every repetition's update.
4. Loader: the regressor of _ddp_worker trained from a DataLoader and from the arrays (``loader_rank0``),
   and the indices of a map-style dataset that each rank read (``shard_rank<r>``).
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch.utils.data import DataLoader, Dataset, TensorDataset

import _ddp_worker as reg
from layerwise.models.rbm import RBM
from layerwise.training import fit

REPS = 300
W0 = torch.tensor([[0.8, -1.2, 0.5], [-0.4, 0.9, 1.1]])
B0, C0 = torch.tensor([0.2, -0.3, 0.1]), torch.tensor([-0.5, 0.4])
ROWS = torch.tensor([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1], [1, 1, 1], [0, 1, 0], [1, 0, 0], [0, 0, 0]],
                    dtype=torch.float32)


def binary_data(n, d, seed):
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


class Recording(Dataset):
    def __init__(self, x):
        self.x, self.read = x, []

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        self.read.append(i)
        return self.x[i]


def main(out: Path, rank: int) -> None:
    opts = dict(device="cpu", progress=False)
    # 1. PCD chains
    torch.manual_seed(0)
    rbm = RBM(6, 4, persistent=True, n_chains=8)
    start = rbm.chains.clone()
    fit(rbm, binary_data(32, 6, 1), epochs=2, batch_size=4, lr=0.05, seed=5, **opts)
    weights = {k: v.detach().contiguous() for k, v in rbm.named_parameters()}
    save_file({"chains": rbm.chains.contiguous(), "start": start, **weights}, str(out / f"pcd_rank{rank}.safetensors"))
    # 2. broadcast of rank 0's weights
    torch.manual_seed(rank)
    other = RBM(6, 4)
    before = other.weight.detach().clone()
    fit(other, binary_data(32, 6, 2), epochs=1, batch_size=4, lr=0.05, seed=5, **opts)
    save_file({"before": before, "weight": other.weight.detach().contiguous()},
              str(out / f"bcast_rank{rank}.safetensors"))
    # 3. one CD-1 step, REPS times
    small = RBM(3, 2, sample_reconstruction=True)
    deltas = []
    for rep in range(REPS):
        with torch.no_grad():
            small.weight.copy_(W0), small.visible_bias.copy_(B0), small.hidden_bias.copy_(C0)
        fit(small, ROWS, epochs=1, batch_size=4, lr=1.0, shuffle=False, seed=rep, **opts)
        step = [(small.weight - W0).flatten(), small.visible_bias - B0, small.hidden_bias - C0]
        deltas.append(torch.cat(step).detach())
    if rank == 0:
        save_file({"updates": torch.stack(deltas)}, str(out / "updates_rank0.safetensors"))
    # 4. a DataLoader under DDP: sharded as the arrays are, and each rank reads its share only
    x, y = reg.data()
    from_loader, from_arrays = reg.Regressor(), reg.Regressor()
    fit(from_loader, DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True), epochs=2, optimizer="sgd", lr=0.05,
        seed=3, **opts)
    fit(from_arrays, (x, y), epochs=2, batch_size=8, optimizer="sgd", lr=0.05, seed=3, **opts)
    if rank == 0:
        both = {**{f"loader.{k}": v for k, v in from_loader.state_dict().items()},
                **{f"arrays.{k}": v for k, v in from_arrays.state_dict().items()}}
        save_file(both, str(out / "loader_rank0.safetensors"))
    recording = Recording(binary_data(20, 6, 3))
    fit(RBM(6, 4), DataLoader(recording, batch_size=5, shuffle=True), epochs=1, lr=0.05, seed=5, **opts)
    save_file({"read": torch.tensor(recording.read)}, str(out / f"shard_rank{rank}.safetensors"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(__import__("os").environ["RANK"]))
    dist.barrier()
    dist.destroy_process_group()
