"""Everything of md_orderml that talks to HOOMD-blue, in one place.

* :mod:`~md_orderml.engines.hoomd.analyzer`: :class:`OrderMLWriter`, a ``hoomd.write.CustomWriter``
  with per-particle loggables (CPU and GPU, serial or MPI); importing it imports ``hoomd``.
  ``OrderMLLabels`` is its deprecated name (kept for one release).
* :mod:`~md_orderml.engines.hoomd.domain`: GPU buffer views, ghost reach, the MPI communicator
  (no HOOMD import).

``from md_orderml.engines.hoomd import OrderMLWriter`` imports HOOMD on first use only.
"""

import warnings

__all__ = ["GHOST_MODES", "NAMESPACE", "OrderMLWriter"]
#: Deprecated names: old name -> new name (warn on use, removed in the next release).
DEPRECATED = {"OrderMLLabels": "OrderMLWriter"}


def __getattr__(name):
    """Lazy access to the analyzer's names (imports hoomd and torch) and the deprecated ``OrderMLLabels``."""
    if name in DEPRECATED:
        warnings.warn(f"md_orderml.engines.hoomd.{name} is deprecated; use {DEPRECATED[name]}",
                      DeprecationWarning, stacklevel=2)
        name = DEPRECATED[name]
    if name in __all__:
        from md_orderml.engines.hoomd import analyzer

        return getattr(analyzer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
