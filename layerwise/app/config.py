"""Run configurations: typed sections <-> YAML, with ``--section.key=value`` overrides.

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
    preset: hinton-guide       # tasks "rbm", "dbm": a recipe of layerwise.presets (its model, train and
                               # pretrain settings under the file's own, and its schedules)

A ``preset:`` fills the ``model:``, ``train:`` and ``pretrain:`` keys the file does not set from
the recipe (:data:`layerwise.presets.PRESETS`), and the run adds the recipe's schedule callbacks
(momentum, Gibbs steps). The name, the task and every key a schedule moves are checked when the
file loads: a file may not set a scheduled key (``train.momentum`` under ``hinton-guide``) to
another value than the schedule's start.

Every section is checked when the file loads, before any folder is written: the fixed sections
against their dataclasses, the ``model:`` section against the constructor of the task's model
(:data:`MODEL_SECTIONS`), and every variant against its layer learner's constructor
(:data:`LEARNER_SECTIONS`), giving one checked :class:`Variant` per variant. An unknown key
anywhere is an error that names it and lists the valid ones (minGPT's ``merge_from_args`` and
nanoGPT's configurator, without ``exec``); a value of the wrong type names the key, the value
and the expected type. Then every value is checked (:mod:`layerwise.app.validate`: ranges,
choices, the device, safe names, the data set's files), and the file itself is read bounded
and alias-free (:func:`~layerwise.app.validate.read_yaml`).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


from ..models.autoencoder import AutoEncoder
from ..models.classifier import CNNClassifier
from ..models.cnn import CNN_CONFIGS, network_names
from ..models.conv_autoencoder import ConvAutoEncoder
from ..models.csc import ConvSparseCoding
from ..models.dbm import DBM
from ..models.dbn import DBN
from ..models.rbm import RBM
from ..models.sbn import SigmoidBeliefNet
from ..data_source import DEFAULT_BATCH_SIZE
from ..presets import PRESETS
from ..training import fit
from .validate import ConfigError, check_sizes, check_train, check_values, parse_yaml, read_yaml, trial_build

__all__ = ["DataConfig", "TrainConfig", "NetworkConfig", "EvalConfig", "ClassifierConfig", "RunConfig",
           "ModelSection", "Variant", "MODEL_SECTIONS", "LEARNER_SECTIONS", "TASK_NAMES", "LEARNERS",
           "load_config", "config_from_dict", "with_preset", "apply_overrides", "config_to_dict", "check_options",
           "check_cnn", "check_config", "ConfigError", "builtin_configs", "builtin_dir"]


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


_FIT = inspect.signature(fit).parameters


@dataclass
class TrainConfig:
    """:func:`layerwise.fit`'s optimiser settings; every default is fit's own (read from its signature)."""

    epochs: int = _FIT["epochs"].default
    batch_size: int = DEFAULT_BATCH_SIZE  # fit's default for arrays (its signature says None: "from the data")
    optimizer: str = _FIT["optimizer"].default
    lr: float = _FIT["lr"].default
    momentum: float = _FIT["momentum"].default
    weight_decay: float = _FIT["weight_decay"].default
    lr_schedule: str | None = _FIT["lr_schedule"].default

    def fit_kwargs(self, device: str, seed: int) -> dict[str, Any]:
        """The keyword arguments of :func:`layerwise.fit` (and ``pretrain``/``finetune``) for one run.

        Parameters
        ----------
        device : str
            The run's device (``"auto"``, ``"cpu"``, ``"cuda:0"``, ...).
        seed : int
            The run's seed.

        Returns
        -------
        dict
            Every setting of this section, with ``device`` and ``seed``.
        """
        return {**dataclasses.asdict(self), "device": device, "seed": seed}


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


@dataclass(frozen=True)
class Variant:
    """One checked ``variants:`` entry: which layer learner, its options, its pre-training settings.

    Attributes
    ----------
    learner : str
        A key of :data:`LEARNER_SECTIONS`.
    options : dict
        The learner's constructor arguments (an autoencoder's ``init`` defaults to the network's).
    train : TrainConfig
        The ``pretrain`` section, updated by the variant's own ``pretrain:`` entries.
    """

    learner: str
    options: dict
    train: TrainConfig


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
    preset: str | None = None       # a recipe of layerwise.presets (tasks rbm, dbm)
    #: The checked variants (None: no pre-training), filled by :func:`config_from_dict`; not written out.
    learners: dict[str, Variant | None] = field(default_factory=dict, init=False, repr=False, compare=False,
                                                metadata={"derived": True})


# ---- types ------------------------------------------------------------------------------------


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


def _alternatives(annotation: str) -> list[str]:
    """``"int | Sequence[int]"`` -> ["int", "Sequence[int]"] (top-level ``|`` only)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(annotation):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "|" and depth == 0:
            parts.append(annotation[start:i].strip())
            start = i + 1
    return parts + [annotation[start:].strip()]


def _matches(value: Any, annotation: str) -> bool:
    """Whether YAML ``value`` fits one string annotation; unknown annotations accept anything."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    base = re.match(r"[\w.]+", annotation)
    name = base.group(0) if base else annotation
    inner = annotation[len(name) + 1:-1] if annotation.endswith("]") else ""
    if name == "None":
        return value is None
    if name == "bool":
        return isinstance(value, bool)
    if name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "float":
        return number
    if name == "str":
        return isinstance(value, str)
    if name in ("list", "tuple", "Sequence"):
        items = _alternatives(inner.split(",")[0]) if inner else []
        return isinstance(value, list) and all(any(_matches(v, a) for a in items) for v in value if items)
    if name in ("dict", "Mapping"):
        return isinstance(value, dict)
    return True


def _check_annotation(key: str, value: Any, annotation: Any) -> None:
    if annotation is inspect.Parameter.empty or not isinstance(annotation, str):
        return
    options = _alternatives(annotation)
    if not any(_matches(value, a) for a in options):
        raise ConfigError(f"'{key}' must be of type {annotation}; got {value!r} ({type(value).__name__}).")


def _key_list(keys: list, where: str, limit: int = 10) -> str:
    """``'where.a', 'where.b'`` for the first ``limit`` keys, then how many more (a message stays one short line)."""
    shown = ", ".join(repr(f"{where}.{k}" if where else str(k)) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _build(cls, values: Any, where: str):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"'{where}' must be a mapping of keys to values; got {values!r}.")
    valid = {f.name: f for f in fields(cls) if not f.metadata.get("derived")}
    unknown = sorted(set(values) - set(valid), key=str)
    if unknown:
        raise ConfigError(
            f"Unknown key{'s' if len(unknown) > 1 else ''} {_key_list(unknown, where)}; "
            f"valid keys{' of ' + repr(where) if where else ''} are: {', '.join(sorted(valid))}."
        )
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, key)
        else:
            if default is None and value is not None:
                _check_annotation(key, value, valid[name].type)
            kwargs[name] = _check_type(key, value, default)
    return cls(**kwargs)


def check_options(cls, options: dict, where: str, skip: tuple[str, ...] = ()) -> dict:
    """Check ``options`` against ``cls``'s constructor: names and (annotated) types.

    Parameters
    ----------
    cls : type
        The class the options go to.
    options : dict
        Keyword arguments for ``cls``.
    where : str
        The section's name in messages, e.g. ``"model"``.
    skip : tuple of str
        Constructor arguments the run fills in itself (not settable).

    Returns
    -------
    dict
        ``options`` unchanged.

    Raises
    ------
    ConfigError
        For an unknown key (listing the valid ones) or a value of the wrong type.
    """
    params = inspect.signature(cls).parameters
    valid = [p for p in params if p not in ("self",) + skip]
    unknown = sorted(set(options) - set(valid), key=str)
    if unknown:
        raise ConfigError(
            f"Unknown key{'s' if len(unknown) > 1 else ''} {_key_list(unknown, where)} "
            f"for {cls.__name__}; valid keys are: {', '.join(valid)}."
        )
    for name, value in options.items():
        _check_annotation(f"{where}.{name}", value, params[name].annotation)
    return options


def check_cnn(name: str | None) -> None:
    """Refuse a ``network.cnn`` that names no known network (None passes)."""
    if name is not None and name not in network_names():
        raise ConfigError(f"Unknown network {name!r} in network.cnn; the named networks are {', '.join(network_names())}.")


# ---- the model sections of the tasks and the variants -----------------------------------------


@dataclass(frozen=True)
class ModelSection:
    """What a ``model:`` section (or a variant) may hold: the model class's constructor arguments.

    Attributes
    ----------
    cls : type
        The model class.
    skip : tuple of str
        Arguments the run fills in (from the data or the network section).
    hidden_sizes : bool
        The section also takes ``hidden_sizes``, a list of layer sizes above the data (the class
        takes ``sizes`` with the data's width in front).
    """

    cls: type
    skip: tuple[str, ...] = ()
    hidden_sizes: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        """The constructor's arguments without a default that the run does not fill in."""
        params = inspect.signature(self.cls).parameters.values()
        return tuple(p.name for p in params if p.default is inspect.Parameter.empty and p.name not in self.skip
                     and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    def check(self, values: dict, where: str, what: str) -> dict:
        """Check ``values``; return the options for ``cls`` (without ``hidden_sizes``)."""
        options = dict(values)
        if self.hidden_sizes:
            hidden = options.pop("hidden_sizes", None)
            if not isinstance(hidden, list) or not hidden or not all(
                    isinstance(h, int) and not isinstance(h, bool) for h in hidden):
                raise ConfigError(f"{what} needs {where}.hidden_sizes, a list of layer sizes above the data; "
                                  f"got {hidden!r}.")
        missing = [k for k in self.required if k not in options]
        if missing:
            raise ConfigError(f"{what} needs {', '.join(f'{where}.{k}' for k in missing)}.")
        return check_options(self.cls, options, where, skip=self.skip)


_SIZES = ("sizes", "device", "dtype")

#: The ``model:`` section of each single-model task.
MODEL_SECTIONS: dict[str, ModelSection] = {
    "autoencoder": ModelSection(AutoEncoder, skip=("n_inputs",)),
    "rbm": ModelSection(RBM, skip=("n_visible", "device", "dtype")),
    "dbn": ModelSection(DBN, skip=("sizes",), hidden_sizes=True),
    "cnn": ModelSection(CNNClassifier, skip=("in_shape", "n_classes")),
    "csc": ModelSection(ConvSparseCoding, skip=("in_channels", "device", "dtype")),
    "sbn": ModelSection(SigmoidBeliefNet, skip=_SIZES, hidden_sizes=True),
    "dbm": ModelSection(DBM, skip=_SIZES, hidden_sizes=True),
}

#: The values of ``task:``.
TASK_NAMES = ("compare", *MODEL_SECTIONS)

# Keys a variant may not set: the architecture is the network section's, shared with the baseline.
_ARCHITECTURE_KEYS = ("n_inputs", "hidden_sizes", "activation")
# A conv autoencoder's architecture is the CNN's block: these come from network.cnn.
_CONV_KEYS = ("in_shape", "channels", "kernel_size", "pool")

#: What each layer learner of a ``variants:`` entry takes.
LEARNER_SECTIONS: dict[str, ModelSection] = {
    "autoencoder": ModelSection(AutoEncoder, skip=_ARCHITECTURE_KEYS),
    "rbm": ModelSection(RBM, skip=("n_visible", "n_hidden", "device", "dtype")),
    "dbn": ModelSection(DBN, skip=("sizes",)),
    "dbm": ModelSection(DBM, skip=_SIZES),
    "conv_autoencoder": ModelSection(ConvAutoEncoder, skip=_CONV_KEYS),
}
LEARNERS = tuple(LEARNER_SECTIONS)


def _variant(cfg: RunConfig, options: dict) -> Variant:
    where = "variants.<name>"
    if not isinstance(options, dict):
        raise ConfigError(f"A variant must be a mapping of options or null; got {options!r}.")
    options = dict(options)
    kind = options.pop("learner", "autoencoder")
    if kind not in LEARNERS:
        raise ConfigError(f"Unknown layer learner {kind!r}; available: {', '.join(LEARNERS)}.")
    overrides = options.pop("pretrain", None)
    if overrides is not None and not isinstance(overrides, dict):
        raise ConfigError(f"A variant's 'pretrain' entry must be a mapping; got {overrides!r}.")
    train = _build(TrainConfig, {**dataclasses.asdict(cfg.pretrain), **(overrides or {})}, f"{where}.pretrain")
    bad = sorted(set(options) & set(_ARCHITECTURE_KEYS + ("n_visible", "n_hidden", "sizes")))
    if bad:
        raise ConfigError(f"Variant options may not set {', '.join(bad)}: the architecture comes "
                          "from the 'network' section, so that every variant and the baseline share it.")
    cnn = cfg.network.cnn
    if kind == "conv_autoencoder" and cnn is not None and cnn not in CNN_CONFIGS:
        raise ConfigError(f"A conv_autoencoder variant pre-trains the conv blocks of cnn-1, cnn-2 or cnn-tiny; "
                          f"network.cnn is {cnn!r}.")
    if (kind == "conv_autoencoder") != (cnn is not None):
        raise ConfigError("A conv_autoencoder variant pre-trains the blocks of a CNN, and a CNN (network.cnn) "
                          f"can only be pre-trained by conv_autoencoder variants; got learner {kind!r} with "
                          f"network.cnn={cnn!r}.")
    if kind in ("rbm", "dbn", "dbm") and cfg.network.activation != "sigmoid":
        raise ConfigError(f"A {kind} variant gives sigmoid layers (p(h = 1 | v)); set network.activation "
                          f"to 'sigmoid' (it is {cfg.network.activation!r}) so that the baseline matches.")
    if kind == "autoencoder":
        options.setdefault("init", cfg.network.init)
    LEARNER_SECTIONS[kind].check(options, where, f"A {kind} variant")
    return Variant(kind, options, train)


def _trial_fill(kind: str, cfg: RunConfig, learner: bool) -> dict | None:
    """What the run fills in for a model of task (or layer learner) ``kind``, with a tiny data
    width of 4 (:func:`~layerwise.app.validate.trial_build`); None where the data's image shape matters."""
    given = cfg.network.hidden_sizes if learner else cfg.model.get("hidden_sizes")
    hidden = list(given) if isinstance(given, list) else []
    fills = {
        "autoencoder": {"n_inputs": 4, "hidden_sizes": [hidden[0] if hidden else 3],
                        "activation": cfg.network.activation} if learner else {"n_inputs": 4},
        "rbm": {"n_visible": 4, "n_hidden": hidden[0] if hidden else 3} if learner else {"n_visible": 4},
        "dbn": {"sizes": [4, *hidden]},
        "dbm": {"sizes": [4, *hidden]},
        "sbn": {"sizes": [4, *hidden]},
        "csc": {"in_channels": 1},
    }
    return fills.get(kind)


def check_config(cfg: RunConfig) -> None:
    """Check every value (:func:`~layerwise.app.validate.check_values`), the task's model section, every variant.

    Fills ``cfg.learners`` with the checked variants of a ``compare`` run.

    Raises
    ------
    ConfigError
        Naming the bad key or value and what was expected.
    """
    check_values(cfg)
    if cfg.task == "compare":
        check_cnn(cfg.network.cnn)
        cfg.learners = {name: None if options is None else _variant(cfg, options)
                        for name, options in cfg.variants.items()}
        for name, spec in cfg.learners.items():
            if spec is not None:
                check_sizes(f"variants.{name}", spec.options)
                check_train(f"variants.{name}.pretrain", spec.train)
                fill = _trial_fill(spec.learner, cfg, learner=True)
                if fill is not None:
                    trial_build(LEARNER_SECTIONS[spec.learner].cls, fill, spec.options, f"variants.{name}")
        return
    model = dict(cfg.model)
    if cfg.task == "cnn":
        network = model.get("network", cfg.network.cnn)
        check_cnn(network if isinstance(network, str) else None)
    section = MODEL_SECTIONS[cfg.task]
    options = section.check(model, "model", f"Task {cfg.task!r}")
    fill = _trial_fill(cfg.task, cfg, learner=False)
    if fill is not None:
        trial_build(section.cls, fill, options, "model")


# ---- files -----------------------------------------------------------------------------------


def config_from_dict(values: dict, tasks: tuple[str, ...] = TASK_NAMES) -> RunConfig:
    """Build a :class:`RunConfig` from a plain dict, checking every section.

    Parameters
    ----------
    values : dict
        The run file's content.
    tasks : tuple of str
        The tasks accepted here (``layerwise experiment`` takes ``("compare",)``).

    Returns
    -------
    RunConfig
        With ``learners`` holding the checked variants of a ``compare`` run.

    Raises
    ------
    ConfigError
        An unknown key, a value of the wrong type, a missing required key, a task not in ``tasks``.
    """
    if isinstance(values, dict) and isinstance(values.get("task"), str) and values["task"] in TASK_NAMES \
            and values["task"] not in tasks:
        raise ConfigError(f"This command takes 'task: {' | '.join(tasks)}' run files; this one is {values['task']!r}.")
    cfg = _build(RunConfig, with_preset(values), "")
    if cfg.task not in TASK_NAMES:
        raise ConfigError(f"'task' must be one of {', '.join(TASK_NAMES)}; got {cfg.task!r}.")
    if not cfg.seeds:
        raise ConfigError(f"'seeds' must list at least one seed; got {cfg.seeds!r}.")
    check_config(cfg)
    return cfg


def with_preset(values: Any) -> Any:
    """``values`` with the ``model``, ``train`` and ``pretrain`` settings of its ``preset:`` filled in.

    The run file's own keys win over the recipe's; a key that a schedule of the recipe moves
    (``train.momentum``, ``model.k``) may only be given the schedule's starting value.

    Parameters
    ----------
    values : dict
        A run file's content (anything else is returned unchanged, for :func:`config_from_dict`
        to refuse).

    Returns
    -------
    dict
        A new dict (``values`` when it names no preset).

    Raises
    ------
    ConfigError
        An unknown preset, a preset of another task, a scheduled key set to another value.
    """
    if not isinstance(values, dict) or values.get("preset") is None:
        return values
    name = values["preset"]
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"'preset' must be one of {', '.join(PRESETS)}; got {name!r}.")
    preset = PRESETS[name]
    task = values.get("task", RunConfig.task)
    if task != preset.task:
        raise ConfigError(f"Preset {name!r} is a recipe for task {preset.task!r}; this run file's task is {task!r}.")
    out = dict(values)
    scheduled = preset.scheduled()
    for section, settings in (("model", preset.model), ("train", preset.train), ("pretrain", preset.pretrain)):
        given = out.get(section)
        if given is None:
            given = {}
        if not isinstance(given, dict):
            continue  # refused by the section's own check
        for key, value in given.items():
            where = f"{section}.{key}"
            if where in scheduled and key in settings and value != settings[key]:
                raise ConfigError(f"'{where}' is {value!r}, but preset {name!r} schedules it ({scheduled[where]}, "
                                  f"starting at {settings[key]!r}); remove '{where}' or the preset.")
        if settings:
            out[section] = {**settings, **given}
    return out


def config_to_dict(cfg: RunConfig) -> dict:
    """The config as plain data (for writing the resolved config into a run folder; ``preset`` only when set)."""
    values = dataclasses.asdict(cfg)
    for f in fields(cfg):
        if f.metadata.get("derived"):
            del values[f.name]
    if values["preset"] is None:  # a run without a recipe writes the config it always wrote
        del values["preset"]
    return values


def builtin_dir() -> Path:
    """The folder of the run files shipped with the package (``layerwise/configs``)."""
    return Path(__file__).resolve().parent.parent / "configs"


def builtin_configs() -> dict[str, Path]:
    """The run files shipped with the package (``layerwise/configs/*.yaml``), by name."""
    return {p.stem: p for p in sorted(builtin_dir().glob("*.yaml"))}


def load_config(path_or_name: str | Path, overrides: list[str] = (), tasks: tuple[str, ...] = TASK_NAMES) -> RunConfig:
    """Read a run file (a path, or the name of a built-in config), apply overrides, check every section.

    Parameters
    ----------
    path_or_name : str or Path
        A YAML file, or a built-in name such as ``"demo"`` or ``"lecture"``.
    overrides : list of str
        ``"section.key=value"`` strings (``--pretrain.epochs=5`` on the command line); the
        value is parsed as YAML (``5``, ``0.1``, ``[64, 32]``, ``null``).
    tasks : tuple of str
        The tasks accepted (see :func:`config_from_dict`).

    Returns
    -------
    RunConfig
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
    if path.is_dir():
        raise ConfigError(f"'{path}' is a folder; 'layerwise run' takes one run file (a folder of them: "
                          "'layerwise experiment').")
    values = read_yaml(path)
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"'{path}' must hold a mapping at the top level; got {type(values).__name__}.")
    try:
        return config_from_dict(apply_overrides(values, overrides), tasks)
    except ConfigError as exc:
        if tasks != TASK_NAMES and str(exc).startswith("This command takes"):
            raise ConfigError(f"{path}: {exc}") from None
        raise


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Return a copy of ``values`` with ``a.b=c`` overrides applied (values parsed as YAML)."""
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
        node[parts[-1]] = parse_yaml(raw, f"--{key}")
    return out
