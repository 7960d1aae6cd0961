"""The ``layerwise`` command: demo, run, experiment, datasets, configs, evaluate, sample, visualize."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<name>-<time>)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (overrides the config)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerwise",
        description="Unsupervised learning and greedy layer-wise pre-training on PyTorch.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="pre-training vs random init on the embedded digits (about a minute)",
                          description="With 10%% of the digits' training labels, fine-tune the same MLP from "
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

    ev = sub.add_parser("evaluate", help="reconstruction error of an autoencoder checkpoint on a data set",
                        description="Load a checkpoint (a run folder or its last/) and report the model's "
                        "metrics on a data set's split.")
    ev.add_argument("checkpoint", type=Path)
    ev.add_argument("--data", default="digits", help="data set name (default digits)")
    ev.add_argument("--split", default="test", choices=["train", "test"])
    ev.add_argument("--root", default=None, help="data root")
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


def _cmd_experiment(args, overrides: list[str], command: str) -> int:
    from ._validation import check_int
    from .app import compare
    from .app.report import default_run_dir, format_table, summarise, write_report

    seeds = list(range(check_int("seeds", args.seeds, 1)))
    fractions = compare.parse_fractions(args.label_fractions)
    if args.device:
        overrides = [*overrides, f"device={args.device}"]
    configs = compare.load_experiment(args.sources, overrides)
    out = args.out or default_run_dir("experiment")
    cells = sum(len(c.variants) for c in configs) * len(seeds) * len(fractions)
    print(f"layerwise experiment: {len(configs)} run file(s), {cells} cells ({len(seeds)} seeds x "
          f"{len(fractions)} label fractions), folder {out}")
    t0 = time.perf_counter()
    rows = compare.run_experiment(configs, out, seeds, fractions, progress=not args.no_progress)
    baselines = compare.baselines_of(configs)
    report = write_report(out, configs, rows, command, time.perf_counter() - t0, baselines)
    print()
    print(format_table(summarise(rows, baselines)))
    print(f"report: {report}  ({time.perf_counter() - t0:.1f} s)")
    return 0


def _cmd_visualize(args) -> int:
    from . import datasets, deconv
    from ._validation import check_int
    from .checkpoint import load_model

    top = check_int("top", args.top, 1)
    n = check_int("n", args.n, 1)
    model = load_model(args.checkpoint)
    net = deconv.DeconvNet(model)  # refuses a model without convolutions, naming what it found
    for layer in args.layer or []:
        net._check_layer(layer)
    for layer in args.layer or range(net.n_layers):
        for c in args.channels or []:
            net._check_channel(layer, c)
    name = args.data
    if name is None:
        size = None if net.in_shape is None else net.in_shape[1:]
        name = {(8, 8): "digits", (28, 28): "mnist"}.get(size)
        if name is None:
            raise ValueError(f"Cannot tell which data set fits inputs of shape {net.in_shape}; pass --data.")
    x, _ = datasets.load(name, args.split, root=args.root)
    x = x[:n]
    out = args.out or (args.checkpoint if args.checkpoint.is_dir() else args.checkpoint.parent) / "projections.png"
    path = deconv.projection_figure(net, x.reshape(len(x), -1), out, layers=args.layer, channels=args.channels,
                                    top=top, title=f"{name}/{args.split}: top {top} of {len(x)} inputs per feature map")
    print(f"wrote {path}")
    return 0


def _cmd_sample(args) -> int:
    import torch

    from . import plots
    from ._validation import check_int
    from .checkpoint import load_model

    model = load_model(args.checkpoint)
    steps = check_int("steps", args.steps, 1)
    n = check_int("n", args.n, 1)
    every = check_int("every", args.every, 1) if args.every else max(steps // 10, 1)
    torch.manual_seed(args.seed)
    if hasattr(model, "generate"):
        snaps = model.generate(n, gibbs_steps=steps, every=every)
    elif hasattr(model, "sample") and hasattr(model, "gibbs"):
        snaps = model.sample(n, steps, every=every)
    else:
        raise ValueError(f"{type(model).__name__} cannot be sampled; 'layerwise sample' takes RBM and DBN checkpoints.")
    shape = tuple(int(d) for d in args.shape.lower().split("x")) if args.shape else None
    out = args.out or (args.checkpoint if args.checkpoint.is_dir() else args.checkpoint.parent)
    d = snaps.shape[-1]
    k = min(8, n)
    a = plots.plot_samples(snaps[-1].cpu(), Path(out) / "samples.png", shape=shape,
                           title=f"{n} samples after {steps} Gibbs sweeps")
    b = plots.plot_samples(snaps[:, :k].reshape(-1, d).cpu(), Path(out) / "chain.png", shape=shape, ncols=k,
                           title=f"{k} chains, every {every} sweeps (top to bottom)")
    print(f"wrote {a} and {b}")
    return 0


def _cmd_run(cfg_name: str, args, overrides: list[str], command: str) -> int:
    from .app.config import load_config
    from .app.report import default_run_dir, format_table, summarise
    from .app.run import run

    if args.device:
        overrides = [*overrides, f"device={args.device}"]
    cfg = load_config(cfg_name, overrides)
    out = args.out or default_run_dir(cfg.name)
    print(f"layerwise: {cfg.name} ({cfg.task}), seeds {cfg.seeds}, run folder {out}")
    t0 = time.perf_counter()
    report = run(cfg, out, command=command, progress=not args.no_progress)
    if cfg.task == "compare":
        import csv

        rows = list(csv.DictReader(open(out / "results.csv")))
        for r in rows:
            for k in ("test_accuracy", "pretrain_seconds", "finetune_seconds"):
                r[k] = float(r[k])
            r["seed"] = int(r["seed"])
            r["network"] = r["variant"]
        print()
        print(format_table(summarise(rows, {v: "random" for v in cfg.variants if v != "random"}), against="random"))
    if args.command == "demo" and not args.no_deconv:
        from .app.demo import run_deconv_demo

        print("\ndeconvolutional networks: a small CNN's projections, sparse-coding filters")
        section = run_deconv_demo(out, progress=not args.no_progress)
        with open(report, "a") as fh:
            fh.write(section)
    print(f"\nreport: {report}  ({time.perf_counter() - t0:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``layerwise`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
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
    from .app.config import ConfigError

    try:
        if args.command == "demo":
            overrides = [f"seeds={list(range(args.seeds))}"] if args.seeds else []
            return _cmd_run("demo", args, overrides, command)
        if args.command == "run":
            return _cmd_run(args.config, args, extra, command)
        if args.command == "datasets":
            from . import datasets

            print(datasets.format_available(datasets.available(args.root)))
            return 0
        if args.command == "configs":
            from .app.config import builtin_configs

            for name, path in builtin_configs().items():
                first = next((l[1:].strip() for l in path.read_text().splitlines() if l.startswith("#")), "")
                print(f"{name:<14} {first}")
            return 0
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        if args.command == "sample":
            return _cmd_sample(args)
        if args.command == "visualize":
            return _cmd_visualize(args)
        if args.command == "experiment":
            return _cmd_experiment(args, extra, command)
    except (ConfigError, ValueError, FileNotFoundError, TypeError) as exc:
        print(f"layerwise {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_evaluate(args) -> int:
    import torch

    from . import datasets
    from .checkpoint import load_model

    model = load_model(args.checkpoint)
    x, _ = datasets.load(args.data, args.split, root=args.root)
    if hasattr(model, "validate_data"):
        model.validate_data(x)
    model.eval()
    with torch.no_grad():
        values = model.metrics(x)
    print(f"{model!r} on {args.data}/{args.split} ({len(x)} samples):")
    for k, v in values.items():
        print(f"  {k}: {v:.6g}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
