"""The HOOMD-blue writer under hard-particle Monte Carlo (``hoomd.hpmc``), with a real HOOMD-blue build.

Physics with the shipped default model (hard-sphere fcc crystal and fluid); equality with
``md-orderml label`` and between 1 and 2 ranks with the contrast model of test_hoomd.py
(labels spread over all classes). Without HOOMD-blue (or without its HPMC component)
every test here skips, and fails instead where HOOMD-blue is required (tests/conftest.py).
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import CLASSES, NO_HOOMD, hoomd_available, mpirun
from test_hoomd import CONF_TOL
from test_hoomd import contrast_model_path as contrast_model_path  # noqa: F401, F811  (the fixture, shared)

HERE = Path(__file__).resolve().parent
HELPER = HERE / "hpmc_rank_helper.py"
HAVE_HPMC = hoomd_available("md", "hpmc")
pytestmark = pytest.mark.skipif(not HAVE_HPMC, reason=NO_HOOMD)
OCTAHEDRON = [(-0.5, 0, 0), (0.5, 0, 0), (0, -0.5, 0), (0, 0.5, 0), (0, 0, -0.5), (0, 0, 0.5)]


@pytest.fixture(scope="module")
def helper():
    """tests/engines/hpmc_rank_helper.py as a module (imports hoomd)."""
    import hpmc_rank_helper

    return hpmc_rank_helper


@pytest.fixture(scope="module")
def device(helper):
    import hoomd

    return hoomd.device.CPU(notice_level=1)


def test_hard_sphere_crystal_and_fluid(helper, device, default_model_path):
    """fcc at packing fraction 0.60 stays fcc; the same lattice at 0.45 melts; the trigger counts sweeps."""
    from md_orderml.engines.hoomd import OrderMLWriter

    fractions = {}
    for name, phi, d, sweeps in (("crystal", 0.60, 0.05, 20), ("fluid", 0.45, 0.2, 300)):
        positions, lengths = helper.lattice((5, 5, 5), phi)
        sim = helper.hard_spheres(device, positions, lengths, d=d)
        labels = OrderMLWriter(trigger=sweeps, model=default_model_path)
        sim.operations.writers.append(labels)
        sim.run(sweeps)
        assert sim.timestep == sweeps and labels.labelled_step == sweeps
        assert sum(sim.operations.integrator.translate_moves) >= sweeps * len(positions)  # one trial per particle
        assert labels.route == "serial"
        fractions[name] = labels.fractions
    assert fractions["crystal"]["fcc"] >= 0.99, fractions
    assert fractions["fluid"]["liquid"] >= 0.99, fractions


def test_gsd_and_table_under_hpmc_equal_md_orderml_label(helper, device, contrast_model_path, tmp_path):
    """HPMC sweeps logged to GSD (md_orderml paths) and Table; the GSD frames relabelled give the same labels."""
    import gsd.hoomd
    import hoomd

    from md_orderml import keys
    from md_orderml.engines.hoomd import OrderMLWriter
    from md_orderml.io import read_gsd_outputs
    from md_orderml.labelling import label_trajectory

    positions, lengths = helper.lattice((4, 4, 4), 0.55, disorder=0.8)
    sim = helper.hard_spheres(device, positions, lengths, d=0.1)
    labels = OrderMLWriter(trigger=5, model=contrast_model_path)
    logger = hoomd.logging.Logger(categories=["particle", "sequence", "scalar", "string", "strings"])
    logger.add(labels)
    path = tmp_path / "hpmc.gsd"
    gsd_writer = hoomd.write.GSD(filename=str(path), trigger=5, logger=logger, mode="wb")
    table_logger = hoomd.logging.Logger(categories=["scalar"])
    table_logger.add(labels)
    output = io.StringIO()
    table = hoomd.write.Table(trigger=5, logger=table_logger, output=output)
    sim.operations.writers.extend([gsd_writer, labels, table])
    sim.run(10)
    gsd_writer.flush()
    with gsd.hoomd.open(str(path)) as traj:
        frames = list(traj)
    assert [f.configuration.step for f in frames] == [5, 10]
    stored = [read_gsd_outputs(f)[0] for f in frames]
    for frame, out in zip(frames, stored):
        assert frame.log[keys.GSD_LABEL[len("log/"):]].dtype == np.int32
        assert len(np.unique(out["label"])) > 2
        np.testing.assert_allclose(frame.log["md_orderml/fractions"],
                                   np.bincount(out["label"], minlength=len(CLASSES)) / len(positions))
        assert frame.log["md_orderml/model_sha256"] is not None
    np.testing.assert_array_equal(stored[-1]["label"], labels.label)
    header, *rows = output.getvalue().strip().splitlines()
    assert header.split() == [f"md_orderml.fraction_{name}" for name in CLASSES]
    assert [float(v) for v in rows[-1].split()] == pytest.approx(list(labels.fractions.values()), abs=1e-5)
    label_trajectory(path, tmp_path / "relabelled.gsd", model=str(contrast_model_path), progress=False)
    with gsd.hoomd.open(str(tmp_path / "relabelled.gsd")) as traj:
        relabelled = [read_gsd_outputs(f)[0] for f in traj]
    for got, expected in zip(stored, relabelled):
        np.testing.assert_array_equal(got["label"], expected["label"])
        np.testing.assert_allclose(got["confidence"], expected["confidence"], atol=CONF_TOL)


def test_convex_polyhedra_with_writer_and_ghost_reach(device, untrained_model_path, tmp_path):
    """Hard octahedra (ConvexPolyhedron) run with the writer, GSD and Table; HPMC's ghost reach from the shapes."""
    import gsd.hoomd
    import hoomd

    from md_orderml.engines.hoomd import OrderMLWriter
    from md_orderml.engines.hoomd.domain import hoomd_ghost_reach

    cells, a = 6, 1.1  # octahedra of circumsphere diameter 1 on a simple cubic lattice
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 3) * a
    sim = hoomd.Simulation(device=device, seed=4)
    snap = hoomd.Snapshot(device.communicator)
    snap.configuration.box = [cells * a] * 3 + [0, 0, 0]
    snap.particles.N = len(grid)
    snap.particles.types = ["O", "S"]
    snap.particles.position[:] = grid - cells * a / 2
    snap.particles.typeid[:] = np.arange(len(grid)) % 2
    sim.create_state_from_snapshot(snap)
    mc = hoomd.hpmc.integrate.ConvexPolyhedron(default_d=0.05, default_a=0.05)
    mc.shape["O"] = dict(vertices=OCTAHEDRON)
    mc.shape["S"] = dict(vertices=[np.array(v) * 0.6 for v in OCTAHEDRON])
    sim.operations.integrator = mc
    labels = OrderMLWriter(trigger=5, model=untrained_model_path)
    logger = hoomd.logging.Logger(categories=["particle", "sequence", "scalar", "strings"])
    logger.add(labels)
    path = tmp_path / "octahedra.gsd"
    gsd_writer = hoomd.write.GSD(filename=str(path), trigger=5, logger=logger, mode="wb")
    output = io.StringIO()
    table_logger = hoomd.logging.Logger(categories=["scalar"])
    table_logger.add(labels, quantities=["fraction_fcc", "fraction_liquid"])
    sim.operations.writers.extend([labels, gsd_writer, hoomd.write.Table(trigger=5, logger=table_logger,
                                                                         output=output)])
    sim.run(10)
    gsd_writer.flush()
    assert mc.overlaps == 0 and sum(mc.rotate_moves) > 0
    assert len(output.getvalue().strip().splitlines()) == 3
    with gsd.hoomd.open(str(path)) as traj:
        assert traj[-1].log["particles/md_orderml/label"].shape == (len(grid),)
        np.testing.assert_array_equal(traj[-1].log["particles/md_orderml/label"], labels.label)
    assert sum(labels.fractions.values()) == pytest.approx(1.0)
    # HPMC's ghost width: the largest mean circumsphere diameter of two interacting shapes
    assert hoomd_ghost_reach(sim) == pytest.approx(1.0, rel=1e-5)
    mc.interaction_matrix[("O", "O")] = False
    assert hoomd_ghost_reach(sim) == pytest.approx(0.8, rel=1e-5)
    sim.operations.computes.append(hoomd.md.nlist.Cell(buffer=0.2, default_r_cut=2.5))
    assert hoomd_ghost_reach(sim) == pytest.approx(2.7)  # a stand-alone list widens HOOMD's ghosts


@pytest.mark.mpi
def test_hpmc_same_labels_on_one_and_two_ranks(helper, contrast_model_path, tmp_path):
    """1 and 2 ranks label the same HPMC configuration alike, gathering or with HOOMD's widened ghosts."""
    pytest.importorskip("mpi4py")
    import hoomd

    if not hoomd.version.mpi_enabled:
        pytest.skip("this HOOMD-blue build has no MPI (ENABLE_MPI off): two ranks would be two serial runs")
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    helper.main(str(contrast_model_path), str(one))  # in this process: serial
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([mpirun(), "-np", "2", sys.executable, str(HELPER), str(contrast_model_path), str(two)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=HERE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = dict(np.load(one, allow_pickle=False)), dict(np.load(two, allow_pickle=False))
    assert int(one["ranks"]) == 1 and int(two["ranks"]) == 2
    assert len(np.unique(one["start_label"])) >= 4
    for case in ("start", "swept"):
        assert str(one[f"{case}_route"]) == "serial"
        for run in (one, two):  # each run equals OrderML on its own snapshot
            np.testing.assert_array_equal(run[f"{case}_label"], run[f"{case}_reference_label"], err_msg=case)
            np.testing.assert_allclose(run[f"{case}_confidence"], run[f"{case}_reference_confidence"], atol=CONF_TOL)
    assert str(two["start_route"]) == "gather" and str(two["swept_route"]) == "hoomd"
    np.testing.assert_array_equal(two["start_label"], one["start_label"])  # same configuration, 1 vs 2 ranks
    np.testing.assert_allclose(two["start_confidence"], one["start_confidence"], atol=CONF_TOL)


def _example(script):
    import importlib.util

    spec = importlib.util.spec_from_file_location(script[:-3], HERE.parents[1] / "examples" / script)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


@pytest.mark.parametrize("script, args, outputs", [
    ("hoomd_hard_spheres.py", ["--cells", "4", "--seed-radius", "2"],
     ["hard_spheres.gsd", "hard_spheres_fractions.png"]),
    ("hoomd_hard_polyhedra.py", ["--shape", "cube", "--cells", "5", "--seed-radius", "2"],
     ["cube.gsd", "cube_fractions.png"]),
])
def test_examples_run_small(script, args, outputs, tmp_path, default_model_path, capsys):
    """The hard-particle examples, shrunk to seconds: melt, compress, grow, labelled; GSD and plot written."""
    example = _example(script)
    small = ["--melt-sweeps", "40", "--sweeps", "40", "--every", "20", "--model", str(default_model_path)]
    assert example.main(args + small + ["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "fractions melted" in printed and "fractions end" in printed
    for name in outputs:
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("script, args, gsd_name, crystal", [
    ("hoomd_hard_spheres.py", [], "hard_spheres.gsd", "fcc"),
    ("hoomd_hard_polyhedra.py", ["--shape", "truncated_octahedron"], "truncated_octahedron.gsd", "bcc")])
def test_examples_crystallize(script, args, gsd_name, crystal, default_model_path, tmp_path):
    """The hard-particle examples as shipped (about a minute each): the crystal grows from the nucleus
    through most of the box."""
    import gsd.hoomd

    from md_orderml.io import read_gsd_outputs

    assert _example(script).main(args + ["--model", str(default_model_path), "--out", str(tmp_path)]) == 0
    log = gsd.hoomd.read_log(str(tmp_path / gsd_name))
    with gsd.hoomd.open(str(tmp_path / gsd_name)) as traj:
        names = list(read_gsd_outputs(traj[0])[1].class_names)
    fraction = log["log/md_orderml/fractions"][:, names.index(crystal)]
    assert fraction[0] > 0.99  # the lattice the run starts from
    assert fraction[1] < 0.4  # melted but for the nucleus
    assert fraction[-1] > 0.8, fraction
