"""Runs described by a :class:`~layerwise.config.RunConfig`: the pipeline behind ``layerwise run``
and ``layerwise demo``, writing a run folder with ``report.md``, ``results.csv`` and pictures.

Task ``compare``: for every seed and every variant, pre-train a stack of layer learners on the
*unlabelled* training images, fine-tune the network with the kept fraction of labels, and
measure test accuracy; the variant ``random`` (no pre-training) is the baseline, with the same
architecture and the same labelled subset. The report says, per variant, whether pre-training
helped, with the paired difference over seeds and its standard error.

Task ``autoencoder``: train one :class:`~layerwise.AutoEncoder` and report its reconstruction
error, filters and reconstructions.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from . import datasets, plots
from .config import ConfigError, RunConfig, TrainConfig, check_options, config_to_dict
from .models.autoencoder import AutoEncoder
from .models.classifier import CNNClassifier, build_mlp, finetune
from .models.cnn import CNN_CONFIGS, build_cnn, build_network, describe_cnn, load_pretrained_convs, network_names
from .models.conv_autoencoder import ConvAutoEncoder
from .models.csc import ConvSparseCoding
from .models.dbm import DBM
from .models.dbn import DBN
from .models.rbm import RBM
from .models.sbn import SigmoidBeliefNet
from .models.updown import UpDownDBN
from .pretraining import pretrain
from .training import fit

__all__ = ["prepare_data", "run", "run_compare", "run_autoencoder", "verdict", "default_run_dir"]

# Keys a variant may not set: the architecture is the network section's, shared with the baseline.
_ARCHITECTURE_KEYS = ("n_inputs", "hidden_sizes", "activation")


@dataclass
class Prepared:
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    image_shape: tuple[int, ...]


#: Face data sets (layerwise.faces): they take size and grayscale like image folders.
FACE_SETS = ("utkface", "wiki", "imdb")


def prepare_data(cfg, seed: int = 0) -> Prepared:
    """Load, transform and flatten the train and test splits named by a :class:`DataConfig`."""
    opts: dict[str, Any] = {"root": cfg.root, "flatten": False, "scale": cfg.scale}
    if cfg.path is not None:
        opts["path"] = cfg.path
    if cfg.size is not None:
        opts["size"] = tuple(cfg.size)
    if cfg.name in ("image-folder",) + FACE_SETS:
        opts["grayscale"] = cfg.grayscale
    opts.update(cfg.options)
    tx, ty = datasets.load(cfg.name, "train", **opts)
    try:
        sx, sy = datasets.load(cfg.name, "test", **opts)
    except ValueError:
        raise ConfigError(f"Data set {cfg.name!r} has no test split to evaluate on.")
    if cfg.max_train:
        tx, ty = tx[: cfg.max_train], ty[: cfg.max_train]
    if cfg.max_test:
        sx, sy = sx[: cfg.max_test], sy[: cfg.max_test]
    shape = tuple(tx.shape[1:])
    tx, sx = tx.reshape(len(tx), -1), sx.reshape(len(sx), -1)
    if cfg.divide is not None:
        t = datasets.Divide(cfg.divide)
        tx, sx = t(tx), t(sx)
    if cfg.binarize is not None:
        t = datasets.Binarize(threshold=cfg.binarize)
        tx, sx = t(tx), t(sx)
    if cfg.standardize:
        t = datasets.Standardize().fit(tx)
        tx, sx = t(tx), t(sx)
    return Prepared(tx.float(), ty.long(), sx.float(), sy.long(), shape)


def _fit_options(train: TrainConfig, device: str, seed: int) -> dict:
    return {"epochs": train.epochs, "batch_size": train.batch_size, "optimizer": train.optimizer,
            "lr": train.lr, "momentum": train.momentum, "weight_decay": train.weight_decay,
            "lr_schedule": train.lr_schedule, "device": device, "seed": seed}


LEARNERS = ("autoencoder", "rbm", "dbn", "dbm", "conv_autoencoder")
# A conv autoencoder's architecture is the CNN's block: these come from network.cnn.
_CONV_KEYS = ("in_shape", "channels", "kernel_size", "pool")


def image_shape(shape: tuple[int, ...], what: str) -> tuple[int, int, int]:
    """(C, H, W) of a data set's images; a clear error for data that are not images."""
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3:
        return tuple(shape)  # type: ignore[return-value]
    raise ConfigError(f"{what} needs images; the data set's rows have shape {shape}, not (H, W) or (C, H, W).")


def _check_cnn(name: str | None) -> None:
    if name is not None and name not in network_names():
        raise ConfigError(f"Unknown network {name!r} in network.cnn; the named networks are {', '.join(network_names())}.")


def _split_variant(cfg: RunConfig, options: dict) -> tuple[str, dict, TrainConfig]:
    """A variant's learner kind, its model options, and its pre-training settings (the
    ``pretrain`` section, updated by the variant's own ``pretrain:`` entries)."""
    options = dict(options)
    kind = options.pop("learner", "autoencoder")
    if kind not in LEARNERS:
        raise ConfigError(f"Unknown layer learner {kind!r}; available: {', '.join(LEARNERS)}.")
    train = dataclasses.replace(cfg.pretrain, **_train_overrides(options.pop("pretrain", None)))
    bad = sorted(set(options) & set(_ARCHITECTURE_KEYS + ("n_visible", "n_hidden", "sizes")))
    if bad:
        raise ConfigError(f"Variant options may not set {', '.join(bad)}: the architecture comes "
                          "from the 'network' section, so that every variant and the baseline share it.")
    _check_cnn(cfg.network.cnn)
    if kind == "conv_autoencoder" and cfg.network.cnn is not None and cfg.network.cnn not in CNN_CONFIGS:
        raise ConfigError(f"A conv_autoencoder variant pre-trains the conv blocks of cnn-1, cnn-2 or cnn-tiny; "
                          f"network.cnn is {cfg.network.cnn!r}.")
    if (kind == "conv_autoencoder") != (cfg.network.cnn is not None):
        raise ConfigError("A conv_autoencoder variant pre-trains the blocks of a CNN, and a CNN (network.cnn) "
                          f"can only be pre-trained by conv_autoencoder variants; got learner {kind!r} with "
                          f"network.cnn={cfg.network.cnn!r}.")
    if kind in ("rbm", "dbn", "dbm") and cfg.network.activation != "sigmoid":
        raise ConfigError(f"A {kind} variant gives sigmoid layers (p(h = 1 | v)); set network.activation "
                          f"to 'sigmoid' (it is {cfg.network.activation!r}) so that the baseline matches.")
    if kind == "autoencoder":
        options.setdefault("init", cfg.network.init)
        check_options(AutoEncoder, options, "variants.<name>", skip=_ARCHITECTURE_KEYS)
    elif kind == "conv_autoencoder":
        check_options(ConvAutoEncoder, options, "variants.<name>", skip=_CONV_KEYS)
    elif kind == "rbm":
        check_options(RBM, options, "variants.<name>", skip=("n_visible", "n_hidden", "device", "dtype"))
    elif kind == "dbm":
        check_options(DBM, options, "variants.<name>", skip=("sizes", "device", "dtype"))
    else:
        check_options(DBN, options, "variants.<name>", skip=("sizes",))
    return kind, options, train


def _train_overrides(values: dict | None) -> dict:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"A variant's 'pretrain' entry must be a mapping; got {values!r}.")
    valid = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise ConfigError(f"Unknown key(s) {', '.join(repr('variants.<name>.pretrain.' + u) for u in unknown)}; "
                          f"valid keys are: {', '.join(sorted(valid))}.")
    return values


def _pretrain_variant(cfg: RunConfig, options: dict, x: torch.Tensor, seed: int, progress: bool,
                      shape: tuple[int, ...] = ()):
    """Pre-train one variant on ``x``; return (network, learners, histories)."""
    kind, model_options, train = _split_variant(cfg, options)
    fit_options = _fit_options(train, cfg.device, seed)
    sizes = cfg.network.hidden_sizes
    if kind == "conv_autoencoder":  # greedy, one conv autoencoder per block of the CNN
        in_shape = image_shape(shape, "A CNN")
        makers = []
        for channels, kernel, pool in CNN_CONFIGS[cfg.network.cnn]["blocks"]:
            makers.append(lambda n, s=in_shape, c=channels, k=kernel, p=pool:
                          ConvAutoEncoder(s, c, k, p, **model_options))
            in_shape = (channels, in_shape[1] // pool, in_shape[2] // pool)
        stack = pretrain(makers, x, progress=progress, **fit_options)
        network = load_pretrained_convs(build_cnn(cfg.network.cnn, image_shape(shape, "A CNN")), stack)
        return network, stack.learners, stack
    if kind == "dbm":  # greedy pre-training with doubled inputs, then joint training, same settings
        dbm = DBM([x.shape[1], *sizes], **model_options)
        dbm.pretrain(x, progress=progress, **fit_options)
        dbm.histories_ = [*dbm.histories_, fit(dbm, x, progress=progress, desc="DBM joint training", **fit_options)]
        return dbm.encoder(), [dbm], dbm
    if kind == "dbn":
        dbn = DBN([x.shape[1], *sizes], **model_options)
        dbn.pretrain(x, progress=progress, **fit_options)
        return dbn.encoder(), list(dbn.rbms), dbn
    if kind == "rbm":
        makers = [lambda n, h=h: RBM(n, h, **model_options) for h in sizes]
    else:
        act = cfg.network.activation
        makers = [lambda n, h=h: AutoEncoder(n, [h], activation=act, **model_options) for h in sizes]
    stack = pretrain(makers, x, progress=progress, **fit_options)
    return stack, stack.learners, stack


def verdict(diffs: list[float]) -> str:
    """Plain words for paired accuracy differences (variant - random) over seeds.

    "helped" / "hurt" when the mean difference is away from
    zero at the 95 % level of a paired t-test (mean difference beyond t_{0.975, n-1} standard
    errors: 4.30 for 3 seeds, 2.78 for 5); otherwise "no clear difference". One seed gives no
    error bar and says so.
    """
    if not diffs:
        return "baseline"
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return f"{mean * 100:+.1f} points (one seed: no error bar)"
    from scipy.stats import t as student_t

    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    crit = float(student_t.ppf(0.975, len(diffs) - 1))
    wins = sum(d > 0 for d in diffs)
    text = f"{mean * 100:+.1f} ± {se * 100:.1f} points, better in {wins}/{len(diffs)} seeds"
    if mean - crit * se > 0:
        return f"helped: {text}"
    if mean + crit * se < 0:
        return f"hurt: {text}"
    return f"no clear difference: {text}"


def run_compare(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> list[dict]:
    """Pre-train each variant, fine-tune with the kept labels, compare against random init."""
    _check_cnn(cfg.network.cnn)
    for name, options in cfg.variants.items():  # check every variant before any work
        if options is not None:
            _split_variant(cfg, options)
    # torch imports its compiler lazily when the first optimiser is built (seconds, once per
    # process): do it now so that it is not charged to whichever variant happens to run first.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    rows: list[dict] = []
    curves: dict[str, list[dict]] = {}
    pre_curves: dict[str, list[dict]] = {}
    for seed in cfg.seeds:
        data = prepare_data(cfg.data, seed)
        lx, ly, _ = datasets.label_fraction(data.train_x, data.train_y, cfg.data.label_fraction, seed=seed)
        n_classes = int(torch.cat([data.train_y, data.test_y]).max()) + 1
        for name, options in cfg.variants.items():
            torch.manual_seed(seed)
            t0 = time.perf_counter()
            learners = None
            if options is None and cfg.network.cnn is not None:
                network = build_network(cfg.network.cnn, image_shape(data.image_shape, "A CNN"))
                pre_s = 0.0
            elif options is None:
                network = build_mlp(data.train_x.shape[1], cfg.network.hidden_sizes,
                                    cfg.network.activation, cfg.network.init)
                pre_s = 0.0
            else:
                network, learners, record = _pretrain_variant(cfg, options, data.train_x, seed, progress,
                                                              data.image_shape)
                pre_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            clf, hist = finetune(network, (lx, ly), n_classes, loss=cfg.classifier.loss,
                                 validation=(data.test_x, data.test_y), progress=progress,
                                 **_fit_options(cfg.finetune, cfg.device, seed))
            fine_s = time.perf_counter() - t1
            acc = clf.accuracy(data.test_x, data.test_y)
            rows.append({"variant": name, "seed": seed, "test_accuracy": acc,
                         "pretrain_seconds": pre_s, "finetune_seconds": fine_s,
                         "n_labelled": len(ly), "n_unlabelled": len(data.train_x)})
            log(f"  seed {seed}  {name:<14} test accuracy {acc:.4f}  pre-train {pre_s:6.1f} s  fine-tune {fine_s:6.1f} s")
            if seed == cfg.seeds[0]:
                curves[name] = list(hist)
                if learners is not None:
                    pre_curves[name] = list(_histories(record)[0])
                    _variant_pictures(out, name, learners[0], data)
    _write_results(out, rows)
    _summary_pictures(out, cfg, rows, curves, pre_curves)
    return rows


def _histories(record) -> list:
    return list(getattr(record, "histories", None) or getattr(record, "histories_", None) or [[]])


def _first_weight(learner) -> torch.Tensor:
    """The first layer's weight matrix (n_hidden, n_inputs) of an autoencoder or an RBM, or the
    first convolution's filters (K, C, s, s)."""
    if isinstance(learner, ConvAutoEncoder):
        return learner.convs[0].weight.detach().cpu()
    if isinstance(learner, DBM):
        return learner.weights[0].detach().cpu()
    w = getattr(learner, "weight", None)
    return (w if isinstance(w, torch.Tensor) else learner.weights()[0]).detach().cpu()


def _variant_pictures(out: Path, name: str, first, data: Prepared) -> None:
    shape = data.image_shape if len(data.image_shape) > 1 else None
    if shape is None:
        return
    weight = _first_weight(first)
    plots.plot_filters(weight, out / f"filters_{name}.png", shape=None if weight.dim() == 4 else _grid_shape(shape),
                       title=f"first-layer filters: {name}")
    if getattr(first, "noise", None):
        x = data.test_x[:10].to(next(first.parameters()).device)
        first.train()
        noisy = first.corrupt(x)
        first.eval()
        with torch.no_grad():
            recon = first(noisy).reshape(len(x), -1)
        plots.plot_reconstructions({"clean": x.cpu(), "noisy": noisy.cpu(), "reconstruction": recon.cpu()},
                                   out / f"reconstructions_{name}.png", shape=_grid_shape(shape), n=10,
                                   title=f"{name}: noisy inputs and their reconstructions")


def _grid_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[1:] if len(shape) == 3 and shape[0] == 1 else shape


def _write_results(out: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def summarise(rows: list[dict], baseline: str = "random") -> list[dict]:
    """Mean ± std per variant, and the verdict against the baseline (paired by seed)."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["variant"], []).append(r)
    base = {r["seed"]: r["test_accuracy"] for r in by.get(baseline, [])}
    table = []
    for name, rs in by.items():
        accs = [r["test_accuracy"] for r in rs]
        diffs = [r["test_accuracy"] - base[r["seed"]] for r in rs if r["seed"] in base] if name != baseline and base else []
        table.append({
            "variant": name,
            "accuracy_mean": statistics.fmean(accs),
            "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "pretrain_seconds": statistics.fmean(r["pretrain_seconds"] for r in rs),
            "finetune_seconds": statistics.fmean(r["finetune_seconds"] for r in rs),
            "verdict": verdict(diffs) if name != baseline else "baseline",
        })
    return table


def format_table(table: list[dict]) -> str:
    """The summary as a Markdown table (printed by the CLI and written into report.md)."""
    lines = ["| variant | test accuracy | pre-training s | fine-tuning s | against random init |",
             "|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| {t['variant']} | {t['accuracy_mean'] * 100:.1f} ± {t['accuracy_std'] * 100:.1f} % "
                     f"| {t['pretrain_seconds']:.1f} | {t['finetune_seconds']:.1f} | {t['verdict']} |")
    return "\n".join(lines)


def _summary_pictures(out: Path, cfg: RunConfig, rows, curves, pre_curves) -> None:
    if curves:
        plots.plot_curves(curves, out / "finetune_curves.png", keys=("loss", "val_accuracy"),
                          title="fine-tuning (seed %d): training loss and test accuracy" % cfg.seeds[0])
    if pre_curves:
        plots.plot_curves(pre_curves, out / "pretrain_curves.png", keys=("loss",),
                          title="pre-training, first layer: loss per epoch")
    table = summarise(rows)
    plots.plot_bars([t["variant"] for t in table],
                    {"pre-training": [t["pretrain_seconds"] for t in table],
                     "fine-tuning": [t["finetune_seconds"] for t in table]},
                    out / "time_split.png", ylabel="seconds", stacked=True,
                    title="where the time goes")


def machine_summary() -> str:
    """One line: CPU/GPU, threads, torch version, date — for reports and benchmarks."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores "
            f"({torch.get_num_threads()} torch threads), {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}; {_dt.date.today().isoformat()}")


def write_report(out: Path, cfg: RunConfig, rows: list[dict], command: str, seconds: float) -> Path:
    """Write ``report.md``: the table, the verdicts, the pictures, the command and the machine."""
    table = summarise(rows)
    pictures = sorted(p.name for p in out.glob("*.png"))
    n_lab = rows[0]["n_labelled"] if rows else 0
    n_unl = rows[0]["n_unlabelled"] if rows else 0
    text = [f"# {cfg.name}: does pre-training help?", "",
            f"Data: `{cfg.data.name}`, {n_unl} unlabelled training images for pre-training, "
            f"{n_lab} of them labelled ({cfg.data.label_fraction:.0%} per class) for fine-tuning; "
            f"accuracy on the test split after the last fine-tuning epoch (no model selection on test). "
            f"Network {cfg.network.hidden_sizes} {cfg.network.activation}, classifier loss "
            f"{cfg.classifier.loss}; seeds {cfg.seeds}.", "",
            format_table(table), "",
            "Verdicts compare each variant with random initialisation seed by seed (same labelled "
            "subset, same fine-tuning): the mean paired difference ± its standard error; 'helped' "
            "or 'hurt' only when a paired t-test over the seeds puts it away from zero at the 95 % level.", ""]
    text += [f"![{p}]({p})" for p in pictures]
    text += ["", f"Command: `{command}`  ", f"Wall time: {seconds:.1f} s  ", f"Machine: {machine_summary()}", "",
             "Resolved configuration: `config.yaml` in this folder; per-run numbers: `results.csv`."]
    path = out / "report.md"
    path.write_text("\n".join(text) + "\n")
    return path


def run_autoencoder(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> list[dict]:
    """Train one AutoEncoder on the training split; report test reconstruction error and pictures."""
    options = dict(cfg.model)
    check_options(AutoEncoder, options, "model", skip=("n_inputs",))
    seed = cfg.seeds[0]
    data = prepare_data(cfg.data, seed)
    torch.manual_seed(seed)
    model = AutoEncoder(data.train_x.shape[1], **options)
    t0 = time.perf_counter()
    hist = fit(model, data.train_x, checkpoint_dir=out, validation=data.test_x, progress=progress,
               **_fit_options(cfg.train, cfg.device, seed))
    secs = time.perf_counter() - t0
    test = _test_metrics(model, data.test_x)
    shape = _grid_shape(data.image_shape)
    if len(data.image_shape) > 1:
        plots.plot_filters(_first_weight(model), out / "filters.png", shape=shape)
        x = data.test_x[:10].to(next(model.parameters()).device)
        panel = {"clean": x.cpu()}
        if model.noise:
            model.train()
            x_in = model.corrupt(x)
            model.eval()
            panel["noisy"] = x_in.cpu()
        else:
            x_in = x
        with torch.no_grad():
            panel["reconstruction"] = model(x_in).cpu()
        plots.plot_reconstructions(panel, out / "reconstructions.png", shape=shape)
    plots.plot_curves({"train": list(hist)}, out / "curves.png", keys=("loss", "val_loss"))
    return [_single_row(model, secs, test, log)]


def _test_metrics(model, x: torch.Tensor) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        return model.metrics(x.to(next(model.parameters()).device))


def _single_row(model, secs: float, test: dict, log) -> dict:
    log(f"  {model!r}: test " + ", ".join(f"{k} {v:.6g}" for k, v in test.items()) + f"  ({secs:.1f} s)")
    return {"model": repr(model).splitlines()[0], "seconds": secs, **{f"test_{k}": v for k, v in test.items()}}


def _sample_pictures(out: Path, draw, n_visible: int, shape, ev) -> None:
    """samples.png (the chains' last states) and chain.png (snapshots of the first 8 chains)."""
    every = max(ev.sample_steps // 10, 1)
    snaps = draw(ev.samples, ev.sample_steps, every)            # (T, n, D)
    if len(shape) < 2:
        return
    plots.plot_samples(snaps[-1].cpu(), out / "samples.png", shape=shape,
                       title=f"{ev.samples} samples after {ev.sample_steps} Gibbs sweeps")
    k = min(8, snaps.shape[1])
    plots.plot_samples(snaps[:, :k].reshape(-1, n_visible).cpu(), out / "chain.png", shape=shape, ncols=k,
                       title=f"{k} chains, every {every} sweeps (top to bottom)")


def run_rbm(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> list[dict]:
    """Train one RBM: test reconstruction error and pseudo-likelihood, AIS log-likelihood when
    ``evaluate.ais_runs > 0``, filters, samples and the chains' evolution."""
    from . import partition

    options = dict(cfg.model)
    if "n_hidden" not in options:
        raise ConfigError("Task 'rbm' needs model.n_hidden.")
    check_options(RBM, options, "model", skip=("n_visible", "device", "dtype"))
    seed = cfg.seeds[0]
    data = prepare_data(cfg.data, seed)
    torch.manual_seed(seed)
    model = RBM(data.train_x.shape[1], **options)
    model.init_visible_bias(data.train_x)
    t0 = time.perf_counter()
    hist = fit(model, data.train_x, checkpoint_dir=out, validation=data.test_x, progress=progress,
               **_fit_options(cfg.train, cfg.device, seed))
    secs = time.perf_counter() - t0
    test = _test_metrics(model, data.test_x)
    ev = cfg.evaluate
    if ev.ais_runs > 0:
        gen = torch.Generator(device=model.weight.device).manual_seed(seed)
        ais = partition.ais_log_partition(model, n_runs=ev.ais_runs, n_betas=ev.ais_betas,
                                          data=data.train_x, generator=gen)
        with torch.no_grad():
            ll = float(model.log_likelihood(data.test_x.to(model.weight.device), log_z=ais.log_z).mean())
        # the band on log Z (mean weight +- 3 standard errors) moves the log-likelihood the other way
        test.update({"log_z_ais": ais.log_z, "log_likelihood_ais": ll,
                     "log_likelihood_low": ll - (ais.upper - ais.log_z),
                     "log_likelihood_high": ll - (ais.lower - ais.log_z)})
    shape = _grid_shape(data.image_shape)
    if len(data.image_shape) > 1:
        plots.plot_filters(_first_weight(model), out / "filters.png", shape=shape)
    torch.manual_seed(seed)
    _sample_pictures(out, lambda n, steps, every: model.sample(n, steps, every=every),
                     model.n_visible, shape, ev)
    plots.plot_curves({"train": list(hist)}, out / "curves.png",
                      keys=("loss", "reconstruction_error", "pseudo_log_likelihood"))
    return [_single_row(model, secs, test, log)]


def run_dbn(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> list[dict]:
    """Pre-train a DBN greedily, draw samples, fine-tune it as a classifier with the kept labels;
    the variational lower bound on test log p(v) for two-layer DBNs when ``evaluate.ais_runs > 0``."""
    from .checkpoint import save_checkpoint

    hidden, options = _hidden_sizes(cfg, "dbn")
    check_options(DBN, options, "model", skip=("sizes",))
    seed = cfg.seeds[0]
    data = prepare_data(cfg.data, seed)
    torch.manual_seed(seed)
    dbn = DBN([data.train_x.shape[1], *hidden], **options)
    t0 = time.perf_counter()
    dbn.pretrain(data.train_x, progress=progress, **_fit_options(cfg.pretrain, cfg.device, seed))
    pre_s = time.perf_counter() - t0
    save_checkpoint(out / "last", dbn)
    device = next(dbn.parameters()).device
    test: dict[str, Any] = {}
    ev = cfg.evaluate
    if ev.ais_runs > 0 and len(hidden) == 2:
        log_z = dbn.rbms[-1].log_partition(method="ais", n_runs=ev.ais_runs, n_betas=ev.ais_betas)
        bound = dbn.lower_bound(data.test_x.to(device), log_z=log_z)
        test["lower_bound"] = float(bound.mean())
    if ev.updown_epochs > 0:
        test.update(_updown(dbn, cfg, data, out, progress))
    lx, ly, _ = datasets.label_fraction(data.train_x, data.train_y, cfg.data.label_fraction, seed=seed)
    n_classes = int(torch.cat([data.train_y, data.test_y]).max()) + 1
    t1 = time.perf_counter()
    clf = dbn.to_classifier(n_classes, loss=cfg.classifier.loss)
    hist = fit(clf, (lx, ly), validation=(data.test_x, data.test_y), progress=progress, desc="fine-tune",
               **_fit_options(cfg.finetune, cfg.device, seed))
    test["accuracy"] = clf.accuracy(data.test_x, data.test_y)
    shape = _grid_shape(data.image_shape)
    if len(data.image_shape) > 1:
        plots.plot_filters(_first_weight(dbn.rbms[0]), out / "filters.png", shape=shape)
    torch.manual_seed(seed)
    _sample_pictures(out, lambda n, steps, every: dbn.generate(n, gibbs_steps=steps, every=every),
                     dbn.rbms[0].n_visible, shape, ev)
    plots.plot_curves({"fine-tuning": list(hist)}, out / "curves.png", keys=("loss", "val_accuracy"))
    row = _single_row(dbn, pre_s, test, log)
    row.update({"pretrain_seconds": pre_s, "finetune_seconds": time.perf_counter() - t1,
                "n_labelled": len(ly)})
    return [row]


def _updown(dbn: DBN, cfg: RunConfig, data, out: Path, progress: bool) -> dict[str, float]:
    """Up-down fine-tuning of a copy of ``dbn`` (Hinton, Osindero & Teh 2006) for
    ``evaluate.updown_epochs`` epochs with the ``train`` section's optimiser settings; the bound
    on the test images before and after (same estimator seed; top log Z exact when the top RBM's
    smaller layer has at most 20 units, else AIS with the evaluate settings), and samples of both."""
    ev, seed = cfg.evaluate, cfg.seeds[0]
    net = UpDownDBN.from_dbn(dbn)
    device = next(net.parameters()).device
    test_x = data.test_x.to(device)
    ais = {"n_runs": max(ev.ais_runs, 1), "n_betas": ev.ais_betas}

    def bound() -> float:
        gen = torch.Generator(device=device).manual_seed(seed)
        log_z = net.top_log_partition(test_x, ais_options=ais, generator=gen)
        with torch.no_grad():
            return float(net.lower_bound(test_x, log_z=log_z, n_samples=10, generator=gen).mean())

    before = bound()
    shape = _grid_shape(data.image_shape)
    snaps = {}
    torch.manual_seed(seed)
    with torch.no_grad():
        snaps["before"] = net.generate(ev.samples, gibbs_steps=ev.sample_steps)
    options = _fit_options(cfg.train, cfg.device, seed)
    options["epochs"] = ev.updown_epochs
    fit(net, data.train_x, progress=progress, desc="up-down", **options)
    after = bound()
    torch.manual_seed(seed)
    with torch.no_grad():
        snaps["after"] = net.generate(ev.samples, gibbs_steps=ev.sample_steps)
    if len(data.image_shape) > 1:
        for name, x in snaps.items():
            plots.plot_samples(x.cpu(), out / f"samples_updown_{name}.png", shape=shape,
                               title=f"{ev.samples} samples {name} {ev.updown_epochs} epochs of up-down")
    return {"lower_bound_before_updown": before, "lower_bound_after_updown": after}


def _hidden_sizes(cfg: RunConfig, task: str) -> tuple[list[int], dict]:
    options = dict(cfg.model)
    hidden = options.pop("hidden_sizes", None)
    if not isinstance(hidden, list) or not hidden:
        raise ConfigError(f"Task {task!r} needs model.hidden_sizes, a list of layer sizes above the data.")
    return hidden, options


def run_sbn(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> list[dict]:
    """Train a sigmoid belief net by wake-sleep on binary data (``model: {hidden_sizes: [...]}``):
    the importance-sampled bound on the test images (``evaluate.ais_runs`` samples per image,
    100 by default), first-layer generative filters and ancestral samples."""
    hidden, options = _hidden_sizes(cfg, "sbn")
    check_options(SigmoidBeliefNet, options, "model", skip=("sizes", "device", "dtype"))
    seed = cfg.seeds[0]
    data = prepare_data(cfg.data, seed)
    torch.manual_seed(seed)
    model = SigmoidBeliefNet([data.train_x.shape[1], *hidden], **options).init_visible_bias(data.train_x)
    t0 = time.perf_counter()
    hist = fit(model, data.train_x, checkpoint_dir=out, progress=progress, **_fit_options(cfg.train, cfg.device, seed))
    secs = time.perf_counter() - t0
    test = _test_metrics(model, data.test_x)
    k = cfg.evaluate.ais_runs or 100
    gen = torch.Generator(device=data.test_x.device).manual_seed(seed)
    with torch.no_grad():
        test[f"log_likelihood_is_{k}"] = float(model.log_likelihood(data.test_x.to(next(model.parameters()).device),
                                                                     method="is", n_samples=k, generator=gen).mean())
    shape = _grid_shape(data.image_shape)
    if len(data.image_shape) > 1:
        plots.plot_filters(model.generative_weights[0].detach().T.cpu(), out / "filters.png", shape=shape,
                           title="generative filters of the first hidden layer")
        torch.manual_seed(seed)
        with torch.no_grad():
            plots.plot_samples(model.sample(cfg.evaluate.samples).cpu(), out / "samples.png", shape=shape,
                               title=f"{cfg.evaluate.samples} ancestral samples")
    plots.plot_curves({"train": list(hist)}, out / "curves.png", keys=("loss", "log_likelihood_bound"))
    return [_single_row(model, secs, test, log)]


def run_dbm(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> list[dict]:
    """Pre-train a DBM greedily (the ``pretrain`` section; doubled inputs), then train it jointly
    (``train``): mean-field reconstruction, the lower bound on test log p(v) with an AIS log Z
    when ``evaluate.ais_runs > 0``, filters, samples and the chains' evolution."""
    hidden, options = _hidden_sizes(cfg, "dbm")
    check_options(DBM, options, "model", skip=("sizes", "device", "dtype"))
    seed = cfg.seeds[0]
    data = prepare_data(cfg.data, seed)
    torch.manual_seed(seed)
    model = DBM([data.train_x.shape[1], *hidden], **options)
    t0 = time.perf_counter()
    p = cfg.pretrain
    model.pretrain(data.train_x, epochs=p.epochs, batch_size=p.batch_size, lr=p.lr, optimizer=p.optimizer,
                   momentum=p.momentum, progress=progress, seed=seed, device=cfg.device)
    pre_s = time.perf_counter() - t0
    hist = fit(model, data.train_x, checkpoint_dir=out, progress=progress, **_fit_options(cfg.train, cfg.device, seed))
    secs = time.perf_counter() - t0
    test = _test_metrics(model, data.test_x)
    test["pretrain_seconds"] = pre_s
    ev = cfg.evaluate
    if ev.ais_runs > 0:
        dev = model.weights[0].device
        ais = model.log_partition("ais", n_runs=ev.ais_runs, n_betas=ev.ais_betas, data=data.train_x,
                                  generator=torch.Generator(device=dev).manual_seed(seed))
        with torch.no_grad():
            bound = float(model.lower_bound(data.test_x.to(dev), log_z=ais.log_z).mean())
        test.update({"log_z_ais": ais.log_z, "lower_bound_ais": bound})
    shape = _grid_shape(data.image_shape)
    if len(data.image_shape) > 1:
        plots.plot_filters(model.weights[0].detach().cpu(), out / "filters.png", shape=shape)
        torch.manual_seed(seed)

        def draw(n, steps, every):  # (T, n, D): the visible states every ``every`` sweeps
            with torch.no_grad():
                states, snaps = model.random_states(n), []
                for _ in range(max(steps // every, 1)):
                    states = model.gibbs(states, every)
                    snaps.append(states[0])
            return torch.stack(snaps)

        _sample_pictures(out, draw, model.sizes[0], shape, ev)
    plots.plot_curves({"train": list(hist)}, out / "curves.png", keys=("loss", "reconstruction_error"))
    return [_single_row(model, secs, test, log)]


def run_cnn(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> list[dict]:
    """Train a CNN classifier (``model: {network: cnn-1}``) with the kept labels; report test
    accuracy, the first filters and the Zeiler-Fergus projections of every conv layer. The run
    folder is a checkpoint for ``layerwise visualize``."""
    from . import deconv

    options = dict(cfg.model)
    options.setdefault("network", cfg.network.cnn or "cnn-1")
    _check_cnn(options["network"] if isinstance(options["network"], str) else None)
    check_options(CNNClassifier, options, "model", skip=("in_shape", "n_classes"))
    seed = cfg.seeds[0]
    data = prepare_data(cfg.data, seed)
    shape = image_shape(data.image_shape, "Task 'cnn'")
    lx, ly, _ = datasets.label_fraction(data.train_x, data.train_y, cfg.data.label_fraction, seed=seed)
    n_classes = int(torch.cat([data.train_y, data.test_y]).max()) + 1
    torch.manual_seed(seed)
    model = CNNClassifier(in_shape=shape, n_classes=n_classes, **options)
    t0 = time.perf_counter()
    hist = fit(model, (lx, ly), checkpoint_dir=out, validation=(data.test_x, data.test_y), progress=progress,
               **_fit_options(cfg.train, cfg.device, seed))
    secs = time.perf_counter() - t0
    acc = model.accuracy(data.test_x, data.test_y)
    log(f"  {describe_cnn(options['network'])}: test accuracy {acc:.4f} ({secs:.1f} s, {len(ly)} labels)")
    model.cpu()
    plots.plot_filters(deconv.conv_layers(model)[0].weight.detach(), out / "filters.png", title="first-layer filters")
    deconv.projection_figure(deconv.DeconvNet(model), data.test_x[:2000], out / "projections.png", top=8,
                             title="strongest activations of 4 maps per layer: projections and input patches")
    plots.plot_curves({"train": list(hist)}, out / "curves.png", keys=("loss", "val_accuracy"))
    return [{"model": describe_cnn(options["network"]), "seconds": secs, "n_labelled": len(ly), "test_accuracy": acc}]


def run_csc(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> list[dict]:
    """Learn convolutional sparse coding filters (``model: {n_filters, kernel_size, lam, ...}``)
    on the training images; report the test objective, reconstruction error and sparsity, and
    draw the filters with a few feature maps and reconstructions."""
    options = dict(cfg.model)
    check_options(ConvSparseCoding, options, "model", skip=("in_channels", "device", "dtype"))
    seed = cfg.seeds[0]
    data = prepare_data(cfg.data, seed)
    shape = image_shape(data.image_shape, "Task 'csc'")
    torch.manual_seed(seed)
    model = ConvSparseCoding(shape[0], **options)
    images = data.train_x.reshape(-1, *shape)
    t0 = time.perf_counter()
    hist = fit(model, images, checkpoint_dir=out, progress=progress, **_fit_options(cfg.train, cfg.device, seed))
    secs = time.perf_counter() - t0
    test = _test_metrics(model, data.test_x[:256].reshape(-1, *shape))
    model.cpu()
    plots.plot_csc(model, data.test_x[:4].reshape(-1, *shape), out / "csc.png")
    plots.plot_curves({"train": list(hist)}, out / "curves.png", keys=("loss", "objective"))
    return [_single_row(model, secs, test, log)]


def run_deconv_demo(out: Path, progress: bool = True, log=print, cnn_epochs: int = 8, csc_epochs: int = 2) -> str:
    """The demo's deconvolutional section: a small CNN on the digits with its Zeiler-Fergus
    projections (``deconv-cnn/``), and convolutional sparse coding filters (``deconv-csc/``).
    Returns a Markdown section for the demo's report."""
    from .config import load_config

    section = ["", "## Deconvolutional networks", ""]
    cnn = load_config("digits_cnn", [f"train.epochs={cnn_epochs}"])
    rows = run_cnn(cnn, _mkdir(out / "deconv-cnn"), progress, log)
    section.append(f"A small CNN ({describe_cnn(cnn.model['network'])}) trained on all digits labels for {cnn_epochs} epochs: test "
                   f"accuracy {rows[0]['test_accuracy'] * 100:.1f} % ({rows[0]['seconds']:.0f} s). Its feature maps "
                   "projected back to pixels by a deconvnet (Zeiler & Fergus 2014), beside the input patches "
                   "that excite them most (`layerwise visualize deconv-cnn` redraws it):")
    section += ["", "![projections](deconv-cnn/projections.png)", ""]
    csc = load_config("digits_csc", [f"train.epochs={csc_epochs}"])
    rows = run_csc(csc, _mkdir(out / "deconv-csc"), progress, log)
    section.append(f"Convolutional sparse coding (Zeiler et al. 2010), {csc.model['n_filters']} filters of "
                   f"{csc.model['kernel_size']}x{csc.model['kernel_size']} learned with FISTA inference: test "
                   f"objective {rows[0]['test_objective']:.3g}, {rows[0]['test_sparsity'] * 100:.1f} % of the "
                   "feature-map entries non-zero:")
    section += ["", "![csc](deconv-csc/csc.png)", ""]
    return "\n".join(section)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_run_dir(name: str, base: str | Path = "runs") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``."""
    return Path(base) / f"{name}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def check_run(cfg: RunConfig) -> None:
    """Check a run's model options against the classes they go to, before any folder or work."""
    if cfg.task == "compare":
        _check_cnn(cfg.network.cnn)
        for options in cfg.variants.values():
            if options is not None:
                _split_variant(cfg, options)
    elif cfg.task == "autoencoder":
        check_options(AutoEncoder, cfg.model, "model", skip=("n_inputs",))
    elif cfg.task == "rbm":
        check_options(RBM, cfg.model, "model", skip=("n_visible", "device", "dtype"))
    elif cfg.task == "cnn":
        network = cfg.model.get("network", cfg.network.cnn)
        _check_cnn(network if isinstance(network, str) else None)
        check_options(CNNClassifier, cfg.model, "model", skip=("in_shape", "n_classes"))
    elif cfg.task in ("sbn", "dbm"):
        cls = SigmoidBeliefNet if cfg.task == "sbn" else DBM
        check_options(cls, {k: v for k, v in cfg.model.items() if k != "hidden_sizes"}, "model",
                      skip=("sizes", "device", "dtype"))
    elif cfg.task == "csc":
        check_options(ConvSparseCoding, cfg.model, "model", skip=("in_channels", "device", "dtype"))
    else:
        check_options(DBN, {k: v for k, v in cfg.model.items() if k != "hidden_sizes"}, "model", skip=("sizes",))


def run(cfg: RunConfig, out: Path, command: str = "", progress: bool = True, log=print) -> Path:
    """Run ``cfg`` into the folder ``out``; return the report's path."""
    check_run(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    t0 = time.perf_counter()
    single = {"autoencoder": run_autoencoder, "rbm": run_rbm, "dbn": run_dbn, "cnn": run_cnn, "csc": run_csc,
              "sbn": run_sbn, "dbm": run_dbm}
    if cfg.task in single:
        rows = single[cfg.task](cfg, out, progress, log)
        _write_results(out, rows)
        path = out / "report.md"
        lines = [f"# {cfg.name}", "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0]),
                 "| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in rows[0].values()) + " |", ""]
        lines += [f"![{p.name}]({p.name})" for p in sorted(out.glob("*.png"))]
        lines += ["", f"Command: `{command}`  ", f"Machine: {machine_summary()}"]
        path.write_text("\n".join(lines) + "\n")
        return path
    rows = run_compare(cfg, out, progress, log)
    return write_report(out, cfg, rows, command, time.perf_counter() - t0)
