"""Everything of md_orderml that talks to LAMMPS, in one place.

* :mod:`~md_orderml.engines.lammps.compute`: :class:`OrderMLFix`, on-the-fly labels in a
  ``lammps`` Python instance (a ``fix external``; serial or under ``mpirun``).
  ``OrderMLCompute`` is its deprecated name (kept for one release).
* :mod:`~md_orderml.engines.lammps.script`: runs an unmodified input script with it attached
  (``md-orderml lammps in.script``, :mod:`~md_orderml.engines.lammps.command`).
* :mod:`~md_orderml.engines.lammps.plugin` and :mod:`~md_orderml.engines.lammps.plugin_install`:
  build, find and load the native ``compute orderml/atom`` (C++ source in ``lammps_plugin/``);
  ``md-orderml build-lammps-plugin`` (:mod:`~md_orderml.engines.lammps.build_plugin_command`).
* :mod:`~md_orderml.engines.lammps.util`: box, communication cutoff, model inputs.
* :mod:`~md_orderml.engines.lammps.samples` and :mod:`~md_orderml.engines.lammps.real_potentials`:
  short in-process LAMMPS runs that make training and benchmark frames.

Importing this package imports neither ``lammps`` nor torch; the names below load on use.
"""

import warnings

__all__ = ["OrderMLFix"]
#: Deprecated names: old name -> new name (warn on use, removed in the next release).
DEPRECATED = {"OrderMLCompute": "OrderMLFix"}


def __getattr__(name):
    """Lazy access to :class:`OrderMLFix` (imports torch) and its deprecated name ``OrderMLCompute``."""
    if name in DEPRECATED:
        warnings.warn(f"md_orderml.engines.lammps.{name} is deprecated; use {DEPRECATED[name]}",
                      DeprecationWarning, stacklevel=2)
        name = DEPRECATED[name]
    if name in __all__:
        from md_orderml.engines.lammps import compute

        return getattr(compute, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
