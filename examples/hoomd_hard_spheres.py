"""Hard spheres compressed into the crystal region (HOOMD-blue HPMC), labelled on the fly by md_orderml.

N = 4 cells^3 hard spheres of diameter 1 (default 2048) start on an fcc lattice expanded to
packing fraction ``--phi-fluid`` (0.35, a fluid) and melt there for ``--melt-sweeps``
(enough to erase the lattice: unseeded, the compressed fluid stays liquid), all but a
spherical fcc nucleus of radius ``--seed-radius`` (5) at the centre, particle type
``seed`` with trial move size 0: it never moves. ``hoomd.hpmc.update.QuickCompress``
then compresses the box to ``--phi`` (0.56, beyond the melting packing fraction 0.545:
the crystal is the stable phase), keeping the nucleus on its (scaled) lattice, and the
crystal grows from it. The nucleus is seeded because homogeneous nucleation at these
packing fractions takes far longer than a few minutes: without it (``--seed-radius 0``)
the fluid stayed liquid through the whole run (liquid 0.996, unknown 0.004 after 24000
sweeps; N = 4000 at 0.55: no fcc after 16000 sweeps). The default nucleus holds about a
quarter of the particles and the box is 12.5 diameters wide, so the fluid between the
nucleus and its periodic images is a few diameters thick and crystallizes in about 20000
sweeps (fcc 0.17 after melting -> 0.95, about 35 s serially); a larger box (``--cells
10``) grows the same nucleus much more slowly.

:class:`md_orderml.engines.hoomd.OrderMLWriter` labels every particle every ``--every``
sweeps (in HPMC a timestep is a sweep: every particle gets ``nselect`` trial moves), a
``hoomd.write.GSD`` writer stores labels and class fractions (``log/particles/md_orderml/label``,
``log/md_orderml/fractions``), a ``hoomd.write.Table`` prints the progress, and the
fractions-vs-sweeps plot is drawn from the GSD log at the end. Serially or under MPI::

    python examples/hoomd_hard_spheres.py                      # about a minute on 2 cores
    mpirun -np 2 python examples/hoomd_hard_spheres.py --out out/hard_spheres_mpi

Outputs in ``--out`` (default ``out/hoomd_hard_spheres``): ``hard_spheres.gsd`` (open it in
OVITO: the per-particle property ``md_orderml_label``) and ``hard_spheres_fractions.png``.
"""

import argparse
import os
import sys
import time

import numpy as np

from md_orderml.engines.hoomd import OrderMLWriter  # preloads MPI, imports hoomd
import hoomd  # noqa: E402  (after md_orderml.engines.hoomd)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's shared protocol
from hoomd_hpmc_growth import add_growth_options, melt_compress_grow, seeded_state  # noqa: E402

FCC = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


def fcc_lattice(cells: int, phi: float):
    """fcc positions of spheres of diameter 1 at packing fraction ``phi``, (4 cells^3, 3), centred; and the box edge."""
    a = (4 * (np.pi / 6) / phi) ** (1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    positions = ((grid + FCC) * a).reshape(-1, 3)
    return positions - cells * a / 2 + 0.25 * a, cells * a


def make_simulation(args):
    """The HPMC simulation on the expanded lattice: fluid type ``A``, the nucleus type ``seed`` that never moves."""
    positions, length = fcc_lattice(args.cells, args.phi_fluid)
    sim, n_seed = seeded_state(positions, length, args)
    mc = hoomd.hpmc.integrate.Sphere(default_d=0.1, nselect=1)
    mc.shape["A"] = mc.shape["seed"] = dict(diameter=1.0)
    mc.d["seed"] = 0.0
    sim.operations.integrator = mc
    tune = hoomd.hpmc.tune.MoveSize.scale_solver(trigger=hoomd.trigger.Periodic(20), moves=["d"], types=["A"],
                                                 target=0.4, max_translation_move=0.5)
    sim.operations.tuners.append(tune)
    return sim, n_seed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=8, help="fcc cells per side (N = 4 cells^3; default 2048)")
    add_growth_options(parser, phi=0.56, seed_radius=5.0, seed_radius_help="radius of the fcc nucleus at --phi (0: none)",
                       sweeps=24000, out="hoomd_hard_spheres", seed=11)
    args = parser.parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    sim, n_seed = make_simulation(args)
    rank = sim.device.communicator.rank
    say = print if rank == 0 else (lambda *a, **k: None)
    say(f"N = {sim.state.N_particles} hard spheres, nucleus of {n_seed}; melting at phi = {args.phi_fluid}", flush=True)
    trigger = hoomd.trigger.Periodic(args.every)
    labels = OrderMLWriter(trigger=trigger, model=args.model)
    logger = hoomd.logging.Logger(categories=["particle", "sequence", "scalar", "string", "strings"])
    logger.add(labels)
    os.makedirs(args.out, exist_ok=True)
    gsd_path = os.path.join(args.out, "hard_spheres.gsd")
    gsd_writer = hoomd.write.GSD(filename=gsd_path, trigger=trigger, logger=logger, mode="wb")
    table_logger = hoomd.logging.Logger(categories=["scalar"])
    table_logger.add(sim, quantities=["timestep", "tps"])
    shown = [f"fraction_{name}" for name in ("fcc", "hcp", "bcc", "liquid") if f"fraction_{name}" in labels.loggables]
    table_logger.add(labels, quantities=shown)
    table = hoomd.write.Table(trigger=trigger, logger=table_logger)
    sim.operations.writers.extend([gsd_writer, labels, table])  # the GSD writer may come first
    # 1. Melt all but the nucleus; 2. compress (QuickCompress shrinks the box as fast as trial
    # moves remove overlaps); 3. let the crystal grow. Labelled every --every sweeps throughout.
    phases = melt_compress_grow(sim, labels, gsd_writer, args, say)

    if rank == 0:
        import gsd.hoomd

        from md_orderml.plotting import plot_fractions

        log = gsd.hoomd.read_log(gsd_path)
        sweeps, fractions = log["configuration/step"], log["log/md_orderml/fractions"]
        png = plot_fractions(sweeps, fractions, labels.class_names,
                             os.path.join(args.out, "hard_spheres_fractions.png"), xlabel="sweeps",
                             title=f"hard spheres, N={sim.state.N_particles}, phi={args.phi}, nucleus of {n_seed}")
        for phase, (step, fractions_then) in phases.items():
            shown = ", ".join(f"{name} {f:.3f}" for name, f in fractions_then.items() if f >= 0.001)
            print(f"fractions {phase} (labelled at sweep {step}): {shown}")
        print(f"wrote {gsd_path} and {png} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
