"""Label one configuration in HOOMD-blue with every ghost mode; run serially or under mpirun.

Used by tests/engines/test_hoomd.py::

    python tests/engines/hoomd_rank_helper.py MODEL OUT.npz [KIND]
    mpirun -np 2 python tests/engines/hoomd_rank_helper.py MODEL OUT.npz [KIND]

KIND (e.g. ``a15``) labels :func:`crystal_configuration` instead of :func:`configuration`.
Rank 0 writes OUT.npz with ``<case>_label``, ``<case>_confidence`` (tag order) and
``<case>_route`` per case: ``auto_wide`` (neighbour list widened to the receptive field);
under MPI also ``gather`` (ghosts="gather") and ``auto_thin`` (plain LJ neighbour list)
plus ``hoomd_error`` (the message of ghosts="hoomd" with thin ghosts); serially
``reference_label``/``reference_confidence`` from :class:`md_orderml.OrderML`
on the snapshot. ``<case>_named`` are the class counts read by name (``count_<class>``).

:func:`on_the_fly` (a crystal labelled after a few steps from rest), :func:`named_counts` and
:func:`offline` (OrderML on a snapshot) serve test_hoomd.py and test_user_models_hoomd.py in-process.
"""

import sys

import numpy as np

from crystal_cases import complex_crystal
from md_orderml.mpi import load_mpi

load_mpi()
import hoomd  # noqa: E402

from md_orderml.engines.hoomd import OrderMLWriter  # noqa: E402
from md_orderml.errors import InputError  # noqa: E402
from md_orderml.frame import Box, Frame  # noqa: E402

TILT = (0.1, -0.05, 0.08)  # xy, xz, yz: exercise a triclinic box


def configuration(cells=(5, 5, 10), density: float = 1.0, seed: int = 5, disorder: float = 0.25, tilt=TILT):
    """An fcc lattice in a (by default triclinic) box, its upper half in x disordered.

    The box is long in z so that HOOMD splits two ranks along z with a wide ghost layer.

    Returns:
        (positions (N, 3) wrapped into the box, HOOMD box [Lx, Ly, Lz, xy, xz, yz]).
    """
    rng = np.random.default_rng(seed)
    cells = np.asarray(cells)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*[np.arange(c) for c in cells], indexing="ij"), -1).reshape(-1, 1, 3)
    frac = ((grid + basis) / cells).reshape(-1, 3)
    a = (4.0 / density) ** (1 / 3)
    lengths = cells * a
    xy, xz, yz = tilt
    box = [*lengths, xy, xz, yz]
    matrix = Box.from_hoomd(box).matrix
    positions = (frac - 0.5) @ matrix
    hot = frac[:, 0] > 0.5
    positions[hot] += rng.normal(0.0, disorder, size=(hot.sum(), 3))
    return Box.from_hoomd(box).wrap(positions), box


def crystal_configuration(kind: str):
    """:func:`crystal_cases.complex_crystal` ``kind`` twice along z (two ranks split z), centred.

    Returns:
        (positions (N, 3) in the box, HOOMD box [Lx, Ly, Lz, 0, 0, 0]).
    """
    x, cell = complex_crystal(kind, z_copies=2)
    box = [*np.diag(cell), 0.0, 0.0, 0.0]
    return Box.from_hoomd(box).wrap(x - np.diag(cell) / 2), box


def simulation(device, positions, box, rcut_base: float = 0.0, kT=None, seed: int = 2):
    """A LJ simulation (not run yet): Langevin at ``kT``, or NVE when ``kT`` is None.

    Args:
        device: The HOOMD device.
        positions: Particle positions, (N, 3), inside the box.
        box: HOOMD box ``[Lx, Ly, Lz, xy, xz, yz]``.
        rcut_base: Base cutoff of the neighbour list (widens HOOMD's ghost layer).
        kT: Langevin temperature.
        seed: Simulation seed.
    """
    sim = hoomd.Simulation(device=device, seed=seed)
    snap = hoomd.Snapshot(device.communicator)
    if snap.communicator.rank == 0:
        snap.configuration.box = box
        snap.particles.N = len(positions)
        snap.particles.types = ["A"]
        snap.particles.position[:] = positions
    sim.create_state_from_snapshot(snap)
    nlist = hoomd.md.nlist.Cell(buffer=0.3, default_r_cut=rcut_base)
    lj = hoomd.md.pair.LJ(nlist=nlist, default_r_cut=2.5)
    lj.params[("A", "A")] = dict(epsilon=1.0, sigma=1.0)
    if kT is None:
        method = hoomd.md.methods.ConstantVolume(filter=hoomd.filter.All())
    else:
        method = hoomd.md.methods.Langevin(filter=hoomd.filter.All(), kT=kT)
    sim.operations.integrator = hoomd.md.Integrator(dt=0.002, methods=[method], forces=[lj])
    return sim


def on_the_fly(device, model, kind: str, steps: int = 5):
    """Label the :func:`crystal_configuration` ``kind`` with ``model`` after ``steps`` NVE steps from rest.

    Returns:
        ``(writer, snapshot)``: the OrderMLWriter, labelled on the last step, and the snapshot of that step.
    """
    positions, box = crystal_configuration(kind)
    sim = simulation(device, positions, box)
    writer = OrderMLWriter(trigger=steps, model=model)
    sim.operations.writers.append(writer)
    sim.run(steps)
    return writer, sim.state.get_snapshot()


def named_counts(writer) -> list:
    """The writer's class counts read by name (``count_<class>``), in the model's class order."""
    return [getattr(writer, f"count_{name}") for name in writer.class_names]


def keep(results: dict, case: str, writer) -> None:
    """``<case>_label``, ``_confidence``, ``_route`` and ``_named`` of a writer that has labelled."""
    results[f"{case}_label"], results[f"{case}_confidence"] = writer.label, writer.confidence
    results[f"{case}_route"], results[f"{case}_named"] = writer.route, named_counts(writer)


def offline(model, snapshot):
    """What :class:`md_orderml.OrderML` gives on a (one-type) HOOMD snapshot, in tag order (rank 0)."""
    from md_orderml.analysis import OrderML

    frame = Frame(positions=np.asarray(snapshot.particles.position, dtype=np.float64),
                  box=Box.from_hoomd(snapshot.configuration.box), types=np.zeros(snapshot.particles.N, int),
                  type_names=["A"])
    return OrderML(model).compute(frame)


def main(model: str, out: str, kind: str = "") -> None:
    device = hoomd.device.CPU(notice_level=1)
    rank, ranks = device.communicator.rank, device.communicator.num_ranks
    positions, box = crystal_configuration(kind) if kind else configuration()
    results = {"ranks": ranks}
    # HOOMD's ghosts reach the receptive field: auto uses them; gather for comparison.
    sim = simulation(device, positions, box, rcut_base=3.3)
    cases = {"auto_wide": OrderMLWriter(1, model)}
    if ranks > 1:
        cases["gather"] = OrderMLWriter(1, model, ghosts="gather")
    sim.operations.writers.extend(cases.values())
    sim.run(0)
    snapshot = sim.state.get_snapshot()
    for name, op in cases.items():
        keep(results, name, op)
    if ranks > 1:  # default LJ neighbour list: ghosts are too thin, auto gathers and "hoomd" refuses
        sim2 = simulation(device, positions, box)
        auto, strict = OrderMLWriter(1, model), OrderMLWriter(1, model, ghosts="hoomd")
        sim2.operations.writers.extend([auto, strict])
        sim2.run(0)
        keep(results, "auto_thin", auto)
        try:
            strict.label
            results["hoomd_error"] = ""
        except InputError as err:
            results["hoomd_error"] = str(err)
    elif rank == 0:
        clf = offline(model, snapshot)
        results["reference_label"], results["reference_confidence"] = clf.labels, clf.confidence
    if rank == 0:
        np.savez(out, **{k: np.asarray(v) for k, v in results.items()})


if __name__ == "__main__":
    main(*sys.argv[1:4])
