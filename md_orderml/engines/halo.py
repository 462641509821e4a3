"""Which particles an MPI rank needs as context: those within the receptive field of its own.

Shared by the LAMMPS and HOOMD adapters: :func:`halo_mask` prunes ghost layers,
:func:`gather_halo` gathers every rank's particles and keeps those within reach.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from md_orderml.frame import Box


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


def gather_halo(comm, positions: np.ndarray, types: np.ndarray, box: Box, reach: float,
                periodic: Sequence[bool] = (True, True, True)) -> Tuple[np.ndarray, np.ndarray]:
    """This rank's particles first, then every other rank's particles within ``reach`` of them.

    Collective over ``comm`` (every rank calls it on the same step): all ranks' positions
    and types are all-gathered, then :func:`halo_mask` keeps the others' particles that
    can lie within ``reach`` of an owned one (a superset; the model cuts exactly).

    Args:
        comm: mpi4py communicator of the simulation's ranks; ``None`` (or one rank)
            returns the inputs unchanged.
        positions: Positions of this rank's owned particles, shape (M, 3).
        types: Their types, shape (M,) (any integer type ids; passed through).
        box: The simulation box (whole system).
        reach: Receptive field of the model in length units.
        periodic: Whether each lattice direction is periodic, shape (3,).

    Returns:
        ``(positions (M + K, 3), types (M + K,))``: the owned particles, then the K
        particles of other ranks within reach.
    """
    if comm is None or comm.Get_size() == 1:
        return positions, types
    parts = comm.allgather((np.asarray(positions), np.asarray(types)))
    rank = comm.Get_rank()
    others = [part for r, part in enumerate(parts) if r != rank]
    other_positions = np.concatenate([p for p, _ in others]).reshape(-1, 3)
    other_types = np.concatenate([t for _, t in others])
    if len(positions) == 0:
        return positions, types
    keep = halo_mask(box.fractional(positions), box.fractional(other_positions), reach / box.widths, periodic)
    return np.concatenate([positions, other_positions[keep]]), np.concatenate([types, other_types[keep]])
