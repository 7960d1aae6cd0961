"""``python -m layerwise ...``: the ``layerwise`` command."""

import sys

from .cli import main

if __name__ == "__main__":  # pragma: no branch
    sys.exit(main())
