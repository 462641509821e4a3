"""Helpers of the HOOMD-blue analyzer that need no HOOMD import: GPU buffers, ghosts, MPI.

:func:`cuda_tensor` views a ``gpu_local_snapshot`` array as a CUDA tensor without a copy;
:func:`hoomd_ghost_reach` tells how far HOOMD's ghost layer is complete (MD neighbour lists,
HPMC shapes), which decides whether :class:`md_orderml.engines.hoomd.OrderMLWriter` can use
HOOMD's ghosts or has to gather positions; :func:`simulation_comm` finds the mpi4py communicator of a simulation.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from md_orderml.errors import InputError

__all__ = ["cuda_tensor", "hoomd_ghost_reach", "shape_circumsphere", "simulation_comm"]


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


def _nlist_widths(simulation, types) -> Tuple[Dict[str, float], list]:
    """Ghost width each neighbour list asks for, per type, and the lists' ``(buffer, check_dist)``.

    The lists are those of the integrator's forces (with the forces' cutoffs) and those
    in ``simulation.operations.computes`` (stand-alone lists, base cutoff only).
    """
    import hoomd

    nlist_module = getattr(getattr(hoomd, "md", None), "nlist", None)
    width = dict.fromkeys(types, 0.0)
    if nlist_module is None:
        return width, []
    groups: Dict[int, tuple] = {}
    integrator = simulation.operations.integrator
    for force in getattr(integrator, "forces", ()):
        nlist = getattr(force, "nlist", None)
        if isinstance(nlist, nlist_module.NeighborList):
            groups.setdefault(id(nlist), (nlist, []))[1].append(force)
    for compute in simulation.operations.computes:
        if isinstance(compute, nlist_module.NeighborList):
            groups.setdefault(id(compute), (compute, []))
    lists = []
    for nlist, forces in groups.values():
        lists.append((float(nlist.buffer), bool(nlist.check_dist)))
        for a in types:
            rcut = max(_rcut(obj, a, b) for obj in [nlist, *forces] for b in types)
            if rcut > 0:
                width[a] = max(width[a], rcut + float(nlist.buffer))
    return width, lists


def shape_circumsphere(shape: Mapping) -> Optional[float]:
    """Circumsphere diameter of an HPMC shape given in ``type_shapes`` form (None if unknown).

    Args:
        shape: One entry of ``HPMCIntegrator.type_shapes``, e.g. ``{"type": "Sphere",
            "diameter": 1.0}`` or ``{"type": "ConvexPolyhedron", "vertices": [...],
            "rounding_radius": 0}``.

    Returns:
        The diameter of the smallest sphere centred on the particle that holds the
        shape (what HPMC uses for its ghost width), or None for shape kinds not known here.
    """
    kind = shape.get("type")
    if kind in ("Sphere", "Disk"):
        return float(shape["diameter"])
    if kind == "Ellipsoid":
        return 2.0 * max(float(shape[k]) for k in ("a", "b", "c"))
    if "vertices" in shape and len(shape["vertices"]):
        extent = float(np.max(np.linalg.norm(np.asarray(shape["vertices"], dtype=np.float64), axis=1)))
        return 2.0 * (extent + float(shape.get("rounding_radius", 0.0)))
    if kind == "SphereUnion":
        centers = np.linalg.norm(np.asarray(shape["centers"], dtype=np.float64), axis=1)
        return float(np.max(2.0 * centers + np.asarray(shape["diameters"], dtype=np.float64)))
    return None


def _hpmc_width(integrator, types) -> Optional[float]:
    """Lower bound of HPMC's ghost width: the largest mean circumsphere diameter of interacting types."""
    try:
        diameters = [shape_circumsphere(shape) for shape in integrator.type_shapes]
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError, NotImplementedError):
        return None
    if len(diameters) != len(types) or any(d is None for d in diameters):
        return None
    width = 0.0
    for i, a in enumerate(types):
        for j, b in enumerate(types):
            try:
                interacting = bool(integrator.interaction_matrix[(a, b)])
            except (AttributeError, KeyError, TypeError):
                interacting = True
            if interacting:
                width = max(width, 0.5 * (diameters[i] + diameters[j]))
    return width * (1.0 - 1e-6)  # the C++ side stores the diameters in single precision


def hoomd_ghost_reach(simulation) -> Optional[float]:
    """Distance up to which HOOMD's ghost particles are complete on every rank.

    HOOMD sends a particle of type ``t`` to a neighbouring domain as a ghost when it lies
    within ``w_t`` of that domain, ``w_t`` the largest width any part of the simulation
    asks for:

    * MD: each neighbour list (of the integrator's forces or stand-alone in
      ``sim.operations.computes``) asks ``max_s r_cut(t, s) + buffer`` (``r_cut`` the
      larger of the list's base ``r_cut`` and its pair forces'). Ghosts are rebuilt only
      when a particle has moved ``buffer / 2``, so pair distances may have changed by
      ``b = min(buffer)`` since: every particle within ``min_t w_t - b`` is present.
    * HPMC: the integrator asks the largest mean circumsphere diameter of two interacting
      shapes (more with depletants or pair potentials, not counted here) and rebuilds the
      ghosts after every sweep and box move, so every particle within ``min_t w_t`` is
      present; a stand-alone neighbour list in ``computes`` widens ``w_t`` as above.

    Args:
        simulation: A ``hoomd.Simulation`` with its state.

    Returns:
        That distance (a lower bound), or None when unknown (no neighbour list and no
        HPMC integrator, an MD list without distance checks, an HPMC shape kind not known
        to :func:`shape_circumsphere` and no stand-alone list).
    """
    import hoomd

    integrator = simulation.operations.integrator
    if integrator is None:
        return None
    types = list(simulation.state.particle_types)
    width, lists = _nlist_widths(simulation, types)
    hpmc = getattr(getattr(hoomd, "hpmc", None), "integrate", None)
    if hpmc is not None and isinstance(integrator, hpmc.HPMCIntegrator):
        shapes = _hpmc_width(integrator, types)
        if shapes is None and not lists:
            return None
        return min(max(width[t], shapes or 0.0) for t in types)
    if not lists or not all(check for _buffer, check in lists):
        return None
    return min(width.values()) - min(buffer for buffer, _check in lists)


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
