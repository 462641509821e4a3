"""Overhead of on-the-fly labelling in LAMMPS: labelled run time / plain run time.

The LAMMPS ``bench/in.lj`` system (LJ liquid, fcc lattice at density 0.8442, T = 1.44,
cutoff 2.5, skin 0.3) with 32,000 atoms runs 10,000 steps twice in one process: once
plain, once with :class:`~md_orderml.engines.lammps.OrderMLFix` labelling every
1,000 steps (11 labellings including step 0). The two runs advance in alternating
segments of 1,000 steps, so drifts in the machine's speed cancel out of the ratio.
Prints a table and ends with
``RESULT overhead_ratio=<x>``::

    python benchmarks/lammps_overhead.py                     # full size
    python benchmarks/lammps_overhead.py --atoms 4000 --steps 1000 --every 100   # quick
    mpirun -np 2 python benchmarks/lammps_overhead.py        # MPI (ghost path)

Without the shipped default model an untrained model of the default architecture is
exported (its cost is the same; its labels are meaningless).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from lj_bench_system import lj_system


def make_instance(lammps, comm, cells: int, model=None, every: int = 1000):
    """An in.lj instance, with an OrderMLFix whose labelling time is accumulated if model is given."""
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"], comm=comm)
    lj_system(lmp, cells, thermo=1000)
    compute, label_time = None, [0.0]
    if model is not None:
        from md_orderml.engines.lammps import OrderMLFix

        compute = OrderMLFix(lmp, model, every=every)
        inner = compute._label

        def timed_label(*args):
            t0 = time.perf_counter()
            try:
                return inner(*args)
            finally:
                label_time[0] += time.perf_counter() - t0

        compute._label = timed_label
    return lmp, compute, label_time


def interleaved_runs(lammps, comm, cells: int, steps: int, model, every: int):
    """Wall times of the plain and the labelled run, advanced in alternating segments.

    Both instances live in this process; each advances ``every`` steps in turn
    (``run every pre no post no`` after the first segment, whose ``run`` sets up both
    and labels step 0 in the labelled one), which of them goes first alternating, so a
    slow spell of the machine hits both runs alike instead of the one that happened to
    run second.

    Returns:
        ``(plain_s, labelled_s, natoms, labellings, labelling_s, counts)``.
    """
    plain, _, _ = make_instance(lammps, comm, cells)
    labelled, compute, label_time = make_instance(lammps, comm, cells, model, every)
    walls = [0.0, 0.0]
    done, segment = 0, 0
    while done < steps:
        n = min(every, steps - done)
        flags = "" if done == 0 else " pre no post no"
        turns = [(0, plain), (1, labelled)] if segment % 2 == 0 else [(1, labelled), (0, plain)]
        for k, lmp in turns:
            if comm is not None:
                comm.Barrier()
            t0 = time.perf_counter()
            lmp.command(f"run {n}{flags}")
            if comm is not None:
                comm.Barrier()
            walls[k] += time.perf_counter() - t0
        done += n
        segment += 1
    compute.check()
    natoms = int(plain.get_natoms())
    labellings = steps // every + 1
    counts = dict(zip(compute.class_names, compute.counts.tolist()))
    plain.close()
    labelled.close()
    return walls[0], walls[1], natoms, labellings, label_time[0], counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--atoms", type=int, default=32000, help="approximate atom count (4 n^3 is used)")
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--model", default="default", help="model file or 'default'")
    args = p.parse_args(argv)

    from md_orderml.mpi import import_lammps

    lammps = import_lammps()
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None
    rank0 = comm is None or comm.Get_rank() == 0
    model, note = args.model, "shipped default model"
    from md_orderml.model_file import resolve_model_path

    if not resolve_model_path(model).is_file() and args.model == "default":
        model, note = _untrained_default(comm), "UNTRAINED model of the default architecture (default.pt absent)"
    elif args.model != "default":
        note = str(args.model)
    cells = max(1, round((args.atoms / 4) ** (1 / 3)))

    plain, labelled, natoms, n_label, label_time, counts = interleaved_runs(
        lammps, comm, cells, args.steps, model, args.every)
    ratio = labelled / plain
    if rank0:
        ranks = 1 if comm is None else comm.Get_size()
        threads = os.environ.get("OMP_NUM_THREADS", "1")
        print(f"LJ liquid (in.lj), {natoms} atoms, {args.steps} steps, {ranks} MPI rank(s) x {threads} thread(s); {note}")
        print(f"{'run':<34}{'wall s':>10}{'steps/s':>10}")
        print(f"{'plain':<34}{plain:>10.2f}{args.steps / plain:>10.1f}")
        print(f"{f'labelled every {args.every} ({n_label} labellings)':<34}{labelled:>10.2f}{args.steps / labelled:>10.1f}")
        print(f"{'  of which labelling (rank 0)':<34}{label_time:>10.2f}{'':>10}")
        print(f"{'  per labelling':<34}{label_time / max(n_label, 1):>10.3f}{'':>10}")
        print(f"last counts: {counts}")
        print(f"RESULT overhead_ratio={ratio:.4f}")
    return 0


def _untrained_default(comm):
    """Export an untrained model with the default architecture (rank 0) and share its path."""
    path = None
    if comm is None or comm.Get_rank() == 0:
        from md_orderml.model_file import build_metadata, save_model
        from md_orderml.nn.backbone import EquivariantBackbone
        from md_orderml.nn.labeler import StructureLabeler

        classes = ["fcc", "bcc", "hcp", "sc", "cd", "hd", "liquid"]
        path = os.path.join(tempfile.mkdtemp(prefix="orderml_bench_"), "untrained.pt")
        save_model(StructureLabeler(EquivariantBackbone(1.6, {}), len(classes)),
                   build_metadata(classes, 1.6, 2, {}, {}), path)
    return path if comm is None else comm.bcast(path, root=0)


if __name__ == "__main__":
    sys.exit(main())
