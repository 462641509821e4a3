"""Engine-agnostic labelling of systems, in freud's style: ``compute(system)`` returns self.

``system`` is anything :func:`md_orderml.system.as_frame` accepts: a
:class:`~md_orderml.frame.Frame`, a ``(box, positions)`` tuple, a ``gsd.hoomd.Frame``, a
``hoomd.Snapshot``, an ASE ``Atoms`` or an OVITO ``DataCollection``.

Example:
    >>> from md_orderml import OrderML, structures
    >>> crystal = structures.crystal("fcc", noise=0.03, min_width=6.0, seed=0)
    >>> clf = OrderML("default").compute((crystal.cell, crystal.positions))
    >>> clf.labels.shape, clf.class_names[clf.labels[0]]
    ((500,), 'fcc')
    >>> round(clf.fractions["fcc"], 2)
    1.0

Regression model files (``task: "regression"``, e.g. propensity models) run through the
same class: ``compute(system).values`` is (N, S) with columns ``value_names``.
"""

from __future__ import annotations

from typing import Callable, Dict, Mapping, Optional

import numpy as np
import torch

from md_orderml import keys
from md_orderml.errors import InputError
from md_orderml.frame import Frame
from md_orderml.malloc_tuning import keep_freed_buffers
from md_orderml.model_file import ModelFile, load_model
from md_orderml.global_scale import frame_length_scale, length_scale_of  # noqa: F401 (also re-exported)
from md_orderml.system import as_frame, planar_frame  # noqa: F401 (planar_frame re-exported)


def model_failure_message(err: BaseException, n_particles: int) -> str:
    """One line for what a model file's forward raised (TorchScript wraps errors in many lines).

    Memory exhaustion becomes "out of memory on N particles"; a ``ValueError`` raised in the
    model (e.g. a radius spanning 10^7 periodic images) its own message; anything else its
    first line.
    """
    text = str(err)
    if isinstance(err, MemoryError) or any(s in text for s in ("can't allocate memory", "out of memory",
                                                               "not enough memory", "std::bad_alloc")):
        return f"the model ran out of memory on {n_particles} particles: use a machine with more memory or fewer particles"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raised = [line.split("Error: ", 1)[1] for line in lines
              if line.startswith(("ValueError: ", "RuntimeError: ", "builtins.ValueError: "))]
    return f"the model failed on {n_particles} particles: {(raised or lines or [type(err).__name__])[-1]}"


def type_map_from_json(text: Optional[str]) -> Optional[Dict[str, str]]:
    """The ``type_map`` of :class:`OrderML` from a command line's JSON text (``'{"1": "Cu"}'``).

    Args:
        text: JSON of an object mapping the system's type names to the model's, or None/empty.

    Returns:
        The mapping, or None when ``text`` is empty.

    Raises:
        InputError: Not JSON, or not an object.
    """
    if not text:
        return None
    import json

    try:
        type_map = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"--type-map is not valid JSON ({err.msg})") from None
    if not isinstance(type_map, dict):
        raise InputError('--type-map must be a JSON object such as {"1": "Cu"}')
    return type_map


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
    raises :class:`~md_orderml.errors.InputError`; asking for any result before
    :meth:`compute` raises ``AttributeError``. :attr:`outputs` holds all per-particle
    arrays of the last call, keyed by :mod:`md_orderml.keys`.

    Args:
        model: A model file path, ``"default"``, or an already loaded :class:`ModelFile`.
        device: ``"cpu"`` or ``"cuda"``.
        type_map: For typed models, maps the frame's type names to the model's type
            names (``{"1": "Cu"}``); unmapped names must be model type names.

    The first classifier of a process raises glibc's malloc thresholds so that large
    buffers are reused between calls (:mod:`md_orderml.malloc_tuning`; opt out with
    ``MD_ORDERML_MALLOC=default``).

    Example:
        >>> from md_orderml import OrderML, structures
        >>> clf = OrderML("default")
        >>> clf  # doctest: +ELLIPSIS
        OrderML(model='.../default.pt', task='classification', classes=['fcc', ...], device='cpu')
        >>> clf.labels
        Traceback (most recent call last):
        ...
        AttributeError: OrderML.labels is set by compute(system); call compute first
        >>> bcc = structures.crystal("bcc", noise=0.03, min_width=6.0, seed=1)
        >>> sorted(clf.compute((bcc.cell, bcc.positions)).outputs)
        ['confidence', 'embedding', 'label', 'probabilities']
        >>> max(clf.fractions, key=clf.fractions.get)
        'bcc'
    """

    def __init__(self, model="default", device: str = "cpu", type_map: Optional[Mapping[str, str]] = None):
        keep_freed_buffers()
        self.model = model if isinstance(model, ModelFile) else load_model(model, device=device)
        self.model.to(device)
        self.device = device
        self.type_map = dict(type_map or {})
        self._outputs: Dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        names = (f"values={self.value_names!r}" if self.is_regression else f"classes={self.class_names!r}")
        return (f"{type(self).__name__}(model={str(self.model.path)!r}, task={self.task!r}, {names}, "
                f"device={self.device!r})")

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

    def model_types(self, type_names, types: np.ndarray, where: str = "frame",
                    particle_name: Optional[Callable[[int], str]] = None) -> np.ndarray:
        """Map per-particle type ids of a frame to the model's type indices.

        Args:
            type_names: The frame's type names.
            types: Type id per particle, shape (N,).
            where: Source description for error messages.
            particle_name: How messages name particle ``i`` (default ``"particle i"``;
                :meth:`Frame.particle_name <md_orderml.frame.Frame.particle_name>` adds its id).

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
                f"{where}: {particle_name(i) if particle_name else f'particle {i}'} has type "
                f"{type_names[types[i]]!r} unknown to the model "
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
        try:
            with torch.inference_mode(), torch.jit.optimized_execution(False):
                out = self.model.module(
                    torch.as_tensor(positions, dtype=torch.float64, device=dev),
                    torch.as_tensor(model_types, dtype=torch.int64, device=dev),
                    torch.as_tensor(np.asarray(cell, dtype=np.float64), device=dev),
                    torch.as_tensor(np.asarray(pbc, dtype=bool), device=dev),
                    torch.as_tensor(np.asarray(owned, dtype=bool), device=dev),
                    float(length_scale),
                )
        except (RuntimeError, MemoryError, torch.jit.Error) as err:  # allocator failures, the model's ValueErrors
            raise InputError(model_failure_message(err, len(positions))) from None
        return {k: v.cpu().numpy() for k, v in out.items()}

    def _largest_local_scale(self, frame: Frame, pbc, hint: float) -> float:
        """Largest local length unit of a frame's uncapped particles (local-unit models; 0 when no
        direction is periodic).

        Capped (vapour) particles are left out: their label is the vapour class whatever
        their neighbourhood, so a thin slab beside vapour is not refused for the vapour's
        capped unit (the neighbour search gives every periodic image, so nothing is lost).
        All capped: the largest scale. A fully periodic 3D box that
        :func:`~md_orderml.local_scale.width_check_bound` clears returns that bound instead: the
        width check passes either way, and the scales are not computed twice.
        """
        if not any(pbc):
            return 0.0
        from md_orderml.local_scale import local_length_scales, width_check_bound

        rule = self.model.metadata.get("local_length_scale", {})
        if all(pbc) and not frame.box.is2D:
            # a box certainly wide enough needs no scale computed here (the model computes them anyway)
            bound = width_check_bound(frame.box.volume, frame.N, list(frame.box.widths), self.cutoff, rule)
            if bound > 0.0:
                return bound
        rule = {k: rule[k] for k in ("rank", "unit_distance", "cap_factor") if k in rule}
        with torch.inference_mode():
            scales, capped = local_length_scales(torch.as_tensor(frame.positions, dtype=torch.float64),
                                                 torch.as_tensor(frame.box.matrix, dtype=torch.float64),
                                                 torch.tensor(pbc), hint, **rule)
        kept = scales[~capped] if bool((~capped).any()) else scales
        return float(kept.max())

    def compute(self, system, pbc=None, owned: Optional[np.ndarray] = None) -> "OrderML":
        """Label every particle of a system.

        Fully periodic systems use the length scale ``(V / N) ** (1 / 3)`` of the box.
        Systems with one open direction are supported when the particles fill the box
        along it (a slab in a shrink-wrapped box); two or three open directions, or a
        box with vacuum along the open one, raise :class:`InputError` (see
        :func:`frame_length_scale`). Particles at an open surface lack neighbours and get
        the labels the model gives such environments.

        Args:
            system: Anything :func:`md_orderml.system.as_frame` accepts: a :class:`Frame`,
                ``(box, positions)``, a ``gsd.hoomd.Frame``, a ``hoomd.Snapshot``, an
                ASE ``Atoms`` or an OVITO ``DataCollection``; positions (N, 3).
            pbc: Which lattice directions are periodic (one or three bools); ``None``
                keeps the system's own flags (all periodic for ``(box, positions)``).
            owned: Which particles to label, shape (N,) bool; the others still serve as
                neighbours, and the outputs (and fractions, means) hold the M labelled
                particles in system order. ``None`` labels all.

        Returns:
            self, with :attr:`labels`, :attr:`confidence`, :attr:`probabilities`,
            :attr:`embedding` set (regression models: :attr:`values`, :attr:`embedding`).

        Raises:
            InputError: Unknown system type, wrong shapes, NaN positions, empty frame,
                unknown types, box too small, unsupported open directions.
        """
        frame = as_frame(system, pbc)
        if frame.N == 0:
            raise InputError(f"{frame.source}: the frame has no particles")
        dims = self.model.dimensions
        if frame.box.is2D and dims != 2:
            raise InputError(f"{frame.source}: 2D frames are not supported by this 3D model")
        if dims == 2 and not frame.box.is2D:
            frame = planar_frame(frame)
        periodic = frame.box.periodic
        pbc = (periodic[0], periodic[1], periodic[2] and dims == 3)
        if self.model.length_unit == "local":  # each particle's own unit: vacuum, clusters, slabs are fine
            scale = length_scale_of(frame.box.volume, frame.N, dims)  # a hint, not the unit
            frame.validate(min_box_width=2.0 * self.cutoff * self._largest_local_scale(frame, pbc, scale))
        else:
            scale = frame_length_scale(frame, dims)
            frame.validate(min_box_width=2.0 * self.cutoff * scale)
        types = self.model_types(frame.type_names, frame.types, frame.where, frame.particle_name)
        if owned is None:
            owned = np.ones(frame.N, dtype=bool)
        elif np.shape(owned) != (frame.N,):
            raise InputError(f"{frame.source}: owned has shape {np.shape(owned)}, expected ({frame.N},)")
        self._outputs = self.compute_arrays(frame.positions, types, frame.box.matrix, pbc,
                                            np.asarray(owned, dtype=bool), scale)
        return self

    def _require_outputs(self, name: str) -> None:
        if not self._outputs:
            raise AttributeError(f"{type(self).__name__}.{name} is set by compute(system); call compute first")

    def _get(self, key: str, name: Optional[str] = None) -> np.ndarray:
        regression_key = key == keys.VALUES
        if regression_key != self.is_regression and key != keys.EMBEDDING:
            raise InputError(wrong_task_message(self.model, key))
        self._require_outputs(name or key)
        return self._outputs[key]

    @property
    def outputs(self) -> Dict[str, np.ndarray]:
        """All per-particle arrays of the last :meth:`compute`, keyed by :mod:`md_orderml.keys`.

        Classification: ``label`` (N,) int64, ``probabilities`` (N, C), ``confidence``
        (N,), ``embedding`` (N, D), all float32 but the labels; regression: ``values``
        (N, S) and ``embedding`` (N, D). A new dict (the arrays are shared).
        """
        self._require_outputs("outputs")
        return dict(self._outputs)

    @property
    def values(self) -> np.ndarray:
        """Regression outputs per particle, shape (N, S), float32, columns :attr:`value_names`."""
        return self._get(keys.VALUES, "values")

    @property
    def means(self) -> Dict[str, float]:
        """Mean of each regression value over the particles, by value name."""
        self._get(keys.VALUES, "means")
        values = self.values
        return {name: float(values[:, k].mean()) if len(values) else float("nan")
                for k, name in enumerate(self.value_names)}

    @property
    def labels(self) -> np.ndarray:
        """Class index per particle, shape (N,), int64."""
        return self._get(keys.LABEL, "labels")

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the label given per particle, shape (N,), float32.

        Usually the largest class probability; where the isolated-crystal rule relabels
        a lone crystal-like particle ``liquid``, the (smaller) probability of ``liquid``.
        """
        return self._get(keys.CONFIDENCE, "confidence")

    @property
    def probabilities(self) -> np.ndarray:
        """Class probabilities per particle, shape (N, n_classes), float32."""
        return self._get(keys.PROBABILITIES, "probabilities")

    @property
    def embedding(self) -> np.ndarray:
        """Invariant per-particle embedding, shape (N, D), float32."""
        return self._get(keys.EMBEDDING, "embedding")

    @property
    def counts(self) -> np.ndarray:
        """Number of particles in each class, shape (n_classes,)."""
        return np.bincount(self._get(keys.LABEL, "counts"), minlength=len(self.class_names))

    @property
    def fractions(self) -> Dict[str, float]:
        """Fraction of particles in each class, by class name."""
        self._get(keys.LABEL, "fractions")
        counts = self.counts
        total = max(int(counts.sum()), 1)
        return {name: float(c) / total for name, c in zip(self.class_names, counts)}
