"""What both HPMC examples share: the seeded state, then melt all but the nucleus, compress, grow.

Imported by ``examples/hoomd_hard_spheres.py`` and ``examples/hoomd_hard_polyhedra.py`` (run as
scripts, so this folder is on ``sys.path``), with their common options (:func:`add_growth_options`);
labels are taken every ``--every`` sweeps throughout.
"""

import os

import hoomd
import numpy as np


def add_growth_options(parser, *, phi: float, seed_radius, seed_radius_help: str, sweeps: int, out: str,
                       seed: int) -> None:
    """The options of the melt-compress-grow protocol and of the labels, with each example's defaults.

    Args:
        parser: The example's ``argparse.ArgumentParser``.
        phi: Default packing fraction after compression.
        seed_radius: Default nucleus radius at ``phi`` (None: the example decides per shape).
        seed_radius_help: Help text of ``--seed-radius``.
        sweeps: Default sweeps after the compression.
        out: Default output folder name (under ``out/``).
        seed: Default random seed.
    """
    parser.add_argument("--phi", type=float, default=phi, help="packing fraction after compression")
    parser.add_argument("--phi-fluid", type=float, default=0.35, help="packing fraction of the melt")
    parser.add_argument("--seed-radius", type=float, default=seed_radius, help=seed_radius_help)
    parser.add_argument("--melt-sweeps", type=int, default=2000)
    parser.add_argument("--max-compress-sweeps", type=int, default=20000)
    parser.add_argument("--sweeps", type=int, default=sweeps, help="sweeps after the compression")
    parser.add_argument("--every", type=int, default=1000, help="label (and write a frame) every this many sweeps")
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", default=os.path.join("out", out), help="output folder")
    parser.add_argument("--seed", type=int, default=seed, help="random seed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the labels (0: torch's default)")


def seeded_state(positions: np.ndarray, length: float, args):
    """A CPU simulation whose state is ``positions`` in a cube of edge ``length``: particles within
    the nucleus radius (``args.seed_radius``, scaled back to the fluid's ``args.phi_fluid``) are type
    ``seed`` (which the integrator never moves), the rest type ``A``.

    Args:
        positions: Lattice positions centred on the origin, shape (N, 3).
        length: Box edge.
        args: ``seed``, ``seed_radius``, ``phi``, ``phi_fluid``.

    Returns:
        ``(simulation, particles in the nucleus)``; the simulation has no operations yet.
    """
    device = hoomd.device.CPU()
    sim = hoomd.Simulation(device=device, seed=args.seed)
    radius = args.seed_radius * (args.phi / args.phi_fluid) ** (1 / 3)  # the nucleus's radius before compression
    in_seed = np.linalg.norm(positions, axis=1) < radius
    snap = hoomd.Snapshot(device.communicator)
    if snap.communicator.rank == 0:
        snap.configuration.box = [length] * 3 + [0, 0, 0]
        snap.particles.N = len(positions)
        snap.particles.types = ["A", "seed"]
        snap.particles.position[:] = positions
        snap.particles.typeid[:] = in_seed
        snap.particles.orientation[:] = [1, 0, 0, 0]
    sim.create_state_from_snapshot(snap)
    return sim, int(in_seed.sum())


def melt_compress_grow(sim, labels, gsd_writer, args, say) -> dict:
    """Run the three phases and return the labels' fractions after each.

    Args:
        sim: The HPMC simulation, at the fluid packing fraction ``args.phi_fluid`` with a frozen nucleus.
        labels: The attached :class:`~md_orderml.engines.hoomd.OrderMLWriter`.
        gsd_writer: The GSD writer (flushed at the end).
        args: ``melt_sweeps``, ``phi_fluid``, ``phi``, ``max_compress_sweeps``, ``sweeps``.
        say: ``print`` on rank 0.

    Returns:
        ``{"melted" | "compressed" | "end": (labelled step, fractions by class name)}``.

    Raises:
        SystemExit: QuickCompress did not reach ``args.phi`` in ``args.max_compress_sweeps`` sweeps.
    """
    sim.run(args.melt_sweeps, write_at_start=True)
    phases = {"melted": (labels.labelled_step, labels.fractions)}
    target = hoomd.Box.cube(sim.state.box.Lx * (args.phi_fluid / args.phi) ** (1 / 3))
    compress = hoomd.hpmc.update.QuickCompress(trigger=hoomd.trigger.Periodic(10), target_box=target)
    sim.operations.updaters.append(compress)
    while not compress.complete and sim.timestep < args.melt_sweeps + args.max_compress_sweeps:
        sim.run(100)
    if not compress.complete:
        raise SystemExit(f"QuickCompress did not reach phi = {args.phi} in {args.max_compress_sweeps} sweeps")
    sim.operations.updaters.remove(compress)
    phases["compressed"] = (labels.labelled_step, labels.fractions)
    say(f"compressed to phi = {args.phi} in {sim.timestep - args.melt_sweeps} sweeps; growing", flush=True)
    sim.run(args.sweeps)
    phases["end"] = (labels.labelled_step, labels.fractions)
    gsd_writer.flush()
    return phases
