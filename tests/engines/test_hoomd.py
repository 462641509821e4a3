"""The HOOMD-blue analyzer (md_orderml.engines.hoomd) against a real HOOMD-blue build.

Equality tests use an untrained model whose last layer is re-drawn so that labels vary
between particles (``contrast_model_path``): the analyzer must reproduce
OrderML / ``md-orderml label`` on the same configuration whatever the
weights. The crystal-vs-melt and complex-crystal (A15, sigma; serial and 2 ranks) tests
need the default model. Without HOOMD-blue every test here but the import check skips.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import CLASSES, NO_HOOMD, hoomd_available, mpirun
from crystal_cases import KINDS, assert_labelled_as

HERE = Path(__file__).resolve().parent
HELPER = HERE / "hoomd_rank_helper.py"
CONF_TOL = 1e-3  # float32 model with a sharpened head: images vs shifts round differently


HAVE_HOOMD = hoomd_available()
needs_hoomd = pytest.mark.skipif(not HAVE_HOOMD, reason=NO_HOOMD)


@pytest.fixture(scope="module")
def helper():
    """tests/engines/hoomd_rank_helper.py as a module (imports hoomd)."""
    if not HAVE_HOOMD:
        pytest.skip(NO_HOOMD)
    import hoomd_rank_helper

    return hoomd_rank_helper


@pytest.fixture(scope="module")
def device(helper):
    import hoomd

    return hoomd.device.CPU(notice_level=1)


@pytest.fixture(scope="session")
def contrast_model_path(untrained_model_path, tmp_path_factory):
    """The untrained model with a last layer that spreads the helper's configuration over all classes."""
    if not HAVE_HOOMD:
        pytest.skip(NO_HOOMD)
    import json

    import torch

    from hoomd_rank_helper import configuration
    from md_orderml import keys
    from md_orderml.analysis import OrderML
    from md_orderml.frame import Box, Frame
    from md_orderml.model_file import read_metadata

    positions, box = configuration(cells=(4, 4, 4))
    frame = Frame(positions=positions, box=Box.from_hoomd(box), types=np.zeros(len(positions), int), type_names=["A"])
    embedding = torch.as_tensor(OrderML(untrained_model_path).compute(frame).embedding)
    module = torch.jit.load(str(untrained_model_path))
    first, last = getattr(module.head, "0"), getattr(module.head, "2")
    with torch.no_grad():
        hidden = torch.nn.functional.silu(embedding @ first.weight.T + first.bias)
        scale = hidden.std(0) + 1e-6
        generator = torch.Generator().manual_seed(3)
        weight = torch.randn(last.weight.shape, generator=generator) / scale
        last.weight.copy_(weight)
        last.bias.copy_(-(hidden @ weight.T).mean(0))
    path = tmp_path_factory.mktemp("models") / "contrast.pt"
    torch.jit.save(module, str(path), _extra_files={keys.METADATA_FILE: json.dumps(read_metadata(untrained_model_path))})
    return path


def test_import_md_orderml_does_not_import_hoomd():
    code = "import sys, md_orderml, md_orderml.engines, md_orderml.io; assert 'hoomd' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.skipif(HAVE_HOOMD, reason="HOOMD-blue is installed")
def test_clear_error_without_hoomd():
    with pytest.raises(ImportError, match="conda install -c conda-forge hoomd"):
        from md_orderml.engines.hoomd import OrderMLWriter  # noqa: F401


def test_cuda_tensor_refuses_host_arrays():
    from md_orderml.engines.hoomd.domain import cuda_tensor

    with pytest.raises(TypeError, match="ndarray does not expose __cuda_array_interface__"):
        cuda_tensor(np.zeros(3))


def test_cuda_tensor_is_zero_copy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    from md_orderml.engines.hoomd.domain import cuda_tensor

    storage = torch.arange(40, dtype=torch.float64, device="cuda").reshape(10, 4)

    class FakeGPUArray:  # what HOOMD's gpu_local_snapshot.particles.position exposes
        __cuda_array_interface__ = {"shape": (10, 3), "typestr": "<f8", "strides": (32, 8),
                                    "data": (storage.data_ptr(), False), "version": 2}

    view = cuda_tensor(FakeGPUArray())
    assert view.is_cuda and view.data_ptr() == storage.data_ptr()
    assert torch.equal(view, storage[:, :3])
    storage[0, 0] = -1.0
    assert view[0, 0].item() == -1.0
    with pytest.raises(TypeError, match="__cuda_array_interface__"):
        cuda_tensor(np.zeros(3))


@needs_hoomd
def test_gsd_paths_fresh_labels_and_md_orderml_label(helper, device, contrast_model_path, tmp_path):
    """A GSD writer placed BEFORE the labels still stores this step's labels, at the md_orderml paths."""
    import gsd.hoomd
    import hoomd

    from md_orderml import keys
    from md_orderml.engines.hoomd import OrderMLWriter
    from md_orderml.io import read_gsd_outputs
    from md_orderml.labelling import label_trajectory

    positions, box = helper.configuration(cells=(4, 4, 4), disorder=0.08)
    sim = helper.simulation(device, positions, box, kT=1.0)
    labels = OrderMLWriter(trigger=10, model=contrast_model_path)
    logger = hoomd.logging.Logger(categories=["particle", "sequence", "scalar", "strings"])
    logger.add(labels)
    logger.add(labels, quantities=["labelled_step", "probabilities"])
    path = tmp_path / "traj.gsd"
    gsd_writer = hoomd.write.GSD(filename=str(path), trigger=5, logger=logger, mode="wb")
    sim.operations.writers.extend([gsd_writer, labels])  # the GSD writer runs first
    sim.run(20)
    gsd_writer.flush()
    with gsd.hoomd.open(str(path)) as traj:
        frames = list(traj)
    assert [f.configuration.step for f in frames] == [5, 10, 15, 20]
    label_key = keys.GSD_LABEL[len("log/"):]
    assert label_key == "particles/md_orderml/label"
    for frame in frames:
        assert frame.log[label_key].shape == (frame.particles.N,)
        assert frame.log[keys.GSD_CONFIDENCE[len("log/"):]].dtype == np.float32
    # Labels follow the trigger: computed at 10, 20 (fresh), and on the first read (step 5).
    assert [int(f.log["md_orderml/labelled_step"][0]) for f in frames] == [5, 10, 10, 20]
    stored = [read_gsd_outputs(f)[0] for f in frames]
    assert list(read_gsd_outputs(frames[0])[1].class_names) == CLASSES
    assert stored[0]["probabilities"].shape == (len(positions), len(CLASSES))
    np.testing.assert_allclose(frames[-1].log["md_orderml/fractions"],
                               np.bincount(stored[-1]["label"], minlength=7) / len(positions))
    # `md-orderml label` on the frames HOOMD wrote gives the same labels on labelled steps.
    run = label_trajectory(path, tmp_path / "relabelled.gsd", model=str(contrast_model_path), progress=False)
    assert run is not None
    with gsd.hoomd.open(str(tmp_path / "relabelled.gsd")) as traj:
        relabelled = [read_gsd_outputs(f)[0] for f in traj]
    for k in (0, 1, 3):  # frames whose labels were computed on their own step
        assert len(np.unique(stored[k]["label"])) > 2
        np.testing.assert_array_equal(stored[k]["label"], relabelled[k]["label"])
        np.testing.assert_allclose(stored[k]["confidence"], relabelled[k]["confidence"], atol=CONF_TOL)
    assert labels.route == "serial"


@needs_hoomd
def test_table_prints_fractions(helper, device, untrained_model_path):
    import hoomd

    from md_orderml.engines.hoomd import OrderMLWriter

    positions, box = helper.configuration(cells=(4, 4, 4), disorder=0.0)
    sim = helper.simulation(device, positions, box)
    labels = OrderMLWriter(trigger=5, model=untrained_model_path)
    logger = hoomd.logging.Logger(categories=["scalar"])
    logger.add(labels)
    output = io.StringIO()
    table = hoomd.write.Table(trigger=5, logger=logger, output=output)
    sim.operations.writers.extend([labels, table])
    sim.run(10)
    header, *rows = output.getvalue().strip().splitlines()
    assert header.split() == [f"md_orderml.fraction_{name}" for name in CLASSES]
    assert len(rows) == 2
    for row in rows:
        assert sum(float(v) for v in row.split()) == pytest.approx(1.0, abs=1e-4)
    assert list(labels.fractions) == CLASSES
    assert labels.fraction_fcc == pytest.approx(labels.fractions["fcc"])
    np.testing.assert_array_equal(labels.fraction_sequence, list(labels.fractions.values()))
    assert labels.count_liquid == labels.counts[6]
    assert labels.label.shape == (len(positions),) and labels.label.dtype == np.int32


@needs_hoomd
def test_loggables_need_a_run_and_bad_arguments(helper, device, untrained_model_path):
    import hoomd

    from md_orderml.engines.hoomd import OrderMLWriter
    from md_orderml.engines.hoomd.domain import hoomd_ghost_reach
    from md_orderml.errors import InputError

    labels = OrderMLWriter(trigger=1, model=untrained_model_path)
    with pytest.raises(hoomd.error.DataAccessError):
        labels.label
    with pytest.raises(hoomd.error.DataAccessError):
        labels.fraction_fcc
    assert labels.class_names == CLASSES
    with pytest.raises(AttributeError):
        labels.fraction_nonsense
    with pytest.raises(InputError, match="ghosts="):
        OrderMLWriter(trigger=1, model=untrained_model_path, ghosts="everything")
    positions, box = helper.configuration(cells=(5, 5, 5))
    sim = helper.simulation(device, positions, box, rcut_base=3.3)
    sim.operations.writers.append(labels)
    sim.run(0)
    assert hoomd_ghost_reach(sim) == pytest.approx(3.3)
    sim.operations.integrator.forces[0].nlist.r_cut[("A", "A")] = 0.0
    assert hoomd_ghost_reach(sim) == pytest.approx(2.5)


@needs_hoomd
def test_crystal_and_melt(helper, device, default_model_path):
    from md_orderml.engines.hoomd import OrderMLWriter

    fractions = {}
    for name, kT, density in (("crystal", 0.3, 1.0), ("melt", 2.5, 0.85)):
        positions, box = helper.configuration(cells=(5, 5, 5), density=density, disorder=0.0, tilt=(0, 0, 0))
        sim = helper.simulation(device, positions, box, kT=kT, seed=4)
        labels = OrderMLWriter(trigger=500, model=default_model_path)
        sim.operations.writers.append(labels)
        sim.run(500)
        fractions[name] = labels.fractions
    assert fractions["crystal"]["fcc"] > 0.8, fractions
    assert fractions["melt"]["liquid"] > 0.8, fractions


@needs_hoomd
def test_2d_simulation_with_2d_model_equals_classifier(device, tmp_path, default_model_path):
    """A 2D HOOMD run (Lz = 0) labelled by a 2D two-type model equals OrderML on its snapshot."""
    import hoomd
    import torch

    from md_orderml.analysis import OrderML
    from md_orderml.engines.hoomd import OrderMLWriter
    from md_orderml.errors import InputError
    from md_orderml.frame import Box, Frame
    from md_orderml.research.glassy import glass_model as gm

    torch.manual_seed(7)
    model = gm.new_model(gm.CUTOFF, {"l_max": 4, "channels": 4, "power_channels": 4, "cubic_channels": 2,
                                     "cubic_degrees": [2], "features": 16, "n_layers": 2, "avg_neighbors": 12.6,
                                     "n_types": 2})
    with torch.no_grad():
        model.head[-1].weight.mul_(20.0)  # labels vary between particles
    path = gm.export_glass_model(model.eval(), tmp_path / "glass2d.pt", {"note": "untrained"})
    rng = np.random.default_rng(3)
    n, length = 300, float(np.sqrt(300 / 1.2))
    grid = int(np.ceil(np.sqrt(n)))
    xy = (np.stack(np.meshgrid(np.arange(grid), np.arange(grid)), -1).reshape(-1, 2)[:n] + 0.5) * length / grid
    positions = np.zeros((n, 3))
    positions[:, :2] = xy + rng.normal(0, 0.05, (n, 2)) - length / 2
    types = (rng.permutation(n) < int(0.35 * n)).astype(np.uint32)
    sim = hoomd.Simulation(device=device, seed=2)
    snap = hoomd.Snapshot(device.communicator)
    snap.configuration.box = [length, length, 0, 0, 0, 0]
    snap.particles.N = n
    snap.particles.types = ["A", "B"]
    snap.particles.typeid[:] = types
    snap.particles.position[:] = positions
    sim.create_state_from_snapshot(snap)
    nlist = hoomd.md.nlist.Cell(buffer=0.3)
    lj = hoomd.md.pair.LJ(nlist=nlist, default_r_cut=2.5)
    for pair, (eps, sig) in {("A", "A"): (1.0, 1.0), ("A", "B"): (1.5, 0.8), ("B", "B"): (0.5, 0.88)}.items():
        lj.params[pair] = dict(epsilon=eps, sigma=sig)
    sim.operations.integrator = hoomd.md.Integrator(
        dt=0.002, methods=[hoomd.md.methods.Langevin(filter=hoomd.filter.All(), kT=0.8)], forces=[lj])
    labels = OrderMLWriter(trigger=20, model=path)
    sim.operations.writers.append(labels)
    sim.run(20)
    assert sim.state.box.is2D
    after = sim.state.get_snapshot()
    frame = Frame(np.asarray(after.particles.position, np.float64), Box(length, length, 1.0, is2D=True),
                  np.asarray(after.particles.typeid, np.int32), ["A", "B"])
    expected = OrderML(str(path)).compute(frame)
    assert len(np.unique(expected.labels)) == 2
    np.testing.assert_array_equal(labels.label, expected.labels)
    np.testing.assert_allclose(labels.confidence, expected.confidence, atol=CONF_TOL)
    # a 3D model in the same 2D run is refused in one line
    sim.operations.writers.remove(labels)
    with pytest.raises(InputError, match="2D HOOMD simulations are not supported by this 3D model"):
        sim.operations.writers.append(OrderMLWriter(trigger=1, model=default_model_path))


@needs_hoomd
@pytest.mark.parametrize("kind", KINDS)
def test_complex_crystal_on_the_fly(helper, device, default_model_path, kind):
    """An A15 (sigma) crystal, 2.5 % noise, 5 NVE steps from rest: OrderML's labels on the last
    snapshot, >= 95 % a15 (sigma); the counts by class name (``count_a15``, ...) are the numbers labelled."""
    labels, snapshot = helper.on_the_fly(device, default_model_path, kind)
    assert labels.labelled_step == 5 and labels.route == "serial"
    assert_labelled_as(kind, labels.label, labels.class_names, helper.named_counts(labels),
                       helper.offline(default_model_path, snapshot).labels)
    assert labels.fractions[kind] >= 0.95


# ---------------------------------------------------------------- MPI


def one_and_two_ranks(helper, model, tmp_path, *kind) -> tuple:
    """The helper's results serially (in this process) and under ``mpirun -np 2``; skips
    without mpi4py or an MPI build of HOOMD-blue."""
    pytest.importorskip("mpi4py")
    import hoomd

    if not hoomd.version.mpi_enabled:
        pytest.skip("this HOOMD-blue build has no MPI (ENABLE_MPI off): two ranks would be two serial runs")
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    helper.main(str(model), str(one), *kind)
    proc = subprocess.run([mpirun(), "-np", "2", sys.executable, str(HELPER), str(model), str(two), *kind],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"),
                          cwd=HERE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(one)), dict(np.load(two))


@needs_hoomd
@pytest.mark.mpi
def test_same_labels_on_one_and_two_ranks(helper, contrast_model_path, tmp_path):
    """Ranks 1 and 2, HOOMD ghosts and gathered positions, all equal OrderML."""
    one, two = one_and_two_ranks(helper, contrast_model_path, tmp_path)
    assert int(one["ranks"]) == 1 and int(two["ranks"]) == 2
    reference = one["reference_label"]
    assert len(np.unique(reference)) >= 5
    np.testing.assert_array_equal(one["auto_wide_label"], reference)
    assert str(one["auto_wide_route"]) == "serial"
    for case, route in (("auto_wide", "hoomd"), ("gather", "gather"), ("auto_thin", "gather")):
        assert str(two[f"{case}_route"]) == route
        np.testing.assert_array_equal(two[f"{case}_label"], reference, err_msg=case)
        np.testing.assert_allclose(two[f"{case}_confidence"], one["reference_confidence"], atol=CONF_TOL)
    assert "nlist.r_cut[(a, b)] = 3.2" in str(two["hoomd_error"])


@needs_hoomd
@pytest.mark.mpi
def test_local_unit_model_on_one_and_two_ranks(helper, local_unit_model_path, tmp_path):
    """A local-unit model file: the writer sizes the reach by the model's own ghost_reach; ranks 1
    and 2 (HOOMD ghosts, gathered positions) give OrderML's labels."""
    one, two = one_and_two_ranks(helper, local_unit_model_path, tmp_path)
    reference = one["reference_label"]
    np.testing.assert_array_equal(one["auto_wide_label"], reference)
    for case in ("auto_wide", "gather", "auto_thin"):
        np.testing.assert_array_equal(two[f"{case}_label"], reference, err_msg=case)


@needs_hoomd
@pytest.mark.mpi
@pytest.mark.parametrize("kind", KINDS)
def test_complex_crystal_on_one_and_two_ranks(helper, default_model_path, tmp_path, kind):
    """The A15 (sigma) crystal in the shipped default on 1 and 2 ranks (HOOMD ghosts, gathered
    positions): OrderML's labels, >= 95 % a15 (sigma), counts by class name = numbers labelled."""
    import shutil

    from md_orderml.model_file import read_metadata

    model = shutil.copy(default_model_path, tmp_path / "default.pt")  # the same file in both processes
    one, two = one_and_two_ranks(helper, model, tmp_path, kind)
    names = read_metadata(model)["class_names"]
    reference = one["reference_label"]
    assert_labelled_as(kind, one["auto_wide_label"], names, one["auto_wide_named"], reference)
    for case in ("auto_wide", "gather", "auto_thin"):
        assert_labelled_as(kind, two[f"{case}_label"], names, two[f"{case}_named"], reference)
