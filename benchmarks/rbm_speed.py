"""RBM training speed: layerwise against scikit-learn's BernoulliRBM, learnergy and a bare loop.

A 784-500 Bernoulli RBM, CD-1 (scikit-learn: PCD-1 with batch-sized chains, its only mode),
batch 100, SGD without momentum at the same learning rate, on MNIST pixels in [0, 1] as float32.
Reports seconds per epoch, the achieved GFLOP/s (counting 10 x N x 784 x 500 FLOP per CD-1
epoch: five (100 x 784) x (784 x 500)-sized matrix products per batch, 2 FLOP per multiply-add)
against this machine's float32 matrix-multiply peak measured in the same run, and the
pseudo-log-likelihood of the test images after the same number of epochs — the same one-random-bit
estimator for every library (their weights are copied into a layerwise RBM to score them).

scikit-learn and learnergy are not dependencies of layerwise: run this with the benchmark's own
environment, made by ``benchmarks/setup_rbm_env.sh``::

    bash benchmarks/setup_rbm_env.sh /tmp/layerwise-bench-venv
    LAYERWISE_DATA=../shared/data /tmp/layerwise-bench-venv/bin/python benchmarks/rbm_speed.py --epochs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

import layerwise as lw

V, H, BATCH = 784, 500, 100


DEVICE = torch.device("cpu")


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def matmul_peak() -> float:
    """Best float32 GFLOP/s of a 2048 x 2048 matrix product (best of 5 rounds of 5; on a GPU
    8192 x 8192, full float32 as the RBM computes: TF32 stays off)."""
    n = 8192 if DEVICE.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=DEVICE), torch.randn(n, n, device=DEVICE)
    a @ b
    sync()
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(5):
            a @ b
        sync()
        best = max(best, 5 * 2 * n ** 3 / (time.perf_counter() - t) / 1e9)
    return best


def batch_product_rate() -> float:
    """GFLOP/s of the five products of a CD-1 batch alone (at their real shapes, no other work):
    the most any implementation can reach at batch 100, to set beside the large-matrix peak."""
    v, h = torch.rand(BATCH, V, device=DEVICE), torch.rand(BATCH, H, device=DEVICE)
    w = torch.randn(H, V, device=DEVICE)

    def five():
        torch.nn.functional.linear(v, w), h @ w, torch.nn.functional.linear(v, w), h.T @ v, h.T @ v

    five()
    sync()
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(100):
            five()
        sync()
        best = max(best, 100 * 10 * BATCH * V * H / (time.perf_counter() - t) / 1e9)
    return best


def score(weight, vbias, hbias, x_test: torch.Tensor) -> float:
    """Mean one-random-bit pseudo-log-likelihood of ``x_test`` under the given parameters."""
    rbm = lw.RBM(V, H)
    with torch.no_grad():
        rbm.weight.copy_(torch.as_tensor(np.asarray(weight), dtype=torch.float32))
        rbm.visible_bias.copy_(torch.as_tensor(np.asarray(vbias), dtype=torch.float32))
        rbm.hidden_bias.copy_(torch.as_tensor(np.asarray(hbias), dtype=torch.float32))
        g = torch.Generator().manual_seed(0)
        return float(rbm.pseudo_log_likelihood(x_test, exact=False, generator=g).mean())


def run_layerwise(x, epochs, lr, x_test):
    torch.manual_seed(0)
    rbm = lw.RBM(V, H)
    hist = lw.fit(rbm, x, epochs=epochs, batch_size=BATCH, optimizer="sgd", lr=lr, device=DEVICE, progress=False)
    secs = statistics.median(hist["seconds"])
    return secs, score(rbm.weight.detach().cpu(), rbm.visible_bias.detach().cpu(), rbm.hidden_bias.detach().cpu(), x_test)


def run_bare(x, epochs, lr, x_test):
    """A hand-written closed-form CD-1 loop: the same maths, no framework."""
    torch.manual_seed(0)
    x = x.to(DEVICE)
    w = torch.randn(H, V, device=DEVICE) * 0.01
    b, c = torch.zeros(V, device=DEVICE), torch.zeros(H, device=DEVICE)
    times = []
    for e in range(epochs):
        sync()
        t = time.perf_counter()
        order = torch.randperm(len(x), device=DEVICE)
        for s in range(0, len(x), BATCH):
            v0 = x[order[s:s + BATCH]]
            h0 = torch.sigmoid(torch.addmm(c, v0, w.T))
            hs = (torch.rand_like(h0) < h0).to(v0.dtype)
            v1 = torch.sigmoid(torch.addmm(b, hs, w))
            h1 = torch.sigmoid(torch.addmm(c, v1, w.T))
            n = v0.shape[0]
            w.add_(torch.addmm(h0.T @ v0, h1.T, v1, alpha=-1.0), alpha=lr / n)
            b.add_(v0.mean(0) - v1.mean(0), alpha=lr)
            c.add_(h0.mean(0) - h1.mean(0), alpha=lr)
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times), score(w.cpu(), b.cpu(), c.cpu(), x_test)


def run_sklearn(x, epochs, lr, x_test):
    from sklearn.neural_network import BernoulliRBM

    xn = x.numpy().astype(np.float32)  # BernoulliRBM keeps float32 input in float32
    model = BernoulliRBM(n_components=H, learning_rate=lr, batch_size=BATCH, n_iter=epochs, random_state=0)
    t = time.perf_counter()
    model.fit(xn)  # verbose=0: no per-epoch scoring inside the timing
    secs = (time.perf_counter() - t) / epochs
    return secs, score(model.components_, model.intercept_visible_, model.intercept_hidden_, x_test)


def run_learnergy(x, epochs, lr, x_test):
    from learnergy.models.bernoulli import RBM as LRBM
    from torch.utils.data import TensorDataset

    torch.manual_seed(0)
    model = LRBM(n_visible=V, n_hidden=H, steps=1, learning_rate=lr, momentum=0.0, decay=0.0, use_gpu=False)
    data = TensorDataset(x, torch.zeros(len(x)))
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        model.fit(data, batch_size=BATCH, epochs=1)
        times.append(time.perf_counter() - t)
    return statistics.median(times), score(model.W.detach().T, model.a.detach(), model.b.detach(), x_test)


RUNNERS = {"layerwise": run_layerwise, "sklearn": run_sklearn, "learnergy": run_learnergy, "bare": run_bare}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--libs", default="layerwise,sklearn,learnergy,bare")
    p.add_argument("--device", default="cpu", help="cpu or cuda (layerwise and the bare loop; the others are CPU-only)")
    args = p.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    x, _ = lw.datasets.load("mnist", "train")
    x = x[: args.train_size].contiguous()
    x_test, _ = lw.datasets.load("mnist", "test")
    peak = matmul_peak()
    ceiling = batch_product_rate()
    flop = 10 * len(x) * V * H
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else f"{os.cpu_count()} CPUs"
    print(f"machine: {where}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"float32 matmul peak {peak:.0f} GFLOP/s; the five batch-{BATCH} products alone {ceiling:.0f} GFLOP/s "
          f"({100 * ceiling / peak:.0f} % of peak); N={len(x)}, epochs={args.epochs}, lr={args.lr}, batch {BATCH}")
    rows = {}
    for lib in args.libs.split(","):
        secs, pll = RUNNERS[lib](x, args.epochs, args.lr, x_test)
        rows[lib] = (secs, pll)
        print(f"  {lib}: {secs:.2f} s/epoch, PLL {pll:.2f}", flush=True)
    print()
    print(f"| library | s / epoch | GFLOP/s | % of peak | test PLL after {args.epochs} epochs | layerwise speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for lib, (secs, pll) in rows.items():
        gf = flop / secs / 1e9
        up = rows[lib][0] / rows["layerwise"][0] if "layerwise" in rows else float("nan")
        print(f"| {lib} | {secs:.2f} | {gf:.0f} | {100 * gf / peak:.0f} % | {pll:.2f} | {up:.2f}x |")
    if "layerwise" in rows:
        lw_s, lw_pll = rows["layerwise"]
        gf = flop / lw_s / 1e9
        print()
        print(f"{'PASS' if gf >= 0.75 * peak else 'FAIL'}: layerwise at {100 * gf / peak:.0f} % of peak (target 75 %); "
              f"{100 * gf / ceiling:.0f} % of what the batch's five products alone reach")
        for lib, need in (("sklearn", 1.3), ("learnergy", 2.5)):
            if lib in rows:
                ratio = rows[lib][0] / lw_s
                same = lw_pll >= rows[lib][1] - 0.5
                print(f"{'PASS' if ratio >= need and same else 'FAIL'}: {ratio:.2f}x {lib} per epoch (target {need}x), "
                      f"PLL {lw_pll:.2f} vs {rows[lib][1]:.2f}")


if __name__ == "__main__":
    main()
