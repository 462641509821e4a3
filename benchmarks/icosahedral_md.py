"""LAMMPS generation of the icosahedrally ordered liquids of ``benchmarks/icosahedral_liquids.py``.

The code lives in :mod:`md_orderml.engines.lammps.liquids` (the ``unknown`` rule's
calibration uses the same liquids at other state points); this module re-exports it under
the benchmark's old name. Protocol, potentials and the cache
(``~/.cache/md_orderml/icosahedral``, keyed by the settings) are described there.
"""

from md_orderml.engines.lammps.liquids import (  # noqa: F401
    CACHE_VERSION, DZUGUTOV, TIMESTEP, Run, default_cache_dir, dzugutov, generate, interactions,
    load_or_generate, write_dzugutov_table)
