"""``torch.distributed`` for :func:`layerwise.fit`: the process group, averaging, per-rank streams.

Under ``torchrun`` every process runs the same script. :func:`layerwise.fit` then

- starts the process group (gloo on CPU, NCCL on GPUs) when ``WORLD_SIZE > 1``;
- broadcasts the model's parameters from rank 0 (:func:`broadcast_parameters`), so that every
  rank starts from the same weights even when the ranks built the model differently; buffers
  (an RBM's or DBM's persistent chains) stay each rank's own;
- gives every rank its own random stream (:func:`seed_rank_stream`): rank 0 keeps the stream of
  a single process (seeded with ``seed``, or ``seed + epoch`` with per-epoch seeding), so that
  single-process results do not depend on this module; rank ``r > 0`` is seeded at the start of
  every epoch from ``(seed, r, epoch)`` through :class:`numpy.random.SeedSequence`. The ranks
  therefore draw different CD uniforms, Gibbs noise and corruption noise, and their persistent
  chains part after the first sweep, while the averaged update stays the same in expectation as
  one process's over the global batch;
- averages gradients or updates over the ranks (DDP for ``training_loss``; models with their own
  ``training_step`` call :func:`all_reduce_mean`).

Resume: checkpoints hold rank 0's state (its random stream and buffers). A resumed rank 0
continues exactly; a rank ``r > 0`` continues its own stream exactly (it depends on the epoch
only) but restarts its persistent chains from rank 0's saved ones, so a resumed multi-process
run with persistent chains is not bitwise the uninterrupted one.
"""

from __future__ import annotations

import atexit
import os
from typing import Iterable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["init_distributed", "all_reduce_mean", "broadcast_flag", "broadcast_parameters", "rank_seed", "seed_rank_stream"]


def init_distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size); starts the process group under ``torchrun`` (``WORLD_SIZE > 1``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(lambda: dist.is_initialized() and dist.destroy_process_group())
    return dist.get_rank(), dist.get_world_size()


def all_reduce_mean(tensors: Iterable[torch.Tensor]) -> None:
    """Average tensors in place over all processes (a no-op outside ``torch.distributed``).

    Models that override ``training_step`` call this on their updates to train under DDP.
    """
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        world = dist.get_world_size()
        for t in tensors:
            dist.all_reduce(t)
            t.div_(world)


@torch.no_grad()
def broadcast_parameters(model: nn.Module) -> None:
    """Copy rank 0's parameters to every process (a no-op outside ``torch.distributed``)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        for p in model.parameters():
            dist.broadcast(p.data, src=0)


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every process (``flag`` itself outside ``torch.distributed``): a stop
    that rank 0's callbacks decided (early stopping) ends every rank's loop at the same epoch."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.broadcast(t, 0)
    return bool(t.item())


def rank_seed(seed: int, rank: int, epoch: int) -> int:
    """The seed of rank ``rank``'s random stream at ``epoch``: 64 bits of
    ``numpy.random.SeedSequence([seed mod 2**64, rank, epoch])`` (independent streams for
    different ranks and epochs)."""
    words = np.random.SeedSequence([int(seed) % 2**64, int(rank), int(epoch)]).generate_state(2, np.uint32)
    return int(words[0]) | (int(words[1]) << 32)


def seed_rank_stream(seed: int, rank: int, epoch: int, per_epoch: bool) -> None:
    """Seed torch's RNG at the start of ``epoch`` on this rank (see the module docstring).

    Rank 0: ``seed + epoch`` with per-epoch seeding, else nothing (it was seeded once with
    ``seed``). Rank ``r > 0``: :func:`rank_seed` ``(seed, r, epoch)`` always.
    """
    if rank > 0:
        torch.manual_seed(rank_seed(seed, rank, epoch))
    elif per_epoch:
        torch.manual_seed(seed + epoch)
