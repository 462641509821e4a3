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


def reach_unit(model, positions: np.ndarray, cell: np.ndarray, pbc, length_scale: float, comm=None) -> float:
    """The length by which a model's dimensionless receptive field and cutoff are multiplied, for what ranks hold.

    Global-unit model files measure lengths in ``length_scale`` ((V/N)^(1/3) of the whole
    system): that is returned as it is. Local-unit files (:mod:`md_orderml.local_scale`)
    measure each particle in its own unit; their exported ``ghost_reach`` gives the reach of
    the held configuration, and the unit returned is that reach over the receptive field,
    the maximum over the ranks of ``comm``. Called on owned particles only with ``pbc``
    all False (a rank's view), particles at a domain face see fewer neighbours: their unit
    can only grow there, so the estimate errs towards more ghosts, never fewer.

    Args:
        model: A :class:`~md_orderml.model_file.ModelFile`.
        positions: Particles this rank holds, shape (N, 3).
        cell: Lattice vectors as rows, shape (3, 3).
        pbc: Periodic flags of the call, shape (3,).
        length_scale: ``(V / N) ** (1 / 3)`` of the whole system (the global unit, a hint for local files).
        comm: mpi4py communicator (collective when given), or None.

    Returns:
        The unit, in the units of ``positions``; identical on every rank.
    """
    unit = float(length_scale)
    if model.length_unit == "local":
        import torch

        with torch.inference_mode():
            reach = model.module.ghost_reach(torch.as_tensor(np.asarray(positions, dtype=np.float64)),
                                             torch.as_tensor(np.asarray(cell, dtype=np.float64)),
                                             torch.as_tensor(np.asarray(pbc, dtype=bool)), unit)
        unit = float(reach) / float(model.module.receptive_field()) if len(positions) else 0.0
        if comm is not None:
            unit = comm.allreduce(unit, op=_mpi_max())
    return unit


def width_check_unit(model, positions: np.ndarray, box, pbc, length_scale: float) -> float:
    """The unit a serial engine's box-width check multiplies the cutoff by (one rank holds every particle).

    :func:`reach_unit` of the periodic box, except that a local-unit model in a fully periodic
    box wide enough by :func:`md_orderml.local_scale.width_check_bound` gets that bound: the
    check passes either way, and the local scales are not computed twice (the model call
    computes them). Only for the check: size ghosts and halos with :func:`reach_unit`.

    Args:
        model: A :class:`~md_orderml.model_file.ModelFile`.
        positions: Every particle, shape (N, 3).
        box: The :class:`~md_orderml.frame.Box`.
        pbc: Periodic flags, shape (3,).
        length_scale: ``(V / N) ** (1 / 3)`` of the system.

    Returns:
        The unit, in the units of ``positions``.
    """
    if model.length_unit == "local" and all(bool(p) for p in pbc) and len(positions):
        from md_orderml.local_scale import width_check_bound

        bound = width_check_bound(box.volume, len(positions), box.widths.tolist(), model.cutoff,
                                  model.metadata.get("local_length_scale", {}))
        if bound > 0.0:
            return bound
    return reach_unit(model, positions, box.matrix, pbc, length_scale)


def _mpi_max():
    """``MPI.MAX`` of mpi4py (imported only when ranks reduce)."""
    from mpi4py import MPI

    return MPI.MAX
