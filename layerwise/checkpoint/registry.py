"""The model classes a checkpoint may name, and the checks on the constructor arguments it gives.

:func:`layerwise.load_model` builds ``Class(**config)`` from a checkpoint's JSON. A checkpoint may
come from someone else, so the class is looked up in :data:`MODEL_CLASSES` (every model layerwise
can save; nothing else is imported or called), and ``config`` is checked against the class's
constructor before it is called: every key must be a parameter of the constructor, and every value
must be what its annotation expects, out of JSON's types (numbers, strings, booleans, null, lists
and objects). ``device`` and ``dtype`` are the loader's to choose, never the file's.
"""

from __future__ import annotations

import collections.abc as cabc
import importlib
import inspect
import types
import typing
from typing import Any, Mapping

from torch import nn

from .checks import CheckpointError

__all__ = ["MODEL_CLASSES", "MOVED_CLASSES", "LOADER_ARGUMENTS", "model_class", "check_config", "accepts"]

#: Every class :func:`layerwise.load_model` rebuilds, by the dotted name checkpoints store.
MODEL_CLASSES: tuple[str, ...] = (
    "layerwise.models.autoencoder.AutoEncoder",
    "layerwise.models.classifier.CNNClassifier",
    "layerwise.models.conv_autoencoder.ConvAutoEncoder",
    "layerwise.models.csc.ConvSparseCoding",
    "layerwise.models.dbm.DBM",
    "layerwise.models.dbm_parts.ScaledRBM",
    "layerwise.models.dbn.DBN",
    "layerwise.models.rbm.RBM",
    "layerwise.models.sbn.SigmoidBeliefNet",
    "layerwise.models.updown.UpDownDBN",
)

#: Model classes that moved since checkpoints named them: old dotted name -> registered one.
MOVED_CLASSES = {
    "layerwise.models.cnn.CNNClassifier": "layerwise.models.classifier.CNNClassifier",
    "layerwise.models.dbm._ScaledRBM": "layerwise.models.dbm_parts.ScaledRBM",
}

#: Constructor arguments the loader sets (from ``map_location`` and the file's dtypes).
LOADER_ARGUMENTS = ("device", "dtype")

_JSON_SCALARS = (bool, int, float, str, type(None))


def model_class(dotted: Any) -> type[nn.Module]:
    """The registered model class a checkpoint names; anything else is refused before any import.

    Raises
    ------
    CheckpointError
        When ``dotted`` is not one of :data:`MODEL_CLASSES` (or an old name of one); the message
        lists the valid names.
    """
    name = MOVED_CLASSES.get(dotted, dotted) if isinstance(dotted, str) else dotted
    if name not in MODEL_CLASSES:
        raise CheckpointError(
            f"Refusing to import model class {dotted!r} named in the checkpoint: it is not a registered "
            f"layerwise model. Valid names: {', '.join(MODEL_CLASSES)}. For another model, build it "
            "yourself and pass it as model=."
        )
    module, _, attr = name.rpartition(".")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module) and f"{cls.__module__}.{cls.__qualname__}" == name):
        raise CheckpointError(f"Registered model class {name!r} resolves to {cls!r}, not that nn.Module.")
    return cls


def _parameters(cls: type) -> tuple[dict[str, inspect.Parameter], dict[str, Any]]:
    """The constructor's named parameters and their type hints; ``**kwargs`` passed on to a base
    class's constructor (``super().__init__(**kwargs)``) adds that constructor's parameters."""
    params: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        sig = inspect.signature(init)
        try:
            own_hints = typing.get_type_hints(init)
        except (NameError, TypeError):  # an annotation that cannot be resolved: no value may match it
            own_hints = {}
        for name, p in list(sig.parameters.items())[1:]:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in params:
                params[name] = p
                hints[name] = own_hints.get(name, p.annotation)
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            break
    return params, hints


def _describe(hint: Any) -> str:
    """``int | Sequence[int]``: an annotation as the constructor's source writes it."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else _describe(a) for a in typing.get_args(hint))
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value is what an annotation asks for (unknown annotations match nothing)."""
    if hint is Any or hint is inspect.Parameter.empty:
        return _is_json(value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_matches(value, a) for a in args)
    if hint is type(None) or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection) or hint in (list, tuple):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
        return all(_matches(v, args[0] if args else Any) for v in value)
    if origin in (dict, cabc.Mapping) or hint is dict:
        key, val = args if args else (str, Any)
        return isinstance(value, dict) and all(_matches(k, key) and _matches(v, val) for k, v in value.items())
    return False  # a class, a callable, a tensor...: nothing a JSON file can give


def _is_json(value: Any) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _longest(value: Any) -> int:
    """The length of the longest list (or object) in a JSON value, nested ones included."""
    if isinstance(value, (list, dict)):
        items = value.values() if isinstance(value, dict) else value
        return max([len(value), *(_longest(v) for v in items)])
    return 0


def check_config(cls: type, config: Mapping[str, Any], max_items: int | None = None) -> dict[str, Any]:
    """Check a checkpoint's constructor arguments against ``cls``'s signature; return them as a dict.

    ``max_items`` bounds the length of every list in the arguments (layer sizes, say), so that a
    constructor is never asked to build more layers than the file can hold weights for.

    Raises
    ------
    CheckpointError
        For a key the constructor does not take (or one of :data:`LOADER_ARGUMENTS`), a required
        argument missing, or a value of a type its annotation does not allow; the message names
        the key, the value and what was expected.
    """
    params, hints = _parameters(cls)
    name = cls.__name__
    allowed = [k for k in params if k not in LOADER_ARGUMENTS]
    unknown = [k for k in config if k not in allowed]
    if unknown:
        raise CheckpointError(f"The checkpoint's config for {name} has unknown argument(s) {unknown}; "
                              f"{name} takes {allowed}.")
    missing = [k for k in allowed if params[k].default is inspect.Parameter.empty and k not in config]
    if missing:
        raise CheckpointError(f"The checkpoint's config for {name} lacks the required argument(s) {missing}.")
    for key, value in config.items():
        if max_items is not None and _longest(value) > max_items:
            raise CheckpointError(f"The checkpoint's config for {name}: '{key}' holds a list of {_longest(value)} "
                                  f"items, more than the {max_items} that the tensors in the checkpoint allow.")
        if not _matches(value, hints[key]):
            raise CheckpointError(f"The checkpoint's config for {name}: '{key}' must be {_describe(hints[key])}; "
                                  f"got {value!r} ({type(value).__name__}).")
    return dict(config)


def accepts(cls: type, name: str) -> bool:
    """Whether ``cls``'s constructor takes the keyword argument ``name``."""
    return name in _parameters(cls)[0]
