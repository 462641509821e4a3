"""Shared pieces of the trajectory readers and writers.

Atomic output (:class:`AtomicFile`), text-file opening (gzip aware), the rotation of a
general lattice into HOOMD's box, and the column helpers of the text writers.
"""

from __future__ import annotations

import gzip
import os
import uuid
from typing import Optional, Sequence, TextIO, Tuple

import numpy as np

from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame

#: Prefix of the per-particle columns the text writers add (dump and extended XYZ).
COLUMN_PREFIX = "orderml_"


def check_exists(path: str) -> None:
    """Raise :class:`InputError` unless ``path`` is an existing regular file."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a trajectory file")


def open_text(path: str) -> TextIO:
    """Open a text trajectory for reading; ``.gz`` files are decompressed on the fly."""
    check_exists(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rt")
    return open(path, "r")


#: First bytes of every GSD file.
GSD_MAGIC = (0x65DF65DF65DF65DF).to_bytes(8, "little")


class ReadGuard:
    """Turns the errors of reading a damaged or misnamed file into one-line :class:`InputError` s.

    A context manager around a reader's loop; keep :attr:`where` current (``"traj.dump,
    frame 3"``). Binary data under a text format (``UnicodeDecodeError``: a GSD file
    named ``.dump``, ``--format xyz`` on a GSD), truncated or corrupt gzip data
    (``EOFError``, ``zlib.error``, ``gzip.BadGzipFile``) and other ``OSError`` s become
    ``"<where>: <reason>"``.

    Args:
        path: The file being read.
        what: What the reader expected, e.g. ``"a LAMMPS text dump"``.
    """

    def __init__(self, path: str, what: str):
        self.path, self.what, self.where = path, what, path

    def __enter__(self) -> "ReadGuard":
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or not issubclass(exc_type, Exception) or issubclass(exc_type, InputError):
            return False
        reason = read_error_reason(self.path, self.what, exc)
        if reason is None:
            return False
        raise InputError(f"{self.where}: {reason}") from None


def read_error_reason(path: str, what: str, err: BaseException) -> Optional[str]:
    """Why reading ``path`` as ``what`` failed, in words; None for errors that are not about the file."""
    import zlib

    if isinstance(err, UnicodeDecodeError):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as fh:
                head = fh.read(len(GSD_MAGIC))
        except (OSError, EOFError, zlib.error):
            head = b""
        if head == GSD_MAGIC:
            return f"this is a GSD file, not {what}: name it .gsd or pass --format gsd"
        return (f"binary data (byte {err.start} of a text block is {err.object[err.start:err.start + 1]!r}), "
                f"not {what}; wrong extension or --format?")
    if isinstance(err, EOFError):
        return "the compressed (.gz) data ends early: the file is truncated"
    if isinstance(err, gzip.BadGzipFile):
        return f"not gzip data although the name ends in .gz ({err})"
    if isinstance(err, zlib.error):
        return f"corrupt compressed (.gz) data ({err})"
    if isinstance(err, OSError):
        return f"cannot read the file ({err.strerror or err})"
    return None


class FrameSelection:
    """Frames ``start:stop:stride`` of a trajectory; call it with a frame index.

    Attributes:
        start, stop, stride: As in ``frames[start:stop:stride]`` (``stop`` may be ``None``).
    """

    def __init__(self, start: int = 0, stop: Optional[int] = None, stride: int = 1):
        if start < 0 or (stop is not None and stop < 0) or stride < 1:
            raise InputError(f"bad frame selection start={start} stop={stop} stride={stride}: "
                             "use start >= 0, stop >= 0 or None, stride >= 1")
        self.start, self.stop, self.stride = start, stop, stride

    def __call__(self, index: int) -> bool:
        """Whether frame ``index`` is selected."""
        return index >= self.start and not self.done(index) and (index - self.start) % self.stride == 0

    def done(self, index: int) -> bool:
        """Whether no frame at or after ``index`` is selected (readers stop there)."""
        return self.stop is not None and index >= self.stop

    def count(self, total: int) -> int:
        """How many of ``total`` frames are selected."""
        return len(range(self.start, total if self.stop is None else min(self.stop, total), self.stride))


ALL_FRAMES = FrameSelection()


def box_from_vectors(
    a: Sequence[float], b: Sequence[float], c: Sequence[float], origin: Sequence[float]
) -> Tuple[Box, Optional[np.ndarray]]:
    """Rotate a general triclinic cell into HOOMD's restricted form.

    Args:
        a, b, c: Edge vectors of the cell, each shape (3,).
        origin: Corner of the cell, shape (3,).

    Returns:
        ``(box, rotation)``: the :class:`Box` (with ``origin`` kept) and the rotation
        matrix ``R``, shape (3, 3), so that restricted positions are
        ``origin + (p - origin) @ R.T``. ``rotation`` is ``None`` when the cell is
        already in restricted form. A left-handed cell is made right-handed by
        using ``-c`` (and moving the origin by ``c``), which spans the same lattice.
    """
    a, b, c, origin = (np.asarray(v, dtype=float) for v in (a, b, c, origin))
    if not all(np.isfinite(v).all() for v in (a, b, c, origin)):
        raise InputError("the cell vectors or origin are not finite")
    if np.linalg.det(np.array([a, b, c])) < 0:
        origin, c = origin + c, -c
    if a[1] == 0 and a[2] == 0 and b[2] == 0 and a[0] > 0 and b[1] > 0 and c[2] > 0:
        return _restricted(origin, a, b, c), None
    la = np.linalg.norm(a)
    normal = np.cross(a, b)
    if la == 0 or np.linalg.norm(normal) == 0 or np.linalg.norm(c) == 0:
        raise InputError("the cell vectors are degenerate (zero volume)")
    ex = a / la
    ez = normal / np.linalg.norm(normal)
    ey = np.cross(ez, ex)
    rotation = np.array([ex, ey, ez])
    return _restricted(origin, rotation @ a, rotation @ b, rotation @ c), rotation


def _restricted(origin: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> Box:
    """Box from restricted edge vectors (a along x, b in the xy plane)."""
    (ox, oy, oz), (ax, _, _), (bx, by, _), (cx, cy, cz) = (v.tolist() for v in (origin, a, b, c))
    return Box.from_lammps(ox, ox + ax, oy, oy + by, oz, oz + cz, bx, cx, cy)


def rotate_positions(positions: np.ndarray, rotation: Optional[np.ndarray], origin) -> np.ndarray:
    """Apply a :func:`box_from_vectors` rotation about ``origin`` to positions (N, 3)."""
    if rotation is None:
        return positions
    origin = np.asarray(origin, dtype=float)
    return (positions - origin) @ rotation.T + origin


def hoomd_positions(box: Box, positions: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Positions wrapped into HOOMD's centred box and their image flags.

    Args:
        box: The frame's box (any origin).
        positions: Cartesian positions, shape (N, 3).

    Returns:
        ``(wrapped, image)``: float64 positions inside the box centred at zero, shape
        (N, 3), and int32 image flags, shape (N, 3), such that
        ``wrapped + image @ box.matrix`` is the input shifted to the centred box.
    """
    m = box.matrix
    s = box.fractional(positions)
    image = np.floor(s)
    s = s - image
    if box.is2D:
        s[:, 2] = 0.5
        image[:, 2] = 0
    wrapped = s @ m - 0.5 * m.sum(axis=0)
    if box.is2D:
        wrapped[:, 2] = 0.0
    return wrapped, image.astype(np.int32)


def bounding_box_lines(box: Box, bounds: str = "pp pp pp") -> list:
    """The ``ITEM: BOX BOUNDS`` header and its three lines for a LAMMPS dump of ``box``."""
    p = {k: float(v) for k, v in box.to_lammps().items()}
    xy, xz, yz = p["xy"], p["xz"], p["yz"]
    if xy == 0 and xz == 0 and yz == 0:
        return [f"ITEM: BOX BOUNDS {bounds}", f"{p['xlo']!r} {p['xhi']!r}",
                f"{p['ylo']!r} {p['yhi']!r}", f"{p['zlo']!r} {p['zhi']!r}"]
    xlo_b = p["xlo"] + min(0.0, xy, xz, xy + xz)
    xhi_b = p["xhi"] + max(0.0, xy, xz, xy + xz)
    ylo_b = p["ylo"] + min(0.0, yz)
    yhi_b = p["yhi"] + max(0.0, yz)
    return [f"ITEM: BOX BOUNDS xy xz yz {bounds}", f"{xlo_b!r} {xhi_b!r} {xy!r}",
            f"{ylo_b!r} {yhi_b!r} {xz!r}", f"{p['zlo']!r} {p['zhi']!r} {yz!r}"]


#: Words of an ``ITEM: BOX BOUNDS`` line that are not boundary codes.
BOUNDS_WORDS = ("xy", "xz", "yz", "abc", "origin")


def boundary_flags(head: str, where: str) -> Optional[Tuple[str, str, str]]:
    """The three LAMMPS boundary codes of an ``ITEM: BOX BOUNDS`` line (``("pp", "pp", "fm")``),
    or ``None`` when the line gives none (old dumps).

    Raises:
        InputError: Flags other than three pairs of p, f, s, m.
    """
    words = [w for w in head[len("ITEM: BOX BOUNDS"):].split() if w not in BOUNDS_WORDS]
    if not words:
        return None
    if len(words) != 3 or any(len(w) != 2 or set(w) - set("pfsm") for w in words):
        raise InputError(f"{where}: bad boundary flags {' '.join(words)!r} in {head!r}; "
                         "expected three of pp, ff, ss, mm, fs, ... (LAMMPS boundary)")
    return tuple(words)


def periodic_of_codes(codes: Optional[Tuple[str, str, str]]) -> Tuple[bool, bool, bool]:
    """Periodic flags of boundary codes: ``pp`` is periodic; no codes means periodic."""
    return (True, True, True) if codes is None else tuple(code == "pp" for code in codes)


def bounds_text(periodic, codes: Optional[Tuple[str, str, str]] = None) -> str:
    """Boundary codes of periodic flags (``"pp pp ff"``), keeping ``codes`` where they agree."""
    kept = codes or ("pp", "pp", "pp")
    return " ".join(("pp" if p else "ff") if (kept[d] == "pp") != bool(p) else kept[d]
                    for d, p in enumerate(periodic))


def type_names_from_labels(names: Sequence[str]) -> Tuple[list, np.ndarray]:
    """Sorted unique type names and each particle's index into them, shape (N,) int32."""
    unique, inverse = np.unique(np.asarray(names, dtype=str), return_inverse=True)
    return [str(u) for u in unique], inverse.astype(np.int32).reshape(-1)


class AtomicFile:
    """Base of the writers: output goes to a hidden temporary file next to ``path``.

    The temporary file is renamed onto ``path`` by :meth:`close` (or on leaving a
    ``with`` block normally) and deleted by :meth:`abort` (or on leaving it through
    an exception), so a failed run never leaves partial output behind.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise InputError(f"{self.path}: the output directory {directory} does not exist")
        base = os.path.basename(self.path)
        self.tmp_path = os.path.join(directory, f".{base}.{uuid.uuid4().hex[:12]}.tmp")
        self.closed = False
        try:
            self._open(self.tmp_path)
        except BaseException:
            self._remove_tmp()
            raise

    # Subclass hooks -------------------------------------------------------
    def _open(self, tmp_path: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # Public API ------------------------------------------------------------
    def close(self) -> None:
        """Finish the output and move it into place (no-op when already closed)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._close()
            os.replace(self.tmp_path, self.path)
        except BaseException:
            self._remove_tmp()
            raise

    def abort(self) -> None:
        """Discard the output: close and delete the temporary file (no-op when closed)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._close()
        except Exception:
            pass
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        try:
            os.unlink(self.tmp_path)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def __del__(self):
        # A writer dropped without close() is treated as failed: no partial output.
        if not getattr(self, "closed", True):
            self.abort()


def unchanged_native(frame: Frame, record_type):
    """The frame's reader record when it is a ``record_type`` whose positions (N, 3) are
    still the frame's (so its other columns can be copied through), else None."""
    record = frame.native
    if (isinstance(record, record_type) and record.positions is not None
            and record.positions.shape == frame.positions.shape
            and np.array_equal(record.positions, frame.positions)):
        return record
    return None


def drop_columns(lines: Sequence[str], drop: Sequence[int]) -> list:
    """Rows of a whitespace-separated table without the columns at indices ``drop``."""
    drop = set(drop)
    return [" ".join(t for j, t in enumerate(line.split()) if j not in drop) for line in lines]
