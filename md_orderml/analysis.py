"""Engine-agnostic labelling of frames, in freud's style: ``compute(frame)`` returns self.

Example:
    >>> from md_orderml import OrderML
    >>> clf = OrderML("default")
    >>> clf.compute(frame).labels            # (N,) int
    >>> clf.class_names[clf.labels[0]], clf.fractions

Regression model files (``task: "regression"``, e.g. propensity models) run through the
same class: ``compute(frame).values`` is (N, S) with columns ``value_names``.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional

import numpy as np
import torch

from md_orderml import keys
from md_orderml.errors import InputError
from md_orderml.frame import Frame
from md_orderml.malloc_tuning import keep_freed_buffers
from md_orderml.model_file import ModelFile, load_model


def length_scale_of(volume: float, n_particles: int, dimensions: int = 3) -> float:
    """The model's length unit ``(V / N) ** (1 / d)`` of a whole system.

    Args:
        volume: Box volume (area in 2D) of the whole system.
        n_particles: Number of particles in the whole system (all ranks).
        dimensions: 2 or 3.
    """
    if n_particles <= 0:
        raise InputError("cannot compute the length scale of an empty system")
    return float((volume / n_particles) ** (1.0 / dimensions))


def planar_frame(frame: Frame) -> Frame:
    """A 3D-labelled frame of a 2D system (e.g. a LAMMPS dump of a ``dimension 2`` run) as a 2D frame.

    Dumps do not say that a run was two-dimensional; a 2D model accepts their frames
    when every particle has the same z (up to 1e-6 of the box's x-y extent), and then
    ignores the (thin) z extent of the box.

    Raises:
        InputError: The positions are not planar.
    """
    import dataclasses

    z = frame.positions[:, 2] if frame.N else np.zeros(0)
    spread = float(np.ptp(z)) if len(z) else 0.0
    if not np.isfinite(spread) or spread > 1e-6 * max(frame.box.Lx, frame.box.Ly):
        raise InputError(f"{frame.source}: this 2D model needs planar frames, but z varies by {spread:.4g}; "
                         "give a 2D trajectory (LAMMPS dimension 2, HOOMD 2D)")
    if frame.box.xz or frame.box.yz:
        raise InputError(f"{frame.source}: this 2D model needs a box without xz/yz tilt")
    return frame.replace(box=dataclasses.replace(frame.box, is2D=True))


def wrong_task_message(model: ModelFile, wanted: str) -> str:
    """One-line error for asking a model for outputs of the other task (``wanted`` = an output key)."""
    if model.is_regression:
        return (f"{model.path}: a regression model (values {', '.join(model.value_names)}) has no class "
                f"{wanted}; use its values instead")
    return f"{model.path}: a classification model (classes {', '.join(model.class_names)}) has no regression {wanted}"


class OrderML:
    """Per-particle structure labels (or regression values) from one model file.

    A classification model gives :attr:`labels`, :attr:`confidence`,
    :attr:`probabilities` and :attr:`fractions`; a regression model gives
    :attr:`values` (N, S) and :attr:`means`. Asking a model for the other task's outputs
    raises :class:`~md_orderml.errors.InputError`.

    Args:
        model: A model file path, ``"default"``, or an already loaded :class:`ModelFile`.
        device: ``"cpu"`` or ``"cuda"``.
        type_map: For typed models, maps the frame's type names to the model's type
            names (``{"1": "Cu"}``); unmapped names must be model type names.

    The first classifier of a process raises glibc's malloc thresholds so that large
    buffers are reused between calls (:mod:`md_orderml.malloc_tuning`; opt out with
    ``MD_ORDERML_MALLOC=default``).
    """

    def __init__(self, model="default", device: str = "cpu", type_map: Optional[Mapping[str, str]] = None):
        keep_freed_buffers()
        self.model = model if isinstance(model, ModelFile) else load_model(model, device=device)
        self.model.to(device)
        self.device = device
        self.type_map = dict(type_map or {})
        self._outputs: Dict[str, np.ndarray] = {}

    @property
    def class_names(self) -> list:
        """Names of the classes, indexed by label (empty for a regression model)."""
        return self.model.class_names

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"`` (from the model file)."""
        return self.model.task

    @property
    def is_regression(self) -> bool:
        """Whether the model predicts per-particle values instead of labels."""
        return self.model.is_regression

    @property
    def value_names(self) -> list:
        """Names of the columns of :attr:`values` (empty for a classification model)."""
        return self.model.value_names

    @property
    def cutoff(self) -> float:
        """Dimensionless cutoff; multiply by the length scale for the absolute one."""
        return self.model.cutoff

    def model_types(self, type_names, types: np.ndarray, where: str = "frame") -> np.ndarray:
        """Map per-particle type ids of a frame to the model's type indices.

        Args:
            type_names: The frame's type names.
            types: Type id per particle, shape (N,).
            where: Source description for error messages.

        Returns:
            Model type index per particle, shape (N,), int64.

        Raises:
            InputError: A particle has a type the model does not know.
        """
        known = self.model.type_names
        if not known:
            return np.zeros(len(types), dtype=np.int64)
        lookup = np.full(len(type_names), -1, dtype=np.int64)
        for i, name in enumerate(type_names):
            name = self.type_map.get(name, name)
            if name in known:
                lookup[i] = known.index(name)
        mapped = lookup[types]
        if (mapped < 0).any():
            i = int(np.argmax(mapped < 0))
            raise InputError(
                f"{where}: particle {i} has type {type_names[types[i]]!r} unknown to the model "
                f"(model types {known}); give a type map"
            )
        return mapped

    def compute_arrays(
        self,
        positions: np.ndarray,
        model_types: np.ndarray,
        cell: np.ndarray,
        pbc,
        owned: np.ndarray,
        length_scale: float,
    ) -> Dict[str, np.ndarray]:
        """Run the model on raw arrays (what the engine adapters call).

        Args:
            positions: Owned and ghost positions, shape (N, 3).
            model_types: Model type index per particle, shape (N,).
            cell: Lattice vectors as rows, shape (3, 3).
            pbc: Periodic flags, shape (3,).
            owned: Particles to label, shape (N,), bool.
            length_scale: ``(V / N) ** (1 / 3)`` of the whole system.

        Returns:
            Dictionary of numpy arrays for the owned particles (see ``md_orderml.keys``).
        """
        dev = self.device
        # TorchScript's optimising executor re-specialises for every new particle count
        # (a 1 s stall per call in engines, where N changes every step): run it plain.
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            out = self.model.module(
                torch.as_tensor(positions, dtype=torch.float64, device=dev),
                torch.as_tensor(model_types, dtype=torch.int64, device=dev),
                torch.as_tensor(np.asarray(cell, dtype=np.float64), device=dev),
                torch.as_tensor(np.asarray(pbc, dtype=bool), device=dev),
                torch.as_tensor(np.asarray(owned, dtype=bool), device=dev),
                float(length_scale),
            )
        return {k: v.cpu().numpy() for k, v in out.items()}

    def compute(self, frame: Frame) -> "OrderML":
        """Label every particle of a periodic frame.

        Args:
            frame: The configuration (validated here).

        Returns:
            self, with :attr:`labels`, :attr:`confidence`, :attr:`probabilities`,
            :attr:`embedding` set (regression models: :attr:`values`, :attr:`embedding`).

        Raises:
            InputError: NaN positions, empty frame, unknown types, box too small.
        """
        if frame.N == 0:
            raise InputError(f"{frame.source}: the frame has no particles")
        dims = self.model.dimensions
        if frame.box.is2D and dims != 2:
            raise InputError(f"{frame.source}: 2D frames are not supported by this 3D model")
        if dims == 2 and not frame.box.is2D:
            frame = planar_frame(frame)
        scale = length_scale_of(frame.box.volume, frame.N, dims)
        frame.validate(min_box_width=2.0 * self.cutoff * scale)
        types = self.model_types(frame.type_names, frame.types, frame.source)
        self._outputs = self.compute_arrays(
            frame.positions, types, frame.box.matrix, (True, True, dims == 3),
            np.ones(frame.N, dtype=bool), scale,
        )
        return self

    def _get(self, key: str) -> np.ndarray:
        regression_key = key == keys.VALUES
        if regression_key != self.is_regression and key != keys.EMBEDDING:
            raise InputError(wrong_task_message(self.model, key))
        if not self._outputs:
            raise RuntimeError("call compute() first")
        return self._outputs[key]

    @property
    def values(self) -> np.ndarray:
        """Regression outputs per particle, shape (N, S), float32, columns :attr:`value_names`."""
        return self._get(keys.VALUES)

    @property
    def means(self) -> Dict[str, float]:
        """Mean of each regression value over the particles, by value name."""
        values = self.values
        return {name: float(values[:, k].mean()) if len(values) else float("nan")
                for k, name in enumerate(self.value_names)}

    @property
    def labels(self) -> np.ndarray:
        """Class index per particle, shape (N,), int64."""
        return self._get(keys.LABEL)

    @property
    def confidence(self) -> np.ndarray:
        """Largest class probability per particle, shape (N,), float32."""
        return self._get(keys.CONFIDENCE)

    @property
    def probabilities(self) -> np.ndarray:
        """Class probabilities per particle, shape (N, n_classes), float32."""
        return self._get(keys.PROBABILITIES)

    @property
    def embedding(self) -> np.ndarray:
        """Invariant per-particle embedding, shape (N, D), float32."""
        return self._get(keys.EMBEDDING)

    @property
    def counts(self) -> np.ndarray:
        """Number of particles in each class, shape (n_classes,)."""
        return np.bincount(self.labels, minlength=len(self.class_names))

    @property
    def fractions(self) -> Dict[str, float]:
        """Fraction of particles in each class, by class name."""
        counts = self.counts
        total = max(int(counts.sum()), 1)
        return {name: float(c) / total for name, c in zip(self.class_names, counts)}
