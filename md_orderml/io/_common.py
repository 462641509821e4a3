"""Shared pieces of the trajectory readers and writers.

Atomic output (:class:`AtomicFile`), label checks (:class:`LabelWriter`), text-file
opening (gzip aware), and the rotation of a general lattice into HOOMD's box.
"""

from __future__ import annotations

import gzip
import os
import uuid
from typing import Iterator, Optional, Sequence, TextIO, Tuple

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


class LabelWriter(AtomicFile):
    """Base of the per-particle label writers (GSD, LAMMPS dump, extended XYZ).

    Args:
        path: Output file.
        class_names: Name of each class index, length C.
        write_probabilities: Also store the (N, C) class probabilities.
    """

    def __init__(self, path, class_names: Sequence[str], write_probabilities: bool = False):
        self.class_names = [str(n) for n in class_names]
        if not self.class_names:
            raise InputError(f"{os.fspath(path)}: no class names given")
        self.write_probabilities = bool(write_probabilities)
        self.frames_written = 0
        super().__init__(path)

    def check(self, frame: Frame, labels, confidence, probabilities=None):
        """Validate and convert one frame's labels.

        Args:
            frame: The labelled frame, N particles.
            labels: Class index per particle, shape (N,); -1 means unlabelled.
            confidence: Confidence per particle, shape (N,).
            probabilities: Class probabilities, shape (N, C); required when
                ``write_probabilities`` is set.

        Returns:
            ``(labels int32 (N,), confidence float32 (N,), probabilities float32 (N, C) or None)``.
        """
        if self.closed:
            raise InputError(f"{self.path}: the writer is already closed")
        n, c = frame.N, len(self.class_names)
        labels = np.asarray(labels)
        confidence = np.asarray(confidence, dtype=np.float32)
        where = f"{self.path}: {frame.source}"
        if labels.shape != (n,):
            raise InputError(f"{where}: labels have shape {labels.shape}, expected ({n},)")
        if not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"{where}: labels must be integers, got {labels.dtype}")
        bad = (labels < -1) | (labels >= c)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{where}, particle {i}: label {int(labels[i])} is outside [-1, {c})")
        if confidence.shape != (n,):
            raise InputError(f"{where}: confidence has shape {confidence.shape}, expected ({n},)")
        if probabilities is None:
            if self.write_probabilities:
                raise InputError(f"{where}: write_probabilities is set but no probabilities were given")
        else:
            probabilities = np.asarray(probabilities, dtype=np.float32)
            if probabilities.shape != (n, c):
                raise InputError(
                    f"{where}: probabilities have shape {probabilities.shape}, expected ({n}, {c})")
        if not self.write_probabilities:
            probabilities = None
        return labels.astype(np.int32), confidence, probabilities

    def write(self, frame: Frame, labels, confidence, probabilities=None) -> None:
        """Append one labelled frame.

        Args:
            frame: The frame, N particles (its ``native`` record is copied through
                when it comes from a reader of the same format).
            labels: Class index per particle, shape (N,) int; -1 means unlabelled.
            confidence: Largest class probability per particle, shape (N,) float32.
            probabilities: Class probabilities, shape (N, C) float32, optional.
        """
        labels, confidence, probabilities = self.check(frame, labels, confidence, probabilities)
        try:
            self._write(frame, labels, confidence, probabilities)
        except InputError:
            raise
        except (OSError, ValueError, RuntimeError, TypeError) as err:
            raise InputError(f"{self.path}: cannot write {frame.source}: {err}") from err
        self.frames_written += 1

    def _write(self, frame, labels, confidence, probabilities) -> None:  # pragma: no cover
        raise NotImplementedError


class ValueWriter:
    """Mixin turning a label writer into a writer of per-particle regression values.

    Put it first in the bases (``class GSDValueWriter(ValueWriter, GSDLabelWriter)``);
    the format class implements ``_write_values(frame, values)``.

    Args:
        path: Output file.
        value_names: Name of each value column, length S (identifiers).
    """

    def __init__(self, path, value_names: Sequence[str], write_probabilities: bool = False):
        self.value_names = [str(n) for n in value_names]
        if not self.value_names:
            raise InputError(f"{os.fspath(path)}: no value names given")
        if write_probabilities:
            raise InputError(f"{os.fspath(path)}: a regression model has no class probabilities to write")
        self.class_names = []
        self.write_probabilities = False
        self.frames_written = 0
        AtomicFile.__init__(self, path)

    def write(self, frame: Frame, values) -> None:
        """Append one frame with its values.

        Args:
            frame: The frame, N particles (copied through as by the label writers).
            values: Per-particle values, shape (N, S), float (stored as float32).
        """
        if self.closed:
            raise InputError(f"{self.path}: the writer is already closed")
        values = np.asarray(values, dtype=np.float32)
        if values.shape != (frame.N, len(self.value_names)):
            raise InputError(f"{self.path}: {frame.source}: values have shape {values.shape}, "
                             f"expected ({frame.N}, {len(self.value_names)})")
        try:
            self._write_values(frame, values)
        except InputError:
            raise
        except (OSError, ValueError, RuntimeError, TypeError) as err:
            raise InputError(f"{self.path}: cannot write {frame.source}: {err}") from err
        self.frames_written += 1

    def _write_values(self, frame, values) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class TextLabelWriter(LabelWriter):
    """Base of the text-format label writers: one temporary text file."""

    def _open(self, tmp_path: str) -> None:
        self._fh = open(tmp_path, "w")

    def _close(self) -> None:
        self._fh.close()


def unchanged_native(frame: Frame, record_type):
    """The frame's reader record when it is a ``record_type`` whose positions (N, 3) are
    still the frame's (so its other columns can be copied through), else None."""
    record = frame.native
    if (isinstance(record, record_type) and record.positions is not None
            and record.positions.shape == frame.positions.shape
            and np.array_equal(record.positions, frame.positions)):
        return record
    return None


def label_columns(labels: np.ndarray, confidence: np.ndarray, probabilities) -> Iterator[str]:
    """Text of the extra per-particle columns, one string per particle (no leading space)."""
    if probabilities is None:
        for lab, conf in zip(labels.tolist(), confidence.tolist()):
            yield f"{lab} {conf:.6g}"
    else:
        for lab, conf, prob in zip(labels.tolist(), confidence.tolist(), probabilities.tolist()):
            yield f"{lab} {conf:.6g} " + " ".join(f"{p:.6g}" for p in prob)


def value_columns(values: np.ndarray) -> Iterator[str]:
    """Text of the per-particle value columns (N, S), one string per particle."""
    for row in values.tolist():
        yield " ".join(f"{v:.7g}" for v in row)


def drop_columns(lines: Sequence[str], drop: Sequence[int]) -> list:
    """Rows of a whitespace-separated table without the columns at indices ``drop``."""
    drop = set(drop)
    return [" ".join(t for j, t in enumerate(line.split()) if j not in drop) for line in lines]
