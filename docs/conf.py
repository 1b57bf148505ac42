"""Sphinx configuration of the mlpx documentation.

Build: ``pip install ".[docs]"`` then ``python -m sphinx -W -b html docs
docs/_build/html``. The API pages are generated from the docstrings
(autosummary + numpydoc) of the installed ``mlpx``.
"""

import mlpx

project = "mlpx"
author = "the mlpx developers"
copyright = "the mlpx developers"
release = version = mlpx.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "generated/*.md"]
templates_path = ["_templates"]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False  # the class pages list their methods themselves
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"mlpx {release}"
html_theme_options = {
    "github_url": "https://github.com/mlpx/mlpx",
    "navigation_with_keys": False,
}
html_static_path = []


def _skip_routing_methods(app, what, name, obj, skip, options):
    """scikit-learn's generated set_{fit,score,...}_request methods: their
    docstrings refer to scikit-learn's own glossary, not this site's."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_routing_methods)
