"""Inherent structures of Kob-Andersen configurations (LAMMPS energy minimisation).

The inherent structure (IS) of a configuration is the local potential-energy minimum
reached from it by energy minimisation (here LAMMPS ``min_style cg``): thermal
vibrations are removed (the potential energy per particle drops by about 3/2 T).
Particle identities and order are kept; only positions move (median 0.18 sigma for the
default T = 0.64 data).

Measured on the default data (``benchmarks/glassy.py`` split), ridge on expert features
at 0.1 / 0.55 / 1.1 tau_alpha: thermal 0.363 / 0.394 / 0.397, IS alone 0.156 / 0.255 /
0.243, thermal + IS appended 0.372 / 0.400 / 0.413. The network on IS alone (MSE loss,
one seed) gave 0.177 / 0.239 / 0.246, and with two backbones (thermal and IS,
embeddings concatenated) 0.346 / 0.358 / 0.380 vs 0.350 / 0.363 / 0.376 on thermal
alone: at this temperature the IS adds little and alone loses the short-time signal.

Cost: under a second for N = 300, 107 s for 16 configurations of N = 1000 on a heavily
shared core. The IS positions of a cached :class:`~md_orderml.research.glassy.data.GlassyData`
are cached next to it (``ka3d_<key>_is1.npz``); the data file and its key are unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from md_orderml.research.glassy.data import CACHE_DIR, GlassyConfig, GlassyData, _state, ka_interactions, load_or_make

#: Minimiser settings (energy tolerance 0, force tolerance, iterations, evaluations).
MIN_SETTINGS = (0.0, 1e-6, 20000, 200000)
IS_CACHE_VERSION = 1


def inherent_structure(positions: np.ndarray, types: np.ndarray, box_length: float,
                       settings: Tuple[float, float, int, int] = MIN_SETTINGS) -> Tuple[np.ndarray, float, float]:
    """Minimise the KA potential energy from one configuration in a cubic periodic box.

    Args:
        positions: Positions, shape (N, 3), any periodic image.
        types: 0 = A, 1 = B, shape (N,).
        box_length: Cubic box edge.
        settings: ``(etol, ftol, maxiter, maxeval)`` of LAMMPS ``minimize``.

    Returns:
        IS positions wrapped into [0, L), shape (N, 3) (same particle order; the
        periodic image nearest to the input is *not* restored), the potential energy
        per particle before and after.
    """
    from md_orderml.mpi import import_lammps

    n = len(positions)
    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_string(f"""
            units lj
            atom_style atomic
            atom_modify map array sort 0 0
            region box block 0 {box_length} 0 {box_length} 0 {box_length}
            create_box 2 box
        """)
        wrapped = np.mod(np.asarray(positions, np.float64), box_length)
        lmp.create_atoms(n, list(range(1, n + 1)), [int(t) + 1 for t in types], wrapped.ravel().tolist())
        lmp.commands_string(f"""
            {ka_interactions()}
            thermo 0
            run 0
        """)
        before = lmp.get_thermo("pe")
        etol, ftol, maxiter, maxeval = settings
        lmp.commands_string(f"""
            min_style cg
            minimize {etol} {ftol} {int(maxiter)} {int(maxeval)}
        """)
        after = lmp.get_thermo("pe")
        out, _ = _state(lmp)
    finally:
        lmp.close()
    return out, float(before), float(after)


@dataclasses.dataclass
class InherentStructures:
    """IS positions of every configuration of a data set.

    Attributes:
        positions: IS positions, shape (C, N, 3), in [0, L).
        energy: Potential energy per particle before and after minimisation, shape (C, 2).
    """

    positions: np.ndarray
    energy: np.ndarray

    def save(self, path) -> None:
        """Write one ``.npz``."""
        np.savez_compressed(path, positions=self.positions, energy=self.energy,
                            meta=json.dumps({"settings": list(MIN_SETTINGS), "v": IS_CACHE_VERSION}))

    @classmethod
    def load(cls, path) -> "InherentStructures":
        """Read a file written by :meth:`save`."""
        with np.load(path) as z:
            return cls(positions=z["positions"], energy=z["energy"])


def compute_inherent_structures(data: GlassyData) -> InherentStructures:
    """IS of every configuration of ``data`` (no cache)."""
    pos, energy = [], []
    for c in range(data.positions.shape[0]):
        x, e0, e1 = inherent_structure(data.positions[c], data.types, data.box_length)
        pos.append(x)
        energy.append((e0, e1))
    return InherentStructures(np.stack(pos), np.asarray(energy))


def load_or_compute_inherent(data: GlassyData, config: GlassyConfig,
                             cache_dir: Optional[Path] = None) -> InherentStructures:
    """The cached IS of the data set of ``config`` (computed and cached when missing)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    path = cache_dir / f"ka3d_{config.key()}_is{IS_CACHE_VERSION}.npz"
    return load_or_make(path, lambda: compute_inherent_structures(data), InherentStructures.load)
