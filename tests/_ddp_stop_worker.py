"""Run under ``torchrun --nproc_per_node 2``: early stopping decided on rank 0 (whose callbacks alone
run at an epoch's end) must stop every rank; each rank writes how many epochs it trained."""

import sys
from pathlib import Path

import torch.distributed as dist

from _ddp_worker import Regressor, data
from layerwise.callbacks import EarlyStopping
from layerwise.training import fit


def score(state, record):  # rank 0 only: 3.0, 2.0, then no progress -> stop after epoch 4 (patience 2)
    record["score"] = [3.0, 2.0, 2.5, 2.5, 1.0, 0.0, 0.0, 0.0][record["epoch"] - 1]


if __name__ == "__main__":
    out = Path(sys.argv[1])
    history = fit(Regressor(), data(), epochs=8, batch_size=8, lr=0.01, device="cpu", seed=3, progress=False,
                  callbacks=[score, EarlyStopping("score", patience=2)])
    rank = dist.get_rank() if dist.is_initialized() else 0
    (out / f"rank{rank}.txt").write_text(str(len(history)))
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
