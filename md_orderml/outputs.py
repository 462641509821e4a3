"""The named per-particle arrays a model gives, and the per-frame summary of them.

This is the one place that knows how the two tasks of a model file differ; writers,
readers, the labelling of trajectories and the engines all ask an :class:`OutputSpec`.

==================  ===========================================  ===========================
task                per-particle arrays (keys of :mod:`keys`)    per-frame summary
==================  ===========================================  ===========================
classification      ``label`` (N,) int, ``confidence`` (N,),     class fractions, by class
                    ``probabilities`` (N, C), columns = classes  name
regression          ``values`` (N, S), columns = value names     means, by value name
==================  ===========================================  ===========================

Both tasks also give ``embedding`` (N, D), which no file stores.

The summary is computed in two steps so that MPI ranks can add their parts:
:meth:`OutputSpec.totals` gives additive totals (class counts or value sums, then the
particle count), :meth:`OutputSpec.summary` turns (summed) totals into the dictionary.

Example:
    >>> spec = OutputSpec.classification(["fcc", "liquid"])
    >>> spec.frame_summary({"label": np.array([0, 0, 1, -1])})
    {'fcc': 0.5, 'liquid': 0.25}
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

from md_orderml import keys
from md_orderml.errors import InputError

#: Stored dtype of each per-particle array (files, engines' published arrays).
STORED_DTYPES = {keys.LABEL: np.int32, keys.CONFIDENCE: np.float32,
                 keys.PROBABILITIES: np.float32, keys.VALUES: np.float32}


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """Which named per-particle arrays a model gives, their columns and the per-frame summary.

    Build one with :meth:`of` (from a model file or :class:`~md_orderml.analysis.OrderML`),
    :meth:`classification` or :meth:`regression`.

    Attributes:
        task: ``keys.CLASSIFICATION`` or ``keys.REGRESSION``.
        class_names: Name of each class index, length C (empty for regression).
        value_names: Name of each column of ``values``, length S (empty for classification).
        model_sha256: SHA-256 of the model file (64 hex digits; "" when unknown), which the
            writers store next to the names; not compared by ``==``.
    """

    task: str
    class_names: Tuple[str, ...] = ()
    value_names: Tuple[str, ...] = ()
    model_sha256: str = dataclasses.field(default="", compare=False)

    def __post_init__(self):
        if self.task not in keys.TASKS:
            raise InputError(f"unknown model task {self.task!r}; expected one of {keys.TASKS}")
        object.__setattr__(self, "class_names", tuple(str(n) for n in self.class_names))
        object.__setattr__(self, "value_names", tuple(str(n) for n in self.value_names))
        object.__setattr__(self, "model_sha256", str(self.model_sha256 or ""))

    # ------------------------------------------------------------------ construction

    @classmethod
    def classification(cls, class_names: Sequence[str]) -> "OutputSpec":
        """The outputs of a classification model with C classes (``class_names``, length C)."""
        return cls(keys.CLASSIFICATION, tuple(class_names), ())

    @classmethod
    def regression(cls, value_names: Sequence[str]) -> "OutputSpec":
        """The outputs of a regression model with S values (``value_names``, length S)."""
        return cls(keys.REGRESSION, (), tuple(value_names))

    @classmethod
    def named(cls, task: str, names: Sequence[str]) -> "OutputSpec":
        """The outputs of a model of ``task`` whose class names (regression: value names) are ``names``."""
        regression = task == keys.REGRESSION
        return cls(task, () if regression else tuple(names), tuple(names) if regression else ())

    @classmethod
    def of(cls, model) -> "OutputSpec":
        """The outputs of ``model``: an :class:`OutputSpec` (returned as is), or anything with
        ``task``, ``class_names`` and ``value_names`` (a :class:`~md_orderml.model_file.ModelFile`,
        an :class:`~md_orderml.analysis.OrderML`), with the model file's ``sha256`` when known."""
        if isinstance(model, OutputSpec):
            return model
        sha256 = getattr(model, "sha256", None)
        if sha256 is None:  # an OrderML (or an engine object) holding a ModelFile as ``model``
            sha256 = getattr(getattr(model, "model", None), "sha256", "")
        return cls(model.task, tuple(model.class_names), tuple(model.value_names), str(sha256 or ""))

    # ------------------------------------------------------------------ what the model gives

    @property
    def is_regression(self) -> bool:
        """Whether the model gives ``values`` instead of labels."""
        return self.task == keys.REGRESSION

    @property
    def particle_keys(self) -> Tuple[str, ...]:
        """The per-particle arrays files and engines store, in column order:
        ``(label, confidence, probabilities)`` or ``(values,)``."""
        return (keys.VALUES,) if self.is_regression else (keys.LABEL, keys.CONFIDENCE, keys.PROBABILITIES)

    def stored_keys(self, probabilities: bool = False) -> Tuple[str, ...]:
        """The per-particle arrays a writer stores: :attr:`particle_keys`, without
        ``probabilities`` unless asked for.

        Raises:
            InputError: Probabilities asked of a regression model.
        """
        if probabilities and keys.PROBABILITIES not in self.particle_keys:
            raise InputError(f"a regression model (values {', '.join(self.value_names)}) has no class "
                             "probabilities to write; use its values instead")
        return tuple(k for k in self.particle_keys if k != keys.PROBABILITIES or probabilities)

    @property
    def summary_key(self) -> str:
        """The per-particle array the per-frame summary is made of (``label`` or ``values``)."""
        return keys.VALUES if self.is_regression else keys.LABEL

    @property
    def summary_kind(self) -> str:
        """``"fractions"`` (classification) or ``"means"`` (regression)."""
        return "means" if self.is_regression else "fractions"

    @property
    def names_kind(self) -> str:
        """``"class_names"`` or ``"value_names"``: what :attr:`summary_names` are."""
        return "value_names" if self.is_regression else "class_names"

    @property
    def summary_names(self) -> Tuple[str, ...]:
        """Keys of the per-frame summary: the class names, or the value names."""
        return self.value_names if self.is_regression else self.class_names

    def column_names(self, key: str) -> Tuple[str, ...]:
        """Names of the columns of per-particle array ``key``: the key itself for a
        one-column array (N,), the class names for ``probabilities`` (N, C), the value
        names for ``values`` (N, S)."""
        if key == keys.PROBABILITIES:
            return self.class_names
        if key == keys.VALUES:
            return self.value_names
        if key in (keys.LABEL, keys.CONFIDENCE):
            return (key,)
        raise KeyError(f"{key!r} is not a stored per-particle output")

    def expand(self, key: str, template: str) -> Tuple[Tuple[str, int], ...]:
        """Per-column names of array ``key`` in a file format.

        Args:
            key: A per-particle output key.
            template: The format's name for it; ``{index}`` or ``{name}`` in it give one
                entry per column (e.g. ``"orderml_p{index}"``, ``"orderml_{name}"``);
                without them one entry names the whole array.

        Returns:
            ``((name, width), ...)``: each entry's name and number of columns.
        """
        columns = self.column_names(key)
        if "{index}" in template or "{name}" in template:
            return tuple((template.format(index=i, name=n), 1) for i, n in enumerate(columns))
        return ((template, len(columns)),)

    # ------------------------------------------------------------------ arrays

    def check(self, outputs: Mapping[str, np.ndarray], n: int, wanted: Sequence[str],
              where: str) -> Dict[str, np.ndarray]:
        """Validate one frame's arrays and convert them to :data:`STORED_DTYPES`.

        Args:
            outputs: Per-particle arrays by key, at least those in ``wanted``.
            n: Number of particles N.
            wanted: Keys to check and return.
            where: Start of error messages (file and frame).

        Returns:
            ``{key: array}`` for ``wanted``: label int32 (N,) in [-1, C) (-1 = not labelled),
            confidence float32 (N,), probabilities float32 (N, C), values float32 (N, S).

        Raises:
            InputError: A missing array, a wrong shape, non-integer or out-of-range labels.
        """
        checked = {}
        for key in wanted:
            if key not in outputs or outputs[key] is None:
                raise InputError(f"{where}: no {key} given")
            array = np.asarray(outputs[key])
            width = len(self.column_names(key))
            expected = (n,) if key in (keys.LABEL, keys.CONFIDENCE) else (n, width)
            if array.shape != expected:
                raise InputError(f"{where}: {key} has shape {array.shape}, expected {expected}")
            if key == keys.LABEL:
                self._check_labels(array, where)
            checked[key] = array.astype(STORED_DTYPES[key], copy=False)
        return checked

    def _check_labels(self, labels: np.ndarray, where: str) -> None:
        if not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"{where}: labels must be integers, got {labels.dtype}")
        c = len(self.class_names)
        bad = (labels < -1) | (labels >= c)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{where}, particle {i}: label {int(labels[i])} is outside [-1, {c})")

    def empty(self) -> Dict[str, np.ndarray]:
        """Arrays of zero particles for :attr:`particle_keys` (a rank that owns none)."""
        return {key: np.zeros((0,) if key in (keys.LABEL, keys.CONFIDENCE) else (0, len(self.column_names(key))),
                              STORED_DTYPES[key]) for key in self.particle_keys}

    # ------------------------------------------------------------------ summary

    def totals(self, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Additive totals of one frame (or one rank's part of it).

        Args:
            outputs: Per-particle arrays by key, with :attr:`summary_key`.

        Returns:
            float64, shape (K + 1,): the count of each class (labels -1 count in none) or
            the sum of each value, K = len(:attr:`summary_names`), then the number of particles.
        """
        array = np.asarray(outputs[self.summary_key])
        k = len(self.summary_names)
        if self.is_regression:
            parts = array.reshape(len(array), k).astype(np.float64).sum(axis=0)
        else:
            parts = np.bincount(array[array >= 0].astype(np.int64), minlength=k).astype(np.float64)
        return np.append(parts, float(len(array)))

    def summary(self, totals: np.ndarray) -> Dict[str, float]:
        """The per-frame summary from (summed) :meth:`totals`, shape (K + 1,).

        Returns:
            Class fractions (count / N, 0 for N = 0) by class name, or value means
            (sum / N, NaN for N = 0) by value name.
        """
        totals = np.asarray(totals, dtype=np.float64)
        n = totals[-1]
        empty = np.nan if self.is_regression else 0.0
        return {name: float(t / n) if n > 0 else empty for name, t in zip(self.summary_names, totals[:-1])}

    def frame_summary(self, outputs: Mapping[str, np.ndarray]) -> Dict[str, float]:
        """:meth:`summary` of one frame's arrays: fractions or means by name."""
        return self.summary(self.totals(outputs))

    def describe(self, summary: Mapping[str, float]) -> str:
        """One line of text for a summary, e.g. ``"fractions: fcc 0.970, liquid 0.030"``
        (classes of fraction 0 left out) or ``"values: p_0 0.1234"``."""
        if self.is_regression:
            return "values: " + ", ".join(f"{name} {v:.4g}" for name, v in summary.items())
        return "fractions: " + ", ".join(f"{name} {f:.3f}" for name, f in summary.items() if f > 0)
