"""Tests of md_orderml.structures: lattices, conversions, determinism, liquids, coexistence."""

import numpy as np
import pytest
import torch

from md_orderml.errors import InputError
from md_orderml.neighbors import radius_graph
from md_orderml.structures import (
    COORDINATION, CRYSTALS, LJ_SIGMA, Structure, crystal, liquid, mixed, random_rotation)




def pairs(positions, cell, rc):
    """Sorted (i, j) pairs and distances within rc, periodic in all directions."""
    ei, vec = radius_graph(torch.as_tensor(positions, dtype=torch.float64),
                           torch.as_tensor(cell, dtype=torch.float64), torch.ones(3, dtype=torch.bool), rc)
    return ei.numpy(), vec.norm(dim=1).numpy()


def steinhardt(structure, l, k=12):
    """Per-particle q_l over the k nearest neighbours and the system-wide Q_l (freud)."""
    freud = pytest.importorskip("freud")
    frame = structure.to_frame()
    box = freud.box.Box.from_box(frame.box.to_hoomd())
    ste = freud.order.Steinhardt(l)
    ste.compute((box, frame.positions), neighbors={"num_neighbors": k})
    return np.asarray(ste.particle_order), float(ste.order)


def ovito_structure_types(structure, modifier):
    """Per-particle structure types from an ovito modifier."""
    from ovito.data import DataCollection, Particles, SimulationCell

    data = DataCollection()
    matrix = np.zeros((3, 4))
    matrix[:, :3] = structure.cell.T  # ovito: columns are cell vectors, last is origin
    data.objects.append(SimulationCell(matrix=matrix, pbc=(True, True, True)))
    particles = Particles(count=structure.N)
    particles.create_property("Position", data=structure.positions)
    data.objects.append(particles)
    data.apply(modifier)
    return np.asarray(data.particles["Structure Type"])


@pytest.fixture(scope="module")
def lj_liquid():
    return liquid(n=500, steps=1000, seed=11)


@pytest.mark.parametrize("kind", CRYSTALS)
def test_nearest_neighbour_distance_and_coordination(kind):
    nn = 1.3
    s = crystal(kind, nn_distance=nn)
    assert s.label == kind and s.positions.shape == (s.N, 3) and s.types.dtype == np.int32
    assert np.all(1.0 / np.linalg.norm(np.linalg.inv(s.cell), axis=0) >= 6.0 * nn - 1e-9)
    ei, d = pairs(s.positions, s.cell, nn * 1.001)
    np.testing.assert_allclose(d, nn, rtol=1e-12)
    np.testing.assert_array_equal(np.bincount(ei[0], minlength=s.N), COORDINATION[kind])


def test_bcc_second_shell_and_hcp_fcc_shells():
    ei, _ = pairs(*[crystal("bcc").positions, crystal("bcc").cell], 1.2)
    assert np.all(np.bincount(ei[0]) == 14)  # 8 + 6 at 2/sqrt(3)
    for kind, third_shell in (("fcc", 0), ("hcp", 2)):  # hcp: 2 neighbours at sqrt(8/3)
        s = crystal(kind)
        _, d = pairs(s.positions, s.cell, 1.7)
        assert np.sum(np.abs(d - np.sqrt(8 / 3)) < 1e-6) == third_shell * s.N


def test_hcp_and_fcc_distinguished_by_steinhardt():
    q4_fcc, _ = steinhardt(crystal("fcc", rotation="random", seed=1), 4)
    q6_fcc, _ = steinhardt(crystal("fcc", rotation="random", seed=1), 6)
    q4_hcp, _ = steinhardt(crystal("hcp", rotation="random", seed=2), 4)
    q6_hcp, _ = steinhardt(crystal("hcp", rotation="random", seed=2), 6)
    np.testing.assert_allclose(q4_fcc, 0.19094, atol=1e-3)
    np.testing.assert_allclose(q6_fcc, 0.57452, atol=1e-3)
    np.testing.assert_allclose(q4_hcp, 0.09722, atol=1e-3)
    np.testing.assert_allclose(q6_hcp, 0.48476, atol=1e-3)


@pytest.mark.parametrize("kind", CRYSTALS)
def test_ovito_identifies_ideal_crystals(kind):
    pytest.importorskip("ovito")
    from ovito.modifiers import IdentifyDiamondModifier, PolyhedralTemplateMatchingModifier

    ptm_type = PolyhedralTemplateMatchingModifier.Type
    diamond_type = IdentifyDiamondModifier.Type
    s = crystal(kind, rotation="random", seed=5)
    if kind in ("cd", "hd"):
        got = ovito_structure_types(s, IdentifyDiamondModifier())
        expected = diamond_type.CUBIC_DIAMOND if kind == "cd" else diamond_type.HEX_DIAMOND
    else:
        ptm = PolyhedralTemplateMatchingModifier()
        ptm.structures[ptm_type.SC].enabled = True
        got = ovito_structure_types(s, ptm)
        expected = {"fcc": ptm_type.FCC, "bcc": ptm_type.BCC, "hcp": ptm_type.HCP, "sc": ptm_type.SC}[kind]
    assert np.all(got == int(expected))


@pytest.mark.parametrize("kind,flip", [("hcp", False), ("hd", False), ("fcc", True)])
def test_to_frame_preserves_pair_distances(kind, flip):
    s = crystal(kind, noise=0.07, rotation="random", n_types=2, seed=3)
    if flip:  # a left-handed description of the same lattice
        s = Structure(s.positions, s.cell * np.array([[1.0], [1.0], [-1.0]]), s.types, s.type_names, s.label)
        assert np.linalg.det(s.cell) < 0
    frame = s.to_frame(source="test").validate()
    m = frame.box.matrix
    assert np.all(np.diag(m) > 0) and m[0, 1] == m[0, 2] == m[1, 2] == 0
    np.testing.assert_allclose(abs(np.linalg.det(m)), abs(np.linalg.det(s.cell)))
    frac = frame.box.fractional(frame.positions)
    assert np.all((frac >= -1e-12) & (frac < 1 + 1e-12))
    ei1, d1 = pairs(s.positions, s.cell, 2.1)
    ei2, d2 = pairs(frame.positions, m, 2.1)
    np.testing.assert_array_equal(ei1, ei2)
    np.testing.assert_allclose(d1, d2, atol=1e-9)
    np.testing.assert_array_equal(frame.types, s.types)
    assert frame.type_names == ["A", "B"] and frame.source == "test"


def test_random_rotation_is_uniform_and_rotated_preserves_distances():
    rng = np.random.default_rng(0)
    rots = np.array([random_rotation(rng) for _ in range(2000)])
    np.testing.assert_allclose(rots @ rots.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rots.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rots), 1.0)
    assert np.abs(rots.mean(axis=0)).max() < 0.05  # Haar measure: E[R] = 0
    # the rotation angle of a uniform rotation has density (1 - cos t) / pi: E[cos t] = -1/2
    assert abs((np.trace(rots, axis1=1, axis2=2).mean() - 1) / 2 + 0.5) < 0.05
    s = crystal("bcc", noise=0.05, seed=1)
    r = s.rotated(rots[0])
    ei1, d1 = pairs(s.positions, s.cell, 1.5)
    ei2, d2 = pairs(r.positions, r.cell, 1.5)
    np.testing.assert_array_equal(ei1, ei2)
    np.testing.assert_allclose(d1, d2, atol=1e-9)


def test_noise_types_and_determinism():
    a = crystal("fcc", noise=0.07, rotation="random", n_types=3, seed=7)
    b = crystal("fcc", noise=0.07, rotation="random", n_types=3, seed=7)
    c = crystal("fcc", noise=0.07, rotation="random", n_types=3, seed=8)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.types, b.types)
    assert not np.allclose(a.positions, c.positions)
    assert set(a.types.tolist()) == {0, 1, 2} and a.type_names == ["A", "B", "C"]
    disp = crystal("fcc", noise=0.07, seed=7).positions - crystal("fcc").positions
    assert abs(disp.std() - 0.07) < 0.005  # 7 % of nn_distance per coordinate
    l1 = liquid(n=64, steps=40, seed=3)
    l2 = liquid(n=64, steps=40, seed=3)
    np.testing.assert_array_equal(l1.positions, l2.positions)


def test_liquid_has_no_order_and_no_overlaps(lj_liquid):
    s = lj_liquid
    assert s.N == 500 and s.label == "liquid" and np.all(s.labels == "liquid")
    np.testing.assert_allclose(s.N / abs(np.linalg.det(s.cell)), 0.9 / LJ_SIGMA ** 3)
    ei, d = pairs(s.positions, s.cell, 3.0)
    assert d.min() > 0.8 * LJ_SIGMA
    # radial distribution function: first peak near nn_distance, flat beyond
    hist, edges = np.histogram(d, bins=60, range=(0.0, 3.0))
    shell = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    g = hist / shell / (s.N * s.N / abs(np.linalg.det(s.cell)))
    peak = edges[np.argmax(g)] + 0.025
    assert 0.85 < peak < 1.05 and 2.0 < g.max() < 3.5
    assert np.all(np.abs(g[(edges[:-1] > 2.2)] - 1) < 0.2)
    q6, q6_system = steinhardt(s, 6)
    q6_fcc, q6_fcc_system = steinhardt(crystal("fcc", noise=0.07, seed=1), 6)
    assert q6_system < 0.1 < 0.4 < q6_fcc_system
    assert q6.mean() < 0.45 < q6_fcc.mean()


def test_mixed_crystal_and_liquid_slabs():
    s = mixed("fcc", steps=300, seed=4)
    labels = s.labels
    assert s.label == "mixed" and set(labels.tolist()) == {"fcc", "liquid"}
    _, d = pairs(s.positions, s.cell, 1.5)
    assert d.min() > 0.8 * LJ_SIGMA
    q6, _ = steinhardt(s, 6)
    assert np.mean(q6[labels == "fcc"] > 0.5) > 0.8  # the interface layers are disordered
    assert np.mean(q6[labels == "liquid"] < 0.5) > 0.9


def test_bad_input_raises():
    with pytest.raises(InputError, match="unknown crystal"):
        crystal("bct")
    with pytest.raises(InputError, match="rotation"):
        crystal("fcc", rotation="sideways")
    with pytest.raises(InputError, match="orthogonal"):
        crystal("fcc", rotation=np.ones((3, 3)))
    with pytest.raises(InputError, match="n_types"):
        crystal("fcc", n_types=0)
    with pytest.raises(InputError):
        liquid(n=1)
    with pytest.raises(InputError, match="crystal_fraction"):
        mixed(crystal_fraction=1.5)
