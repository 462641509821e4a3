"""On-the-fly structure labels in HOOMD-blue (CPU or GPU, serial or MPI).

:class:`OrderMLWriter` is a ``hoomd.write.CustomWriter``: append it to
``sim.operations.writers`` with any trigger and log its quantities like HOOMD's own::

    from md_orderml.engines.hoomd import OrderMLWriter   # imports hoomd

    labels = OrderMLWriter(trigger=hoomd.trigger.Periodic(1000), model="default")
    sim.operations.writers.append(labels)
    logger = hoomd.logging.Logger(categories=["particle", "sequence", "scalar", "string", "strings"])
    logger.add(labels)
    sim.operations.writers.append(hoomd.write.GSD("traj.gsd", trigger=1000, logger=logger))

Loggables, namespace ``md_orderml`` (``hoomd.write.GSD`` puts per-particle ones under
``log/particles/md_orderml/``, the paths of :mod:`md_orderml.keys`, which
:func:`md_orderml.io.read_gsd_outputs` reads): ``label`` (particle, (N_global,) int32 in
tag order on rank 0, None elsewhere), ``confidence`` (particle, float32),
``probabilities`` (particle, (N_global, C), not default), ``fractions`` and ``counts``
(sequence, (C,) in class order, all ranks; GSD ``log/md_orderml/fractions``),
``fraction_<class>`` (scalar, for ``hoomd.write.Table``), ``count_<class>`` (scalar, not
default), ``class_names`` (strings), ``labelled_step`` (scalar, not default), and for
both tasks ``model_sha256`` (string, the model file's SHA-256; GSD
``log/md_orderml/model_sha256``).

Regression models (``task: "regression"``, e.g. ``md-orderml research train-propensity``) have
instead: ``values`` (particle, (N_global, S) float32 in tag order on rank 0; GSD path
``log/particles/md_orderml/values``), ``value_means`` (sequence, (S,), all ranks),
``mean_<value name>`` (scalar), ``value_names`` (strings), ``labelled_step``. Typed models
need every HOOMD type mapped (``type_map={"A": "A", "B": "B"}`` is implied when the names agree).

In Python, ``writer.fractions`` (classification) and ``writer.means`` (regression) are the
per-frame summary as a dict by class (value) name, like :class:`~md_orderml.analysis.OrderML`;
the ``fractions`` loggable is the same numbers as a (C,) sequence (``writer.fraction_sequence``).

Freshness: a loggable read on a trigger step not labelled yet (a writer placed before
this one) computes the labels at once, so writer order does not matter; on other steps
the loggables hold the labels of the last trigger step (``labelled_step``). Reading is
collective under MPI (every rank reads, as HOOMD's writers do).

MD and HPMC alike: the writer reads only the state, so it works with any integrator
(``hoomd.md.Integrator``, ``hoomd.hpmc.integrate.*``); under HPMC a timestep is a sweep,
so the trigger counts sweeps. Loggables are declared with ``hoomd.logging.log``
(:mod:`~md_orderml.engines.hoomd.loggables`).

Ghosts (MPI): labels need all particles within the receptive field
``R = receptive_field * (V / N_global) ** (1/3)`` of each owned particle. HOOMD sizes its
ghost layer from MD neighbour lists or HPMC shapes (:func:`hoomd_ghost_reach`).
``ghosts="auto"`` uses HOOMD's ghosts when they reach ``R``, else all-gathers positions
with mpi4py on trigger steps and keeps, per rank, the particles within ``R`` of its own
(exact). ``"hoomd"`` raises instead; ``"gather"`` always gathers. ``nlist.r_cut[(a, b)] = R``
on the pair force's neighbour list (MD), or a stand-alone ``hoomd.md.nlist.Cell(buffer=0,
default_r_cut=R)`` in ``sim.operations.computes`` (HPMC), makes HOOMD's ghosts suffice.

GPU: with ``hoomd.device.GPU`` the model runs on CUDA and reads positions and types
zero-copy from ``state.gpu_local_snapshot`` (``__cuda_array_interface__``).
See hoomd_plugin/README.md for a full guide.
"""

from __future__ import annotations

import os
import time
import warnings
import weakref
from typing import Dict, Mapping, Optional

import numpy as np

from md_orderml.mpi import load_mpi

load_mpi()  # HOOMD built with MPI links libmpi.so.12 (the mpich wheel)
try:
    import hoomd
    from hoomd.logging import log
except ImportError as _err:  # pragma: no cover - depends on the environment
    raise ImportError("md_orderml.engines.hoomd needs HOOMD-blue >= 4 "
                      "(conda install -c conda-forge hoomd)") from _err
import torch

from md_orderml import keys
from md_orderml.analysis import OrderML, wrong_task_message
from md_orderml.engines.halo import gather_halo, reach_unit, width_check_unit
from md_orderml.engines.hoomd.domain import cuda_tensor, hoomd_ghost_reach, simulation_comm
from md_orderml.engines.hoomd.loggables import NAMESPACE, TASK_NAMES, action_class
from md_orderml.errors import InputError
from md_orderml.frame import Box
from md_orderml.global_scale import length_scale_of
from md_orderml.model_file import ModelFile, load_model
from md_orderml.outputs import OutputSpec

__all__ = ["GHOST_MODES", "NAMESPACE", "OrderMLWriter", "cuda_tensor", "hoomd_ghost_reach"]

GHOST_MODES = ("auto", "hoomd", "gather")
#: Deprecated names: old name -> new name (warn on use, removed in the next release).
DEPRECATED = {"OrderMLLabels": "OrderMLWriter"}


class _OrderMLAction(hoomd.custom.Action):
    """The work behind :class:`OrderMLWriter` (see there for the arguments); the task's loggables
    and the model's scalars come from :func:`~md_orderml.engines.hoomd.loggables.action_class`."""

    def __init__(self, model: ModelFile, device: Optional[str], type_map: Optional[Mapping[str, str]],
                 ghosts: str, mpi_comm=None):
        super().__init__()
        if ghosts not in GHOST_MODES:
            raise InputError(f"ghosts={ghosts!r} must be one of {GHOST_MODES}")
        self._model = model
        self._device, self._type_map, self._ghosts, self._given_comm = device, dict(type_map or {}), ghosts, mpi_comm
        self._spec = OutputSpec.of(self._model)
        self._simulation = self._classifier = self._comm = self._operation = None
        self._clear()
        self.route: Optional[str] = None  #: How the last labels were made: "serial", "hoomd" or "gather".
        self.gathered_steps = 0  #: Number of labellings that gathered positions.
        self.compute_seconds = 0.0  #: Wall time spent labelling on this rank.
        self.gather_seconds = 0.0  #: Of which gathering positions (MPI all-gather and halo selection).

    def _clear(self) -> None:
        self._step: Optional[int] = None
        #: Totals of the last labelling over all ranks (:meth:`OutputSpec.totals`), shape (K + 1,).
        self._totals = np.zeros(len(self._spec.summary_names) + 1)
        self._arrays: Dict[str, np.ndarray] = {}

    # ---------------------------------------------------------------- attach

    def attach(self, simulation) -> None:
        super().attach(simulation)
        self._simulation = simulation
        dims = 2 if simulation.state.box.is2D else 3
        if dims != self._model.dimensions:
            raise InputError(f"{dims}D HOOMD simulations are not supported by this {self._model.dimensions}D model")
        self._gpu = isinstance(simulation.device, hoomd.device.GPU)
        device = self._device or ("cuda" if self._gpu else "cpu")
        self._classifier = OrderML(self._model, device=device, type_map=self._type_map)
        names = list(simulation.state.particle_types)
        if self._model.type_names:  # every type must map: checked on all ranks alike
            self._lookup = self._classifier.model_types(names, np.arange(len(names)), "HOOMD particle types")
        else:
            self._lookup = np.zeros(len(names), dtype=np.int64)
        self._lookup_t = torch.as_tensor(self._lookup, device="cuda" if self._gpu else "cpu")  # indexed by HOOMD's typeid
        self._comm, self._owns_comm = simulation_comm(simulation, self._given_comm)
        self._rank = 0 if self._comm is None else self._comm.Get_rank()
        if self._comm is not None and "OMP_NUM_THREADS" not in os.environ:  # share the cores between ranks
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            torch.set_num_threads(min(torch.get_num_threads(), max(1, cores // self._comm.Get_size())))
        self._clear()

    def detach(self) -> None:
        if self._comm is not None and self._owns_comm:
            self._comm.Free()
        self._simulation = self._classifier = self._comm = None
        super().detach()

    # ---------------------------------------------------------------- compute

    def act(self, timestep: int) -> None:
        """Label the particles at ``timestep`` (once per step)."""
        if self._step != timestep:
            self._compute(int(timestep))

    def _refresh(self) -> None:
        """Compute now if no labels exist or the trigger fires on a step not labelled yet."""
        t = int(self._simulation.timestep)
        if self._step == t:
            return
        op = self._operation() if self._operation is not None else None
        if self._step is None or (op is not None and op.trigger(t)):
            self._compute(t)

    def _route(self, reach: float) -> str:
        if self._comm is None:
            return "serial"
        if self._ghosts == "gather":
            return "gather"
        available = hoomd_ghost_reach(self._simulation)
        if available is not None and available >= reach:
            return "hoomd"
        if self._ghosts == "hoomd":
            have = "unknown" if available is None else f"{available:.4g}"
            raise InputError(
                f"HOOMD's ghost layer is complete up to {have}, but the model's receptive field is {reach:.4g}; "
                f"set the pair force's neighbour list base cutoff, nlist.r_cut[(a, b)] = {reach:.4g} for all "
                "type pairs (pair forces get slower; under HPMC add hoomd.md.nlist.Cell(buffer=0, "
                f"default_r_cut={reach:.4g}) to sim.operations.computes), or use ghosts='auto' or 'gather'")
        if self._rank == 0 and self.gathered_steps == 0:
            warnings.warn(f"md_orderml: HOOMD's ghosts do not reach the receptive field {reach:.4g}; labelling "
                          "from gathered positions (exact; see md_orderml.engines.hoomd)", stacklevel=3)
        return "gather"

    def _compute(self, timestep: int) -> None:
        start = time.perf_counter()
        state = self._simulation.state
        b = state.box
        flat = bool(b.is2D)  # HOOMD's 2D boxes have Lz = 0: the model sees a unit z edge, open along z
        box = Box(b.Lx, b.Ly, 1.0 if flat else b.Lz, b.xy, 0.0 if flat else b.xz, 0.0 if flat else b.yz, is2D=flat)
        n_global = int(state.N_particles)
        scale = length_scale_of(box.volume, n_global, 2 if flat else 3)
        unit = self._reach_unit(box, scale, flat)
        widths = box.widths[:2] if flat else box.widths
        if widths.min() < 2.0 * self._model.cutoff * unit:
            raise InputError(f"the box (widths {widths}) is narrower than twice the model cutoff "
                             f"{self._model.cutoff * unit:.4g}")
        route = self._route(self._model.receptive_field * unit)
        with state.cpu_local_snapshot as snap:
            tags = np.array(snap.particles.tag, dtype=np.int64)
            if route == "gather" or not self._gpu:
                owned_only = route != "hoomd"
                pos = np.array(snap.particles.position if owned_only else snap.particles.position_with_ghost,
                               dtype=np.float64)
                typeid = np.array(snap.particles.typeid if owned_only else snap.particles.typeid_with_ghost)
        n = len(tags)
        pbc = (True, True, not flat)
        if route == "hoomd":
            split = [int(k) == 1 for k in state.domain_decomposition]
            pbc = (split[0], split[1], split[2] and not flat)
        if route == "gather":
            gather_start = time.perf_counter()
            pos, typeid = gather_halo(self._comm, pos, typeid, box, self._model.receptive_field * unit)
            self.gather_seconds += time.perf_counter() - gather_start
        if self._gpu and route != "gather":
            with state.gpu_local_snapshot as snap:  # zero-copy views, used inside the block
                p = snap.particles
                pos = cuda_tensor(p.position_with_ghost if route == "hoomd" else p.position)
                typeid = cuda_tensor(p.typeid_with_ghost if route == "hoomd" else p.typeid)
                out = self._run(pos, self._lookup_t[typeid.long()], box, pbc, n, scale)
        else:
            out = self._run(pos, self._lookup[typeid], box, pbc, n, scale)
        self._publish(timestep, tags, out)
        self.route = route
        self.gathered_steps += route == "gather"
        self.compute_seconds += time.perf_counter() - start

    def _reach_unit(self, box: Box, scale: float, flat: bool) -> float:
        """What the model's receptive field and cutoff are multiplied by: ``scale`` for global-unit
        files, the largest local unit of the owned particles (all ranks) for local-unit files
        (:func:`md_orderml.engines.halo.reach_unit`); serially, where it only feeds the width
        check, :func:`md_orderml.engines.halo.width_check_unit`."""
        if self._model.length_unit != "local":
            return scale
        with self._simulation.state.cpu_local_snapshot as snap:
            owned = np.array(snap.particles.position, dtype=np.float64)
        if self._comm is None:  # serial: the unit only feeds the width check
            return width_check_unit(self._model, owned, box, (True, True, not flat), scale)
        return reach_unit(self._model, owned, np.zeros((3, 3)), (False, False, False), scale, self._comm)

    def _run(self, positions, model_types, box: Box, pbc, n_owned: int, scale: float) -> Dict[str, np.ndarray]:
        """Model outputs (numpy) for the first ``n_owned`` of ``positions`` (N, 3)."""
        if n_owned == 0:
            return self._spec.empty()
        owned = np.zeros(len(positions), dtype=bool)
        owned[:n_owned] = True
        return self._classifier.compute_arrays(positions, model_types, box.matrix, pbc, owned, scale)

    def _publish(self, timestep: int, tags: np.ndarray, out: Dict[str, np.ndarray]) -> None:
        """Totals on every rank; the per-particle arrays (N_global, ...) in tag order on rank 0."""
        stored = self._spec.particle_keys
        arrays = self._spec.check(out, len(tags), stored, f"HOOMD step {timestep}")
        totals = self._spec.totals(arrays)
        fields = [tags] + [arrays[key] for key in stored]
        if self._comm is not None:
            totals = self._comm.allreduce(totals)
            parts = self._comm.gather(fields, root=0)
            if self._rank == 0:
                fields = [np.concatenate([part[i] for part in parts]) for i in range(len(fields))]
        self._arrays = {}
        if self._rank == 0:
            order = np.argsort(fields[0], kind="stable")
            self._arrays = {key: field[order] for key, field in zip(stored, fields[1:])}
        self._totals, self._step = totals, timestep

    # ---------------------------------------------------------------- loggables

    def _require(self, kind: str) -> None:
        """Refuse a summary of the other task (``kind``: "fractions" or "means") with a one-line error."""
        if self._spec.summary_kind != kind:
            raise InputError(wrong_task_message(self._model, keys.VALUES if kind == "means" else kind))

    def _summary_totals(self, kind: str) -> np.ndarray:
        """Current totals (:meth:`OutputSpec.totals`, all ranks) of a model whose summary is ``kind``."""
        self._require(kind)
        self._refresh()
        return self._totals

    def _particle(self, key: str):
        if key not in self._spec.particle_keys:
            raise InputError(wrong_task_message(self._model, key))
        self._refresh()
        return self._arrays.get(key) if self._rank == 0 else None

    @log(category="scalar", requires_run=True, default=False)
    def labelled_step(self):
        """int: the step the current labels were computed on."""
        self._refresh()
        return self._step

    @log(category="string")
    def model_sha256(self):
        """str: SHA-256 of the model file (64 hex digits)."""
        return self._model.sha256

    @property
    def receptive_field(self) -> float:
        """Dimensionless receptive field of the model (times the length scale = ghost reach needed)."""
        return self._model.receptive_field

    def __getattr__(self, name: str):
        model = self.__dict__.get("_model")
        if model is not None and name in TASK_NAMES:  # the other task's quantity: say why in one line
            raise InputError(wrong_task_message(model, name))
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")


class OrderMLWriter(hoomd.write.CustomWriter):
    """Per-particle structure labels (or regression values) as a HOOMD writer (loggables in the module docstring).

    Args:
        trigger: When to label (``hoomd.trigger.trigger_like``, e.g. ``1000``).
        model: Model file path, ``"default"`` or a loaded :class:`~md_orderml.model_file.ModelFile`.
        device: ``"cpu"`` or ``"cuda"``; default follows ``sim.device`` (GPU -> ``"cuda"``).
        type_map: For typed models, HOOMD type name -> model type name.
        ghosts: ``"auto"``, ``"hoomd"`` or ``"gather"`` (MPI only; see the module docstring).
        mpi_comm: mpi4py communicator of the simulation's ranks, needed only when the
            simulation's ranks are neither ``MPI.COMM_WORLD`` nor a ``ranks_per_partition`` split.

    Attributes:
        class_names (list[str]): Class names, index = label.
        fractions (dict[str, float]): Class fractions by class name (all ranks).
        means (dict[str, float]): Regression models: value means by value name (all ranks).
        route (str): How the last labels were made (``"serial"``, ``"hoomd"``, ``"gather"``).

    Example::

        labels = OrderMLWriter(trigger=1000)
        sim.operations.writers.append(labels)
        sim.run(1000)
        labels.fractions            # {"fcc": 0.97, ...} on every rank
        labels.label                # (N_global,) on rank 0
    """

    def __init__(self, trigger, model="default", *, device: Optional[str] = None,
                 type_map: Optional[Mapping[str, str]] = None, ghosts: str = "auto", mpi_comm=None):
        model = model if isinstance(model, ModelFile) else load_model(model, device="cpu")
        action = action_class(_OrderMLAction, model)(model, device, type_map, ghosts, mpi_comm)
        super().__init__(trigger=trigger, action=action)  # its loggables become the writer's
        action._operation = weakref.ref(self)


def __getattr__(name):
    """``OrderMLLabels``: the deprecated name of :class:`OrderMLWriter`."""
    if name in DEPRECATED:
        warnings.warn(f"md_orderml.engines.hoomd.{name} is deprecated; use {DEPRECATED[name]}",
                      DeprecationWarning, stacklevel=2)
        return globals()[DEPRECATED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
