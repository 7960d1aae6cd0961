"""``layerwise evaluate``: a checkpoint's numbers on a data set, with its run's data transforms.

A run folder keeps its resolved run file, ``config.yaml``; its ``data:`` section says how the
run transformed the images (``scale``, ``divide``, ``binarize``, ``standardize``, ``max_test``).
Those are applied again, so that the numbers are those of the run's own report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..checkpoint import load_model
from ..models.csc import ConvSparseCoding
from .config import DataConfig, RunConfig, load_config
from .data import prepare_data
from .report import describe_model
from .tasks import test_metrics

__all__ = ["run_config_of", "evaluate_checkpoint", "CHECKPOINT_NAMES"]

#: The checkpoint folders a run folder holds; their parent's ``config.yaml`` is the run's.
CHECKPOINT_NAMES = ("last", "best")


def run_config_of(checkpoint: Path) -> RunConfig | None:
    """The run file of the run that wrote ``checkpoint``, or None (a checkpoint outside a run folder).

    Parameters
    ----------
    checkpoint : Path
        A run folder, or a checkpoint folder in it (``last/``, ``best/``).

    Returns
    -------
    RunConfig or None
        From ``config.yaml`` of the run folder.
    """
    checkpoint = Path(checkpoint)
    folders = [checkpoint] + ([checkpoint.parent] if checkpoint.name in CHECKPOINT_NAMES else [])
    for folder in folders:
        if (folder / "config.yaml").is_file():
            return load_config(folder / "config.yaml")
    return None


def _data_config(run: RunConfig | None, name: str | None, root: str | None) -> DataConfig:
    """The run's data section (``name`` another data set with the same transforms), else the default's."""
    if run is None:
        return DataConfig(name=name or "digits", root=root)
    data = run.data
    if name is not None and name != data.name:
        data = DataConfig(name=name, scale=data.scale, divide=data.divide, binarize=data.binarize,
                          standardize=data.standardize)
    return dataclasses.replace(data, root=root) if root is not None else data


def evaluate_checkpoint(checkpoint: Path, data: str | None = None, split: str = "test", root: str | None = None,
                        log=print) -> dict[str, float]:
    """A checkpoint's metrics on a split, with the data transforms of the run that wrote it.

    Parameters
    ----------
    checkpoint : Path
        A checkpoint folder, or a run folder holding ``last/``.
    data : str, optional
        The data set (default: the run's; ``digits`` for a checkpoint outside a run folder). Another
        data set than the run's gets the run's transforms (scale, divide, binarize, standardize).
    split : str
        ``"train"`` or ``"test"``.
    root : str, optional
        The data root (default: the run's).
    log : callable
        Where the lines go.

    Returns
    -------
    dict of str to float
        What the run's report gives as ``test_<name>`` before its task's own estimates (AIS,
        bounds); see :func:`~layerwise.app.tasks.test_metrics`.
    """
    model = load_model(checkpoint)  # first: a bad checkpoint is refused before any data is read
    run = run_config_of(checkpoint)
    dc = _data_config(run, data, root)
    prepared = prepare_data(dc)
    x, y = (prepared.test_x, prepared.test_y) if split == "test" else (prepared.train_x, prepared.train_y)
    if hasattr(model, "validate_data") and not isinstance(model, ConvSparseCoding):  # it takes images
        model.validate_data(x)  # the width and range, with the model's own wording
    with torch.no_grad():
        values = test_metrics(model, x, y, prepared.image_shape)
    how = "" if run is None else " (the run's data transforms)"
    log(f"{describe_model(model)} on {dc.name}/{split}{how}, {len(x)} samples:")
    for k, v in values.items():
        log(f"  {k}: {v:.6g}")
    return values
