"""Seeded growth of the Frank-Kasper A15 crystal in LAMMPS, labelled on the fly; plot of class fractions.

Writes the potential table of ``opp_a15.py`` (an oscillating pair potential whose
lowest-energy lattice is A15, checked and printed first), then runs
``lammps_opp_a15_growth.in`` with md-orderml attached: an A15 lattice melted at T = 1.2 but
for a fixed seed slab of half the box, quenched to ``--kt`` (default 0.5) and left to grow
(Langevin). The same protocol as ``hoomd_opp_a15_growth.py``, for users without HOOMD-blue::

    python examples/lammps_opp_a15_growth.py                   # 1,728 atoms, ~2-4 min on 2 cores
    python examples/lammps_opp_a15_growth.py --cells 8         # 4,096 atoms
    mpirun -np 2 python examples/lammps_opp_a15_growth.py

Prints the a15, sigma, unknown and liquid fractions of each labelling. Writes to ``--out``
(default ``runs/opp_a15_growth/`` of this checkout, which git ignores): ``opp.table``,
``traj.dump`` (id type x y z i_orderml d_orderml_conf; in OVITO colour by i_orderml),
``counts.txt`` (atoms per class per labelling), ``log.lammps`` and ``fractions.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "runs" / "opp_a15_growth"  #: ignored by the checkout's .gitignore (/runs/)
sys.path.insert(0, os.fspath(HERE))  # this folder's shared potential
from opp_a15 import NN_DISTANCE, lattice_energies, ranking_line, write_lammps_table  # noqa: E402

SHOWN = ("a15", "sigma", "unknown", "liquid")  #: classes printed per labelling


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=6, help="A15 cells per side: 8 cells^3 atoms (default 6: 1,728)")
    p.add_argument("--kt", type=float, default=0.5, help="growth temperature (A15 melts between 0.6 and 0.8)")
    p.add_argument("--melt-steps", type=int, default=3000)
    p.add_argument("--steps", type=int, default=10000, help="steps after the quench (default 10,000)")
    p.add_argument("--every", type=int, default=1000, help="label every N steps (default 1,000)")
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--model", default="default", help="model file or 'default'")
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help="output folder (default: runs/opp_a15_growth of this checkout, ignored by git)")
    p.add_argument("--skip-energies", action="store_true", help="do not print the lattice-energy ranking")
    args = p.parse_args(argv)

    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.engines.lammps.script import ScriptRunner
    from md_orderml.labelling import mpi_world
    from md_orderml.mpi import import_lammps

    lammps = import_lammps()
    comm = mpi_world()
    rank0 = comm is None or comm.Get_rank() == 0
    out = Path(args.out).resolve()
    table = out / "opp.table"
    if rank0:
        out.mkdir(parents=True, exist_ok=True)
        write_lammps_table(table)
        if not args.skip_energies:
            print(ranking_line(lattice_energies()), flush=True)
    if comm is not None:
        comm.Barrier()
    variables = dict(orderml_every=args.every, cells=args.cells, nn=NN_DISTANCE, kt=args.kt,
                     melt_steps=args.melt_steps, steps=args.steps, table=table, out=out, seed=args.seed)
    cmdargs = ["-nocite", "-log", "none", "-screen", "none"]
    for name, value in variables.items():
        cmdargs += ["-var", name, str(value)]
    lmp = lammps.lammps(cmdargs=cmdargs, comm=comm)
    start = time.perf_counter()
    fix = ScriptRunner(lmp, HERE / "lammps_opp_a15_growth.in",
                       lambda lmp_, skin: OrderMLFix(lmp_, args.model, every=args.every, skin=skin), comm).run()
    fix.check()
    names, natoms = fix.class_names, lmp.get_natoms()
    lmp.close()
    if not rank0:
        return 0
    data = np.loadtxt(out / "counts.txt", comments="#", ndmin=2)
    steps, counts = data[:, 0], data[:, 1:1 + len(names)]
    fractions = counts / np.maximum(data[:, 1 + len(names)], 1)[:, None]
    for step, row in zip(steps, fractions):
        print(f"step {int(step):6d}  " + "  ".join(f"{n} {row[names.index(n)]:.3f}" for n in SHOWN if n in names))
    from md_orderml.plotting import plot_fractions

    png = plot_fractions(steps, fractions, names, out / "fractions.png", "steps after the quench",
                         title=f"OPP A15 growth (LAMMPS), {natoms} atoms, T={args.kt}")
    a15 = fractions[:, names.index("a15")]
    print(f"a15 fraction: {a15[0]:.3f} after the melt, {a15[-1]:.3f} at the end "
          f"({time.perf_counter() - start:.0f} s)")
    print(f"wrote {out / 'traj.dump'}, {out / 'counts.txt'}, {out / 'log.lammps'}, {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
