"""Which particles an MPI rank needs as context: those within the receptive field of its own.

Shared by the LAMMPS and HOOMD adapters (pruning ghost layers, or picking particles
out of positions gathered from every rank).
"""

from __future__ import annotations

import numpy as np


def _arc(s: np.ndarray):
    """Shortest interval ``[lo, hi]`` (``hi`` may exceed 1) covering periodic ``s`` in [0, 1)."""
    v = np.sort(s)
    gaps = np.diff(np.append(v, v[0] + 1.0))
    g = int(np.argmax(gaps))
    if g == len(v) - 1:
        return float(v[0]), float(v[-1])
    return float(v[g + 1]), float(v[g] + 1.0)


def halo_mask(s_own: np.ndarray, s_other: np.ndarray, reach: np.ndarray, periodic=(True, True, True)) -> np.ndarray:
    """Which other particles lie within ``reach`` of the owned ones.

    Per lattice direction, the owned particles' range (the shortest periodic arc in a
    periodic direction, the plain range otherwise) is widened by ``reach``; a
    fractional coordinate changes by at most distance / perpendicular width, so with
    ``reach[d] = R / width[d]`` the result is a superset of the particles within
    Euclidean distance ``R`` of some owned particle.

    Args:
        s_own: Fractional coordinates of the owned particles, shape (M, 3), M > 0.
        s_other: Fractional coordinates of the other particles, shape (K, 3).
        reach: Reach in fractional units per lattice direction, shape (3,).
        periodic: Whether each direction wraps modulo 1, shape (3,).

    Returns:
        Mask of the other particles to keep, shape (K,), bool.
    """
    keep = np.ones(len(s_other), dtype=bool)
    for d in range(3):
        if periodic[d]:
            lo, hi = _arc(np.mod(s_own[:, d], 1.0))
            start, span = lo - reach[d], hi - lo + 2.0 * reach[d]
            if span < 1.0:
                keep &= np.mod(s_other[:, d] - start, 1.0) <= span
        else:
            lo, hi = s_own[:, d].min() - reach[d], s_own[:, d].max() + reach[d]
            keep &= (s_other[:, d] >= lo) & (s_other[:, d] <= hi)
    return keep
