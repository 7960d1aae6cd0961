"""Under DDP every rank has its own random stream (layerwise.distributed), and a DataLoader is sharded.

One ``torchrun --nproc_per_node 2`` (gloo) run of tests/_ddp_streams_worker.py; the tests read its files.
"""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from layerwise.distributed import rank_seed, seed_rank_stream

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _ddp_streams_worker as w  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_streams")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "0",
           "--rdzv_backend", "c10d", "--rdzv_endpoint", "127.0.0.1:0", str(HERE / "_ddp_streams_worker.py"), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return lambda name: load_file(str(out / f"{name}.safetensors"))


@pytest.mark.distributed
def test_pcd_chains_differ_across_ranks_while_the_weights_agree(run):
    r0, r1 = run("pcd_rank0"), run("pcd_rank1")
    assert torch.equal(r0["start"], r1["start"])  # the same model on both ranks: the same chains at the start
    assert not torch.equal(r0["chains"], r1["chains"])  # ... and different chains after training
    assert (r0["chains"] != r1["chains"]).float().mean() > 0.2
    for k in ("weight", "visible_bias", "hidden_bias"):
        assert torch.equal(r0[k], r1[k]), k


@pytest.mark.distributed
def test_rank_0_weights_are_broadcast(run):
    r0, r1 = run("bcast_rank0"), run("bcast_rank1")
    assert not torch.equal(r0["before"], r1["before"])  # the ranks built different weights
    assert torch.equal(r0["weight"], r1["weight"])


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def expected_cd1_update(w, b, c, rows, lr=1.0):
    """E[update] of one CD-1 step (sampled hidden and visible reconstruction) over ``rows``, by
    enumerating every hidden state h and reconstruction v' (float64, independent of layerwise)."""
    dw, db, dc = np.zeros_like(w), np.zeros_like(b), np.zeros_like(c)
    for v0 in rows:
        ph = _sigmoid(w @ v0 + c)
        neg_w, neg_b, neg_c = np.zeros_like(w), np.zeros_like(b), np.zeros_like(c)
        for h in _states(len(c)):
            p_h = np.prod(np.where(h == 1, ph, 1 - ph))
            pv = _sigmoid(w.T @ h + b)
            for v in _states(len(b)):
                p = p_h * np.prod(np.where(v == 1, pv, 1 - pv))
                hn = _sigmoid(w @ v + c)
                neg_w += p * np.outer(hn, v)
                neg_b += p * v
                neg_c += p * hn
        dw += np.outer(ph, v0) - neg_w
        db += v0 - neg_b
        dc += ph - neg_c
    n = len(rows)
    return lr * np.concatenate([(dw / n).ravel(), db / n, dc / n])


@pytest.mark.distributed
def test_the_averaged_update_is_the_global_batch_update_in_expectation(run):
    updates = run("updates_rank0")["updates"].double().numpy()
    assert updates.shape == (w.REPS, 11)
    assert np.unique(updates.round(6), axis=0).shape[0] > w.REPS // 2  # the noise differs between repetitions
    mean, se = updates.mean(0), updates.std(0, ddof=1) / np.sqrt(w.REPS)
    args = (w.W0.double().numpy(), w.B0.double().numpy(), w.C0.double().numpy())
    expected = expected_cd1_update(*args, w.ROWS.double().numpy())
    z = np.abs(mean - expected) / se
    assert z.max() < 4.5, (z, mean, expected)  # 11 entries: a false alarm has probability < 1e-4
    # the test can fail: one rank's share (4 rows) alone, or the sum of the ranks' updates, is rejected
    one_shard = expected_cd1_update(*args, w.ROWS[:4].double().numpy())
    assert (np.abs(mean - one_shard) / se).max() > 6
    assert (np.abs(mean - 2 * expected) / se).max() > 6


@pytest.mark.distributed
def test_a_dataloader_is_sharded_as_the_arrays_are(run):
    weights = run("loader_rank0")
    names = [k[len("arrays."):] for k in weights if k.startswith("arrays.")]
    assert names
    for k in names:
        assert torch.equal(weights[f"loader.{k}"], weights[f"arrays.{k}"]), k
    read0, read1 = run("shard_rank0")["read"].tolist(), run("shard_rank1")["read"].tolist()
    assert len(read0) == len(read1) == 10  # each rank reads its half once
    assert sorted(read0 + read1) == list(range(20))


def test_rank_0_keeps_the_single_process_stream_and_other_ranks_get_their_own():
    torch.manual_seed(11)
    single = torch.rand(5)
    torch.manual_seed(11)
    seed_rank_stream(11, 0, epoch=3, per_epoch=False)  # rank 0, seeded once: untouched
    assert torch.equal(torch.rand(5), single)
    seed_rank_stream(11, 0, epoch=3, per_epoch=True)
    torch_epoch = torch.rand(5)
    torch.manual_seed(14)
    assert torch.equal(torch.rand(5), torch_epoch)  # per-epoch seeding: seed + epoch, as without DDP
    draws = []
    for rank, epoch in [(1, 0), (2, 0), (1, 1)]:
        seed_rank_stream(11, rank, epoch, per_epoch=False)
        draws.append(torch.rand(5))
        seed_rank_stream(11, rank, epoch, per_epoch=True)  # the same either way: a function of (seed, rank, epoch)
        assert torch.equal(torch.rand(5), draws[-1])
    assert len({tuple(d.tolist()) for d in draws + [single]}) == 4
    assert rank_seed(11, 1, 0) != rank_seed(12, 1, 0) and 0 <= rank_seed(-1, 1, 0) < 2**64
