"""Hybrid propensity models: in-model expert descriptors, blend fit, export, engines.

:class:`ExpertFeatures` must equal the freud/numpy descriptors of the ridge baseline;
the exported hybrid must equal the eager one, be rotation/permutation invariant, carry
its larger receptive field, and give LAMMPS (ghost atoms only) the values of the
periodic computation. Networks are tiny and random: only the plumbing is tested here,
the accuracy is ``benchmarks/glassy.py``'s.
"""

import json

import numpy as np
import pytest
import torch

from md_orderml import keys
from md_orderml.frame import Box, Frame
from md_orderml.research.glassy.expert_torch import ExpertFeatures, HybridPropensityRegressor, build_hybrid, fit_blend
from md_orderml.research.glassy.propensity import PropensityRegressor, expert_features, make_graph, pearson
from md_orderml.research.glassy.propensity_model import KA_TYPE_MAP, export_propensity_model, value_names_for

from conftest import NO_HOOMD, hoomd_available, ka_simulation, mpirun, synthetic_glassy_cache

TINY = {"l_max": 2, "channels": 4, "power_channels": 4, "cubic_channels": 2, "cubic_degrees": [2],
        "features": 16, "n_layers": 2, "n_types": 2, "avg_neighbors": 30.0}
N = 400  # box 6.9 sigma: wider than twice the descriptors' 2.8 sigma
RHO = 1.2
NAMES = value_names_for([0.1, 1.0])


@pytest.fixture(scope="module")
def ka_config():
    """Jittered-lattice KA-like configuration at rho 1.2: positions (N, 3), types 80:20, box edge."""
    rng = np.random.default_rng(3)
    length = (N / RHO) ** (1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(8)] * 3, indexing="ij"), -1).reshape(-1, 3)[:N]
    positions = (grid + 0.5) * length / 8 + rng.normal(0, 0.08, (N, 3))
    types = np.zeros(N, dtype=np.int64)
    types[rng.permutation(N)[: N // 5]] = 1
    return positions % length, types, length


def unit_of(length):
    return length / N ** (1 / 3)


@pytest.fixture(scope="module")
def hybrid(ka_config):
    _, _, length = ka_config
    torch.manual_seed(2)
    network = PropensityRegressor(1.8, 2, TINY).eval()
    with torch.no_grad():
        network.head[-1].weight.mul_(20.0)
    model = HybridPropensityRegressor(network, ExpertFeatures(unit_of(length))).eval()
    rng = np.random.default_rng(4)
    f = model.features.n_features
    for t in (0, 1):
        model.set_ridge(t, rng.normal(size=f), rng.uniform(0.5, 2, f), rng.normal(0, 0.3, (f, 2)), rng.normal(size=2))
    model.blend.copy_(torch.tensor([[0.5, 0.7, 0.1], [1.5, -0.3, 0.2]]))
    return model


def frame_of(positions, types, length):
    return Frame(positions=positions, box=Box(length, length, length), types=types.astype(np.int32),
                 type_names=["1", "2"], source="ka")


def test_features_equal_the_ridge_baseline_descriptors(ka_config):
    positions, types, length = ka_config
    features = ExpertFeatures(unit_of(length))
    graph = make_graph(positions, types, length, np.zeros((N, 1)), features.cutoff)
    with torch.no_grad():
        got = features(graph.types, graph.edge_index, graph.edge_vec).numpy()
    expected = expert_features(positions, types, length)
    assert got.shape == expected.shape == (N, features.n_features)
    assert expected[:, -8:].std() > 0.01  # coarse-grained q_l vary
    np.testing.assert_allclose(got, expected, atol=2e-4, rtol=1e-4)
    scripted = torch.jit.script(features)
    np.testing.assert_array_equal(scripted(graph.types, graph.edge_index, graph.edge_vec).numpy(), got)


def test_blend_is_at_least_as_good_as_each_part_where_fitted():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(500, 2))
    net = target + rng.normal(0, 1.0, target.shape)
    ridge = target + rng.normal(0, 1.5, target.shape)
    coef = fit_blend(net, ridge, target)
    for s in range(2):
        blended = coef[s, 0] * net[:, s] + coef[s, 1] * ridge[:, s] + coef[s, 2]
        assert pearson(blended, target[:, s]) >= max(pearson(net[:, s], target[:, s]),
                                                     pearson(ridge[:, s], target[:, s]))
        assert coef[s, 0] > coef[s, 1] > 0  # the less noisy part weighs more


@pytest.fixture(scope="module")
def hybrid_path(hybrid, tmp_path_factory):
    path = tmp_path_factory.mktemp("hybrid") / "hybrid.pt"
    return export_propensity_model(hybrid, path, NAMES, {"description": "test"}, {"kind": "untrained"})


def test_exported_hybrid_equals_eager_and_is_invariant(hybrid, hybrid_path, ka_config):
    from md_orderml.analysis import OrderML
    from md_orderml.model_file import read_metadata

    positions, types, length = ka_config
    meta = read_metadata(hybrid_path)
    assert meta["cutoff"] == pytest.approx(2.8 / unit_of(length), rel=1e-6)
    assert meta["receptive_field"] == pytest.approx((2.8 + 2.0) / unit_of(length), rel=1e-6)
    assert meta["receptive_field"] > 2 * 1.8  # the descriptors reach farther than the network
    graph = make_graph(positions, types, length, np.zeros((N, 2)), hybrid.cutoff)
    with torch.no_grad():
        eager = hybrid(graph.types, graph.edge_index, graph.edge_vec).numpy()
        net, ridge, _ = hybrid.parts(graph.types, graph.edge_index, graph.edge_vec)
    assert net.std(0).min() > 1e-2 and ridge.std(0).min() > 1e-2  # both parts contribute
    clf = OrderML(hybrid_path, type_map=KA_TYPE_MAP)
    ref = clf.compute(frame_of(positions, types, length)).values.copy()
    np.testing.assert_allclose(ref, eager, rtol=1e-4, atol=1e-4)
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    out = clf.compute_arrays(positions @ q.T, types, np.eye(3) * length @ q.T, (True,) * 3, np.ones(N, bool),
                             unit_of(length))
    np.testing.assert_allclose(out[keys.VALUES], ref, rtol=1e-4, atol=1e-4)
    perm = np.random.default_rng(2).permutation(N)
    again = clf.compute(frame_of(positions[perm] + length, types[perm], length)).values  # shifted by a box image
    np.testing.assert_allclose(again, ref[perm], rtol=1e-4, atol=1e-4)


def test_build_hybrid_fits_ridge_per_type_and_blend_on_validation(ka_config):
    positions, types, length = ka_config
    rng = np.random.default_rng(5)
    pos = np.stack([(positions + rng.normal(0, 0.05, positions.shape)) % length for _ in range(4)])
    feats = np.stack([expert_features(p, types, length) for p in pos])
    # a target that the descriptors explain in part (type-dependent), plus noise
    w = rng.normal(size=(2, feats.shape[2]))
    signal = np.where(types[None, :] == 0, feats @ w[0], -(feats @ w[1]))
    target = (signal / signal.std() + rng.normal(0, 0.5, signal.shape))[..., None].repeat(2, axis=2)
    torch.manual_seed(0)
    network = PropensityRegressor(1.8, 2, TINY).eval()
    model, info = build_hybrid(network, pos, types, length, target, [0, 1], [2])
    assert set(info["alpha"]) == {0, 1} and np.shape(info["blend"]) == (2, 3)
    g = make_graph(pos[3], types, length, target[3], model.cutoff)
    with torch.no_grad():
        values = model(g.types, g.edge_index, g.edge_vec).numpy()
    assert pearson(values[types == 0, 0], target[3][types == 0, 0]) > 0.7  # held out: the ridge part works
    assert pearson(values[types == 1, 0], target[3][types == 1, 0]) > 0.5  # its own ridge for B


def test_lammps_ghost_values_equal_periodic_values(hybrid_path, ka_config):
    """LAMMPS Python fix in ghost mode (only ghost atoms as context) == the periodic computation."""
    pytest.importorskip("lammps")
    from md_orderml.analysis import OrderML
    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.mpi import import_lammps

    positions, types, length = ka_config
    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_string(f"units lj\natom_modify map array\nregion box block 0 {length} 0 {length} 0 {length}\n"
                            "create_box 2 box\nmass * 1.0\npair_style zero 1.0\npair_coeff * *")
        lmp.create_atoms(N, list(range(1, N + 1)), [int(t) + 1 for t in types], positions.ravel().tolist())
        compute = OrderMLFix(lmp, hybrid_path, every=1, type_map=KA_TYPE_MAP, mode="ghost")
        lmp.command("fix nve all nve")
        lmp.command("run 0")
        compute.check()
        nlocal = lmp.extract_setting("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id", nelem=nlocal))
        x = np.array(lmp.numpy.extract_atom("x", nelem=nlocal))
        got = np.stack([np.array(lmp.numpy.extract_atom(p, nelem=nlocal)) for p in compute.value_props], 1)
    finally:
        lmp.close()
    expected = OrderML(hybrid_path, type_map=KA_TYPE_MAP).compute(
        frame_of(x % length, types[ids - 1], length)).values
    assert expected.std(0).min() > 1e-2
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.mpi
def test_lammps_values_identical_on_one_two_and_four_ranks(hybrid_path, ka_config, tmp_path):
    """Ghost mode under mpirun: every rank count gives the periodic computation's values."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("lammps")
    pytest.importorskip("mpi4py")

    from md_orderml.analysis import OrderML

    positions, types, length = ka_config
    config = tmp_path / "config.npz"
    np.savez(config, positions=positions, types=types, length=length)
    expected = OrderML(hybrid_path, type_map=KA_TYPE_MAP).compute(
        frame_of(positions, types, length)).values
    helper = Path(__file__).resolve().parent / "lammps_values_helper.py"
    for ranks in (1, 2, 4):
        out = tmp_path / f"values_{ranks}.npz"
        cmd = [sys.executable, str(helper), str(hybrid_path), str(config), str(out)]
        if ranks > 1:
            cmd = [mpirun(), "-np", str(ranks)] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert proc.returncode == 0, proc.stderr[-3000:]
        got = np.load(out)
        np.testing.assert_array_equal(got["id"], np.arange(1, N + 1))
        np.testing.assert_allclose(got["values"], expected, rtol=1e-4, atol=1e-4, err_msg=f"{ranks} ranks")


@pytest.mark.skipif(not hoomd_available(), reason=NO_HOOMD)
def test_hoomd_analyzer_values_equal_periodic_values(hybrid_path, ka_config):
    """The HOOMD analyzer with a hybrid file logs the values of the periodic computation (tag order)."""
    import hoomd

    from md_orderml.analysis import OrderML
    from md_orderml.engines.hoomd import OrderMLWriter

    positions, types, length = ka_config
    sim = ka_simulation(positions, types, length)
    # no forces and zero velocities: the configuration stays put for the one step run
    sim.operations.integrator = hoomd.md.Integrator(dt=0.005, methods=[
        hoomd.md.methods.ConstantVolume(filter=hoomd.filter.All())])
    labels = OrderMLWriter(trigger=1, model=hybrid_path)
    sim.operations.writers.append(labels)
    sim.run(1)
    expected = OrderML(hybrid_path).compute(
        Frame(positions=positions, box=Box(length, length, length), types=types.astype(np.int32),
              type_names=["A", "B"])).values
    assert labels.values.shape == (N, 2) and expected.std(0).min() > 1e-2
    np.testing.assert_allclose(labels.values, expected, rtol=1e-4, atol=1e-4)


def test_train_propensity_hybrid_checkpoint_round_trip(tmp_path, ka_config):
    from md_orderml.analysis import OrderML
    from md_orderml.cli import main
    from md_orderml.model_file import read_metadata

    positions, types, length = ka_config
    overrides = synthetic_glassy_cache(tmp_path, positions, types, length, n_configs=4, n_times=4, seed=12, noise=0.05)
    out, ckpt, again = tmp_path / "h.pt", tmp_path / "h_ckpt.pt", tmp_path / "again.pt"
    assert main(["research", "train-propensity", "-o", str(out), "--data", overrides, "--cache-dir", str(tmp_path),
                 "--epochs", "1", "--test", "1", "--checkpoint", str(ckpt), "--architecture", json.dumps(TINY),
                 "--quiet"]) == 0
    meta = read_metadata(out)
    assert "expert_features" in meta["architecture"] and np.shape(meta["training"]["expert_ridge"]["blend"]) == (3, 3)
    assert main(["research", "export-propensity", str(ckpt), "-o", str(again)]) == 0
    frame = frame_of(positions, types, length)
    a = OrderML(out, type_map=KA_TYPE_MAP).compute(frame).values
    b = OrderML(again, type_map=KA_TYPE_MAP).compute(frame).values
    np.testing.assert_array_equal(a, b)
