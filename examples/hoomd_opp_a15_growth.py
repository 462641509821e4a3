"""Self-assembly of a Frank-Kasper crystal: seeded growth of A15 in HOOMD-blue, labelled on the fly.

One-component particles interact by HOOMD's oscillating pair potential ``md.pair.OPP``
(Mihalkovic and Henley 2012; ``U = r^-15 + r^-3 cos(k r - phi)``), the isotropic potential
with which Dshemuchadse et al. (PNAS 2021) self-assembled A15, sigma, clathrates and more. At
the parameters used here (``examples/opp_a15.py``: ``k = 8.75``, ``phi = k + 0.52``, cut at
2.5) the A15 lattice has the lowest energy at T = 0 of every crystal in md_orderml's
prototype library; the example prints that ranking first (lattice sums of the ideal crystals
at their best density, no relaxation), so the claim is checked on each run.
``examples/lammps_opp_a15_growth.py`` runs the same protocol in LAMMPS.

Protocol: an A15 crystal of ``--cells``^3 cubic cells (8 particles each, nn distance 1.18) is
melted at kT = 1.2 except a slab of half the box (``|z| < L/4``), which is held fixed as the
seed; then the whole box is quenched to ``--kT`` (default 0.5; A15 melts between kT = 0.6
and 0.8 here) and the crystal grows from both faces of the slab. Only ``md.pair.OPP`` and a
Langevin thermostat act: nothing holds the particles on the lattice after the melt.
:class:`md_orderml.engines.hoomd.OrderMLWriter` labels every particle every ``--every`` steps
with the default model, which names the crystal ``a15``; the fractions go to a GSD log and
a table, and a plot is drawn at the end::

    python examples/hoomd_opp_a15_growth.py                 # 1,728 particles, ~2-4 min on 2 cores
    python examples/hoomd_opp_a15_growth.py --cells 8       # 4,096 particles
    mpirun -np 2 python examples/hoomd_opp_a15_growth.py --out-dir a15_mpi

Typical run (2-core VM): the ``a15`` fraction goes from about 0.45 after the melt to above
0.9 within 6,000 steps after the quench; the rest is ``unknown`` at the two growth fronts
and defects, and ``liquid``.

Outputs in ``--out-dir``: ``a15_growth.gsd`` (labels as ``log/particles/md_orderml/label``;
in OVITO, colour by ``md_orderml_label``) and ``a15_growth_fractions.png``.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's shared potential and protocol
from hoomd_md_growth import grow_labelled, hoomd, melt_around_seed, plot_growth  # noqa: E402  (imports hoomd)
from opp_a15 import NN_DISTANCE, OPP, R_CUT, lattice_energies, ranking_line  # noqa: E402


def make_simulation(args):
    """The OPP simulation on the A15 lattice, and the tags of the seed slab (``|z| < L/4``)."""
    from md_orderml.prototypes import prototype_crystal

    device = hoomd.device.GPU() if args.gpu else hoomd.device.CPU()
    sim = hoomd.Simulation(device=device, seed=args.seed)
    crystal = prototype_crystal("a15", nn_distance=NN_DISTANCE, min_width=2 * args.cells - 0.01)
    length = np.diag(np.asarray(crystal.cell))
    positions = np.asarray(crystal.positions) - length / 2
    seed = np.flatnonzero(np.abs(positions[:, 2]) < length[2] / 4).astype(np.uint32)
    snap = hoomd.Snapshot(device.communicator)
    if snap.communicator.rank == 0:
        snap.configuration.box = list(length) + [0, 0, 0]
        snap.particles.N = len(positions)
        snap.particles.types = ["A"]
        snap.particles.position[:] = positions
    sim.create_state_from_snapshot(snap)
    opp = hoomd.md.pair.OPP(nlist=hoomd.md.nlist.Cell(buffer=0.3), default_r_cut=R_CUT, mode="shift")
    opp.params[("A", "A")] = dict(OPP)
    sim.operations.integrator = hoomd.md.Integrator(dt=0.005, forces=[opp])
    return sim, seed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=6, help="A15 cells per side (N = 8 cells^3; default 1,728)")
    parser.add_argument("--kT", type=float, default=0.5, help="growth temperature (A15 melts near 0.7)")
    parser.add_argument("--melt-kT", type=float, default=1.2, help="temperature of the melt around the seed")
    parser.add_argument("--melt-steps", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=10000, help="steps after the quench")
    parser.add_argument("--every", type=int, default=1000, help="label (and write a frame) every this many steps")
    parser.add_argument("--model", default="default")
    parser.add_argument("--out-dir", default="hoomd_opp_a15_growth")
    parser.add_argument("--seed", type=int, default=2, help="random seed")
    parser.add_argument("--gpu", action="store_true", help="run on hoomd.device.GPU")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the labels (HOOMD's CPU MD uses one per rank; 0: torch's default)")
    parser.add_argument("--skip-energies", action="store_true", help="do not print the lattice-energy ranking")
    args = parser.parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    sim, seed = make_simulation(args)
    rank = sim.device.communicator.rank
    if rank == 0 and not args.skip_energies:
        print(ranking_line(lattice_energies()), flush=True)
    melt_around_seed(sim, seed, args.melt_kT, args.melt_steps)
    gsd_path = os.path.join(args.out_dir, "a15_growth.gsd")
    labels = grow_labelled(sim, args.kT, args.steps, args.every, args.model, gsd_path,
                           shown=("a15", "sigma", "unknown", "liquid"))
    if rank == 0:
        fractions, png = plot_growth(gsd_path, labels.class_names, os.path.join(args.out_dir, "a15_growth_fractions.png"),
                                     f"OPP A15 growth, N={sim.state.N_particles}, kT={args.kT}")
        a15 = fractions[:, labels.class_names.index("a15")]
        print(f"a15 fraction: {a15[0]:.3f} after the melt, {a15[-1]:.3f} at the end")
        final = {name: round(f, 3) for name, f in labels.fractions.items() if f >= 0.005}
        print(f"final fractions: {final}")
        print(f"wrote {gsd_path} and {png} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
