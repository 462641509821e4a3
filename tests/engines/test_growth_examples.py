"""The MD growth examples: a Frank-Kasper crystal (A15) grown with an oscillating pair potential, and LJ fcc, labelled on the fly.

``examples/opp_a15.py`` (the potential: A15 is the lowest-energy lattice of the prototype
library; its LAMMPS table matches the formula), ``examples/lammps_opp_a15_growth.py`` (real
LAMMPS) and ``examples/hoomd_opp_a15_growth.py`` (real HOOMD-blue; skips without it, and
fails instead where HOOMD-blue is required, tests/conftest.py): a seconds-long run of each
that writes every output and (slow) each as shipped, where the labelled ``a15`` fraction
grows from the seed slab (about half the box) through the box; ``examples/hoomd_lj_crystallization.py``
(through the protocol it shares with the A15 example, ``examples/hoomd_md_growth.py``), shrunk.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import NO_HOOMD, hoomd_available

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
needs_hoomd = pytest.mark.skipif(not hoomd_available("md"), reason=NO_HOOMD)


def _load(name):
    """An example script as a module (its folder on sys.path for ``opp_a15``)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


@pytest.fixture(scope="module")
def potential():
    return _load("opp_a15")


def test_a15_is_the_lowest_energy_lattice_of_the_library(potential):
    ranking = potential.lattice_energies()
    names = list(ranking)
    assert names[0] == "a15", ranking
    assert ranking[names[1]][0] - ranking["a15"][0] > 0.1  # sigma next, 0.13 per particle above
    assert ranking["a15"][1] == pytest.approx(potential.NN_DISTANCE, abs=0.01)  # the runs' density is A15's best


def test_energy_and_force_agree_and_vanish_at_the_cutoff(potential):
    r = np.linspace(0.8, 2.45, 50)
    h = 1e-6
    numeric = -(potential.opp_energy(r + h) - potential.opp_energy(r - h)) / (2 * h)
    np.testing.assert_allclose(potential.opp_force(r), numeric, atol=1e-5)
    assert potential.opp_energy(np.array([potential.R_CUT, 3.0])) == pytest.approx([0.0, 0.0], abs=1e-12)


def test_lammps_table_holds_the_formula(potential, tmp_path):
    path = potential.write_lammps_table(tmp_path / "opp.table", points=500)
    rows = np.loadtxt(path, skiprows=5)
    assert rows.shape == (500, 4)
    np.testing.assert_allclose(rows[:, 2], potential.opp_energy(rows[:, 1]), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(rows[:, 3], potential.opp_force(rows[:, 1]), rtol=1e-6, atol=1e-9)


def _a15_fractions(counts_txt, names):
    data = np.loadtxt(counts_txt, comments="#", ndmin=2)
    return data[:, 1 + names.index("a15")] / data[:, 1 + len(names)]


def test_lammps_example_runs_small(default_model_path, tmp_path, capsys):
    """Shrunk to seconds: table, melt, quench, labels; dump, counts, log and plot written."""
    example = _load("lammps_opp_a15_growth")
    argv = ["--cells", "4", "--melt-steps", "300", "--steps", "400", "--every", "200", "--skip-energies",
            "--model", str(default_model_path), "--out", str(tmp_path)]
    assert example.main(argv) == 0
    assert "a15 fraction:" in capsys.readouterr().out
    for name in ("opp.table", "traj.dump", "counts.txt", "log.lammps", "fractions.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.slow
def test_lammps_a15_grows_through_the_box(default_model_path, tmp_path):
    """The LAMMPS example as shipped (about 30-60 s on 2 cores)."""
    from md_orderml.analysis import OrderML

    assert _load("lammps_opp_a15_growth").main(["--skip-energies", "--model", str(default_model_path),
                                                 "--out", str(tmp_path)]) == 0
    a15 = _a15_fractions(tmp_path / "counts.txt", list(OrderML(default_model_path).class_names))
    assert 0.3 < a15[0] < 0.6, a15  # the seed slab is half the box
    assert a15[-1] > 0.9, a15


@needs_hoomd
def test_hoomd_example_runs_small(default_model_path, tmp_path, capsys):
    """Shrunk to seconds: melt, quench, labels, GSD and plot written, fractions printed."""
    example = _load("hoomd_opp_a15_growth")
    argv = ["--cells", "4", "--melt-steps", "300", "--steps", "400", "--every", "200", "--skip-energies",
            "--model", str(default_model_path), "--out-dir", str(tmp_path)]
    assert example.main(argv) == 0
    printed = capsys.readouterr().out
    assert "a15 fraction:" in printed and "final fractions" in printed
    for name in ("a15_growth.gsd", "a15_growth_fractions.png"):
        assert (tmp_path / name).stat().st_size > 0


@needs_hoomd
@pytest.mark.slow
def test_hoomd_a15_grows_through_the_box(default_model_path, tmp_path):
    """The HOOMD example as shipped (about 1.5-3 min on 2 cores)."""
    import gsd.hoomd

    from md_orderml.io import read_gsd_outputs

    gsd_path = tmp_path / "a15_growth.gsd"
    assert _load("hoomd_opp_a15_growth").main(["--skip-energies", "--model", str(default_model_path),
                                               "--out-dir", str(tmp_path)]) == 0
    log = gsd.hoomd.read_log(str(gsd_path))
    with gsd.hoomd.open(str(gsd_path)) as traj:
        names = list(read_gsd_outputs(traj[0])[1].class_names)
    a15 = log["log/md_orderml/fractions"][:, names.index("a15")]
    assert 0.3 < a15[0] < 0.6, a15  # the seed slab is half the box
    assert a15[-1] > 0.9, a15


@needs_hoomd
def test_hoomd_lj_example_runs_small(default_model_path, tmp_path, capsys):
    """The LJ crystallization example shrunk to seconds: GSD and plot written, fractions printed."""
    example = _load("hoomd_lj_crystallization")
    argv = ["--cells", "5", "--seed-radius", "2", "--melt-steps", "200", "--steps", "400", "--every", "200",
            "--model", str(default_model_path), "--out-dir", str(tmp_path)]
    assert example.main(argv) == 0
    assert "final fractions" in capsys.readouterr().out
    for name in ("lj_crystallization.gsd", "lj_crystallization_fractions.png"):
        assert (tmp_path / name).stat().st_size > 0
