"""The LAMMPS ``bench/in.lj`` system shared by the LAMMPS benchmarks (imported from this folder)."""


def lj_system(lmp, cells: int, seed: int = 87287, thermo: int = 0) -> None:
    """Create the in.lj system in ``lmp``: LJ fcc lattice at density 0.8442, T = 1.44, ``4 cells**3`` atoms.

    Args:
        lmp: A ``lammps.lammps`` instance.
        cells: Unit cells per box edge.
        seed: Velocity seed.
        thermo: Thermo output interval (0 = LAMMPS' default).
    """
    from md_orderml.engines.lammps.samples import lj_fcc_commands

    lmp.commands_string(lj_fcc_commands(0.8442, cells) + f"""
velocity all create 1.44 {seed} loop geom
fix 1 all nve
""")
    if thermo:
        lmp.command(f"thermo {thermo}")
