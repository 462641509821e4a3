"""Run a small LAMMPS simulation with OrderMLFix and save labels sorted by atom id.

Used by tests/engines/test_lammps_compute.py, serially and under ``mpirun -np N``::

    python tests/engines/lammps_compute_helper.py MODEL OUT.npz [--mode auto] [--triclinic]
        [--steps 20] [--every 10] [--cells 5] [--half-melt] [--crystal a15]

``--crystal KIND`` runs :func:`crystal_cases.complex_crystal` at rest (``pair_style zero``)
instead of the LJ fcc crystal. OUT.npz holds ``id`` (N,), ``label`` (N,), ``conf`` (N,),
``x`` (N, 3) at the last labelling step, the box (``lo``, ``hi``, ``tilt`` = xy, xz, yz),
the published vector, ``named`` (the class counts read by name, :func:`named_counts`)
and ``gathered`` (labelling steps done without ghosts).
"""

import argparse

import numpy as np

from crystal_cases import complex_crystal
from md_orderml.mpi import import_lammps


def configuration(cells: int, triclinic: bool, half_melt: bool, seed: int = 7, density: float = 1.05,
                  melt_noise: float = 0.08):
    """A jittered LJ fcc crystal (affinely sheared when triclinic).

    ``melt_noise`` is the extra displacement std of the lower half with ``half_melt``.

    Returns:
        ``(positions (N, 3), types (N,), lattice rows (3, 3))``; the lower half is
        strongly disordered with ``half_melt``. Identical for any number of ranks.
    """
    rng = np.random.default_rng(seed)
    a = (4 / density) ** (1 / 3)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    frac = ((grid + basis) / cells).reshape(-1, 3)
    cell = np.diag([cells * a] * 3)
    if triclinic:
        cell[1, 0], cell[2, 0], cell[2, 1] = 0.7 * a, -0.4 * a, 0.3 * a
    x = frac @ cell + rng.normal(0, 0.04, (len(frac), 3))
    if half_melt:
        hot = frac[:, 2] < 0.5
        x[hot] += rng.normal(0, melt_noise, (hot.sum(), 3))
    types = np.where(rng.random(len(x)) < 0.3, 2, 1)
    s = x @ np.linalg.inv(cell)
    return (s - np.floor(s)) @ cell, types, cell


def build(lmp, cells: int, triclinic: bool, half_melt: bool, seed: int = 7, density: float = 1.05) -> None:
    """Create the :func:`configuration` in LAMMPS (units lj, 2 atom types, LJ pair, T = 0.6)."""
    create(lmp, *configuration(cells, triclinic, half_melt, seed, density), seed=seed)


def create(lmp, x, types, cell, seed: int = 7, temperature: float = 0.6,
           pair: tuple = ("lj/cut 2.5", "* * 1.0 1.0")) -> None:
    """Create atoms ``x`` of LAMMPS ``types`` in the box of lattice rows ``cell`` (lower triangular;
    units lj, 2 atom types, ``pair`` = the arguments of ``pair_style`` and ``pair_coeff``), at
    ``temperature`` (at rest when 0)."""
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = cell
    triclinic = bool(xy or xz or yz)
    tilt = f" {xy} {xz} {yz}" if triclinic else ""
    lmp.commands_string(f"""
units lj
atom_style atomic
region box {'prism' if triclinic else 'block'} 0 {lx} 0 {ly} 0 {lz}{tilt} units box
create_box 2 box
mass * 1.0
pair_style {pair[0]}
pair_coeff {pair[1]}
neighbor 0.3 bin
timestep 0.002
""")
    lmp.create_atoms(len(x), list(range(1, len(x) + 1)), [int(t) for t in types], x.ravel().tolist())
    if temperature > 0:
        lmp.command(f"velocity all create {temperature} {seed} loop geom")


def create_complex_crystal(lmp, kind: str) -> tuple:
    """Create :func:`crystal_cases.complex_crystal` ``kind`` at rest, without forces (``pair_style zero``),
    so that labels after a run are those of the crystal as built.

    Returns:
        ``(positions (N, 3), cell (3, 3))`` as created (atom ids 1..N, type 1).
    """
    x, cell = complex_crystal(kind)
    create(lmp, x, np.ones(len(x), int), cell, temperature=0.0, pair=("zero 2.5", "* *"))
    return x, cell


def named_counts(lmp, class_names, fix_id: str = "orderml") -> list:
    """The class counts an input script reads by name: ``f_<fix_id>[${<fix_id>_k_<class>}]`` per class."""
    counts = []
    for name in class_names:
        lmp.command(f"variable {fix_id}_n_{name} equal f_{fix_id}[${{{fix_id}_k_{name}}}]")
        counts.append(lmp.extract_variable(f"{fix_id}_n_{name}"))
    return counts


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--mode", default="auto")
    p.add_argument("--triclinic", action="store_true")
    p.add_argument("--half-melt", action="store_true")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--crystal", help="a complex crystal at rest (crystal_cases.KINDS) instead of the LJ fcc")
    args = p.parse_args()

    lammps = import_lammps()
    from mpi4py import MPI

    from md_orderml.engines.lammps import OrderMLFix

    comm = MPI.COMM_WORLD
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"], comm=comm)
    if args.crystal:
        create_complex_crystal(lmp, args.crystal)
    else:
        build(lmp, args.cells, args.triclinic, args.half_melt)
    lmp.command("fix nve all nve")
    compute = OrderMLFix(lmp, args.model, every=args.every, mode=args.mode)
    lmp.command(f"run {args.steps}")
    compute.check()
    n = lmp.extract_setting("nlocal")
    local = (np.array(lmp.numpy.extract_atom("id", nelem=n)), np.array(lmp.numpy.extract_atom("i_orderml", nelem=n)),
             np.array(lmp.numpy.extract_atom("d_orderml_conf", nelem=n)), np.array(lmp.numpy.extract_atom("x", nelem=n)))
    parts = comm.gather(local, root=0)
    vector = [lmp.extract_fix("orderml", 0, 1, k) for k in range(compute.n_out + 1)]
    named = named_counts(lmp, compute.class_names)
    if comm.Get_rank() == 0:
        ids, labels, conf, x = (np.concatenate([q[i] for q in parts]) for i in range(4))
        order = np.argsort(ids)
        lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
        np.savez(args.out, id=ids[order], label=labels[order], conf=conf[order], x=x[order].reshape(-1, 3),
                 lo=lo, hi=hi, tilt=[xy, xz, yz], vector=vector, named=named, gathered=compute.gathered_steps,
                 ghost_cutoff=-1.0 if compute.ghost_cutoff is None else compute.ghost_cutoff)
    lmp.close()


if __name__ == "__main__":
    main()
