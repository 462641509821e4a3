"""The loggable quantities of :class:`~md_orderml.engines.hoomd.OrderMLWriter`, declared with HOOMD's public API.

Every loggable is a property made with ``hoomd.logging.log`` on a ``hoomd.custom.Action``
subclass; the names that depend on the model (``fraction_<class>``, ``count_<class>``,
``mean_<value>``) and the split by task are a class made per model by :func:`action_class`,
whose namespace ``hoomd.logging.modify_namespace`` sets to ``("md_orderml",)`` (so
``hoomd.write.GSD`` stores ``log/particles/md_orderml/label``, ``log/md_orderml/fractions``,
the paths of :mod:`md_orderml.keys`). Importing this module imports ``hoomd``.
"""

from __future__ import annotations

import re
import types
from typing import Dict, Tuple

import numpy as np

from md_orderml.mpi import load_mpi

load_mpi()  # HOOMD built with MPI links libmpi.so.12 (the mpich wheel)
import hoomd  # noqa: E402
from hoomd.logging import log  # noqa: E402

from md_orderml import keys  # noqa: E402

__all__ = ["NAMESPACE", "TASK_NAMES", "ClassificationLoggables", "Fractions", "RegressionLoggables",
           "action_class", "scalar_loggables"]

#: Logger namespace of every quantity (GSD: ``log/particles/md_orderml/label``).
NAMESPACE = ("md_orderml",)


class Fractions(dict):
    """Class fractions by class name (a ``dict``) that numpy, and so ``hoomd.write.GSD``, reads as a (C,) array.

    ``np.asarray(fractions)`` gives the (C,) float64 fractions in class order: the
    ``fractions`` loggable is this dict and is stored as the sequence
    ``log/md_orderml/fractions``.
    """

    def __array__(self, dtype=None, copy=None):
        return np.fromiter(self.values(), dtype=dtype or np.float64, count=len(self))


class ClassificationLoggables(hoomd.custom.Action):
    """Loggables of a classification model (mixed into the writer's action; ``act`` lives there)."""

    @log(category="particle", requires_run=True)
    def label(self):
        """(N_global,) int32: class index per particle in tag order (rank 0; None elsewhere)."""
        return self._particle(keys.LABEL)

    @log(category="particle", requires_run=True)
    def confidence(self):
        """(N_global,) float32: probability of each particle's label (rank 0; None elsewhere)."""
        return self._particle(keys.CONFIDENCE)

    @log(category="particle", requires_run=True, default=False)
    def probabilities(self):
        """(N_global, C) float32: class probabilities per particle (rank 0; None elsewhere)."""
        return self._particle(keys.PROBABILITIES)

    @log(category="sequence", requires_run=True)
    def counts(self):
        """(C,) int64: number of particles in each class (all ranks)."""
        return self._summary_totals("fractions")[:-1].astype(np.int64)

    @log(category="sequence", requires_run=True)
    def fractions(self):
        """:class:`Fractions`: fraction of particles in each class by class name (all ranks);
        logged as the (C,) sequence ``log/md_orderml/fractions``."""
        return Fractions(self._spec.summary(self._summary_totals("fractions")))

    @property
    def fraction_sequence(self) -> np.ndarray:
        """(C,) float64: the fractions in class order (all ranks)."""
        return np.asarray(self.fractions, dtype=np.float64)

    @log(category="strings")
    def class_names(self):
        """list[str]: the C class names, index = label."""
        return self._model.class_names


class RegressionLoggables(hoomd.custom.Action):
    """Loggables of a regression model (mixed into the writer's action; ``act`` lives there)."""

    @log(category="particle", requires_run=True)
    def values(self):
        """(N_global, S) float32: regression values per particle in tag order (rank 0; None elsewhere)."""
        return self._particle(keys.VALUES)

    @log(category="sequence", requires_run=True)
    def value_means(self):
        """(S,) float64: mean of each regression value over all particles (all ranks)."""
        return np.array(list(self.means.values()), dtype=np.float64)

    @property
    def means(self) -> Dict[str, float]:
        """Mean of each regression value over all particles, by value name (all ranks)."""
        if self._simulation is None:
            raise hoomd.error.DataAccessError("means")
        return self._spec.summary(self._summary_totals("means"))

    @log(category="strings")
    def value_names(self):
        """list[str]: the S value names of a regression model."""
        return self._model.value_names


#: Names of the loggables only one task has (for one-line errors on the other task's).
TASK_NAMES = frozenset(name for cls in (ClassificationLoggables, RegressionLoggables)
                       for name, value in vars(cls).items() if isinstance(value, property))


def scalar_loggables(model) -> Dict[str, Tuple[str, int]]:
    """Per-model scalar loggables: name -> (kind, index), kind ``"fraction"``, ``"count"`` or ``"mean"``.

    Args:
        model: A :class:`~md_orderml.model_file.ModelFile`.

    Returns:
        ``fraction_<class>`` and ``count_<class>`` (classification; non-word characters of
        class names become ``_``) or ``mean_<value name>`` (regression), in model order.
    """
    scalars: Dict[str, Tuple[str, int]] = {}
    if model.is_regression:
        for k, name in enumerate(model.value_names):
            scalars.setdefault(f"mean_{name}", ("mean", k))
        return scalars
    for k, name in enumerate(model.class_names):
        safe = re.sub(r"\W", "_", str(name))
        scalars.setdefault(f"fraction_{safe}", ("fraction", k))
        scalars.setdefault(f"count_{safe}", ("count", k))
    return scalars


def _scalar_property(name: str, kind: str, k: int):
    def getter(self):
        if kind == "count":
            return int(self.counts[k])
        return float((self.value_means if kind == "mean" else self.fraction_sequence)[k])

    getter.__name__ = getter.__qualname__ = name
    getter.__doc__ = {"fraction": "float: fraction of particles in class {k} (all ranks).",
                      "count": "int: number of particles in class {k} (all ranks).",
                      "mean": "float: mean of regression value {k} over all particles (all ranks)."}[kind].format(k=k)
    return log(getter, category="scalar", default=kind != "count", requires_run=True)


def action_class(base: type, model) -> type:
    """The writer's action class for one model: ``base`` plus the loggables of its task and its scalars.

    Args:
        base: The action with the labelling machinery (a ``hoomd.custom.Action`` subclass).
        model: A :class:`~md_orderml.model_file.ModelFile`.

    Returns:
        A new class, subclass of the task's loggables and ``base``, all loggables in
        the namespace :data:`NAMESPACE`.
    """
    mixin = RegressionLoggables if model.is_regression else ClassificationLoggables
    # log() registers each property for the next class made: make them right before the class.
    scalars = {name: _scalar_property(name, kind, k) for name, (kind, k) in scalar_loggables(model).items()}

    def body(namespace):
        namespace.update(scalars)
        namespace["__module__"] = __name__

    cls = types.new_class("OrderMLAction", (mixin, base), exec_body=body)
    return hoomd.logging.modify_namespace(cls, NAMESPACE)
