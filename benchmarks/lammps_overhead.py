"""Overhead of on-the-fly labelling in LAMMPS: labelled run time / plain run time.

The LAMMPS ``bench/in.lj`` system (LJ liquid, fcc lattice at density 0.8442, T = 1.44,
cutoff 2.5, skin 0.3) with 32,000 atoms runs 10,000 steps in one process: plain, and
with :class:`~md_orderml.engines.lammps.OrderMLFix` labelling every 1,000 steps (11
labellings including step 0), once per fix mode of ``--modes`` (default ``auto``). The
runs advance in turns of 1,000 steps, so drifts in the machine's speed cancel out of the
ratios. Prints a table and ends with
``RESULT overhead_ratio=<x> overhead_ratio_<mode>=<x> ...`` (the first mode's ratio first)::

    python benchmarks/lammps_overhead.py                     # full size
    python benchmarks/lammps_overhead.py --atoms 4000 --steps 1000 --every 100   # quick
    mpirun -np 2 python benchmarks/lammps_overhead.py --modes auto,ghost   # MPI: gathered halo vs ghosts

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


def make_instance(lammps, comm, cells: int, model=None, every: int = 1000, mode: str = "auto"):
    """An in.lj instance, with an OrderMLFix (``mode``) whose labelling time is accumulated if model is given."""
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"], comm=comm)
    lj_system(lmp, cells, thermo=1000)
    compute, label_time = None, [0.0]
    if model is not None:
        from md_orderml.engines.lammps import OrderMLFix

        compute = OrderMLFix(lmp, model, every=every, mode=mode)
        inner = compute._label

        def timed_label(*args):
            t0 = time.perf_counter()
            try:
                return inner(*args)
            finally:
                label_time[0] += time.perf_counter() - t0

        compute._label = timed_label
    return lmp, compute, label_time


def interleaved_runs(lammps, comm, cells: int, steps: int, model, every: int, modes=("auto",)):
    """Wall times of the plain run and one labelled run per fix mode, advanced in alternating segments.

    All instances live in this process; each advances ``every`` steps in turn
    (``run every pre no post no`` after the first segment, whose ``run`` sets up each and
    labels step 0 in the labelled ones), the order rotating from segment to segment, so a
    slow spell of the machine hits all runs alike instead of the one that happened to run
    last.

    Returns:
        ``(plain_s, labelled_s (one per mode), natoms, labellings, labelling_s (one per mode), counts)``.
    """
    plain, _, _ = make_instance(lammps, comm, cells)
    runs = [make_instance(lammps, comm, cells, model, every, mode) for mode in modes]
    instances = [plain] + [lmp for lmp, _, _ in runs]
    walls = [0.0] * len(instances)
    done, segment = 0, 0
    while done < steps:
        n = min(every, steps - done)
        flags = "" if done == 0 else " pre no post no"
        shift = segment % len(instances)
        for k in list(range(shift, len(instances))) + list(range(shift)):
            if comm is not None:
                comm.Barrier()
            t0 = time.perf_counter()
            instances[k].command(f"run {n}{flags}")
            if comm is not None:
                comm.Barrier()
            walls[k] += time.perf_counter() - t0
        done += n
        segment += 1
    for _, compute, _ in runs:
        compute.check()
    natoms = int(plain.get_natoms())
    labellings = steps // every + 1
    counts = dict(zip(runs[0][1].class_names, runs[0][1].counts.tolist()))
    for lmp in instances:
        lmp.close()
    return walls[0], walls[1:], natoms, labellings, [t[0] for _, _, t in runs], counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--atoms", type=int, default=32000, help="approximate atom count (4 n^3 is used)")
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--model", default="default", help="model file or 'default'")
    p.add_argument("--modes", default="auto",
                   help="comma-separated OrderMLFix modes to time against the plain run (auto, ghost, gather); "
                        "the first gives overhead_ratio")
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

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
        lammps, comm, cells, args.steps, model, args.every, modes)
    if rank0:
        ranks = 1 if comm is None else comm.Get_size()
        threads = os.environ.get("OMP_NUM_THREADS", "1")
        print(f"LJ liquid (in.lj), {natoms} atoms, {args.steps} steps, {ranks} MPI rank(s) x {threads} thread(s); {note}")
        print(f"{'run':<34}{'wall s':>10}{'steps/s':>10}")
        print(f"{'plain':<34}{plain:>10.2f}{args.steps / plain:>10.1f}")
        for mode, wall, spent in zip(modes, labelled, label_time):
            print(f"{f'labelled ({mode}) every {args.every} ({n_label} labellings)':<34}{wall:>10.2f}"
                  f"{args.steps / wall:>10.1f}")
            print(f"{'  of which labelling (rank 0)':<34}{spent:>10.2f}{'':>10}")
            print(f"{'  per labelling':<34}{spent / max(n_label, 1):>10.3f}{'':>10}")
        print(f"last counts: {counts}")
        extra = "".join(f" overhead_ratio_{mode}={wall / plain:.4f}" for mode, wall in zip(modes, labelled))
        print(f"RESULT overhead_ratio={labelled[0] / plain:.4f}{extra}")
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
