"""2D Kob-Andersen liquids and liquid-cooled glasses at matched inherent-structure energy.

Data for the glass-vs-liquid classifier (issue 8, after Swanson et al., Soft Matter 16,
435 (2020)): 2D Kob-Andersen 65:35 mixture, the pair parameters of
:data:`md_orderml.research.glassy.data.KA_PAIRS`, number density 1.2, ``dimension 2``,
``fix enforce2d``, one independent LAMMPS run (own seed) per configuration:

* melt: random insertion (minimum distance 0.5), minimisation, ``melt_tau`` of NVT at ``t_high``;
* liquid: then ``liquid_tau`` of NVT at ``t_liquid``;
* glass: then a linear NVT quench from ``t_high`` to ``t_low`` over ``quench_tau``;
* both: energy minimisation (``min_style cg``, force tolerance ``1e-6``) to the
  inherent structure (IS). The stored positions are the IS and ``energy`` is the IS
  potential energy per particle; ``parent_energy`` is U/N just before minimising.

Matching. Swanson et al. separate liquids and glasses "even when prepared at the same
inherent structure energy"; without matching the classes differ trivially in energy.
The matching knob here is the quench duration, not the liquid temperature: a pilot
(N = 500, 2-6 runs per setting, 2 shared cores) gave liquid IS energies of
-3.61 to -3.63 for T = 0.45-1.0 after 20 tau (flat within the run-to-run spread of
about 0.01), and at T <= 1 the liquid energy kept drifting down over 50-100 tau (slow
ordering of the 2D KA mixture), so a temperature search is ill-conditioned. The glass
IS energy instead falls steadily with the quench time (-3.590, -3.614, -3.616, -3.636,
-3.646, -3.664 for 5, 10, 15, 25, 40, 100 tau). So :func:`generate` makes the liquids
first and, unless ``quench_tau`` is given, runs ``pilot_reps`` glasses at each of
``pilot_quench_taus``, fits ``e_IS = a + b log(quench_tau)`` and uses the quench time
whose fitted IS energy equals the liquids' mean (clipped to the pilot range x [1/2, 2]).
The pilot runs are recorded in ``meta["pilot"]`` and are not part of the data.

Cached as ``.npz`` under :data:`md_orderml.research.glassy.data.CACHE_DIR`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from md_orderml.research.glassy.data import CACHE_DIR, TIMESTEP, _state, ka_interactions, load_or_make, settings_key

CACHE_VERSION = 2
#: Minimiser settings of the inherent structures (energy tol., force tol., iterations, evaluations).
MIN_SETTINGS = (0.0, 1e-6, 20000, 200000)
#: Fraction of A particles.
FRACTION_A = 0.65


@dataclasses.dataclass(frozen=True)
class Glass2DConfig:
    """Settings of one glass-vs-liquid data set (all part of the cache key).

    Attributes:
        n_particles: Particles (65 % A, 35 % B).
        density: Number density (particles per unit area).
        n_per_class: Configurations per class.
        t_high: Melt temperature (start of the quench).
        melt_tau: NVT time at ``t_high`` of every run.
        t_liquid: Temperature of the liquids.
        liquid_tau: NVT time of the liquids at ``t_liquid``.
        t_low: End temperature of the linear quench.
        quench_tau: Quench duration; ``None``: chosen by the pilot so that the mean IS
            energies of both classes match (module docstring).
        pilot_quench_taus: Quench durations tried by the pilot.
        pilot_reps: Pilot glasses per quench duration.
        seed: Base seed (run c uses ``seed * 1000 + c``; pilot runs ``seed * 1000 + 500 + k``).
    """

    n_particles: int = 500
    density: float = 1.2
    n_per_class: int = 48
    t_high: float = 2.0
    melt_tau: float = 10.0
    t_liquid: float = 0.8
    liquid_tau: float = 20.0
    t_low: float = 0.1
    quench_tau: Optional[float] = None
    pilot_quench_taus: Tuple[float, ...] = (6.0, 12.0, 24.0, 48.0)
    pilot_reps: int = 4
    seed: int = 1

    def key(self) -> str:
        """Short hash of the settings (the cache file name)."""
        return settings_key(self, CACHE_VERSION)


#: Small, fast settings (``--quick``): N = 300, 16 configurations per class.
QUICK = Glass2DConfig(n_particles=300, n_per_class=16, liquid_tau=10.0, pilot_reps=3)
#: A larger matched set (``benchmarks/glass_vs_liquid.py --large``): N = 1000, 200 per class, 8 pilot
#: glasses per quench time (about 10 minutes of LAMMPS on one core).
LARGE = Glass2DConfig(n_particles=1000, n_per_class=200, pilot_reps=8)


@dataclasses.dataclass
class Glass2DData:
    """Inherent structures, labels and energies.

    Attributes:
        positions: Wrapped IS positions, shape (C, N, 3), z = 0, x and y in [0, L).
        types: 0 = A, 1 = B, shape (C, N), int64.
        box_length: Edge of the square box.
        labels: 0 = liquid, 1 = glass, shape (C,), int64.
        energy: IS potential energy per particle, shape (C,).
        parent_energy: Potential energy per particle before minimisation, shape (C,).
        meta: Settings, the quench time used, the pilot runs and wall time.
    """

    positions: np.ndarray
    types: np.ndarray
    box_length: float
    labels: np.ndarray
    energy: np.ndarray
    parent_energy: np.ndarray
    meta: Dict

    def save(self, path) -> None:
        """Write one ``.npz``."""
        np.savez_compressed(path, positions=self.positions, types=self.types, box_length=self.box_length,
                            labels=self.labels, energy=self.energy, parent_energy=self.parent_energy,
                            meta=json.dumps(self.meta))

    @classmethod
    def load(cls, path) -> "Glass2DData":
        """Read a file written by :meth:`save`."""
        with np.load(path) as z:
            return cls(positions=z["positions"], types=z["types"], box_length=float(z["box_length"]),
                       labels=z["labels"], energy=z["energy"], parent_energy=z["parent_energy"],
                       meta=json.loads(str(z["meta"])))

    @property
    def cell(self) -> np.ndarray:
        """Lattice vectors as rows, shape (3, 3) (z edge 1, unused)."""
        return np.diag([self.box_length, self.box_length, 1.0])


def _one(config: Glass2DConfig, glass: bool, seed: int, quench_tau: float = 0.0):
    """One run of the protocol; returns IS positions (N, 3), types (N,), IS and parent U/N, box edge."""
    from md_orderml.mpi import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    n = config.n_particles
    n_a = int(round(FRACTION_A * n))
    length = float(np.sqrt(n / config.density))
    steps = lambda tau: max(1, int(round(tau / TIMESTEP)))  # noqa: E731
    s = seed % 900_000_000 + 1
    th = config.t_high
    lmp.commands_string(f"""
        units lj
        dimension 2
        boundary p p p
        atom_style atomic
        atom_modify map array sort 0 0
        region box block 0 {length} 0 {length} -0.5 0.5
        create_box 2 box
        create_atoms 1 random {n_a} {s} box overlap 0.5 maxtry 1000
        create_atoms 2 random {n - n_a} {s + 1} box overlap 0.5 maxtry 1000
        {ka_interactions()}
        timestep {TIMESTEP}
        thermo 0
        fix e2d all enforce2d
        minimize 1e-4 1e-6 2000 20000
        reset_timestep 0
        velocity all create {th} {s + 2} mom yes rot no dist gaussian
        fix nvt all nvt temp {th} {th} 0.5
        run {steps(config.melt_tau)}
        unfix nvt
    """)
    if glass:
        lmp.command(f"fix nvt all nvt temp {th} {config.t_low} 0.5")
        lmp.command(f"run {steps(quench_tau)}")
    else:
        lmp.command(f"fix nvt all nvt temp {config.t_liquid} {config.t_liquid} 0.5")
        lmp.command(f"run {steps(config.liquid_tau)}")
    lmp.command("unfix nvt")
    lmp.command("compute pe all pe")
    lmp.command("run 0")
    parent = float(lmp.extract_compute("pe", 0, 0)) / n
    lmp.command("min_style cg")
    lmp.command("minimize {} {} {} {}".format(*MIN_SETTINGS))
    lmp.command("run 0")
    energy = float(lmp.extract_compute("pe", 0, 0)) / n
    nlocal = lmp.extract_global("nlocal")
    if nlocal != n:
        lmp.close()
        raise RuntimeError(f"LAMMPS run with seed {seed} holds {nlocal} of {n} particles (random insertion failed)")
    x, types = _state(lmp)
    x[:, 2] = 0.0
    lmp.close()
    return x, types, energy, parent, length


def matched_quench_tau(taus: Sequence[float], energies: Sequence[float], target: float) -> float:
    """Quench time whose fitted IS energy equals ``target``.

    Fits ``e = a + b log(tau)`` to the pilot points by least squares and inverts it;
    the result is clipped to ``[min(taus) / 2, 2 max(taus)]``. With a non-negative
    slope (noise) the pilot time whose mean energy is closest to ``target`` is returned.

    Args:
        taus: Quench time of each pilot run, shape (P,).
        energies: IS energy per particle of each pilot run, shape (P,).
        target: Energy to match (the liquids' mean IS energy).

    Returns:
        The quench time.
    """
    taus, energies = np.asarray(taus, float), np.asarray(energies, float)
    lo, hi = taus.min() / 2.0, taus.max() * 2.0
    slope, intercept = np.polyfit(np.log(taus), energies, 1)
    if slope >= 0:
        levels = np.unique(taus)
        means = np.array([energies[taus == t].mean() for t in levels])
        return float(levels[np.argmin(np.abs(means - target))])
    return float(np.clip(np.exp((target - intercept) / slope), lo, hi))


def generate(config: Glass2DConfig = Glass2DConfig(), progress: bool = False) -> Glass2DData:
    """Run the protocol of the module docstring (no cache; see :func:`load_or_generate`)."""
    t0 = time.time()
    say = (lambda text: print(f"  {text} ({time.time() - t0:.0f} s)", flush=True)) if progress else (lambda _: None)
    runs: List[tuple] = []
    for c in range(config.n_per_class):
        runs.append(_one(config, False, config.seed * 1000 + c))
        say(f"liquid {c + 1}/{config.n_per_class}: IS U/N = {runs[-1][2]:.4f}")
    target = float(np.mean([r[2] for r in runs]))
    pilot: List[Dict] = []
    quench_tau = config.quench_tau
    if quench_tau is None:
        k = 0
        for tau in config.pilot_quench_taus:
            for _ in range(config.pilot_reps):
                e = _one(config, True, config.seed * 1000 + 500 + k, tau)[2]
                pilot.append({"quench_tau": float(tau), "is_energy": e})
                k += 1
            recent = [p["is_energy"] for p in pilot[-config.pilot_reps:]]
            say(f"pilot quench {tau:g} tau: IS U/N = {np.mean(recent):.4f}")
        quench_tau = matched_quench_tau([p["quench_tau"] for p in pilot], [p["is_energy"] for p in pilot], target)
        say(f"quench time {quench_tau:.2f} tau matches the liquids' IS U/N {target:.4f}")
    for c in range(config.n_per_class):
        runs.append(_one(config, True, config.seed * 1000 + config.n_per_class + c, quench_tau))
        say(f"glass {c + 1}/{config.n_per_class}: IS U/N = {runs[-1][2]:.4f}")
    labels = np.repeat([0, 1], config.n_per_class).astype(np.int64)
    meta = {"config": dataclasses.asdict(config), "quench_tau": float(quench_tau), "pilot": pilot,
            "liquid_mean_is_energy": target, "seconds": time.time() - t0, "timestep": TIMESTEP,
            "min_settings": list(MIN_SETTINGS)}
    return Glass2DData(positions=np.stack([r[0] for r in runs]), types=np.stack([r[1] for r in runs]),
                       box_length=runs[0][4], labels=labels, energy=np.array([r[2] for r in runs]),
                       parent_energy=np.array([r[3] for r in runs]), meta=meta)


def load_or_generate(config: Glass2DConfig = Glass2DConfig(), cache_dir: Optional[Path] = None,
                     progress: bool = False) -> Glass2DData:
    """The cached data set of ``config``, generated (and cached) when missing."""
    cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    return load_or_make(cache_dir / f"ka2d_{config.key()}.npz", lambda: generate(config, progress=progress),
                        Glass2DData.load)
