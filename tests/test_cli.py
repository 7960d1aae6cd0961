"""The command line: help, listings, ``python -m layerwise``, sampling a checkpoint."""

import subprocess
import sys

from layerwise import cli


def test_help_on_every_command(capsys):
    for args in ([], ["demo", "--help"], ["run", "--help"], ["datasets", "--help"], ["configs", "--help"], ["evaluate", "--help"]):
        try:
            code = cli.main(args)
        except SystemExit as exc:
            code = exc.code
        assert code == 0
        assert "usage" in capsys.readouterr().out.lower()


def test_datasets_and_configs_listing(capsys, tmp_path):
    assert cli.main(["datasets", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "mnist" in out and str(tmp_path) in out
    assert cli.main(["configs"]) == 0
    assert "demo" in capsys.readouterr().out


def test_console_script_is_installed():
    proc = subprocess.run([sys.executable, "-m", "layerwise.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "demo" in proc.stdout


def test_sample_refuses_models_without_chains(tmp_path, capsys):
    out = tmp_path / "ae"
    assert cli.main(["run", "digits_dae", "--out", str(out), "--no-progress", "--train.epochs=1"]) == 0
    capsys.readouterr()
    assert cli.main(["sample", str(out)]) == 2
    assert "cannot be sampled" in capsys.readouterr().err


def test_python_dash_m_layerwise_is_the_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "layerwise", "configs"], capture_output=True, text=True)
    assert proc.returncode == 0 and "digits_rbm" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "layerwise", "run", "digits_rbm", "--model.n_hidden=abc",
                           "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert proc.returncode == 2 and "'model.n_hidden' must be of type int" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_only_cli_imports_the_application_layer():
    import ast
    from pathlib import Path

    import layerwise

    root = Path(layerwise.__file__).parent
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "app" or rel.name in ("cli.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                assert not target.lstrip(".").startswith("app") and "layerwise.app" not in target, (rel, target)
    for path in (root / "app").glob("*.py"):
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
                assert not inner, f"{path.name}: import inside {fn.name}()"
