"""Everything of md_orderml that talks to HOOMD-blue, in one place.

* :mod:`~md_orderml.engines.hoomd.analyzer`: :class:`OrderMLLabels`, a ``hoomd.write.CustomWriter``
  with per-particle loggables (CPU and GPU, serial or MPI); importing it imports ``hoomd``.
* :mod:`~md_orderml.engines.hoomd.domain`: GPU buffer views, ghost reach, the MPI communicator
  (no HOOMD import).

``from md_orderml.engines.hoomd import OrderMLLabels`` imports HOOMD on first use only.
"""

__all__ = ["GHOST_MODES", "NAMESPACE", "OrderMLLabels"]


def __getattr__(name):
    """Lazy access to the analyzer's names (imports hoomd and torch)."""
    if name in __all__:
        from md_orderml.engines.hoomd import analyzer

        return getattr(analyzer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
