"""AIS on the 784-500 PCD RBM: the paper's schedule against the adaptive one, at equal steps.

The model is the PCD row of ``benchmarks/rbm_quality.py`` (binarised MNIST, 784-500, CD-1
persistent with 100 chains, 10 epochs, batch 100, SGD lr 0.05, momentum 0.9, linear decay,
visible biases from the base rates, seed 0): the model whose AIS estimate falls 26 nats under
the proven floor on log Z, with 75 % of the log-weight variance accruing in beta in (0.7, 0.8].
For each number of steps it runs AIS (100 runs, base-rate base model) with the paper's shape
(``partition.ais_betas``) and with ``schedule="adaptive"`` (``partition.adaptive_betas``: a pilot
of 20 runs on the paper's shape, then the steps where the pilot's variance accrued; the pilot's
cost is printed apart) and prints the ESS, the spread of the log weights, the estimate against the
floor (over the training images, the persistent chains and the runs' end states) and the share of
the steps in beta in (0.6, 0.9]. It also times 1,000 runs in one batch (memory and ms per step)::

    OMP_NUM_THREADS=1 LAYERWISE_DATA=../shared/data .venv/bin/python benchmarks/ais_schedule.py --steps 2000 5000 14500

``--model PATH`` keeps the trained RBM's state there (and loads it when it exists), so a second
call with other ``--steps`` (e.g. 50000) does not retrain.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings

import torch

import layerwise as lw
from _mnist import binarised_mnist, machine
from layerwise import partition
from rbm_quality import ais_diagnostics


def pcd_rbm(x, epochs: int, hidden: int, path: str | None):
    """The PCD RBM of ``rbm_quality.py --methods pcd`` (same settings), loaded from ``path`` when it exists."""
    torch.manual_seed(0)
    rbm = lw.RBM(784, hidden, k=1, persistent=True, n_chains=100).init_visible_bias(x)
    if path and os.path.exists(path):
        rbm.load_state_dict(torch.load(path, weights_only=True))
        return rbm, 0.0
    t = time.perf_counter()
    lw.fit(rbm, x, epochs=epochs, batch_size=100, lr=0.05, momentum=0.9, lr_schedule="linear", progress=False, seed=0)
    seconds = time.perf_counter() - t
    if path:
        torch.save(rbm.state_dict(), path)
    return rbm, seconds


def batch_check(rbm, x, n_runs: int, n_steps: int) -> str:
    """Time ``n_runs`` runs in one batch for ``n_steps`` steps and report the peak resident memory."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    path = partition.RBMPath(rbm, rbm.visible.bias_from_mean(x.double().mean(0)).float())
    t = time.perf_counter()
    partition.anneal(path, torch.linspace(0, 1, n_steps + 1, dtype=torch.float64), n_runs, torch.Generator().manual_seed(0))
    per_step = (time.perf_counter() - t) / n_steps
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (f"{n_runs} runs in one batch: {1000 * per_step:.1f} ms per step, peak RSS {before / 1024:.0f} -> "
            f"{after / 1024:.0f} MiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=[2000, 5000, 14500], help="AIS steps (n_betas - 1)")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--pilot-runs", type=int, default=20)
    p.add_argument("--pilot-betas", type=int, default=2001)
    p.add_argument("--schedules", default="paper,adaptive")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--batch-check", type=int, default=1000, help="runs of the one-batch check (0: skip)")
    p.add_argument("--model", default=None, help="where to keep the trained RBM's state")
    args = p.parse_args()
    t_all = time.perf_counter()
    x, _, _, _ = binarised_mnist(args.train_size, 1)
    rbm, train_s = pcd_rbm(x, args.epochs, args.hidden, args.model)
    print(f"machine: {machine()}; load {os.getloadavg()[0]:.2f}; PCD RBM 784-{args.hidden}, {args.epochs} epochs "
          f"({train_s:.0f} s); AIS {args.runs} runs; adaptive pilot {args.pilot_runs} runs x {args.pilot_betas - 1} steps",
          flush=True)
    if args.batch_check:
        print("  " + batch_check(rbm, x, args.batch_check, 100), flush=True)
    seen = [x, rbm.chains]
    rows = []
    for steps in args.steps:
        for schedule in args.schedules.split(","):
            gen = torch.Generator().manual_seed(0)
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", partition.AISWarning)
                if schedule == "adaptive":  # the pilot, timed apart, then the same schedule ais_log_partition builds
                    path = partition.RBMPath(rbm, rbm.visible.bias_from_mean(x.double().mean(0)).float())
                    betas = partition.adaptive_betas(path, steps + 1, pilot_runs=args.pilot_runs,
                                                      pilot_betas=min(args.pilot_betas, steps + 1), generator=gen)
                    pilot_s, t = time.perf_counter() - t, time.perf_counter()
                else:
                    betas, pilot_s = partition.ais_betas(steps + 1), 0.0
                ais = partition.ais_log_partition(rbm, n_runs=args.runs, betas=betas, data=x, floor_states=seen,
                                                  generator=gen)
            run_s = time.perf_counter() - t
            mid = int(((betas[1:] > 0.6) & (betas[1:] <= 0.9) & (betas[1:] != betas[:-1])).sum())
            rows.append((f"{steps:,}", schedule, f"{ais.effective_sample_size:.2f}", f"{ais.log_weight_std:.2f}",
                         f"{ais.log_z:.2f}", f"{ais.floor:.2f}", f"{ais.log_z - ais.floor:+.2f}",
                         f"[{ais.lower:.2f}, {ais.upper:.2f}]", f"{100 * mid / steps:.0f} %",
                         f"{run_s:.0f}" + (f" + {pilot_s:.0f} (pilot)" if pilot_s else "")))
            print("  " + " | ".join(rows[-1]), flush=True)
            print("    " + ais_diagnostics(ais), flush=True)
    print()
    print("| steps | schedule | ESS (of {}) | log-weight std | AIS log Z | floor | AIS - floor | band | steps in (0.6, 0.9] "
          "| seconds |".format(args.runs))
    print("|---:|---|---:|---:|---:|---:|---:|---|---:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
