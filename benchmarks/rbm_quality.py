"""RBM and DBN quality on binarised MNIST: AIS test log-likelihoods, a DBN's lower bound, and
the test error of a DBN-initialised classifier.

Salakhutdinov & Murray (2008) report about -86 nats (AIS) for a 500-hidden-unit RBM trained
with CD-25 for a long time (and about -126 for CD-1 with a short run); a two-layer DBN's lower
bound about -86 too. This script trains 784-500 RBMs with CD-1, CD-k and PCD for the budget
given, estimates log Z by AIS (100 runs; 14,500 temperatures as in the paper by default),
greedily stacks a second RBM into a DBN (its variational lower bound on test log p(v)), and
fine-tunes the DBN as a classifier with all labels. Pixels are binarised at 0.5 (the paper
samples them stochastically; say so when comparing).

Every AIS estimate is checked against the proven floor on log Z (``partition.log_z_floor`` over
the distinct training images, the persistent chains and the AIS end states): a figure is quoted
as an estimate only when AIS is above the floor and its effective sample size is at least
``partition.MIN_ESS``; otherwise the row says so and gives the proven upper bound
``mean(-F(v)) - floor`` ("<= x (proven)"). The variance of the log weights per tenth of the
beta schedule is printed below each RBM row::

    LAYERWISE_DATA=../shared/data .venv/bin/python benchmarks/rbm_quality.py --epochs 5
    LAYERWISE_DATA=../shared/data .venv/bin/python benchmarks/rbm_quality.py --epochs 10 --methods pcd --no-dbn
"""

from __future__ import annotations

import argparse
import time

import torch

import layerwise as lw
from _mnist import binarised_mnist, machine
from layerwise import partition


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=5, help="epochs per RBM")
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--test-size", type=int, default=10000)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--top", type=int, default=1000, help="second DBN layer")
    p.add_argument("--k", type=int, default=10, help="the k of CD-k")
    p.add_argument("--betas", type=int, default=14500)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--finetune-epochs", type=int, default=5)
    p.add_argument("--methods", default="cd1,cdk,pcd")
    p.add_argument("--no-dbn", action="store_true", help="the RBM rows only (no DBN, no classifier)")
    args = p.parse_args()
    t_all = time.perf_counter()
    x, y, xt, yt = binarised_mnist(args.train_size, args.test_size)
    print(f"machine: {machine()}; "
          f"N={len(x)}, test {len(xt)}, {args.epochs} epochs, AIS {args.runs} runs x {args.betas} temperatures")
    rows = []
    settings = {"cd1": dict(k=1), "cdk": dict(k=args.k), "pcd": dict(k=1, persistent=True, n_chains=100)}
    rbms = {}
    for name in args.methods.split(","):
        torch.manual_seed(0)
        rbm = lw.RBM(784, args.hidden, **settings[name]).init_visible_bias(x)
        t = time.perf_counter()
        lw.fit(rbm, x, epochs=args.epochs, batch_size=100, lr=args.lr, momentum=0.9,
               lr_schedule="linear", progress=False, seed=0)
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        seen = [x] + ([rbm.chains] if rbm.persistent and partition.is_discrete(rbm.chains, (0.0, 1.0)) else [])
        ais = partition.ais_log_partition(rbm, n_runs=args.runs, n_betas=args.betas, data=x, floor_states=seen,
                                          generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            rep = partition.report_log_likelihood(-rbm.free_energy(xt).double(), ais)
        label = {"cd1": "RBM CD-1", "cdk": f"RBM CD-{args.k}", "pcd": "RBM PCD"}[name]
        rows.append((label, str(rep), band_text(rep, ais), args.epochs, f"{train_s:.0f} + {time.perf_counter() - t:.0f} (AIS)"))
        rbms[name] = rbm
        print("  " + " | ".join(map(str, rows[-1])), flush=True)
        print("    " + ais_diagnostics(ais), flush=True)
    if args.no_dbn:
        _table(rows, t_all)
        return

    # a two-layer DBN on the PCD (else the first) RBM: second RBM on its hidden probabilities
    first = rbms.get("pcd") or next(iter(rbms.values()))
    dbn = lw.DBN([784, args.hidden, args.top], persistent=True)
    with torch.no_grad():  # the parameters only: a CD-trained first RBM has no persistent chains
        for name in ("weight", "visible_bias", "hidden_bias"):
            getattr(dbn.rbms[0], name).copy_(getattr(first, name))
    codes = first.transform(x)
    torch.manual_seed(0)
    t = time.perf_counter()
    dbn.rbms[1].init_visible_bias(codes)
    lw.fit(dbn.rbms[1], codes, epochs=args.epochs, batch_size=100, lr=args.lr, momentum=0.9,
           lr_schedule="linear", progress=False, seed=0)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    log_z = partition.ais_log_partition(dbn.rbms[1], n_runs=args.runs, n_betas=args.betas, data=codes,
                                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        bound = float(dbn.lower_bound(xt, log_z=log_z.log_z_checked, n_samples=10).mean())
    flag = "" if log_z.reliable else f" (unreliable top log Z: ESS {log_z.effective_sample_size:.1f})"
    rows.append((f"DBN 784-{args.hidden}-{args.top}, lower bound", f"{bound:.2f}{flag}", "(AIS band of the top RBM: "
                 f"±{(log_z.upper - log_z.lower) / 2:.2f})", f"{args.epochs} + {args.epochs}",
                 f"{train_s:.0f} + {time.perf_counter() - t:.0f} (AIS)"))
    print("  " + " | ".join(map(str, rows[-1])), flush=True)

    t = time.perf_counter()
    clf = dbn.to_classifier(10)
    lw.fit(clf, (x, y), epochs=args.finetune_epochs, batch_size=50, lr=0.1, momentum=0.9, progress=False, seed=0)
    err = 1 - clf.accuracy(xt, yt)
    rows.append(("DBN-initialised classifier, test error", f"{100 * err:.2f} %", "", f"{args.finetune_epochs} (fine-tuning)",
                 f"{time.perf_counter() - t:.0f}"))
    _table(rows, t_all)


def band_text(rep, ais) -> str:
    """The ±3 SE band of a quotable estimate, else why there is none."""
    if rep.kind != "estimate":
        return f"none (ESS {ais.effective_sample_size:.1f}, log Z {ais.log_z:.2f} vs floor {ais.floor:.2f})"
    return f"[{rep.value - (ais.upper - ais.log_z):.2f}, {rep.value - (ais.lower - ais.log_z):.2f}]"


def ais_diagnostics(ais) -> str:
    """ESS, log-weight spread, floor, and the share of the log-weight variance per beta segment."""
    var = ais.segment_variance
    share = (var / var.sum()).tolist() if float(var.sum()) > 0 else [0.0] * len(var)
    edges = ais.segment_betas.tolist()
    parts = ", ".join(f"({a:.1f},{b:.1f}] {100 * f:.0f}%" for a, b, f in zip(edges[:-1], edges[1:], share))
    return (f"AIS log Z {ais.log_z:.2f}, floor {ais.floor:.2f}, ESS {ais.effective_sample_size:.2f}, "
            f"log-weight std {ais.log_weight_std:.2f}, variance of the log weight {float(ais.cumulative_variance[-1]):.1f}; "
            f"per-segment increment variance {[round(v, 1) for v in var.tolist()]} ({parts})")


def _table(rows, t_all) -> None:
    print()
    print("| model | test log-likelihood (nats) | band | epochs | seconds |")
    print("|---|---:|---|---|---|")
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")
    print("| paper: RBM CD-25, 500 hidden (Salakhutdinov & Murray 2008) | about -86 | | long | |")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
