"""The single-model tasks of ``layerwise run``: one registry, :data:`TASKS`, and one runner.

:func:`run_single` does what every task shares: the data, the seed, the model built from the
checked ``model:`` section, the timing, the row of numbers and ``report.md``. Each :class:`Task`
adds what is its own: how the model trains (with which picture callbacks) and what is measured
on the test split.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from .. import datasets, deconv, partition, plots
from ..callbacks import Curves, Filters, Reconstructions, SamplePictures
from ..checkpoint import save_checkpoint
from ..models.autoencoder import AutoEncoder
from ..models.classifier import CNNClassifier
from ..models.cnn import describe_cnn
from ..models.csc import ConvSparseCoding
from ..models.dbm import DBM
from ..models.dbn import DBN
from ..models.rbm import RBM
from ..models.sbn import SigmoidBeliefNet
from ..models.updown import UpDownDBN
from ..model_summary import summary
from ..presets import get as get_preset
from ..training import fit
from .config import MODEL_SECTIONS, ModelSection, RunConfig
from .data import Prepared, grid_shape, image_shape, n_classes, prepare_data
from .learners import first_weight
from .report import describe_model, write_results, write_single_report

__all__ = ["Task", "TASKS", "run_single", "train_single", "test_metrics", "CSC_TEST_IMAGES"]

#: The csc task measures the first this many test images (sparse inference is costly).
CSC_TEST_IMAGES = 256


@dataclass(frozen=True)
class Task:
    """One single-model task.

    Attributes
    ----------
    section : ModelSection
        What its ``model:`` section takes (checked when the run file loads).
    run : callable
        ``run(cfg, data, options, out, progress, log) -> dict``: build, train and evaluate the
        model (``options``: the model section without ``hidden_sizes``), draw its pictures, and
        return its row of numbers. Called after ``torch.manual_seed(seed)``.
    """

    section: ModelSection
    run: Callable[..., dict]


def run_single(cfg: RunConfig, out: Path, command: str = "", progress: bool = True, log=print) -> Path:
    """Run the single-model task of ``cfg`` into ``out``: ``results.csv``, pictures, ``report.md``.

    Parameters
    ----------
    cfg : RunConfig
        A checked run file whose task is a key of :data:`TASKS`.
    out : Path
        The run folder (it exists).
    command : str
        The command line, for the report.
    progress : bool
        Show progress bars.
    log : callable
        Where the one-line result goes.

    Returns
    -------
    Path
        The report.
    """
    row = train_single(cfg, out, progress, log)
    write_results(out, [row])
    return write_single_report(out, cfg, row, command)


def train_single(cfg: RunConfig, out: Path, progress: bool = True, log=print) -> dict:
    """What every task shares: the data, the seed, the model options; then the task's own run.

    Writes the task's checkpoint and pictures into ``out`` (made if missing); returns its row of numbers.
    """
    task = TASKS[cfg.task]
    options = dict(cfg.model)
    if task.section.hidden_sizes:
        options.pop("hidden_sizes")
    out.mkdir(parents=True, exist_ok=True)
    data = prepare_data(cfg.data, cfg.seeds[0])
    torch.manual_seed(cfg.seeds[0])
    return task.run(cfg, data, options, out, progress, log)


# ---- helpers ----------------------------------------------------------------------------------


def _test_metrics(model, x: torch.Tensor) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        return model.metrics(x.to(next(model.parameters()).device))


def test_metrics(model, x: torch.Tensor, y: torch.Tensor | None, shape: tuple[int, ...]) -> dict[str, float]:
    """The numbers a task's report gives for a trained model on the rows ``x`` (labels ``y``),
    before any task-specific estimate (AIS, bounds): what ``layerwise evaluate`` recomputes.

    Parameters
    ----------
    model : nn.Module
        A model of a single-model task.
    x : Tensor
        Flattened rows, transformed as the run's ``data:`` section says.
    y : Tensor, optional
        Their labels (classifiers only).
    shape : tuple of int
        The shape of one image, ``(H, W)`` or ``(C, H, W)`` (convolutional models).

    Returns
    -------
    dict of str to float
        A classifier: ``accuracy``. Sparse coding: its metrics on the first
        :data:`CSC_TEST_IMAGES` images. A DBN: each RBM's metrics on its input of the mean
        up-pass, as ``layer<i>_<name>``. Any other model: its ``metrics``.
    """
    if hasattr(model, "accuracy"):
        if y is None:
            raise ValueError(f"{type(model).__name__} is a classifier; its evaluation needs labels.")
        model.eval()
        return {"accuracy": model.accuracy(x, y)}
    if isinstance(model, ConvSparseCoding):
        return _test_metrics(model, x[:CSC_TEST_IMAGES].reshape(-1, *image_shape(shape, "Task 'csc'")))
    if isinstance(model, DBN):
        inputs = [x, *model.up(x.to(next(model.parameters()).device))[:-1]]
        return {f"layer{i}_{k}": v for i, (rbm, h) in enumerate(zip(model.rbms, inputs))
                for k, v in _test_metrics(rbm, h).items()}
    return _test_metrics(model, x)


def _single_row(model, secs: float, test: dict, log) -> dict:
    log(f"  {describe_model(model)}: test " + ", ".join(f"{k} {v:.6g}" for k, v in test.items()) + f"  ({secs:.1f} s)")
    size = summary(model)  # the model's size in the run's summary (results.csv, report.md)
    return {"model": describe_model(model), "seconds": secs, **{f"test_{k}": v for k, v in test.items()},
            "parameters": size.total_params, "parameter_bytes": size.param_bytes}


def _is_image(data: Prepared) -> bool:
    return len(data.image_shape) > 1


def _filters(out: Path, data: Prepared, weight: Callable, **options: Any) -> list:
    """The filters.png callback, for image data."""
    return [Filters(out / "filters.png", weight, shape=grid_shape(data.image_shape), **options)] if _is_image(data) else []


def _samples(out: Path, cfg: RunConfig, data: Prepared, draw: Callable, n_visible: int) -> SamplePictures:
    ev = cfg.evaluate
    return SamplePictures(out, draw, n_visible, grid_shape(data.image_shape), ev.samples, ev.sample_steps, cfg.seeds[0])


def _ais_bar(progress: bool | str) -> bool:
    """AIS's bar over the temperatures (drawn only on a terminal) unless training's progress is
    lines or off: a log gets no bar frames."""
    return progress in (True, "auto", "bar")


def _fit(cfg: RunConfig, model, data, out: Path, progress: bool, callbacks: list, **options):
    """fit with the ``train`` section, checkpoints into ``out``, and the schedules of the ``preset``."""
    schedules = get_preset(cfg.preset).callbacks() if cfg.preset is not None else []
    return fit(model, data, checkpoint_dir=out, progress=progress, callbacks=[*callbacks, *schedules],
               **cfg.train.fit_kwargs(cfg.device, cfg.seeds[0]), **options)


# ---- the tasks ----------------------------------------------------------------------------------


def _autoencoder(cfg: RunConfig, data: Prepared, options: dict, out: Path, progress: bool, log) -> dict:
    """One AutoEncoder: test reconstruction error, filters, (noisy inputs and) reconstructions."""
    model = AutoEncoder(data.train_x.shape[1], **options)
    pictures = _filters(out, data, first_weight)
    if _is_image(data):
        pictures.append(Reconstructions(out / "reconstructions.png", data.test_x[:10], grid_shape(data.image_shape)))
    t0 = time.perf_counter()
    _fit(cfg, model, data.train_x, out, progress, [*pictures, Curves(out / "curves.png", ("loss", "val_loss"))],
         validation=data.test_x)
    secs = time.perf_counter() - t0
    return _single_row(model, secs, _test_metrics(model, data.test_x), log)


def _rbm(cfg: RunConfig, data: Prepared, options: dict, out: Path, progress: bool, log) -> dict:
    """One RBM: test reconstruction error and pseudo-likelihood, the AIS log-likelihood when
    ``evaluate.ais_runs > 0``, filters, samples and the chains' evolution."""
    model = RBM(data.train_x.shape[1], **options)
    model.init_visible_bias(data.train_x)
    callbacks = [*_filters(out, data, first_weight),
                 _samples(out, cfg, data, lambda m, n, steps, every: m.sample(n, steps, every=every), model.n_visible),
                 Curves(out / "curves.png", ("loss", "reconstruction_error", "pseudo_log_likelihood"))]
    t0 = time.perf_counter()
    _fit(cfg, model, data.train_x, out, progress, callbacks, validation=data.test_x)
    secs = time.perf_counter() - t0
    test = _test_metrics(model, data.test_x)
    ev = cfg.evaluate
    if ev.ais_runs > 0:
        gen = torch.Generator(device=model.weight.device).manual_seed(cfg.seeds[0])
        ais = partition.ais_log_partition(model, n_runs=ev.ais_runs, n_betas=ev.ais_betas,
                                          data=data.train_x, generator=gen, progress=_ais_bar(progress))
        with torch.no_grad():
            # log Z is at least the proven floor: below it, ll is the proven upper bound -F(v) - floor
            ll = float(model.log_likelihood(data.test_x.to(model.weight.device), log_z=ais).mean())
        # the band on log Z (log Z +- 3 standard errors) moves the log-likelihood the other way
        test.update({"log_z_ais": ais.log_z, "log_likelihood_ais": ll,
                     "log_likelihood_low": ll - (ais.upper - ais.log_z),
                     "log_likelihood_high": ll - (ais.lower - ais.log_z),
                     "log_z_floor": ais.floor if ais.floor is not None else float("nan"),
                     "ais_effective_sample_size": ais.effective_sample_size})
    return _single_row(model, secs, test, log)


def _dbn(cfg: RunConfig, data: Prepared, options: dict, out: Path, progress: bool, log) -> dict:
    """Pre-train a DBN greedily, draw samples, fine-tune it as a classifier with the kept labels;
    the variational lower bound on test log p(v) for two-layer DBNs when ``evaluate.ais_runs > 0``,
    and up-down fine-tuning of a copy when ``evaluate.updown_epochs > 0``."""
    seed, hidden = cfg.seeds[0], cfg.model["hidden_sizes"]
    dbn = DBN([data.train_x.shape[1], *hidden], **options)
    t0 = time.perf_counter()
    dbn.pretrain(data.train_x, progress=progress, **cfg.pretrain.fit_kwargs(cfg.device, seed))
    pre_s = time.perf_counter() - t0
    save_checkpoint(out / "last", dbn)
    device = next(dbn.parameters()).device
    test: dict[str, Any] = {}
    ev = cfg.evaluate
    if ev.ais_runs > 0 and len(hidden) == 2:
        log_z = dbn.rbms[-1].log_partition(method="ais", n_runs=ev.ais_runs, n_betas=ev.ais_betas,
                                           progress=_ais_bar(progress))
        bound = dbn.lower_bound(data.test_x.to(device), log_z=log_z)
        test["lower_bound"] = float(bound.mean())
    if ev.updown_epochs > 0:
        test.update(_updown(dbn, cfg, data, out, progress))
    lx, ly, _ = datasets.label_fraction(data.train_x, data.train_y, cfg.data.label_fraction, seed=seed)
    t1 = time.perf_counter()
    clf = dbn.to_classifier(n_classes(data), loss=cfg.classifier.loss)
    fit(clf, (lx, ly), validation=(data.test_x, data.test_y), progress=progress, desc="fine-tune",
        callbacks=[Curves(out / "curves.png", ("loss", "val_accuracy"), label="fine-tuning")],
        **cfg.finetune.fit_kwargs(cfg.device, seed))
    test["accuracy"] = clf.accuracy(data.test_x, data.test_y)
    for picture in _filters(out, data, lambda m: first_weight(m.rbms[0])):
        picture.draw(dbn)
    _samples(out, cfg, data, lambda m, n, steps, every: m.generate(n, gibbs_steps=steps, every=every),
             dbn.rbms[0].n_visible).draw(dbn)
    row = _single_row(dbn, pre_s, test, log)
    row.update({"pretrain_seconds": pre_s, "finetune_seconds": time.perf_counter() - t1, "n_labelled": len(ly)})
    return row


def _updown(dbn: DBN, cfg: RunConfig, data: Prepared, out: Path, progress: bool) -> dict[str, float]:
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
    snaps = {}
    torch.manual_seed(seed)
    with torch.no_grad():
        snaps["before"] = net.generate(ev.samples, gibbs_steps=ev.sample_steps)
    options = {**cfg.train.fit_kwargs(cfg.device, seed), "epochs": ev.updown_epochs}
    fit(net, data.train_x, progress=progress, desc="up-down", **options)
    after = bound()
    torch.manual_seed(seed)
    with torch.no_grad():
        snaps["after"] = net.generate(ev.samples, gibbs_steps=ev.sample_steps)
    if _is_image(data):
        for name, x in snaps.items():
            plots.plot_samples(x.cpu(), out / f"samples_updown_{name}.png", shape=grid_shape(data.image_shape),
                               title=f"{ev.samples} samples {name} {ev.updown_epochs} epochs of up-down")
    return {"lower_bound_before_updown": before, "lower_bound_after_updown": after}


def _sbn(cfg: RunConfig, data: Prepared, options: dict, out: Path, progress: bool, log) -> dict:
    """A sigmoid belief net by wake-sleep on binary data: the importance-sampled bound on the
    test images (``evaluate.ais_runs`` samples per image, 100 by default), first-layer
    generative filters and ancestral samples."""
    seed = cfg.seeds[0]
    model = SigmoidBeliefNet([data.train_x.shape[1], *cfg.model["hidden_sizes"]], **options)
    model.init_visible_bias(data.train_x)
    pictures = _filters(out, data, lambda m: m.generative_weights[0].T,
                        title="generative filters of the first hidden layer")
    t0 = time.perf_counter()
    _fit(cfg, model, data.train_x, out, progress,
         [*pictures, Curves(out / "curves.png", ("loss", "log_likelihood_bound"))])
    secs = time.perf_counter() - t0
    test = _test_metrics(model, data.test_x)
    k = cfg.evaluate.ais_runs or 100
    gen = torch.Generator(device=data.test_x.device).manual_seed(seed)
    with torch.no_grad():
        test[f"log_likelihood_is_{k}"] = float(model.log_likelihood(data.test_x.to(next(model.parameters()).device),
                                                                     method="is", n_samples=k, generator=gen).mean())
    if _is_image(data):
        torch.manual_seed(seed)
        with torch.no_grad():
            plots.plot_samples(model.sample(cfg.evaluate.samples).cpu(), out / "samples.png",
                               shape=grid_shape(data.image_shape), title=f"{cfg.evaluate.samples} ancestral samples")
    return _single_row(model, secs, test, log)


def _dbm_chains(model: DBM, n: int, steps: int, every: int) -> torch.Tensor:
    """(T, n, D): the visible states of ``n`` chains every ``every`` sweeps."""
    with torch.no_grad():
        states, snaps = model.random_states(n), []
        for _ in range(max(steps // every, 1)):
            states = model.gibbs(states, every)
            snaps.append(states[0])
    return torch.stack(snaps)


def _dbm(cfg: RunConfig, data: Prepared, options: dict, out: Path, progress: bool, log) -> dict:
    """Pre-train a DBM greedily (the ``pretrain`` section, every setting; doubled inputs), then
    train it jointly (``train``): mean-field reconstruction, the lower bound on test log p(v)
    with an AIS log Z when ``evaluate.ais_runs > 0``, filters, samples and the chains' evolution."""
    seed = cfg.seeds[0]
    model = DBM([data.train_x.shape[1], *cfg.model["hidden_sizes"]], **options)
    t0 = time.perf_counter()
    model.pretrain(data.train_x, progress=progress, **cfg.pretrain.fit_kwargs(cfg.device, seed))
    pre_s = time.perf_counter() - t0
    callbacks = _filters(out, data, lambda m: m.weights[0])
    if _is_image(data):
        callbacks.append(_samples(out, cfg, data, _dbm_chains, model.sizes[0]))
    _fit(cfg, model, data.train_x, out, progress, [*callbacks, Curves(out / "curves.png", ("loss", "reconstruction_error"))])
    secs = time.perf_counter() - t0
    test = _test_metrics(model, data.test_x)
    test["pretrain_seconds"] = pre_s
    ev = cfg.evaluate
    if ev.ais_runs > 0:
        dev = model.weights[0].device
        ais = model.log_partition("ais", n_runs=ev.ais_runs, n_betas=ev.ais_betas, data=data.train_x,
                                  generator=torch.Generator(device=dev).manual_seed(seed), progress=_ais_bar(progress))
        with torch.no_grad():
            bound = float(model.lower_bound(data.test_x.to(dev), log_z=ais).mean())  # log Z >= the floor
        test.update({"log_z_ais": ais.log_z, "lower_bound_ais": bound, "log_z_floor": ais.floor,
                     "ais_effective_sample_size": ais.effective_sample_size})
    return _single_row(model, secs, test, log)


def _cnn(cfg: RunConfig, data: Prepared, options: dict, out: Path, progress: bool, log) -> dict:
    """A CNN classifier (``model: {network: cnn-1}``) trained with the kept labels: test accuracy,
    the first filters and the Zeiler-Fergus projections of every conv layer. The run folder is a
    checkpoint for ``layerwise visualize``."""
    seed = cfg.seeds[0]
    options.setdefault("network", cfg.network.cnn or "cnn-1")
    shape = image_shape(data.image_shape, "Task 'cnn'")
    lx, ly, _ = datasets.label_fraction(data.train_x, data.train_y, cfg.data.label_fraction, seed=seed)
    model = CNNClassifier(in_shape=shape, n_classes=n_classes(data), **options)
    pictures = [Filters(out / "filters.png", lambda m: deconv.conv_layers(m)[0].weight, title="first-layer filters"),
                Curves(out / "curves.png", ("loss", "val_accuracy"))]
    t0 = time.perf_counter()
    _fit(cfg, model, (lx, ly), out, progress, pictures, validation=(data.test_x, data.test_y))
    secs = time.perf_counter() - t0
    acc = model.accuracy(data.test_x, data.test_y)
    log(f"  {describe_cnn(options['network'])}: test accuracy {acc:.4f} ({secs:.1f} s, {len(ly)} labels)")
    model.cpu()
    plots.projection_figure(deconv.DeconvNet(model), data.test_x[:2000], out / "projections.png", top=8,
                             title="strongest activations of 4 maps per layer: projections and input patches")
    return {"model": describe_cnn(options["network"]), "seconds": secs, "n_labelled": len(ly), "test_accuracy": acc}


def _csc(cfg: RunConfig, data: Prepared, options: dict, out: Path, progress: bool, log) -> dict:
    """Convolutional sparse coding filters (``model: {n_filters, kernel_size, lam, ...}``): the
    test objective, reconstruction error and sparsity; the filters with a few feature maps and
    reconstructions."""
    shape = image_shape(data.image_shape, "Task 'csc'")
    model = ConvSparseCoding(shape[0], **options)
    t0 = time.perf_counter()
    _fit(cfg, model, data.train_x.reshape(-1, *shape), out, progress, [Curves(out / "curves.png", ("loss", "objective"))])
    secs = time.perf_counter() - t0
    test = test_metrics(model, data.test_x, None, data.image_shape)
    model.cpu()
    plots.plot_csc(model, data.test_x[:4].reshape(-1, *shape), out / "csc.png")
    return _single_row(model, secs, test, log)


#: The single-model tasks of ``layerwise run``, by the ``task:`` name.
TASKS: dict[str, Task] = {
    "autoencoder": Task(MODEL_SECTIONS["autoencoder"], _autoencoder),
    "rbm": Task(MODEL_SECTIONS["rbm"], _rbm),
    "dbn": Task(MODEL_SECTIONS["dbn"], _dbn),
    "cnn": Task(MODEL_SECTIONS["cnn"], _cnn),
    "csc": Task(MODEL_SECTIONS["csc"], _csc),
    "sbn": Task(MODEL_SECTIONS["sbn"], _sbn),
    "dbm": Task(MODEL_SECTIONS["dbm"], _dbm),
}
