"""The package version, in one place that imports nothing.

Modules that need it import it from here, never from the package root
(``from . import __version__`` inside the package ties every module to
``mlpx/__init__.py`` and everything it imports). The build reads the number from
this file too (``[tool.scikit-build.metadata.version]`` in pyproject.toml).
"""

__version__ = "0.1.0"
