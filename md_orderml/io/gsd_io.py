"""HOOMD-blue GSD trajectories: a streaming reader and a label writer.

Labels are stored as per-particle log chunks (:data:`md_orderml.keys.GSD_LABEL`,
``GSD_CONFIDENCE``, optionally ``GSD_PROBABILITIES``) and the class names as a JSON
string in :data:`md_orderml.keys.GSD_CLASS_NAMES`. OVITO shows the per-particle logs
as the properties ``md_orderml_label``, ``md_orderml_confidence`` and
``md_orderml_probabilities`` and the class names as the global attribute
``md_orderml/class_names``.
"""

from __future__ import annotations

import json
from typing import Iterator, List, Optional

import numpy as np

from md_orderml import keys
from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame
from md_orderml.io._common import (
    ALL_FRAMES, FrameSelection, LabelWriter, ValueWriter, check_exists, hoomd_positions,
)

_LOG = "log/"


def _log_key(path: str) -> str:
    """A ``keys.GSD_*`` chunk path as a ``gsd.hoomd.Frame.log`` key (without ``log/``)."""
    return path[len(_LOG):] if path.startswith(_LOG) else path


LABEL_LOG = _log_key(keys.GSD_LABEL)
CONFIDENCE_LOG = _log_key(keys.GSD_CONFIDENCE)
PROBABILITIES_LOG = _log_key(keys.GSD_PROBABILITIES)
CLASS_NAMES_LOG = _log_key(keys.GSD_CLASS_NAMES)
VALUES_LOG = _log_key(keys.GSD_VALUES)
VALUE_NAMES_LOG = _log_key(keys.GSD_VALUE_NAMES)
_OUR_LOGS = (LABEL_LOG, CONFIDENCE_LOG, PROBABILITIES_LOG, CLASS_NAMES_LOG, VALUES_LOG, VALUE_NAMES_LOG)


def _open(path: str):
    import gsd.hoomd

    check_exists(path)
    try:
        return gsd.hoomd.open(path, mode="r")
    except (RuntimeError, OSError, ValueError) as err:
        raise InputError(f"{path}: cannot open the GSD file ({err}); is it truncated or not GSD?") from err


def count_gsd(path: str) -> int:
    """Number of frames in a GSD file (reads only the index)."""
    with _open(path) as traj:
        return len(traj)


def frame_from_gsd(snap, source: str) -> Frame:
    """Convert a ``gsd.hoomd.Frame`` into a :class:`Frame` (``native`` is ``snap``).

    Args:
        snap: The GSD frame.
        source: Label for messages, e.g. ``"traj.gsd, frame 3"``.
    """
    n = int(snap.particles.N)
    is2D = int(snap.configuration.dimensions) == 2
    try:
        box = Box.from_hoomd(snap.configuration.box, is2D=is2D)
    except InputError as err:
        raise InputError(f"{source}: {err}") from None
    position = snap.particles.position
    positions = np.zeros((0, 3)) if n == 0 or position is None else np.asarray(position, dtype=np.float64)
    typeid = snap.particles.typeid
    types = np.zeros(n, dtype=np.int32) if typeid is None else np.asarray(typeid).astype(np.int32)
    names = list(snap.particles.types) if snap.particles.types else ["A"]
    return Frame(positions=positions, box=box, types=types, type_names=names,
                 step=int(snap.configuration.step), source=source, native=snap)


def iter_gsd(path: str, keep: FrameSelection = ALL_FRAMES) -> Iterator[Frame]:
    """Yield the frames of a GSD file one at a time.

    Args:
        path: The ``.gsd`` file.
        keep: Which frames to yield; the others are not read, and reading stops
            after the last selected one.

    Yields:
        :class:`Frame` with positions (N, 3), ``types`` (N,), the GSD type names, the
        box (2D when ``configuration.dimensions == 2``), ``step`` and
        ``native`` = the ``gsd.hoomd.Frame``.

    Raises:
        InputError: Missing, truncated or corrupt file (naming the frame).
    """
    with _open(path) as traj:
        for index in range(len(traj)):
            if keep.done(index):
                return
            if not keep(index):
                continue
            source = f"{path}, frame {index}"
            try:
                snap = traj[index]
            except (RuntimeError, OSError, ValueError, KeyError) as err:
                raise InputError(f"{source}: cannot read the GSD frame ({err}); is the file truncated?") from err
            yield frame_from_gsd(snap, source)


def gsd_frame_from(frame: Frame):
    """A new ``gsd.hoomd.Frame`` holding ``frame``'s box, particles and step.

    Positions are wrapped into HOOMD's centred box; the periodic images go to
    ``particles.image`` (N, 3) int32.
    """
    import gsd.hoomd

    snap = gsd.hoomd.Frame()
    box = frame.box.to_hoomd()
    if frame.box.is2D:
        box[2] = box[4] = box[5] = 0.0  # HOOMD's 2D boxes have Lz = 0
    snap.configuration.box = np.array(box, dtype=np.float32)
    snap.configuration.dimensions = 2 if frame.box.is2D else 3
    snap.configuration.step = 0 if frame.step is None else int(frame.step)
    wrapped, image = hoomd_positions(frame.box, frame.positions)
    snap.particles.N = frame.N
    snap.particles.position = wrapped.astype(np.float32)
    snap.particles.image = image
    snap.particles.types = [str(t) for t in frame.type_names]
    snap.particles.typeid = frame.types.astype(np.uint32)
    return snap


def _native_gsd(frame: Frame):
    """The frame's GSD record when it still matches the frame, else ``None``."""
    import gsd.hoomd

    snap = frame.native
    if not isinstance(snap, gsd.hoomd.Frame) or int(snap.particles.N) != frame.N:
        return None
    if frame.N and not np.array_equal(np.asarray(snap.particles.position, dtype=np.float64), frame.positions):
        return None
    return snap


class GSDLabelWriter(LabelWriter):
    """Write labelled frames to a GSD file (atomically; see :class:`AtomicFile`).

    A frame read from GSD is copied through with all its data (velocities, bonds,
    logs...); other frames are converted with :func:`gsd_frame_from`. Each frame gets
    per-particle logs ``keys.GSD_LABEL`` (int32, (N,)), ``keys.GSD_CONFIDENCE``
    (float32, (N,)), optionally ``keys.GSD_PROBABILITIES`` (float32, (N, C)), and
    ``keys.GSD_CLASS_NAMES`` (JSON list of the C names, str).

    Args:
        path: Output ``.gsd`` file.
        class_names: Name of each class index, length C.
        write_probabilities: Also store the probabilities.
    """

    def _open(self, tmp_path: str) -> None:
        import gsd.hoomd

        self._traj = gsd.hoomd.open(tmp_path, mode="w")

    def _close(self) -> None:
        self._traj.close()

    def _snapshot(self, frame):
        """A new ``gsd.hoomd.Frame`` for ``frame`` without md_orderml logs."""
        import gsd.hoomd

        native = _native_gsd(frame)
        if native is None:
            snap = gsd_frame_from(frame)
        else:
            snap = gsd.hoomd.Frame()
            for part in ("configuration", "particles", "bonds", "angles", "dihedrals",
                         "impropers", "constraints", "pairs"):
                setattr(snap, part, getattr(native, part))
            snap.log = {k: v for k, v in native.log.items() if k not in _OUR_LOGS}
        return snap

    def _write(self, frame, labels, confidence, probabilities) -> None:
        snap = self._snapshot(frame)
        snap.log[LABEL_LOG] = labels
        snap.log[CONFIDENCE_LOG] = confidence
        if probabilities is not None:
            snap.log[PROBABILITIES_LOG] = probabilities
        snap.log[CLASS_NAMES_LOG] = json.dumps(self.class_names)
        self._traj.append(snap)


class GSDValueWriter(ValueWriter, GSDLabelWriter):
    """Write frames with per-particle regression values to a GSD file (atomically).

    Like :class:`GSDLabelWriter`, with the per-particle log ``keys.GSD_VALUES``
    (float32, (N, S)) and ``keys.GSD_VALUE_NAMES`` (JSON list of the S names) instead of
    the label logs (OVITO shows ``md_orderml_values``).

    Args:
        path: Output ``.gsd`` file.
        value_names: Name of each value, length S.
    """

    def _write_values(self, frame, values) -> None:
        snap = self._snapshot(frame)
        snap.log[VALUES_LOG] = values
        snap.log[VALUE_NAMES_LOG] = json.dumps(self.value_names)
        self._traj.append(snap)


def read_gsd_values(snap) -> dict:
    """The regression values stored in one ``gsd.hoomd.Frame`` by :class:`GSDValueWriter` or by
    ``md_orderml.engines.hoomd.OrderMLLabels`` (regression model) through ``hoomd.write.GSD``.

    Returns:
        Dict with ``"values"`` (N, S) float32 and ``"value_names"`` (list of S str).
    """
    log = snap.log
    if VALUES_LOG not in log:
        raise InputError("the GSD frame has no md_orderml values")
    values = np.asarray(log[VALUES_LOG], dtype=np.float32)
    names = _class_names(log[VALUE_NAMES_LOG]) if VALUE_NAMES_LOG in log else []
    return dict(values=values.reshape(len(values), -1), value_names=names)


def _class_names(value) -> List[str]:
    """Class names from a GSD log: a JSON str (:class:`GSDLabelWriter`) or the int8
    NUL-padded rows that ``hoomd.write.GSD`` writes for a ``strings`` loggable."""
    if isinstance(value, str):
        return list(json.loads(value))
    rows = np.atleast_2d(np.asarray(value, dtype=np.int8))
    return [row.tobytes().split(b"\0", 1)[0].decode("utf-8") for row in rows]


def read_gsd_labels(snap) -> dict:
    """The labels stored in one ``gsd.hoomd.Frame`` by :class:`GSDLabelWriter` or by
    ``md_orderml.engines.hoomd.OrderMLLabels`` through ``hoomd.write.GSD`` (same paths).

    Returns:
        Dict with ``"labels"`` (N,) int32, ``"confidence"`` (N,) float32,
        ``"probabilities"`` (N, C) float32 or ``None`` and ``"class_names"`` (list of str).
    """
    log = snap.log
    if LABEL_LOG not in log:
        raise InputError("the GSD frame has no md_orderml labels")
    names: List[str] = _class_names(log[CLASS_NAMES_LOG]) if CLASS_NAMES_LOG in log else []
    probabilities: Optional[np.ndarray] = log.get(PROBABILITIES_LOG)
    return dict(labels=np.asarray(log[LABEL_LOG]), confidence=np.asarray(log[CONFIDENCE_LOG]),
                probabilities=None if probabilities is None else np.asarray(probabilities),
                class_names=names)
