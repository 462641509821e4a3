"""Propensity (regression) model files: export, invariance, ``md-orderml label``, LAMMPS and HOOMD on the fly.

A randomly initialised :class:`PropensityRegressor` with a tiny backbone is exported: the
exported file must reproduce the eager regressor whatever the weights, so no training
is needed (one short ``train-propensity`` run checks the command end to end).
"""

import json

import numpy as np
import pytest
import torch

from md_orderml import keys
from md_orderml.errors import InputError, ModelFileError
from md_orderml.frame import Box, Frame
from md_orderml.research.glassy.propensity import PropensityRegressor, make_graph
from md_orderml.research.glassy.propensity_model import KA_TYPE_MAP, export_propensity_model, value_names_for

from conftest import NO_HOOMD, hoomd_available, ka_simulation, synthetic_glassy_cache

TINY = {"l_max": 2, "channels": 4, "power_channels": 4, "cubic_channels": 2, "cubic_degrees": [2],
        "features": 16, "n_layers": 2, "n_types": 2, "avg_neighbors": 30.0}
CUTOFF = 1.8
NAMES = value_names_for([0.1, 1.0])
N = 160
RHO = 1.2


@pytest.fixture(scope="module")
def regressor() -> PropensityRegressor:
    torch.manual_seed(4)
    model = PropensityRegressor(CUTOFF, 2, TINY)
    with torch.no_grad():  # spread the outputs so comparisons are not trivially near a constant
        model.head[-1].weight.mul_(20.0)
    return model.eval()


@pytest.fixture(scope="module")
def model_path(regressor, tmp_path_factory):
    path = tmp_path_factory.mktemp("prop") / "propensity.pt"
    return export_propensity_model(regressor, path, NAMES, {"description": "test", "scale": [1.0, 2.0]},
                                   {"kind": "untrained"})


@pytest.fixture(scope="module")
def ka_config():
    """Random KA-like configuration at rho 1.2: positions in [0, L) (N, 3), types 0/1 (80:20), L."""
    rng = np.random.default_rng(7)
    length = (N / RHO) ** (1 / 3)
    types = np.zeros(N, dtype=np.int64)
    types[rng.permutation(N)[: N // 5]] = 1
    return rng.uniform(0, length, (N, 3)), types, length


def ka_frame(positions, types, length, step=0) -> Frame:
    return Frame(positions=positions, box=Box(length, length, length), types=types.astype(np.int32),
                 type_names=["1", "2"], step=step, source="ka")


def test_metadata_and_loader(model_path, capsys):
    from md_orderml.model_file import load_model, read_metadata

    meta = read_metadata(model_path)
    assert meta["task"] == "regression" and meta["format_version"] == keys.REGRESSION_FORMAT_VERSION
    assert meta["value_names"] == NAMES and meta["class_names"] == [] and meta["type_names"] == ["A", "B"]
    assert meta["outputs"] == ["values", "embedding"]
    assert meta["receptive_field"] == pytest.approx(2 * CUTOFF)
    mf = load_model(model_path)
    assert mf.task == "regression" and mf.is_regression and mf.value_names == NAMES

    from md_orderml.cli import main

    assert main(["info", "--model", str(model_path)]) == 0
    out = capsys.readouterr().out
    assert "regression" in out and "propensity_0p1_tau_alpha, propensity_1_tau_alpha" in out and "A, B" in out


def test_classic_model_is_still_classification_v1():
    from md_orderml.model_file import load_model

    mf = load_model("classic")
    assert mf.task == "classification" and not mf.is_regression and mf.value_names == []
    assert mf.metadata["format_version"] == 1 and "task" not in mf.metadata


def test_exported_equals_eager_regressor(regressor, model_path, ka_config):
    from md_orderml.analysis import OrderML

    positions, types, length = ka_config
    graph = make_graph(positions, types, length, np.zeros((N, 2)), CUTOFF)
    with torch.no_grad():
        eager = regressor(graph.types, graph.edge_index, graph.edge_vec).numpy()
    clf = OrderML(model_path, type_map=KA_TYPE_MAP).compute(ka_frame(positions, types, length))
    assert clf.values.shape == (N, 2) and clf.values.dtype == np.float32
    assert eager.std(axis=0).min() > 1e-2  # the test is not comparing constants
    np.testing.assert_allclose(clf.values, eager, rtol=1e-4, atol=1e-4)
    assert clf.embedding.shape[0] == N
    assert set(clf.means) == set(NAMES)


def test_values_rotation_permutation_invariant(model_path, ka_config):
    from md_orderml.analysis import OrderML

    positions, types, length = ka_config
    clf = OrderML(model_path, type_map=KA_TYPE_MAP)
    ref = clf.compute(ka_frame(positions, types, length)).values.copy()
    # rotate positions and lattice together (a general triclinic cell describing the same system)
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    cell = np.eye(3) * length @ q.T
    out = clf.compute_arrays(positions @ q.T, types, cell, (True,) * 3, np.ones(N, bool), (length ** 3 / N) ** (1 / 3))
    np.testing.assert_allclose(out[keys.VALUES], ref, rtol=1e-4, atol=1e-4)
    perm = np.random.default_rng(2).permutation(N)
    again = clf.compute(ka_frame(positions[perm], types[perm], length)).values
    np.testing.assert_allclose(again, ref[perm], rtol=1e-4, atol=1e-4)
    # types matter: swapping A and B changes the values
    swapped = clf.compute(ka_frame(positions, 1 - types, length)).values
    assert np.abs(swapped - ref).max() > 1e-3


def test_wrong_task_and_unknown_task_are_one_line_errors(model_path, ka_config, tmp_path):
    from md_orderml.analysis import OrderML
    from md_orderml.model_file import load_model

    positions, types, length = ka_config
    clf = OrderML(model_path, type_map=KA_TYPE_MAP).compute(ka_frame(positions, types, length))
    for attr in ("labels", "fractions", "probabilities"):
        with pytest.raises(InputError, match="regression model") as err:
            getattr(clf, attr)
        assert "\n" not in str(err.value)
    # a model file with an unknown task: rewrite the metadata record
    import zipfile

    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(model_path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith(keys.METADATA_FILE):
                meta = json.loads(data)
                meta["task"] = "segmentation"
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    with pytest.raises(ModelFileError, match="unknown model task 'segmentation'") as err:
        load_model(bad)
    assert "\n" not in str(err.value)


def test_bad_value_names_refused(regressor, tmp_path):
    with pytest.raises(ModelFileError, match="identifiers"):
        export_propensity_model(regressor, tmp_path / "x.pt", ["propensity 0.1", "b"])
    with pytest.raises(ModelFileError, match="2 outputs"):
        export_propensity_model(regressor, tmp_path / "x.pt", ["a"])
    assert not (tmp_path / "x.pt").exists()


def test_train_propensity_command_and_export(tmp_path, ka_config):
    """md-orderml research train-propensity --no-expert on a cached (synthetic) data set, then export of its checkpoint.

    (The box of N = 160 is too small for the hybrid's descriptors: tests/research/test_expert_hybrid.py.)"""
    from md_orderml.cli import main
    from md_orderml.model_file import load_model

    positions, types, length = ka_config
    overrides = synthetic_glassy_cache(tmp_path, positions, types, length, n_configs=3, n_times=5, seed=11, noise=0.1,
                                       meta={"config": {"temperature": 0.8}})
    out, ckpt = tmp_path / "prop.pt", tmp_path / "prop_ckpt.pt"
    assert main(["research", "train-propensity", "-o", str(out), "--data", overrides, "--cache-dir", str(tmp_path),
                 "--epochs", "2", "--test", "0", "--fractions", "0.5,1", "--checkpoint", str(ckpt),
                 "--architecture", json.dumps(TINY), "--quiet", "--no-expert"]) == 0
    mf = load_model(out)
    assert mf.value_names == ["propensity_0p5_tau_alpha", "propensity_1_tau_alpha"]
    assert mf.metadata["value_info"]["tau_alpha"] == 1.0 and len(mf.metadata["value_info"]["scale"]) == 2
    assert mf.metadata["training"]["loss"] == "pearson" and mf.metadata["training"]["loss_types"] == ["A", "B"]
    again = tmp_path / "again.pt"
    assert main(["research", "export-propensity", str(ckpt), "-o", str(again)]) == 0
    from md_orderml.analysis import OrderML

    frame = ka_frame(positions, types, length)
    a = OrderML(out, type_map=KA_TYPE_MAP).compute(frame).values
    b = OrderML(again, type_map=KA_TYPE_MAP).compute(frame).values
    np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def ka_gsd(ka_config, tmp_path_factory):
    """Two KA frames in a GSD file (types named A and B, as in the model)."""
    from md_orderml.io import OutputSpec, open_writer

    positions, types, length = ka_config
    path = tmp_path_factory.mktemp("gsd") / "ka.gsd"
    frames = []
    rng = np.random.default_rng(5)
    with open_writer(path, OutputSpec.classification(["x"])) as out:  # a plain trajectory (labels are overwritten later)
        for step in (0, 100):
            pos = (positions + rng.normal(0, 0.05, positions.shape)) % length
            frame = Frame(positions=pos, box=Box(length, length, length), types=types.astype(np.int32),
                          type_names=["A", "B"], step=step, source="ka")
            frames.append(frame)
            out.write(frame, {"label": np.zeros(N, int), "confidence": np.zeros(N)})
    return path, frames


def test_label_command_writes_values(model_path, ka_gsd, tmp_path):
    import csv

    import gsd.hoomd

    from md_orderml.analysis import OrderML
    from md_orderml.cli import main
    from md_orderml.io import open_trajectory, read_gsd_outputs

    path, frames = ka_gsd
    clf = OrderML(model_path)
    with open_trajectory(path) as traj:
        expected = [clf.compute(f).values.copy() for f in traj]
    out, means, dump, xyz = (tmp_path / n for n in ("out.gsd", "means.csv", "out.dump", "out.xyz"))
    assert main(["label", str(path), "-o", str(out), "--model", str(model_path), "--fractions", str(means),
                 "--quiet"]) == 0
    with gsd.hoomd.open(str(out)) as traj:
        assert len(traj) == 2
        for snap, exp in zip(traj, expected):
            got, spec = read_gsd_outputs(snap)
            assert spec.task == "regression" and list(spec.value_names) == NAMES and set(got) == {"values"}
            np.testing.assert_array_equal(got["values"], exp)
            assert "particles/md_orderml/label" not in snap.log
    rows = list(csv.DictReader(open(means)))
    assert [r["step"] for r in rows] == ["0", "100"]
    for row, exp in zip(rows, expected):
        for k, name in enumerate(NAMES):
            assert float(row[name]) == pytest.approx(exp[:, k].mean(), rel=1e-5)
    for target in (dump, xyz):
        assert main(["label", str(out), "-o", str(target), "--model", str(model_path), "--quiet"]) == 0
    text = dump.read_text()
    assert "orderml_propensity_0p1_tau_alpha orderml_propensity_1_tau_alpha" in text
    lines = text.splitlines()
    atoms = lines.index(next(line for line in lines if line.startswith("ITEM: ATOMS"))) + 1  # after the header items
    first = lines[atoms:atoms + N]
    cols = np.array([[float(v) for v in line.split()[-2:]] for line in first])
    np.testing.assert_allclose(cols, expected[0], rtol=1e-5, atol=1e-6)
    head = xyz.read_text().splitlines()[1]
    assert "orderml_propensity_0p1_tau_alpha:R:1" in head and 'orderml_values="' in head
    # relabelling the dump replaces the value columns (and reads the same values)
    from md_orderml.labelling import label_trajectory

    run = label_trajectory(dump, tmp_path / "again.dump", model=model_path, progress=False)
    assert run.task == "regression" and run.value_names == NAMES and run.summary_table.shape == (2, 2)
    np.testing.assert_allclose(run.summary_table[0], expected[0].mean(axis=0), rtol=1e-4, atol=1e-5)
    assert (tmp_path / "again.dump").read_text().count("orderml_propensity_0p1_tau_alpha") == 2


def test_label_command_refuses_probabilities_of_regression_model(model_path, ka_gsd, tmp_path, capsys):
    from md_orderml.cli import main

    path, _ = ka_gsd
    assert main(["label", str(path), "-o", str(tmp_path / "o.gsd"), "--model", str(model_path),
                 "--probabilities", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "regression model" in err and "probabilities" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.gsd").exists()


@pytest.mark.parametrize("mode", ["auto", "ghost"])
def test_lammps_compute_values_equal_label_command(model_path, ka_config, tmp_path, mode):
    """Per-atom d_orderml_<value> of the Python fix == md-orderml label on a dump of the same step."""
    pytest.importorskip("lammps")
    from md_orderml.cli import main
    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.research.glassy.data import KA_PAIRS
    from md_orderml.io import open_trajectory
    from md_orderml.mpi import import_lammps

    positions, types, length = ka_config
    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        pairs = "\n".join(f"pair_coeff {i} {j} {e} {s} {2.5 * s}" for (i, j), (e, s) in KA_PAIRS.items())
        lmp.commands_string(f"units lj\natom_modify map array\nregion box block 0 {length} 0 {length} 0 {length}\n"
                            f"create_box 2 box\nmass * 1.0\npair_style lj/cut 2.5\n{pairs}\n"
                            "pair_modify shift yes")
        lmp.create_atoms(N, list(range(1, N + 1)), [int(t) + 1 for t in types], positions.ravel().tolist())
        lmp.commands_string("group A type 1\nminimize 1e-3 1e-4 20 200\nreset_timestep 0\nvelocity all create 0.8 1\n"
                            "fix nve all nve\ntimestep 0.002")
        compute = OrderMLFix(lmp, model_path, every=5, type_map=KA_TYPE_MAP, mode=mode, group="A")
        assert compute.value_props == [f"d_orderml_{n}" for n in NAMES]
        with pytest.raises(InputError, match="regression model"):
            compute.fractions
        lmp.command("run 10")
        compute.check()
        dump = tmp_path / "ka.dump"
        lmp.command(f"write_dump all custom {dump} id type x y z modify format float %.17g")
        nlocal = lmp.extract_setting("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id", nelem=nlocal))
        order = np.argsort(ids)
        got = np.stack([np.array(lmp.numpy.extract_atom(p, nelem=nlocal))[order] for p in compute.value_props], 1)
        in_a = types[ids[order] - 1] == 0
        sums = [lmp.extract_fix("orderml", 0, 1, k) for k in range(3)]
    finally:
        lmp.close()
    out = tmp_path / "labelled.dump"
    assert main(["label", str(dump), "-o", str(out), "--model", str(model_path), "--quiet",
                 "--type-map", json.dumps(KA_TYPE_MAP)]) == 0
    with open_trajectory(out) as traj:
        record = next(iter(traj)).native
    file_ids = record.column("id").astype(int)
    expected = np.stack([record.column(f"orderml_{n}") for n in NAMES], 1)[np.argsort(file_ids)]
    assert (got[~in_a] == 0).all()  # outside the group
    np.testing.assert_allclose(got[in_a], expected[in_a], rtol=1e-4, atol=1e-4)
    assert sums[2] == in_a.sum()
    np.testing.assert_allclose(sums[:2], got[in_a].sum(axis=0), rtol=1e-6)
    assert compute.means[NAMES[0]] == pytest.approx(got[in_a, 0].mean(), rel=1e-6)


@pytest.mark.skipif(not hoomd_available(), reason=NO_HOOMD)
def test_hoomd_values_loggable_equal_label_command(model_path, ka_config, tmp_path):
    """HOOMD analyzer with a regression model: values in GSD == md-orderml label on the frames written."""
    import gsd.hoomd
    import hoomd

    from md_orderml.engines.hoomd import OrderMLWriter
    from md_orderml.io import read_gsd_outputs
    from md_orderml.labelling import label_trajectory

    positions, types, length = ka_config
    sim = ka_simulation(positions, types, length)
    # free flight (the random configuration overlaps; the box is too small for a KA neighbour list)
    sim.state.thermalize_particle_momenta(filter=hoomd.filter.All(), kT=0.8)
    method = hoomd.md.methods.ConstantVolume(filter=hoomd.filter.All())
    sim.operations.integrator = hoomd.md.Integrator(dt=0.005, methods=[method])
    labels = OrderMLWriter(trigger=5, model=model_path)
    logger = hoomd.logging.Logger(categories=["particle", "sequence", "scalar", "strings"])
    logger.add(labels)
    assert "values" in labels.loggables and "label" not in labels.loggables
    path = tmp_path / "traj.gsd"
    gsd_writer = hoomd.write.GSD(filename=str(path), trigger=5, logger=logger, mode="wb")
    sim.operations.writers.extend([labels, gsd_writer])
    sim.run(10)
    gsd_writer.flush()
    assert labels.values.shape == (N, 2) and labels.values.dtype == np.float32
    assert getattr(labels, f"mean_{NAMES[0]}") == pytest.approx(float(labels.values[:, 0].mean()), rel=1e-5)
    with pytest.raises(InputError, match="regression model"):
        labels.fractions
    with gsd.hoomd.open(str(path)) as traj:
        stored = [read_gsd_outputs(f)[0] for f in traj]
        assert list(read_gsd_outputs(traj[0])[1].value_names) == NAMES
    assert len(stored) == 2  # steps 5 and 10
    assert labels.means[NAMES[0]] == pytest.approx(float(labels.values[:, 0].mean()), rel=1e-5)
    label_trajectory(path, tmp_path / "relabelled.gsd", model=str(model_path), progress=False)
    with gsd.hoomd.open(str(tmp_path / "relabelled.gsd")) as traj:
        relabelled = [read_gsd_outputs(f)[0] for f in traj]
    for a, b in zip(stored, relabelled):
        assert a["values"].std(axis=0).min() > 1e-2
        np.testing.assert_allclose(a["values"], b["values"], rtol=1e-4, atol=1e-4)
