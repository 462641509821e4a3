"""Label whole trajectories: read frames, run the model, write its outputs, the per-frame summary and a plot.

What is written follows the model file (:class:`~md_orderml.outputs.OutputSpec`): a
classification model gives labels, confidences (and probabilities) and per-frame class
fractions; a regression model (e.g. a propensity model) gives per-particle values and
per-frame value means.

Serial use reads one frame at a time. Under ``mpirun -np P`` (with mpi4py), frame
``i`` is labelled by rank ``i % P``; rank 0 streams the input in order, receives each
frame's outputs from its owner and writes one ordered output identical to the serial
one. Any error (a bad frame on any rank) removes every partial output.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from md_orderml.analysis import OrderML
from md_orderml.errors import InputError
from md_orderml.io import open_trajectory, open_writer
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


def _outputs_of(classifier: OrderML, frame, keys) -> Dict[str, np.ndarray]:
    """The per-particle arrays ``keys`` of one frame (what ranks send to rank 0)."""
    outputs = classifier.compute(frame).outputs
    return {key: outputs[key] for key in keys}


def _worker(classifier, keys, path, fmt, comm, selection) -> None:
    """Label this rank's frames and send each one's arrays ``keys`` to rank 0 (tag = frame position)."""
    rank, size = comm.Get_rank(), comm.Get_size()
    with open_trajectory(path, fmt, **selection) as traj:
        for i, frame in enumerate(traj):
            if i % size != rank:
                continue
            try:
                result = _outputs_of(classifier, frame, keys)
            except InputError as err:
                result = err
            comm.send(result, dest=0, tag=i)
            if isinstance(result, Exception):
                return


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

    Returns:
        A :class:`LabelRun` on rank 0 (None on other ranks).

    Raises:
        InputError: A bad frame or file; no output file is left behind. Probabilities
            asked of a regression model.
    """
    classifier = OrderML(model, device=device, type_map=type_map)
    spec = OutputSpec.of(classifier)
    keys = spec.stored_keys(probabilities)
    selection = dict(start=start, stop=stop, stride=stride)
    if comm is not None and comm.Get_rank() != 0:
        _worker(classifier, keys, path, fmt, comm, selection)
        return None
    size = 1 if comm is None else comm.Get_size()
    writers = []
    if output is not None:
        writers.append(open_writer(output, spec, out_fmt, write_probabilities=probabilities))
    if fractions_csv is not None:
        writers.append(open_writer(fractions_csv, spec, "csv"))
    table, steps, n_particles = [], [], 0
    try:
        from tqdm.auto import tqdm

        with open_trajectory(path, fmt, **selection) as traj:
            total = traj.count() if progress else None
            for i, frame in enumerate(tqdm(traj, total=total, disable=not progress, desc="labelling", unit="frame")):
                result = (_outputs_of(classifier, frame, keys) if i % size == 0
                          else comm.recv(source=i % size, tag=i))
                if isinstance(result, Exception):
                    raise result
                for writer in writers:  # the summary CSV's frame column is the input frame index
                    writer.write(frame, result, index=start + i * stride)
                table.append(list(spec.frame_summary(result).values()))
                steps.append(-1 if frame.step is None else int(frame.step))
                n_particles += frame.N
        if not table:
            raise InputError(f"{path}: no frames selected")
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        if comm is not None:
            print(f"md-orderml: error on rank 0: {sys.exc_info()[1]}", file=sys.stderr, flush=True)
            comm.Abort(1)
        raise
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
