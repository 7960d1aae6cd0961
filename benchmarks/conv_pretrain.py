"""Does convolutional-autoencoder pre-training help CNN-1 on MNIST with few labels?

CNN-1 (conv 32@5x5 -> ReLU -> max-pool 2 -> fc 128 -> softmax) fine-tuned with 1 % and 10 % of
the MNIST training labels (stratified, per seed), from random initialisation and from greedy
pre-training of its convolution as a convolutional autoencoder (unpooling decoder; plain and
denoising with 30 % masking noise) on all 60,000 *unlabelled* training images. Pre-training is
done once per seed and variant and shared by both label budgets. Test accuracy on the 10,000
test images, mean ± std over the seeds, and the paired difference against random init::

    LAYERWISE_DATA=../shared/data .venv/bin/python benchmarks/conv_pretrain.py --seeds 3
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch

import layerwise as lw
from layerwise.models.cnn import CNN_CONFIGS, build_cnn, load_pretrained_convs
from layerwise.models.conv_autoencoder import ConvAutoEncoder
from layerwise.app.report import verdict

VARIANTS = {"random": None, "conv-AE": {}, "denoising conv-AE": {"noise": "masking", "noise_level": 0.3}}


def pretrained_cnn(x, options, args, seed):
    shape = (1, 28, 28)
    makers = []
    for channels, kernel, pool in CNN_CONFIGS[args.network]["blocks"]:
        makers.append(lambda n, s=shape, c=channels, k=kernel, p=pool: ConvAutoEncoder(s, c, k, p, **options))
        shape = (channels, shape[1] // pool, shape[2] // pool)
    stack = lw.pretrain(makers, x, epochs=args.pretrain_epochs, batch_size=64, optimizer="adam", lr=1e-3,
                        progress=False, seed=seed)
    return load_pretrained_convs(build_cnn(args.network, (1, 28, 28)), stack)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--fractions", default="0.01,0.1")
    p.add_argument("--network", default="cnn-1", choices=sorted(CNN_CONFIGS))
    p.add_argument("--pretrain-epochs", type=int, default=2)
    p.add_argument("--finetune-epochs", type=int, default=30)
    p.add_argument("--train-size", type=int, default=60000, help="training images (labelled fractions of these)")
    p.add_argument("--pretrain-size", type=int, default=None, help="unlabelled images for pre-training (default all)")
    args = p.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    x, y = lw.datasets.load("mnist", "train")
    xt, yt = lw.datasets.load("mnist", "test")
    x, y = x[:args.train_size].reshape(-1, 784), y[:args.train_size]
    xt = xt.reshape(-1, 784)
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"{args.network}, {min(args.pretrain_size or len(x), len(x))} unlabelled images, pre-training {args.pretrain_epochs} epochs, "
          f"fine-tuning {args.finetune_epochs} epochs (Adam 1e-3, batch 32)", flush=True)
    t_all = time.perf_counter()
    acc: dict[tuple[str, float], list[float]] = {}
    secs: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        nets = {}
        for name, options in VARIANTS.items():
            torch.manual_seed(seed)
            t = time.perf_counter()
            unlabelled = x[:args.pretrain_size] if args.pretrain_size else x
            nets[name] = build_cnn(args.network, (1, 28, 28)) if options is None else \
                pretrained_cnn(unlabelled, options, args, seed)
            secs.setdefault(name, []).append(time.perf_counter() - t)
        for fraction in fractions:
            lx, ly, _ = lw.datasets.label_fraction(x, y, fraction, seed=seed)
            for name, net in nets.items():
                torch.manual_seed(seed)
                clf, _ = lw.finetune(copy.deepcopy(net), (lx, ly), 10, epochs=args.finetune_epochs, batch_size=32,
                                     optimizer="adam", lr=1e-3, progress=False, seed=seed)
                a = clf.accuracy(xt, yt)
                acc.setdefault((name, fraction), []).append(a)
                print(f"  seed {seed}  {fraction:>5.0%} labels ({len(ly):>5})  {name:<18} test accuracy {a:.4f}",
                      flush=True)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s\n")
    print("| labels | variant | test accuracy | against random init | pre-training s |")
    print("|---|---|---|---|---|")
    for fraction in fractions:
        base = acc[("random", fraction)]
        for name in VARIANTS:
            a = acc[(name, fraction)]
            std = statistics.stdev(a) if len(a) > 1 else 0.0
            diffs = [u - v for u, v in zip(a, base)] if name != "random" else []
            print(f"| {fraction:.0%} | {name} | {statistics.fmean(a) * 100:.2f} ± {std * 100:.2f} % | "
                  f"{verdict(diffs) if diffs else 'baseline'} | {statistics.fmean(secs[name]):.0f} |")


if __name__ == "__main__":
    main()
