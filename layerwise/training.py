"""The one training loop: :func:`fit`.

Every model of layerwise trains through :func:`fit`. A model provides

``training_loss(batch) -> scalar tensor``
    the loss of one batch, averaged over it (for an RBM the surrogate F(v_data) - F(v_model)
    whose gradient is the Boltzmann learning rule);

or overrides ``training_step(batch, optimizer) -> loss`` where its update is not a plain
gradient step (ISTA, wake-sleep, the RBM's closed-form CD update; the loss a tensor the model
does not write to again: fit reads the losses some batches later, :mod:`layerwise.loss_reader`;
a ``training_step`` with a ``with_loss`` keyword is called with ``with_loss=False`` by
``fit(track_loss=False)`` and may then skip the loss and return None), and optionally

``validate_data(x)``
    called once on the whole data set before any work (raise ``ValueError`` for data the
    model cannot take);
``metrics(batch) -> dict``
    run once an epoch, on a fixed monitoring subset and on the validation set, never per batch;
``configure_optimizers(optimizer, lr, momentum, weight_decay) -> torch.optim.Optimizer``
    to replace the default optimiser (weight decay on tensors with ``dim() >= 2`` only);
``config() -> dict``
    constructor arguments, so that checkpoints can rebuild the model (and resume can check
    that the model did not change);
``monitored_metric``
    the history column watched for a divergence warning (``"loss"`` when absent; None for
    none; see :mod:`layerwise.divergence`).

A model that trains otherwise (a DBN, greedily) says how in a ``trained_by`` string, which
``fit``'s error quotes.

The loop owns batching, the progress bar, the per-epoch history, checkpoints and resume (with
the checks of :mod:`layerwise.resume`), the lock on the run folder (:mod:`layerwise.locking`),
the NaN/inf guards and the divergence warning, devices and ``torch.distributed`` (DDP under
``torchrun``, with one random stream per process: :mod:`layerwise.distributed`). Where the
batches come from (arrays, a DataLoader, a stream) is :mod:`layerwise.data_source`'s job.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from . import checkpoint as ckpt
from .amp import GradStep, check_grad_options, grad_options_config
from ._validation import check_bool, check_choice, check_int, check_real, describe
from .data_source import array_batches, as_arrays, open_source
from .distributed import all_reduce_mean, broadcast_flag, broadcast_parameters, init_distributed, seed_rank_stream
from .divergence import DivergenceWarning, warn_if_climbing, warn_if_worse
from .locking import FolderLock
from .loss_reader import LossReader
from .progress import check_progress, make_progress
from .resume import as_json, check_resume, check_resume_mode, restore_trainer_state
from .threads import check_threads, choose_threads, set_intra_op_threads

__all__ = ["fit", "History", "FitState", "Callback", "NonFiniteLossError", "NonFiniteParametersError",
           "DivergenceWarning", "resolve_device", "as_arrays", "all_reduce_mean"]

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "linear", "cosine", "exponential")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class NonFiniteParametersError(NonFiniteLossError):
    """A parameter or buffer became NaN or infinite (checked after every epoch, before its checkpoint)."""


class History(list):
    """Per-epoch records (a list of dicts) with column access and CSV output.

    ``history["loss"]`` is the list of that column; ``history[-1]`` the last record.
    """

    def __getitem__(self, key):
        if isinstance(key, str):
            return [row.get(key, float("nan")) for row in self]
        return super().__getitem__(key)

    @property
    def columns(self) -> list[str]:
        cols: list[str] = []
        for row in self:
            cols.extend(k for k in row if k not in cols)
        return cols

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the history as CSV (atomically) and return the path."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self)
        os.replace(tmp, path)
        return path


class Callback:
    """Hooks called by :func:`fit` on rank 0. Subclass and override what you need.

    Set ``state.stop = True`` in a hook to end training after the current epoch.
    ``on_epoch_start`` is the exception to "rank 0": it runs on every process, before the
    epoch's first batch (after the learning rate is set), because it is where schedules set
    training settings (momentum, Gibbs steps) that every process must share.
    """

    def on_fit_start(self, state: "FitState") -> None:  # pragma: no cover - interface
        pass

    def on_epoch_start(self, state: "FitState") -> None:  # pragma: no cover - interface
        pass

    def on_epoch_end(self, state: "FitState", record: dict) -> None:  # pragma: no cover
        pass

    def on_fit_end(self, state: "FitState") -> None:  # pragma: no cover
        pass


@dataclass
class FitState:
    """What callbacks see: the model, optimiser, epoch, history, device and run folder."""

    model: nn.Module
    optimizer: torch.optim.Optimizer | None
    device: torch.device
    epochs: int
    epoch: int = 0
    history: History = field(default_factory=History)
    checkpoint_dir: Path | None = None
    rank: int = 0
    world_size: int = 1
    stop: bool = False


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when present (the local rank's GPU under torchrun), else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"The 'device' parameter must be 'auto', 'cpu', 'cuda' or 'cuda:N'. Got {device!r} instead.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here; use 'auto' or 'cpu'.")
    return dev


class _LossModule(nn.Module):
    """Lets DistributedDataParallel wrap ``model.training_loss``: DDP syncs through forward."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model.training_loss(batch)


def default_optimizer(model: nn.Module, optimizer: str, lr: float, momentum: float,
                      weight_decay: float) -> torch.optim.Optimizer:
    """Build the named optimiser; weight decay only on tensors with ``dim() >= 2`` (weights, not biases)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [g for g in ({"params": decay, "weight_decay": weight_decay},
                          {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    if not groups:
        raise ValueError(f"{type(model).__name__} has no trainable parameters for the optimiser.")
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.RMSprop(groups, lr=lr, momentum=momentum)


def schedule_factor(schedule: str | Callable[[int], float] | None, epoch: int, epochs: int) -> float:
    """Learning-rate multiplier at the start of ``epoch`` (0-based).

    ``"constant"`` 1; ``"linear"`` decays to 0 at the end; ``"cosine"`` 0.5 (1 + cos(pi e / E));
    ``"exponential"`` 0.95^e; a callable gets the epoch and returns the factor.
    """
    if schedule is None or schedule == "constant":
        return 1.0
    if callable(schedule):
        return float(schedule(epoch))
    if schedule == "linear":
        return 1.0 - epoch / max(epochs, 1)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))
    return 0.95 ** epoch


@torch.no_grad()
def _evaluate(model: nn.Module, batches: Iterable[tuple[Any, int]], prefix: str, with_loss: bool) -> dict[str, float]:
    """Mean training loss (in eval mode) and ``metrics`` over ``(batch, size)`` pairs, weighted by size."""
    was_training = model.training
    model.eval()
    n = 0
    sums: dict[str, float] = {}
    has_metrics = hasattr(model, "metrics")
    can_loss = with_loss and hasattr(model, "training_loss")
    for batch, w in batches:
        n += w
        values: dict[str, float] = {}
        if can_loss:
            values["loss"] = float(model.training_loss(batch))
        if has_metrics:
            values.update({k: float(v) for k, v in model.metrics(batch).items()})
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v * w
    model.train(was_training)
    return {f"{prefix}{k}": v / n for k, v in sums.items()}


def fit(
    model: nn.Module,
    data: Any,
    epochs: int = 10,
    batch_size: int | None = None,
    optimizer: str | torch.optim.Optimizer = "sgd",
    lr: float = 0.01,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    device: str | torch.device = "auto",
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool | str = False,
    validation: Any = None,
    callbacks: Iterable[Callback | Callable] = (),
    *,
    progress: bool | str = True,
    threads: str | int | None = None,
    shuffle: bool | None = None,
    lr_schedule: str | Callable[[int], float] | None = None,
    desc: str | None = None,
    initial_epoch: int | None = None,
    climb_patience: int | None = 5,
    clip_grad_norm: float | None = None,
    precision: str = "32",
    track_loss: bool = True,
    metrics: bool = True,
) -> History:
    """Train ``model`` on ``data``: the one loop every layerwise model goes through.

    Parameters
    ----------
    model : nn.Module
        Provides ``training_loss(batch)`` or ``training_step(batch, optimizer)`` (see the
        module docstring for the whole contract). Moved to ``device``; trained in place.
    data : tensor, array, tuple (X, y), TensorDataset, Dataset, IterableDataset or DataLoader
        A single array gives batches that are tensors; a tuple gives tuples of tensors. A
        ``torch.utils.data`` Dataset or DataLoader streams its batches (tensors, or (x, y) tuples)
        for data larger than memory: see :mod:`layerwise.data_source` for its order, sharding
        under ``torchrun``, monitoring set and resume.
    epochs : int
        Passes over the data (counted from the start of the run, also on resume and with
        ``initial_epoch``). A resumed run may be given more epochs to train further (see
        ``resume``).
    batch_size : int, optional
        Samples per batch (per process under ``torchrun``: the global batch is
        ``batch_size * world_size``). None: 64, or a DataLoader's own (another value than the
        loader's is refused).
    optimizer : {"sgd", "adam", "adamw", "rmsprop"} or torch.optim.Optimizer
        Built over the model's parameters with weight decay on weights only (``dim() >= 2``),
        unless the model has ``configure_optimizers`` or an instance is given.
    lr, momentum, weight_decay : float
        Learning rate (> 0, finite), momentum for SGD/RMSprop in [0, 1), L2 decay (>= 0,
        finite). An optimiser instance's learning rates must be finite and > 0 too.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        ``"auto"`` takes CUDA when present.
    seed : int
        Seeds torch's RNG (noise, Gibbs sampling) and the shuffling, which depends on
        ``seed`` and the epoch only, so that a resumed run sees the same batches. With
        ``initial_epoch`` set, torch's RNG is seeded again at the start of every epoch ``k``
        with ``seed + k``. Under ``torchrun`` rank 0 does exactly this and every other rank
        draws its own stream, seeded from ``(seed, rank, epoch)`` at every epoch
        (:mod:`layerwise.distributed`).
    checkpoint_dir : path-like, optional
        Run folder: ``last/`` (safetensors checkpoint after every epoch, written only when
        every parameter and buffer is finite) and ``history.csv``. Only rank 0 writes, and
        holds an exclusive lock on the folder (``.lock``, with its PID and host) while it runs:
        a second ``fit`` on the folder is refused (:class:`layerwise.locking.FolderInUseError`);
        the lock file of a process that died is taken over with a warning.
    resume : {False, True, "force"}
        Continue from ``checkpoint_dir/last`` when it exists (weights, optimiser, RNG, epoch,
        history), ending with the same weights as an uninterrupted run. ``True`` refuses
        (:class:`layerwise.resume.ResumeMismatchError`, naming each changed key with its old and
        new value) a call whose settings differ from the checkpoint's (model and its
        arguments, data shape, batch size, seed, optimiser and its settings, schedule, ...) and
        a checkpoint without its trainer state; ``epochs`` may change (not below the epochs
        done, and not with a ``"linear"`` or ``"cosine"`` schedule). ``"force"`` continues
        anyway, from the checkpoint's weights with the new settings, warning that the result
        is not that of an uninterrupted run (see :mod:`layerwise.resume`).
    validation : tensor, tuple, TensorDataset, Dataset or DataLoader, optional
        Evaluated once an epoch, whole, on every process: ``val_loss`` and ``val_<metric>``.
    callbacks : list
        :class:`Callback` objects, or callables ``f(state, record)`` run at each epoch end
        (anything else is refused).
        A callback's ``on_epoch_start(state)`` runs on every process at the start of each
        epoch, with ``state.epoch`` the 0-based epoch about to run (schedules set momentum or
        Gibbs steps there, from the epoch alone, so that resume gives the same run).
    progress : {True, False, "auto", "bar", "lines", "off"}
        How to show progress (rank 0 only): ``"auto"`` (True) a tqdm bar with the live loss when
        stderr is a terminal, else one line per epoch (and per 30 s); ``"bar"``, ``"lines"``,
        ``"off"`` (False): see :mod:`layerwise.progress`.
    threads : {"auto"} or int, optional
        Intra-op threads on the CPU (``torch.set_num_threads``, process-global: set for the
        call, the caller's value put back on return). ``"auto"``: 1 for a small model (a batch's
        largest product below :data:`layerwise.threads.WORK_THRESHOLD` multiply-adds), all the
        cores the process may use above it; None (default): ``"auto"``, or the command line's
        ``--threads`` (:func:`layerwise.threads.default_threads`). Recorded in the history
        (``threads``). See :mod:`layerwise.threads`.
    shuffle : bool, optional
        Reshuffle every epoch. None: True, or a DataLoader's own (another value is refused).
    lr_schedule : {"constant", "linear", "cosine", "exponential"} or callable, optional
        Per-epoch learning-rate multiplier (see :func:`schedule_factor`).
    desc : str, optional
        Label of the progress bar.
    initial_epoch : int, optional
        Start the run at this (0-based) epoch, in ``[0, epochs]``, as epoch ``initial_epoch`` of
        a run of ``epochs`` epochs: the same shuffling, ``lr_schedule`` factor and ``epoch``
        numbers in the history. It also turns on per-epoch seeding (torch's RNG seeded with
        ``seed + k`` at the start of epoch ``k``), so that a run can be split into calls that
        carry the model and the optimiser over::

            fit(model, X, epochs=3, initial_epoch=0, optimizer=opt)
            # gives the same weights as
            for e in range(3):
                fit(model, X, epochs=e + 1, initial_epoch=e, optimizer=opt)

        (for schedules that do not depend on ``epochs``: constant, exponential or a callable).
        With an optimiser instance, the ``lr`` of its param groups at the call is the base
        learning rate that ``lr_schedule`` multiplies, and ``fit`` puts it back on return, so
        that setting a group's ``lr`` between calls changes the base learning rate. With
        ``resume=True`` and a checkpoint, the checkpoint's epoch replaces ``initial_epoch``.
        None (the default): torch's RNG is seeded once, at the start of the call.
    climb_patience : int, optional
        Warn (:class:`DivergenceWarning`, once per climb) when the model's
        ``monitored_metric`` (``loss`` unless the model says otherwise) has risen this many
        epochs in a row (5 by default), by at least ``CLIMB_MIN_RISE`` (10 %) of its value
        in all, and at the end of a run of 3 or more epochs that ended that much above its
        first epoch's value (:mod:`layerwise.divergence`); None never warns.
    clip_grad_norm : float, optional
        Clip the global L2 norm of the gradients to this value before each step.
    precision : {"32", "bf16", "fp16"}
        Mixed precision: autocast of the loss (fp16 with a GradScaler). Both options are for
        models trained through ``training_loss`` and refused for the others (see :mod:`layerwise.amp`).
    track_loss : bool
        Record the epoch's mean training loss (default). False: no ``loss`` in the history, the
        losses are never read on the host, and a ``training_step`` that takes ``with_loss``
        skips computing them (an RBM's surrogate loss is about a third of a small batch's
        step); the weights are the same. The NaN/inf guard then checks the parameters after
        every epoch only. The divergence warning watches ``loss`` only where it is recorded.
    metrics : bool
        Evaluate the model's ``metrics`` on the monitoring subset once an epoch (default).
        False: none in the history (validation is still evaluated). The metrics may draw
        random numbers (an RBM's pseudo-log-likelihood): with ``initial_epoch`` (per-epoch
        seeding) the weights are the same either way, otherwise they differ.

    Returns
    -------
    History
        One dict per epoch: ``epoch``, ``loss`` (mean training loss; not with
        ``track_loss=False``), ``lr``, ``seconds``, ``threads`` (the intra-op threads it trained
        with), the model's ``metrics`` on a fixed training subset (a loader's: the epoch's first
        samples; not with ``metrics=False``), and validation entries.

    Raises
    ------
    NonFiniteLossError
        When the loss becomes NaN or infinite, or (:class:`NonFiniteParametersError`) a
        parameter or buffer does after an epoch; the last good checkpoint is left as it was.
    """
    # ---- check everything before any work -------------------------------------------------
    has_step = callable(getattr(model, "training_step", None))
    if not has_step and not callable(getattr(model, "training_loss", None)):
        instead = getattr(model, "trained_by", None)  # e.g. DBN: greedily, by its pretrain()
        raise TypeError(
            f"{type(model).__name__} cannot be trained by layerwise.fit: it needs a "
            "training_loss(batch) method (or training_step(batch, optimizer))."
            + (f" Train a {type(model).__name__} with {instead}." if instead else "")
        )
    epochs = check_int("epochs", epochs, 0)
    lr = check_real("lr", lr, 0.0, math.inf, low_open=True, high_open=True)
    momentum = check_real("momentum", momentum, 0.0, 1.0, high_open=True)
    weight_decay = check_real("weight_decay", weight_decay, 0.0, math.inf, high_open=True)
    seed = check_int("seed", seed)
    if isinstance(optimizer, str):
        check_choice("optimizer", optimizer, OPTIMIZERS)
    elif isinstance(optimizer, torch.optim.Optimizer):
        for i, g in enumerate(optimizer.param_groups):
            check_real(f"optimizer.param_groups[{i}]['lr']", float(g["lr"]), 0.0, math.inf, low_open=True, high_open=True)
    else:
        raise TypeError(f"The 'optimizer' parameter must be one of {OPTIMIZERS} or a torch.optim.Optimizer. Got {optimizer!r} instead.")
    if isinstance(lr_schedule, str):
        check_choice("lr_schedule", lr_schedule, SCHEDULES)
    elif lr_schedule is not None and not callable(lr_schedule):
        raise TypeError(f"The 'lr_schedule' parameter must be one of {SCHEDULES}, a callable or None. "
                        f"Got {describe(lr_schedule)} instead.")
    resume = check_resume_mode(resume)
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise TypeError(f"The 'checkpoint_dir' parameter must be a path (str or os.PathLike) or None. "
                        f"Got {describe(checkpoint_dir)} instead.")
    if checkpoint_dir is not None and Path(checkpoint_dir).exists() and not Path(checkpoint_dir).is_dir():
        raise ValueError(f"The 'checkpoint_dir' parameter must name a folder; '{checkpoint_dir}' is a file.")
    if resume and checkpoint_dir is None:
        raise ValueError(f"resume={resume!r} needs a checkpoint_dir to resume from.")
    if initial_epoch is not None:
        initial_epoch = check_int("initial_epoch", initial_epoch, 0, epochs)
    if climb_patience is not None:
        climb_patience = check_int("climb_patience", climb_patience, 1)
    progress = check_progress(progress)
    threads = check_threads(threads)
    track_loss, metrics = check_bool("track_loss", track_loss), check_bool("metrics", metrics)
    step_options = {} if track_loss or not has_step or not _takes_with_loss(model) else {"with_loss": False}
    shuffle = None if shuffle is None else check_bool("shuffle", shuffle)
    if desc is not None and not isinstance(desc, str):
        raise TypeError(f"The 'desc' parameter must be a str or None. Got {describe(desc)} instead.")
    callbacks = _check_callbacks(callbacks)
    precision, clip_grad_norm = check_grad_options(model, has_step, precision, clip_grad_norm)
    source = open_source(data, model, batch_size, shuffle, seed)  # arrays are checked whole here
    batch_size, shuffle = source.batch_size, source.shuffle
    val_source = open_source(validation, model, None, None, seed, "validation") if validation is not None else None

    # ---- devices, processes, optimiser ----------------------------------------------------
    device = resolve_device(device)
    rank, world = init_distributed(device)
    model_spec = ckpt.model_spec(model)  # before any callback: schedules change settings (k) in training
    model.to(device)
    broadcast_parameters(model)  # every rank starts from rank 0's weights (see layerwise.distributed)
    source.start(rank, world, device)
    if val_source is not None:
        val_source.start(0, 1, device)  # every rank evaluates all of it
    if isinstance(optimizer, torch.optim.Optimizer):
        opt = optimizer
    elif hasattr(model, "configure_optimizers"):
        opt = model.configure_optimizers(optimizer=optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif any(p.requires_grad for p in model.parameters()):
        opt = default_optimizer(model, optimizer, lr, momentum, weight_decay)
    else:
        opt = None
    base_lrs = [g["lr"] for g in opt.param_groups] if opt is not None else []
    _check_lr_fits_dtype(model, base_lrs)
    if isinstance(optimizer, str):
        opt_settings: dict[str, Any] = {"optimizer": optimizer, "lr": lr, "weight_decay": weight_decay,
                                        "momentum": momentum if optimizer in ("sgd", "rmsprop") else None}  # Adam's is unused
    else:  # an instance: its groups' settings at the call are what trains
        opt_settings = {"optimizer": type(optimizer).__name__.lower(), "param_groups": [
            {k: v for k, v in g.items() if k not in ("params", "initial_lr")} for g in optimizer.param_groups]}
    fit_config = as_json({
        "model": model_spec, "data": source.describe(), "epochs": epochs, "batch_size": batch_size,
        **opt_settings, "seed": seed, "seeding": "once" if initial_epoch is None else "per-epoch",
        "shuffle": shuffle, "world_size": world, **grad_options_config(precision, clip_grad_norm),
        **({} if metrics else {"metrics": False}),  # the metrics' draws are part of a run seeded once
        "lr_schedule": lr_schedule if (lr_schedule is None or isinstance(lr_schedule, str)) else "callable"})

    described = source.describe()
    n_threads = choose_threads(threads, model, batch_size, device, described if isinstance(described, list) else None)

    run_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    main = rank == 0
    lock = FolderLock(run_dir).acquire() if main and run_dir is not None else None
    threads_before = set_intra_op_threads(n_threads)  # process-global: put back in the finally below
    bar, bases_set = None, False
    try:
        state = FitState(model=model, optimizer=opt, device=device, epochs=epochs,
                         checkpoint_dir=run_dir, rank=rank, world_size=world)
        torch.manual_seed(seed)
        if initial_epoch is not None:
            state.epoch = initial_epoch
        exact = True
        if resume and main and run_dir is not None:  # under the lock: a killed save's temporaries go
            ckpt.remove_leftovers(run_dir / "last")
        if resume and run_dir is not None and ((run_dir / "last").exists() or (run_dir / ".last.old").exists()):
            saved = ckpt.load_checkpoint(run_dir / "last", map_location=device)
            exact = check_resume(saved, fit_config, resume)
            ckpt.load_state_into(model, saved["model_state"])
            restore_trainer_state(opt, saved, exact)
            state.epoch = int(saved["meta"]["epoch"])
            state.history = History(saved["meta"].get("history", []))
            source.warn_on_resume(state.epoch)
            if exact:
                base_lrs = [g.get("initial_lr", g["lr"]) for g in saved["meta"].get("optimizer", {}).get("param_groups", [])] or base_lrs
        if opt is not None:
            for g, base in zip(opt.param_groups, base_lrs):
                if initial_epoch is None and exact:
                    g.setdefault("initial_lr", base)
                else:  # the base learning rate is the group's lr at the call (put back on return)
                    g["initial_lr"] = base
            bases_set = True

        # DDP syncs gradients through forward(); a model with its own training_step syncs itself.
        step_module: nn.Module = model
        if world > 1 and not has_step and opt is not None:
            from torch.nn.parallel import DistributedDataParallel as DDP

            step_module = DDP(_LossModule(model), device_ids=[device.index] if device.type == "cuda" else None)
        elif not has_step:
            step_module = _LossModule(model)
        grad_step = None if has_step else GradStep.build(step_module, model, opt, device, precision, clip_grad_norm)

        monitored = getattr(model, "monitored_metric", "loss")  # see layerwise.divergence
        n_batches = source.n_batches  # None for a stream without a length
        bar = make_progress(progress, n_batches and n_batches * max(epochs - state.epoch, 0),
                            desc or type(model).__name__, main)
        for cb in callbacks:
            if main and hasattr(cb, "on_fit_start"):
                cb.on_fit_start(state)
        _sync_stop(state, device)

        model.train()
        while state.epoch < epochs and not state.stop:
            epoch = state.epoch
            seed_rank_stream(seed, rank, epoch, per_epoch=initial_epoch is not None)
            factor = schedule_factor(lr_schedule, epoch, epochs)
            if not (math.isfinite(factor) and factor >= 0):
                raise ValueError(f"The 'lr_schedule' gave the factor {factor!r} at epoch {epoch + 1} "
                                 f"(lr_schedule({epoch})); expected a finite float >= 0.")
            if opt is not None:
                for g in opt.param_groups:
                    g["lr"] = g["initial_lr"] * factor
            for cb in callbacks:  # every rank: schedules set what the epoch trains with
                if hasattr(cb, "on_epoch_start"):
                    cb.on_epoch_start(state)
            t0 = time.perf_counter()
            reader = LossReader(lambda b, value: _non_finite(state, epoch, b, value, opt), bar,
                                f"{epoch + 1}/{epochs}")
            for batch, size in source.batches(epoch):
                if has_step:
                    loss = model.training_step(batch, opt, **step_options)
                    if track_loss and not isinstance(loss, torch.Tensor):  # None without the loss
                        loss = torch.tensor(float(loss))
                    elif track_loss and loss.requires_grad:  # a closed-form step's loss has no graph to cut
                        loss = loss.detach()
                elif grad_step is not None:  # clipping or mixed precision (layerwise.amp)
                    loss = grad_step(batch)
                else:
                    opt.zero_grad(set_to_none=True)
                    loss = step_module(batch)
                    loss.backward()
                    opt.step()
                    loss = loss.detach()
                if track_loss:
                    reader.add(loss, size)
                elif bar is not None:
                    bar.update(1)
            record: dict[str, Any] = {"epoch": epoch + 1}
            if track_loss:
                mean_loss = reader.mean()
                if not math.isfinite(mean_loss):
                    _non_finite(state, epoch, None, mean_loss, opt)
            _check_finite_state(state, epoch, opt)  # the epoch's last update came after its last loss
            if track_loss:
                if world > 1:
                    t = torch.tensor([mean_loss], device=device)
                    all_reduce_mean([t])
                    mean_loss = float(t)
                record["loss"] = mean_loss
            record["lr"] = opt.param_groups[0]["lr"] if opt is not None else float("nan")
            if metrics and hasattr(model, "metrics"):
                record.update(_evaluate(model, array_batches(source.monitor(), max(batch_size or 0, 256)), "",
                                        with_loss=False))
            if val_source is not None:
                record.update(_evaluate(model, val_source.evaluation_batches(max(batch_size or 0, 256)), "val_",
                                        with_loss=True))
            record["seconds"] = time.perf_counter() - t0
            record["threads"] = n_threads
            if hasattr(bar, "epoch_end"):  # progress="lines": the epoch's line
                bar.epoch_end(f"{epoch + 1}/{epochs}", record)
            state.history.append(record)
            state.epoch = epoch + 1
            if main:  # callbacks may add entries to the record (an AIS estimate, say) before it is saved
                for cb in callbacks:
                    if hasattr(cb, "on_epoch_end"):
                        cb.on_epoch_end(state, record)
                    elif callable(cb):
                        cb(state, record)
                warn_if_climbing(state.history, monitored, climb_patience, _lr(opt))
            _sync_stop(state, device)
            if main and run_dir is not None:
                if callbacks:  # a callback may have changed the model: check again before writing
                    _check_finite_state(state, epoch, opt)
                ckpt.save_checkpoint(run_dir / "last", model, opt, epoch=state.epoch,
                                     history=state.history, fit_config=fit_config)
                state.history.to_csv(run_dir / "history.csv")
    finally:
        set_intra_op_threads(threads_before)
        if bar is not None:
            bar.close()
        if initial_epoch is not None and bases_set:
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"]
        if lock is not None:
            lock.release()
    if main:
        warn_if_worse(state.history, monitored, climb_patience, _lr(opt))
        for cb in callbacks:
            if hasattr(cb, "on_fit_end"):
                cb.on_fit_end(state)
    model.eval()
    return state.history


def _takes_with_loss(model: nn.Module) -> bool:
    """Whether ``model.training_step`` has a ``with_loss`` keyword (see the module docstring)."""
    try:
        return "with_loss" in inspect.signature(model.training_step).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): the plain contract
        return False


_HOOKS = ("on_fit_start", "on_epoch_start", "on_epoch_end", "on_fit_end")


def _check_callbacks(callbacks: Any) -> list:
    """``callbacks`` as a list, each a :class:`Callback` (or an object with its hooks) or a callable."""
    if callbacks is None:
        return []
    if (isinstance(callbacks, (str, bytes, Callback)) or callable(callbacks)
            or any(hasattr(callbacks, h) for h in _HOOKS) or not isinstance(callbacks, Iterable)):
        raise TypeError("The 'callbacks' parameter must be a list of Callback objects or callables "
                        f"f(state, record). Got {describe(callbacks)} instead.")
    out = list(callbacks)
    for i, cb in enumerate(out):
        if not (callable(cb) or any(hasattr(cb, h) for h in _HOOKS)):
            raise TypeError(f"The 'callbacks[{i}]' parameter must be a layerwise.training.Callback or a "
                            f"callable f(state, record). Got {describe(cb)} ({type(cb).__name__}) instead.")
    return out


def _sync_stop(state: FitState, device: torch.device) -> None:
    """Under DDP, every rank takes rank 0's ``state.stop`` (its callbacks, early stopping say, set it)."""
    if state.world_size > 1:
        state.stop = broadcast_flag(state.stop, device)


def _check_finite_state(state: FitState, epoch: int, opt) -> None:
    """Raise :class:`NonFiniteParametersError` when a floating parameter or buffer holds NaN or inf."""
    tensors = [(k, t) for k, t in state.model.state_dict().items() if t.is_floating_point() and t.numel()]
    if not tensors or bool(torch.stack([torch.isfinite(t).all() for _, t in tensors]).all()):
        return
    bad = [k for k, t in tensors if not bool(torch.isfinite(t).all())]
    shown = ", ".join(f"'{k}'" for k in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    _non_finite(state, epoch, None, None, opt, f"{shown} became NaN or infinite after the updates of")


def _check_lr_fits_dtype(model: nn.Module, lrs: list) -> None:
    """A learning rate at or above the largest number of the parameters' dtype overflows in the update."""
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if dtypes and lrs:
        top = min(torch.finfo(d).max for d in dtypes)
        for lr in lrs:
            check_real("lr", float(lr), 0.0, top, low_open=True, high_open=True)


def _lr(opt) -> float | None:
    return opt.param_groups[0]["lr"] if opt is not None else None


def _non_finite(state: FitState, epoch: int, batch: int | None, loss, opt, what: str | None = None) -> None:
    where = f"epoch {epoch + 1}" + (f", batch {batch + 1}" if batch is not None else "")
    if state.checkpoint_dir is not None and (state.checkpoint_dir / "last").exists():
        kept = f" The last good checkpoint (epoch {epoch}) is kept at '{state.checkpoint_dir / 'last'}'."
    elif state.checkpoint_dir is not None:
        kept = " No checkpoint was written."
    else:
        kept = ""
    lr = _lr(opt)
    error = NonFiniteLossError if what is None else NonFiniteParametersError
    what = f"The training loss became {float(loss)} at" if what is None else what
    raise error(
        f"{what} {where}; stopping.{kept} "
        f"Try a smaller learning rate (now {lr}) or check the data and the model's settings."
    )
