"""Label a Kob-Andersen-like configuration with a regression model in LAMMPS; save values by atom id.

Used by tests/research/test_expert_hybrid.py, serially and under ``mpirun -np N``::

    python tests/research/lammps_values_helper.py MODEL CONFIG.npz OUT.npz

CONFIG.npz holds ``positions`` (N, 3), ``types`` (N,) (0 = A, 1 = B) and ``length`` (cubic
box edge). OUT.npz holds ``id`` (N,), ``values`` (N, S) and the ``ghost_cutoff`` used.
The compute runs in ghost mode: each rank sees only its atoms and LAMMPS ghosts.
"""

import sys

import numpy as np

from md_orderml.mpi import import_lammps


def main() -> None:
    model, config, out = sys.argv[1:4]
    data = np.load(config)
    positions, types, length = data["positions"], data["types"], float(data["length"])
    lammps = import_lammps()
    from mpi4py import MPI

    from md_orderml.engines.lammps import OrderMLFix

    comm = MPI.COMM_WORLD
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"], comm=comm)
    lmp.commands_string(f"units lj\natom_modify map array\nregion box block 0 {length} 0 {length} 0 {length}\n"
                        "create_box 2 box\nmass * 1.0\npair_style zero 1.0\npair_coeff * *")
    # every rank passes every atom; each keeps those inside its subdomain
    lmp.create_atoms(len(positions), list(range(1, len(positions) + 1)), [int(t) + 1 for t in types],
                     positions.ravel().tolist())
    assert lmp.get_natoms() == len(positions)
    compute = OrderMLFix(lmp, model, every=1, type_map={"1": "A", "2": "B"}, mode="ghost")
    lmp.command("fix nve all nve")
    lmp.command("run 0")
    compute.check()
    n = lmp.extract_setting("nlocal")
    ids = np.array(lmp.numpy.extract_atom("id", nelem=n))
    values = np.stack([np.array(lmp.numpy.extract_atom(p, nelem=n)) for p in compute.value_props], 1)
    parts = comm.gather((ids, values), root=0)
    if comm.Get_rank() == 0:
        ids = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts])
        order = np.argsort(ids)
        np.savez(out, id=ids[order], values=values[order], ghost_cutoff=compute.ghost_cutoff)
    lmp.close()


if __name__ == "__main__":
    main()
