"""Engine adapters: move data between a running simulation and the core classifier.

Adapters only copy positions, types and labels in and out; every piece of physics
(length scale, neighbour search, the network) lives in :mod:`md_orderml.analysis`
and the model file, so all engines give the same labels for the same configuration.

* :mod:`md_orderml.engines.lammps`: :class:`~md_orderml.engines.lammps.OrderMLFix`,
  on-the-fly labels in a ``lammps`` Python instance (serial or under ``mpirun``).
* :mod:`md_orderml.engines.lammps.util`: box and communication-cutoff helpers.
* :mod:`md_orderml.engines.lammps.script`: runs an unmodified LAMMPS input script with
  the compute attached (``md-orderml lammps in.script``).
* :mod:`md_orderml.engines.hoomd`: :class:`~md_orderml.engines.hoomd.OrderMLWriter`, a
  HOOMD-blue writer with per-particle loggables (CPU and GPU, serial or MPI).
* :mod:`md_orderml.engines.halo`: which particles a rank needs as context (both engines).

Nothing here is imported by ``import md_orderml``; the engine packages are optional.
"""
