"""What the LAMMPS fix needs to know of the box: its length scale, periodicity, the model's reach and the width check.

Engine-side only (reading LAMMPS): the physics of the reach is
:func:`md_orderml.engines.halo.reach_unit`. Every function here gives the same answer on every
MPI rank; those that take ``comm`` are collective under MPI.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from md_orderml.engines.halo import reach_unit, width_check_unit
from md_orderml.engines.lammps.util import lammps_box
from md_orderml.global_scale import length_scale_of


def system_length_scale(lmp, dims: int) -> float:
    """``(V / N) ** (1/3)`` (2D: ``(A / N) ** (1/2)``) of the whole system.

    Args:
        lmp: A ``lammps`` instance whose box exists.
        dims: 2 or 3.

    Returns:
        The length scale (a float; the same on every rank).
    """
    box = lammps_box(lmp)
    volume = box.Lx * box.Ly if dims == 2 else box.volume
    return length_scale_of(volume, int(lmp.get_natoms()), dims)


def periodic_flags(lmp, dims: int) -> np.ndarray:
    """Periodic flags of the model call, shape (3,), bool: LAMMPS's, z never in 2D."""
    periodic = np.array(lmp.extract_box()[5], dtype=bool)
    periodic[2] &= dims == 3
    return periodic


def owned_positions(lmp) -> np.ndarray:
    """This rank's owned positions, shape (nlocal, 3), a copy."""
    nlocal = lmp.extract_setting("nlocal")
    return np.array(lmp.numpy.extract_atom("x", nelem=nlocal)[:nlocal]) if nlocal else np.zeros((0, 3))


def model_reach_unit(lmp, model, dims: int, comm=None) -> float:
    """The length unit of the model's receptive field and cutoff on this configuration.

    Args:
        lmp: A ``lammps`` instance.
        model: The :class:`~md_orderml.model_file.ModelFile`.
        dims: 2 or 3.
        comm: The MPI communicator when several ranks run, else None.

    Returns:
        ``(V / N) ** (1/3)`` for global-unit model files; for local-unit files the largest
        local unit of the atoms, from every rank's owned atoms with open boundaries under MPI
        (the periodic box when serial). 0 while the box has no atoms.
    """
    if lmp.get_natoms() == 0:
        return 0.0
    scale = system_length_scale(lmp, dims)
    if model.length_unit != "local":
        return scale
    x = owned_positions(lmp)
    if comm is None:
        return reach_unit(model, x, lammps_box(lmp).matrix, periodic_flags(lmp, dims), scale)
    return reach_unit(model, x, np.zeros((3, 3)), np.zeros(3, bool), scale, comm)


def serial_check_unit(lmp, model, dims: int) -> float:
    """One rank: the unit the box-width check needs (:func:`md_orderml.engines.halo.width_check_unit`).

    Equal to :func:`model_reach_unit`, or a bound of it that clears a wide periodic box
    without computing every local scale. Not for ghosts (mode ``"ghost"``) or MPI.
    """
    if lmp.get_natoms() == 0:
        return 0.0
    return width_check_unit(model, owned_positions(lmp), lammps_box(lmp), periodic_flags(lmp, dims),
                            system_length_scale(lmp, dims))


def box_too_small(lmp, cutoff: float, unit: float, dims: int) -> Optional[str]:
    """Why the periodic box is too narrow for a model of ``cutoff`` (in units) at length unit ``unit``, or None.

    Only periodic directions count; an empty box is never too small.
    """
    if int(lmp.get_natoms()) == 0:
        return None
    box = lammps_box(lmp)
    periodic = periodic_flags(lmp, dims)
    need = 2.0 * cutoff * unit
    for d, width in enumerate(box.widths):
        if periodic[d] and width < need:
            return (f"the periodic box is too small for the model: width {width:.6g} along "
                    f"{'xyz'[d]} < 2 x cutoff = {need:.6g}; replicate the system")
    return None


def box_check_unit(lmp, model, dims: int, unit: float, comm=None) -> float:
    """The length unit the box-width check uses (collective under MPI).

    ``unit`` (:func:`model_reach_unit`) comes, under MPI, from each rank's owned atoms with
    open boundaries, where atoms at a domain face see fewer neighbours and get larger local
    units: safe for the reach, but it can refuse a small box the serial run labels. When it
    would, a local-unit model's unit is computed again on all atoms in the periodic box (one
    all-gather), as one rank sees them.

    Args:
        lmp: A ``lammps`` instance.
        model: The :class:`~md_orderml.model_file.ModelFile`.
        dims: 2 or 3.
        unit: The reach unit.
        comm: The MPI communicator when several ranks run, else None.

    Returns:
        ``unit``, or the serial run's unit where ``unit`` would refuse the box.
    """
    if comm is None or model.length_unit != "local" or box_too_small(lmp, model.cutoff, unit, dims) is None:
        return unit
    everything = np.concatenate([np.reshape(part, (-1, 3)) for part in comm.allgather(owned_positions(lmp))])
    return reach_unit(model, everything, lammps_box(lmp).matrix, periodic_flags(lmp, dims),
                      system_length_scale(lmp, dims))
