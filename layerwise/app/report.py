"""Reports of runs: the verdict of paired differences, one summary and one Markdown table for
``layerwise run`` (task compare) and ``layerwise experiment``, ``report.md``, ``results.csv``."""

from __future__ import annotations

import csv
import datetime as _dt
import math
import os
import platform
import statistics
from pathlib import Path
from typing import Sequence

import torch
from scipy.stats import t as student_t

from .. import plots
from ..models.classifier import CNNClassifier
from ..models.cnn import describe_cnn
from .config import RunConfig

__all__ = ["describe_model", "verdict", "summarise", "compare_baselines", "format_table", "write_report",
           "write_single_report", "write_results",
           "machine_summary", "default_run_dir"]


def describe_model(model) -> str:
    """A model on one line, for reports and ``results.csv``: a CNN classifier's layers
    (``conv 16@3x3 -> pool 2 -> fc 64``); its ``repr`` when that is one line (``RBM(64, 16)``),
    else ``Name(<extra_repr>)`` (``AutoEncoder(64, 32, loss=bce)``), else ``Name(key=value,
    ...)`` of its ``config()``, else the class name.

    Parameters
    ----------
    model : nn.Module
        Any model.

    Returns
    -------
    str
        One line.
    """
    if isinstance(model, CNNClassifier):
        return describe_cnn(model.network)
    text = repr(model)
    if "\n" not in text:
        return text
    name = type(model).__name__
    extra = model.extra_repr() if hasattr(model, "extra_repr") else ""
    if not extra and hasattr(model, "config"):
        extra = ", ".join(f"{k}={v!r}" for k, v in model.config().items())
    return " ".join(f"{name}({extra})".split()) if extra else name


def verdict(diffs: list[float]) -> str:
    """Plain words for paired accuracy differences (variant - baseline) over seeds.

    "helped" / "hurt" when the mean difference is away from zero at the 95 % level of a paired
    t-test (mean difference beyond t_{0.975, n-1} standard errors: 4.30 for 3 seeds, 2.78 for
    5); otherwise "no clear difference". One seed gives no error bar and says so.

    Parameters
    ----------
    diffs : list of float
        One difference per seed.

    Returns
    -------
    str
        ``"baseline"`` for no differences.
    """
    if not diffs:
        return "baseline"
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return f"{mean * 100:+.1f} points (one seed: no error bar)"
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    crit = float(student_t.ppf(0.975, len(diffs) - 1))
    wins = sum(d > 0 for d in diffs)
    text = f"{mean * 100:+.1f} ± {se * 100:.1f} points, better in {wins}/{len(diffs)} seeds"
    if mean - crit * se > 0:
        return f"helped: {text}"
    if mean + crit * se < 0:
        return f"hurt: {text}"
    return f"no clear difference: {text}"


def summarise(rows: Sequence[dict], baselines: dict[str, str] | None = None) -> list[dict]:
    """One row per (network, label fraction), in order of fraction then of first appearance.

    Parameters
    ----------
    rows : sequence of dict
        Cells: ``network``, ``seed``, ``test_accuracy``, ``pretrain_seconds``,
        ``finetune_seconds``, and optionally ``label_fraction`` (1.0), ``n_labelled``,
        ``total_seconds`` (pre-training + fine-tuning).
    baselines : dict, optional
        ``network -> its baseline network``: the verdict compares the two, paired by seed.

    Returns
    -------
    list of dict
        ``network``, ``label_fraction``, ``n_labelled``, ``seeds``, ``accuracy_mean``,
        ``accuracy_std``, mean ``pretrain_seconds``, ``finetune_seconds``, ``total_seconds``,
        ``baseline`` (None without paired seeds) and ``verdict`` ("" without paired seeds).
    """
    groups: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["network"], r.get("label_fraction", 1.0)), []).append(r)
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
            "network": network, "label_fraction": fraction, "n_labelled": rs[0].get("n_labelled"), "seeds": len(rs),
            "accuracy_mean": statistics.fmean(accs), "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "pretrain_seconds": statistics.fmean(r["pretrain_seconds"] for r in rs),
            "finetune_seconds": statistics.fmean(r["finetune_seconds"] for r in rs),
            "total_seconds": statistics.fmean(r.get("total_seconds", r["pretrain_seconds"] + r["finetune_seconds"])
                                              for r in rs),
            "baseline": base if diffs else None, "verdict": verdict(diffs) if diffs else "",
        })
    return table


def compare_baselines(variants) -> dict[str, str]:
    """The baseline of every variant of a ``compare`` run: random initialisation, ``"random"``."""
    return {v: "random" for v in variants if v != "random"}


def format_table(table: Sequence[dict], against: str | None = None) -> str:
    """The summary as Markdown: one table per label fraction.

    Parameters
    ----------
    table : sequence of dict
        From :func:`summarise`.
    against : str, optional
        The one baseline of a ``compare`` run (``"random"``): one table without a heading,
        the verdict column "against random init", "baseline" for rows without a verdict.
        None (an experiment): a heading and a table per label fraction, each verdict naming
        its baseline.
    """
    lines = []
    for fraction in sorted({t["label_fraction"] for t in table}):
        rows = [t for t in table if t["label_fraction"] == fraction]
        if against is not None:
            lines += [f"| variant | test accuracy | pre-training s | fine-tuning s | against {against} init |",
                      "|---|---|---|---|---|"]
            lines += [f"| {t['network']} | {t['accuracy_mean'] * 100:.1f} ± {t['accuracy_std'] * 100:.1f} % "
                      f"| {t['pretrain_seconds']:.1f} | {t['finetune_seconds']:.1f} | {t['verdict'] or 'baseline'} |"
                      for t in rows]
            continue
        lines += [f"### {fraction:.0%} of the training labels ({rows[0]['n_labelled']} images)", "",
                  "| network | accuracy, % | pre-training s | fine-tuning s | total s | pre-training against none |",
                  "|---|---|---:|---:|---:|---|"]
        for t in rows:
            text = f"vs {t['baseline']}: {t['verdict']}" if t["verdict"] else ""
            lines.append(f"| {t['network']} | {t['accuracy_mean'] * 100:.1f} ± {t['accuracy_std'] * 100:.1f} "
                         f"| {t['pretrain_seconds']:.1f} | {t['finetune_seconds']:.1f} | {t['total_seconds']:.1f} "
                         f"| {text} |")
        lines.append("")
    return "\n".join(lines)


def machine_summary() -> str:
    """One line: CPU/GPU, threads, torch version, date — for reports and benchmarks."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores "
            f"({torch.get_num_threads()} torch threads), {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}; {_dt.date.today().isoformat()}")


def default_run_dir(name: str, base: str | Path = "runs") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``."""
    return Path(base) / f"{name}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def write_results(out: Path, rows: list[dict]) -> None:
    """``results.csv``: one line per row (the columns of the first row); nothing for no rows."""
    if not rows:
        return
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _pictures(out: Path, table: Sequence[dict], full: float | None = None) -> list[Path]:
    """accuracy_vs_labels.png (over several fractions) and time_split.png (at the largest fraction)."""
    fractions = sorted({t["label_fraction"] for t in table})
    pictures = []
    if full is None:  # an experiment
        networks = list(dict.fromkeys(t["network"] for t in table))
        acc, err = {}, {}
        for n in networks:
            by = {t["label_fraction"]: t for t in table if t["network"] == n}
            if all(f in by for f in fractions):
                acc[n] = [by[f]["accuracy_mean"] * 100 for f in fractions]
                err[n] = [by[f]["accuracy_std"] * 100 for f in fractions]
        if acc:
            pictures.append(plots.plot_lines(fractions, acc, out / "accuracy_vs_labels.png",
                                             "fraction of training labels", "test accuracy, % (mean ± std over seeds)",
                                             errors=err, logx=len(fractions) > 1,
                                             title="accuracy against the labelled data"))
    at_full = [t for t in table if t["label_fraction"] == max(fractions)]
    title = "where the time goes" if full is not None else f"where the time goes ({max(fractions):.0%} of the labels)"
    pictures.append(plots.plot_bars([t["network"] for t in at_full],
                                    {"pre-training": [t["pretrain_seconds"] for t in at_full],
                                     "fine-tuning": [t["finetune_seconds"] for t in at_full]},
                                    out / "time_split.png", "seconds" if full is not None else "seconds (mean over seeds)",
                                    stacked=True, title=title))
    return pictures


def write_report(out: Path, configs: Sequence[RunConfig], rows: Sequence[dict], command: str, seconds: float,
                 baselines: dict[str, str] | None = None, compare: bool = False) -> Path:
    """``report.md`` (and ``time_split.png``, ``accuracy_vs_labels.png``) of a compare run or an experiment.

    Parameters
    ----------
    out : Path
        The run folder.
    configs : sequence of RunConfig
        The run files (one for a compare run).
    rows : sequence of dict
        The cells (see :func:`summarise`).
    command : str
        The command line, for the record.
    seconds : float
        Wall time.
    baselines : dict, optional
        ``network -> baseline network``.
    compare : bool
        The report of ``layerwise run`` (task compare): one table against random
        initialisation, with the data and network described, and every picture of the folder.

    Returns
    -------
    Path
        ``out / "report.md"``.
    """
    table = summarise(rows, baselines)
    if compare:
        cfg = configs[0]
        _pictures(out, table, full=cfg.data.label_fraction)
        n_lab = rows[0]["n_labelled"] if rows else 0
        n_unl = rows[0]["n_unlabelled"] if rows else 0
        text = [f"# {cfg.name}: does pre-training help?", "",
                f"Data: `{cfg.data.name}`, {n_unl} unlabelled training images for pre-training, "
                f"{n_lab} of them labelled ({cfg.data.label_fraction:.0%} per class) for fine-tuning; "
                f"accuracy on the test split after the last fine-tuning epoch (no model selection on test). "
                f"Network {cfg.network.hidden_sizes} {cfg.network.activation}, classifier loss "
                f"{cfg.classifier.loss}; seeds {cfg.seeds}.", "",
                format_table(table, against="random"), "",
                "Verdicts compare each variant with random initialisation seed by seed (same labelled "
                "subset, same fine-tuning): the mean paired difference ± its standard error; 'helped' "
                "or 'hurt' only when a paired t-test over the seeds puts it away from zero at the 95 % level.", ""]
        text += [f"![{p}]({p})" for p in sorted(p.name for p in out.glob("*.png"))]
        text += ["", f"Command: `{command}`  ", f"Wall time: {seconds:.1f} s  ", f"Machine: {machine_summary()}", "",
                 "Resolved configuration: `config.yaml` in this folder; per-run numbers: `results.csv`."]
    else:
        pictures = _pictures(out, table)
        fractions = sorted({t["label_fraction"] for t in table})
        text = [f"# Experiment: {', '.join(c.name for c in configs)}", "",
                f"Seeds: {sorted({r['seed'] for r in rows})}; label fractions: {fractions}. Pre-training uses the "
                "unlabelled training images only; accuracy on the test split.", "",
                format_table(table)]
        text += [f"![{p.name}]({p.name})" for p in pictures]
        text += ["", f"Command: `{command}`  ", f"Wall time of this invocation: {seconds:.0f} s  ",
                 f"Machine: {machine_summary()}", "", "Per-cell numbers: `results.csv`."]
    path = out / "report.md"
    path.write_text("\n".join(text) + "\n")
    return path


def write_single_report(out: Path, cfg: RunConfig, row: dict, command: str) -> Path:
    """``report.md`` of a single-model task: its one row of numbers and every picture of the folder."""
    lines = [f"# {cfg.name}", "", "| " + " | ".join(row) + " |", "|" + "---|" * len(row),
             "| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()) + " |", ""]
    lines += [f"![{p.name}]({p.name})" for p in sorted(out.glob("*.png"))]
    lines += ["", f"Command: `{command}`  ", f"Machine: {machine_summary()}"]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
