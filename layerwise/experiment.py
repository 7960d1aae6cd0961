"""``layerwise experiment``: every network of a set of run files, for every seed and label budget.

The lecture's closing table (network, accuracy, training time) and its chart of how the time
splits between pre-training and fine-tuning, made reproducible and extended with the question
the lecture never asked: how much labelled data does pre-training save?

Each run file is a ``task: compare`` file (see :mod:`layerwise.config`) whose ``variants`` name
the networks to train: ``null`` for random initialisation, or a layer learner's options for
pre-training. For every run file, seed and label fraction, and every variant, a *cell*:

1. pre-train (once per run file, variant and seed; shared by all label fractions) on the
   *unlabelled* training images only;
2. keep ``fraction`` of the training labels (stratified, :func:`layerwise.datasets.label_fraction`);
3. fine-tune a copy of the network with them and measure the test accuracy.

Every finished cell is appended to ``results.csv`` at once, so a rerun into the same folder
skips finished cells (resumable). ``report.md`` then holds the lecture-style table (accuracy
mean ± std over the seeds, pre-training, fine-tuning and total seconds) per label fraction,
``accuracy_vs_labels.png`` and ``time_split.png``.
"""

from __future__ import annotations

import copy
import csv
import math
import statistics
import time
from pathlib import Path
from typing import Sequence

import torch

from . import datasets, plots
from .config import ConfigError, RunConfig, builtin_configs, load_config
from .models.classifier import build_mlp, finetune
from .runner import _pretrain_variant, build_network, check_run, image_shape, machine_summary, prepare_data, verdict

__all__ = ["load_experiment", "run_experiment", "summarise_experiment", "FIELDS"]

FIELDS = ["network", "config", "variant", "seed", "label_fraction", "n_labelled", "test_accuracy",
          "pretrain_seconds", "finetune_seconds", "total_seconds"]


def parse_fractions(text: str | Sequence[float]) -> list[float]:
    """``"0.01,0.1,1.0"`` -> [0.01, 0.1, 1.0]; each in (0, 1]."""
    values = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"Label fractions must be numbers in (0, 1]; got {v!r}.") from None
        if not 0.0 < f <= 1.0 or math.isnan(f):
            raise ValueError(f"Label fractions must lie in (0, 1]; got {f!r}.")
        out.append(f)
    if not out:
        raise ValueError("Give at least one label fraction, e.g. 0.01,0.1,1.0.")
    return out


def load_experiment(sources: Sequence[str | Path], overrides: Sequence[str] = ()) -> list[RunConfig]:
    """Run files from folders (every ``*.yaml``, sorted), files, or built-in names.

    A built-in folder ``layerwise/configs/<name>/`` (e.g. ``faces``) counts as a folder. Each
    file must be a ``task: compare`` run file; ``overrides`` apply to every one. Every file is
    checked (unknown keys, unknown networks, learner options) before any work.
    """
    paths: list[Path] = []
    builtin_dir = Path(__file__).parent / "configs"
    for src in sources:
        p = Path(src)
        if not p.exists() and (builtin_dir / str(src)).is_dir():
            p = builtin_dir / str(src)
        if p.is_dir():
            found = sorted(p.glob("*.yaml"))
            if not found:
                raise ConfigError(f"Folder {p} holds no *.yaml run files.")
            paths += found
        elif p.exists() or str(src) in builtin_configs():
            paths.append(p if p.exists() else builtin_configs()[str(src)])
        else:
            raise ConfigError(f"No run file or folder {str(src)!r} (nor a built-in config or folder).")
    configs = []
    for path in paths:
        cfg = load_config(path, list(overrides))
        if cfg.task != "compare":
            raise ConfigError(f"{path}: an experiment takes 'task: compare' run files; this one is {cfg.task!r}.")
        check_run(cfg)
        configs.append(cfg)
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"Run files of one experiment need distinct names; got {names}.")
    rows = [_network_name(c, v) for c in configs for v in c.variants]
    if len(set(rows)) != len(rows):
        raise ConfigError(f"The networks of one experiment need distinct names (run file name for one variant, "
                          f"variant name for several); got {rows}.")
    return configs


def _network_name(cfg: RunConfig, variant: str) -> str:
    """The row's name: the run file's name for a single variant, else the variant's name."""
    return cfg.name if len(cfg.variants) == 1 else variant


def _done(path: Path) -> dict[tuple, dict]:
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {(r["config"], r["variant"], int(r["seed"]), float(r["label_fraction"])): r for r in rows}


def _fresh_network(cfg: RunConfig, data) -> torch.nn.Module:
    if cfg.network.cnn is not None:
        return build_network(cfg.network.cnn, image_shape(data.image_shape, "A CNN"))
    return build_mlp(data.train_x.shape[1], cfg.network.hidden_sizes, cfg.network.activation, cfg.network.init)


def run_experiment(configs: Sequence[RunConfig], out: Path, seeds: Sequence[int], fractions: Sequence[float],
                   progress: bool = True, log=print) -> list[dict]:
    """Run every cell not yet in ``out/results.csv``; return all rows (old and new)."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.csv"
    done = _done(results)
    if done:
        log(f"  resuming: {len(done)} finished cell(s) in {results}")
    new_file = not results.exists()
    fh = open(results, "a", newline="")
    writer = csv.DictWriter(fh, fieldnames=FIELDS)
    if new_file:
        writer.writeheader()
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # torch's lazy imports, not charged to a cell
    try:
        for cfg in configs:
            for seed in seeds:
                todo = [(v, f) for v in cfg.variants for f in fractions if (cfg.name, v, seed, f) not in done]
                if not todo:
                    continue
                data = prepare_data(cfg.data, seed)
                n_classes = int(torch.cat([data.train_y, data.test_y]).max()) + 1
                for variant, options in cfg.variants.items():
                    wanted = [f for v, f in todo if v == variant]
                    if not wanted:
                        continue
                    torch.manual_seed(seed)
                    t0 = time.perf_counter()
                    if options is None:
                        network = _fresh_network(cfg, data)
                    else:
                        network = _pretrain_variant(cfg, options, data.train_x, seed, progress, data.image_shape)[0]
                    pre_s = time.perf_counter() - t0 if options is not None else 0.0
                    for fraction in wanted:
                        lx, ly, _ = datasets.label_fraction(data.train_x, data.train_y, fraction, seed=seed)
                        torch.manual_seed(seed)
                        t1 = time.perf_counter()
                        clf, _ = finetune(copy.deepcopy(network), (lx, ly), n_classes, loss=cfg.classifier.loss,
                                          progress=progress, **_finetune_options(cfg, seed))
                        fine_s = time.perf_counter() - t1
                        acc = clf.accuracy(data.test_x, data.test_y)
                        row = {"network": _network_name(cfg, variant), "config": cfg.name, "variant": variant,
                               "seed": seed, "label_fraction": fraction, "n_labelled": len(ly),
                               "test_accuracy": acc, "pretrain_seconds": pre_s, "finetune_seconds": fine_s,
                               "total_seconds": pre_s + fine_s}
                        writer.writerow(row)
                        fh.flush()
                        done[(cfg.name, variant, seed, fraction)] = row
                        log(f"  {row['network']:<24} seed {seed}  {fraction:>6.1%} labels ({len(ly):>5})  "
                            f"accuracy {acc:.4f}  pre-train {pre_s:6.1f} s  fine-tune {fine_s:6.1f} s")
    finally:
        fh.close()
    return [_typed(r) for r in done.values()]


def _finetune_options(cfg: RunConfig, seed: int) -> dict:
    t = cfg.finetune
    return {"epochs": t.epochs, "batch_size": t.batch_size, "optimizer": t.optimizer, "lr": t.lr,
            "momentum": t.momentum, "weight_decay": t.weight_decay, "lr_schedule": t.lr_schedule,
            "device": cfg.device, "seed": seed}


def _typed(row: dict) -> dict:
    out = dict(row)
    for k in ("seed", "n_labelled"):
        out[k] = int(out[k])
    for k in ("label_fraction", "test_accuracy", "pretrain_seconds", "finetune_seconds", "total_seconds"):
        out[k] = float(out[k])
    return out


def summarise_experiment(rows: Sequence[dict], baselines: dict[str, str] | None = None) -> list[dict]:
    """One row per (network, label fraction): accuracy mean ± std over seeds, mean seconds, and
    against ``baselines[network]`` (paired by seed) a t-test verdict."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["network"], r["label_fraction"]), []).append(r)
    order = {name: i for i, name in enumerate(dict.fromkeys(r["network"] for r in rows))}  # first appearance
    table = []
    for (network, fraction), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], order[kv[0][0]])):
        accs = [r["test_accuracy"] for r in rs]
        base = (baselines or {}).get(network)
        diffs = []
        if base is not None and (base, fraction) in groups:
            ref = {r["seed"]: r["test_accuracy"] for r in groups[(base, fraction)]}
            diffs = [r["test_accuracy"] - ref[r["seed"]] for r in rs if r["seed"] in ref]
        table.append({
            "network": network, "label_fraction": fraction, "n_labelled": rs[0]["n_labelled"], "seeds": len(rs),
            "accuracy_mean": statistics.fmean(accs), "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "pretrain_seconds": statistics.fmean(r["pretrain_seconds"] for r in rs),
            "finetune_seconds": statistics.fmean(r["finetune_seconds"] for r in rs),
            "total_seconds": statistics.fmean(r["total_seconds"] for r in rs),
            "verdict": (f"vs {base}: " + verdict(diffs)) if diffs else "",
        })
    return table


def format_experiment(table: Sequence[dict]) -> str:
    """The summary as Markdown tables, one per label fraction."""
    lines = []
    for fraction in sorted({t["label_fraction"] for t in table}):
        rows = [t for t in table if t["label_fraction"] == fraction]
        lines += [f"### {fraction:.0%} of the training labels ({rows[0]['n_labelled']} images)", "",
                  "| network | accuracy, % | pre-training s | fine-tuning s | total s | pre-training against none |",
                  "|---|---|---:|---:|---:|---|"]
        for t in rows:
            lines.append(f"| {t['network']} | {t['accuracy_mean'] * 100:.1f} ± {t['accuracy_std'] * 100:.1f} "
                         f"| {t['pretrain_seconds']:.1f} | {t['finetune_seconds']:.1f} | {t['total_seconds']:.1f} "
                         f"| {t['verdict']} |")
        lines.append("")
    return "\n".join(lines)


def baselines_of(configs: Sequence[RunConfig]) -> dict[str, str]:
    """Each pre-trained network's from-scratch twin: the first variant without pre-training
    (``null``) in the same run file, which shares its architecture."""
    out = {}
    for cfg in configs:
        scratch = [v for v, options in cfg.variants.items() if options is None]
        for v, options in cfg.variants.items():
            if options is not None and scratch:
                out[_network_name(cfg, v)] = _network_name(cfg, scratch[0])
    return out


def write_experiment_report(out: Path, configs: Sequence[RunConfig], rows: Sequence[dict], command: str,
                            seconds: float, baselines: dict[str, str] | None = None) -> Path:
    """report.md, accuracy_vs_labels.png and time_split.png from the rows."""
    table = summarise_experiment(rows, baselines)
    fractions = sorted({t["label_fraction"] for t in table})
    networks = list(dict.fromkeys(t["network"] for t in table))
    acc, err = {}, {}
    for n in networks:
        by = {t["label_fraction"]: t for t in table if t["network"] == n}
        if all(f in by for f in fractions):
            acc[n] = [by[f]["accuracy_mean"] * 100 for f in fractions]
            err[n] = [by[f]["accuracy_std"] * 100 for f in fractions]
    pictures = []
    if acc:
        pictures.append(plots.plot_lines(fractions, acc, out / "accuracy_vs_labels.png", "fraction of training labels",
                                         "test accuracy, % (mean ± std over seeds)", errors=err, logx=len(fractions) > 1,
                                         title="accuracy against the labelled data"))
    full = max(fractions)
    at_full = [t for t in table if t["label_fraction"] == full]
    pictures.append(plots.plot_bars([t["network"] for t in at_full],
                                    {"pre-training": [t["pretrain_seconds"] for t in at_full],
                                     "fine-tuning": [t["finetune_seconds"] for t in at_full]},
                                    out / "time_split.png", "seconds (mean over seeds)", stacked=True,
                                    title=f"where the time goes ({full:.0%} of the labels)"))
    lines = [f"# Experiment: {', '.join(c.name for c in configs)}", "",
             f"Seeds: {sorted({r['seed'] for r in rows})}; label fractions: {fractions}. Pre-training uses the "
             "unlabelled training images only; accuracy on the test split.", "",
             format_experiment(table)]
    lines += [f"![{p.name}]({p.name})" for p in pictures]
    lines += ["", f"Command: `{command}`  ", f"Wall time of this invocation: {seconds:.0f} s  ",
              f"Machine: {machine_summary()}", "", "Per-cell numbers: `results.csv`."]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
