"""Small helpers of the LAMMPS adapter: the box and the communication cutoff."""

from __future__ import annotations

import os
import tempfile


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
