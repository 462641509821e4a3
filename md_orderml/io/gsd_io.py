"""HOOMD-blue GSD trajectories: a streaming reader, the writer and the reader of per-particle outputs.

Each per-particle output ``key`` is stored as the per-particle log chunk
``keys.GSD_PREFIX + key`` (:data:`md_orderml.keys.GSD_LABEL`, ``GSD_CONFIDENCE``, optionally
``GSD_PROBABILITIES``; regression models: ``GSD_VALUES``), and the names as a JSON string
in :data:`md_orderml.keys.GSD_CLASS_NAMES` (regression: ``GSD_VALUE_NAMES``), and the model
file's SHA-256 as the string :data:`md_orderml.keys.GSD_MODEL_SHA256` when known. OVITO shows
the per-particle logs as the properties ``md_orderml_label``, ``md_orderml_confidence``,
``md_orderml_probabilities`` (``md_orderml_values``) and the names as the global
attribute ``md_orderml/class_names`` (``md_orderml/value_names``).

HOOMD-blue boxes are periodic in every direction, so frames read from GSD are, unless the
reader's ``pbc=`` argument (``md-orderml label --pbc``) says otherwise or the frame carries
md_orderml's own flags: GSD has no place for open directions, so a frame written from an
open one keeps its box, its positions are wrapped into it as HOOMD's are, and its flags go
to the log entry :data:`md_orderml.keys.GSD_PBC` (uint8 (3,)), which this reader takes.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np

from md_orderml import keys
from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame
from md_orderml.io._common import ALL_FRAMES, FrameSelection, check_exists, hoomd_positions
from md_orderml.io.writer import OutputWriter
from md_orderml.outputs import STORED_DTYPES, OutputSpec

_LOG = "log/"


def _log_key(path: str) -> str:
    """A ``keys.GSD_*`` chunk path as a ``gsd.hoomd.Frame.log`` key (without ``log/``)."""
    return path[len(_LOG):] if path.startswith(_LOG) else path


#: ``gsd.hoomd.Frame.log`` key of each per-particle output.
PARTICLE_LOGS = {key: _log_key(keys.GSD_PREFIX + key)
                 for key in (keys.LABEL, keys.CONFIDENCE, keys.PROBABILITIES, keys.VALUES)}
#: ``gsd.hoomd.Frame.log`` key of the names, per task.
NAMES_LOGS = {keys.CLASSIFICATION: _log_key(keys.GSD_CLASS_NAMES), keys.REGRESSION: _log_key(keys.GSD_VALUE_NAMES)}
#: ``gsd.hoomd.Frame.log`` key of the model file's SHA-256.
SHA256_LOG = _log_key(keys.GSD_MODEL_SHA256)
PBC_LOG = _log_key(keys.GSD_PBC)  #: ``gsd.hoomd.Frame.log`` key of the periodic flags of open frames
_OUR_LOGS = tuple(PARTICLE_LOGS.values()) + tuple(NAMES_LOGS.values()) + (SHA256_LOG, PBC_LOG)


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
    flags = snap.log.get(PBC_LOG) if snap.log else None
    if flags is not None and np.shape(flags) == (3,):
        box = dataclasses.replace(box, periodic=tuple(bool(f) for f in flags))
    return Frame(positions=positions, box=box, types=types, type_names=names,
                 step=int(snap.configuration.step), source=source, native=snap)


def iter_gsd(path: str, keep: FrameSelection = ALL_FRAMES,
             pbc: Optional[Tuple[bool, bool, bool]] = None) -> Iterator[Frame]:
    """Yield the frames of a GSD file one at a time.

    Args:
        path: The ``.gsd`` file.
        keep: Which frames to yield; the others are not read, and reading stops
            after the last selected one.
        pbc: Periodic flags (x, y, z) of the frames; ``None``: the flags the frame carries
            (:data:`PBC_LOG`), else periodic (HOOMD's boxes are).

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
            frame = frame_from_gsd(snap, source)
            if pbc is not None:
                frame = frame.replace(box=dataclasses.replace(frame.box, periodic=tuple(pbc)))
            yield frame


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
    _write_flags(snap, frame)
    return snap


def _write_flags(snap, frame: Frame) -> None:
    """Store the frame's periodic flags in the log (:data:`PBC_LOG`) when a direction is open."""
    periodic = tuple(bool(p) for p in frame.box.periodic)
    if not all(periodic[:2] if frame.box.is2D else periodic):
        snap.log[PBC_LOG] = np.array(periodic, dtype=np.uint8)


def _native_gsd(frame: Frame):
    """The frame's GSD record when it still matches the frame, else ``None``."""
    import gsd.hoomd

    snap = frame.native
    if not isinstance(snap, gsd.hoomd.Frame) or int(snap.particles.N) != frame.N:
        return None
    if frame.N and not np.array_equal(np.asarray(snap.particles.position, dtype=np.float64), frame.positions):
        return None
    return snap


class GSDWriter(OutputWriter):
    """Write frames with their per-particle outputs to a GSD file (atomically; see :class:`AtomicFile`).

    A frame read from GSD is copied through with all its data (velocities, bonds,
    logs...) except earlier md_orderml logs; other frames are converted with
    :func:`gsd_frame_from`. Each frame gets one per-particle log per stored output
    (``keys.GSD_LABEL`` int32 (N,), ``keys.GSD_CONFIDENCE`` float32 (N,), optionally
    ``keys.GSD_PROBABILITIES`` float32 (N, C); regression models ``keys.GSD_VALUES``
    float32 (N, S)), the names as a JSON list (``keys.GSD_CLASS_NAMES`` or
    ``keys.GSD_VALUE_NAMES``) and, when the spec knows it, the model file's SHA-256
    (``keys.GSD_MODEL_SHA256``, a string).

    Args:
        path: Output ``.gsd`` file.
        spec: The model's outputs (see :class:`~md_orderml.io.writer.OutputWriter`).
        write_probabilities: Also store the probabilities.
    """

    def _open(self, tmp_path: str) -> None:
        import gsd.hoomd

        self._traj = gsd.hoomd.open(tmp_path, mode="w")

    def _close(self) -> None:
        self._traj.close()

    def _write(self, frame: Frame, arrays: Mapping[str, np.ndarray], index: int) -> None:
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
            _write_flags(snap, frame)
        for key in self.keys:
            snap.log[PARTICLE_LOGS[key]] = arrays[key]
        snap.log[NAMES_LOGS[self.spec.task]] = json.dumps(list(self.spec.summary_names))
        if self.spec.model_sha256:
            snap.log[SHA256_LOG] = self.spec.model_sha256
        self._traj.append(snap)


def _names(value) -> List[str]:
    """Names from a GSD log: a JSON str (:class:`GSDWriter`) or the int8 NUL-padded rows
    that ``hoomd.write.GSD`` writes for a ``strings`` loggable."""
    if isinstance(value, str):
        return list(json.loads(value))
    rows = np.atleast_2d(np.asarray(value, dtype=np.int8))
    return [row.tobytes().split(b"\0", 1)[0].decode("utf-8") for row in rows]


def _string(value) -> str:
    """A string from a GSD log: a str (:class:`GSDWriter`) or the int8 bytes ``hoomd.write.GSD``
    writes for a ``string`` loggable."""
    if isinstance(value, str):
        return value
    return np.asarray(value, dtype=np.int8).tobytes().split(b"\0", 1)[0].decode("utf-8")


def read_gsd_outputs(snap) -> Tuple[Dict[str, np.ndarray], OutputSpec]:
    """The per-particle outputs stored in one ``gsd.hoomd.Frame`` by :class:`GSDWriter` or by
    ``md_orderml.engines.hoomd.OrderMLWriter`` through ``hoomd.write.GSD`` (same paths).

    Args:
        snap: The ``gsd.hoomd.Frame``, N particles.

    Returns:
        ``(outputs, spec)``: the arrays present by ``md_orderml.keys`` name (``label`` (N,)
        int32, ``confidence`` (N,) float32, ``probabilities`` (N, C) float32; regression:
        ``values`` (N, S) float32), and an :class:`OutputSpec` with the task, the stored
        names (empty when the file has none) and the model file's SHA-256 ("" when not stored).

    Raises:
        InputError: The frame has no md_orderml outputs.
    """
    log = snap.log
    task = keys.REGRESSION if PARTICLE_LOGS[keys.VALUES] in log else keys.CLASSIFICATION
    if task == keys.CLASSIFICATION and PARTICLE_LOGS[keys.LABEL] not in log:
        raise InputError("the GSD frame has no md_orderml outputs (labels or values)")
    n = int(snap.particles.N)
    outputs = {}
    for key, path in PARTICLE_LOGS.items():
        if path in log:
            array = np.asarray(log[path]).astype(STORED_DTYPES[key], copy=False)
            outputs[key] = array.reshape(n) if key in (keys.LABEL, keys.CONFIDENCE) else array.reshape(n, -1)
    names_log = NAMES_LOGS[task]
    names = _names(log[names_log]) if names_log in log else []
    spec = OutputSpec.named(task, names)
    if SHA256_LOG in log:
        spec = dataclasses.replace(spec, model_sha256=_string(log[SHA256_LOG]))
    return outputs, spec
