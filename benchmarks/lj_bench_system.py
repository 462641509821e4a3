"""The LAMMPS ``bench/in.lj`` system shared by the LAMMPS benchmarks (imported from this folder)."""


def lj_system(lmp, cells: int, seed: int = 87287, thermo: int = 0) -> None:
    """Create the in.lj system in ``lmp``: LJ fcc lattice at density 0.8442, T = 1.44, ``4 cells**3`` atoms.

    Args:
        lmp: A ``lammps.lammps`` instance.
        cells: Unit cells per box edge.
        seed: Velocity seed.
        thermo: Thermo output interval (0 = LAMMPS' default).
    """
    lmp.commands_string(f"""
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 1.0
velocity all create 1.44 {seed} loop geom
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
neighbor 0.3 bin
fix 1 all nve
""")
    if thermo:
        lmp.command(f"thermo {thermo}")
