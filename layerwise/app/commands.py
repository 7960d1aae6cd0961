"""What each ``layerwise`` command does, once :mod:`layerwise.cli` has parsed its arguments."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Sequence

import torch

from .. import datasets, deconv, plots
from .._validation import check_int
from ..threads import describe_threads
from ..checkpoint import load_model
from .compare import baselines_of, load_experiment, parse_fractions, run_experiment
from .config import builtin_configs, load_config
from .demo import run_deconv_demo
from .evaluate import evaluate_checkpoint
from .report import default_run_dir, format_table, summarise, write_report
from .run import run
from .validate import check_out

__all__ = ["run_command", "experiment_command", "list_configs", "list_datasets", "evaluate_command",
           "sample_command", "visualize_command"]


def run_command(name: str, overrides: Sequence[str], out: Path | None, device: str | None, progress: bool,
                command: str, deconv_demo: bool = False, log=print) -> Path:
    """``layerwise run NAME`` (and ``layerwise demo``): load, check, run, and say where the report is.

    Parameters
    ----------
    name : str
        A run file or a built-in config's name.
    overrides : sequence of str
        ``--section.key=value`` overrides.
    out : Path, optional
        The run folder (default ``runs/<name>-<time>``).
    device : str, optional
        Overrides the run file's device.
    progress : bool
        Show progress bars.
    command : str
        The command line, for the report.
    deconv_demo : bool
        Append the demo's deconvolutional section (a CNN's projections, sparse-coding filters).
    log : callable
        Where progress lines go.

    Returns
    -------
    Path
        The report.
    """
    overrides = [*overrides, f"device={device}"] if device else list(overrides)
    cfg = load_config(name, overrides)
    out = check_out(out or default_run_dir(cfg.name))
    log(f"layerwise: {cfg.name} ({cfg.task}), seeds {cfg.seeds}, run folder {out}, {describe_threads()}")
    t0 = time.perf_counter()
    report = run(cfg, out, command=command, progress=progress, log=log)
    if deconv_demo:
        log("\ndeconvolutional networks: a small CNN's projections, sparse-coding filters")
        section = run_deconv_demo(out, progress=progress, log=log)
        with open(report, "a") as fh:
            fh.write(section)
    log(f"\nreport: {report}  ({time.perf_counter() - t0:.1f} s)")
    return report


def experiment_command(sources: Sequence[str], overrides: Sequence[str], seeds: int, fractions: str,
                       out: Path | None, device: str | None, progress: bool, command: str, log=print) -> Path:
    """``layerwise experiment SOURCES``: every cell of the run files, resumable; the report.

    Parameters
    ----------
    sources : sequence of str
        Run files, folders, or built-in folders (``faces``).
    overrides : sequence of str
        ``--section.key=value`` overrides for every run file.
    seeds : int
        Seeds 0 .. seeds - 1.
    fractions : str
        Comma-separated label fractions, each in (0, 1].
    out : Path, optional
        The experiment's folder (default ``runs/experiment-<time>``).
    device : str, optional
        Overrides every run file's device.
    progress : bool
        Show progress bars.
    command : str
        The command line, for the report.
    log : callable
        Where progress lines go.

    Returns
    -------
    Path
        The report.
    """
    seed_list = list(range(check_int("seeds", seeds, 1)))
    fraction_list = parse_fractions(fractions)
    overrides = [*overrides, f"device={device}"] if device else list(overrides)
    configs = load_experiment(sources, overrides)
    out = check_out(out or default_run_dir("experiment"))
    cells = sum(len(c.variants) for c in configs) * len(seed_list) * len(fraction_list)
    log(f"layerwise experiment: {len(configs)} run file(s), {cells} cells ({len(seed_list)} seeds x "
        f"{len(fraction_list)} label fractions), folder {out}, {describe_threads()}")
    t0 = time.perf_counter()
    rows = run_experiment(configs, out, seed_list, fraction_list, progress=progress, log=log)
    baselines = baselines_of(configs)
    report = write_report(out, configs, rows, command, time.perf_counter() - t0, baselines)
    log("")
    log(format_table(summarise(rows, baselines)))
    log(f"report: {report}  ({time.perf_counter() - t0:.1f} s)")
    return report


def list_configs(log=print) -> None:
    """``layerwise configs``: each built-in run file with the first line of its comment."""
    for name, path in builtin_configs().items():
        first = next((line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#")), "")
        log(f"{name:<14} {first}")


def list_datasets(root: str | None, log=print) -> None:
    """``layerwise datasets``: every data set, where it is looked for, whether it is found."""
    log(datasets.format_available(datasets.available(root)))


def evaluate_command(checkpoint: Path, data: str | None, split: str, root: str | None, log=print) -> dict[str, float]:
    """``layerwise evaluate``: a checkpoint's metrics on a split, with its run's data transforms;
    returns them (see :func:`~layerwise.app.evaluate.evaluate_checkpoint`)."""
    return evaluate_checkpoint(checkpoint, data, split, root, log=log)


def sample_command(checkpoint: Path, n: int, steps: int, every: int | None, shape: str | None, seed: int,
                   out: Path | None, log=print) -> tuple[Path, Path]:
    """``layerwise sample``: Gibbs chains of an RBM or DBN checkpoint; ``samples.png`` and ``chain.png``.

    Parameters
    ----------
    checkpoint : Path
        A checkpoint folder, or a run folder holding ``last/``.
    n, steps : int
        Chains and Gibbs sweeps.
    every : int, optional
        Snapshot interval of ``chain.png`` (default steps / 10).
    shape : str, optional
        Image shape ``HxW`` (default: square).
    seed : int
        Seed of the chains.
    out : Path, optional
        Output folder (default: the checkpoint's folder).
    log : callable
        Where the written paths are reported.

    Returns
    -------
    tuple of Path
        The two pictures.
    """
    steps = check_int("steps", steps, 1)
    n = check_int("n", n, 1)
    every = check_int("every", every, 1) if every else max(steps // 10, 1)
    image = _image_shape(shape) if shape else None
    out = check_out(out) if out is not None else None
    model = load_model(checkpoint)
    torch.manual_seed(seed)
    if hasattr(model, "generate"):
        snaps = model.generate(n, gibbs_steps=steps, every=every)
    elif hasattr(model, "sample") and hasattr(model, "gibbs"):
        snaps = model.sample(n, steps, every=every)
    else:
        raise ValueError(f"{type(model).__name__} cannot be sampled; 'layerwise sample' takes RBM and DBN checkpoints.")
    out = out or (checkpoint if checkpoint.is_dir() else checkpoint.parent)
    d = snaps.shape[-1]
    k = min(8, n)
    a = plots.plot_samples(snaps[-1].cpu(), Path(out) / "samples.png", shape=image,
                           title=f"{n} samples after {steps} Gibbs sweeps")
    b = plots.plot_samples(snaps[:, :k].reshape(-1, d).cpu(), Path(out) / "chain.png", shape=image, ncols=k,
                           title=f"{k} chains, every {every} sweeps (top to bottom)")
    log(f"wrote {a} and {b}")
    return a, b


def _image_shape(text: str) -> tuple[int, int]:
    """``"28x28"`` -> (28, 28); anything else a ValueError naming ``--shape``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"'--shape' must be HxW with two positive ints, e.g. 28x28; got {text!r}.")
    return int(parts[0]), int(parts[1])


def visualize_command(checkpoint: Path, layers: Sequence[int] | None, channels: Sequence[int] | None, top: int,
                      data: str | None, split: str, n: int, root: str | None, out: Path | None, log=print) -> Path:
    """``layerwise visualize``: Zeiler-Fergus projections of a CNN checkpoint's feature maps.

    Parameters
    ----------
    checkpoint : Path
        A checkpoint folder, or a run folder holding ``last/``.
    layers, channels : sequence of int, optional
        Conv layers (default every one) and feature maps (default each layer's 4 most active).
    top : int
        Inputs per feature map.
    data : str, optional
        Data set to search (default: digits for 8x8 inputs, mnist for 28x28).
    split : str
        ``"train"`` or ``"test"``.
    n : int
        Search the first ``n`` images.
    root : str, optional
        Data root.
    out : Path, optional
        The PNG (default ``projections.png`` beside the checkpoint).
    log : callable
        Where the written path is reported.

    Returns
    -------
    Path
        The picture.
    """
    top = check_int("top", top, 1)
    n = check_int("n", n, 1)
    model = load_model(checkpoint)
    net = deconv.DeconvNet(model)  # refuses a model without convolutions, naming what it found
    for layer in layers or []:
        net.check_layer(layer)
    for layer in layers or range(net.n_layers):
        for c in channels or []:
            net.check_channel(layer, c)
    name = data
    if name is None:
        size = None if net.in_shape is None else net.in_shape[1:]
        name = {(8, 8): "digits", (28, 28): "mnist"}.get(size)
        if name is None:
            raise ValueError(f"Cannot tell which data set fits inputs of shape {net.in_shape}; pass --data.")
    x, _ = datasets.load(name, split, root=root)
    x = x[:n]
    out = out or (checkpoint if checkpoint.is_dir() else checkpoint.parent) / "projections.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        path = deconv.projection_figure(net, x.reshape(len(x), -1), out, layers=layers, channels=channels,
                                        top=top, title=f"{name}/{split}: top {top} of {len(x)} inputs per feature map")
    for w in caught:
        log(f"note: {w.message}")
    log(f"wrote {path}")
    return path
