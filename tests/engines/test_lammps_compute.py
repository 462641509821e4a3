"""The LAMMPS compute (md_orderml.engines.lammps) and ``md-orderml lammps``, with real LAMMPS.

Equality tests use an untrained model: the compute must reproduce
OrderML.compute on the same configuration whatever the weights.
Physics tests (crystal -> fcc, melt -> liquid, Cu in metal units, A15 and sigma crystals
labelled on the fly serially and on 2 ranks) need the default model.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lammps")
pytest.importorskip("mpi4py")

from conftest import CLASSES, mpirun  # noqa: E402
from crystal_cases import KINDS, assert_labelled_as, complex_crystal, offline_labels  # noqa: E402
from lammps_compute_helper import build, configuration, create_complex_crystal, named_counts  # noqa: E402

from md_orderml import Box, Frame  # noqa: E402
from md_orderml.analysis import OrderML  # noqa: E402
from md_orderml.errors import InputError  # noqa: E402

HERE = Path(__file__).resolve().parent
HELPER = HERE / "lammps_compute_helper.py"
CONF_TOL = 1e-4  # float32 model: ghost images vs periodic shifts (and bond order) round differently


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """LAMMPS and the compute change the process's thread count; put it back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def lmp():
    from md_orderml.mpi import import_lammps

    instance = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    yield instance
    instance.close()


def local_atoms(lmp):
    """(ids, labels, conf, positions) of the atoms, sorted by id (serial run)."""
    n = lmp.extract_setting("nlocal")
    ids = np.array(lmp.numpy.extract_atom("id", nelem=n))
    order = np.argsort(ids)
    return (ids[order], np.array(lmp.numpy.extract_atom("i_orderml", nelem=n))[order],
            np.array(lmp.numpy.extract_atom("d_orderml_conf", nelem=n))[order],
            np.array(lmp.numpy.extract_atom("x", nelem=n))[order])


def lammps_frame(lmp, positions) -> Frame:
    from md_orderml.engines.lammps.util import lammps_box

    return Frame(positions=positions, box=lammps_box(lmp))


def assert_same_as_core(model, frame, labels, conf):
    clf = OrderML(model).compute(frame)
    np.testing.assert_array_equal(labels, clf.labels)
    np.testing.assert_allclose(conf, clf.confidence, atol=CONF_TOL)


# ---------------------------------------------------------------- equality with the core


@pytest.mark.parametrize("triclinic", [False, True], ids=["orthogonal", "triclinic"])
@pytest.mark.parametrize("mode", ["auto", "ghost"])
def test_labels_equal_classifier(lmp, untrained_model_path, triclinic, mode):
    """Serial 'auto' labels from the periodic box, 'ghost' from ghost atoms: both equal the core."""
    from md_orderml.engines.lammps import OrderMLFix

    build(lmp, 4, triclinic, half_melt=True)
    lmp.command("fix nve all nve")
    compute = OrderMLFix(lmp, untrained_model_path, every=5, mode=mode)
    assert (compute.ghost_cutoff is None) == (mode == "auto")
    lmp.command("run 10")
    compute.check()
    assert compute.step == 10
    assert compute.gathered_steps == (3 if mode == "auto" else 0)
    ids, labels, conf, x = local_atoms(lmp)
    assert_same_as_core(untrained_model_path, lammps_frame(lmp, x), labels, conf)
    counts = [lmp.extract_fix("orderml", 0, 1, k) for k in range(len(CLASSES) + 1)]
    assert counts[:-1] == list(np.bincount(labels, minlength=len(CLASSES))) and counts[-1] == len(ids)
    lmp.command("variable n7 equal f_orderml[8]")
    assert lmp.extract_variable("n7") == len(ids)


def test_ghost_cutoff_needs_atoms(lmp, untrained_model_path):
    """Attached before atoms exist: no ghost cutoff yet; mode 'ghost' works once it is set."""
    from md_orderml.engines.lammps import OrderMLFix

    x, types, cell = configuration(4, False, True)
    lmp.commands_string(f"units lj\nregion box block 0 {cell[0, 0]} 0 {cell[1, 1]} 0 {cell[2, 2]}\n"
                        "create_box 2 box\nmass * 1.0\npair_style lj/cut 2.5\npair_coeff * * 1 1")
    compute = OrderMLFix(lmp, untrained_model_path, every=10, mode="ghost")
    assert compute.ghost_cutoff is None
    lmp.create_atoms(len(x), list(range(1, len(x) + 1)), [int(t) for t in types], x.ravel().tolist())
    assert compute.update_ghost_cutoff() == pytest.approx(compute.receptive_field * compute.length_scale() * 1.1 + 0.3)
    lmp.command("run 0")
    compute.check()
    _, labels, conf, pos = local_atoms(lmp)
    assert_same_as_core(untrained_model_path, lammps_frame(lmp, pos), labels, conf)


def test_ghost_mode_without_cutoff_fails(lmp, untrained_model_path, capfd):
    from md_orderml.engines.lammps import OrderMLFix

    lmp.commands_string("units lj\nlattice fcc 1.0\nregion box block 0 4 0 4 0 4\ncreate_box 1 box\n"
                        "mass 1 1.0\npair_style lj/cut 2.5\npair_coeff 1 1 1 1")
    compute = OrderMLFix(lmp, untrained_model_path, every=10, mode="ghost")
    lmp.command("create_atoms 1 box")
    lmp.command("run 0")
    with pytest.raises(InputError, match="does not cover the receptive field"):
        compute.check()


def test_labels_before_first_labelling_and_outside_group(lmp, untrained_model_path):
    from md_orderml.engines.lammps import OrderMLFix

    build(lmp, 4, False, half_melt=False)
    lmp.command("group low id <= 100")
    compute = OrderMLFix(lmp, untrained_model_path, every=7, group="low")
    _, labels, conf, _ = local_atoms(lmp)
    assert (labels == -1).all() and (conf == 0).all()
    lmp.command("run 0")  # step 0 is a labelling step
    ids, labels, conf, _ = local_atoms(lmp)
    assert (labels[ids <= 100] >= 0).all() and (labels[ids > 100] == -1).all() and (conf[ids > 100] == 0).all()
    assert compute.counts.sum() == 100
    compute.detach()
    assert not lmp.has_id("fix", "orderml")


# ---------------------------------------------------------------- errors


def test_type_map(lmp, tmp_path):
    import torch

    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.model_file import build_metadata, save_model
    from md_orderml.nn.backbone import EquivariantBackbone
    from md_orderml.nn.labeler import StructureLabeler

    torch.manual_seed(0)
    model = StructureLabeler(EquivariantBackbone(1.6, {"features": 16, "channels": 4, "n_types": 2}), len(CLASSES))
    path = save_model(model, build_metadata(CLASSES, 1.6, 2, {}, {}, type_names=["Cu", "Zr"]), tmp_path / "typed.pt")
    build(lmp, 4, False, half_melt=False)
    with pytest.raises(InputError, match="type '2' unknown to the model"):
        OrderMLFix(lmp, path, type_map={1: "Cu"})
    assert not lmp.has_id("fix", "orderml")
    compute = OrderMLFix(lmp, path, every=1, type_map={"1": "Zr", "2": "Cu"})
    lmp.command("run 0")
    compute.check()
    assert compute.counts.sum() == lmp.get_natoms()


def test_attach_errors(lmp, untrained_model_path):
    from md_orderml.engines.lammps import OrderMLFix

    with pytest.raises(InputError, match="box does not exist"):
        OrderMLFix(lmp, untrained_model_path)
    build(lmp, 4, False, half_melt=False)
    with pytest.raises(InputError, match="group 'nope' does not exist"):
        OrderMLFix(lmp, untrained_model_path, group="nope")
    OrderMLFix(lmp, untrained_model_path)
    with pytest.raises(InputError, match="already exists"):
        OrderMLFix(lmp, untrained_model_path)


def test_box_too_small(lmp, untrained_model_path):
    from md_orderml.engines.lammps import OrderMLFix

    lmp.commands_string("units lj\nlattice fcc 1.0\nregion box block 0 1 0 1 0 1\ncreate_box 1 box\n"
                        "create_atoms 1 box\nmass 1 1.0\npair_style lj/cut 1.0\npair_coeff 1 1 1 1")
    with pytest.raises(InputError, match="box is too small.*2 x cutoff"):
        OrderMLFix(lmp, untrained_model_path)


def test_error_during_run_stops_it(lmp, untrained_model_path, capfd):
    from md_orderml.engines.lammps import OrderMLFix

    build(lmp, 4, False, half_melt=False)
    lmp.command("fix nve all nve")
    compute = OrderMLFix(lmp, untrained_model_path, every=5)
    lmp.command("run 5")
    lmp.command("change_box all x scale 0.3 remap")
    lmp.command("run 20")
    assert lmp.get_thermo("step") == 5  # stopped at the first labelling
    with pytest.raises(InputError, match="step 5 failed: the periodic box is too small"):
        compute.check()
    assert "md-orderml: error:" in capfd.readouterr().err
    assert (local_atoms(lmp)[1] == -1).all()


# ---------------------------------------------------------------- MPI


def run_helper(tmp_path, ranks: int, model, *flags) -> dict:
    out = tmp_path / f"labels_{ranks}_{'_'.join(f.strip('-') for f in flags)}.npz"
    cmd = [sys.executable, str(HELPER), str(model), str(out), *flags]
    if ranks > 1:
        cmd = [mpirun(), "-np", str(ranks)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=HERE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(out))


@pytest.mark.mpi
@pytest.mark.parametrize("model_fixture", ["untrained_model_path", "local_unit_model_path"], ids=["global", "local"])
def test_rank_invariance(tmp_path, request, model_fixture):
    """1, 2 and 4 ranks with the default mode (a gathered halo under MPI) and 2 and 4 ranks with
    ghost atoms give the core's labels, for a global-unit file and a local-unit one (whose halo and
    ghosts the fix sizes by the model's own reach)."""
    model = request.getfixturevalue(model_fixture)
    flags = ("--cells", "5", "--triclinic", "--half-melt", "--steps", "0")
    x, _, cell = configuration(5, True, True)
    box = Box.from_lammps(0, cell[0, 0], 0, cell[1, 1], 0, cell[2, 2], cell[1, 0], cell[2, 0], cell[2, 1])
    core = OrderML(model).compute(Frame(positions=x, box=box))
    results = {n: run_helper(tmp_path, n, model, *flags) for n in (1, 2, 4)}
    results.update({f"{n}-ghost": run_helper(tmp_path, n, model, *flags, "--mode", "ghost") for n in (2, 4)})
    for name, res in results.items():
        np.testing.assert_array_equal(res["id"], np.arange(1, len(x) + 1))
        np.testing.assert_allclose(res["x"], x, atol=1e-9)
        np.testing.assert_array_equal(res["label"], core.labels, err_msg=f"{name} ranks")
        np.testing.assert_allclose(res["conf"], core.confidence, atol=CONF_TOL, err_msg=f"{name} ranks")
        np.testing.assert_array_equal(res["vector"][:-1], core.counts)
    assert [results[n]["gathered"] for n in (1, 2, 4)] == [1, 1, 1]  # 'auto': never ghosts
    assert results["2-ghost"]["gathered"] == 0 and results["4-ghost"]["gathered"] == 0
    assert results["2-ghost"]["ghost_cutoff"] > 0 > results[2]["ghost_cutoff"]  # only 'ghost' sets comm_modify


@pytest.mark.mpi
def test_small_box_under_mpirun_as_serial(tmp_path, default_model_path):
    """A 256-atom box just wide enough for the default model: 2 ranks label it as one rank does.
    (Each rank's owned atoms with open boundaries give face atoms larger local units; the box
    check now takes the unit of all atoms in the periodic box before refusing.)"""
    import shutil

    model = shutil.copy(default_model_path, tmp_path / "default.pt")  # the same file in both processes
    flags = ("--cells", "4", "--half-melt", "--steps", "20")
    one = run_helper(tmp_path, 1, model, *flags)
    two = run_helper(tmp_path, 2, model, *flags)
    np.testing.assert_array_equal(two["id"], one["id"])
    np.testing.assert_array_equal(two["label"], one["label"])
    np.testing.assert_allclose(two["conf"], one["conf"], atol=CONF_TOL)


# ---------------------------------------------------------------- md-orderml lammps


SCRIPT = """# small LJ crystal; the box is made in an included file
variable n index 4
units lj
atom_style atomic
include {setup}
create_atoms 1 box
mass 1 1.0
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0
neighbor 0.4 bin
velocity all create 0.5 87287 loop geom
fix 1 all nve
variable ffcc equal f_orderml[1]/f_orderml[8]
thermo_style custom step temp v_ffcc &
    f_orderml[8]
thermo 5
dump d all custom 5 {dump} id type x y z i_orderml d_orderml_conf
dump_modify d sort id format float %.17g
variable i loop 2
label loop
run 5
next i
jump SELF loop
print "FINAL ${{ffcc}}"
"""


def write_script(tmp_path, **fmt):
    (tmp_path / "setup.in").write_text("lattice fcc 1.0\nregion box block 0 ${n} 0 ${n} 0 ${n}\ncreate_box 1 box\n")
    path = tmp_path / "in.test"
    path.write_text(SCRIPT.format(setup=tmp_path / "setup.in", dump=tmp_path / "out.dump", **fmt))
    return path


def test_cli_lammps_script_and_label_command(tmp_path, untrained_model_path, capfd):
    """md-orderml lammps runs the script; its dumped labels equal md-orderml label on the dump."""
    from md_orderml.cli import main
    from md_orderml.io import open_trajectory

    script = write_script(tmp_path)
    rc = main(["lammps", str(script), "--model", str(untrained_model_path), "--every", "5",
               "--log", str(tmp_path / "log.lammps"), "--var", "n", "5"])
    out = capfd.readouterr().out
    assert rc == 0 and "FINAL" in out
    assert "Created 500 atoms" in out and "ghost atom cutoff = 2.9\n" in out  # --var n 5; serial: no comm change
    assert main(["label", str(tmp_path / "out.dump"), "-o", str(tmp_path / "relabelled.dump"),
                 "--model", str(untrained_model_path), "--quiet"]) == 0
    frames = list(open_trajectory(tmp_path / "out.dump"))
    relabelled = list(open_trajectory(tmp_path / "relabelled.dump"))
    assert [f.step for f in frames] == [0, 5, 10]
    for frame, ref in zip(frames, relabelled):
        np.testing.assert_array_equal(frame.native.column("i_orderml"), ref.native.column("orderml_label"))
        np.testing.assert_allclose(frame.native.column("d_orderml_conf"), ref.native.column("orderml_conf"),
                                   atol=CONF_TOL)


@pytest.mark.mpi
def test_cli_lammps_under_mpirun(tmp_path, untrained_model_path, capfd):
    """mpirun -np 2 md-orderml lammps (ghost path) writes the labels of the serial run."""
    from md_orderml.cli import main
    from md_orderml.io import open_trajectory

    script = write_script(tmp_path)
    common = ["lammps", str(script), "--model", str(untrained_model_path), "--every", "5", "--log", "none", "--quiet"]
    assert main(common) == 0
    (tmp_path / "out.dump").rename(tmp_path / "serial.dump")
    cmd = [mpirun(), "-np", "2", sys.executable, "-m", "md_orderml.cli"] + common
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    serial, parallel = (list(open_trajectory(tmp_path / name)) for name in ("serial.dump", "out.dump"))
    assert [f.step for f in parallel] == [0, 5, 10]
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a.native.column("i_orderml"), b.native.column("i_orderml"))
        np.testing.assert_allclose(a.native.column("d_orderml_conf"), b.native.column("d_orderml_conf"), atol=CONF_TOL)


@pytest.mark.parametrize("body, message", [
    ("label top\nunits lj\nregion b block 0 4 0 4 0 4\ncreate_box 1 b\njump SELF top\n", "goes back before the box"),
    ("units lj\njump SELF\n", "before the box exists"),
    ("units lj\nregion b block 0 4 0 4 0 4\ncreate_box 1 b\nclear\n", "'clear' after the box"),
    ("units lj\n", "never creates a box"),
    ("units lj\nfoo bar\n", "in.bad:2: LAMMPS: ERROR: Unknown command"),
])
def test_cli_lammps_errors(tmp_path, untrained_model_path, capfd, body, message):
    from md_orderml.cli import main

    (tmp_path / "in.bad").write_text(body)
    rc = main(["lammps", str(tmp_path / "in.bad"), "--model", str(untrained_model_path), "--log", "none", "--quiet"])
    assert rc == 2
    err = capfd.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------- physics (default model)


def test_crystal_and_melt(lmp, default_model_path):
    """Half an LJ crystal (density 0.92) molten at T=2 with the other half frozen: fcc on top, liquid below."""
    from md_orderml.engines.lammps import OrderMLFix

    build(lmp, 6, False, half_melt=False, density=0.92)
    zmax = lmp.extract_box()[1][2]
    lmp.commands_string(f"""
region hot2 block INF INF INF INF INF {zmax / 2} units box
group hot region hot2
group cold subtract all hot
velocity cold set 0 0 0
fix freeze cold setforce 0 0 0
fix heat hot langevin 2.0 2.0 0.1 12345
fix nve hot nve
run 3000
""")
    compute = OrderMLFix(lmp, default_model_path, every=1)
    lmp.command("run 0")
    compute.check()
    ids, labels, _, x = local_atoms(lmp)
    z = x[:, 2] % zmax
    names = np.array(compute.class_names)
    top = names[labels[(z > 0.6 * zmax) & (z < 0.9 * zmax)]]
    bottom = names[labels[(z > 0.1 * zmax) & (z < 0.4 * zmax)]]
    assert (top == "fcc").mean() > 0.9, np.unique(top, return_counts=True)
    assert (bottom == "liquid").mean() > 0.8, np.unique(bottom, return_counts=True)


METAL_CU = """
units metal
lattice fcc 3.615
region box block 0 5 0 5 0 5
create_box 1 box
create_atoms 1 box
mass 1 63.546
pair_style lj/cut 6.0
pair_coeff 1 1 0.4 2.3
velocity all create 300 4928459 loop geom
fix nve all nve
"""


def test_metal_units(lmp, untrained_model_path):
    """Metal units (Å): the ghost cutoff uses the 2 Å metal skin; labels equal the core's."""
    from md_orderml.engines.lammps import OrderMLFix

    lmp.commands_string(METAL_CU)
    compute = OrderMLFix(lmp, untrained_model_path, every=10, mode="ghost")
    scale = 3.615 / 4 ** (1 / 3)
    assert compute.skin == 2.0 and compute.length_scale() == pytest.approx(scale)
    assert compute.ghost_cutoff == pytest.approx(compute.receptive_field * scale * 1.1 + 2.0)
    lmp.command("run 20")
    compute.check()
    _, labels, conf, x = local_atoms(lmp)
    assert_same_as_core(untrained_model_path, lammps_frame(lmp, x), labels, conf)


@pytest.mark.parametrize("kind", KINDS)
def test_complex_crystal_on_the_fly(lmp, default_model_path, kind):
    """An A15 (sigma) crystal at rest, 2.5 % noise: the fix labels >= 95 % a15 (sigma) after 5 MD steps,
    as the core does, and ``f_orderml[${orderml_k_a15}]`` etc. count the atoms labelled."""
    from md_orderml.engines.lammps import OrderMLFix

    x, cell = create_complex_crystal(lmp, kind)
    lmp.command("fix nve all nve")
    compute = OrderMLFix(lmp, default_model_path, every=5)
    lmp.command("run 5")
    compute.check()
    assert compute.step == 5
    _, labels, _, positions = local_atoms(lmp)
    np.testing.assert_array_equal(positions, x)  # at rest without forces: the crystal as built
    assert_labelled_as(kind, labels, compute.class_names, named_counts(lmp, compute.class_names),
                       offline_labels(default_model_path, x, cell))
    assert compute.fractions[kind] >= 0.95


@pytest.mark.mpi
@pytest.mark.parametrize("kind", KINDS)
def test_complex_crystal_under_mpirun(tmp_path, default_model_path, kind):
    """The same crystal under mpirun -np 2 (mode 'ghost': ghost atoms as context): the serial labels, counts read by name."""
    import shutil

    from md_orderml.model_file import read_metadata

    model = shutil.copy(default_model_path, tmp_path / "default.pt")  # the same file in both processes
    x, cell = complex_crystal(kind)
    res = run_helper(tmp_path, 2, model, "--crystal", kind, "--steps", "5", "--every", "5", "--mode", "ghost")
    assert res["gathered"] == 0  # ghosts, not gathered positions
    np.testing.assert_array_equal(res["x"], x)
    assert_labelled_as(kind, res["label"], read_metadata(model)["class_names"], res["named"],
                       offline_labels(model, x, cell))
    np.testing.assert_array_equal(res["vector"][:-1], res["named"])


def test_copper_is_fcc(lmp, default_model_path):
    """Cu fcc, a = 3.615 Å at 300 K in metal units is labelled fcc."""
    from md_orderml.engines.lammps import OrderMLFix

    lmp.commands_string(METAL_CU)
    compute = OrderMLFix(lmp, default_model_path, every=10)
    lmp.command("run 20")
    compute.check()
    assert compute.fractions["fcc"] > 0.95, compute.fractions
