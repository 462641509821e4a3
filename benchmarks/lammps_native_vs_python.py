"""Per-labelling cost of the native plugin (compute orderml/atom) vs the Python compute.

Both run in one process on the same system, the LAMMPS ``bench/in.lj`` LJ liquid (fcc
lattice at density 0.8442, T = 1.44, cutoff 2.5, skin 0.3), with the same model and one
torch thread per rank. Each variant runs ``--steps`` MD steps labelling every ``--every``
steps; its cost per labelling is (run time - plain run time) / labellings, so it includes
everything a simulation pays: data extraction, the model, writing per-atom results and
the MPI sums. Variants are interleaved over ``--reps`` repetitions and the median is kept
(the machine may be shared).

* ``python``: :class:`md_orderml.engines.lammps.OrderMLFix` (fix external callback);
  on one rank it passes owned atoms and the periodic box, under MPI a gathered halo (mode ``auto``).
* ``native``: ``compute orderml/atom`` (``mode auto``: the same inputs as ``python``, on one
  rank the owned atoms and the periodic box, under MPI a gathered halo; ``comm_modify`` untouched).
* ``native ghost`` (serial): ``compute orderml/atom ... mode ghost`` (ghost atoms as context even
  on one rank; needs ``comm_modify cutoff``).
* ``model only`` (serial): the model's forward alone on the final configuration of the
  plain run through :class:`~md_orderml.OrderML`, the floor of both.

Prints a table and ends with ``RESULT native_over_python=<native / python per-call time>``::

    python benchmarks/lammps_native_vs_python.py
    python benchmarks/lammps_native_vs_python.py --cells 10 --steps 100 --every 20
    mpirun -np 2 python benchmarks/lammps_native_vs_python.py

The plugin is built first if needed (``md-orderml build-lammps-plugin``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from lj_bench_system import lj_system


def one_run(lammps, comm, args, variant: str, model: str) -> tuple:
    """Wall time of ``run steps`` and the number of labellings in it, for one variant."""
    from md_orderml.engines.lammps.plugin import load_plugin

    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"],
                        **({"comm": comm} if comm is not None else {}))
    try:
        lj_system(lmp, args.cells)
        calls = [0]
        if variant == "python":
            from md_orderml.engines.lammps import OrderMLFix

            compute = OrderMLFix(lmp, model, every=args.every, threads=1)
            inner = compute._label

            def counted(*a):
                calls[0] += 1
                return inner(*a)

            compute._label = counted
            lmp.command(f"thermo {args.every}")
        elif variant.startswith("native"):
            load_plugin(lmp)
            keywords = " mode ghost" if variant == "native ghost" else ""
            lmp.command(f"compute ol all orderml/atom {model}{keywords} threads 1")
            if keywords:
                lmp.command(f"comm_modify cutoff {ghost_cutoff(lmp, model):.6g}")
            lmp.command("thermo_style custom step temp c_ol[1]")
            lmp.command(f"thermo {args.every}")
        else:
            lmp.command(f"thermo {args.every}")
        lmp.command("run 0")  # warm-up: setup, first model call
        if variant == "model only":
            return model_only(lmp, model)
        calls[0] = 0
        t0 = time.perf_counter()
        lmp.command(f"run {args.steps}")
        elapsed = time.perf_counter() - t0
        if variant.startswith("native"):
            calls[0] = args.steps // args.every + 1  # thermo at setup and every `every` steps
        elif variant == "python":
            compute.check()
        return elapsed, calls[0]
    finally:
        lmp.close()


def model_only(lmp, model: str) -> tuple:
    """Median time of 3 model calls on the instance's atoms (periodic box), and 1."""
    import numpy as np
    import torch

    from md_orderml.analysis import OrderML, length_scale_of
    from md_orderml.engines.lammps.util import lammps_box

    n = lmp.extract_setting("nlocal")
    x = np.array(lmp.numpy.extract_atom("x", nelem=n))
    box = lammps_box(lmp)
    clf = OrderML(model)
    scale = length_scale_of(box.volume, n)
    args = (x, np.zeros(n, dtype=np.int64), box.matrix, (True, True, True), np.ones(n, dtype=bool), scale)
    times = []
    with torch.jit.optimized_execution(False):
        clf.compute_arrays(*args)
        for _ in range(3):
            t0 = time.perf_counter()
            clf.compute_arrays(*args)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), 1


def ghost_cutoff(lmp, model: str) -> float:
    """``receptive_field * (V/N)^(1/3) * 1.1 + skin``, as the Python compute sets it."""
    from md_orderml.model_file import read_metadata, resolve_model_path

    rf = float(read_metadata(resolve_model_path(model))["receptive_field"])
    lo, hi = lmp.extract_box()[:2]
    volume = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2])
    return rf * (volume / lmp.get_natoms()) ** (1 / 3) * 1.1 + 0.3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=8, help="fcc cells per side: 4 cells^3 atoms (default 8: 2048)")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--model", default="default")
    p.add_argument("--no-ghost", action="store_true", help="skip the 'native ghost' variant (serial)")
    args = p.parse_args()

    import torch

    from md_orderml.engines.lammps.plugin import plugin_path
    from md_orderml.mpi import import_lammps

    lammps = import_lammps()
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None
    rank = 0 if comm is None else comm.Get_rank()
    nprocs = 1 if comm is None else comm.Get_size()
    if rank == 0:
        path = plugin_path(build=True)
    if comm is not None:
        comm.Barrier()
        path = plugin_path(build=False)
    torch.set_num_threads(1)

    variants = ["plain", "python", "native"] + ([] if comm is not None else ["model only"]) + \
        ([] if args.no_ghost or comm is not None else ["native ghost"])
    times = {v: [] for v in variants}
    calls = {}
    for _ in range(args.reps):
        for variant in variants:
            elapsed, n = one_run(lammps, comm, args, variant, args.model)
            if comm is not None:
                elapsed = comm.allreduce(elapsed, op=MPI.MAX)
            times[variant].append(elapsed)
            calls[variant] = n
    if rank != 0:
        return 0
    plain = statistics.median(times["plain"])
    per_call = {v: (statistics.median(times[v]) - (0.0 if v == "model only" else plain)) / calls[v]
                for v in variants if v != "plain"}
    natoms = 4 * args.cells ** 3
    print(f"LJ liquid (in.lj), {natoms} atoms, {nprocs} MPI rank(s), 1 torch thread per rank, "
          f"{args.steps} steps labelled every {args.every}, median of {args.reps}; plugin {path}")
    print(f"{'variant':<14} {'run s':>8} {'labellings':>10} {'s / labelling':>14} {'vs python':>10}")
    print(f"{'plain':<14} {plain:8.3f} {0:>10} {'':>14} {'':>10}")
    for v in per_call:
        run = "" if v == "model only" else f"{statistics.median(times[v]):8.3f}"
        print(f"{v:<14} {run:>8} {calls[v]:>10} {per_call[v]:14.4f} "
              f"{per_call[v] / per_call['python']:10.3f}")
    print(f"RESULT native_over_python={per_call['native'] / per_call['python']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
