"""Crystallization of a supercooled LJ liquid in LAMMPS, labelled on the fly; plot of class fractions.

Runs ``lammps_lj_crystallization.in`` (melt an fcc lattice at T = 3, quench to T = 0.7 at
density 1.05, Nose-Hoover NVT; the run halts once the labelled crystalline fraction
exceeds ``--halt``) with md-orderml attached, then plots the class fractions against
time::

    python examples/lammps_lj_crystallization.py                      # 2,916 atoms, ~2 min on 2 cores
    python examples/lammps_lj_crystallization.py --cells 12 --steps 80000   # 6,912 atoms
    mpirun -np 2 python examples/lammps_lj_crystallization.py

Writes to ``--out`` (default ``lj_crystallization/``): ``traj.dump`` (id type x y z
i_orderml d_orderml_conf every ``--every`` steps; open it in OVITO and colour by
i_orderml), ``counts.txt`` (atoms per class per labelling), ``log.lammps`` and
``fractions.png``. The same input runs without Python too:
``md-orderml lammps examples/lammps_lj_crystallization.in``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=9, help="fcc cells per side: 4 cells^3 atoms (default 9: 2,916)")
    p.add_argument("--steps", type=int, default=30000, help="most steps after the quench (default 30,000 = 150 tau)")
    p.add_argument("--halt", type=float, default=0.9, help="stop when fcc+hcp+bcc labels exceed this fraction")
    p.add_argument("--every", type=int, default=1000, help="label every N steps (default 1,000)")
    p.add_argument("--t-cool", type=float, default=0.7, help="temperature after the quench (default 0.7)")
    p.add_argument("--rho", type=float, default=1.05, help="number density (default 1.05)")
    p.add_argument("--seed", type=int, default=4928)
    p.add_argument("--model", default="default", help="model file or 'default'")
    p.add_argument("--out", default="lj_crystallization", help="output folder")
    args = p.parse_args(argv)

    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.engines.lammps.script import ScriptRunner
    from md_orderml.labelling import mpi_world
    from md_orderml.model_file import resolve_model_path
    from md_orderml.mpi import import_lammps

    if not resolve_model_path(args.model).is_file():
        print(f"error: model {resolve_model_path(args.model)} not found (the default model may not be trained "
              "yet); pass --model FILE", file=sys.stderr)
        return 2
    lammps = import_lammps()
    comm = mpi_world()
    rank0 = comm is None or comm.Get_rank() == 0
    variables = dict(orderml_every=args.every, cells=args.cells, steps=args.steps, tcool=args.t_cool, halt=args.halt,
                     rho=args.rho, seed=args.seed, out=args.out)
    cmdargs = ["-nocite", "-log", "none", "-screen", "none"]
    for name, value in variables.items():
        cmdargs += ["-var", name, str(value)]
    lmp = lammps.lammps(cmdargs=cmdargs, comm=comm)
    if rank0:
        print(f"{4 * args.cells ** 3} LJ atoms, density {args.rho}: melt at T=3, quench to T={args.t_cool}, "
              f"{args.steps} steps labelled every {args.every} ...", flush=True)
    start = time.perf_counter()
    fix = ScriptRunner(lmp, HERE / "lammps_lj_crystallization.in",
                       lambda lmp_, skin: OrderMLFix(lmp_, args.model, every=args.every, skin=skin),
                       comm).run()
    fix.check()
    names = fix.class_names
    lmp.close()
    if not rank0:
        return 0
    data = np.loadtxt(Path(args.out) / "counts.txt", comments="#", ndmin=2)
    steps, counts = data[:, 0], data[:, 1:1 + len(names)]
    fraction_table = counts / np.maximum(data[:, 1 + len(names)], 1)[:, None]
    from md_orderml.plotting import plot_fractions

    png = plot_fractions(steps, fraction_table, names, Path(args.out) / "fractions.png", "time step",
                         title=f"LJ, {4 * args.cells ** 3} atoms, rho={args.rho}, T={args.t_cool}")
    final = ", ".join(f"{n} {f:.2f}" for n, f in zip(names, fraction_table[-1]) if f >= 0.005)
    crystal = fraction_table[:, [names.index(n) for n in ("fcc", "hcp", "bcc") if n in names]].sum(axis=1)
    onset = steps[np.argmax(crystal > 0.5)] if (crystal > 0.5).any() else None
    print(f"done in {time.perf_counter() - start:.0f} s; final fractions: {final}")
    print("crystalline (fcc+hcp+bcc) fraction passed 0.5 at step "
          f"{int(onset)}" if onset is not None else "crystalline fraction stayed below 0.5")
    print(f"wrote {Path(args.out) / 'traj.dump'}, {Path(args.out) / 'counts.txt'}, {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
