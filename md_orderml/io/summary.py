"""The per-frame summary as CSV, one row per frame: class fractions or regression value means."""

from __future__ import annotations

import csv
from typing import Mapping

import numpy as np

from md_orderml import keys
from md_orderml.frame import Frame
from md_orderml.io.writer import OutputWriter

#: Number format of the summary columns per task.
SUMMARY_FORMATS = {keys.CLASSIFICATION: ".6f", keys.REGRESSION: ".7g"}


class SummaryCSV(OutputWriter):
    """Write each frame's summary (:meth:`OutputSpec.frame_summary
    <md_orderml.outputs.OutputSpec.frame_summary>`) as one CSV row (atomically).

    Columns: ``frame, step, N`` and one column per summary name: for a classification
    model the fraction of the N particles in each class (label -1 counts in none), for
    a regression model the mean of each value. ``frame`` is the ``index`` given to
    :meth:`write` (the frame's position in its input); ``step`` is empty when unknown.
    When the model file is known, a last column ``model_sha256`` repeats its SHA-256 on
    every row (a column, not a comment line, so that every CSV reader reads the table).

    Args:
        path: Output ``.csv`` file.
        spec: The model's outputs (:class:`~md_orderml.outputs.OutputSpec`, a model file
            or an :class:`~md_orderml.analysis.OrderML`).
        write_probabilities: Accepted for a common signature with the other writers; unused.

    Example:
        >>> with SummaryCSV("fractions.csv", OutputSpec.classification(["fcc", "bcc"])) as out:  # doctest: +SKIP
        ...     out.write(frame, {"label": labels}, index=0)
    """

    def _stored_keys(self, write_probabilities: bool) -> tuple:
        return (self.spec.summary_key,)

    def _open(self, tmp_path: str) -> None:
        self._fh = open(tmp_path, "w", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(["frame", "step", "N"] + list(self.spec.summary_names)
                           + (["model_sha256"] if self.spec.model_sha256 else []))

    def _close(self) -> None:
        self._fh.close()

    def _write(self, frame: Frame, arrays: Mapping[str, np.ndarray], index: int) -> None:
        fmt = SUMMARY_FORMATS[self.spec.task]
        summary = self.spec.frame_summary(arrays)
        step = "" if frame.step is None else int(frame.step)
        self._csv.writerow([index, step, frame.N] + [format(v, fmt) for v in summary.values()]
                           + ([self.spec.model_sha256] if self.spec.model_sha256 else []))
