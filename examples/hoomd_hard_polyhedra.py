"""Hard polyhedra (HOOMD-blue HPMC, ``ConvexPolyhedron``) growing the crystal their shape is known to form,
labelled on the fly by md_orderml.

Space-filling shapes assemble into the lattice they tile: hard truncated octahedra into
bcc (``--shape truncated_octahedron``, the default) and hard cubes into simple cubic
(``--shape cube``). The run starts from that lattice expanded to the fluid packing
fraction ``--phi-fluid`` (0.35), where everything but a nucleus of radius
``--seed-radius`` (4; cubes 3.5) at the centre melts in ``--melt-sweeps`` (the nucleus is particle
type ``seed`` with move sizes 0: it keeps its sites and orientations), then
``hoomd.hpmc.update.QuickCompress`` compresses the box to ``--phi`` (0.55) and the
crystal grows from the nucleus. The nucleus is seeded because homogeneous nucleation
takes far longer than a few minutes: unseeded (``--seed-radius 0``), 686 truncated
octahedra stayed liquid (liquid 0.994 after 16000 sweeps at 0.55). The default nucleus
holds about a fifth of the particles (box 9.2 particle sizes wide).

With the defaults bcc grows from 0.18 after melting to 0.87 in about 30 s (serially). The
default model labels the dense cube fluid mostly ``unknown`` (face-to-face cube stacks
are no liquid it was trained on): ``--shape cube`` ends with sc 0.15 around the nucleus
in a fluid of unknown 0.81, where the growth is slow too.

The labels are those of the model's classes on the particle centres: the expected lattice
is looked up by class name (``sc``, ``bcc``), so a model with other or more classes still
runs and all its fractions are plotted.
:class:`md_orderml.engines.hoomd.OrderMLWriter` labels every ``--every`` sweeps, a
``hoomd.write.GSD`` writer stores labels, fractions and the shapes (OVITO draws them), a
``hoomd.write.Table`` prints the progress, and the fractions-vs-sweeps plot comes from
the GSD log::

    python examples/hoomd_hard_polyhedra.py                    # truncated octahedra, under a minute on 2 cores
    python examples/hoomd_hard_polyhedra.py --shape cube
    mpirun -np 2 python examples/hoomd_hard_polyhedra.py --out out/polyhedra_mpi

Outputs in ``--out`` (default ``out/hoomd_hard_polyhedra``): ``<shape>.gsd`` and
``<shape>_fractions.png``.
"""

import argparse
import itertools
import os
import sys
import time

import numpy as np

from md_orderml.engines.hoomd import OrderMLWriter  # preloads MPI, imports hoomd
import hoomd  # noqa: E402  (after md_orderml.engines.hoomd)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's shared protocol
from hoomd_hpmc_growth import add_growth_options, melt_compress_grow, seeded_state  # noqa: E402


def _truncated_octahedron():
    """Vertices: all permutations of (0, +-1, +-2) (square faces normal to the axes; volume 32)."""
    base = {p for s in itertools.product((-1, 1), repeat=2) for p in itertools.permutations((0, s[0], 2 * s[1]))}
    return np.array(sorted(base), dtype=np.float64), 32.0


#: shape -> (vertices (V, 3) at unit volume, lattice basis (B, 3) in cubic cells, expected class name)
SHAPES = {
    "cube": (np.array(list(itertools.product((-0.5, 0.5), repeat=3))), np.zeros((1, 3)), "sc"),
    "truncated_octahedron": (_truncated_octahedron()[0] / _truncated_octahedron()[1] ** (1 / 3),
                             np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), "bcc"),
}

PLURAL = {"cube": "cubes", "truncated_octahedron": "truncated octahedra"}


def lattice(basis: np.ndarray, cells: int, phi: float):
    """Centres of unit-volume particles on ``cells``^3 cubic cells at packing fraction ``phi``; and the box edge."""
    a = (len(basis) / phi) ** (1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    positions = ((grid + basis) * a).reshape(-1, 3)
    return positions - cells * a / 2 + 0.25 * a, cells * a


def make_simulation(args):
    """The HPMC simulation on the expanded lattice: shape type ``A``, the nucleus type ``seed`` that never moves."""
    vertices, basis, _expected = SHAPES[args.shape]
    positions, length = lattice(basis, args.cells, args.phi_fluid)
    sim, n_seed = seeded_state(positions, length, args)
    mc = hoomd.hpmc.integrate.ConvexPolyhedron(default_d=0.1, default_a=0.1, nselect=1)
    mc.shape["A"] = mc.shape["seed"] = dict(vertices=vertices.tolist())
    mc.d["seed"] = mc.a["seed"] = 0.0
    sim.operations.integrator = mc
    sim.operations.tuners.append(hoomd.hpmc.tune.MoveSize.scale_solver(
        trigger=hoomd.trigger.Periodic(20), moves=["a", "d"], types=["A"], target=0.3,
        max_translation_move=0.5, max_rotation_move=0.5))
    return sim, n_seed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="truncated_octahedron")
    parser.add_argument("--cells", type=int, default=0, help="cubic cells per side (default: 7; cubes 8)")
    add_growth_options(parser, phi=0.55, seed_radius=None,
                       seed_radius_help="radius of the nucleus at --phi (0: none; default 4, cubes 3.5)",
                       sweeps=16000, out="hoomd_hard_polyhedra", seed=5)
    args = parser.parse_args(argv)
    args.cells = args.cells or {"cube": 8, "truncated_octahedron": 7}[args.shape]
    if args.seed_radius is None:
        args.seed_radius = {"cube": 3.5, "truncated_octahedron": 4.0}[args.shape]
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    sim, n_seed = make_simulation(args)
    rank = sim.device.communicator.rank
    say = print if rank == 0 else (lambda *a, **k: None)
    expected = SHAPES[args.shape][2]
    say(f"N = {sim.state.N_particles} hard {PLURAL[args.shape]} (known to form {expected}), nucleus of {n_seed}; "
        f"melting at phi = {args.phi_fluid}", flush=True)
    trigger = hoomd.trigger.Periodic(args.every)
    labels = OrderMLWriter(trigger=trigger, model=args.model)
    if expected not in labels.class_names:
        say(f"note: the model has no class {expected!r} (classes: {', '.join(labels.class_names)})")
    logger = hoomd.logging.Logger(categories=["particle", "sequence", "scalar", "string", "strings", "object"])
    logger.add(labels)
    logger.add(sim.operations.integrator, quantities=["type_shapes"])  # OVITO draws the polyhedra
    os.makedirs(args.out, exist_ok=True)
    gsd_path = os.path.join(args.out, f"{args.shape}.gsd")
    gsd_writer = hoomd.write.GSD(filename=gsd_path, trigger=trigger, logger=logger, mode="wb")
    table_logger = hoomd.logging.Logger(categories=["scalar"])
    table_logger.add(sim, quantities=["timestep", "tps"])
    shown = [f"fraction_{name}" for name in (expected, "liquid") if f"fraction_{name}" in labels.loggables]
    table_logger.add(labels, quantities=shown)
    sim.operations.writers.extend([gsd_writer, labels, hoomd.write.Table(trigger=trigger, logger=table_logger)])
    # 1. Melt all but the nucleus; 2. compress (QuickCompress shrinks the box as fast as trial
    # moves remove overlaps); 3. let the crystal grow. Labelled every --every sweeps throughout.
    phases = melt_compress_grow(sim, labels, gsd_writer, args, say)

    if rank == 0:
        import gsd.hoomd

        from md_orderml.plotting import plot_fractions

        log = gsd.hoomd.read_log(gsd_path)
        sweeps, fractions = log["configuration/step"], log["log/md_orderml/fractions"]
        png = plot_fractions(sweeps, fractions, labels.class_names,
                             os.path.join(args.out, f"{args.shape}_fractions.png"), xlabel="sweeps",
                             title=f"hard {PLURAL[args.shape]}, N={sim.state.N_particles}, phi={args.phi}, "
                                   f"nucleus of {n_seed}")
        for phase, (step, fractions_then) in phases.items():
            shown = ", ".join(f"{name} {f:.3f}" for name, f in fractions_then.items() if f >= 0.001)
            print(f"fractions {phase} (labelled at sweep {step}): {shown}")
        print(f"wrote {gsd_path} and {png} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
