"""Label a hard-sphere HPMC configuration in HOOMD-blue; run serially or under mpirun.

Used by tests/engines/test_hpmc.py::

    python tests/engines/hpmc_rank_helper.py MODEL OUT.npz
    mpirun -np 2 python tests/engines/hpmc_rank_helper.py MODEL OUT.npz

Rank 0 writes OUT.npz with, per case, ``<case>_label``, ``<case>_confidence`` (tag order),
``<case>_route`` and ``<case>_reference_label`` / ``<case>_reference_confidence``
(:class:`md_orderml.OrderML` on the snapshot of the same step, computed on rank 0):
``start`` (an fcc lattice, half of it disordered, before any sweep: the same configuration
on any number of ranks;
``ghosts="auto"``, which gathers under MPI: HPMC's ghosts reach one diameter) and
``swept`` (after 20 sweeps with a stand-alone neighbour list in ``computes`` that widens
HOOMD's ghost layer to the receptive field: ``auto`` uses HOOMD's ghosts under MPI).
"""

import sys

import numpy as np

from md_orderml.mpi import load_mpi

load_mpi()
import hoomd  # noqa: E402

from md_orderml.analysis import OrderML  # noqa: E402
from md_orderml.engines.hoomd import OrderMLWriter  # noqa: E402
from md_orderml.frame import Box, Frame  # noqa: E402

FCC = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]


def lattice(cells, phi: float, basis=FCC, disorder: float = 0.0, melt: float = 0.0, seed: int = 3):
    """Hard spheres of diameter 1 on a lattice at packing fraction ``phi``, centred at the origin.

    Args:
        cells: Unit cells per box edge, shape (3,).
        phi: Packing fraction.
        basis: Fractional positions of the particles in a unit cell, shape (B, 3).
        disorder: Uniform displacement as a fraction of the free space between spheres (no overlaps).
        melt: Gaussian displacement (standard deviation) of the particles in the upper half in
            x, which overlap then (labels spread over classes; HPMC only refuses moves into overlaps).

    Returns:
        (positions (N, 3), box edges (3,)).
    """
    basis = np.asarray(basis, dtype=np.float64)
    a = (len(basis) * (np.pi / 6) / phi) ** (1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(c) for c in cells], indexing="ij"), -1).reshape(-1, 1, 3)
    positions = ((grid + basis) * a).reshape(-1, 3)
    lengths = np.asarray(cells) * a
    positions += 0.25 * a - lengths / 2
    if disorder:  # a random walk inside the cages: no overlaps as long as the spheres' gaps allow it
        gap = a / np.sqrt(2) - 1.0 if len(basis) == 4 else a - 1.0
        positions += np.random.default_rng(seed).uniform(-1, 1, positions.shape) * disorder * gap / (2 * np.sqrt(3))
    hot = positions[:, 0] > 0
    positions[hot] += np.random.default_rng(seed + 1).normal(0.0, melt, (hot.sum(), 3))
    return (positions + lengths / 2) % lengths - lengths / 2, lengths


def hard_spheres(device, positions, lengths, seed: int = 2, d: float = 0.05):
    """A hard-sphere HPMC simulation (not run yet) with translation move size ``d``."""
    sim = hoomd.Simulation(device=device, seed=seed)
    snap = hoomd.Snapshot(device.communicator)
    if snap.communicator.rank == 0:
        snap.configuration.box = [*lengths, 0, 0, 0]
        snap.particles.N = len(positions)
        snap.particles.types = ["A"]
        snap.particles.position[:] = positions
    sim.create_state_from_snapshot(snap)
    mc = hoomd.hpmc.integrate.Sphere(default_d=d)
    mc.shape["A"] = dict(diameter=1.0)
    sim.operations.integrator = mc
    return sim


def reference(sim, model):
    """OrderML labels and confidence of the simulation's current snapshot (rank 0; None elsewhere)."""
    snapshot = sim.state.get_snapshot()
    if sim.device.communicator.rank != 0:
        return None, None
    frame = Frame(positions=np.asarray(snapshot.particles.position, dtype=np.float64),
                  box=Box.from_hoomd(snapshot.configuration.box), types=np.zeros(snapshot.particles.N, int),
                  type_names=["A"])
    result = OrderML(model).compute(frame)
    return result.labels, result.confidence


def main(model: str, out: str) -> None:
    device = hoomd.device.CPU(notice_level=1)
    rank = device.communicator.rank
    # long in z: two ranks split it along z with domains wider than twice the receptive field
    positions, lengths = lattice((4, 4, 10), 0.55, disorder=0.6, melt=0.25)
    results = {"ranks": device.communicator.num_ranks}
    sim = hard_spheres(device, positions, lengths)
    start = OrderMLWriter(1, model)
    sim.operations.writers.append(start)
    sim.run(0)
    cases = {"start": (start, reference(sim, model))}
    sim2 = hard_spheres(device, positions, lengths, seed=5)
    reach = start.receptive_field * float(np.prod(lengths) / len(positions)) ** (1 / 3)
    sim2.operations.computes.append(hoomd.md.nlist.Cell(buffer=0.0, default_r_cut=reach + 0.05))
    swept = OrderMLWriter(20, model)
    sim2.operations.writers.append(swept)
    sim2.run(20)
    cases["swept"] = (swept, reference(sim2, model))
    for name, (op, (labels, confidence)) in cases.items():
        results[f"{name}_label"], results[f"{name}_confidence"] = op.label, op.confidence
        results[f"{name}_reference_label"], results[f"{name}_reference_confidence"] = labels, confidence
        results[f"{name}_route"] = op.route
    if rank == 0:
        np.savez(out, **{k: np.asarray(v) for k, v in results.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
