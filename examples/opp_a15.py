"""The A15-forming oscillating pair potential shared by the A15 growth examples (HOOMD-blue and LAMMPS).

``U(r) = C1 r^-eta1 + C2 r^-eta2 cos(k r - phi)`` (OPP; Mihalkovic and Henley 2012), the
isotropic potential with which Dshemuchadse et al. (PNAS 2021) self-assembled A15, sigma,
clathrates and more, cut and shifted to 0 at :data:`R_CUT`. At the parameters here the
ideal A15 lattice has the lowest energy per particle at T = 0 of every crystal in
md_orderml's prototype library (sigma next, 0.13 higher; :func:`lattice_energies` checks it).
HOOMD-blue has the potential (``hoomd.md.pair.OPP``); LAMMPS reads it as a ``pair_style table``
(:func:`write_lammps_table`).
"""

import numpy as np

#: OPP parameters in HOOMD's convention (``phi`` = k + 0.52: a well at r = 1 + (pi - 0.52) / k).
OPP = dict(C1=1.0, C2=1.0, eta1=15.0, eta2=3.0, k=8.75, phi=8.75 + 0.52)
R_CUT = 2.5  #: cutoff, in the potential's length unit
NN_DISTANCE = 1.18  #: nearest-neighbour distance of A15 at its lowest-energy density
#: The crystals compared: the prototype library's vocabulary, held-out structures and near twins.
LIBRARY = ("fcc", "bcc", "hcp", "sc", "cd", "hd", "a15", "c14", "c15", "sigma", "beta_mn", "clathrate_i", "sh",
           "beta_sn", "alpha_mn", "gamma_brass", "c36", "clathrate_ii", "alpha_pa")


def _unshifted(r: np.ndarray) -> np.ndarray:
    return OPP["C1"] * r ** -OPP["eta1"] + OPP["C2"] * r ** -OPP["eta2"] * np.cos(OPP["k"] * r - OPP["phi"])


def opp_energy(r: np.ndarray) -> np.ndarray:
    """The pair energy, shifted to 0 at :data:`R_CUT` (as HOOMD's ``mode="shift"``), 0 beyond; r of any shape."""
    r = np.asarray(r, dtype=float)
    return np.where(r < R_CUT, _unshifted(r) - _unshifted(np.float64(R_CUT)), 0.0)


def opp_force(r: np.ndarray) -> np.ndarray:
    """The pair force ``-dU/dr`` (positive: repulsive), 0 beyond :data:`R_CUT`; r of any shape."""
    r = np.asarray(r, dtype=float)
    c1, c2, e1, e2, k, phi = (OPP[n] for n in ("C1", "C2", "eta1", "eta2", "k", "phi"))
    du = -e1 * c1 * r ** (-e1 - 1) - e2 * c2 * r ** (-e2 - 1) * np.cos(k * r - phi) \
        - k * c2 * r ** -e2 * np.sin(k * r - phi)
    return np.where(r < R_CUT, -du, 0.0)


def write_lammps_table(path, keyword: str = "OPP", points: int = 2000, r_min: float = 0.6) -> str:
    """Write the potential as a LAMMPS ``pair_style table`` file (``N points R r_min R_CUT``).

    Args:
        path: Output file.
        keyword: Section keyword (``pair_coeff 1 1 FILE KEYWORD``).
        points: Table points.
        r_min: Smallest tabulated distance (particles never come this close: U(0.6) ~ 2000).

    Returns:
        The path, as a string.
    """
    r = np.linspace(r_min, R_CUT, points)
    lines = [f"# OPP {OPP}, shifted to 0 at {R_CUT} (examples/opp_a15.py)", "", keyword,
             f"N {points} R {r_min} {R_CUT}", ""]
    lines += [f"{i + 1} {x:.10g} {e:.12g} {f:.12g}" for i, (x, e, f) in enumerate(zip(r, opp_energy(r), opp_force(r)))]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return str(path)


def lattice_energies(names=LIBRARY) -> dict:
    """Energy per particle of each ideal crystal at its best nn distance (0.85-1.7), no relaxation.

    Args:
        names: Crystal names of :func:`md_orderml.structures.crystal`.

    Returns:
        ``{name: (energy per particle, nn distance)}``, lowest energy first.
    """
    import freud

    from md_orderml import structures

    scales = np.linspace(0.85, 1.7, 171)[:, None]
    result = {}
    for name in names:
        s = structures.crystal(name, nn_distance=1.0, min_width=2 * R_CUT / scales[0, 0] + 0.5)
        box = freud.box.Box.from_matrix(np.asarray(s.cell).T)
        query = freud.locality.AABBQuery(box, s.positions)
        nlist = query.query(s.positions, dict(r_max=R_CUT / scales[0, 0], exclude_ii=True)).toNeighborList()
        shells, count = np.unique(np.round(np.asarray(nlist.distances), 6), return_counts=True)
        energy = (opp_energy(shells[None, :] * scales) * count[None, :]).sum(axis=1) / (2 * len(s.positions))
        best = int(energy.argmin())
        result[name] = (float(energy[best]), float(scales[best, 0]))
    return dict(sorted(result.items(), key=lambda item: item[1][0]))


def ranking_line(ranking: dict, shown: int = 6) -> str:
    """One printable line of the lowest ``shown`` lattice energies of :func:`lattice_energies`."""
    return "lattice energy per particle at T = 0 (lowest first): " + \
        ", ".join(f"{name} {e:.3f}" for name, (e, _) in list(ranking.items())[:shown])


if __name__ == "__main__":  # python examples/opp_a15.py [TABLE]: write the LAMMPS table, print the ranking
    import sys

    print("wrote", write_lammps_table(sys.argv[1] if len(sys.argv) > 1 else "opp.table"))
    print(ranking_line(lattice_energies()))
