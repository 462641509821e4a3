"""Crystal prototypes beyond the six simple crystals, as one-type crystals (issue 21).

Frank-Kasper phases (A15, C14, C15, sigma, beta-Mn), the type-I clathrate framework,
simple hexagonal and beta-Sn are the training VOCABULARY; alpha-Mn, gamma-brass and
alpha-Pa (body-centred tetragonal) are HELD_OUT as locally distinct structures, and C36
and the type-II clathrate as near twins of vocabulary members (:data:`NEAR_TWINS`). Each
is built by ASE's ``ase.spacegroup.crystal`` from its space group and Wyckoff sites
(:mod:`md_orderml.prototype_table` holds the table and its sources); all sites carry one
particle type, as in colloidal crystals. ``docs/prototypes.md`` shows the table.

Example:
    >>> from md_orderml.prototypes import prototype_crystal, class_info
    >>> s = prototype_crystal("a15", noise=0.05, rotation="random", seed=1)
    >>> class_info("a15")["space_group_symbol"]
    'Pm-3n'
"""

from md_orderml import structures
from md_orderml.errors import InputError
from md_orderml.prototype_table import (
    HELD_OUT,
    NEAR_TWINS,
    PROTOTYPES,
    SIMPLE_CLASSES,
    VOCABULARY,
    Prototype,
    conventional_cell,
    free_parameter_axes,
    site_indices,
)

__all__ = ["HELD_OUT", "NEAR_TWINS", "PROTOTYPES", "VOCABULARY", "Prototype", "class_info", "conventional_cell",
           "free_parameter_axes", "markdown_table", "prototype_crystal", "site_indices"]


def prototype_crystal(name: str, nn_distance: float = 1.0, min_width: float = 6.0, noise: float = 0.0,
                      rotation=None, seed=None, perturb: float = 0.0, n_types: int = 1) -> structures.Structure:
    """A periodic supercell of a prototype crystal, like :func:`md_orderml.structures.crystal`.

    The conventional cell is scaled so that the nearest-neighbour distance equals
    ``nn_distance`` and replicated until every perpendicular width is at least
    ``min_width * nn_distance``. Random numbers are drawn in this order from one
    Generator built from ``seed``: perturbation, noise, types, rotation.

    Args:
        name: A key of :data:`PROTOTYPES`.
        nn_distance: Nearest-neighbour distance of the (perturbed) ideal crystal.
        min_width: Smallest perpendicular width of the supercell, in ``nn_distance``.
        noise: Gaussian displacement std per coordinate as a fraction of ``nn_distance``.
        rotation: ``None``, a (3, 3) rotation matrix, or ``"random"``.
        seed: Seed or Generator.
        perturb: Relative random change of the free Wyckoff parameters (atoms move by up
            to ``perturb`` nearest-neighbour distances) and of c/a (by up to a fraction
            ``perturb``); the space group is kept. E.g. 0.02 for a +-2 % robustness test.
        n_types: More than 1 assigns types at random (a chemically disordered crystal).

    Returns:
        The structure: positions (N, 3), cell (3, 3), types (N,), label ``name``.
    """
    if name not in PROTOTYPES:
        raise InputError(f"unknown prototype {name!r}; known: {', '.join(PROTOTYPES)}")
    return structures.crystal(name, nn_distance=nn_distance, min_width=min_width, noise=noise,
                              rotation=rotation, n_types=n_types, seed=seed, perturb=perturb)


def class_info(name: str) -> dict:
    """Crystallographic facts of a class label, for a model file's metadata.

    Args:
        name: A prototype, one of :data:`md_orderml.structures.CRYSTALS`, or "liquid".

    Returns:
        ``{"name", "pearson_symbol", "prototype", "strukturbericht", "space_group_number",
        "space_group_symbol", "role"}``; role is "vocabulary", "held_out" or, for the liquid,
        "vocabulary" with the crystallographic entries ``None``.
    """
    if name in PROTOTYPES:
        p = PROTOTYPES[name]
        facts = (p.pearson, p.space_group, p.space_group_symbol, p.compound, p.strukturbericht)
        role = p.role
    elif name in SIMPLE_CLASSES:
        facts, role = SIMPLE_CLASSES[name], "vocabulary"
    elif name == "liquid":
        facts, role = (None,) * 5, "vocabulary"
    else:
        raise InputError(f"no class information for {name!r}")
    pearson, number, symbol, compound, strukturbericht = facts
    return {"name": name, "pearson_symbol": pearson, "prototype": compound, "strukturbericht": strukturbericht,
            "space_group_number": number, "space_group_symbol": symbol, "role": role}


def _markdown_sites(p: Prototype) -> str:
    sites = "; ".join(f"{letter} ({', '.join(xyz)})" for letter, xyz in p.sites)
    values = ", ".join(f"{k} = {v:g}" for k, v in p.parameters.items())
    return sites + (f"; {values}" if values else "")


def markdown_table() -> str:
    """The prototype table as Markdown (the table of ``docs/prototypes.md``).

    Returns:
        One header, one separator and one row per prototype, newline-terminated.
    """
    rows = ["| name | role | Pearson | space group | prototype | Wyckoff sites; parameters | c/a | source |",
            "|---|---|---|---|---|---|---|---|"]
    for p in PROTOTYPES.values():
        role = p.role.replace("_", " ") + (f" (near twin of {', '.join(NEAR_TWINS[p.name])})"
                                           if p.name in NEAR_TWINS else "")
        compound = p.compound + (f" ({p.strukturbericht})" if p.strukturbericht else "")
        axial = "-" if p.space_group >= 195 else f"{p.c_over_a:.4f}"
        rows.append(f"| `{p.name}` | {role} | {p.pearson} | {p.space_group_symbol} ({p.space_group}) | {compound} "
                    f"| {_markdown_sites(p)} | {axial} | {p.source} |")
    return "\n".join(rows) + "\n"
