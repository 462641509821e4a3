"""The generated inhomogeneous systems (md_orderml.inhomogeneous) are what they claim: geometry, depths, bulk maps.

The slow label checks (tests/unit/test_slow_inhomogeneous.py) and benchmarks/inhomogeneous.py
rely on these facts; a small base liquid keeps this fast.
"""

import numpy as np
import pytest

from md_orderml import inhomogeneous as inh
from md_orderml import structures


@pytest.fixture(scope="module")
def liquid():
    s = structures.liquid(n=300, density=0.85, steps=100, seed=2)
    return s.positions, s.cell


def min_distance(a, b, frame):
    """Smallest distance between point sets a (A, 3) and b (B, 3) under the frame's periodicity."""
    d = b[None, :, :] - a[:, None, :]
    s = d @ np.linalg.inv(frame.box.matrix)
    s -= np.round(s) * np.asarray(frame.box.periodic)
    return np.linalg.norm(s @ frame.box.matrix, axis=-1).min()


def assert_bulk_map(case):
    """Crystal particles are the bulk box's particles (up to a translation)."""
    crystal = case.frame.positions[case.crystal]
    bulk = case.bulk.positions[case.bulk_index[case.crystal]]
    shift = crystal - bulk
    np.testing.assert_allclose(shift, shift[:1].repeat(len(shift), axis=0), atol=1e-9)
    assert case.bulk.box.periodic == (True, True, True)


@pytest.mark.parametrize("kind", ["fcc", "cd"])
def test_nanoparticle_is_an_open_sphere_of_the_bulk(kind):
    case = inh.nanoparticle(kind, n=500, seed=1)
    frame = case.frame
    assert frame.box.periodic == (False, False, False) and case.crystal.all()
    assert 400 < frame.N < 600
    s = frame.box.fractional(frame.positions)
    assert (s > 0.1).all() and (s < 0.9).all()  # vacuum on every side
    centre = frame.box.corner + 0.5 * frame.box.matrix.sum(axis=0)
    r = np.linalg.norm(frame.positions - centre, axis=1)
    assert case.depth.min() == 0.0 and case.depth.max() > 3.0
    assert np.corrcoef(r, case.depth)[0, 1] < -0.99  # depth falls with the distance from the centre
    assert_bulk_map(case)


@pytest.mark.parametrize("kind", ["hcp", "bcc"])
def test_slab_next_to_vacuum_liquid_and_vapour(kind, liquid):
    vacuum = inh.slab(kind, "vacuum", thickness=8.0, width=5.0, seed=1)
    heights = vacuum.frame.positions @ np.array([0.0, 0.0, 1.0])
    thickness = vacuum.bulk.box.widths[2]
    assert thickness >= 8.0 and vacuum.frame.box.widths[2] == pytest.approx(11.0 * thickness)  # gap: 10 x
    assert np.ptp(heights) < 1.2 * thickness and vacuum.crystal.all()
    assert vacuum.depth.min() == 0.0 and 0.35 * thickness < vacuum.depth.max() <= 0.5 * thickness
    assert_bulk_map(vacuum)

    wet = inh.slab(kind, "liquid", thickness=8.0, width=5.0, seed=1, liquid=liquid)
    frame, crystal = wet.frame, wet.crystal
    rho = (~crystal).sum() / (frame.box.volume / 2.0)
    assert 0.55 < rho / inh.crystal_density(kind) < 0.75  # 30 % less dense, less what the gap removes
    assert min_distance(frame.positions[crystal], frame.positions[~crystal], frame) > 0.8
    assert_bulk_map(wet)

    dry = inh.slab(kind, "vapour", thickness=8.0, width=5.0, seed=1)
    gas = dry.frame.positions[~dry.crystal]
    assert 0 < len(gas) < 0.1 * dry.crystal.sum()  # 2 % of the density over 3 x the volume
    assert min_distance(dry.frame.positions[dry.crystal], gas, dry.frame) >= 1.0


def test_cluster_in_a_denser_liquid(liquid):
    case = inh.cluster_in_liquid("fcc", seed=1, liquid=liquid, tiles=3)
    frame = case.frame
    assert 0.07 < case.crystal.mean() < 0.13
    centre = 0.5 * frame.box.matrix.sum(axis=0)
    r_crystal = np.linalg.norm(frame.positions[case.crystal] - centre, axis=1).max()
    r_liquid = np.linalg.norm(frame.positions[~case.crystal] - centre, axis=1)
    assert r_liquid.min() > r_crystal  # no liquid inside the crystal
    liquid_density = (~case.crystal).sum() / (frame.box.volume - 4 / 3 * np.pi * r_crystal ** 3)
    assert 1.2 < liquid_density / inh.crystal_density("fcc") < 1.6
    assert_bulk_map(case)


@pytest.mark.parametrize("kind", ["fcc", "bcc", "cd"])
def test_polydisperse_crystal_spreads_its_bonds_and_keeps_its_lattice(kind):
    case = inh.polydisperse(kind, noise=0.0, min_width=5.0, seed=1)
    ideal = structures.crystal(kind, min_width=5.0)  # the same sites in the same order

    def distances(frame_positions, cell):
        s = (frame_positions[None] - frame_positions[:, None]) @ np.linalg.inv(cell)
        s -= np.round(s)
        return np.linalg.norm(s @ cell, axis=-1)

    lattice = distances(ideal.positions, ideal.cell)
    nn = (lattice > 0) & (lattice < 1.05)
    assert nn.sum() == ideal.N * structures.COORDINATION[kind]
    r = distances(case.frame.positions, case.frame.box.matrix)
    bonds = r[nn]
    assert 0.02 < bonds.std() < 0.05 and bonds.mean() == pytest.approx(1.0, abs=0.01)  # a 10 % diameter spread
    longest_bond = np.where(nn, r, 0.0).max(axis=1)
    nearest_other = np.where(nn | (lattice == 0), np.inf, r).min(axis=1)
    assert (longest_bond < nearest_other).all()  # each particle's nearest neighbours are its lattice neighbours
    assert np.isinf(case.depth).all() and case.bulk is None
