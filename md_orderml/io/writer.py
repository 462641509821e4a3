"""The base of every writer of per-particle outputs (GSD, LAMMPS dump, extended XYZ, summary CSV).

A writer is made for one :class:`~md_orderml.outputs.OutputSpec` (the model's task and
names) and stores, per frame, the named per-particle arrays of
:meth:`OutputSpec.stored_keys <md_orderml.outputs.OutputSpec.stored_keys>`::

    with open_writer("labelled.gsd", OutputSpec.of(model)) as out:
        out.write(frame, {"label": labels, "confidence": confidence})

Output is atomic (:class:`~md_orderml.io._common.AtomicFile`).
"""

from __future__ import annotations

import os
from typing import Iterator, Mapping, Optional, Sequence

import numpy as np

from md_orderml import keys
from md_orderml.errors import InputError
from md_orderml.frame import Frame
from md_orderml.io._common import AtomicFile
from md_orderml.outputs import OutputSpec

#: Number format of each per-particle array in the text formats (dump, XYZ).
TEXT_FORMATS = {keys.LABEL: "d", keys.CONFIDENCE: ".6g", keys.PROBABILITIES: ".6g", keys.VALUES: ".7g"}


class OutputWriter(AtomicFile):
    """Base of the writers: validates each frame's named arrays, then stores them.

    Args:
        path: Output file.
        spec: The model's outputs (an :class:`OutputSpec`, a model file or an
            :class:`~md_orderml.analysis.OrderML`).
        write_probabilities: Also store the (N, C) class probabilities.

    Attributes:
        spec: The :class:`OutputSpec`.
        keys: The per-particle arrays stored per frame, in column order.
        frames_written: Frames written so far.

    Raises:
        InputError: No class (value) names, or probabilities asked of a regression model.
    """

    def __init__(self, path, spec, write_probabilities: bool = False):
        self.spec = OutputSpec.of(spec)
        where = os.fspath(path)
        if not self.spec.summary_names:
            raise InputError(f"{where}: no {self.spec.names_kind.replace('_', ' ')} given")
        try:
            self.keys = self._stored_keys(bool(write_probabilities))
        except InputError as err:
            raise InputError(f"{where}: {err}") from None
        self.frames_written = 0
        super().__init__(path)

    def _stored_keys(self, write_probabilities: bool) -> tuple:
        """The arrays this writer stores (the summary CSV overrides it)."""
        return self.spec.stored_keys(write_probabilities)

    def write(self, frame: Frame, outputs: Mapping[str, np.ndarray], index: Optional[int] = None) -> None:
        """Append one frame with its per-particle outputs.

        Args:
            frame: The frame, N particles (its ``native`` record is copied through when it
                comes from a reader of the same format).
            outputs: Per-particle arrays by ``md_orderml.keys`` name, at least :attr:`keys`:
                ``label`` (N,) int (-1 = not labelled), ``confidence`` (N,),
                ``probabilities`` (N, C) or ``values`` (N, S). Other entries are ignored.
            index: Position of the frame in its input (the summary CSV's ``frame``
                column; default: frames written so far). Per-particle formats ignore it.

        Raises:
            InputError: Closed writer, missing or misshapen arrays, write failure.
        """
        if self.closed:
            raise InputError(f"{self.path}: the writer is already closed")
        arrays = self.spec.check(outputs, frame.N, self.keys, f"{self.path}: {frame.source}")
        try:
            self._write(frame, arrays, self.frames_written if index is None else int(index))
        except InputError:
            raise
        except (OSError, ValueError, RuntimeError, TypeError) as err:
            raise InputError(f"{self.path}: cannot write {frame.source}: {err}") from err
        self.frames_written += 1

    def _write(self, frame: Frame, arrays: Mapping[str, np.ndarray], index: int) -> None:  # pragma: no cover
        raise NotImplementedError


class TextOutputWriter(OutputWriter):
    """Base of the text-format writers: one temporary text file."""

    def _open(self, tmp_path: str) -> None:
        self._fh = open(tmp_path, "w")

    def _close(self) -> None:
        self._fh.close()


def text_cells(arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> Iterator[str]:
    """The text of the arrays ``names`` (in that order), one string per particle.

    Args:
        arrays: Checked per-particle arrays (N,) or (N, K) by key.
        names: Keys to print, formatted with :data:`TEXT_FORMATS`.

    Yields:
        N strings of space-separated numbers (no leading space).
    """
    parts = []
    for key in names:
        array = arrays[key]
        fmt = TEXT_FORMATS[key]
        parts.append([" ".join(format(v, fmt) for v in row) for row in array.reshape(len(array), -1).tolist()])
    return (" ".join(cells) for cells in zip(*parts))
