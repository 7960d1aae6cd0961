"""``layerwise run``: check a run, write its folder and resolved config, run its task."""

from __future__ import annotations

from pathlib import Path

import yaml

from .compare import run_compare
from .config import RunConfig, check_config, config_to_dict
from .tasks import run_single
from .validate import check_out, check_values

__all__ = ["run"]


def run(cfg: RunConfig, out: Path, command: str = "", progress: bool = True, log=print) -> Path:
    """Run ``cfg`` into the folder ``out``; return the report's path.

    The whole config is checked (:func:`~layerwise.app.config.check_config`), and ``out`` must
    not be a file, before the folder is made: a bad run writes nothing.

    Parameters
    ----------
    cfg : RunConfig
        The run.
    out : Path
        The run folder (made if missing); ``config.yaml`` holds the resolved config.
    command : str
        The command line, for the report.
    progress : bool
        Show progress bars.
    log : callable
        Where progress lines go.

    Returns
    -------
    Path
        ``out / "report.md"``.
    """
    if cfg.task != "compare" or cfg.learners.keys() != cfg.variants.keys():
        check_config(cfg)  # (load_config's configs have their checked variants: not again)
    else:
        check_values(cfg)
    out = check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    if cfg.task == "compare":
        return run_compare(cfg, out, command, progress, log)
    return run_single(cfg, out, command, progress, log)
