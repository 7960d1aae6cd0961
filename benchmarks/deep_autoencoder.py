"""Hinton & Salakhutdinov (2006): MNIST deep autoencoder 784-1000-500-250-30 against PCA.

1. Greedy layer-wise pre-training with :func:`layerwise.pretrain` of four one-hidden-layer
   **autoencoders** (the paper used RBMs; RBMs come in a later issue): 784-1000, 1000-500,
   500-250 with sigmoid codes, and 250-30 with a linear 30-unit code as in the paper. Each
   trains on the codes of the one below.
2. Unrolling: the encoder is the pre-trained stack; the decoder is the learners' decoders in
   reverse order (``decoder_weight(0)``, i.e. ``W^T`` for tied learners), sigmoid units, a
   sigmoid output. The unrolled :class:`DeepAutoEncoder` has a ``training_loss`` and is
   fine-tuned end to end on reconstruction through :func:`layerwise.fit`.
3. The same network from a random (Xavier) initialisation, fine-tuned for the same epochs
   ("no pre-training"), and PCA with 30 components (scikit-learn, fitted on the same training
   images).

Reported measure, as in the paper: the average squared reconstruction error per test image,
``1/N sum_n sum_{i=1}^{784} (x_ni - x^_ni)^2`` over the 10,000 MNIST test images, pixels in
[0, 1]. The paper reports 3.00 (RBM-pre-trained deep autoencoder, CG fine-tuning) and 13.87
(PCA, 30 components).

Run::

    LAYERWISE_DATA=/work/shared/data python benchmarks/deep_autoencoder.py \
        --pretrain-epochs 8 --finetune-epochs 20 --threads 1

The defaults are that budget (about 13 minutes with one thread of a 2-core AMD EPYC; with
``--pretrain-epochs 4 --finetune-epochs 10`` about 7 minutes): Adam (lr 1e-3) for both
phases, batches of 128, cross-entropy reconstruction loss. The paper's budget was far larger
(the authors' Matlab code mentions 50 RBM epochs per layer for the paper and 200 epochs of
conjugate-gradient fine-tuning; not re-checked here).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import layerwise  # noqa: E402
from layerwise import datasets, functional as LF, pretraining, training  # noqa: E402
from layerwise.models import AutoEncoder  # noqa: E402

fit = getattr(layerwise, "fit", None) or training.fit
pretrain = getattr(layerwise, "pretrain", None) or pretraining.pretrain

SIZES = [1000, 500, 250, 30]
PAPER = {"deep autoencoder (RBM pre-training, CG fine-tuning)": 3.00, "PCA, 30 components": 13.87}


class DeepAutoEncoder(nn.Module):
    """An unrolled deep autoencoder: ``x^ = sigmoid(decoder(encoder(x)))``.

    ``encoder`` maps x to the code; ``decoder`` maps the code to the output *logits* (its last
    module is an ``nn.Linear``). Trained through :func:`layerwise.fit` by ``training_loss``:
    ``"bce"`` (cross-entropy summed over pixels, the paper's MNIST fine-tuning objective) or
    ``"mse"`` (mean squared error per pixel), both averaged over the batch.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, loss: str = "bce"):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.loss = loss

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        return LF.reconstruction_loss(self.loss, self.logits(x), x, "sigmoid")

    @torch.no_grad()
    def metrics(self, x: torch.Tensor) -> dict[str, float]:
        return {"sse_per_image": float((self(x) - x).pow(2).sum(1).mean())}


def unroll(stack: pretraining.Stack, loss: str) -> DeepAutoEncoder:
    """Encoder: the stack's encoders (shared); decoder: copies of the learners' decoder layers,
    top layer first, sigmoid between, logits out."""
    mods: list[nn.Module] = []
    learners = list(stack.learners)
    for k, learner in enumerate(reversed(learners)):
        w, b = learner.decoder_weight(0).detach(), learner.decoder_bias(0).detach()
        lin = nn.Linear(w.shape[1], w.shape[0], device=w.device, dtype=w.dtype)
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        mods.append(lin)
        if k < len(learners) - 1:
            mods.append(LF.activation_module(learner.output_activation))
    return DeepAutoEncoder(stack, nn.Sequential(*mods), loss)


def random_deep_autoencoder(code_activation: str, loss: str, seed: int) -> DeepAutoEncoder:
    """The same architecture, Xavier-uniform weights and zero biases (the learners' own init)."""
    torch.manual_seed(seed)
    sizes = [784] + SIZES

    def block(n_in, n_out, act):
        lin = nn.Linear(n_in, n_out)
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        return [lin] + ([LF.activation_module(act)] if act else [])

    enc, dec = [], []
    for i in range(len(SIZES)):
        enc.append(nn.Sequential(*block(sizes[i], sizes[i + 1],
                                        code_activation if i == len(SIZES) - 1 else "sigmoid")))
    back = sizes[::-1]
    for i in range(len(SIZES)):
        dec += block(back[i], back[i + 1], "sigmoid" if i < len(SIZES) - 1 else None)
    return DeepAutoEncoder(nn.Sequential(*enc), nn.Sequential(*dec), loss)


@torch.no_grad()
def sse_per_image(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    dev = next(model.parameters()).device
    total = 0.0
    for s in range(0, x.shape[0], batch):
        xb = x[s:s + batch].to(dev)
        total += float((model(xb) - xb).pow(2).sum(dtype=torch.float64))
    return total / x.shape[0]


def pca_error(x_train: torch.Tensor, x_test: torch.Tensor, k: int, seed: int) -> tuple[float, float, float]:
    from sklearn.decomposition import PCA

    t0 = time.perf_counter()
    pca = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit(x_train.numpy())
    secs = time.perf_counter() - t0

    def err(x):
        xn = x.numpy().astype(np.float64)
        rec = pca.inverse_transform(pca.transform(x.numpy())).astype(np.float64)
        return float(((xn - rec) ** 2).sum(1).mean())

    return err(x_train[:10000]), err(x_test), secs


def log_epoch(tag: str):
    def cb(state, record):
        extra = f", monitor sse/image {record['sse_per_image']:.2f}" if "sse_per_image" in record else ""
        print(f"  [{tag}] epoch {record['epoch']}/{state.epochs}: loss {record['loss']:.4f}"
              f"{extra} ({record['seconds']:.1f} s)", flush=True)
    return cb


def machine_line(device: torch.device) -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({cpu}){gpu}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; device {device}; load average {load}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train-size", type=int, default=60000, help="training images (first N of MNIST train)")
    p.add_argument("--pretrain-epochs", type=int, default=8, help="epochs per pre-trained layer")
    p.add_argument("--finetune-epochs", type=int, default=20)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", default="adam", choices=training.OPTIMIZERS)
    p.add_argument("--pretrain-lr", type=float, default=1e-3)
    p.add_argument("--finetune-lr", type=float, default=0.001)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--loss", default="bce", choices=("bce", "mse"),
                   help="reconstruction loss of pre-training and fine-tuning (bce: the paper's MNIST choice)")
    p.add_argument("--tied", action="store_true", help="tied weights in the layer autoencoders")
    p.add_argument("--code", default="linear", choices=("linear", "sigmoid"), help="30-unit code units")
    p.add_argument("--no-baseline", action="store_true", help="skip the random-initialisation row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = training.resolve_device(args.device)
    t_start = time.perf_counter()

    x_train, _ = datasets.load("mnist", "train")
    x_test, _ = datasets.load("mnist", "test")
    x_train = x_train[: args.train_size].contiguous()
    print(f"machine: {machine_line(device)}")
    print(f"data: MNIST {x_train.shape[0]} train / {x_test.shape[0]} test images, pixels in "
          f"[{float(x_test.min()):g}, {float(x_test.max()):g}]")
    print(f"budget: pre-training {args.pretrain_epochs} epochs per layer, fine-tuning "
          f"{args.finetune_epochs} epochs; batch {args.batch_size}, {args.optimizer}"
          f"{f' (momentum {args.momentum})' if args.optimizer in ('sgd', 'rmsprop') else ''}, lr pre-train {args.pretrain_lr}, fine-tune {args.finetune_lr}, "
          f"loss {args.loss}, {'tied' if args.tied else 'untied'} layer AEs, {args.code} code", flush=True)
    common = dict(batch_size=args.batch_size, optimizer=args.optimizer, momentum=args.momentum,
                  device=device, seed=args.seed, progress=args.progress)
    rows = []

    # ---- PCA ----------------------------------------------------------------------------------
    pca_train, pca_test, pca_secs = pca_error(x_train, x_test, 30, args.seed)
    rows.append(("PCA, 30 components", pca_test, pca_train, "—", pca_secs))
    print(f"PCA: test {pca_test:.2f}, train {pca_train:.2f} ({pca_secs:.1f} s)", flush=True)

    # ---- greedy pre-training ------------------------------------------------------------------
    def learner(h, act):
        return lambda n: AutoEncoder(n, [h], activation=act, output_activation="sigmoid",
                                     loss=args.loss, tied_weights=args.tied)

    learners = [learner(h, "sigmoid" if i < len(SIZES) - 1 else args.code) for i, h in enumerate(SIZES)]
    torch.manual_seed(args.seed)
    stack = pretrain(learners, x_train, epochs=args.pretrain_epochs, lr=args.pretrain_lr,
                     callbacks=[log_epoch("pretrain")], **common)
    pre_secs = sum(stack.seconds)
    for k, (l, s, h) in enumerate(zip(stack.learners, stack.seconds, stack.histories)):
        print(f"layer {k + 1} {l.n_inputs}-{l.n_components}: {s:.1f} s, last loss {h[-1]['loss']:.4f}")
    deep = unroll(stack, args.loss)
    e_pre = sse_per_image(deep, x_test)
    rows.append(("deep AE, AE pre-training only (unrolled, not fine-tuned)", e_pre,
                 sse_per_image(deep, x_train[:10000]), f"{args.pretrain_epochs}/layer", pre_secs))
    print(f"unrolled, before fine-tuning: test {e_pre:.2f}", flush=True)

    # ---- fine-tuning --------------------------------------------------------------------------
    t0 = time.perf_counter()
    fit(deep, x_train, epochs=args.finetune_epochs, lr=args.finetune_lr,
        callbacks=[log_epoch("fine-tune")], desc="fine-tune", **common)
    ft_secs = time.perf_counter() - t0
    e_ft = sse_per_image(deep, x_test)
    rows.append(("deep AE, AE pre-training + fine-tuning", e_ft, sse_per_image(deep, x_train[:10000]),
                 f"{args.pretrain_epochs}/layer + {args.finetune_epochs}", pre_secs + ft_secs))
    print(f"pre-trained + fine-tuned: test {e_ft:.2f} ({ft_secs:.1f} s)", flush=True)

    # ---- no pre-training ----------------------------------------------------------------------
    if not args.no_baseline:
        rand = random_deep_autoencoder(args.code, args.loss, args.seed)
        t0 = time.perf_counter()
        fit(rand, x_train, epochs=args.finetune_epochs, lr=args.finetune_lr,
            callbacks=[log_epoch("no pre-training")], desc="random init", **common)
        rd_secs = time.perf_counter() - t0
        e_rd = sse_per_image(rand, x_test)
        rows.append(("deep AE, no pre-training (random init) + fine-tuning", e_rd,
                     sse_per_image(rand, x_train[:10000]), f"0 + {args.finetune_epochs}", rd_secs))
        print(f"random init + fine-tuned: test {e_rd:.2f} ({rd_secs:.1f} s)", flush=True)

    print()
    print("| method | test squared error per image | train (first 10k) | epochs | seconds |")
    print("|---|---:|---:|---|---:|")
    for name, test, train, epochs, secs in rows:
        print(f"| {name} | {test:.2f} | {train:.2f} | {epochs} | {secs:.0f} |")
    for name, value in PAPER.items():
        print(f"| paper (Hinton & Salakhutdinov 2006): {name} | {value:.2f} | | | |")
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s; load average at the end "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
