"""Tests of md_orderml.prototypes: atom counts, space groups, distances, coordination, noise/rotation/perturb."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from md_orderml.errors import InputError
from md_orderml.neighbors import radius_graph
from md_orderml.prototype_table import coordinate, site_indices
from md_orderml.prototypes import (
    HELD_OUT,
    NEAR_TWINS,
    PROTOTYPES,
    VOCABULARY,
    class_info,
    conventional_cell,
    markdown_table,
    prototype_crystal,
)
from md_orderml.structures import CRYSTALS, crystal

DOCS = Path(__file__).resolve().parents[2] / "docs" / "prototypes.md"


def pairs(structure, rc):
    """(i, j) pairs, shape (2, P), and their distances, shape (P,), within rc (periodic)."""
    ei, vec = radius_graph(torch.as_tensor(structure.positions, dtype=torch.float64),
                           torch.as_tensor(structure.cell, dtype=torch.float64), torch.ones(3, dtype=torch.bool), rc)
    return ei.numpy(), vec.norm(dim=1).numpy()


def coordination_fractions(structure, rc):
    """Fraction of particles with each number of neighbours within rc, {CN: fraction}."""
    ei, _ = pairs(structure, rc)
    counts = Counter(np.bincount(ei[0], minlength=structure.N).tolist())
    return {cn: n / structure.N for cn, n in counts.items()}


def space_group(cell, frac):
    spglib = pytest.importorskip("spglib")
    if hasattr(spglib, "error"):  # spglib >= 2.5: raise on errors instead of a deprecation warning
        spglib.error.OLD_ERROR_HANDLING = False
    return spglib.get_spacegroup((np.asarray(cell), np.asarray(frac), np.ones(len(frac), int)), symprec=1e-4)


def fractional(structure):
    frac = structure.positions @ np.linalg.inv(structure.cell)
    return frac - np.floor(frac)


@pytest.mark.parametrize("name", list(PROTOTYPES))
def test_atoms_per_conventional_cell_follow_the_pearson_symbol(name):
    cell, frac = conventional_cell(name)
    expected = PROTOTYPES[name].atoms_per_cell
    assert frac.shape == (expected, 3) and cell.shape == (3, 3)
    s = crystal(name)
    assert s.N % expected == 0 and s.label == name and s.types.dtype == np.int32


@pytest.mark.parametrize("name", list(PROTOTYPES))
def test_space_group_is_recovered_by_spglib(name):
    p = PROTOTYPES[name]
    expected = f"{p.space_group_symbol} ({p.space_group})"
    assert space_group(*conventional_cell(name)) == expected
    s = prototype_crystal(name, nn_distance=1.7, rotation="random", seed=3)  # a supercell, rotated
    assert space_group(s.cell, fractional(s)) == expected
    assert space_group(*conventional_cell(name, perturb=0.03, rng=5)) == expected  # perturb keeps symmetry


@pytest.mark.parametrize("name", list(PROTOTYPES))
def test_nearest_neighbour_distance_and_supercell_width(name):
    nn = 1.3
    s = prototype_crystal(name, nn_distance=nn)
    assert np.all(1.0 / np.linalg.norm(np.linalg.inv(s.cell), axis=0) >= 6.0 * nn - 1e-9)
    _, d = pairs(s, 1.2 * nn)
    assert d.min() == pytest.approx(nn, rel=1e-9)  # scaled: the closest pair sits at nn exactly
    assert not np.any(d < 0.9 * nn)
    assert len(np.unique(fractional(s).round(6), axis=0)) == s.N  # no two atoms on one site


# (name, cutoff in nn distances, {CN: fraction of particles}); textbook coordinations:
# Frank-Kasper phases (Frank & Kasper 1958/59), diamond-like clathrate networks, sh at c/a = 1,
# beta-Sn 4 + 2, alpha-Pa 8 + 2, alpha-Mn 16/16/13/12.
COORDINATIONS = [
    ("a15", 1.5, {12: 2 / 8, 14: 6 / 8}),
    ("c15", 1.5, {16: 8 / 24, 12: 16 / 24}),
    ("c14", 1.5, {16: 4 / 12, 12: 8 / 12}),
    ("c36", 1.5, {16: 8 / 24, 12: 16 / 24}),
    ("sigma", 1.5, {12: 10 / 30, 14: 16 / 30, 15: 4 / 30}),
    ("beta_mn", 1.5, {12: 8 / 20, 14: 12 / 20}),
    ("alpha_mn", 1.5, {16: 10 / 58, 13: 24 / 58, 12: 24 / 58}),
    ("clathrate_i", 1.3, {4: 1.0}),
    ("clathrate_ii", 1.3, {4: 1.0}),
    ("sh", 1.2, {8: 1.0}),
    ("beta_sn", 1.02, {4: 1.0}),
    ("beta_sn", 1.15, {6: 1.0}),
    ("alpha_pa", 1.1, {10: 1.0}),
]


@pytest.mark.parametrize("name, cutoff, expected", COORDINATIONS, ids=[f"{c[0]}-{c[1]}" for c in COORDINATIONS])
def test_textbook_coordination_numbers(name, cutoff, expected):
    got = coordination_fractions(prototype_crystal(name), cutoff)
    assert got.keys() == expected.keys()
    for cn, fraction in expected.items():
        assert got[cn] == pytest.approx(fraction)


def test_sigma_mean_coordination_is_the_frank_kasper_value():
    got = coordination_fractions(prototype_crystal("sigma"), 1.5)
    assert sum(cn * f for cn, f in got.items()) == pytest.approx(404 / 30)  # 13.47


def test_noise_rotation_and_seed():
    ideal = prototype_crystal("c15", nn_distance=2.0)
    noisy = prototype_crystal("c15", nn_distance=2.0, noise=0.05, seed=4)
    assert np.std(noisy.positions - ideal.positions) == pytest.approx(0.05 * 2.0, rel=0.1)
    again = prototype_crystal("c15", nn_distance=2.0, noise=0.05, seed=4)
    np.testing.assert_array_equal(noisy.positions, again.positions)
    rotated = prototype_crystal("c15", nn_distance=2.0, rotation="random", seed=4)
    rot = np.linalg.lstsq(ideal.cell, rotated.cell, rcond=None)[0].T  # cell @ R.T == rotated cell
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-10)
    assert np.linalg.det(rot) == pytest.approx(1.0) and not np.allclose(rot, np.eye(3))
    np.testing.assert_allclose(rotated.positions, ideal.positions @ rot.T, atol=1e-10)
    np.testing.assert_allclose(np.sort(pairs(rotated, 3.0)[1]), np.sort(pairs(ideal, 3.0)[1]), atol=1e-9)
    frame = prototype_crystal("sigma", rotation="random", seed=2).to_frame()
    assert frame.positions.shape == (prototype_crystal("sigma").N, 3)
    two = prototype_crystal("a15", n_types=2, seed=1)
    assert two.type_names == ["A", "B"] and set(two.types.tolist()) == {0, 1}


@pytest.mark.parametrize("name", ["c14", "sigma", "beta_sn", "alpha_mn"])
def test_perturb_changes_free_parameters_only_within_bounds(name):
    p = PROTOTYPES[name]
    ideal_cell, ideal_frac = conventional_cell(name)
    cell, frac = conventional_cell(name, perturb=0.02, rng=7)
    again = conventional_cell(name, perturb=0.02, rng=7)
    np.testing.assert_array_equal(frac, again[1])
    assert not np.allclose(frac, ideal_frac, atol=1e-6) or not np.allclose(cell, ideal_cell)
    ratio = np.linalg.norm(cell[2]) / np.linalg.norm(cell[0])
    if p.space_group < 195:
        assert ratio != pytest.approx(p.c_over_a, rel=1e-9) and abs(ratio / p.c_over_a - 1) <= 0.02 + 1e-12
    else:
        assert ratio == pytest.approx(1.0)
    # atoms stay near their ideal sites: at most ~perturb nn per free parameter, plus the rescaling
    shift = (frac - ideal_frac + 0.5) % 1.0 - 0.5
    assert np.abs(shift @ cell).max() < 0.1 * np.linalg.norm(cell[0])
    s = prototype_crystal(name, perturb=0.02, seed=7)
    _, d = pairs(s, 1.5)
    assert d.min() == pytest.approx(1.0, rel=1e-9)  # rescaled to nn = 1 after the perturbation


def test_prototype_crystal_is_structures_crystal():
    a = prototype_crystal("beta_mn", nn_distance=1.1, min_width=5.0, noise=0.02, rotation="random", seed=9,
                          perturb=0.01)
    b = crystal("beta_mn", nn_distance=1.1, min_width=5.0, noise=0.02, rotation="random", seed=9, perturb=0.01)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.cell, b.cell)


# Pinned before the prototypes were added: (N, sum of squared positions, sum of the cell)
# of crystal(kind, noise=0.05, rotation="random", seed=7, nn_distance=1.3).
SIMPLE_PINNED = {
    "fcc": (500, 36088.78498497025, 20.46419777536833),
    "bcc": (432, 30753.797320654503, 14.951623829071028),
    "hcp": (392, 32973.87301320827, 11.298654200449164),
    "sc": (216, 10012.522705944204, -7.653439724393503),
    "cd": (216, 15348.459879952867, -8.83743097021033),
    "hd": (300, 34698.688000954644, 10.3184568148736),
}


@pytest.mark.parametrize("kind", CRYSTALS)
def test_the_six_simple_crystals_are_unchanged(kind):
    s = crystal(kind, noise=0.05, rotation="random", seed=7, nn_distance=1.3)
    n, squares, cell_sum = SIMPLE_PINNED[kind]
    assert s.N == n
    assert float(np.sum(s.positions ** 2)) == pytest.approx(squares, rel=1e-12)
    assert float(np.sum(s.cell)) == pytest.approx(cell_sum, rel=1e-12, abs=1e-12)
    with pytest.raises(InputError, match="prototypes only"):
        crystal(kind, perturb=0.02)


def test_vocabulary_held_out_and_near_twins():
    assert set(VOCABULARY) | set(HELD_OUT) == set(PROTOTYPES) and not set(VOCABULARY) & set(HELD_OUT)
    assert {"a15", "c14", "c15", "beta_mn", "sigma", "clathrate_i", "sh", "beta_sn"} == set(VOCABULARY)
    assert set(NEAR_TWINS) <= set(HELD_OUT)
    assert all(set(twins) <= set(VOCABULARY) for twins in NEAR_TWINS.values())
    assert not set(PROTOTYPES) & (set(CRYSTALS) | {"liquid"})


def test_class_info():
    assert class_info("a15") == {"name": "a15", "pearson_symbol": "cP8", "prototype": "Cr3Si", "strukturbericht": "A15",
                                 "space_group_number": 223, "space_group_symbol": "Pm-3n", "role": "vocabulary"}
    assert class_info("clathrate_ii")["role"] == "held_out"
    assert class_info("fcc")["space_group_number"] == 225 and class_info("hd")["pearson_symbol"] == "hP4"
    assert class_info("liquid")["space_group_number"] is None
    for name in list(PROTOTYPES) + list(CRYSTALS):
        assert class_info(name)["pearson_symbol"][0] in "chot"
    with pytest.raises(InputError):
        class_info("bct")


def test_coordinate_text():
    assert coordinate("1/4", {}) == 0.25
    assert coordinate("2*x3", {"x3": 0.1}) == pytest.approx(0.2)
    assert coordinate("y2+1/4", {"y2": 0.2}) == pytest.approx(0.45)
    assert coordinate("-x+1/2", {"x": 0.1}) == pytest.approx(0.4)


def test_bad_input_raises():
    with pytest.raises(InputError, match="unknown prototype"):
        prototype_crystal("fcc")
    with pytest.raises(InputError, match="unknown crystal"):
        crystal("nacl")
    with pytest.raises(InputError, match="perturb"):
        prototype_crystal("a15", perturb=0.5)
    with pytest.raises(InputError, match="perturb"):
        prototype_crystal("a15", perturb=-0.01)


def test_docs_table_is_the_generated_table():
    assert markdown_table() in DOCS.read_text()


# Coordination number (within 1.5 nn) of each Wyckoff site, in the order of the table's sites.
SITE_COORDINATIONS = {"a15": (12, 14), "sigma": (12, 15, 14, 12, 14), "alpha_mn": (16, 16, 13, 12),
                      "c15": (16, 12), "beta_mn": (12, 14)}


@pytest.mark.parametrize("name", list(PROTOTYPES))
def test_site_indices_follow_the_wyckoff_multiplicities(name):
    sites = site_indices(name)
    multiplicities = [int("".join(c for c in letter if c.isdigit())) for letter, _ in PROTOTYPES[name].sites]
    assert sites.shape == (PROTOTYPES[name].atoms_per_cell,)
    assert np.bincount(sites, minlength=len(multiplicities)).tolist() == multiplicities
    # a perturbed cell keeps the order: every atom moves a little, none changes place
    _, ideal = conventional_cell(name)
    _, moved = conventional_cell(name, perturb=0.02, rng=7)
    step = moved - ideal
    assert np.abs(step - np.round(step)).max() < 0.05


@pytest.mark.parametrize("name", list(SITE_COORDINATIONS))
def test_site_indices_of_a_supercell_give_each_site_its_coordination(name):
    s = prototype_crystal(name, nn_distance=1.3, rotation="random", seed=2)
    sites = np.tile(site_indices(name), s.N // PROTOTYPES[name].atoms_per_cell)
    ei, _ = pairs(s, 1.5 * 1.3)
    cn = np.bincount(ei[0], minlength=s.N)
    for site, expected in enumerate(SITE_COORDINATIONS[name]):
        assert set(cn[sites == site].tolist()) == {expected}


def test_site_indices_of_a_non_prototype_raise():
    with pytest.raises(InputError, match="unknown prototype"):
        site_indices("fcc")
