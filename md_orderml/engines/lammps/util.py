"""Small helpers of the LAMMPS adapter: the box, the communication cutoff, the model inputs, the per-atom properties."""

from __future__ import annotations

import os
import tempfile
from typing import List, Optional, Tuple

import numpy as np

from md_orderml import keys
from md_orderml.engines.halo import gather_halo, halo_mask
from md_orderml.frame import Box
from md_orderml.outputs import OutputSpec

#: Per-atom LAMMPS property of each stored output; ``{name}`` gives one per value column.
ATOM_PROPERTIES = {keys.LABEL: "i_{fix_id}", keys.CONFIDENCE: "d_{fix_id}_conf", keys.VALUES: "d_{fix_id}_{name}"}
#: What a property holds on atoms not labelled (outside the group, before the first labelling); else 0.
NOT_LABELLED = {keys.LABEL: -1}


def atom_properties(spec: OutputSpec, fix_id: str) -> List[Tuple[str, str, Optional[int]]]:
    """The per-atom properties the fix writes for a model's outputs.

    Args:
        spec: The model's outputs.
        fix_id: ID of the fix external.

    Returns:
        ``[(LAMMPS name, output key, column), ...]``: ``column`` indexes a 2-D output
        (``values`` (N, S)) and is None for a 1-D one (``label``, ``confidence`` (N,)).
    """
    properties = []
    for key in spec.stored_keys():
        template = ATOM_PROPERTIES[key]
        if "{name}" in template:
            properties += [(template.format(fix_id=fix_id, name=name), key, k)
                           for k, name in enumerate(spec.column_names(key))]
        else:
            properties.append((template.format(fix_id=fix_id), key, None))
    return properties


def lammps_box(lmp) -> Box:
    """The simulation box of a ``lammps`` instance (HOOMD convention, LAMMPS origin)."""
    lo, hi, xy, yz, xz, _periodicity, _change = lmp.extract_box()
    return Box.from_lammps(lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], xy, xz, yz)


def one_line(err: BaseException) -> str:
    """The first line of an exception's message (LAMMPS errors span several)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def communication_cutoff(lmp, comm=None) -> float:
    """LAMMPS's current communication cutoff, read from ``info communication`` (all ranks).

    Before the first run this is the ``comm_modify cutoff`` value (0 if unset); after a
    run it is the larger of that and the pair cutoff plus skin.
    """
    rank = 0 if comm is None else comm.Get_rank()
    path = None
    if rank == 0:
        fd, path = tempfile.mkstemp(prefix="orderml_info_", suffix=".txt")
        os.close(fd)
    if comm is not None:
        path = comm.bcast(path, root=0)
    value = 0.0
    try:
        lmp.command(f"info communication out overwrite {path}")
        if rank == 0:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("Communication cutoff ="):
                        value = float(line.split("=")[1])
    finally:
        if rank == 0:
            os.unlink(path)
    return value if comm is None else comm.bcast(value, root=0)


def ghost_inputs(lmp, nlocal: int, reach: float):
    """Model inputs from the owned atoms and the ghosts within ``reach`` of them.

    Args:
        lmp: The ``lammps`` instance (inside a ``fix external`` callback).
        nlocal: Owned atoms on this rank.
        reach: Receptive field in LAMMPS length units.

    Returns:
        ``(positions (M, 3), types (M,), cell (3, 3) zeros, pbc all False)``: owned atoms first.
    """
    nall = nlocal + lmp.extract_setting("nghost")
    x = lmp.numpy.extract_atom("x", nelem=nall)
    types = lmp.numpy.extract_atom("type", nelem=nall)
    open_box = (np.zeros((3, 3)), (False, False, False))
    if nlocal == 0:
        return (x[:0], types[:0]) + open_box
    box = lammps_box(lmp)
    inv = np.linalg.inv(box.matrix)
    keep = halo_mask(x[:nlocal] @ inv, x[nlocal:] @ inv, reach / box.widths, np.zeros(3, bool))
    if keep.all():
        return (x, types) + open_box
    keep = np.concatenate([np.ones(nlocal, dtype=bool), keep])
    return (x[keep], types[keep]) + open_box


def gathered_inputs(lmp, nlocal: int, reach: float, periodic: np.ndarray, comm=None):
    """Model inputs from the owned atoms and every other rank's atoms within ``reach``
    (:func:`~md_orderml.engines.halo.gather_halo`).

    Collective over ``comm`` (all ranks call it on the same step).

    Args:
        lmp: The ``lammps`` instance.
        nlocal: Owned atoms on this rank.
        reach: Receptive field in LAMMPS length units.
        periodic: Periodic flags of the model call, shape (3,).
        comm: mpi4py communicator of the LAMMPS ranks; None when serial.

    Returns:
        ``(positions (M, 3), types (M,), cell (3, 3), periodic (3,))``: owned atoms first,
        the periodic box.
    """
    x = np.array(lmp.numpy.extract_atom("x", nelem=nlocal)[:nlocal])
    types = np.array(lmp.numpy.extract_atom("type", nelem=nlocal)[:nlocal])
    box = lammps_box(lmp)
    positions, types = gather_halo(comm, x, types, box, reach, periodic)
    return positions, types, box.matrix, periodic
