"""Cost of on-the-fly labels in HOOMD-blue: labelled every 1000 steps vs unlabelled, one run.

An LJ fcc crystal (N = 4 cells^3, density 1.0, Langevin kT = 0.8, r_cut 2.5) runs in
alternating blocks of ``--steps`` steps without and with
:class:`md_orderml.engines.hoomd.OrderMLWriter` (trigger ``Periodic(--every)``), so both
modes see the same machine load. Prints a table, the time spent inside the writer, and
ends with ``RESULT overhead_ratio=<labelled wall time / unlabelled wall time>`` (on a
shared machine the wall ratio is noisy; the in-writer estimate is steadier)::

    python benchmarks/hoomd_overhead.py
    mpirun -np 2 python benchmarks/hoomd_overhead.py        # MPI (ghosts="auto")
    python benchmarks/hoomd_overhead.py --gpu                # HOOMD GPU build
"""

import argparse
import platform
import sys
import time

import numpy as np
import torch

from md_orderml.engines.hoomd import OrderMLWriter  # preloads MPI, imports hoomd
import hoomd  # noqa: E402


def lj_crystal(device, cells: int, density: float, kT: float, seed: int = 3):
    """An LJ fcc crystal with a Langevin thermostat (not run yet)."""
    a = (4.0 / density) ** (1.0 / 3.0)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    length = cells * a
    positions = ((grid + basis) * a).reshape(-1, 3) - length / 2 + 0.25 * a
    sim = hoomd.Simulation(device=device, seed=seed)
    snap = hoomd.Snapshot(device.communicator)
    if snap.communicator.rank == 0:
        snap.configuration.box = [length] * 3 + [0, 0, 0]
        snap.particles.N = len(positions)
        snap.particles.types = ["A"]
        snap.particles.position[:] = positions
    sim.create_state_from_snapshot(snap)
    lj = hoomd.md.pair.LJ(nlist=hoomd.md.nlist.Cell(buffer=0.4), default_r_cut=2.5, mode="shift")
    lj.params[("A", "A")] = dict(epsilon=1.0, sigma=1.0)
    method = hoomd.md.methods.Langevin(filter=hoomd.filter.All(), kT=kT)
    sim.operations.integrator = hoomd.md.Integrator(dt=0.005, methods=[method], forces=[lj])
    sim.state.thermalize_particle_momenta(filter=hoomd.filter.All(), kT=kT)
    return sim


def timed_run(sim, steps: int) -> float:
    """Wall seconds of ``sim.run(steps)``."""
    start = time.perf_counter()
    sim.run(steps)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=10, help="fcc cells per side (N = 4 cells^3)")
    parser.add_argument("--steps", type=int, default=1000, help="steps per block (a multiple of --every)")
    parser.add_argument("--rounds", type=int, default=4, help="pairs of (unlabelled, labelled) blocks")
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--model", default="default")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the labels (HOOMD's CPU MD uses one per rank; 0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.steps % args.every:
        parser.error("--steps must be a multiple of --every")

    device = hoomd.device.GPU() if args.gpu else hoomd.device.CPU()
    sim = lj_crystal(device, args.cells, 1.0, 0.8)
    rank, ranks = device.communicator.rank, device.communicator.num_ranks
    labels = OrderMLWriter(trigger=hoomd.trigger.Periodic(args.every), model=args.model)
    sim.run(args.warmup - sim.timestep % args.every + args.every)  # warm up, end on a multiple of --every
    sim.operations.writers.append(labels)
    for _ in range(2):  # warm the model up off the clock (TorchScript optimises on its first calls)
        labels.action._compute(sim.timestep)
    sim.operations.writers.remove(labels)
    labels.compute_seconds = 0.0
    times = {"unlabelled": 0.0, "labelled": 0.0}
    for _ in range(args.rounds):
        times["unlabelled"] += timed_run(sim, args.steps)
        sim.operations.writers.append(labels)
        times["labelled"] += timed_run(sim, args.steps)
        sim.operations.writers.remove(labels)
    steps = args.steps * args.rounds
    labellings = steps // args.every
    per_label = labels.compute_seconds / labellings
    ratio = times["labelled"] / times["unlabelled"]
    in_writer = (times["unlabelled"] + labels.compute_seconds) / times["unlabelled"]
    if rank == 0:
        n = sim.state.N_particles
        print(f"HOOMD-blue {hoomd.version.version}, {type(device).__name__}, {ranks} rank(s), N={n}, "
              f"{platform.processor() or platform.machine()}, model {args.model}, route {labels.route}, "
              f"{torch.get_num_threads()} torch thread(s)")
        print(f"{'mode':<12}{'steps':>8}{'wall s':>10}{'steps/s':>10}")
        for mode, seconds in times.items():
            print(f"{mode:<12}{steps:>8}{seconds:>10.2f}{steps / seconds:>10.1f}")
        print(f"labelled every {args.every} steps: {labellings} labellings, {per_label:.3f} s each inside the "
              f"writer ({per_label / n * 1e6:.1f} us per particle); ratio from that time: {in_writer:.3f}")
        print(f"RESULT overhead_ratio={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
