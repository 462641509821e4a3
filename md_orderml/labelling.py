"""Label whole trajectories: read frames, classify, write labels, fractions and a plot.

A regression model file (e.g. a propensity model) writes per-particle values instead of
labels, per-frame means instead of class fractions, and plots the means.

Serial use reads one frame at a time. Under ``mpirun -np P`` (with mpi4py), frame
``i`` is labelled by rank ``i % P``; rank 0 streams the input in order, receives each
frame's labels from its owner and writes one ordered output identical to the serial
one. Any error (a bad frame on any rank) removes every partial output.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from md_orderml import keys
from md_orderml.analysis import OrderML
from md_orderml.errors import InputError
from md_orderml.io import open_label_writer, open_trajectory, open_value_writer


@dataclasses.dataclass
class LabelRun:
    """What a labelling run produced.

    Attributes:
        frames: Number of frames labelled.
        particles: Total particles labelled.
        class_names: Class names of the model (empty for a regression model).
        fractions: Class fractions per frame, shape (frames, C) ((frames, 0) for regression).
        steps: Time step of each frame (-1 if unknown), shape (frames,).
        outputs: Paths written.
        task: ``"classification"`` or ``"regression"``.
        value_names: Regression models: the S value names.
        means: Regression models: mean of each value per frame, shape (frames, S); else None.
    """

    frames: int
    particles: int
    class_names: List[str]
    fractions: np.ndarray
    steps: np.ndarray
    outputs: List[str]
    task: str = keys.CLASSIFICATION
    value_names: List[str] = dataclasses.field(default_factory=list)
    means: Optional[np.ndarray] = None


def mpi_world():
    """The MPI world communicator when launched by mpirun with several ranks, else None."""
    launched = any(k in os.environ for k in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"))
    if not launched:
        return None
    from md_orderml.mpi import load_mpi

    load_mpi()
    from mpi4py import MPI

    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def _label_frame(classifier: OrderML, frame) -> Dict[str, np.ndarray]:
    classifier.compute(frame)
    if classifier.is_regression:
        return {keys.VALUES: classifier.values}
    return {
        keys.LABEL: classifier.labels,
        keys.CONFIDENCE: classifier.confidence,
        keys.PROBABILITIES: classifier.probabilities,
    }


def _worker(classifier, path, fmt, comm, selection) -> None:
    """Label this rank's frames and send each to rank 0 (tag = frame position)."""
    rank, size = comm.Get_rank(), comm.Get_size()
    with open_trajectory(path, fmt, **selection) as traj:
        for i, frame in enumerate(traj):
            if i % size != rank:
                continue
            try:
                result = _label_frame(classifier, frame)
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
        output: Labelled output (``.gsd``, ``.dump``/``.lammpstrj``, ``.xyz``), or None.
            With a regression model it holds the values (see
            :func:`md_orderml.io.open_value_writer`).
        model: Model file path or ``"default"``.
        fractions_csv: CSV of class fractions per frame (regression: value means), or None.
        plot: PNG of fractions (regression: value means) vs frame, or None.
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
    regression = classifier.is_regression
    if regression and probabilities:
        from md_orderml.analysis import wrong_task_message

        raise InputError(wrong_task_message(classifier.model, keys.PROBABILITIES))
    selection = dict(start=start, stop=stop, stride=stride)
    if comm is not None and comm.Get_rank() != 0:
        _worker(classifier, path, fmt, comm, selection)
        return None
    size = 1 if comm is None else comm.Get_size()
    names = classifier.value_names if regression else classifier.class_names
    writers, csv_writer = [], None
    if output is not None:
        writers.append(open_value_writer(output, names, out_fmt) if regression else
                       open_label_writer(output, names, out_fmt, write_probabilities=probabilities))
    if fractions_csv is not None:
        csv_writer = open_value_writer(fractions_csv, names, "csv") if regression else \
            open_label_writer(fractions_csv, names, "csv")
        writers.append(csv_writer)
    fractions, steps, n_particles = [], [], 0
    try:
        from tqdm.auto import tqdm

        with open_trajectory(path, fmt, **selection) as traj:
            total = traj.count() if progress else None
            for i, frame in enumerate(tqdm(traj, total=total, disable=not progress, desc="labelling", unit="frame")):
                result = _label_frame(classifier, frame) if i % size == 0 else comm.recv(source=i % size, tag=i)
                if isinstance(result, Exception):
                    raise result
                if regression:
                    values = result[keys.VALUES]
                    for writer in writers:
                        if writer is csv_writer:
                            writer.write(frame, values, index=start + i * stride)
                        else:
                            writer.write(frame, values)
                    fractions.append(values.mean(axis=0) if frame.N else np.full(len(names), np.nan))
                    steps.append(-1 if frame.step is None else int(frame.step))
                    n_particles += frame.N
                    continue
                probs = result[keys.PROBABILITIES] if probabilities else None
                for writer in writers:
                    if writer is csv_writer:  # its frame column is the input frame index
                        writer.write(frame, result[keys.LABEL], index=start + i * stride)
                    else:
                        writer.write(frame, result[keys.LABEL], result[keys.CONFIDENCE], probs)
                counts = np.bincount(result[keys.LABEL], minlength=len(names))
                fractions.append(counts / max(frame.N, 1))
                steps.append(-1 if frame.step is None else int(frame.step))
                n_particles += frame.N
        if not fractions:
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
    fractions = np.array(fractions)
    steps = np.array(steps)
    if plot is not None:
        from md_orderml.plotting import plot_fractions, plot_means

        use_steps = (steps >= 0).all()
        x = steps if use_steps else np.arange(len(steps))
        outputs.append((plot_means if regression else plot_fractions)(
            x, fractions, names, plot, "time step" if use_steps else "frame", title=Path(path).name))
    if regression:
        return LabelRun(len(fractions), n_particles, [], np.zeros((len(fractions), 0)), steps, outputs,
                        task=keys.REGRESSION, value_names=list(names), means=fractions)
    return LabelRun(len(fractions), n_particles, names, fractions, steps, outputs)
