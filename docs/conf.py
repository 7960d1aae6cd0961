"""Sphinx configuration: ``pip install 'layerwise[docs]'``, then ``sphinx-build docs docs/_build``.

The Markdown pages of this folder (architecture, reliability) through myst-parser, and the API
from the numpydoc docstrings (``api.rst``).
"""

project = "layerwise"
extensions = ["myst_parser", "sphinx.ext.autodoc", "numpydoc"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
numpydoc_show_class_members = False
autodoc_mock_imports = ["matplotlib", "PIL", "tensorboard"]
