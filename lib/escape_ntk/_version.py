"""The library's version: the one place it is written.

pyproject.toml reads it (``[tool.setuptools.dynamic]``), ``escape_ntk.__version__`` re-exports it, and
CHANGELOG.md has a section for each released value. Bump it together with a new CHANGELOG section.
"""

__version__ = "0.1.0"
