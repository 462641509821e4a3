"""Sphinx configuration of md_orderml's API reference (autodoc + napoleon, Google style).

Build: ``sphinx-build -W --keep-going -b html docs docs/_build`` (``tests/unit/test_docs.py``
does this with warnings as errors). The optional engines (HOOMD-blue, LAMMPS, OVITO, MPI)
are mocked, so the reference builds without them.
"""

import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.util.nodes import nested_parse_with_titles

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import md_orderml  # noqa: E402

project = "md_orderml"
author = "md_orderml maintainers"
copyright = "md_orderml maintainers"
release = md_orderml.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "results.md"]
html_theme = "alabaster"
html_static_path = []

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# Optional engines and heavy extras: never needed to read the docstrings.
autodoc_mock_imports = ["hoomd", "lammps", "ovito", "traits", "mpi4py", "freud", "matplotlib", "ase", "spglib", "sklearn"]
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    # Packages re-export names of their modules in __all__; document each object once,
    # in the module that defines it.
    "ignore-module-all": True,
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"


def package_modules(package: str):
    """Dotted names of the modules of ``package`` (its ``.py`` files, not subpackages), sorted.

    Private modules (leading underscore) and ``__main__`` are left out.
    """
    folder = ROOT.joinpath(*package.split("."))
    return [f"{package}.{path.stem}" for path in sorted(folder.glob("*.py")) if not path.stem.startswith("_")]


class AutomodulesIn(Directive):
    """``.. automodules-in:: PACKAGE``: the package's docstring, then every module of it, one section each.

    Modules are found on disk, so a module added to (or removed from) the package is
    documented (or dropped) without editing these pages. Options: ``:skip:`` dotted names
    documented elsewhere; ``:heading:`` the underline character of the module sections
    (default ``-``); ``:no-package:`` leaves out the package's own docstring.
    """

    has_content = False
    required_arguments = 1
    option_spec = {"skip": directives.unchanged, "heading": directives.single_char_or_unicode,
                   "no-package": directives.flag}

    def run(self):
        package = self.arguments[0]
        skip = set((self.options.get("skip") or "").split())
        underline = self.options.get("heading", "-")
        lines = []
        if "no-package" not in self.options:
            lines += [f".. automodule:: {package}", ""]
        for name in package_modules(package):
            if name in skip:
                continue
            title = f"``{name}``"
            lines += [title, underline * len(title), "", f".. automodule:: {name}", ""]
        node = nodes.Element()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=f"automodules-in {package}"), node)
        return node.children


def setup(app):
    app.add_directive("automodules-in", AutomodulesIn)
