"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_root():
    """The shared data root: ``$LAYERWISE_DATA`` if set, else ``<repo>/../shared/data``.

    Skips the test when that folder does not exist; tests needing particular files (MNIST, ...)
    should skip themselves when those files are absent.
    """
    env = os.environ.get("LAYERWISE_DATA")
    root = Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not root.is_dir():
        pytest.skip(f"data root {root} not found (set LAYERWISE_DATA)")
    return root
