"""Both sides of a sigmoid belief net's log-likelihood on MNIST: importance sampling with its
effective sample size, and the bidirectional Monte Carlo (BDMC) sandwich against the schedule.

An SBN (784-20-5 by default, to keep the default run under 2 minutes on one thread) is trained
briefly by wake-sleep on a slice of MNIST binarised stochastically (each pixel sampled once, fixed
seed, as Salakhutdinov & Murray 2008). Then:

1. importance sampling with the recognition net as proposal (K samples per test image): the mean
   estimate (a stochastic lower bound), the effective sample size per image and the share of
   images whose ESS is under 10 (estimates not to quote);
2. BDMC (Grosse, Ghahramani & Adams 2015) on data simulated from the model, whose hidden layers
   are exact posterior samples: forward AIS from the prior to the posterior (stochastic lower
   bound) and reverse AIS from the exact samples (stochastic upper bound) for each schedule
   length; the width ``upper - lower`` bounds how far either is from the true mean log p(v) on
   such data, and IS is run on the same simulated images for comparison;
3. the forward (lower) side alone on real test images, at the longest schedule;
4. a DBN 64-32-12 trained on the binarised digits, whose top RBM's log Z is enumerable: the bound
   with the exact log Z against ``DBN.lower_bound_interval``'s two ends (RAISE on the top RBM, the
   conservative one; AIS's log Z, the optimistic one) on the same samples of the hidden layer.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sbn_sandwich.py            # under 2 minutes
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sbn_sandwich.py --sizes 784 200 50 \\
        --betas 10 100 1000 10000 --simulated 100 --runs 10    # hours: a sweep updates each hidden unit in turn
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

import layerwise as lw
from _mnist import machine
from layerwise.partition import LowESSWarning


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 20, 5], help="layer sizes, data first")
    p.add_argument("--train", type=int, default=5000, help="training images")
    p.add_argument("--test", type=int, default=100, help="test images (IS)")
    p.add_argument("--bdmc-test", type=int, default=20, help="test images for the forward (lower) side alone")
    p.add_argument("--simulated", type=int, default=20, help="images simulated from the model (BDMC)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--is-samples", type=int, nargs="+", default=[100, 1000], help="K of importance sampling")
    p.add_argument("--betas", type=int, nargs="+", default=[10, 100, 500], help="BDMC schedule lengths")
    p.add_argument("--runs", type=int, default=2, help="BDMC chains per image (each direction)")
    p.add_argument("--dbn-betas", type=int, nargs="+", default=[10, 100], help="DBN: RAISE and AIS schedule lengths")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    binarize = lw.datasets.Binarize(stochastic=True, seed=args.seed)
    x = binarize(lw.datasets.load("mnist", "train")[0][:args.train])
    xt = binarize(lw.datasets.load("mnist", "test")[0][:args.test])
    torch.manual_seed(args.seed)
    sbn = lw.SigmoidBeliefNet(args.sizes).init_visible_bias(x)
    t0 = time.perf_counter()
    lw.fit(sbn, x, epochs=args.epochs, batch_size=100, lr=0.1, optimizer="sgd", progress=False, device="cpu")
    train_s = time.perf_counter() - t0
    print(f"SBN {'-'.join(map(str, args.sizes))}, wake-sleep {args.epochs} epochs on {args.train} MNIST images "
          f"(binarised stochastically, seed {args.seed}) in {train_s:.1f} s; {machine()}")
    print()

    gen = torch.Generator().manual_seed(args.seed)
    v_sim, *h_sim = sbn.sample(args.simulated, return_all=True, generator=gen)
    print("**Importance sampling** (recognition net as proposal; a stochastic lower bound):")
    print()
    print("| data | K | mean log p(v) (IS) | median ESS | rows with ESS < 10 | s |")
    print("|---|---|---|---|---|---|")
    for name, data in ((f"{args.test} test images", xt), (f"{args.simulated} simulated", v_sim)):
        for k in args.is_samples:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LowESSWarning)  # counted in the table instead
                r = sbn.log_likelihood(data, method="is", n_samples=k, generator=gen, return_details=True)
            ess = r.effective_sample_size
            print(f"| {name} | {k} | {r.mean:.2f} | {float(ess.median()):.1f} | "
                  f"{int(r.low_ess.sum())} / {len(ess)} | {time.perf_counter() - t0:.1f} |")
    print()
    print(f"**BDMC sandwich** on {args.simulated} images simulated from the model ({args.runs} chains per image "
          "each way; sigmoidal schedule):")
    print()
    print("| n_betas | lower (forward AIS) | upper (reverse AIS) | width | median forward ESS | s |")
    print("|---|---|---|---|---|---|")
    for n_betas in args.betas:
        t0 = time.perf_counter()
        b = sbn.log_likelihood_bounds(v_sim, n_runs=args.runs, n_betas=n_betas, hidden=h_sim, generator=gen)
        print(f"| {n_betas} | {b.lower:.2f} | {b.upper:.2f} | {b.width:.2f} | {float(b.lower_ess.median()):.1f} | "
              f"{time.perf_counter() - t0:.1f} |")
    n_betas, k = max(args.betas), max(args.is_samples)
    t0 = time.perf_counter()
    b = sbn.log_likelihood_bounds(xt[:args.bdmc_test], n_runs=args.runs, n_betas=n_betas, generator=gen)
    secs = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowESSWarning)
        is_same = float(sbn.log_likelihood(xt[:args.bdmc_test], method="is", n_samples=k, generator=gen).mean())
    print()
    print(f"The first {args.bdmc_test} test images, forward AIS alone ({n_betas} temperatures, {args.runs} chains): "
          f"mean log p(v) >= {b.lower:.2f} (a stochastic lower bound; no upper side without exact posterior "
          f"samples), median ESS {float(b.lower_ess.median()):.1f}, {secs:.1f} s; IS with K = {k} on the same "
          f"images: {is_same:.2f}")

    dbn_interval(args)


def dbn_interval(args: argparse.Namespace) -> None:
    binarize = lw.datasets.Binarize(0.5)
    x = binarize(lw.datasets.load("digits", "train")[0])
    xt = binarize(lw.datasets.load("digits", "test")[0])
    torch.manual_seed(args.seed)
    dbn = lw.DBN([64, 32, 12], dtype=torch.float64)
    dbn.pretrain(x, epochs=20, batch_size=32, lr=0.05, progress=False, device="cpu")
    codes = dbn.up(x)[0]
    log_z = dbn.top_log_partition()  # exact: 12 hidden units
    # the same seed for the samples of h^1 here and in the interval (whose RAISE has its own generator)
    same = torch.Generator().manual_seed(args.seed)
    exact = float(dbn.lower_bound(xt, log_z=log_z, n_samples=5, generator=same).mean())
    print()
    print(f"**DBN 64-32-12** (greedy CD-1, 20 epochs on {len(x)} binarised digits; {len(xt)} test images, 5 samples "
          f"of h^1 each): the bound with the exact log Z of the top RBM is {exact:.3f} nats.")
    print()
    print("| n_betas | RAISE end (conservative) | AIS end (optimistic) | AIS log Z - exact | s |")
    print("|---|---|---|---|---|")
    for n_betas in args.dbn_betas:
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(args.seed + 1)
        ais = lw.partition.ais_log_partition(dbn.rbms[1], n_runs=100, n_betas=n_betas, data=codes, generator=gen,
                                             return_bounds=True)
        same = torch.Generator().manual_seed(args.seed)
        iv = dbn.lower_bound_interval(xt, n_samples=5, log_z=ais.log_z, generator=same,
                                      raise_options={"n_runs": 10, "n_betas": n_betas, "data": codes, "generator": gen})
        print(f"| {n_betas} | {iv.lower:.3f} | {iv.upper:.3f} | {ais.log_z - log_z:+.3f} | "
              f"{time.perf_counter() - t0:.1f} |")


if __name__ == "__main__":
    main()
