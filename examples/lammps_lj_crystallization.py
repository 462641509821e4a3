"""Crystallization of a supercooled LJ liquid in LAMMPS, labelled on the fly; plot of class fractions.

Runs ``lammps_lj_crystallization.in`` (melt an fcc lattice at T = 3, quench to T = 0.7 at
density 1.05, Nose-Hoover NVT; the run halts once the labelled crystalline fraction
exceeds ``--halt``) with md-orderml attached, then plots the class fractions against
time::

    python examples/lammps_lj_crystallization.py                      # 2,916 atoms, ~1-2 min on 2 cores
    python examples/lammps_lj_crystallization.py --out /tmp/lj        # write elsewhere
    python examples/lammps_lj_crystallization.py --cells 12 --steps 80000   # 6,912 atoms
    mpirun -np 2 python examples/lammps_lj_crystallization.py

Prints one progress line per labelling (step, temperature, crystalline and liquid
fractions, elapsed time) and, at the end, why the run stopped: the crystalline fraction
passed ``--halt`` (LAMMPS ``fix halt``) or all ``--steps`` ran.

Writes to ``--out`` (default ``runs/lj_crystallization/`` of this checkout, which git
ignores): ``traj.dump`` (id type x y z i_orderml d_orderml_conf every ``--every`` steps;
open it in OVITO and colour by i_orderml), ``counts.txt`` (atoms per class per
labelling), ``log.lammps`` and ``fractions.png``. The same input runs without Python too:
``md-orderml lammps examples/lammps_lj_crystallization.in`` (writes ``runs/lj_crystallization/``
of the working directory).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "runs" / "lj_crystallization"  #: ignored by the checkout's .gitignore (/runs/)
CRYSTALS = ("fcc", "hcp", "bcc")  #: the classes the halt condition of the input counts


class Progress:
    """Prints one line per labelling on rank 0 (a ``fix external`` called after the md-orderml fix).

    Args:
        lmp: The LAMMPS instance.
        fix: The attached :class:`~md_orderml.engines.lammps.OrderMLFix`.
        every: Steps between labellings.
        rank0: Whether this rank prints.
    """

    def __init__(self, lmp, fix, every: int, rank0: bool):
        self.lmp, self.fix, self.rank0 = lmp, fix, rank0
        self.start, self.phase, self.last_step = time.perf_counter(), "melt", -1
        self.names = list(fix.class_names)
        lmp.command(f"fix orderml_progress all external pf/callback {every} {every}")
        lmp.set_fix_external_callback("orderml_progress", self, None)

    def __call__(self, caller, step, nlocal, tag, x, f) -> None:
        if step < self.last_step:  # reset_timestep 0 after the melt
            self.phase = "crystallize"
        self.last_step = step
        if not self.rank0 or getattr(self.fix, "totals", None) is None:
            return
        counts, total = self.fix.counts, max(float(self.fix.n_labelled), 1.0)
        fractions = dict(zip(self.names, np.asarray(counts, dtype=float) / total))
        crystal = sum(fractions.get(n, 0.0) for n in CRYSTALS)
        temp = self.lmp.get_thermo("temp")
        print(f"{self.phase:>11} step {step:6d}  T {temp:5.2f}  crystalline {crystal:5.3f} "
              f"(fcc {fractions.get('fcc', 0):.3f} hcp {fractions.get('hcp', 0):.3f} bcc {fractions.get('bcc', 0):.3f})  "
              f"liquid {fractions.get('liquid', 0):5.3f}  [{time.perf_counter() - self.start:5.0f} s]", flush=True)


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
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help="output folder (default: runs/lj_crystallization of this checkout, ignored by git)")
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
    out = Path(args.out).resolve()
    variables = dict(orderml_every=args.every, cells=args.cells, steps=args.steps, tcool=args.t_cool, halt=args.halt,
                     rho=args.rho, seed=args.seed, out=out)
    cmdargs = ["-nocite", "-log", "none", "-screen", "none"]
    for name, value in variables.items():
        cmdargs += ["-var", name, str(value)]
    lmp = lammps.lammps(cmdargs=cmdargs, comm=comm)
    if rank0:
        print(f"{4 * args.cells ** 3} LJ atoms, density {args.rho}: melt at T=3 (4,000 steps), quench to "
              f"T={args.t_cool}, then at most {args.steps} steps, stopping early once the crystalline "
              f"(fcc+hcp+bcc) fraction exceeds --halt {args.halt}; labelled every {args.every} steps; "
              f"output in {out}", flush=True)
    start = time.perf_counter()

    def attach(lmp_, skin):
        fix_ = OrderMLFix(lmp_, args.model, every=args.every, skin=skin)
        attach.progress = Progress(lmp_, fix_, args.every, rank0)  # keep the callback alive
        return fix_

    fix = ScriptRunner(lmp, HERE / "lammps_lj_crystallization.in", attach, comm).run()
    fix.check()
    names = fix.class_names
    lmp.close()
    if not rank0:
        return 0
    data = np.loadtxt(out / "counts.txt", comments="#", ndmin=2)
    steps, counts = data[:, 0], data[:, 1:1 + len(names)]
    fraction_table = counts / np.maximum(data[:, 1 + len(names)], 1)[:, None]
    from md_orderml.plotting import plot_fractions

    png = plot_fractions(steps, fraction_table, names, out / "fractions.png", "time step",
                         title=f"LJ, {4 * args.cells ** 3} atoms, rho={args.rho}, T={args.t_cool}")
    final = ", ".join(f"{n} {f:.2f}" for n, f in zip(names, fraction_table[-1]) if f >= 0.005)
    crystal = fraction_table[:, [names.index(n) for n in CRYSTALS if n in names]].sum(axis=1)
    onset = steps[np.argmax(crystal > 0.5)] if (crystal > 0.5).any() else None
    print(f"done in {time.perf_counter() - start:.0f} s; final fractions: {final}")
    print(stop_reason(int(steps[-1]), args.steps, float(crystal[-1]), args.halt))
    print("crystalline (fcc+hcp+bcc) fraction passed 0.5 at step "
          f"{int(onset)}" if onset is not None else "crystalline fraction stayed below 0.5")
    print(f"wrote {out / 'traj.dump'}, {out / 'counts.txt'}, {out / 'log.lammps'}, {png}")
    return 0


def stop_reason(last_step: int, steps: int, crystal: float, halt: float) -> str:
    """Why the crystallization run ended, in one line (``last_step``: its last labelled step)."""
    if last_step < steps:
        return (f"stopped at step {last_step} of {steps}: the crystalline fraction {crystal:.3f} exceeded "
                f"--halt {halt} (fix halt in the input); raise --halt to run longer")
    return f"ran all {steps} steps; the crystalline fraction ended at {crystal:.3f} (--halt {halt} not reached)"


if __name__ == "__main__":
    sys.exit(main())
