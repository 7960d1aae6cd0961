"""Training beside a busy core: idle against one competing CPU-bound process, old and new threads.

Issue 14, item 1. Each case runs in a fresh Python process, idle and then beside one CPU-bound
process that this script starts itself (a Python busy loop, ``--competitor matmul`` a numpy
matrix-product loop), under two thread settings:

``default``
    torch's default intra-op threads (one per core: what layerwise did before ``threads=``),
    passed as ``--threads N`` / ``threads=N`` with N = ``torch.get_num_threads()`` of a fresh process;
``auto``
    layerwise's policy (:mod:`layerwise.threads`: one thread below ``WORK_THRESHOLD``
    multiply-adds per batch, all cores above).

The cases: a fixed slice of ``layerwise demo`` (``layerwise run demo`` on the embedded digits:
its 8 variants, one seed, short epochs, no deconvolutional section, progress off), and RBM speed
cases through ``layerwise.fit`` on random binary data (64-256 at batch 10; 784-500 at batch 100,
the shape of ``benchmarks/rbm_speed.py``). Prints a Markdown table of seconds and the ratio
busy/idle (target for the demo <= 1.5x), with the machine, date, load and command. A run past
``--cap`` seconds (60) is stopped and shown as ``> 60``: torch's default threads beside a busy core
can take 10x longer or more. Default run under about 5 minutes on 2 cores (12 runs, most a few
seconds; each capped); ``--quick`` shorter cases::

    LAYERWISE_DATA=../shared/data python benchmarks/contention.py
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent

COMPETITORS = {
    "busy": "while True:\n    pass\n",
    "matmul": "import numpy as np\na = np.random.rand(512, 512)\nwhile True:\n    a @ a\n",
}

RBM_CASE = """
import sys, time, torch, layerwise as lw
v, h, batch, n, threads = (int(a) if a.isdigit() else a for a in sys.argv[1:6])
torch.manual_seed(0)
x = (torch.rand(n, v) < 0.3).float()
t = time.perf_counter()
lw.fit(lw.RBM(v, h), x, epochs=1, batch_size=batch, lr=0.01, progress="off", threads=threads)
print(time.perf_counter() - t)
"""


def run_case(case: tuple, threads: str, env: dict, cap: float) -> float:
    """Seconds of one case in a fresh process (the demo: wall time of the whole command); inf when
    it ran past ``cap`` seconds (then it is stopped)."""
    kind, *args = case
    try:
        if kind == "rbm":
            out = subprocess.run([sys.executable, "-c", RBM_CASE, *map(str, args), threads], env=env, check=True,
                                 capture_output=True, text=True, timeout=cap).stdout
            return float(out.split()[-1])
        pretrain, finetune = args
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "layerwise", "run", "demo", "--out", str(Path(tmp) / "run"),
                            "--progress", "off", "--threads", threads, "--seeds=[0]",
                            f"--pretrain.epochs={pretrain}", f"--finetune.epochs={finetune}"],
                           env=env, check=True, capture_output=True, timeout=cap)
            return time.perf_counter() - t
    except subprocess.TimeoutExpired:
        return math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--competitor", choices=sorted(COMPETITORS), default="busy")
    parser.add_argument("--quick", action="store_true", help="shorter cases (about a third of the time)")
    parser.add_argument("--cap", type=float, default=60.0,
                        help="seconds after which a run is stopped and shown as '> cap' (default 60)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("OMP_NUM_THREADS", None)  # the old behaviour is torch's own default
    default = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
    scale = 3 if args.quick else 1
    cases = {
        "demo slice (8 variants, 1 seed)": ("demo", 4 // scale or 1, 6 // scale or 1),
        "RBM 64-256, batch 10": ("rbm", 64, 256, 10, 6000 // scale),
        "RBM 784-500, batch 100": ("rbm", 784, 500, 100, 6000 // scale),
    }
    load = os.getloadavg()
    rows = []
    for name, case in cases.items():
        for label, threads in (("default", default), ("auto", "auto")):
            idle = run_case(case, threads, env, args.cap)
            competitor = subprocess.Popen([sys.executable, "-c", COMPETITORS[args.competitor]])
            try:
                time.sleep(0.5)
                busy = run_case(case, threads, env, args.cap)
            finally:
                competitor.kill()
                competitor.wait()
            rows.append((name, f"{label} ({threads})", idle, busy))
            print(f"  {name}, threads {label}: idle {idle:.1f} s, busy {busy:.1f} s", file=sys.stderr, flush=True)
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"({len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} usable), "
          f"torch {torch.__version__}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average at start "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; competitor: {args.competitor}")
    print(f"Command: python benchmarks/contention.py{' --quick' if args.quick else ''} --cap {args.cap:g}"
          f"{'' if args.competitor == 'busy' else ' --competitor ' + args.competitor}\n")
    print("| case | threads | idle (s) | busy (s) | busy / idle |")
    print("|---|---|---:|---:|---:|")
    for name, label, idle, busy in rows:
        ratio = "?" if math.isinf(idle) else (f"> {args.cap / idle:.1f}x" if math.isinf(busy) else f"{busy / idle:.2f}x")
        print(f"| {name} | {label} | {_secs(idle, args.cap)} | {_secs(busy, args.cap)} | {ratio} |")


def _secs(value: float, cap: float) -> str:
    return f"> {cap:.0f}" if math.isinf(value) else f"{value:.1f}"


if __name__ == "__main__":
    main()
