"""Deprecated: the face loaders moved to :mod:`layerwise.datasets.faces`.

This module re-exports that module's public names for one release and warns (FutureWarning) when
it is imported. Write ``from layerwise.datasets import faces`` instead.
"""

import warnings

from .datasets.faces import *  # noqa: F401,F403  (the names of its __all__)
from .datasets.faces import NAMES, __all__  # noqa: F401

warnings.warn(
    "layerwise.faces is deprecated and will be removed in the next release; "
    "use layerwise.datasets.faces (the same functions).",
    FutureWarning,
    stacklevel=2,
)
