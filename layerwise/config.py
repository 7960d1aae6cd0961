"""Run configurations: dataclasses <-> YAML, with ``--section.key=value`` overrides.

A run file has these sections (every key optional; defaults below):

.. code-block:: yaml

    name: demo                 # names the run folder
    task: compare              # "compare": pre-train + fine-tune each variant, against random init
                               # "autoencoder": train one AutoEncoder unsupervised
                               # "rbm": train one RBM; "dbn": pre-train a DBN, sample, fine-tune
                               # "cnn": train a CNN classifier (then `layerwise visualize` it)
                               # "csc": learn convolutional sparse coding filters (ISTA / FISTA)
                               # "sbn": a sigmoid belief net by wake-sleep; "dbm": a deep Boltzmann machine
    seeds: [0, 1, 2]
    device: auto
    data: {name: digits, label_fraction: 0.1}
    network: {hidden_sizes: [100, 50], activation: sigmoid}
    classifier: {loss: cross_entropy}
    pretrain: {epochs: 30, batch_size: 32, optimizer: adam, lr: 0.003}
    finetune: {epochs: 60, batch_size: 16, optimizer: sgd, lr: 0.1, momentum: 0.9}
    variants:                  # name -> layer-learner options (null: no pre-training)
      random: null
      denoising: {loss: bce, noise: masking, noise_level: 0.3}
      rbm: {learner: rbm, k: 1, pretrain: {optimizer: sgd, lr: 0.05, momentum: 0.5}}
      dbn: {learner: dbn, persistent: true}
      conv: {learner: conv_autoencoder, noise: masking}   # with network.cnn: one conv AE per block
    model: {...}               # tasks "autoencoder", "rbm", "dbn", "cnn", "csc": the model's arguments
    train: {...}               # tasks "autoencoder", "rbm", "cnn", "csc": fit() options
    evaluate: {ais_runs: 100, ais_betas: 10000, samples: 64, sample_steps: 1000}

An unknown key anywhere is an error that names it and lists the valid ones (minGPT's
``merge_from_args`` and nanoGPT's configurator, without ``exec``).
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DataConfig", "TrainConfig", "NetworkConfig", "EvalConfig", "ClassifierConfig", "RunConfig",
           "load_config", "apply_overrides", "config_to_dict", "check_options", "ConfigError",
           "builtin_configs"]


class ConfigError(ValueError):
    """A run file that cannot be used: unknown key, wrong type, missing file."""


@dataclass
class DataConfig:
    name: str = "digits"            # digits | mnist | fashion-mnist | arrays | image-folder
    root: str | None = None         # data root (else $LAYERWISE_DATA, else ~/.cache/layerwise)
    path: str | None = None         # file or folder, for arrays / image-folder
    scale: str | None = "unit"      # "unit": pixels in [0, 1]; null: raw pixel values
    divide: float | None = None     # divide by a constant (the lecture divides raw pixels by 128)
    binarize: float | None = None   # threshold, e.g. 0.5
    standardize: bool = False       # per-feature mean 0, std 1 (fitted on the training split)
    label_fraction: float = 1.0     # fraction of training labels kept per class, in (0, 1]
    max_train: int | None = None    # use only the first N training images (quick runs)
    max_test: int | None = None
    size: list[int] | None = None   # image-folder, utkface, wiki, imdb: [width, height]
    grayscale: bool = True          # image-folder, utkface, wiki, imdb
    options: dict = field(default_factory=dict)   # other loader options, e.g. {adults_only: true, limit: 500}


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: str | None = None


@dataclass
class NetworkConfig:
    hidden_sizes: list[int] = field(default_factory=lambda: [100, 50])
    activation: str = "sigmoid"
    init: str = "xavier"
    cnn: str | None = None          # a named CNN ("cnn-1", "cnn-2", "resnet-18") instead of the fully-connected net


@dataclass
class ClassifierConfig:
    loss: str = "cross_entropy"     # or "bce": one logistic unit per class (the lecture's example)


@dataclass
class EvalConfig:
    ais_runs: int = 0               # > 0: AIS estimate of log Z (RBM, DBN bound) with this many runs
    ais_betas: int = 10000          # intermediate temperatures of AIS
    samples: int = 64               # Gibbs chains drawn for the samples picture
    sample_steps: int = 1000        # Gibbs sweeps per chain
    updown_epochs: int = 0          # task dbn: > 0 fine-tunes a copy by up-down (train section's settings)


@dataclass
class RunConfig:
    name: str = "run"
    task: str = "compare"
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    pretrain: TrainConfig = field(default_factory=TrainConfig)
    finetune: TrainConfig = field(default_factory=TrainConfig)
    variants: dict[str, dict | None] = field(default_factory=lambda: {"random": None, "autoencoder": {}})
    model: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvalConfig = field(default_factory=EvalConfig)


TASKS = ("compare", "autoencoder", "rbm", "dbn", "cnn", "csc", "sbn", "dbm")


def _build(cls, values: Any, where: str):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"'{where}' must be a mapping of keys to values; got {values!r}.")
    valid = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(
            f"Unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(f'{where}.{u}' if where else u) for u in unknown)}; "
            f"valid keys{' of ' + repr(where) if where else ''} are: {', '.join(sorted(valid))}."
        )
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, key)
        else:
            kwargs[name] = _check_type(key, value, default)
    return cls(**kwargs)


def _check_type(key: str, value: Any, default: Any) -> Any:
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, list)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"'{key}' must be of type {type(default).__name__}; got {value!r} ({type(value).__name__}).")
    return value


def config_from_dict(values: dict) -> RunConfig:
    """Build a :class:`RunConfig` from a plain dict, rejecting unknown keys and wrong types."""
    cfg = _build(RunConfig, values, "")
    if cfg.task not in TASKS:
        raise ConfigError(f"'task' must be one of {', '.join(TASKS)}; got {cfg.task!r}.")
    if not cfg.seeds:
        raise ConfigError("'seeds' must list at least one seed.")
    return cfg


def config_to_dict(cfg: RunConfig) -> dict:
    """The config as plain data (for writing the resolved config into a run folder)."""
    return dataclasses.asdict(cfg)


def builtin_configs() -> dict[str, Path]:
    """The run files shipped with the package (``layerwise/configs/*.yaml``), by name."""
    folder = Path(__file__).parent / "configs"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def load_config(path_or_name: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read a run file (a path, or the name of a built-in config) and apply overrides.

    Parameters
    ----------
    path_or_name : str or Path
        A YAML file, or a built-in name such as ``"demo"`` or ``"lecture"``.
    overrides : list of str
        ``"section.key=value"`` strings (``--pretrain.epochs=5`` on the command line); the
        value is parsed as YAML (``5``, ``0.1``, ``[64, 32]``, ``null``).
    """
    path = Path(path_or_name)
    if not path.exists():
        builtins = builtin_configs()
        if str(path_or_name) in builtins:
            path = builtins[str(path_or_name)]
        else:
            raise ConfigError(
                f"No run file '{path_or_name}': not a file, nor a built-in config "
                f"({', '.join(builtins) or 'none'})."
            )
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"'{path}' is not valid YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"'{path}' must hold a mapping at the top level; got {type(values).__name__}.")
    return config_from_dict(apply_overrides(values, overrides))


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Return a copy of ``values`` with ``a.b=c`` overrides applied (values parsed as YAML)."""
    import copy

    out = copy.deepcopy(values)
    for item in overrides:
        item = item[2:] if item.startswith("--") else item
        if "=" not in item:
            raise ConfigError(f"Override {item!r} must look like section.key=value.")
        key, raw = item.split("=", 1)
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {item!r}: '{p}' is not a section.")
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def check_options(cls, options: dict, where: str, skip: tuple[str, ...] = ()) -> dict:
    """Check ``options`` against ``cls``'s constructor arguments; an unknown one is an error listing the valid ones."""
    params = inspect.signature(cls).parameters
    valid = [p for p in params if p not in ("self",) + skip]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(
            f"Unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(f'{where}.{u}') for u in unknown)} "
            f"for {cls.__name__}; valid keys are: {', '.join(valid)}."
        )
    return options
