"""The [RAISE lower, AIS upper] sandwich of a test log-likelihood against the exact value.

An RBM 64-20 trained briefly on the embedded digits (pixels binarised at 0.5; 1,438 training
and 359 test images) has 2^20 hidden states, so its exact mean test log p(v) is enumerable.
For each schedule length the script prints the exact value, the RAISE estimate (reverse
annealing from each test image, Burda, Grosse & Salakhutdinov 2015: a stochastic lower bound)
and the AIS-based one (``-F(v) - log Z_hat``, Salakhutdinov & Murray 2008: a stochastic upper
bound), with the Markov 95 % interval and the wall time of each end::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/raise_sandwich.py --betas 100 1000 10000
"""

from __future__ import annotations

import argparse
import time

import torch

import layerwise as lw
from layerwise import likelihood, partition


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--betas", type=int, nargs="+", default=[100, 1000, 10000], help="schedule lengths (n_betas)")
    p.add_argument("--runs", type=int, default=20, help="RAISE chains per test image")
    p.add_argument("--ais-runs", type=int, default=100, help="AIS runs for log Z")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--persistent", action="store_true", help="train with PCD instead of CD-1")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    binarize = lw.datasets.Binarize(0.5)
    x = binarize(lw.datasets.load("digits", "train")[0])
    xt = binarize(lw.datasets.load("digits", "test")[0])
    torch.manual_seed(args.seed)
    rbm = lw.RBM(64, 20, persistent=args.persistent)
    rbm.init_visible_bias(x)
    t0 = time.perf_counter()
    lw.fit(rbm, x, epochs=args.epochs, batch_size=32, lr=0.05, momentum=0.5, progress=False, device="cpu")
    train_s = time.perf_counter() - t0
    exact_z = partition.exact_log_partition(rbm)
    with torch.no_grad():
        exact = float((-rbm.free_energy(xt).double() - exact_z).mean())
    print(f"RBM 64-20 ({'PCD' if args.persistent else 'CD-1'}, {args.epochs} epochs, {train_s:.1f} s), "
          f"{len(xt)} test images, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"exact log Z = {exact_z:.4f}, exact mean test log p(v) = {exact:.4f}")
    print(f"RAISE: {args.runs} chains per image; AIS: {args.ais_runs} runs; base model from the training data")
    print()
    print("| n_betas | RAISE lower | exact | AIS upper | width | lower - exact | upper - exact "
          "| 95 % (Markov) | RAISE s | AIS s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n_betas in args.betas:
        gen = torch.Generator().manual_seed(args.seed)
        t0 = time.perf_counter()
        ais = partition.ais_log_partition(rbm, n_runs=args.ais_runs, n_betas=n_betas, data=x, generator=gen)
        ais_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = likelihood.log_likelihood_bounds(rbm, xt, n_runs=args.runs, n_betas=n_betas, log_z=ais, data=x,
                                             generator=gen)
        raise_s = time.perf_counter() - t0
        lo, hi = b.interval(0.95)
        print(f"| {n_betas:,} | {b.lower:.3f} | {exact:.3f} | {b.upper:.3f} | {b.width:.3f}{' (crossed)' if b.crossed else ''} "
              f"| {b.lower - exact:+.3f} | {b.upper - exact:+.3f} | [{lo:.2f}, {hi:.2f}] | {raise_s:.1f} | {ais_s:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
