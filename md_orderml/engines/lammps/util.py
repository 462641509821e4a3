"""Small helpers of the LAMMPS adapter: the box, the communication cutoff, the model inputs."""

from __future__ import annotations

import os
import tempfile

import numpy as np

from md_orderml.engines.halo import halo_mask
from md_orderml.frame import Box


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
    """Model inputs from the owned atoms and every other rank's atoms within ``reach``.

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
    x = lmp.numpy.extract_atom("x", nelem=nlocal)[:nlocal]
    types = lmp.numpy.extract_atom("type", nelem=nlocal)[:nlocal]
    box = lammps_box(lmp)
    if comm is None:
        return x, types, box.matrix, periodic
    rank = comm.Get_rank()
    parts = comm.allgather((np.array(x), np.array(types)))
    others = [p for r, p in enumerate(parts) if r != rank]
    ox = np.concatenate([p[0] for p in others]).reshape(-1, 3)
    ot = np.concatenate([p[1] for p in others])
    if nlocal == 0:
        return x, types, box.matrix, periodic
    inv = np.linalg.inv(box.matrix)
    keep = halo_mask(x @ inv, ox @ inv, reach / box.widths, periodic)
    return np.concatenate([x, ox[keep]]), np.concatenate([types, ot[keep]]), box.matrix, periodic
