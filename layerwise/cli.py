"""The ``layerwise`` command: demo, run, experiment, datasets, configs, evaluate, sample, visualize.

Argument parsing only: each command is a function of :mod:`layerwise.app.commands`, imported
when the command runs (so that ``layerwise --help`` starts without loading torch).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from . import __version__

__all__ = ["main", "DEBUG_ENV", "one_line"]

#: Set to 1 (or pass ``--traceback``) to see the traceback of an error instead of its one line.
DEBUG_ENV = "LAYERWISE_DEBUG"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<name>-<time>)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars (the same as --progress off)")
    p.add_argument("--progress", choices=("auto", "bar", "lines", "off"), default="auto",
                   help="auto (default): a bar on a terminal, else one line per epoch (and per 30 s); "
                   "bar; lines; off")
    p.add_argument("--threads", type=_threads, default="auto",
                   help="intra-op CPU threads of every training: auto (default: 1 for small models, "
                   "all cores for large ones) or a number")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (overrides the config)")


def _threads(text: str) -> str | int:
    """``--threads``: "auto" or an int >= 1."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an int >= 1, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerwise",
        description="Unsupervised learning and greedy layer-wise pre-training on PyTorch.",
    )
    parser.add_argument("--traceback", action="store_true",
                        help=f"on an error, show the traceback, not one line (also: {DEBUG_ENV}=1); "
                        "may be given anywhere on the line")
    parser.add_argument("--version", action="version", version=f"layerwise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="pre-training vs random init on the embedded digits (about a minute)",
                          description="With 10% of the digits' training labels, fine-tune the same MLP from "
                          "random initialisation and from stacked autoencoder pre-training (plain, denoising, "
                          "sparse, contractive) and RBM/DBN pre-training; print the table and write a run folder with report.md and "
                          "PNGs. Then the deconvolutional section: a small CNN's Zeiler-Fergus projections and "
                          "convolutional sparse-coding filters.")
    _common(demo)
    demo.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the config's 5)")
    demo.add_argument("--no-deconv", action="store_true", help="skip the deconvolutional section (CNN projections, CSC)")

    run = sub.add_parser("run", help="run a YAML run file (or a built-in config by name)",
                         description="Run CONFIG (a YAML file, or a built-in name: see 'layerwise configs'). "
                         "Extra arguments --section.key=value override the file, e.g. --pretrain.epochs=5.")
    run.add_argument("config", help="YAML run file or built-in config name")
    _common(run)

    ds = sub.add_parser("datasets", help="list the data sets, where each is looked for, whether it is found",
                        description="List the data sets and where each is looked for: --root, else "
                        "$LAYERWISE_DATA, else ~/.cache/layerwise.")
    ds.add_argument("--root", default=None, help="data root to look in")

    sub.add_parser("configs", help="list the built-in run files", description="List the built-in run files.")

    ev = sub.add_parser("evaluate", help="a checkpoint's metrics on a data set (the numbers of its run's report)",
                        description="Load a checkpoint (a run folder or its last/) and report the model's "
                        "metrics on a data set's split: accuracy for classifiers, the task's test metrics "
                        "otherwise. A run folder's data transforms (config.yaml: scale, divide, binarize, "
                        "standardize, max_test) are applied again, so the numbers are those of its report.")
    ev.add_argument("checkpoint", type=Path)
    ev.add_argument("--data", default=None,
                    help="data set name (default: the run's; digits for a checkpoint outside a run folder)")
    ev.add_argument("--split", default="test", choices=["train", "test"])
    ev.add_argument("--root", default=None, help="data root (default: the run's)")
    sm = sub.add_parser("sample", help="PNG grids of samples from an RBM or DBN checkpoint",
                        description="Run Gibbs chains in an RBM (or the top RBM of a DBN, then a down pass) "
                        "and write samples.png (the last states) and chain.png (the chains' evolution).")
    sm.add_argument("checkpoint", type=Path, help="a checkpoint folder, or a run folder holding last/")
    sm.add_argument("--n", type=int, default=64, help="number of chains (default 64)")
    sm.add_argument("--steps", type=int, default=1000, help="Gibbs sweeps (default 1000)")
    sm.add_argument("--every", type=int, default=None, help="snapshot interval for chain.png (default steps/10)")
    sm.add_argument("--shape", default=None, help="image shape HxW (default: square from the input size)")
    sm.add_argument("--seed", type=int, default=0)
    sm.add_argument("--out", type=Path, default=None, help="output folder (default: the checkpoint's folder)")
    ex = sub.add_parser("experiment", help="every network of some run files, for several seeds and label budgets",
                        description="Run every variant of every run file (a folder of *.yaml, files, or a built-in "
                        "folder such as 'faces') for each seed and label fraction: pre-training on the unlabelled "
                        "training images only, fine-tuning with the kept labels. Writes results.csv (one row per "
                        "cell, appended as cells finish: a rerun into the same --out skips them), report.md, "
                        "accuracy_vs_labels.png and time_split.png. Extra --section.key=value arguments override "
                        "every run file.")
    ex.add_argument("sources", nargs="+", help="run files, folders of run files, or a built-in folder (faces)")
    ex.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    ex.add_argument("--label-fractions", default="0.01,0.1,1.0", help="comma-separated, each in (0, 1] (default 0.01,0.1,1.0)")
    _common(ex)
    vz = sub.add_parser("visualize", help="Zeiler-Fergus projections of a CNN checkpoint's feature maps",
                        description="Load a CNN checkpoint (a 'layerwise run' folder of task cnn, or its last/), "
                        "find the inputs of a data set that excite chosen feature maps most, project those "
                        "activations back to pixel space with a deconvnet (switch unpooling -> ReLU -> transposed "
                        "convolution) and write projections.png: projections beside the input patches.")
    vz.add_argument("checkpoint", type=Path, help="a checkpoint folder, or a run folder holding last/")
    vz.add_argument("--layer", type=int, nargs="+", default=None,
                    help="conv layer index(es), 0 = bottom (default: every conv layer)")
    vz.add_argument("--channels", type=int, nargs="+", default=None,
                    help="feature maps to show (default: each layer's 4 most active)")
    vz.add_argument("--top", type=int, default=9, help="inputs per feature map (default 9)")
    vz.add_argument("--data", default=None, help="data set to search (default: digits for 8x8 inputs, mnist for 28x28)")
    vz.add_argument("--split", default="test", choices=["train", "test"])
    vz.add_argument("--n", type=int, default=2000, help="search the first N images (default 2000)")
    vz.add_argument("--root", default=None, help="data root")
    vz.add_argument("--out", type=Path, default=None, help="PNG to write (default: projections.png beside the checkpoint)")
    return parser


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (YAML marks, torch's allocator and CUDA messages span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _debug(argv: list[str]) -> bool:
    return "--traceback" in argv or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``layerwise`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done; 2 a usage error (a bad run file, option or value, a missing
        file; nothing was written); 1 a failure while running (an OS error such as a full disk
        or a denied permission, an unreadable safetensors file, the allocator running out of
        memory). Errors are printed on one line to stderr; with ``--traceback`` or
        ``LAYERWISE_DEBUG=1`` they are raised instead, with their traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debug(argv)
    argv = [a for a in argv if a != "--traceback"]
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    command = "layerwise " + " ".join(shlex.quote(a) for a in argv)
    if args.command is None:
        parser.print_help()
        return 0
    if extra and args.command not in ("run", "experiment"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    bad = [e for e in extra if not (e.startswith("--") and "=" in e)]
    if bad:
        parser.error(f"unrecognized arguments: {' '.join(bad)} (overrides look like --section.key=value)")
    from safetensors import SafetensorError

    from .app import commands
    from .app.config import ConfigError
    from .threads import default_threads

    progress = "off" if getattr(args, "no_progress", False) else getattr(args, "progress", "auto")
    try:
        with default_threads(getattr(args, "threads", "auto")):
            if args.command in ("demo", "run"):
                demo = args.command == "demo"
                overrides = ([f"seeds={list(range(args.seeds))}"] if args.seeds else []) if demo else extra
                commands.run_command("demo" if demo else args.config, overrides, args.out, args.device, progress,
                                     command, deconv_demo=demo and not args.no_deconv)
            elif args.command == "experiment":
                commands.experiment_command(args.sources, extra, args.seeds, args.label_fractions, args.out,
                                            args.device, progress, command)
            elif args.command == "datasets":
                commands.list_datasets(args.root)
            elif args.command == "configs":
                commands.list_configs()
            elif args.command == "evaluate":
                commands.evaluate_command(args.checkpoint, args.data, args.split, args.root)
            elif args.command == "sample":
                commands.sample_command(args.checkpoint, args.n, args.steps, args.every, args.shape, args.seed,
                                        args.out)
            elif args.command == "visualize":
                commands.visualize_command(args.checkpoint, args.layer, args.channels, args.top, args.data, args.split,
                                           args.n, args.root, args.out)
    except (ConfigError, ValueError, FileNotFoundError, TypeError) as exc:
        if debug:
            raise
        print(f"layerwise {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except (OSError, SafetensorError, RuntimeError, MemoryError) as exc:
        if debug:
            raise
        kind = type(exc).__name__
        what = kind if one_line(exc) == kind else f"{kind}: {one_line(exc)}"
        print(f"layerwise {args.command}: error: {what} (--traceback or {DEBUG_ENV}=1 shows where)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
