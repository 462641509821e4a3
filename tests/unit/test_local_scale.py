"""The local length unit (issue 20): exact invariances, environment-only labels, the vapour
cap, export fidelity, training, and a neighbour search whose cost ignores empty space."""

import dataclasses
import itertools
import json

import numpy as np
import pytest
import torch

from md_orderml import keys, structures
from md_orderml.directed_neighbors import directed_radius_graph
from md_orderml.local_scale import (CAP_FACTOR, SCALE_RANK, UNIT_DISTANCE, _model_geometry, local_length_scales,
                                    local_receptive_field, local_scales_and_graph, typical_scale)
from md_orderml.model_file import build_metadata, load_model, read_metadata, save_model
from md_orderml.neighbors import _search_basis, radius_graph_shifts
from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.labeler import StructureLabeler

CLASSES = ["fcc", "bcc", "hcp", "sc", "cd", "hd", "liquid"]
LIQUID = CLASSES.index("liquid")
ALL = (True, True, True)
OPEN = (False, False, False)


def local_labeler(isolation_radius: float = 0.0) -> StructureLabeler:
    """An untrained local-unit labeler whose network never says liquid (so a liquid label is the cap's)."""
    torch.manual_seed(3)
    model = StructureLabeler(EquivariantBackbone(1.6, {"features": 32, "channels": 8}), len(CLASSES),
                             length_unit="local", vapour_class=LIQUID)
    with torch.no_grad():
        model.head[-1].bias[LIQUID] = -100.0
    if isolation_radius > 0:
        model.set_isolated_crystal_rule(CLASSES, CLASSES[:-1], isolation_radius, 1)
    return model.eval()


@pytest.fixture(scope="module")
def eager():
    return local_labeler()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, eager):
    path = tmp_path_factory.mktemp("local") / "local.pt"
    save_model(eager, build_metadata(CLASSES, 1.6, 2, {"family": "test"}, {"kind": "untrained"},
                                     receptive_field=eager.receptive_field(), length_unit="local"), path)
    return path


@pytest.fixture(scope="module")
def scripted(model_path):
    return load_model(model_path).module


def run(module, positions, cell, pbc=ALL, owned=None, hint=1.0):
    n = len(positions)
    owned = np.ones(n, bool) if owned is None else owned
    with torch.inference_mode():
        out = module(torch.as_tensor(positions, dtype=torch.float64), torch.zeros(n, dtype=torch.int64),
                     torch.as_tensor(cell, dtype=torch.float64), torch.tensor(pbc), torch.as_tensor(owned), hint)
    return {k: v.numpy() for k, v in out.items()}


def scales_of(positions, cell, pbc=ALL):
    scales, capped = local_length_scales(torch.as_tensor(positions, dtype=torch.float64),
                                         torch.as_tensor(cell, dtype=torch.float64), torch.tensor(pbc), 1.0)
    return scales.numpy(), capped.numpy()


def fcc_block(cells, noise=0.05, seed=0):
    """A noisy fcc crystal of cells^3 cubic cells, nearest-neighbour distance 1, and its periodic cell."""
    a = np.sqrt(2.0)
    grid = np.array(list(itertools.product(range(cells), repeat=3)), float)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    pos = ((grid[:, None] + basis[None]).reshape(-1, 3)) * a
    return pos + np.random.default_rng(seed).normal(0, noise, pos.shape), np.eye(3) * a * cells


def brute_kth_distance(pos, cell, pbc, rank=SCALE_RANK, reps=4):
    shifts = np.array(list(itertools.product(*[range(-reps, reps + 1) if p else [0] for p in pbc])))
    d = np.linalg.norm(pos[None, :, None] + (shifts @ cell)[None, None] - pos[:, None, None], axis=-1)
    zero = np.all(shifts == 0, axis=1)
    d[np.arange(len(pos)), np.arange(len(pos))] = np.where(zero, np.inf, d[np.arange(len(pos)), np.arange(len(pos))])
    return np.sort(d.reshape(len(pos), -1), axis=1)[:, min(rank, d[0].size - 1) - 1], d, shifts


def test_exact_invariances_of_the_local_unit_model(scripted):
    s = structures.crystal("bcc", noise=0.08, min_width=5.0, seed=2)
    ref = run(scripted, s.positions, s.cell)
    rng = np.random.default_rng(0)
    # uniform rescaling (the hint stays, so it cannot be the unit) and another hint: exact
    for factor, hint in ((3.615, 1.0), (0.37, 1.0), (1.0, 250.0)):
        out = run(scripted, s.positions * factor, s.cell * factor, hint=hint)
        np.testing.assert_array_equal(out[keys.LABEL], ref[keys.LABEL])
        np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES], atol=1e-6, rtol=0)
        np.testing.assert_allclose(out[keys.EMBEDDING], ref[keys.EMBEDDING], atol=1e-5, rtol=0)
    rot = structures.random_rotation(rng)
    perm = rng.permutation(len(s.positions))
    images = rng.integers(-3, 4, size=(len(s.positions), 3))
    for pos, cell, order in ((s.positions @ rot.T, s.cell @ rot.T, slice(None)),
                             (s.positions + np.array([3.3, -1.7, 11.1]), s.cell, slice(None)),
                             (s.positions[perm], s.cell, perm),
                             (s.positions + images @ s.cell, s.cell, slice(None))):
        out = run(scripted, pos, cell)
        np.testing.assert_array_equal(out[keys.LABEL], ref[keys.LABEL][order])
        np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES][order], atol=2e-5)


def test_exported_equals_eager_and_exports_the_reach(eager, scripted, model_path):
    s = structures.crystal("hcp", noise=0.06, min_width=5.0, seed=5)
    a, b = run(scripted, s.positions, s.cell), run(eager, s.positions, s.cell)
    for key in keys.OUTPUT_KEYS:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6, rtol=0)
    args = (torch.as_tensor(s.positions), torch.as_tensor(s.cell), torch.tensor(ALL), 1.0)
    torch.testing.assert_close(scripted.local_scales(*args), eager.local_scales(*args), rtol=0, atol=0)
    rf = local_receptive_field(1.6, 2)
    assert scripted.receptive_field() == eager.receptive_field() == rf == 3.2
    assert scripted.ghost_reach(*args) == pytest.approx(rf * float(eager.local_scales(*args).max()), rel=1e-12)
    meta = read_metadata(model_path)
    assert meta["length_unit"] == "local" and meta["receptive_field"] == rf
    assert meta["local_length_scale"]["rank"] == SCALE_RANK and meta["local_length_scale"]["cap_factor"] == CAP_FACTOR
    assert load_model(model_path).length_unit == "local"


def test_old_files_are_global(untrained_model_path):
    meta = read_metadata(untrained_model_path)
    assert "length_unit" not in meta and load_model(untrained_model_path).length_unit == "global"
    module = load_model(untrained_model_path).module
    pos = torch.rand(20, 3, dtype=torch.float64) * 5
    assert module.ghost_reach(pos, torch.eye(3, dtype=torch.float64) * 5, torch.tensor(ALL), 1.5) == \
        pytest.approx(3.2 * 1.5)
    with pytest.raises(ValueError, match="vapour_class"):
        StructureLabeler(EquivariantBackbone(1.6, {"features": 8, "channels": 4}), 7, length_unit="local")


def test_crystal_next_to_a_less_dense_region_keeps_its_bulk_scales_and_labels(scripted):
    """A crystal slab next to a region 30 % less dense: interior crystal particles see exactly the bulk crystal."""
    crystal, bulk_cell = fcc_block(6, seed=1)  # periodic bulk crystal, 864 particles, 8.49 wide
    width = bulk_cell[0, 0]
    rng = np.random.default_rng(2)
    n_gas = int(0.7 * len(crystal))  # the same volume at 70 % of the density
    gas = rng.uniform(0, 1, (n_gas, 3)) * width + np.array([0, 0, width])
    mixed = np.concatenate([crystal, gas])
    mixed_cell = np.diag([width, width, 2 * width])
    bulk_scales, _ = scales_of(crystal, bulk_cell)
    mixed_scales, capped = scales_of(mixed, mixed_cell)
    assert not capped.any()
    z = crystal[:, 2]
    deep = (z > 2.5) & (z < width - 2.5)  # 6th neighbours (~1.0) and bonds lie inside the crystal
    assert deep.sum() > 200
    np.testing.assert_allclose(mixed_scales[:len(crystal)][deep], bulk_scales[deep], rtol=1e-13, atol=0)
    global_ratio = (np.linalg.det(mixed_cell) / len(mixed)) ** (1 / 3) / (np.linalg.det(bulk_cell) / len(crystal)) ** (1 / 3)
    assert global_ratio > 1.05  # the global unit would have moved by more than the 5 % the models tolerate
    # labels: particles beyond the receptive field (3.2 local units, ~3.0) from both interfaces
    far = (z > 3.6) & (z < width - 3.6)
    ref = run(scripted, crystal, bulk_cell, hint=(np.linalg.det(bulk_cell) / len(crystal)) ** (1 / 3))
    out = run(scripted, mixed, mixed_cell, hint=(np.linalg.det(mixed_cell) / len(mixed)) ** (1 / 3))  # as engines pass
    assert far.sum() > 50
    np.testing.assert_array_equal(out[keys.LABEL][:len(crystal)][far], ref[keys.LABEL][far])
    np.testing.assert_allclose(out[keys.PROBABILITIES][:len(crystal)][far], ref[keys.PROBABILITIES][far], atol=2e-5)


def test_vapour_atoms_are_capped_by_the_rule_and_labelled_liquid(scripted):
    crystal, cell = fcc_block(5, seed=3)
    width = cell[0, 0]
    vapour = np.array([[width / 2, width / 2, width + 30.0],  # far from everything
                       [width / 2, width / 2, -12.0],
                       [width / 2 + 40.0, -25.0, width + 15.0],  # (x, y periodic)
                       [width / 2, width / 2, width + 0.9]])  # an adatom-like atom just above the surface
    pos = np.concatenate([crystal, vapour])
    pbc = (True, True, False)  # a slab, open along z
    scales, capped = scales_of(pos, cell, pbc)
    d6, _, _ = brute_kth_distance(pos, cell, pbc, reps=3)
    limit = CAP_FACTOR * np.sort(d6)[(len(pos) + 1) // 2 - 1]  # the documented rule: 3 x the lower median
    np.testing.assert_array_equal(capped, d6 > limit)
    np.testing.assert_array_equal(capped[-4:], [True, True, True, False])
    np.testing.assert_allclose(scales, np.minimum(d6, limit) / UNIT_DISTANCE, rtol=1e-12)
    out = run(scripted, pos, cell, pbc)
    assert (out[keys.LABEL][capped] == LIQUID).all()
    assert (out[keys.LABEL][~capped] != LIQUID).all()  # this network never says liquid by itself
    np.testing.assert_allclose(out[keys.CONFIDENCE], out[keys.PROBABILITIES][np.arange(len(pos)), out[keys.LABEL]])
    args = (torch.as_tensor(pos), torch.as_tensor(cell), torch.tensor(pbc), 1.0)
    assert scripted.ghost_reach(*args) == pytest.approx(3.2 * limit / UNIT_DISTANCE)


def test_local_scales_and_bonds_match_brute_force():
    """Random periodic, slab, wire and open systems with vapour atoms; any speed estimate gives the same."""
    rng = np.random.default_rng(1)
    for trial in range(40):
        n = int(rng.integers(2, 30))
        pbc = tuple(bool(b) for b in rng.integers(0, 2, 3))
        cell = (np.diag(rng.uniform(2, 5, 3)) + rng.normal(0, 0.3, (3, 3))) * np.array(pbc)[:, None]
        pos = rng.uniform(0, 4, (n, 3))
        if rng.random() < 0.3:
            pos[0] += 30.0
        if any(pbc):  # wrap along periodic rows so that a few images suffice for the brute force
            basis = _search_basis(torch.as_tensor(cell), list(pbc)).numpy()
            frac = pos @ np.linalg.inv(basis)
            pos = (frac - np.floor(frac) * np.array(pbc)) @ basis
        cutoff = float(rng.uniform(0.8, 2.0))
        x64, c64, pl = _model_geometry(torch.as_tensor(pos), torch.as_tensor(cell), torch.tensor(pbc))
        typical = typical_scale(x64, c64, pl, SCALE_RANK, UNIT_DISTANCE, CAP_FACTOR) * float(rng.choice([0.2, 1, 5]))
        scales, capped, ei, vec = local_scales_and_graph(x64, c64, pl, cutoff, 1.0, SCALE_RANK, UNIT_DISTANCE,
                                                         CAP_FACTOR, typical, True)
        d6, d, shifts = brute_kth_distance(pos, cell, pbc, rank=SCALE_RANK if any(pbc) else min(SCALE_RANK, n - 1),
                                           reps=7)
        limit = CAP_FACTOR * np.sort(d6)[(n + 1) // 2 - 1]
        np.testing.assert_allclose(scales.numpy(), np.minimum(d6, limit) / UNIT_DISTANCE, rtol=1e-12)
        np.testing.assert_array_equal(capped.numpy(), d6 > limit)
        radius = cutoff * np.minimum(d6, limit) / UNIT_DISTANCE
        i, j, k = np.nonzero(d < radius[:, None, None])
        expected = {(a, b) + tuple(shifts[c]) for a, b, c in zip(i, j, k)}
        got_shifts = np.rint((vec.numpy() - (pos[ei[1]] - pos[ei[0]])) @ np.linalg.pinv(cell)).astype(int) \
            if any(pbc) else np.zeros((ei.shape[1], 3), int)
        got = {(a, b) + tuple(s) for a, b, s in zip(ei[0].tolist(), ei[1].tolist(), got_shifts)}
        assert got == expected, (trial, pbc)
        assert (np.diff(ei[0].numpy()) >= 0).all()


def test_open_cluster_interior_is_labelled_like_periodic_bulk(scripted):
    bulk, cell = fcc_block(9, seed=4)  # 2916 particles, 12.7 wide
    ref = run(scripted, bulk, cell)
    scales, _ = scales_of(bulk, cell, OPEN)
    reach = local_receptive_field(1.6, 2) * scales.max()  # the cluster's own largest scale (its corners)
    depth = np.minimum(bulk, cell[0, 0] - bulk).min(axis=1)  # distance from the cluster's faces
    interior = depth > reach + 0.2
    assert interior.sum() > 30
    for pbc, box in ((OPEN, np.eye(3) * 1e4), (ALL, np.eye(3) * cell[0, 0] * 10)):  # open, and periodic vacuum
        out = run(scripted, bulk + 3.0, box, pbc, hint=50.0)
        np.testing.assert_array_equal(out[keys.LABEL][interior], ref[keys.LABEL][interior])
        np.testing.assert_allclose(out[keys.PROBABILITIES][interior], ref[keys.PROBABILITIES][interior], atol=2e-5)
    # what a global-unit model would see instead: the hint (V/N)^(1/3) of the vacuum box is 10x too long
    assert (np.linalg.det(np.eye(3) * cell[0, 0] * 10) / len(bulk)) ** (1 / 3) > 9 * scales.mean()


def test_hashed_search_equals_brute_force_on_periodic_boxes():
    rng = np.random.default_rng(7)
    for trial in range(6):
        cell = np.diag(rng.uniform(3, 6, 3)) + np.triu(rng.normal(0, 0.5, (3, 3)), 1)
        pos = rng.uniform(0, 1, (int(rng.integers(5, 80)), 3)) @ cell
        rc = float(rng.uniform(0.7, 2.5))
        ei, sh, vec = radius_graph_shifts(torch.as_tensor(pos), torch.as_tensor(cell), torch.tensor(ALL), rc)
        _, d, shifts = brute_kth_distance(pos, cell, ALL, reps=3)
        i, j, k = np.nonzero(d < rc)
        expected = {(a, b) + tuple(shifts[c]) for a, b, c in zip(i, j, k)}
        got = {tuple(row) for row in np.concatenate([ei.numpy().T, sh.numpy()], axis=1).tolist()}
        assert got == expected


def _resident_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        return next(float(line.split()[1]) / 1024 for line in fh if line.startswith(field + ":"))


def _peak_above_start(fn) -> float:
    """MB of resident memory that ``fn()`` added at its peak (Linux: VmHWM after resetting it)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        start = _resident_mb("VmRSS")
    except OSError:
        pytest.skip("resetting the peak resident size needs Linux /proc/self/clear_refs")
    fn()
    return _resident_mb("VmHWM") - start


def test_search_does_not_allocate_per_empty_cell(scripted):
    """A cluster in a periodic box 10^6 times its volume: a grid of cells of the cutoff would need
    ~1e9 cells (8 GB per int64 array); the hashed cells take a few MB."""
    cluster, cell = fcc_block(8)  # 2048 particles, 11.3 wide
    box = np.eye(3) * cell[0, 0] * 100.0
    pos = torch.as_tensor(cluster + box[0, 0] / 3)
    for pbc in (ALL, OPEN):
        added = _peak_above_start(lambda: radius_graph_shifts(pos, torch.as_tensor(box), torch.tensor(pbc), 1.5))
        assert added < 150, (pbc, added)
        added = _peak_above_start(lambda: directed_radius_graph(pos, torch.as_tensor(box) * pbc[0], list(pbc),
                                                                torch.full((len(pos),), 1.5, dtype=torch.float64),
                                                                torch.arange(len(pos)), 1.5))
        assert added < 150, (pbc, added)
    n = len(cluster)
    added = _peak_above_start(lambda: run(scripted, cluster + box[0, 0] / 3, box, ALL, hint=40.0))
    assert added < 300, added
    # two clusters 10^7 apart in an open system: the keys are coarsened, nothing overflows
    far = np.concatenate([cluster, cluster + 1e7])
    out = run(scripted, far, np.zeros((3, 3)), OPEN)
    ref = run(scripted, cluster, np.zeros((3, 3)), OPEN)
    np.testing.assert_allclose(out[keys.PROBABILITIES][:n], ref[keys.PROBABILITIES], atol=2e-5)
    np.testing.assert_allclose(out[keys.PROBABILITIES][n:], ref[keys.PROBABILITIES], atol=2e-5)


def test_orderml_labels_a_cluster_in_vacuum(model_path):
    from md_orderml.analysis import OrderML
    from md_orderml.frame import Box, Frame

    cluster, cell = fcc_block(5)
    big = Box(300.0, 300.0, 300.0, periodic=(False, False, False))
    labeler = OrderML(model_path).compute(Frame(positions=cluster + 100.0, box=big))
    assert len(labeler.labels) == len(cluster) and (labeler.labels != LIQUID).all()
    slab = Box(cell[0, 0], cell[0, 0], 7000.0)  # periodic slab with 7,000 of vacuum: not refused
    labeler.compute(Frame(positions=cluster, box=slab))
    assert (labeler.labels != LIQUID).all()


def test_train_local_unit_exports_a_local_model(tmp_path):
    from md_orderml.cli import main
    from md_orderml.training.data import structure_to_graph

    s = structures.crystal("sc", noise=0.05, min_width=4.0, seed=1)
    sample = structure_to_graph(s, 3, 1.6, jitter=1.3, length_unit="local")
    again = structure_to_graph(dataclasses.replace(s, positions=s.positions * 2.0, cell=s.cell * 2.0), 3, 1.6,
                               length_unit="local")  # the jitter and the size are no unit any more
    torch.testing.assert_close(sample.edge_vec, again.edge_vec, rtol=0, atol=1e-6)
    model = tmp_path / "model.pt"
    assert main(["train", "-o", str(model), "--run-dir", str(tmp_path / "run"), "--per-class", "1",
                 "--val-per-class", "1", "--batch-size", "4", "--quiet", "--threads", "1", "--epochs", "1",
                 "--length-unit", "local", "--architecture", json.dumps({"features": 8, "channels": 4, "l_max": 2})]) == 0
    meta = read_metadata(model)
    assert meta["length_unit"] == "local" and meta["training"]["config"]["length_unit"] == "local"
    loaded = load_model(model)
    assert loaded.module.local_unit and loaded.module.vapour_class == meta["class_names"].index("liquid")
    out = run(loaded.module, s.positions, s.cell)
    assert out[keys.LABEL].shape == (len(s.positions),)


def test_owned_with_ghosts_within_ghost_reach_equals_periodic(scripted):
    """What an MPI rank sees: half the box plus ghosts out to ``ghost_reach``, no periodicity."""
    s = structures.crystal("bcc", noise=0.06, min_width=9.0, seed=4)
    ref = run(scripted, s.positions, s.cell)
    reach = scripted.ghost_reach(torch.as_tensor(s.positions), torch.as_tensor(s.cell), torch.tensor(ALL), 1.0)
    assert reach == pytest.approx(3.2 * scales_of(s.positions, s.cell)[0].max())
    frac = s.positions @ np.linalg.inv(s.cell)
    frac -= np.floor(frac)
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    images = (frac[None] + shifts[:, None]).reshape(-1, 3)
    index = np.tile(np.arange(len(frac)), len(shifts))
    original = np.repeat((shifts == 0).all(1), len(frac))
    width = 1.0 / np.linalg.norm(np.linalg.inv(s.cell)[:, 0])  # perpendicular width along a1
    lo, hi = -1.02 * reach / width, 0.5 + 1.02 * reach / width
    keep = (images[:, 0] > lo) & (images[:, 0] < hi)
    owned = original[keep] & (frac[index[keep], 0] < 0.5)
    out = run(scripted, images[keep] @ s.cell, np.zeros((3, 3)), OPEN, owned)
    np.testing.assert_array_equal(out[keys.LABEL], ref[keys.LABEL][index[keep][owned]])
    np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES][index[keep][owned]], atol=2e-5)
    # a ghost layer much thinner than the reach changes the labels near the domain faces
    thin = (images[:, 0] > -0.3 * reach / width) & (images[:, 0] < 0.5 + 0.3 * reach / width)
    owned_thin = original[thin] & (frac[index[thin], 0] < 0.5)
    out = run(scripted, images[thin] @ s.cell, np.zeros((3, 3)), OPEN, owned_thin)
    assert np.abs(out[keys.PROBABILITIES] - ref[keys.PROBABILITIES][index[thin][owned_thin]]).max() > 1e-4


def test_model_failures_are_one_line_input_errors(model_path):
    from md_orderml.analysis import OrderML, model_failure_message
    from md_orderml.errors import InputError

    labeler = OrderML(model_path)
    pos = np.random.default_rng(0).uniform(0, 5, (50, 3))
    pos[7] = np.nan
    with pytest.raises(InputError) as err:
        labeler.compute_arrays(pos, np.zeros(50, int), np.eye(3) * 5, ALL, np.ones(50, bool), 1.0)
    assert str(err.value) == "the model failed on 50 particles: radius_graph: positions contain NaN or inf"
    message = model_failure_message(RuntimeError("[enforce fail at alloc_cpu.cpp:116] . DefaultCPUAllocator: can't "
                                                 "allocate memory: you tried to allocate 98304000000 bytes."), 10 ** 7)
    assert "out of memory on 10000000 particles" in message and len(message.splitlines()) == 1


def bound_cases():
    """Fully periodic boxes: (name, positions (N, 3), cell (3, 3)), crystals, gas, a droplet in vapour, two densities."""
    rng = np.random.default_rng(5)
    crystal = structures.crystal("fcc", noise=0.05, min_width=8.0, seed=1)
    yield "fcc", crystal.positions, crystal.cell
    sc = structures.crystal("sc", noise=0.0, min_width=8.0, seed=0)  # every d_i equal: the median is the maximum
    yield "sc", sc.positions, sc.cell
    yield "gas", rng.uniform(0.0, 12.0, (2000, 3)), np.eye(3) * 12.0
    droplet = rng.normal(6.0, 0.6, (1800, 3))
    vapour = rng.uniform(0.0, 30.0, (200, 3))
    yield "droplet+vapour", np.concatenate([droplet, vapour]), np.eye(3) * 30.0
    dense, sparse = rng.uniform(0.0, [10.0, 20.0, 20.0], (3000, 3)), rng.uniform([10.0, 0, 0], 20.0, (300, 3))
    yield "two densities", np.concatenate([dense, sparse]), np.eye(3) * 20.0
    yield "slab box", rng.uniform(0.0, [40.0, 40.0, 4.0], (3000, 3)), np.diag([40.0, 40.0, 4.0])


@pytest.mark.parametrize("case", list(bound_cases()), ids=lambda c: c[0])
def test_largest_scale_bound_holds(case):
    """The N-and-V bound of the largest capped scale (used to skip the width check's scales) is never below it."""
    from md_orderml.local_scale import largest_scale_bound

    _, positions, cell = case
    scales, _ = local_length_scales(torch.as_tensor(positions), torch.as_tensor(cell, dtype=torch.float64),
                                    torch.tensor(ALL), 1.0)
    volume, n = abs(np.linalg.det(cell)), len(positions)
    widths = volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    bound = largest_scale_bound(volume, n, float(widths.min()))
    assert float(scales.max()) <= bound
    assert np.isfinite(bound) == (widths.min() > (12 * SCALE_RANK / np.pi * volume / n) ** (1 / 3))


def test_width_check_of_a_wide_box_uses_the_bound():
    """A box the bound clears is labelled as before without computing the scales twice (narrow boxes:
    the exact scales, tests of the refusal elsewhere)."""
    from md_orderml import OrderML

    big = structures.crystal("fcc", noise=0.03, min_width=26.0, seed=2)  # over 2 x 1.6 x 7.6 units
    clf = OrderML("default")
    frame = big.to_frame()
    unit = (frame.box.volume / frame.N) ** (1 / 3)
    assert clf._largest_local_scale(frame, ALL, unit) >= 7.0 * unit  # the bound, not the scales (about 1)
    assert clf.compute((big.cell, big.positions)).fractions["fcc"] > 0.99


def test_width_check_unit_of_serial_engines():
    """Serial engines' width-check unit: the exact reach unit, or a bound above it that clears a wide periodic box."""
    from md_orderml.engines.halo import reach_unit, width_check_unit

    model = load_model("default")
    for min_width, pbc in ((26.0, ALL), (8.0, ALL), (26.0, (True, True, False))):
        crystal = structures.crystal("bcc", noise=0.04, min_width=min_width, seed=4)
        scale = (abs(np.linalg.det(crystal.cell)) / len(crystal.positions)) ** (1 / 3)
        exact = reach_unit(model, crystal.positions, crystal.cell, pbc, scale)
        unit = width_check_unit(model, crystal.positions, crystal.to_frame().box, pbc, scale)
        if min_width == 26.0 and all(pbc):  # wide and periodic: the bound, above the exact unit, clearing the box
            assert unit > exact and 2 * model.cutoff * unit <= min(np.linalg.norm(crystal.cell, axis=1))
        else:
            assert unit == exact
    classic = load_model("classic")
    assert width_check_unit(classic, crystal.positions, crystal.to_frame().box, ALL, 1.25) == 1.25
