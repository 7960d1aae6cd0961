"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(scope="session")
def data_root():
    """The shared data root: ``$LAYERWISE_DATA`` if set, else ``<repo>/../shared/data``.

    Skips the test when that folder does not exist; tests needing particular files (MNIST, ...)
    should skip themselves when those files are absent.
    """
    env = os.environ.get("LAYERWISE_DATA")
    root = Path(env).expanduser().resolve() if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not root.is_dir():
        pytest.skip(f"data root {root} not found (set LAYERWISE_DATA)")
    return root


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread (torch and BLAS) for a module whose tensors are tiny: more threads only
    add synchronisation, which costs seconds per test (minutes in all) on a busy 2-core machine.
    Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``. Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)
