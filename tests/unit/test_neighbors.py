"""Tests of md_orderml.neighbors.radius_graph against freud and a brute-force reference."""

import itertools

import numpy as np
import pytest
import torch

from md_orderml.frame import Box
from md_orderml.neighbors import number_of_neighbors, radius_graph, radius_graph_shifts

freud = pytest.importorskip("freud")

ALL = (True, True, True)




def run(pos, cell, pbc, rc, fn=radius_graph_shifts):
    """Our neighbour list as numpy arrays (i, j, shifts, vec)."""
    ei, sh, ev = fn(torch.as_tensor(pos), torch.as_tensor(cell), torch.tensor(pbc), rc)
    return ei[0].numpy(), ei[1].numpy(), sh.numpy(), ev.numpy()


def pair_distances(i, j, d, rc, tol=1e-5):
    """Sorted (i, j, distance) rows, dropping pairs within tol of the cutoff."""
    keep = np.abs(d - rc) > tol
    rows = np.stack([i[keep], j[keep], np.round(d[keep], 5)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def brute_force(pos, cell, pbc, rc):
    """All (i, j, shift) with |x_j + shift @ cell - x_i| < rc by looping over images."""
    cell = np.asarray(cell, float)
    basis = cell.copy()
    if sum(pbc) == 2:  # replace the open row by the plane normal (tests use no other mix)
        d = pbc.index(False)
        basis[d] = np.cross(cell[(d + 1) % 3], cell[(d + 2) % 3])
    reps = []
    for d in range(3):
        if pbc[d]:
            others = np.cross(basis[(d + 1) % 3], basis[(d + 2) % 3])
            width = abs(np.linalg.det(basis)) / np.linalg.norm(others)
            spread = np.ptp(pos @ np.linalg.inv(basis)[:, d]) if len(pos) else 0.0
            m = int(np.ceil(rc / width + spread)) + 1
            reps.append(range(-m, m + 1))
        else:
            reps.append([0])
    rows = []
    for shift in itertools.product(*reps):
        diff = pos[None, :, :] + np.array(shift) @ cell - pos[:, None, :]
        ii, jj = np.nonzero(np.einsum("ijk,ijk->ij", diff, diff) < rc * rc)
        for i, j in zip(ii, jj):
            if i != j or any(shift):
                rows.append((i, j) + shift)
    return np.array(sorted(rows), dtype=np.int64).reshape(-1, 5)


def ours_as_rows(i, j, sh):
    rows = np.concatenate([np.stack([i, j], 1), sh], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def compare_freud(pos, box: Box, rc):
    """Check our periodic list against freud's AABBQuery on a HOOMD box."""
    fbox = freud.box.Box.from_box(box.to_hoomd())
    wrapped = box.wrap(pos)
    nl = freud.locality.AABBQuery(fbox, wrapped).query(
        wrapped, dict(r_max=rc, exclude_ii=True)).toNeighborList()
    ref = pair_distances(nl.query_point_indices, nl.point_indices, nl.distances, rc)
    i, j, _, vec = run(pos, box.matrix, ALL, rc)
    got = pair_distances(i, j, np.linalg.norm(vec, axis=1), rc)
    assert len(ref) > 0
    np.testing.assert_array_equal(got[:, :2], ref[:, :2])
    np.testing.assert_allclose(got[:, 2], ref[:, 2], atol=2e-5)


def fcc(n_rep, a=np.sqrt(2.0)):
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.array(list(itertools.product(range(n_rep), repeat=3)))
    return ((grid[:, None, :] + basis[None]).reshape(-1, 3)) * a, np.eye(3) * a * n_rep


def test_random_gas_matches_freud():
    rng = np.random.default_rng(1)
    box = Box(9.0, 9.0, 9.0)
    pos = rng.uniform(-4.5, 4.5, size=(600, 3))
    compare_freud(pos, box, 1.7)


def test_large_gas_several_chunks_matches_freud():
    rng = np.random.default_rng(2)
    n = 25000  # several chunks of 2**21 candidate pairs
    L = (n / 0.9) ** (1 / 3)
    box = Box(L, L, L)
    pos = rng.uniform(-L / 2, L / 2, size=(n, 3))
    compare_freud(pos, box, 1.6 * (L ** 3 / n) ** (1 / 3))


def test_fcc_crystal_shells():
    pos, cell = fcc(4)  # nearest-neighbour distance 1
    i, j, sh, vec = run(pos, cell, ALL, 1.2)
    assert np.all(number_of_neighbors(torch.as_tensor(np.stack([i, j])), len(pos)).numpy() == 12)
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-12)
    box = Box(*np.diag(cell))
    compare_freud(pos - cell.sum(0) / 2, box, 1.5)


def test_triclinic_big_tilts_matches_freud():
    rng = np.random.default_rng(3)
    box = Box(12.0, 11.0, 13.0, xy=1.3, xz=-0.9, yz=0.7)
    pos = rng.uniform(0, 1, size=(800, 3)) @ box.matrix + rng.normal(0, 3, (800, 3))
    assert box.widths.min() > 2 * 2.2
    compare_freud(pos, box, 2.2)


@pytest.mark.parametrize("tilt,rc", [((0.0, 0.0, 0.0), 1.6), ((0.9, -0.6, 0.4), 1.3), ((0.2, 0.1, 0.0), 2.9)])
def test_small_box_all_images_match_brute_force(tilt, rc):
    rng = np.random.default_rng(4)
    box = Box(2.1, 2.6, 2.3, *tilt)
    assert box.widths.min() < 2 * rc
    pos = rng.uniform(0, 1, size=(9, 3)) @ box.matrix
    i, j, sh, vec = run(pos, box.matrix, ALL, rc)
    np.testing.assert_array_equal(ours_as_rows(i, j, sh), brute_force(pos, box.matrix, ALL, rc))
    grid = np.array(list(itertools.product(range(-2, 3), repeat=3)))
    shortest = np.sort(np.linalg.norm(grid @ box.matrix, axis=1))[1]
    self_images = np.any((i == j) & np.any(sh != 0, axis=1))
    assert self_images == (shortest < rc), "own images iff the shortest lattice vector < rc"
    assert not np.any((i == j) & np.all(sh == 0, axis=1))
    np.testing.assert_allclose(vec, pos[j] + sh @ box.matrix - pos[i], atol=1e-12)
    assert np.all(np.linalg.norm(vec, axis=1) < rc)


def test_single_particle_in_a_box_narrower_than_the_cutoff():
    cell = np.array([[0.7, 0.0, 0.0], [0.2, 0.8, 0.0], [0.1, -0.3, 0.9]])
    pos = np.array([[0.3, 0.2, 0.1]])
    i, j, sh, _ = run(pos, cell, ALL, 1.9)
    np.testing.assert_array_equal(ours_as_rows(i, j, sh), brute_force(pos, cell, ALL, 1.9))
    assert len(i) > 30


def test_rotated_system_gives_the_same_pairs():
    rng = np.random.default_rng(5)
    box = Box(7.0, 8.0, 7.5, xy=0.4, xz=-0.3, yz=0.6)
    pos = rng.uniform(0, 1, size=(300, 3)) @ box.matrix
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = q * np.sign(np.diag(r))
    rot *= np.linalg.det(rot)  # proper rotation
    i, j, sh, vec = run(pos, box.matrix, ALL, 1.8)
    i2, j2, sh2, vec2 = run(pos @ rot.T, box.matrix @ rot.T, ALL, 1.8)
    np.testing.assert_array_equal(np.stack([i, j]), np.stack([i2, j2]))
    np.testing.assert_array_equal(sh, sh2)
    np.testing.assert_allclose(vec @ rot.T, vec2, atol=1e-10)


def test_open_boundaries_match_brute_force_with_any_cell():
    rng = np.random.default_rng(6)
    pos = rng.normal(0, 2.0, size=(300, 3))
    pbc = (False, False, False)
    ref = brute_force(pos, np.eye(3), pbc, 1.1)
    for cell in (np.zeros((3, 3)), np.full((3, 3), np.nan), np.eye(3) * 3):
        i, j, sh, _ = run(pos, cell, pbc, 1.1)
        np.testing.assert_array_equal(ours_as_rows(i, j, sh), ref)


def test_thin_slab_periodic_in_plane_only():
    rng = np.random.default_rng(7)
    cell = np.array([[6.0, 0.0, 0.0], [1.5, 5.0, 0.0], [0.0, 0.0, 0.0]])  # z row unused
    pos = rng.uniform(0, 1, size=(150, 3)) @ np.array([[6.0, 0, 0], [1.5, 5.0, 0], [0, 0, 0.4]])
    pbc = (True, True, False)
    i, j, sh, vec = run(pos, cell, pbc, 1.5)
    np.testing.assert_array_equal(ours_as_rows(i, j, sh), brute_force(pos, cell, pbc, 1.5))
    assert np.all(sh[:, 2] == 0)


def test_ghost_particles_beyond_an_open_face():
    rng = np.random.default_rng(8)
    box = Box(5.0, 5.0, 6.0, xy=0.3)
    pos = rng.uniform(0, 1, size=(200, 3)) @ box.matrix
    pos[:, 2] = rng.uniform(-1.5, 7.5, size=200)  # ghosts below and above the slab
    pbc = (True, True, False)
    i, j, sh, _ = run(pos, box.matrix, pbc, 1.4)
    np.testing.assert_array_equal(ours_as_rows(i, j, sh), brute_force(pos, box.matrix, pbc, 1.4))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_cell_sizes_give_identical_lists(k):
    rng = np.random.default_rng(13)
    box = Box(7.0, 7.5, 8.0, xy=0.5, xz=0.3, yz=-0.2)
    pos = rng.uniform(0, 1, size=(700, 3)) @ box.matrix
    auto = run(pos, box.matrix, ALL, 2.7)
    fixed = run(pos, box.matrix, ALL, 2.7, fn=lambda *a: radius_graph_shifts(*a, cells_per_cutoff=k))
    for a, b in zip(auto, fixed):
        np.testing.assert_array_equal(a, b)


def test_far_unwrapped_images_fall_back_to_stable_sorts():
    rng = np.random.default_rng(14)
    cell = np.eye(3) * 2.0
    pos = rng.uniform(0, 2, size=(40, 3))
    image = rng.integers(-10 ** 6, 10 ** 6, size=(40, 3))  # key would overflow int64
    i, j, sh, vec = run(pos, cell, ALL, 1.5)
    i2, j2, sh2, vec2 = run(pos + image @ cell, cell, ALL, 1.5)
    np.testing.assert_array_equal(np.stack([i, j]), np.stack([i2, j2]))
    np.testing.assert_array_equal(sh2, sh + image[i] - image[j])
    np.testing.assert_allclose(vec, vec2, atol=1e-8)


def test_unwrapped_positions_and_float32():
    rng = np.random.default_rng(9)
    box = Box(6.0, 6.5, 7.0, xy=0.2, yz=-0.4)
    pos = rng.uniform(0, 1, size=(200, 3)) @ box.matrix
    image = rng.integers(-3, 4, size=(200, 3))
    i, j, sh, vec = run(pos, box.matrix, ALL, 1.6)
    i2, j2, sh2, vec2 = run(pos + image @ box.matrix, box.matrix, ALL, 1.6)
    np.testing.assert_array_equal(np.stack([i, j]), np.stack([i2, j2]))
    np.testing.assert_array_equal(sh2, sh + image[i] - image[j])
    np.testing.assert_allclose(vec, vec2, atol=1e-10)
    i3, j3, _, vec3 = run(pos.astype(np.float32), box.matrix.astype(np.float32), ALL, 1.6)
    assert vec3.dtype == np.float32
    got = pair_distances(i3, j3, np.linalg.norm(vec3, axis=1), 1.6, tol=1e-4)
    ref = pair_distances(i, j, np.linalg.norm(vec, axis=1), 1.6, tol=1e-4)
    np.testing.assert_array_equal(got[:, :2], ref[:, :2])


def test_sorted_output_and_gradients():
    rng = np.random.default_rng(10)
    cell = torch.eye(3, dtype=torch.float64) * 5
    pos = torch.tensor(rng.uniform(0, 5, size=(120, 3)), requires_grad=True)
    ei, sh, vec = radius_graph_shifts(pos, cell, torch.tensor(ALL), 1.7)
    key = (ei[0] * 120 + ei[1]).numpy()
    assert np.all(np.diff(key) >= 0)
    w = torch.arange(vec.shape[0], dtype=torch.float64)
    (vec[:, 0] * w).sum().backward()
    expected = torch.zeros(120, dtype=torch.float64)
    expected.index_add_(0, ei[1], w).index_add_(0, ei[0], -w)
    torch.testing.assert_close(pos.grad[:, 0], expected)
    assert torch.all(pos.grad[:, 1:] == 0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_matches_eager():
    scripted = torch.jit.script(radius_graph)
    rng = np.random.default_rng(11)
    box = Box(4.0, 4.5, 5.0, xy=0.6, xz=0.2)
    pos = torch.tensor(rng.uniform(0, 1, size=(100, 3)) @ box.matrix)
    cell = torch.tensor(box.matrix)
    for pbc in (ALL, (True, True, False), (False, False, False)):
        for rc in (1.2, 2.6):
            a = radius_graph(pos, cell, torch.tensor(pbc), rc)
            b = scripted(pos, cell, torch.tensor(pbc), rc)
            torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
            torch.testing.assert_close(a[1], b[1], rtol=0, atol=0)


class _Counts(torch.nn.Module):
    """A minimal model that uses radius_graph, for the export round trip."""

    def forward(self, positions, cell, pbc):
        edge_index, edge_vec = radius_graph(positions, cell, pbc, 1.5)
        return number_of_neighbors(edge_index, positions.size(0)), torch.linalg.norm(edge_vec, dim=1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_scripted_module_survives_save_and_load(tmp_path):
    torch.jit.save(torch.jit.script(_Counts()), str(tmp_path / "m.pt"))
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    rng = np.random.default_rng(15)
    pos = torch.tensor(rng.uniform(0, 5, size=(150, 3)))
    args = (pos, torch.eye(3, dtype=torch.float64) * 5, torch.tensor((True, True, False)))
    for a, b in zip(loaded(*args), _Counts()(*args)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(12)
    pos = torch.tensor(rng.uniform(0, 6, size=(500, 3)))
    cell = torch.eye(3, dtype=torch.float64) * 6
    pbc = torch.tensor(ALL)
    a = radius_graph(pos, cell, pbc, 1.5)
    b = torch.jit.script(radius_graph)(pos.cuda(), cell.cuda(), pbc.cuda(), 1.5)
    torch.testing.assert_close(a[0], b[0].cpu(), rtol=0, atol=0)
    torch.testing.assert_close(a[1], b[1].cpu())


def test_edge_cases_and_errors():
    cell = torch.eye(3, dtype=torch.float64)
    ei, vec = radius_graph(torch.zeros(0, 3, dtype=torch.float64), cell, torch.tensor(ALL), 1.0)
    assert ei.shape == (2, 0) and vec.shape == (0, 3)
    ei, vec = radius_graph(torch.zeros(1, 3, dtype=torch.float64), cell * 5, torch.tensor(ALL), 1.0)
    assert ei.shape == (2, 0)
    same = torch.zeros(2, 3, dtype=torch.float64)  # coincident particles are neighbours
    ei, vec = radius_graph(same, cell * 0, torch.tensor((False, False, False)), 1.0)
    assert ei.tolist() == [[0, 1], [1, 0]]
    assert number_of_neighbors(ei, 3).tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="cutoff"):
        radius_graph(same, cell, torch.tensor(ALL), 0.0)
    with pytest.raises(ValueError, match="NaN"):
        radius_graph(torch.full((2, 3), float("nan"), dtype=torch.float64), cell, torch.tensor(ALL), 1.0)
    with pytest.raises(ValueError, match="degenerate"):
        radius_graph(same, torch.zeros(3, 3, dtype=torch.float64), torch.tensor(ALL), 1.0)
