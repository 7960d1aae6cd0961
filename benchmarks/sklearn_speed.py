"""RBMTransformer against scikit-learn's BernoulliRBM at BernoulliRBM's own settings, side by side.

Three comparisons, each printed as a Markdown table with the machine, torch's thread count and the
load average:

1. **Defaults** on the digits (``load_digits``, 1797 x 64, scaled to [0, 1] by ``minmax_scale``):
   ``batch_size=10, n_components=256, n_iter=10, learning_rate=0.1`` for both (BernoulliRBM
   trains by PCD-1, RBMTransformer by CD-1, its default), and the same at ``batch_size=100``.
   Fit times over ``--repeats`` rounds, the two estimators interleaved within each round (a
   busy machine slows both alike), median and per-batch milliseconds (``n_iter x
   ceil(n / batch_size)`` batches per fit). The ratio is layerwise's time over scikit-learn's.
   With ``verbose=0`` neither computes anything per epoch (RBMTransformer's ``history_`` then
   holds no metrics) and RBMTransformer no surrogate loss per batch.
2. **The gallery example**, "Restricted Boltzmann Machine features for digit classification"
   of scikit-learn: the digits nudged by one pixel in four directions (8985 images), 80/20
   split (``random_state=0``), ``n_components=100, learning_rate=0.06, n_iter=10``,
   ``LogisticRegression(C=6000, max_iter=1000)`` on the features (``verbose=True`` as in the
   example; its output is discarded). RBM fit time, logistic regression fit time and the test
   accuracy of each pipeline.

Before any timing one small RBMTransformer fit is run and timed (``first fit``): the first
``torch.optim`` optimiser of a process imports ``torch._dynamo``, a one-off cost of torch
that BernoulliRBM does not pay and that would otherwise land in the first round.

Run it on a quiet machine: with torch's default thread count beside another busy process,
RBMTransformer at batch 10 slowed down 48x here (2 cores, load 5: 33 s against 0.69 s), the
collapse of issue 14; ``--threads 1`` shows the single-thread speed. About a minute and a half
on 2 cores with the defaults::

    python benchmarks/sklearn_speed.py                 # torch's default thread count
    python benchmarks/sklearn_speed.py --threads 1     # torch.set_num_threads(1) first
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import convolve
from sklearn import __version__ as sklearn_version
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.preprocessing import minmax_scale

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autoencoder_speed import machine_line  # noqa: E402

from layerwise.sklearn import RBMTransformer  # noqa: E402


def nudge_dataset(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gallery example's augmentation: each 8 x 8 image shifted by one pixel left, right,
    down and up, beside the original (5 x the data)."""
    directions = [[[0, 1, 0], [0, 0, 0], [0, 0, 0]], [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
                  [[0, 0, 0], [0, 0, 1], [0, 0, 0]], [[0, 0, 0], [0, 0, 0], [0, 1, 0]]]

    def shift(x, w):
        return convolve(x.reshape((8, 8)), mode="constant", weights=np.array(w)).ravel()

    X = np.concatenate([X] + [np.apply_along_axis(shift, 1, X, w) for w in directions])
    return X, np.concatenate([y for _ in range(5)], axis=0)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def quiet(fn):
    """Run ``fn`` with stdout and stderr discarded (the estimators' verbose lines and bars)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn()


def side_by_side(X: np.ndarray, batch_size: int, repeats: int, **settings) -> dict:
    """Interleaved fit times of BernoulliRBM and RBMTransformer at the same settings."""
    sk, lw = [], []
    for r in range(repeats):
        sk.append(timed(lambda: BernoulliRBM(batch_size=batch_size, random_state=r, **settings).fit(X)))
        lw.append(timed(lambda: RBMTransformer(batch_size=batch_size, random_state=r, **settings).fit(X)))
    batches = settings.get("n_iter", 10) * math.ceil(X.shape[0] / batch_size)
    sk_med, lw_med = statistics.median(sk), statistics.median(lw)
    return {"batch": batch_size, "sk": sk_med, "lw": lw_med, "sk_ms": 1e3 * sk_med / batches,
            "lw_ms": 1e3 * lw_med / batches, "ratio": lw_med / sk_med, "sk_all": sk, "lw_all": lw}


def gallery(repeats: int) -> list[dict]:
    """The gallery example's RBM + logistic regression pipeline, for both RBMs."""
    X, y = load_digits(return_X_y=True)
    X, y = nudge_dataset(np.asarray(X, "float32"), y)
    X = minmax_scale(X, feature_range=(0, 1))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    settings = {"n_components": 100, "learning_rate": 0.06, "n_iter": 10, "random_state": 0, "verbose": True}
    rows = {"BernoulliRBM": [], "RBMTransformer": []}
    for _ in range(repeats):
        for name, cls in (("BernoulliRBM", BernoulliRBM), ("RBMTransformer", RBMTransformer)):
            rbm = cls(**settings)
            t_rbm = timed(lambda: quiet(lambda: rbm.fit(X_train)))
            logistic = LogisticRegression(C=6000, max_iter=1000)
            features = rbm.transform(X_train)
            t_lr = timed(lambda: logistic.fit(features, y_train))
            acc = float((logistic.predict(rbm.transform(X_test)) == y_test).mean())
            rows[name].append((t_rbm, t_lr, acc))
    return [{"name": name, "rbm": statistics.median(r[0] for r in runs),
             "logistic": statistics.median(r[1] for r in runs), "accuracy": runs[-1][2],
             "batches": settings["n_iter"] * math.ceil(X_train.shape[0] / 10)}
            for name, runs in rows.items()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="rounds at the defaults (median; default 5)")
    p.add_argument("--gallery-repeats", type=int, default=1, help="rounds of the gallery example (default 1)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads(N) before timing")
    p.add_argument("--no-gallery", action="store_true", help="skip the gallery example")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    X = minmax_scale(load_digits().data.astype(np.float64), feature_range=(0, 1))
    first = timed(lambda: RBMTransformer(n_iter=1, random_state=0).fit(X[:100]))
    defaults = {"n_components": 256, "learning_rate": 0.1, "n_iter": 10}

    print(f"# RBMTransformer vs BernoulliRBM ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)\n")
    print(f"- machine: {machine_line(torch.device('cpu'))}")
    print(f"- scikit-learn {sklearn_version}, numpy {np.__version__}; OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"- command: python benchmarks/sklearn_speed.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"- first RBMTransformer fit of the process (100 samples, 1 epoch, includes torch's one-off "
          f"import of torch._dynamo by torch.optim): {first:.2f} s\n")
    print(f"## Digits at BernoulliRBM's defaults ({X.shape[0]} x {X.shape[1]}, 256 components, "
          f"10 iterations, learning rate 0.1; median of {args.repeats}, interleaved)\n")
    print("| batch | BernoulliRBM s | RBMTransformer s | BernoulliRBM ms/batch | RBMTransformer ms/batch "
          "| RBMTransformer / BernoulliRBM |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch in (10, 100):
        r = side_by_side(X, batch, args.repeats, **defaults)
        print(f"| {batch} | {r['sk']:.3f} | {r['lw']:.3f} | {r['sk_ms']:.3f} | {r['lw_ms']:.3f} | {r['ratio']:.2f}x |")
    print(f"\nload average: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if not args.no_gallery:
        print(f"\n## scikit-learn's gallery example (nudged digits, RBM 64-100 + logistic regression, "
              f"median of {args.gallery_repeats})\n")
        print("| RBM | RBM fit s | ms/batch | logistic fit s | test accuracy |")
        print("|---|---:|---:|---:|---:|")
        for row in gallery(args.gallery_repeats):
            print(f"| {row['name']} | {row['rbm']:.2f} | {1e3 * row['rbm'] / row['batches']:.3f} | "
                  f"{row['logistic']:.2f} | {row['accuracy']:.4f} |")
        print(f"\nload average: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
