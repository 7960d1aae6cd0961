"""One cell runner for ``layerwise run`` (task compare) and ``layerwise experiment``.

A *cell* is one (run file, variant, seed, label fraction): pre-train the variant on the
*unlabelled* training images (once per run file, variant and seed, shared by all its label
fractions), keep ``fraction`` of the training labels (stratified,
:func:`layerwise.datasets.label_fraction`), fine-tune the network with them and measure the test
accuracy. ``compare`` is the experiment of one run file at its own seeds and its one label
fraction, against random initialisation, with pictures; ``experiment`` runs several run files at
several fractions, appending every finished cell to ``results.csv`` at once (a rerun skips them).
"""

from __future__ import annotations

import copy
import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from .. import datasets, plots
from ..callbacks import Filters, Reconstructions
from ..models.classifier import finetune
from .config import ConfigError, RunConfig, builtin_configs, builtin_dir, load_config
from .data import Prepared, grid_shape, n_classes, prepare_data
from .learners import first_weight, fresh_network, histories, pretrain_variant
from .report import compare_baselines, format_table, summarise, write_report, write_results

__all__ = ["Cell", "run_cells", "run_compare", "run_experiment", "load_experiment", "parse_fractions",
           "network_name", "baselines_of", "FIELDS"]

FIELDS = ["network", "config", "variant", "seed", "label_fraction", "n_labelled", "test_accuracy",
          "pretrain_seconds", "finetune_seconds", "total_seconds"]


@dataclass
class Cell:
    """One finished cell: its keys, numbers, and (for pictures) what trained it."""

    cfg: RunConfig
    variant: str
    seed: int
    fraction: float
    n_labelled: int
    accuracy: float
    pretrain_seconds: float
    finetune_seconds: float
    history: Any
    data: Prepared
    learners: list | None = None
    record: Any = None


def run_cells(configs: Sequence[RunConfig], seeds: Sequence[int] | None, fractions: Sequence[float] | None,
              done: set | None = None, progress: bool = True, validation: bool = False,
              reseed_finetune: bool = True) -> Iterator[Cell]:
    """Run every cell not in ``done``, yielding each as it finishes.

    Parameters
    ----------
    configs : sequence of RunConfig
        ``task: compare`` run files (their checked variants in ``cfg.learners``).
    seeds : sequence of int, optional
        The seeds; None: each run file's own.
    fractions : sequence of float, optional
        The label fractions; None: each run file's ``data.label_fraction``.
    done : set, optional
        Keys ``(config name, variant, seed, fraction)`` of cells to skip.
    progress : bool
        Show progress bars.
    validation : bool
        Fine-tune with the test split as validation data (its accuracy per epoch in the history).
    reseed_finetune : bool
        Seed the global random state again before fine-tuning (``experiment``); ``compare``
        fine-tunes straight after pre-training (its numbers of record are drawn that way).
    """
    done = done or set()
    # torch imports its compiler lazily when the first optimiser is built (seconds, once per
    # process): do it now so that it is not charged to whichever variant happens to run first.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    for cfg in configs:
        cfg_fractions = [cfg.data.label_fraction] if fractions is None else list(fractions)
        for seed in (cfg.seeds if seeds is None else seeds):
            todo = [(v, f) for v in cfg.variants for f in cfg_fractions if (cfg.name, v, seed, f) not in done]
            if not todo:
                continue
            data = prepare_data(cfg.data, seed)
            classes = n_classes(data)
            for variant in cfg.variants:
                wanted = [f for v, f in todo if v == variant]
                if not wanted:
                    continue
                spec = cfg.learners[variant]
                torch.manual_seed(seed)
                t0 = time.perf_counter()
                learners = record = None
                if spec is None:
                    network = fresh_network(cfg, data)
                    pre_s = 0.0
                else:
                    network, learners, record = pretrain_variant(cfg, spec, data.train_x, seed, progress,
                                                                 data.image_shape)
                    pre_s = time.perf_counter() - t0
                for i, fraction in enumerate(wanted):
                    lx, ly, _ = datasets.label_fraction(data.train_x, data.train_y, fraction, seed=seed)
                    if reseed_finetune:
                        torch.manual_seed(seed)
                    t1 = time.perf_counter()
                    net = network if i == len(wanted) - 1 else copy.deepcopy(network)
                    clf, hist = finetune(net, (lx, ly), classes, loss=cfg.classifier.loss,
                                         validation=(data.test_x, data.test_y) if validation else None,
                                         progress=progress, **cfg.finetune.fit_kwargs(cfg.device, seed))
                    fine_s = time.perf_counter() - t1
                    acc = clf.accuracy(data.test_x, data.test_y)
                    yield Cell(cfg, variant, seed, fraction, len(ly), acc, pre_s, fine_s, hist, data, learners, record)


# ---- layerwise run, task compare ----------------------------------------------------------------


def run_compare(cfg: RunConfig, out: Path, command: str = "", progress: bool = True, log=print) -> Path:
    """Pre-train each variant, fine-tune with the kept labels, compare against random init.

    Writes ``results.csv`` (one row per seed and variant), the pictures of the first seed
    (first-layer filters and reconstructions of each variant, fine-tuning and pre-training
    curves), ``time_split.png`` and ``report.md``; logs the summary table.

    Parameters
    ----------
    cfg : RunConfig
        A checked ``task: compare`` run.
    out : Path
        The run folder (it exists).
    command : str
        The command line, for the report.
    progress : bool
        Show progress bars.
    log : callable
        Where one line per cell, and the table, go.

    Returns
    -------
    Path
        The report.
    """
    t0 = time.perf_counter()
    rows: list[dict] = []
    curves: dict[str, list[dict]] = {}
    pre_curves: dict[str, list[dict]] = {}
    for cell in run_cells([cfg], None, None, progress=progress, validation=True, reseed_finetune=False):
        name, seed = cell.variant, cell.seed
        rows.append({"variant": name, "seed": seed, "test_accuracy": cell.accuracy,
                     "pretrain_seconds": cell.pretrain_seconds, "finetune_seconds": cell.finetune_seconds,
                     "n_labelled": cell.n_labelled, "n_unlabelled": len(cell.data.train_x)})
        log(f"  seed {seed}  {name:<14} test accuracy {cell.accuracy:.4f}  pre-train {cell.pretrain_seconds:6.1f} s  "
            f"fine-tune {cell.finetune_seconds:6.1f} s")
        if seed == cfg.seeds[0]:
            curves[name] = list(cell.history)
            if cell.learners is not None:
                pre_curves[name] = list(histories(cell.record)[0])
                _variant_pictures(out, name, cell.learners[0], cell.data)
    write_results(out, rows)
    _curves(out, cfg, curves, pre_curves)
    cells = [{"network": r["variant"], **r} for r in rows]
    baselines = compare_baselines(cfg.variants)
    report = write_report(out, [cfg], cells, command, time.perf_counter() - t0, baselines=baselines, compare=True)
    log("")
    log(format_table(summarise(cells, baselines), against="random"))
    return report


def _variant_pictures(out: Path, name: str, first: Any, data: Prepared) -> None:
    if len(data.image_shape) < 2:
        return
    weight = first_weight(first)
    shape = grid_shape(data.image_shape)
    Filters(out / f"filters_{name}.png", lambda m: weight, shape=None if weight.dim() == 4 else shape,
            title=f"first-layer filters: {name}").draw(first)
    Reconstructions(out / f"reconstructions_{name}.png", data.test_x[:10], shape=shape, n=10, noisy_only=True,
                    title=f"{name}: noisy inputs and their reconstructions").draw(first)


def _curves(out: Path, cfg: RunConfig, curves: dict, pre_curves: dict) -> None:
    if curves:
        plots.plot_curves(curves, out / "finetune_curves.png", keys=("loss", "val_accuracy"),
                          title="fine-tuning (seed %d): training loss and test accuracy" % cfg.seeds[0])
    if pre_curves:
        plots.plot_curves(pre_curves, out / "pretrain_curves.png", keys=("loss",),
                          title="pre-training, first layer: loss per epoch")


# ---- layerwise experiment -----------------------------------------------------------------------


def parse_fractions(text: str | Sequence[float]) -> list[float]:
    """``"0.01,0.1,1.0"`` -> [0.01, 0.1, 1.0].

    Parameters
    ----------
    text : str or sequence of float
        Comma-separated label fractions, or the numbers themselves.

    Returns
    -------
    list of float
        Each in (0, 1].

    Raises
    ------
    ValueError
        For a value that is not a number in (0, 1], naming it, or for no value at all.
    """
    values = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"'label_fractions' must be numbers in (0, 1]; got {v!r}.") from None
        if not 0.0 < f <= 1.0 or math.isnan(f):
            raise ValueError(f"'label_fractions' must lie in (0, 1]; got {f!r}.")
        out.append(f)
    if not out:
        raise ValueError("Give at least one label fraction, e.g. 0.01,0.1,1.0.")
    return out


def load_experiment(sources: Sequence[str | Path], overrides: Sequence[str] = ()) -> list[RunConfig]:
    """Run files from folders (every ``*.yaml``, sorted), files, or built-in names.

    A built-in folder ``layerwise/configs/<name>/`` (e.g. ``faces``) counts as a folder. Each
    file must be a ``task: compare`` run file; ``overrides`` apply to every one. Every file is
    checked (unknown keys, types, unknown networks, learner options) before any work.

    Parameters
    ----------
    sources : sequence of str or Path
        Run files, folders of run files, built-in config names or built-in folders.
    overrides : sequence of str
        ``section.key=value`` overrides for every run file.

    Returns
    -------
    list of RunConfig

    Raises
    ------
    ConfigError
        A missing source, a bad run file, a task other than compare, or names that clash.
    """
    paths: list[Path] = []
    for src in sources:
        p = Path(src)
        if not p.exists() and (builtin_dir() / str(src)).is_dir():
            p = builtin_dir() / str(src)
        if p.is_dir():
            found = sorted(p.glob("*.yaml"))
            if not found:
                raise ConfigError(f"Folder {p} holds no *.yaml run files.")
            paths += found
        elif p.exists() or str(src) in builtin_configs():
            paths.append(p if p.exists() else builtin_configs()[str(src)])
        else:
            raise ConfigError(f"No run file or folder {str(src)!r} (nor a built-in config or folder).")
    configs = [load_config(path, list(overrides), tasks=("compare",)) for path in paths]
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"Run files of one experiment need distinct names; got {names}.")
    rows = [network_name(c, v) for c in configs for v in c.variants]
    if len(set(rows)) != len(rows):
        raise ConfigError(f"The networks of one experiment need distinct names (run file name for one variant, "
                          f"variant name for several); got {rows}.")
    return configs


def network_name(cfg: RunConfig, variant: str) -> str:
    """The row's name: the run file's name for a single variant, else the variant's name."""
    return cfg.name if len(cfg.variants) == 1 else variant


def baselines_of(configs: Sequence[RunConfig]) -> dict[str, str]:
    """Each pre-trained network's from-scratch twin: the first variant without pre-training
    (``null``) in the same run file, which shares its architecture."""
    out = {}
    for cfg in configs:
        scratch = [v for v, options in cfg.variants.items() if options is None]
        for v, options in cfg.variants.items():
            if options is not None and scratch:
                out[network_name(cfg, v)] = network_name(cfg, scratch[0])
    return out


def _done(path: Path) -> dict[tuple, dict]:
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {(r["config"], r["variant"], int(r["seed"]), float(r["label_fraction"])): r for r in rows}


def _typed(row: dict) -> dict:
    out = dict(row)
    for k in ("seed", "n_labelled"):
        out[k] = int(out[k])
    for k in ("label_fraction", "test_accuracy", "pretrain_seconds", "finetune_seconds", "total_seconds"):
        out[k] = float(out[k])
    return out


def run_experiment(configs: Sequence[RunConfig], out: Path, seeds: Sequence[int], fractions: Sequence[float],
                   progress: bool = True, log=print) -> list[dict]:
    """Run every cell not yet in ``out/results.csv``, appending each as it finishes.

    Parameters
    ----------
    configs : sequence of RunConfig
        From :func:`load_experiment`.
    out : Path
        The experiment's folder (made if missing).
    seeds : sequence of int
        The seeds of every run file.
    fractions : sequence of float
        The label fractions.
    progress : bool
        Show progress bars.
    log : callable
        Where one line per cell goes.

    Returns
    -------
    list of dict
        Every row of ``results.csv``, old and new, typed (see :data:`FIELDS`).
    """
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.csv"
    done = _done(results)
    if done:
        log(f"  resuming: {len(done)} finished cell(s) in {results}")
    new_file = not results.exists()
    with open(results, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for cell in run_cells(configs, seeds, fractions, done=set(done), progress=progress):
            pre_s, fine_s = cell.pretrain_seconds, cell.finetune_seconds
            row = {"network": network_name(cell.cfg, cell.variant), "config": cell.cfg.name, "variant": cell.variant,
                   "seed": cell.seed, "label_fraction": cell.fraction, "n_labelled": cell.n_labelled,
                   "test_accuracy": cell.accuracy, "pretrain_seconds": pre_s, "finetune_seconds": fine_s,
                   "total_seconds": pre_s + fine_s}
            writer.writerow(row)
            fh.flush()
            done[(cell.cfg.name, cell.variant, cell.seed, cell.fraction)] = row
            log(f"  {row['network']:<24} seed {cell.seed}  {cell.fraction:>6.1%} labels ({cell.n_labelled:>5})  "
                f"accuracy {cell.accuracy:.4f}  pre-train {pre_s:6.1f} s  fine-tune {fine_s:6.1f} s")
    return [_typed(r) for r in done.values()]
