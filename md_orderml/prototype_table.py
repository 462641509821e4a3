"""The crystal prototype table and its builder: space group + Wyckoff sites -> conventional cell.

Every prototype is built as a ONE-TYPE crystal (as colloids form them): all Wyckoff sites
of the compound are occupied by the same particle. Coordinates are written as text so the
table reads like a crystallographic table: numbers, fractions, free parameters (``"x2"``)
and linear expressions of them (``"2*x3"``, ``"y2+1/4"``). The facts come from the AFLOW
Library of Crystallographic Prototypes (Mehl et al., Comp. Mat. Sci. 136, S1 (2017); Hicks
et al., ibid. 161, S1 (2019)) and the structure refinements named in each ``source``; no
data file is copied. :mod:`md_orderml.prototypes` is the public face of this table;
:func:`md_orderml.structures.crystal` builds supercells from :func:`conventional_cell`.

This module imports only numpy, ASE (lazily) and :mod:`md_orderml.errors`, so that
:mod:`md_orderml.structures` can use it without an import circle.
"""

import dataclasses
import fractions
import functools
import re

import numpy as np

from md_orderml.errors import InputError


@dataclasses.dataclass(frozen=True)
class Prototype:
    """One crystal prototype, built with all sites occupied by one particle type.

    Attributes:
        name: The class label used by md_orderml (e.g. ``"a15"``).
        pearson: Pearson symbol; its number is the atom count of the conventional cell.
        space_group: Space group number (International Tables).
        space_group_symbol: Hermann-Mauguin symbol.
        sites: Wyckoff sites, each ``(letter, (x, y, z))`` with coordinates as text.
        parameters: Values of the free Wyckoff parameters named in ``sites``.
        c_over_a: Axial ratio c/a (1 for cubic; b = a in every prototype here).
        compound: The prototype compound or element.
        strukturbericht: Strukturbericht designation, "" if none.
        role: ``"vocabulary"`` (trained on) or ``"held_out"`` (kept out of training).
        source: AFLOW label and the refinement the numbers come from.
        note: Why the prototype is in its role (local environments, near twins).
        setting: Origin choice of the coordinates (1 or 2, for space groups with two).
    """

    name: str
    pearson: str
    space_group: int
    space_group_symbol: str
    sites: tuple
    parameters: dict
    c_over_a: float
    compound: str
    strukturbericht: str
    role: str
    source: str
    note: str = ""
    setting: int = 1

    @property
    def atoms_per_cell(self) -> int:
        """Atoms in the conventional cell, from the Pearson symbol."""
        return int(re.sub(r"\D", "", self.pearson))


_TABLE = (
    Prototype("a15", "cP8", 223, "Pm-3n", (("2a", ("0", "0", "0")), ("6c", ("1/4", "0", "1/2"))), {}, 1.0,
              "Cr3Si", "A15", "vocabulary", "AFLOW A3B_cP8_223_c_a; no free parameters",
              "Frank-Kasper: CN 12 (2a) and 14 (6c)"),
    Prototype("c14", "hP12", 194, "P6_3/mmc",
              (("2a", ("0", "0", "0")), ("4f", ("1/3", "2/3", "z2")), ("6h", ("x3", "2*x3", "1/4"))),
              {"z2": 0.0629, "x3": 0.8305}, 8.567 / 5.221, "MgZn2", "C14", "vocabulary",
              "AFLOW AB2_hP12_194_f_ah; MgZn2 a = 5.221 A, c = 8.567 A (Komura & Tokunaga, "
              "Acta Cryst. B 36, 1548 (1980)); ideal Laves values z2 = 1/16, x3 = 5/6",
              "hexagonal Laves phase: CN 12 (2a, 6h) and 16 (4f)"),
    Prototype("c15", "cF24", 227, "Fd-3m", (("8b", ("3/8", "3/8", "3/8")), ("16c", ("0", "0", "0"))), {}, 1.0,
              "Cu2Mg", "C15", "vocabulary", "AFLOW A2B_cF24_227_c_b (origin choice 2); no free parameters",
              "cubic Laves phase: CN 16 (8b) and 12 (16c)", setting=2),
    Prototype("beta_mn", "cP20", 213, "P4_132",
              (("8c", ("x1", "x1", "x1")), ("12d", ("1/8", "y2", "y2+1/4"))), {"x1": 0.0636, "y2": 0.2022},
              1.0, "beta-Mn", "A13", "vocabulary",
              "AFLOW A_cP20_213_cd; parameters of Shoemaker et al., Acta Cryst. B 34, 3573 (1978)",
              "CN 12 (8c) and 14 (12d); chiral"),
    Prototype("sigma", "tP30", 136, "P4_2/mnm",
              (("2a", ("0", "0", "0")), ("4f", ("x2", "x2", "0")), ("8i", ("x3", "y3", "0")),
               ("8i", ("x4", "y4", "0")), ("8j", ("x5", "x5", "z5"))),
              {"x2": 0.3981, "x3": 0.4632, "y3": 0.1316, "x4": 0.7376, "y4": 0.0653, "x5": 0.1823, "z5": 0.2524},
              0.5176, "CrFe", "D8_b", "vocabulary",
              "AFLOW sigma-CrFe (D8_b) prototype; representative sigma-FeCr parameters (cf. Yakel, "
              "Acta Cryst. B 39, 20 (1983)), origin with the CN-12 site at 2a",
              "Frank-Kasper: CN 12 (2a), 15 (4f), 14 (8i), 12 (8i), 14 (8j); mean 13.47"),
    Prototype("clathrate_i", "cP46", 223, "Pm-3n",
              (("6c", ("1/4", "0", "1/2")), ("16i", ("x2", "x2", "x2")), ("24k", ("0", "y3", "z3"))),
              {"x2": 0.1835, "y3": 0.3083, "z3": 0.1172}, 1.0, "Si46 (Na8Si46 framework)", "", "vocabulary",
              "type-I clathrate framework (Kasper et al., Science 150, 1713 (1965); Adams et al., "
              "Phys. Rev. B 49, 8048 (1994); AFLOW Si46 page), representative Si/Ge parameters",
              "tetrahedral network (CN 4) of 5^12 and 5^12 6^2 cages; guests omitted"),
    Prototype("sh", "hP1", 191, "P6/mmm", (("1a", ("0", "0", "0")),), {}, 1.0,
              "simple hexagonal", "", "vocabulary",
              "AFLOW A_hP1_191_a; c/a = 1 chosen so 6 in-plane + 2 axial neighbours are equidistant",
              "CN 8 (6 + 2)"),
    Prototype("beta_sn", "tI4", 141, "I4_1/amd", (("4a", ("0", "0", "0")),), {}, 3.1819 / 5.8318,
              "beta-Sn", "A5", "vocabulary",
              "AFLOW A_tI4_141_a (origin choice 1); beta-Sn a = 5.8318 A, c = 3.1819 A (room temperature)",
              "CN 4 + 2 (distorted diamond)"),
    # ------------------------------------------------------------------ held out of training
    Prototype("alpha_mn", "cI58", 217, "I-43m",
              (("2a", ("0", "0", "0")), ("8c", ("x2", "x2", "x2")), ("24g", ("x3", "x3", "z3")),
               ("24g", ("x4", "x4", "z4"))),
              {"x2": 0.3179, "x3": 0.3571, "z3": 0.0347, "x4": 0.0896, "z4": 0.2819}, 1.0,
              "alpha-Mn", "A12", "held_out",
              "AFLOW A_cI58_217_ac2g; parameters of Bradley & Thewlis, Proc. R. Soc. A 115, 456 (1927), "
              "cf. Lawson et al., J. Appl. Phys. 76, 7049 (1994)",
              "locally distinct: CN 16, 16, 13, 12 on four sites"),
    Prototype("gamma_brass", "cI52", 217, "I-43m",
              (("8c", ("x1", "x1", "x1")), ("8c", ("x2", "x2", "x2")), ("12e", ("x3", "0", "0")),
               ("24g", ("x4", "x4", "z4"))),
              {"x1": 0.1089, "x2": 0.3280, "x3": 0.3558, "x4": 0.3128, "z4": 0.0366}, 1.0,
              "Cu5Zn8", "D8_2", "held_out",
              "AFLOW A5B8_cI52_217_ce_cg; parameters of Brandon et al., Acta Cryst. B 30, 1412 (1974)",
              "locally distinct: 26-atom clusters (IT, OT, OH, CO), distorted icosahedral CN 12-13 "
              "with contacts spread up to ~1.37 nn"),
    Prototype("alpha_pa", "tI2", 139, "I4/mmm", (("2a", ("0", "0", "0")),), {}, 3.238 / 3.925,
              "alpha-Pa", "A_a", "held_out",
              "AFLOW A_tI2_139_a; alpha-Pa a = 3.925 A, c = 3.238 A (Zachariasen, Acta Cryst. 5, 19 (1952))",
              "locally distinct: CN 8 + 2 (body-centred tetragonal between bcc and fcc on the Bain path)"),
    Prototype("c36", "hP24", 194, "P6_3/mmc",
              (("4e", ("0", "0", "z1")), ("4f", ("1/3", "2/3", "z2")), ("4f", ("1/3", "2/3", "z3")),
               ("6g", ("1/2", "0", "0")), ("6h", ("x5", "2*x5", "1/4"))),
              {"z1": 0.0937, "z2": 0.8439, "z3": 0.1250, "x5": 0.1649}, 15.826 / 4.824, "MgNi2", "C36", "held_out",
              "AFLOW AB2_hP24_194_ef_fgh; MgNi2 a = 4.824 A, c = 15.826 A, representative positional "
              "parameters (ideal: z1 = 3/32, z2 = 27/32, z3 = 1/8, x5 = 1/6)",
              "near twin of c14 and c15: a Laves polytype whose sites have C14- or C15-like environments"),
    Prototype("clathrate_ii", "cF136", 227, "Fd-3m",
              (("8a", ("1/8", "1/8", "1/8")), ("32e", ("x2", "x2", "x2")), ("96g", ("x3", "x3", "z3"))),
              {"x2": 0.2179, "x3": 0.0672, "z3": 0.3711}, 1.0, "Si136 (Na24Si136 framework)", "", "held_out",
              "AFLOW A_cF136_227_aeg (origin choice 2); Adams et al., Phys. Rev. B 49, 8048 (1994); "
              "Gryko et al., Phys. Rev. B 62, R7707 (2000)",
              "near twin of clathrate_i: tetrahedral network (CN 4) of 5^12 and 5^12 6^4 cages", setting=2),
)

PROTOTYPES = {p.name: p for p in _TABLE}
"""Every prototype by name."""

VOCABULARY = tuple(p.name for p in _TABLE if p.role == "vocabulary")
"""Prototypes meant for training; with :data:`md_orderml.structures.CRYSTALS` and "liquid"
they make the class vocabulary."""

HELD_OUT = tuple(p.name for p in _TABLE if p.role == "held_out")
"""Prototypes kept out of training (out-of-distribution tests); see :data:`NEAR_TWINS`."""

NEAR_TWINS = {"c36": ("c14", "c15"), "clathrate_ii": ("clathrate_i",)}
"""Held-out prototypes whose local environments repeat those of vocabulary members: report
them separately from the locally distinct held-out structures."""

SIMPLE_CLASSES = {  # name -> (Pearson, space group, symbol, prototype, Strukturbericht)
    "fcc": ("cF4", 225, "Fm-3m", "Cu", "A1"),
    "bcc": ("cI2", 229, "Im-3m", "W", "A2"),
    "hcp": ("hP2", 194, "P6_3/mmc", "Mg", "A3"),
    "sc": ("cP1", 221, "Pm-3m", "alpha-Po", "A_h"),
    "cd": ("cF8", 227, "Fd-3m", "C (diamond)", "A4"),
    "hd": ("hP4", 194, "P6_3/mmc", "C (lonsdaleite)", ""),
}
"""Crystallographic facts of the six simple crystals built by :mod:`md_orderml.structures`."""

_TERM = re.compile(r"[+-]?[^+-]+")


def coordinate(text: str, parameters: dict) -> float:
    """Value of one coordinate written as text, e.g. ``"1/4"``, ``"x2"``, ``"2*x3"``, ``"y2+1/4"``.

    Args:
        text: Sum of terms, each a number, a fraction, a parameter or ``number*parameter``.
        parameters: Values of the parameters named.

    Returns:
        The fractional coordinate.
    """
    value = 0.0
    for term in _TERM.findall(text.replace(" ", "")):
        sign, body = (-1.0, term[1:]) if term[0] == "-" else (1.0, term.lstrip("+"))
        factor, _, name = body.rpartition("*") if "*" in body else ("1", "", body)
        if name[0].isalpha():
            value += sign * float(fractions.Fraction(factor)) * parameters[name]
        else:
            value += sign * float(fractions.Fraction(body))
    return value


def free_parameter_axes(prototype: Prototype) -> dict:
    """The axis (0, 1, 2) along which each free parameter first moves an atom."""
    axes = {}
    for _, xyz in prototype.sites:
        for axis, text in enumerate(xyz):
            for name in re.findall(r"[a-z]\w*", text):
                axes.setdefault(name, axis)
    return axes


def nearest_distance(cell: np.ndarray, frac: np.ndarray) -> float:
    """Smallest distance between two atoms of a periodic crystal.

    Args:
        cell: Lattice vectors as rows, shape (3, 3).
        frac: Fractional positions, shape (n, 3).

    Returns:
        The nearest-neighbour distance (an atom's own periodic images included).
    """
    widths = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)
    bound = np.linalg.norm(cell, axis=1).min()  # distance to the atom's own image
    reach = np.ceil(bound / widths).astype(int)
    shifts = np.stack(np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij"), -1).reshape(-1, 3)
    diff = frac[None, :, :] - frac[:, None, :]
    diff -= np.round(diff)
    vectors = (diff[:, :, None, :] + shifts[None, None, :, :]) @ cell  # (n, n, shifts, 3)
    dist = np.linalg.norm(vectors, axis=-1)
    dist[dist < 1e-9] = np.inf
    return float(dist.min())


def _atoms_from_table(prototype: Prototype, parameters: dict, c_over_a: float):
    """The conventional cell (a = 1) as ASE ``Atoms`` built from the table."""
    from ase.spacegroup import crystal as ase_crystal

    basis = [[coordinate(t, parameters) for t in xyz] for _, xyz in prototype.sites]
    gamma = 120.0 if 168 <= prototype.space_group <= 194 else 90.0
    return ase_crystal(["X"] * len(basis), basis, spacegroup=prototype.space_group, setting=prototype.setting,
                       cellpar=[1.0, 1.0, c_over_a, 90.0, 90.0, gamma], onduplicates="error")


def _cell_from_table(prototype: Prototype, parameters: dict, c_over_a: float):
    """Conventional cell (a = 1) and fractional positions built by ASE from the table."""
    atoms = _atoms_from_table(prototype, parameters, c_over_a)
    return np.array(atoms.cell[:]), atoms.get_scaled_positions()


@functools.cache
def _ideal_sites(name: str) -> np.ndarray:
    prototype = PROTOTYPES[name]
    atoms = _atoms_from_table(prototype, prototype.parameters, prototype.c_over_a)
    return np.asarray(atoms.get_array("spacegroup_kinds"), dtype=np.int64)


def site_indices(name: str) -> np.ndarray:
    """The Wyckoff site of each atom of :func:`conventional_cell`'s cell.

    Entry i is the index into ``PROTOTYPES[name].sites`` of the site that atom i of the
    conventional cell occupies (ASE's ``spacegroup_kinds``), in the order of the fractional
    positions :func:`conventional_cell` returns (perturbed cells keep that order: the
    perturbation moves atoms within their site's orbit). :func:`md_orderml.structures.crystal`
    stacks these cells one after the other, so the site of particle j of one of its supercells
    of a prototype is ``np.tile(site_indices(name), N // len(site_indices(name)))[j]``.

    Args:
        name: A key of :data:`PROTOTYPES`.

    Returns:
        Site indices, shape (n,), int64, n = atoms per conventional cell; e.g. ``"a15"``:
        two atoms on site 0 (2a) and six on site 1 (6c).

    Raises:
        InputError: ``name`` is not a prototype.
    """
    if name not in PROTOTYPES:
        raise InputError(f"unknown prototype {name!r}; known: {', '.join(PROTOTYPES)}")
    return _ideal_sites(name).copy()


@functools.cache
def _ideal_cell(name: str):
    prototype = PROTOTYPES[name]
    cell, frac = _cell_from_table(prototype, prototype.parameters, prototype.c_over_a)
    nn = nearest_distance(cell, frac)
    return cell / nn, frac, nn


def conventional_cell(name: str, perturb: float = 0.0, rng: np.random.Generator | None = None):
    """The conventional cell of a prototype, scaled to nearest-neighbour distance 1.

    With ``perturb > 0`` the free parameters are perturbed without breaking the space group:
    each free Wyckoff parameter moves its atoms by ``perturb * u`` nearest-neighbour
    distances along the axis where it first appears, and c/a (not for cubic prototypes) is
    multiplied by ``1 + perturb * u``, with independent ``u ~ U(-1, 1)``. The shift is
    relative to the nearest-neighbour distance, not to the parameter's value, because a
    fractional coordinate's value depends on the origin (x = 0.83 and x = -0.17 are the
    same site). The result is rescaled to nearest-neighbour distance 1 again.

    Args:
        name: A key of :data:`PROTOTYPES`.
        perturb: Relative size of the perturbation, 0 <= perturb < 0.2 (e.g. 0.02).
        rng: Generator for the perturbation (used only when ``perturb > 0``).

    Returns:
        ``(cell, frac)``: lattice vectors as rows, shape (3, 3), and fractional positions,
        shape (n, 3), n = atoms per conventional cell.
    """
    if name not in PROTOTYPES:
        known = ", ".join(list(SIMPLE_CLASSES) + list(PROTOTYPES))
        if name in SIMPLE_CLASSES:
            raise InputError(f"perturb applies to the prototypes only, not to {name!r}")
        raise InputError(f"unknown crystal kind {name!r}; known: {known}")
    if not 0.0 <= perturb < 0.2:
        raise InputError(f"perturb must be in [0, 0.2), got {perturb}")
    cell, frac, nn = _ideal_cell(name)
    if perturb == 0:
        return cell.copy(), frac.copy()
    prototype = PROTOTYPES[name]
    rng = np.random.default_rng(rng)
    lengths = (1.0, 1.0, prototype.c_over_a)
    parameters = dict(prototype.parameters)
    for key, axis in free_parameter_axes(prototype).items():
        parameters[key] += perturb * rng.uniform(-1.0, 1.0) * nn / lengths[axis]
    c_over_a = prototype.c_over_a
    if prototype.space_group < 195:
        c_over_a *= 1.0 + perturb * rng.uniform(-1.0, 1.0)
    cell, frac = _cell_from_table(prototype, parameters, c_over_a)
    return cell / nearest_distance(cell, frac), frac
