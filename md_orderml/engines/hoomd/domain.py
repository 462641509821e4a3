"""Helpers of the HOOMD-blue analyzer that need no HOOMD import: GPU buffers, ghosts, MPI.

:func:`cuda_tensor` views a ``gpu_local_snapshot`` array as a CUDA tensor without a copy;
:func:`hoomd_ghost_reach` tells how far HOOMD's ghost layer is complete, which decides
whether :class:`md_orderml.engines.hoomd.OrderMLWriter` can use HOOMD's ghosts or has to
gather positions; :func:`simulation_comm` finds the mpi4py communicator of a simulation.
"""

from __future__ import annotations

from typing import Dict, Optional

import torch

from md_orderml.errors import InputError

__all__ = ["cuda_tensor", "hoomd_ghost_reach", "simulation_comm"]


def cuda_tensor(array) -> torch.Tensor:
    """Zero-copy torch view of a GPU buffer, e.g. a ``gpu_local_snapshot`` array.

    Args:
        array: Object exposing ``__cuda_array_interface__``, shape (N,) or (N, k),
            strides allowed (HOOMD's positions are a strided (N, 3) view of (N, 4)).

    Returns:
        A CUDA tensor sharing the memory, on the buffer's device. For HOOMD it is
        valid only inside the ``with state.gpu_local_snapshot`` block.
    """
    if not hasattr(array, "__cuda_array_interface__"):
        raise TypeError(f"{type(array).__name__} does not expose __cuda_array_interface__")
    return torch.as_tensor(array)


def _rcut(obj, a: str, b: str) -> float:
    try:
        return float(obj.r_cut[(a, b)])
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError):
        return 0.0  # unknown cutoffs count as none: the estimate stays a lower bound


def hoomd_ghost_reach(simulation) -> Optional[float]:
    """Distance up to which HOOMD's ghost particles are complete on every rank.

    HOOMD sends a particle of type ``t`` as a ghost when it is within ``w_t = max over
    neighbour lists of (max_s r_cut(t, s) + buffer)`` of a domain (``r_cut`` is the
    larger of the list's base ``r_cut`` and its pair forces'), and it rebuilds ghosts
    when a particle moved ``buffer / 2``. Between rebuilds pair distances change by at
    most ``b = min(buffer)``, so every particle within ``min_t w_t - b`` of an owned one
    is present.

    Args:
        simulation: A ``hoomd.Simulation`` with its state.

    Returns:
        That distance, or None when unknown (no neighbour list in the integrator's
        forces, or one without distance checks).
    """
    import hoomd

    integrator = simulation.operations.integrator
    nlist_cls = getattr(getattr(hoomd, "md", None), "nlist", None)
    if integrator is None or nlist_cls is None:
        return None
    groups: Dict[int, tuple] = {}
    for force in getattr(integrator, "forces", ()):
        nlist = getattr(force, "nlist", None)
        if isinstance(nlist, nlist_cls.NeighborList):
            groups.setdefault(id(nlist), (nlist, []))[1].append(force)
    if not groups:
        return None
    types = list(simulation.state.particle_types)
    width = dict.fromkeys(types, 0.0)
    buffers = []
    for nlist, forces in groups.values():
        if not nlist.check_dist:
            return None
        buffers.append(float(nlist.buffer))
        for a in types:
            rcut = max(_rcut(obj, a, b) for obj in [nlist, *forces] for b in types)
            if rcut > 0:
                width[a] = max(width[a], rcut + float(nlist.buffer))
    return min(width.values()) - min(buffers)


def simulation_comm(simulation, given):
    """``(communicator, created)``: mpi4py communicator of the simulation's ranks (None when serial)."""
    hcomm = simulation.device.communicator
    if hcomm.num_ranks == 1:
        return None, False
    if given is not None:
        return given, False
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    if world.Get_size() == hcomm.num_ranks:
        return world, False
    if hcomm.num_partitions > 1 and world.Get_size() == hcomm.num_ranks * hcomm.num_partitions:
        return world.Split(hcomm.partition, hcomm.rank), True
    raise InputError("cannot tell the MPI communicator of this simulation: pass mpi_comm= to OrderMLWriter")
