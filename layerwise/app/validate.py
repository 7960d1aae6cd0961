"""What a run file must be before anything is written: bounded YAML, safe names, values in range.

* :func:`read_yaml` / :func:`parse_yaml`: a run file is at most :data:`MAX_RUN_FILE_BYTES` and
  is parsed by a safe loader that refuses aliases (``*name``, and so ``<<: *name`` merges), so
  an alias bomb (nested anchors, each level repeating the one below) fails at its first alias
  instead of expanding into billions of nodes;
* :func:`check_name`: a run or variant name becomes part of a file or folder name, so it may
  not hold a path separator, ``..`` or a control character;
* :func:`check_values`: every value of a run whose rule does not depend on the data (ranges,
  choices, the device, the data set's name and options, whether its files are there).

Every error is a :class:`ConfigError` of one line naming the key, the value and what was
expected; :func:`layerwise.app.config.check_config` calls :func:`check_values`, so a run built
by :func:`~layerwise.app.config.load_config` or handed to :func:`~layerwise.app.run.run` is
checked before its folder is made.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from .. import datasets
from .._validation import check_choice, check_int, check_real
from ..functional import ACTIVATIONS
from ..training import OPTIMIZERS, SCHEDULES, resolve_device

__all__ = ["ConfigError", "MAX_RUN_FILE_BYTES", "MAX_DEPTH", "SIZE_KEYS", "read_yaml", "parse_yaml", "check_name", "check_values",
           "check_sizes", "check_train", "check_out", "trial_build"]

#: The largest run file read (bytes); run files are a few hundred bytes.
MAX_RUN_FILE_BYTES = 1 << 20

#: The deepest nesting of lists and mappings read (run files nest three or four levels).
MAX_DEPTH = 50

#: Model and learner options that are counts or sizes: each int in them must be >= 1.
#: (Each is also checked by its model's constructor; here it is checked before the run starts.)
SIZE_KEYS = ("hidden_sizes", "n_hidden", "n_visible", "k", "channels", "kernel_size", "n_filters", "n_chains",
             "n_iter")

_INITS = ("xavier", "gaussian", "torch")  # build_mlp's
_LOSSES = ("cross_entropy", "bce")


class ConfigError(ValueError):
    """A run file that cannot be used: unknown key, wrong type, bad value, missing file."""


# ---- YAML ------------------------------------------------------------------------------------


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing every alias (anchors alone are harmless and kept) and
    nesting deeper than :data:`MAX_DEPTH` (which would exhaust Python's recursion limit)."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        mark = event.start_mark
        where = f"line {mark.line + 1}, column {mark.column + 1} of {self.name}"
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError(f"YAML aliases are not allowed in run files: '*{event.anchor}' at {where}; "
                              "write the values out instead.")
        if self.depth >= MAX_DEPTH:
            raise ConfigError(f"YAML nested deeper than {MAX_DEPTH} levels at {where}; a run file nests a few levels.")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(text: str, where: str = "<string>") -> Any:
    """Parse YAML ``text`` with the safe loader, refusing aliases.

    Parameters
    ----------
    text : str
        The document.
    where : str
        The file (or option) it came from, for messages.

    Returns
    -------
    Any
        Plain data (dicts, lists, strings, numbers, None).

    Raises
    ------
    ConfigError
        For an alias (naming it and its line) or invalid YAML (on one line).
    """
    loader = _NoAliasLoader(text)
    loader.name = where
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError(f"'{where}' is not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def read_yaml(path: str | os.PathLike, limit: int = MAX_RUN_FILE_BYTES) -> Any:
    """Read a run file of at most ``limit`` bytes and parse it with :func:`parse_yaml`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    limit : int
        The largest size accepted, in bytes.

    Returns
    -------
    Any
        The parsed document.

    Raises
    ------
    ConfigError
        A file over ``limit`` bytes, not UTF-8, or not alias-free valid YAML.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        raw = fh.read(limit + 1)
    if len(raw) > limit:
        raise ConfigError(f"Run file '{path}' is larger than {limit:,} bytes; a run file is a few hundred bytes.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Run file '{path}' is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    return parse_yaml(text, str(path))


# ---- names -----------------------------------------------------------------------------------


def check_name(key: str, value: Any) -> str:
    """Refuse a name that could leave the folder it names something in.

    Parameters
    ----------
    key : str
        Where the name comes from (``"name"``, ``"variants"``), for the message.
    value : Any
        The name.

    Returns
    -------
    str
        ``value``: a non-empty string without ``/``, ``\\``, ``..``, NUL or other control
        characters, not ``.``, and not an absolute path.

    Raises
    ------
    ConfigError
        Naming the key, the value and the rule.
    """
    rule = "a non-empty name without path separators ('/', '\\\\'), '..' or control characters"
    if not isinstance(value, str):
        raise ConfigError(f"'{key}' must be {rule}; got {value!r} ({type(value).__name__}).")
    bad = (not value.strip() or value == "." or ".." in value or "/" in value or "\\" in value
           or os.path.isabs(value) or any(ord(c) < 32 or ord(c) == 127 for c in value))
    if bad:
        raise ConfigError(f"'{key}' must be {rule}; got {value!r}.")
    return value


# ---- values ----------------------------------------------------------------------------------


def _rule(check: Callable, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one check of :mod:`layerwise._validation` under the dotted key; its error as a ConfigError."""
    try:
        return check(key, value, *args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def _positive_ints(key: str, value: Any) -> None:
    """Each int of ``value`` (an int or a list of them) >= 1; other types are the type check's."""
    items = value if isinstance(value, list) else [value]
    for i, v in enumerate(items):
        if isinstance(v, int) and not isinstance(v, bool) and v < 1:
            where = f"{key}[{i}]" if isinstance(value, list) else key
            raise ConfigError(f"'{where}' must be an int >= 1 (a count or size); got {v!r} in {key}={value!r}.")


def check_sizes(where: str, options: dict) -> None:
    """The counts and sizes (:data:`SIZE_KEYS`) of a ``model:`` section or a variant: every int >= 1."""
    for key in SIZE_KEYS:
        if key in options:
            _positive_ints(f"{where}.{key}", options[key])


def trial_build(cls: type, fill: dict, options: dict, where: str) -> None:
    """Build ``cls(**fill, **options)`` on the meta device, so that its own argument checks run now.

    Nothing is allocated (a size of 10**9 costs nothing) and no random number is drawn from the
    CPU generator. ``fill`` stands in for what the run takes from the data (tiny sizes); an error
    whose message names an argument of ``options`` becomes a :class:`ConfigError` naming it as
    ``where.<argument>``. Any other error is left for the run to meet: a trial build is not the
    model the run builds.

    Parameters
    ----------
    cls : type
        The model class.
    fill : dict
        The arguments the run fills in from the data.
    options : dict
        The section's arguments.
    where : str
        The section, for the message (``"model"``, ``"variants.dae"``).

    Raises
    ------
    ConfigError
        For a value the constructor refuses (its message, the argument renamed to its key).
    """
    try:
        with torch.device("meta"):
            cls(**fill, **options)
    except (TypeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        found = re.match(r"The '(\w+)((?:\[\w*\])?)' parameter", message)
        if found and found.group(1) in options:
            raise ConfigError(message.replace(f"'{found.group(1)}", f"'{where}.{found.group(1)}", 1)) from None
    except Exception:  # noqa: BLE001 (an operation the meta device lacks: the run will tell)
        pass


def check_train(where: str, train: Any) -> None:
    """A ``pretrain``/``finetune``/``train`` section: the ranges and choices of :func:`layerwise.fit`."""
    _rule(check_int, f"{where}.epochs", train.epochs, 0)
    _rule(check_int, f"{where}.batch_size", train.batch_size, 1)
    _rule(check_choice, f"{where}.optimizer", train.optimizer, OPTIMIZERS)
    _rule(check_real, f"{where}.lr", train.lr, 0.0, low_open=True)
    if not math.isfinite(train.lr):
        raise ConfigError(f"'{where}.lr' must be a finite number > 0; got {train.lr!r}.")
    _rule(check_real, f"{where}.momentum", train.momentum, 0.0, 1.0, high_open=True)
    _rule(check_real, f"{where}.weight_decay", train.weight_decay, 0.0)
    if train.lr_schedule is not None:
        _rule(check_choice, f"{where}.lr_schedule", train.lr_schedule, SCHEDULES)


def _check_data(data: Any) -> None:
    name = data.name.lower().replace("_", "-") if isinstance(data.name, str) else data.name
    _rule(check_choice, "data.name", name, datasets.NAMES)
    spec = datasets.REGISTRY[name]
    _rule(check_real, "data.label_fraction", data.label_fraction, 0.0, 1.0, low_open=True)
    for key in ("max_train", "max_test"):
        if getattr(data, key) is not None:
            _rule(check_int, f"data.{key}", getattr(data, key), 1)
    if data.divide is not None:
        _rule(check_real, "data.divide", data.divide, 0.0, low_open=True)
        if not math.isfinite(data.divide):
            raise ConfigError(f"'data.divide' must be a finite number > 0; got {data.divide!r}.")
    if data.binarize is not None:
        _rule(check_real, "data.binarize", data.binarize)
    if data.scale not in (None, "unit"):
        _rule(check_real, "data.scale", data.scale, 0.0, low_open=True)
    if data.size is not None:
        if len(data.size) != 2:
            raise ConfigError(f"'data.size' must be [width, height]; got {data.size!r}.")
        _positive_ints("data.size", data.size)
    section = {"path": data.path, "size": data.size}
    for key, value in section.items():
        if value is not None and key not in spec.options:
            raise ConfigError(f"'data.{key}' is {value!r}, but data set {name!r} takes no {key}; "
                              f"its options are: {', '.join(spec.options) or 'none'}.")
    unknown = sorted(set(data.options) - set(spec.options), key=str)
    if unknown:
        raise ConfigError(f"Unknown key(s) {', '.join(repr(f'data.options.{u}') for u in unknown)} for data set "
                          f"{name!r}; its options are: {', '.join(spec.options) or 'none'}.")
    if "path" in spec.options:
        if data.path is None:
            raise ConfigError(f"Data set {name!r} needs 'data.path', the file or folder to read; got none.")
        if not Path(data.path).expanduser().exists():
            raise ConfigError(f"'data.path' is {data.path!r}, which does not exist; expected the {name} "
                              f"{'folder' if name == 'image-folder' else 'file'} to read.")
    elif name != "digits":
        found, location = spec.locate(name, datasets.data_root(data.root))
        if not found:
            raise ConfigError(f"Data set {name!r} (data.name) is not found: looked for {location} (data.root "
                              f"{data.root!r}, else ${datasets.ENV_ROOT}, else {datasets.DEFAULT_ROOT}).")


def check_values(cfg: Any) -> None:
    """Check every value of a run whose rule does not depend on the data's content.

    Nothing is read: the data set's files (or ``data.path``) are only looked for.

    Parameters
    ----------
    cfg : RunConfig
        A run whose sections have the right keys and types.

    Raises
    ------
    ConfigError
        One line naming the first bad key, its value and what was expected.
    """
    check_name("name", cfg.name)
    for key, value in (("model", cfg.model), ("variants", cfg.variants), ("data.options", cfg.data.options)):
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' must be a mapping (or left out); got {value!r}.")
    for key in ("standardize", "grayscale"):
        if not isinstance(getattr(cfg.data, key), bool):
            raise ConfigError(f"'data.{key}' must be true or false; got {getattr(cfg.data, key)!r}.")
    if not isinstance(cfg.seeds, list) or not cfg.seeds:
        raise ConfigError(f"'seeds' must be a non-empty list of ints >= 0; got {cfg.seeds!r}.")
    for i, seed in enumerate(cfg.seeds):
        _rule(check_int, f"seeds[{i}]", seed, 0)
    try:
        resolve_device(cfg.device)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    _check_data(cfg.data)
    net = cfg.network
    if not net.hidden_sizes:
        raise ConfigError(f"'network.hidden_sizes' must be a non-empty list of ints >= 1; got {net.hidden_sizes!r}.")
    for i, h in enumerate(net.hidden_sizes):
        _rule(check_int, f"network.hidden_sizes[{i}]", h, 1)
    _rule(check_choice, "network.activation", net.activation, ACTIVATIONS)
    _rule(check_choice, "network.init", net.init, _INITS)
    _rule(check_choice, "classifier.loss", cfg.classifier.loss, _LOSSES)
    for section in ("pretrain", "finetune", "train"):
        check_train(section, getattr(cfg, section))
    ev = cfg.evaluate
    for key, low in (("ais_runs", 0), ("ais_betas", 2), ("samples", 1), ("sample_steps", 1), ("updown_epochs", 0)):
        _rule(check_int, f"evaluate.{key}", getattr(ev, key), low)
    for name in cfg.variants:
        check_name("variants", name)
    check_sizes("model", cfg.model)


def check_out(out: str | os.PathLike, what: str = "--out") -> Path:
    """Refuse an output folder that is an existing file (before anything is written).

    Parameters
    ----------
    out : str or os.PathLike
        The run or experiment folder; it may exist (a rerun) or not.
    what : str
        The option's name, for the message.

    Returns
    -------
    pathlib.Path
        ``out`` as a path.

    Raises
    ------
    ConfigError
        When ``out`` (or a folder above it) is a file.
    """
    out = Path(out)
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                raise ConfigError(f"'{what}' is {str(out)!r}, but {str(p)!r} is a file; expected a folder "
                                  "(existing or to be made).")
            break
    return out
