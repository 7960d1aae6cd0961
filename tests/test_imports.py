"""The package's import rules (docs/architecture.md), read from the source with ``ast``.

1. Imports point down: every module belongs to a layer, and imports only modules of its own layer
   or a lower one. The layers, from the bottom:

   ===  =========================================================================================
   0    ``_validation``, ``_files``
   1    ``functional``, ``checkpoint``, ``plots``, ``datasets`` (+ the deprecated ``faces`` shim),
        ``movies``, ``locking``, ``model_summary``
   2    ``units``, ``partition``, ``likelihood`` (imports partition), ``sandwich`` (imports both),
        ``training``, ``optim``, ``resume``, ``divergence``, ``amp``, ``data_source``, ``distributed``,
        ``loss_reader``, ``threads``, ``progress`` (the last eight imported by training)
   3    ``pretraining``, ``callbacks``, ``presets``, ``loggers``, ``stopping``
   4    ``models``
   5    ``deconv`` (the public facade of the conv models), ``sklearn``
   6    ``app``
   7    ``cli``, ``__main__``, the package's ``__init__``
   ===  =========================================================================================

2. No cycle between modules.
3. No package module is imported inside a function, except in ``cli.py`` (start-up time).
4. No private name (``_x``) is taken from another module, by import or by attribute.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import layerwise

ROOT = Path(layerwise.__file__).resolve().parent
PACKAGE = "layerwise"

LAYERS = {
    "_validation": 0,
    "_files": 0,
    "functional": 1, "checkpoint": 1, "plots": 1, "datasets": 1, "movies": 1, "locking": 1,
    "faces": 1,  # deprecated shim of datasets.faces
    "model_summary": 1,
    "units": 2, "partition": 2, "likelihood": 2, "sandwich": 2, "training": 2, "optim": 2, "resume": 2, "divergence": 2,
    "amp": 2, "data_source": 2, "distributed": 2, "loss_reader": 2, "threads": 2, "progress": 2,  # imported by training
    "pretraining": 3, "callbacks": 3, "presets": 3, "loggers": 3, "stopping": 3,
    "models": 4,
    "deconv": 5, "sklearn": 5,
    "app": 6,
    "cli": 7, "__main__": 7, "": 7,
}
LAZY_IMPORTS_ALLOWED = {"layerwise.cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([PACKAGE, *parts])] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[tuple[str, list[str]]]:
    """``[(target module, imported names)]`` for the package's own modules (others dropped)."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name == PACKAGE or a.name.startswith(PACKAGE + ".")]
    if node.level:
        base = module.split(".") if _is_package(module) else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
        return []
    out = []
    names = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in MODULES:  # ``from . import functional``: the submodule itself
            out.append((sub, []))
        else:
            names.append(alias.name)
    if names or not out:
        out.append((target, names))
    return out


def _imports(module: str):
    """Yield ``(target, names, node, inside_function)`` for every import of a package module."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))

    def walk(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target, names in _resolve(module, child):
                    yield target, names, child, in_function
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # imports for type hints only
            yield from walk(child, inner)

    yield from walk(tree, False)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _layer(module: str) -> int:
    parts = module.split(".")[1:]
    top = parts[0] if parts else ""
    if top not in LAYERS:
        raise AssertionError(f"{module} belongs to no layer: add '{top}' to LAYERS here and to docs/architecture.md")
    return LAYERS[top]


def _owner(target: str) -> str:
    """The module whose code ``target`` names (a package's own ``__init__`` for the package)."""
    while target not in MODULES:
        target = target.rpartition(".")[0]
    return target


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    mine = _layer(module)
    upward = sorted({f"{_owner(t)} (layer {_layer(t)})" for t, _, _, _ in _imports(module) if _layer(t) > mine})
    assert not upward, f"{module} (layer {mine}) imports upwards: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_package_import_inside_a_function(module):
    if module in LAZY_IMPORTS_ALLOWED:
        return
    lazy = sorted({f"line {n.lineno}: {t}" for t, _, n, inside in _imports(module) if inside})
    assert not lazy, f"{module} imports package modules inside functions: {lazy}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_from_another_module(module):
    taken = []
    aliases = {}
    for target, names, node, _ in _imports(module):
        owner = _owner(target)
        if owner == module:
            continue
        taken += [f"{owner}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
        for alias in node.names:
            if f"{target}.{alias.name}" in MODULES or (isinstance(node, ast.Import) and alias.name == target):
                aliases[alias.asname or alias.name.split(".")[0]] = f"{target}.{alias.name}" \
                    if isinstance(node, ast.ImportFrom) else target
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr.startswith("_") and not node.attr.startswith("__"):
                taken.append(f"{aliases[node.value.id]}.{node.attr}")
    assert not taken, f"{module} takes private names of other modules: {sorted(set(taken))}"


def test_no_import_cycle():
    graph = {m: sorted({_owner(t) for t, _, _, inside in _imports(m) if not inside} - {m}) for m in MODULES}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    for m in graph:
        graph[m] = [t for t in graph[m] if not t.startswith(m + ".")]
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in graph[m]:
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_rules_can_fail(tmp_path, monkeypatch):
    """The checks above see an upward import, a lazy import and a private name when there is one."""
    src = tmp_path / "probe.py"
    src.write_text("from .cli import main\n\ndef f():\n    from .training import _batch\n")
    monkeypatch.setitem(MODULES, "layerwise.probe", src)
    monkeypatch.setitem(LAYERS, "probe", 2)
    found = list(_imports("layerwise.probe"))
    assert [(t, inside) for t, _, _, inside in found] == [("layerwise.cli", False), ("layerwise.training", True)]
    with pytest.raises(AssertionError, match="imports upwards"):
        test_imports_point_down("layerwise.probe")
    with pytest.raises(AssertionError, match="inside functions"):
        test_no_package_import_inside_a_function("layerwise.probe")
    with pytest.raises(AssertionError, match="_batch"):
        test_no_private_name_from_another_module("layerwise.probe")
