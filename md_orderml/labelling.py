"""Label whole trajectories: read frames, run the model, write its outputs, the per-frame summary and a plot.

What is written follows the model file (:class:`~md_orderml.outputs.OutputSpec`): a
classification model gives labels, confidences (and probabilities) and per-frame class
fractions; a regression model (e.g. a propensity model) gives per-particle values and
per-frame value means.

Serial use reads one frame at a time. Under ``mpirun -np P`` (with mpi4py), frame
``i`` is labelled by rank ``i % P``; rank 0 streams the input in order, receives each
frame's outputs from its owner and writes one ordered output identical to the serial
one. Any error (a bad frame on any rank) removes every partial output; rank 0 raises it
(whichever rank found it), stops the others, takes their pending messages and tells
them the outcome, so every rank ends cleanly (no ``MPI_Abort``) and ``md-orderml``
prints the error once.

A :class:`Subset` (``md-orderml label --types/--mask``) labels some particles of each
frame; the others still serve as neighbours.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from md_orderml.analysis import OrderML
from md_orderml.errors import InputError, ReportedElsewhere
from md_orderml.io import SummaryCSV, open_trajectory, open_writer
from md_orderml.outputs import OutputSpec


@dataclasses.dataclass
class LabelRun:
    """What a labelling run produced.

    Attributes:
        frames: Number of frames labelled.
        particles: Total particles labelled.
        spec: The model's outputs (task, class or value names).
        summary_table: The per-frame summary, shape (frames, K), columns
            ``spec.summary_names``: class fractions (classification) or value means (regression).
        steps: Time step of each frame (-1 if unknown), shape (frames,).
        outputs: Paths written.
    """

    frames: int
    particles: int
    spec: OutputSpec
    summary_table: np.ndarray
    steps: np.ndarray
    outputs: List[str]

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return self.spec.task

    @property
    def class_names(self) -> List[str]:
        """Class names of the model (empty for a regression model)."""
        return list(self.spec.class_names)

    @property
    def value_names(self) -> List[str]:
        """Value names of a regression model (empty for a classification model)."""
        return list(self.spec.value_names)

    def mean_summary(self) -> Dict[str, float]:
        """The per-frame summary averaged over the frames, by class (value) name."""
        return dict(zip(self.spec.summary_names, self.summary_table.mean(axis=0).tolist()))


def mpi_world():
    """The MPI world communicator when launched by mpirun with several ranks, else None."""
    launched = any(k in os.environ for k in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"))
    if not launched:
        return None
    from md_orderml.mpi import load_mpi

    load_mpi()
    from mpi4py import MPI

    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


#: Message tags of the MPI protocol: a frame's result ``(position, result)``, a worker's
#: error, a worker's last message, rank 0's request to stop.
_TAG_RESULT, _TAG_ERROR, _TAG_DONE, _TAG_STOP = 11, 12, 13, 14


@dataclasses.dataclass(frozen=True)
class Subset:
    """Which particles of each frame to label (``md-orderml label --types/--mask``).

    The others still serve as neighbours; in outputs they get label -1 and NaN
    confidences, probabilities and values, and the per-frame summary leaves them out.

    Attributes:
        types: Type names as the file gives them (before any type map), or empty for all.
        mask: Particles to label, shape (N,) bool, in file order, or None for all.
        mask_source: Where the mask came from (for error messages).
    """

    types: Tuple[str, ...] = ()
    mask: Optional[np.ndarray] = None
    mask_source: str = "mask"

    @property
    def everything(self) -> bool:
        """Whether every particle is labelled."""
        return not self.types and self.mask is None

    def of(self, frame) -> np.ndarray:
        """The particles of ``frame`` to label, shape (N,) bool.

        Raises:
            InputError: A type name the frame does not have, or a mask of another length.
        """
        selected = np.ones(frame.N, dtype=bool)
        if self.types:
            names = [str(n) for n in frame.type_names]
            unknown = [t for t in self.types if t not in names]
            if unknown:
                raise InputError(f"{frame.source}: --types {','.join(unknown)}: the frame's types are "
                                 f"{', '.join(names)}")
            wanted = np.array([n in self.types for n in names], dtype=bool)
            selected &= wanted[frame.types]
        if self.mask is not None:
            if self.mask.shape != (frame.N,):
                raise InputError(f"{frame.source}: the mask {self.mask_source} has {len(self.mask)} entries "
                                 f"for {frame.N} particles")
            selected &= self.mask
        return selected


def read_mask(path) -> np.ndarray:
    """A particle mask file: ``.npy`` (bool or 0/1, shape (N,)) or text of N values 0/1 (or true/false).

    Args:
        path: The mask file.

    Returns:
        The mask, shape (N,) bool.

    Raises:
        InputError: A missing file, or values other than 0/1/true/false.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such mask file")
    try:
        if path.endswith(".npy"):
            values = np.load(path, allow_pickle=False).reshape(-1)
        else:
            with open(path) as fh:
                words = fh.read().replace(",", " ").split()
            table = {"1": 1, "0": 0, "true": 1, "false": 0, "t": 1, "f": 0}
            values = np.array([table[w.lower()] for w in words])
    except (KeyError, ValueError, OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: a mask holds one 0/1 (or true/false) per particle ({type(err).__name__}: "
                         f"{err})") from None
    if values.dtype != bool and not np.isin(values, (0, 1)).all():
        raise InputError(f"{path}: a mask holds one 0/1 (or true/false) per particle")
    return values.astype(bool)


def _frame_result(classifier: OrderML, spec: OutputSpec, frame, keys, subset: Subset) -> tuple:
    """``(arrays, part, selected)`` of one frame (what ranks send to rank 0).

    ``arrays``: the per-particle arrays ``keys`` of all N particles (unselected ones: label
    -1, NaN elsewhere); ``part``: the arrays of the M selected particles only (the
    per-frame summary counts these); ``selected``: the (N,) bool selection, or None when
    every particle is labelled (then ``part`` is ``arrays``).
    """
    if subset.everything:
        outputs = classifier.compute(frame).outputs
        arrays = {key: outputs[key] for key in keys}
        return arrays, arrays, None
    selected = subset.of(frame)
    if selected.any():
        outputs = classifier.compute(frame, owned=selected).outputs
        part = {key: outputs[key] for key in keys}
    else:
        part = {key: value for key, value in spec.empty().items() if key in keys}
    arrays = {}
    for key in keys:
        value = np.asarray(part[key])
        if key == "label":
            full = np.full((frame.N,) + value.shape[1:], -1, dtype=value.dtype)
        else:
            full = np.full((frame.N,) + value.shape[1:], np.nan, dtype=np.float32)
        full[selected] = value
        arrays[key] = full
    return arrays, part, selected


def _selected_frame(frame, selected):
    """The frame itself, or (for the summary CSV, whose N column counts the labelled
    particles) a copy holding only the ``selected`` particles."""
    if selected is None:
        return frame
    return frame.replace(positions=frame.positions[selected], types=frame.types[selected], native=None)


def _worker(classifier, spec, keys, path, fmt, comm, selection, subset) -> None:
    """Label this rank's frames and send each result to rank 0 (in order, with the frame's position).

    Ends with a ``_TAG_DONE`` message; an error is sent first with ``_TAG_ERROR``. Stops
    early when rank 0 sends ``_TAG_STOP``.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    try:
        with open_trajectory(path, fmt, **selection) as traj:
            for i, frame in enumerate(traj):
                if comm.Iprobe(source=0, tag=_TAG_STOP):
                    break
                if i % size == rank:
                    comm.send((i, _frame_result(classifier, spec, frame, keys, subset)), dest=0, tag=_TAG_RESULT)
    except Exception as err:  # rank 0 reports it (if rank 0 itself does not fail first)
        comm.send(_sendable(err), dest=0, tag=_TAG_ERROR)
    finally:
        comm.send(None, dest=0, tag=_TAG_DONE)


def _sendable(err: BaseException) -> BaseException:
    """``err`` if it pickles, else a RuntimeError with its text."""
    import pickle

    try:
        pickle.dumps(err)
        return err
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")


def _receive(comm, source: int, position: int, done: set):
    """The next message of ``source``: the result of the frame at ``position``, or raise the
    error it sent (a worker that ended early is added to ``done``)."""
    from mpi4py import MPI

    status = MPI.Status()
    message = comm.recv(source=source, tag=MPI.ANY_TAG, status=status)
    if status.Get_tag() == _TAG_ERROR:
        raise message
    if status.Get_tag() == _TAG_DONE:
        done.add(source)
    if status.Get_tag() != _TAG_RESULT or message[0] != position:
        raise RuntimeError(f"rank {source} sent message {status.Get_tag()} while frame {position} was expected")
    return message[1]


def _finish_workers(comm, failed: bool, done: set) -> None:
    """Rank 0: stop the workers if ``failed``, take every message they still send, and
    tell them the outcome (they raise :class:`ReportedElsewhere` on failure)."""
    from mpi4py import MPI

    if failed:
        for r in range(1, comm.Get_size()):
            comm.send(None, dest=r, tag=_TAG_STOP)
    status = MPI.Status()
    for r in range(1, comm.Get_size()):
        while r not in done:
            comm.recv(source=r, tag=MPI.ANY_TAG, status=status)
            if status.Get_tag() == _TAG_DONE:
                done.add(r)
    comm.bcast(failed, root=0)


def _worker_outcome(comm) -> None:
    """A worker: wait for rank 0's outcome; on failure take its stop message and raise silently."""
    if comm.bcast(None, root=0):
        comm.recv(source=0, tag=_TAG_STOP)
        raise ReportedElsewhere("reported by rank 0")


def _agree(comm, error: Optional[BaseException]) -> None:
    """Every rank reports whether its setup failed; all raise if any did (rank 0 the first error)."""
    errors = comm.allgather(None if error is None else _sendable(error))
    first = next((e for e in errors if e is not None), None)
    if first is None:
        return
    if comm.Get_rank() == 0:
        raise first
    raise ReportedElsewhere("reported by rank 0")


def label_trajectory(
    path,
    output=None,
    model="default",
    fractions_csv=None,
    plot=None,
    probabilities: bool = False,
    fmt: Optional[str] = None,
    out_fmt: Optional[str] = None,
    start: int = 0,
    stop: Optional[int] = None,
    stride: int = 1,
    device: str = "cpu",
    type_map: Optional[Dict[str, str]] = None,
    progress: bool = True,
    comm=None,
    subset: Optional[Subset] = None,
    pbc: Optional[Tuple[bool, bool, bool]] = None,
) -> Optional[LabelRun]:
    """Label every selected frame of a trajectory.

    Args:
        path: Input GSD, LAMMPS dump or (extended) XYZ file.
        output: Output with the model's per-particle outputs (``.gsd``, ``.dump``/
            ``.lammpstrj``, ``.xyz``; see :func:`md_orderml.io.open_writer`), or None.
        model: Model file path or ``"default"``.
        fractions_csv: CSV of the per-frame summary (class fractions; regression: value
            means), or None.
        plot: PNG of the per-frame summary vs frame, or None.
        probabilities: Also write per-class probabilities (classification models only).
        fmt, out_fmt: Force input/output formats.
        start, stop, stride: Frame selection.
        device: ``"cpu"`` or ``"cuda"``.
        type_map: Frame type name -> model type name, for typed models.
        progress: Show a progress bar (rank 0).
        comm: An mpi4py communicator to split frames over (None = serial).
        subset: Label only these particles of each frame (:class:`Subset`); None = all.
        pbc: Which directions (x, y, z) are periodic, instead of what the file says (see
            :func:`md_orderml.io.open_trajectory`); None = the file's flags. The outputs
            record the flags used (dump ``BOX BOUNDS``, XYZ ``pbc=``).

    Returns:
        A :class:`LabelRun` on rank 0 (None on other ranks).

    Raises:
        InputError: A bad frame or file; no output file is left behind. Probabilities
            asked of a regression model. Under MPI rank 0 raises the error (whichever rank
            found it) and the other ranks :class:`~md_orderml.errors.ReportedElsewhere`.
    """
    subset = subset or Subset()
    rank = 0 if comm is None else comm.Get_rank()
    writers: List = []
    setup_error = None
    try:
        classifier = OrderML(model, device=device, type_map=type_map)
        spec = OutputSpec.of(classifier)
        keys = spec.stored_keys(probabilities)
        if rank == 0:
            if output is not None:
                writers.append(open_writer(output, spec, out_fmt, write_probabilities=probabilities))
            if fractions_csv is not None:
                writers.append(open_writer(fractions_csv, spec, "csv"))
    except Exception as err:
        setup_error = err
    if comm is not None:
        try:
            _agree(comm, setup_error)
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
    elif setup_error is not None:
        raise setup_error
    selection = dict(start=start, stop=stop, stride=stride, pbc=pbc)
    if rank != 0:
        _worker(classifier, spec, keys, path, fmt, comm, selection, subset)
        _worker_outcome(comm)
        return None
    size = 1 if comm is None else comm.Get_size()
    table, steps, n_particles = [], [], 0
    error, done = None, set()
    try:
        from tqdm.auto import tqdm

        with open_trajectory(path, fmt, **selection) as traj:
            total = None
            if progress:
                try:
                    total = traj.count()
                except InputError:  # a damaged file: the frame that fails is reported below
                    total = None
            for i, frame in enumerate(tqdm(traj, total=total, disable=not progress, desc="labelling", unit="frame",
                                            leave=False)):
                owner = i % size
                if owner == 0:
                    arrays, part, selected = _frame_result(classifier, spec, frame, keys, subset)
                else:
                    arrays, part, selected = _receive(comm, owner, i, done)
                for writer in writers:  # the summary CSV's frame column is the input frame index
                    if isinstance(writer, SummaryCSV):
                        writer.write(_selected_frame(frame, selected), part, index=start + i * stride)
                    else:
                        writer.write(frame, arrays, index=start + i * stride)
                table.append(list(spec.frame_summary(part).values()))
                steps.append(-1 if frame.step is None else int(frame.step))
                n_particles += frame.N if selected is None else int(selected.sum())
        if not table:
            raise InputError(f"{path}: no frames selected")
        for writer in writers:
            writer.close()
    except Exception as err:
        error = err
    except BaseException:  # KeyboardInterrupt and the like: no clean protocol, end every rank
        for writer in writers:
            writer.abort()
        if comm is not None:
            comm.Abort(130)
        raise
    if error is not None:
        for writer in writers:
            writer.abort()
    if comm is not None:
        _finish_workers(comm, error is not None, done)
    if error is not None:
        raise error
    outputs = [str(w.path) for w in writers]
    table = np.array(table, dtype=np.float64).reshape(len(table), len(spec.summary_names))
    steps = np.array(steps)
    if plot is not None:
        from md_orderml.plotting import plot_summary

        use_steps = (steps >= 0).all()
        x = steps if use_steps else np.arange(len(steps))
        outputs.append(plot_summary(x, table, spec, plot, "time step" if use_steps else "frame",
                                    title=Path(path).name))
    return LabelRun(len(table), n_particles, spec, table, steps, outputs)
