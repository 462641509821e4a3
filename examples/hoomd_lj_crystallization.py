"""Lennard-Jones crystallization in HOOMD-blue with on-the-fly md_orderml labels.

About 4000 LJ particles at number density 1.0 are melted at kT = 2 around an fcc seed of
radius 5 (about 530 particles, held fixed), then the whole supercooled liquid is quenched
to kT = 0.8 (Langevin): the seed grows until the box is crystalline (about 6000 steps). (Without a seed, homogeneous
nucleation at these conditions takes far longer than a few minutes of CPU time.)
:class:`md_orderml.engines.hoomd.OrderMLWriter` labels every particle every ``--every``
steps; a ``hoomd.write.GSD`` writer stores the labels and class fractions in the
trajectory (``log/particles/md_orderml/label``, ``log/md_orderml/fractions``), a
``hoomd.write.Table`` prints the fractions, and the fractions-vs-step plot is drawn from
the GSD log at the end. Runs serially or under ``mpirun``::

    python examples/hoomd_lj_crystallization.py                  # ~2-3 minutes on 2 cores
    mpirun -np 2 python examples/hoomd_lj_crystallization.py --out-dir lj_mpi
    python examples/hoomd_lj_crystallization.py --gpu            # HOOMD GPU build, model on CUDA

Outputs in ``--out-dir``: ``lj_crystallization.gsd`` (open it in OVITO: the per-particle
property ``md_orderml_label``) and ``lj_crystallization_fractions.png``.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's shared protocol
from hoomd_md_growth import grow_labelled, hoomd, melt_around_seed, plot_growth  # noqa: E402  (imports hoomd)


def fcc_lattice(cells: int, density: float):
    """fcc positions, (4 cells^3, 3), centred in a cubic box of side ``L``; returns (positions, L)."""
    a = (4.0 / density) ** (1.0 / 3.0)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    positions = ((grid + basis) * a).reshape(-1, 3)
    length = cells * a
    return positions - length / 2 + 0.25 * a, length


def make_simulation(args):
    """The LJ simulation on the fcc lattice, and the tags of the seed (inside ``seed_radius``)."""
    device = hoomd.device.GPU() if args.gpu else hoomd.device.CPU()
    sim = hoomd.Simulation(device=device, seed=args.seed)
    positions, length = fcc_lattice(args.cells, args.density)
    seed = np.flatnonzero(np.linalg.norm(positions, axis=1) < args.seed_radius).astype(np.uint32)
    snap = hoomd.Snapshot(device.communicator)
    if snap.communicator.rank == 0:
        snap.configuration.box = [length] * 3 + [0, 0, 0]
        snap.particles.N = len(positions)
        snap.particles.types = ["A"]
        snap.particles.position[:] = positions
    sim.create_state_from_snapshot(snap)
    nlist = hoomd.md.nlist.Cell(buffer=0.4)
    lj = hoomd.md.pair.LJ(nlist=nlist, default_r_cut=2.5, mode="shift")
    lj.params[("A", "A")] = dict(epsilon=1.0, sigma=1.0)
    sim.operations.integrator = hoomd.md.Integrator(dt=0.005, forces=[lj])
    return sim, seed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=10, help="fcc cells per side (N = 4 cells^3; default 4000)")
    parser.add_argument("--density", type=float, default=1.0)
    parser.add_argument("--kT", type=float, default=0.8, help="quench temperature")
    parser.add_argument("--melt-steps", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=8000, help="steps after the quench")
    parser.add_argument("--every", type=int, default=1000, help="label (and write a frame) every this many steps")
    parser.add_argument("--seed-radius", type=float, default=5.0, help="radius of the fcc seed (0: none)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--out-dir", default="hoomd_lj_crystallization")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--gpu", action="store_true", help="run on hoomd.device.GPU")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the labels (HOOMD's CPU MD uses one per rank; 0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    sim, seed = make_simulation(args)
    rank = sim.device.communicator.rank
    melt_around_seed(sim, seed, 2.0, args.melt_steps)
    gsd_path = os.path.join(args.out_dir, "lj_crystallization.gsd")
    labels = grow_labelled(sim, args.kT, args.steps, args.every, args.model, gsd_path,
                           shown=("fcc", "hcp", "bcc", "liquid"))
    if rank == 0:
        _, png = plot_growth(gsd_path, labels.class_names,
                             os.path.join(args.out_dir, "lj_crystallization_fractions.png"),
                             f"LJ, N={sim.state.N_particles}, rho={args.density}, kT={args.kT}")
        final = {name: round(f, 3) for name, f in labels.fractions.items()}
        print(f"final fractions: {final}")
        print(f"wrote {gsd_path} and {png} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
