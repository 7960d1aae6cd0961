"""DBM quality on binarised MNIST: the AIS lower bound on test log p(v), against the published
-84.62 nats (Salakhutdinov & Hinton 2009) and an RBM trained for the same wall time, and the
test error of the DBM-initialised classifier.

A 784-500-1000 DBM (the paper's architecture) is pre-trained greedily with doubled inputs
(``DBM.pretrain``: CD-1 RBMs), then trained jointly (mean field for the data term, 100
persistent chains for the model term); log Z by AIS over the DBM (odd layers summed out) from
a base-rate model; the bound uses the mean-field posterior. The RBM (784-500, CD-1) gets the
DBM's whole training time, epoch by epoch. Pixels are binarised at 0.5 (the paper samples them
stochastically). The paper trains for hundreds of epochs; say the budget when comparing.

Each AIS estimate is checked against the proven floor on log Z (``DBM.log_z_floor`` over the
distinct (v, rounded mean-field h2) states of the training images, the persistent chains' even
layers and the AIS end states, h1 summed out exactly; ``partition.log_z_floor`` over the
training images for the RBM): below the floor, or with an effective sample size under
``partition.MIN_ESS``, no estimate is quoted, only the proven upper bound ("<= x (proven)")::

    LAYERWISE_DATA=../shared/data .venv/bin/python benchmarks/dbm_quality.py --pretrain-epochs 2 --epochs 3
"""

from __future__ import annotations

import argparse
import time

import torch

import layerwise as lw
from _mnist import binarised_mnist, machine
from rbm_quality import band_text, ais_diagnostics
from layerwise import partition


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", default="500,1000")
    p.add_argument("--pretrain-epochs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3, help="joint training epochs")
    p.add_argument("--lr", type=float, default=0.005, help="joint training learning rate")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--betas", type=int, default=10000)
    p.add_argument("--finetune-epochs", type=int, default=2)
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--test-size", type=int, default=10000)
    args = p.parse_args()
    hidden = [int(h) for h in args.hidden.split(",")]
    x, y, xt, yt = binarised_mnist(args.train_size, args.test_size)
    print(f"machine: {machine()}; "
          f"N={len(x)}, test {len(xt)}; DBM 784-{'-'.join(map(str, hidden))}, {args.pretrain_epochs} pre-training "
          f"+ {args.epochs} joint epochs; AIS {args.runs} runs x {args.betas} temperatures", flush=True)
    rows = []

    torch.manual_seed(0)
    dbm = lw.DBM([784, *hidden], n_chains=100)
    t = time.perf_counter()
    dbm.pretrain(x, epochs=args.pretrain_epochs, batch_size=100, lr=0.05, momentum=0.5, progress=False, seed=0)
    pre_s = time.perf_counter() - t
    lw.fit(dbm, x, epochs=args.epochs, batch_size=100, optimizer="sgd", lr=args.lr, momentum=0.9,
           lr_schedule="linear", progress=False, seed=0)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    chains = torch.cat(dbm.chains[0::2], 1)
    seen = [dbm.floor_states(x)] + ([chains] if partition.is_discrete(chains, (0.0, 1.0)) else [])
    ais = dbm.log_partition("ais", n_runs=args.runs, n_betas=args.betas, data=x, floor_states=torch.cat(seen),
                            generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # -E_q[E(v, h)] + H(q); the bound is this minus log Z
        rep = partition.report_log_likelihood(-dbm.variational_free_energy(xt).double(), ais)
    rows.append((f"DBM 784-{'-'.join(map(str, hidden))}, lower bound", str(rep), band_text(rep, ais),
                 f"{args.pretrain_epochs} + {args.epochs}",
                 f"{pre_s:.0f} + {train_s - pre_s:.0f} + {time.perf_counter() - t:.0f} (AIS)"))
    print("  " + " | ".join(rows[-1]), flush=True)
    print("    " + ais_diagnostics(ais), flush=True)

    torch.manual_seed(0)
    rbm = lw.RBM(784, hidden[0]).init_visible_bias(x)
    opt = torch.optim.SGD(rbm.parameters(), lr=0.05, momentum=0.9)
    t, epochs = time.perf_counter(), 0
    while time.perf_counter() - t < train_s:
        lw.fit(rbm, x, epochs=1, batch_size=100, optimizer=opt, progress=False, seed=epochs)
        epochs += 1
    rbm_s = time.perf_counter() - t
    t = time.perf_counter()
    rais = partition.ais_log_partition(rbm, n_runs=args.runs, n_betas=args.betas, data=x,
                                       generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        rrep = partition.report_log_likelihood(-rbm.free_energy(xt).double(), rais)
    rows.append((f"RBM 784-{hidden[0]} CD-1, same wall time", str(rrep), band_text(rrep, rais), str(epochs),
                 f"{rbm_s:.0f} + {time.perf_counter() - t:.0f} (AIS)"))
    print("  " + " | ".join(rows[-1]), flush=True)
    print("    " + ais_diagnostics(rais), flush=True)

    t = time.perf_counter()
    clf = dbm.to_classifier(10)
    lw.fit(clf, (x, y), epochs=args.finetune_epochs, batch_size=100, optimizer="sgd", lr=0.1, momentum=0.9,
           progress=False, seed=0)
    err = 1.0 - clf.accuracy(xt, yt)
    rows.append(("DBM-initialised classifier, test error", f"{err * 100:.2f} %", "", str(args.finetune_epochs),
                 f"{time.perf_counter() - t:.0f}"))
    print("  " + " | ".join(rows[-1]), flush=True)
    print()
    print("| model | test log p(v) or error | band | epochs | seconds |")
    print("|---|---:|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("| paper: DBM 784-500-1000 (Salakhutdinov & Hinton 2009) | -84.62 | | long | |")


if __name__ == "__main__":
    main()
