"""Trajectory I/O: streaming readers yielding :class:`~md_orderml.frame.Frame` and atomic output writers.

Readers (one frame in memory at a time): HOOMD GSD, LAMMPS text dumps, (extended) XYZ::

    with open_trajectory("traj.gsd") as traj:
        for frame in traj:
            ...

Each frame's :attr:`Box.periodic <md_orderml.frame.Box>` comes from the file: extended XYZ
``pbc="T T F"``, the LAMMPS dump's ``ITEM: BOX BOUNDS`` flags (``pp`` periodic; ``ff``, ``ss``,
``mm``, ``fs``... open), GSD always periodic; ``open_trajectory(path, pbc=...)`` overrides it.
The text writers write the flags back, so a round trip keeps them.

Writers of per-particle outputs, one per format, for either task of a model file (output
appears only when the ``with`` block ends without an exception)::

    with open_writer("labelled.gsd", OutputSpec.classification(["fluid", "fcc"])) as out:
        out.write(frame, {"label": labels, "confidence": confidence})
"""

from __future__ import annotations

import os
from typing import Iterator, Optional, Sequence

from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame
from md_orderml.io._common import AtomicFile, FrameSelection
from md_orderml.io.gsd_io import GSDWriter, read_gsd_outputs
from md_orderml.io.lammps_dump import DumpRecord, DumpWriter
from md_orderml.io.summary import SummaryCSV
from md_orderml.io.writer import OutputWriter
from md_orderml.io.xyz import XyzRecord, XyzWriter
from md_orderml.outputs import OutputSpec
from md_orderml.system import pbc_flags

#: Canonical format names.
FORMATS = ("gsd", "lammps-dump", "xyz")
WRITE_FORMATS = FORMATS + ("csv",)
_ALIASES = {"gsd": "gsd", "dump": "lammps-dump", "lammps-dump": "lammps-dump", "lammpstrj": "lammps-dump",
            "lammps": "lammps-dump", "xyz": "xyz", "extxyz": "xyz", "csv": "csv"}
_EXTENSIONS = {".gsd": "gsd", ".dump": "lammps-dump", ".lammpstrj": "lammps-dump",
               ".lammps-dump": "lammps-dump", ".lammpsdump": "lammps-dump", ".xyz": "xyz",
               ".extxyz": "xyz", ".csv": "csv"}
_GSD_MAGIC = (0x65DF65DF65DF65DF).to_bytes(8, "little")

__all__ = [
    "FORMATS", "AtomicFile", "DumpRecord", "DumpWriter", "FrameSelection", "GSDWriter", "OutputSpec",
    "OutputWriter", "SummaryCSV", "Trajectory", "XyzRecord", "XyzWriter", "count_frames", "detect_format",
    "open_trajectory", "open_writer", "read_gsd_outputs",
]


def _normalise(fmt: str, allowed) -> str:
    name = _ALIASES.get(str(fmt).lower())
    if name not in allowed:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(allowed)}")
    return name


def detect_format(path, fmt: Optional[str] = None, for_writing: bool = False) -> str:
    """The format of a trajectory file.

    Args:
        path: File name.
        fmt: Explicit format (``"gsd"``, ``"lammps-dump"``/``"dump"``/``"lammpstrj"``,
            ``"xyz"``/``"extxyz"``, ``"csv"`` for writing); wins over the name.
        for_writing: Decide from the name only (the file need not exist).

    Returns:
        One of :data:`FORMATS` (or ``"csv"`` for writing).

    Raises:
        InputError: Unknown format, or the format cannot be told.
    """
    path = os.fspath(path)
    allowed = WRITE_FORMATS if for_writing else FORMATS
    if fmt is not None:
        return _normalise(fmt, allowed)
    name = path[:-3] if path.endswith(".gz") else path
    ext = os.path.splitext(name)[1].lower()
    if ext in _EXTENSIONS and _EXTENSIONS[ext] in allowed:
        return _EXTENSIONS[ext]
    if not for_writing and os.path.isfile(path):
        import gzip

        opener = gzip.open if path.endswith(".gz") else open
        try:
            with opener(path, "rb") as fh:
                head = fh.read(256)
        except (OSError, EOFError) as err:
            raise InputError(f"{path}: cannot read ({err})") from err
        if head.startswith(_GSD_MAGIC):
            return "gsd"
        first = head.lstrip().split(b"\n", 1)[0].strip()
        if first.startswith(b"ITEM:"):
            return "lammps-dump"
        if first.split()[:1] and first.split()[0].isdigit():
            return "xyz"
    elif not for_writing and not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    raise InputError(f"{path}: cannot tell the file format from the name; pass fmt= "
                     f"(one of {', '.join(allowed)})")


class Trajectory:
    """A trajectory file opened for streaming; iterate to get :class:`Frame` objects.

    Each iteration re-reads the file from the start and holds one frame at a time.
    Use :func:`open_trajectory` to create one.

    Attributes:
        path: The file.
        fmt: Its format (one of :data:`FORMATS`).
        selection: The :class:`FrameSelection` (``start:stop:stride``) it yields.
    """

    def __init__(self, path, fmt: Optional[str] = None, start: int = 0, stop: Optional[int] = None,
                 stride: int = 1, box: Optional[Box] = None, dimensions: Optional[int] = None,
                 pbc: Optional[Sequence[bool]] = None):
        self.path = os.fspath(path)
        self.fmt = detect_format(self.path, fmt)
        self.selection = FrameSelection(start, stop, stride)
        if dimensions not in (None, 2, 3):
            raise InputError(f"dimensions must be 2, 3 or None, got {dimensions!r}")
        self._box, self._dimensions = box, dimensions
        self._pbc = None if pbc is None else pbc_flags(pbc, "pbc")
        self._iterators = []
        if not os.path.exists(self.path):
            raise InputError(f"{self.path}: no such file")

    def __iter__(self) -> Iterator[Frame]:
        if self.fmt == "gsd":
            from md_orderml.io.gsd_io import iter_gsd

            it = iter_gsd(self.path, self.selection, pbc=self._pbc)
        elif self.fmt == "lammps-dump":
            from md_orderml.io.lammps_dump import iter_dump

            it = iter_dump(self.path, self.selection, dimensions=self._dimensions, pbc=self._pbc)
        else:
            from md_orderml.io.xyz import iter_xyz

            it = iter_xyz(self.path, self.selection, box=self._box, dimensions=self._dimensions, pbc=self._pbc)
        self._iterators.append(it)
        return it

    def count(self) -> int:
        """Number of frames this trajectory yields (``start:stop:stride`` applied)."""
        return self.selection.count(count_frames(self.path, self.fmt))

    def close(self) -> None:
        """Close the files of unfinished iterations."""
        for it in self._iterators:
            it.close()
        self._iterators.clear()

    def __enter__(self) -> "Trajectory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_trajectory(path, fmt: Optional[str] = None, *, start: int = 0, stop: Optional[int] = None,
                    stride: int = 1, box: Optional[Box] = None, dimensions: Optional[int] = None,
                    pbc: Optional[Sequence[bool]] = None) -> Trajectory:
    """Open a trajectory for streaming.

    Args:
        path: ``.gsd``; ``.dump``/``.lammpstrj``/``.lammps-dump`` (or any file whose
            first line is ``ITEM: ...``); ``.xyz``/``.extxyz``. Text files may be ``.gz``.
        fmt: Force a format (see :func:`detect_format`).
        start, stop, stride: Frame selection like ``frames[start:stop:stride]``;
            skipped text frames are not parsed, skipped GSD frames not read.
        box: Box for XYZ frames without ``Lattice=``.
        dimensions: 2 to treat dump/XYZ frames as 2D (GSD files say so themselves).
        pbc: Which directions (x, y, z) are periodic, one or three bools, instead of what
            the file says (XYZ ``pbc=``, dump ``BOX BOUNDS`` flags; GSD: all periodic).

    Returns:
        A :class:`Trajectory`; iterate it for frames (positions (N, 3), types (N,)).

    Raises:
        InputError: Missing file or unknown format (bad frames raise while iterating).
    """
    return Trajectory(path, fmt, start=start, stop=stop, stride=stride, box=box, dimensions=dimensions, pbc=pbc)


def count_frames(path, fmt: Optional[str] = None) -> int:
    """Number of frames in a trajectory, cheaply (for progress bars).

    GSD reads the index only; dumps count ``ITEM: TIMESTEP`` markers; XYZ reads the
    count lines and skips the particle lines.

    Args:
        path: Trajectory file.
        fmt: Force a format.

    Returns:
        The number of frames.
    """
    path = os.fspath(path)
    fmt = detect_format(path, fmt)
    if fmt == "gsd":
        from md_orderml.io.gsd_io import count_gsd

        return count_gsd(path)
    if fmt == "lammps-dump":
        from md_orderml.io.lammps_dump import count_dump

        return count_dump(path)
    from md_orderml.io.xyz import count_xyz

    return count_xyz(path)


def open_writer(path, spec, fmt: Optional[str] = None, write_probabilities: bool = False) -> OutputWriter:
    """Open an atomic writer of frames with their per-particle outputs.

    Args:
        path: Output file; the format follows the extension: ``.gsd`` (per-particle logs
            ``log/particles/md_orderml/<key>``), ``.dump``/``.lammpstrj`` and ``.xyz``/
            ``.extxyz`` (``orderml_*`` columns), ``.csv`` (the per-frame summary: class
            fractions, or value means of a regression model).
        spec: The model's outputs: an :class:`OutputSpec`, a model file or an
            :class:`~md_orderml.analysis.OrderML`.
        fmt: Force a format (``"gsd"``, ``"lammps-dump"``, ``"xyz"``, ``"csv"``).
        write_probabilities: Also store the (N, C) class probabilities (classification
            models; not for CSV).

    Returns:
        A :class:`GSDWriter`, :class:`DumpWriter`, :class:`XyzWriter` or :class:`SummaryCSV`
        with ``write(frame, outputs, index=None)`` (``outputs``: per-particle arrays by
        ``md_orderml.keys`` name), to be used as a context manager (or closed with ``close()``).

    Raises:
        InputError: Unknown format, missing output directory, no names, probabilities
            asked of a regression model.
    """
    fmt = detect_format(path, fmt, for_writing=True)
    cls = {"gsd": GSDWriter, "lammps-dump": DumpWriter, "xyz": XyzWriter, "csv": SummaryCSV}[fmt]
    return cls(path, spec, write_probabilities=write_probabilities)
