"""Packaging: no cap on torch, the optional extras, the Makefile's pin, no matplotlib on import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("module", ["layerwise", "layerwise.sklearn", "layerwise.deconv", "layerwise.plots",
                                    "layerwise.callbacks"])
def test_import_loads_no_matplotlib_nor_pillow(module):
    proc = _python(f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & "
                   "{'matplotlib', 'PIL', 'tensorboard'}))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_drawing_without_matplotlib_names_the_extra(tmp_path):
    # sys.modules[name] = None makes "import name" fail, as on a machine without it
    proc = _python("import sys; sys.modules['matplotlib'] = None\n"
                   "import torch, layerwise as lw\n"
                   "lw.fit  # the library works\n"
                   "try:\n"
                   f"    lw.plots.plot_filters(torch.rand(4, 64), r'{tmp_path / 'f.png'}', shape=(8, 8))\n"
                   "except ImportError as exc:\n"
                   "    print(exc)\n")
    assert proc.returncode == 0, proc.stderr
    assert "needs matplotlib" in proc.stdout and "pip install 'layerwise[plots]'" in proc.stdout
    assert not (tmp_path / "f.png").exists()


def test_reading_images_without_pillow_names_the_extra(tmp_path):
    (tmp_path / "a").mkdir()
    proc = _python("import sys; sys.modules['PIL'] = None\n"
                   "import layerwise as lw\n"
                   "try:\n"
                   f"    lw.datasets.load('image-folder', path=r'{tmp_path}')\n"
                   "except ImportError as exc:\n"
                   "    print(exc)\n")
    assert proc.returncode == 0, proc.stderr
    assert "needs PIL" in proc.stdout and "pip install 'layerwise[faces]'" in proc.stdout


def test_optional_module_passes_on_errors_inside_an_installed_module(tmp_path):
    (tmp_path / "brokenmod.py").write_text("import no_such_module_xyz\n")
    proc = _python(f"import sys; sys.path.insert(0, r'{tmp_path}')\n"
                   "from layerwise._validation import optional_module\n"
                   "try:\n"
                   "    optional_module('brokenmod', 'plots', 'X')\n"
                   "except ImportError as exc:\n"
                   "    print(type(exc).__name__, exc.name)\n")
    assert proc.stdout.strip() == "ModuleNotFoundError no_such_module_xyz"


def test_torch_has_no_upper_cap_and_core_has_no_plotting():
    deps = _project()["dependencies"]
    torch_req = [d for d in deps if re.match(r"torch\b", d)]
    assert torch_req and not re.search(r"<|==|~=", torch_req[0]), torch_req
    names = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in deps}
    assert not names & {"matplotlib", "pillow", "tensorboard"}
    assert {"numpy", "scikit-learn", "safetensors", "pyyaml", "tqdm"} <= names


def test_extras_and_the_test_extra_installs_what_the_suite_needs():
    extras = _project()["optional-dependencies"]
    first = {k: {re.split(r"[<>=!~ \[]", d)[0].lower() for d in v} for k, v in extras.items()}
    assert "matplotlib" in first["plots"] and "pillow" in first["faces"]
    assert "tensorboard" in first["tensorboard"] and first["docs"]
    assert {"pytest", "matplotlib", "pillow"} <= first["test"]


def test_makefile_pins_torch_through_the_constraints_file():
    make = (ROOT / "Makefile").read_text()
    pins = (ROOT / "constraints.txt").read_text().split()
    assert "torch==2.13.0" in pins
    recipe = make[make.index("$(STAMP):"):make.index("touch $(STAMP)")]
    pip_lines = [line for line in recipe.splitlines() if "pip install" in line]
    assert "torch==2.13.0" in pip_lines[0]  # torch first
    assert "-e '.[test]'" in pip_lines[-1]
    assert all("$(PIN)" in line for line in pip_lines) and "PIN    := -c constraints.txt" in make
