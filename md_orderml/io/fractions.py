"""Per-frame class fractions (or regression value means) as CSV: one row per frame."""

from __future__ import annotations

import csv
import os
from typing import Optional, Sequence

import numpy as np

from md_orderml.errors import InputError
from md_orderml.frame import Frame
from md_orderml.io._common import AtomicFile


class FractionsCSV(AtomicFile):
    """Write the fraction of particles in each class, one CSV row per frame (atomically).

    Columns: ``frame, step, N`` and one column per class name. A fraction is the
    number of particles with that label divided by N; unlabelled particles (label
    -1) count in no class. ``step`` is empty when unknown.

    Args:
        path: Output ``.csv`` file.
        class_names: Name of each class index, length C.
        write_probabilities: Accepted for a common signature with the label writers; unused.

    Example:
        >>> with FractionsCSV("fractions.csv", ["fcc", "bcc"]) as out:  # doctest: +SKIP
        ...     out.write(frame, labels, confidence)
    """

    def __init__(self, path, class_names: Sequence[str], write_probabilities: bool = False):
        self.class_names = [str(n) for n in class_names]
        if not self.class_names:
            raise InputError(f"{os.fspath(path)}: no class names given")
        self.frames_written = 0
        super().__init__(path)

    def _open(self, tmp_path: str) -> None:
        self._fh = open(tmp_path, "w", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(["frame", "step", "N"] + self.class_names)

    def _close(self) -> None:
        self._fh.close()

    def write(self, frame: Frame, labels, confidence=None, probabilities=None,
              index: Optional[int] = None) -> None:
        """Append the row of one frame.

        Args:
            frame: The labelled frame, N particles.
            labels: Class index per particle, shape (N,) int; -1 means unlabelled.
            confidence: Unused (common signature with the label writers).
            probabilities: Unused.
            index: Frame index written in the ``frame`` column; defaults to the
                number of rows written so far.
        """
        if self.closed:
            raise InputError(f"{self.path}: the writer is already closed")
        labels = np.asarray(labels)
        c = len(self.class_names)
        if labels.shape != (frame.N,) or not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"{self.path}: {frame.source}: labels must be integers of shape "
                             f"({frame.N},), got {labels.dtype} {labels.shape}")
        if labels.size and (labels.min() < -1 or labels.max() >= c):
            raise InputError(f"{self.path}: {frame.source}: labels outside [-1, {c})")
        counts = np.bincount(labels[labels >= 0], minlength=c)
        fractions = counts / frame.N if frame.N else np.zeros(c)
        index = self.frames_written if index is None else int(index)
        step = "" if frame.step is None else int(frame.step)
        self._csv.writerow([index, step, frame.N] + [f"{f:.6f}" for f in fractions])
        self.frames_written += 1


class ValueMeansCSV(AtomicFile):
    """Write the mean of each regression value over the particles, one CSV row per frame (atomically).

    Columns: ``frame, step, N`` and one column per value name.

    Args:
        path: Output ``.csv`` file.
        value_names: Name of each value, length S.
        write_probabilities: Must be False (a common signature with the writers).
    """

    def __init__(self, path, value_names: Sequence[str], write_probabilities: bool = False):
        self.value_names = [str(n) for n in value_names]
        if not self.value_names:
            raise InputError(f"{os.fspath(path)}: no value names given")
        self.frames_written = 0
        super().__init__(path)

    def _open(self, tmp_path: str) -> None:
        self._fh = open(tmp_path, "w", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(["frame", "step", "N"] + self.value_names)

    def _close(self) -> None:
        self._fh.close()

    def write(self, frame: Frame, values, index: Optional[int] = None) -> None:
        """Append the row of one frame.

        Args:
            frame: The frame, N particles.
            values: Per-particle values, shape (N, S).
            index: Frame index written in the ``frame`` column (default: rows so far).
        """
        if self.closed:
            raise InputError(f"{self.path}: the writer is already closed")
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (frame.N, len(self.value_names)):
            raise InputError(f"{self.path}: {frame.source}: values have shape {values.shape}, "
                             f"expected ({frame.N}, {len(self.value_names)})")
        means = values.mean(axis=0) if frame.N else np.full(len(self.value_names), np.nan)
        index = self.frames_written if index is None else int(index)
        step = "" if frame.step is None else int(frame.step)
        self._csv.writerow([index, step, frame.N] + [f"{m:.7g}" for m in means])
        self.frames_written += 1
