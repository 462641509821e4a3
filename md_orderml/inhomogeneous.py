"""Inhomogeneous reference systems (issue 20): crystals with surfaces, interfaces and a size spread.

Each generator returns an :class:`Inhomogeneous` system: the frame, which particles are
crystal, each crystal particle's *depth* (its ideal lattice site's distance to the
crystal's surface) and, where it exists, the periodic bulk box holding the same noisy
crystal particles, so labels deep inside can be compared with the labels of bulk.
Lengths are in units of the crystal's nearest-neighbour distance; thermal noise is a
Gaussian displacement of ``noise`` (default 5 %) per coordinate.

* :func:`nanoparticle`: a sphere cut from a periodic crystal, in an open box.
* :func:`slab`: a crystal slab (normal along the third lattice vector, a whole number of
  periods thick) periodic in the other two directions, with a vacuum gap of ten times its
  thickness (periodic box), an LJ liquid 30 % less dense than the crystal, or a dilute
  vapour (2 % of the crystal's density, ideal-gas positions kept 1 apart from the crystal).
* :func:`cluster_in_liquid`: a crystal sphere holding 10 % of the particles inside a
  liquid 50 % denser than the crystal (periodic box), so neither the box's ``(V/N)^(1/3)``
  (10 % below the crystal's unit: the seven-class global-unit model labels 75 % of bcc
  particles two shells in as bcc, 100 % at 30 % denser) nor any other per-frame statistic
  is the crystal's length scale.
* :func:`polydisperse`: a periodic crystal of particles whose diameters spread by 10 %.

Liquids are cut from one periodic Lennard-Jones liquid (:func:`md_orderml.structures.liquid`,
density 0.85, T 1.5), replicated and uniformly rescaled to the density asked for; liquid
particles closer than 0.7 liquid spacings to one another (seams of the replicas) or than
0.85 mean spacings to a crystal particle are removed. Nothing is relaxed across an
interface: the crystal is as cut, the liquid as the bulk liquid was.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Optional, Tuple

import numpy as np

from md_orderml import structures
from md_orderml.frame import Frame
from md_orderml.system import box_from_cell

__all__ = ["Inhomogeneous", "crystal_density", "nanoparticle", "slab", "cluster_in_liquid", "polydisperse",
           "lj_liquid", "SURROUNDINGS"]

NOISE = 0.05  #: Default thermal noise, fraction of the nearest-neighbour distance.
SURROUNDINGS = ("vacuum", "liquid", "vapour")  #: What :func:`slab` puts next to the crystal.
_BASE_DENSITY_LJ = 0.85  #: Density (sigma^-3) of the liquid every liquid is cut from.


@dataclasses.dataclass
class Inhomogeneous:
    """One generated system with its ground truth.

    Attributes:
        name: The kind of system (``"nanoparticle"``, ``"slab+vacuum"``, ...).
        kind: The crystal's structure (``"fcc"``, ...): its particles' bulk label.
        frame: The configuration, N particles (``box.periodic`` set).
        crystal: Which particles belong to the crystal, shape (N,) bool.
        depth: Distance of each crystal particle's ideal site to the crystal's surface, in
            the frame's length unit, shape (N,) float (``inf`` without surface, NaN for other
            particles).
        bulk: The periodic crystal holding the same noisy crystal particles, or None.
        bulk_index: Index in ``bulk`` of each crystal particle (-1 elsewhere), shape (N,) int, or None.
        nn: The crystal's nearest-neighbour distance in the frame's length unit (1 here).
    """

    name: str
    kind: str
    frame: Frame
    crystal: np.ndarray
    depth: np.ndarray
    bulk: Optional[Frame] = None
    bulk_index: Optional[np.ndarray] = None
    nn: float = 1.0

    @property
    def N(self) -> int:
        """Number of particles."""
        return self.frame.N


def crystal_density(kind: str) -> float:
    """Particles per unit volume of the ideal crystal with nearest-neighbour distance 1."""
    s = structures.crystal(kind, min_width=1.0)
    return s.N / abs(np.linalg.det(s.cell))


def _frame(positions: np.ndarray, cell: np.ndarray, periodic, source: str) -> Frame:
    box, rotation = box_from_cell(cell, tuple(periodic), where=source)
    positions = positions if rotation is None else positions @ rotation
    return Frame(positions=positions, box=box, source=source)


def _noisy_crystal(kind: str, min_width: float, noise: float, rng) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sites (N, 3), noisy positions (N, 3), cell (3, 3))`` of a periodic supercell."""
    s = structures.crystal(kind, min_width=min_width)
    return s.positions, s.positions + rng.normal(0.0, noise, s.positions.shape), s.cell


def _sphere(kind: str, radius: float, noise: float, rng):
    """A crystal sphere cut from a periodic supercell: sites, positions, depth (M,), the bulk frame and indices."""
    sites, noisy, cell = _noisy_crystal(kind, 2.0 * radius + 3.0, noise, rng)
    centre = 0.5 * cell.sum(axis=0) + rng.uniform(-0.5, 0.5, 3)  # not on a site: no special symmetry
    r = np.linalg.norm(sites - centre, axis=1)
    inside = np.flatnonzero(r < radius)
    bulk = _frame(noisy, cell, (True, True, True), f"{kind} periodic bulk")
    return sites[inside] - centre, noisy[inside] - centre, r[inside].max() - r[inside], bulk, inside


def nanoparticle(kind: str, n: int = 3000, noise: float = NOISE, seed=0, vacuum: float = 10.0) -> Inhomogeneous:
    """A sphere of about ``n`` particles cut from a noisy crystal, in a box open in every direction.

    Args:
        kind: Crystal structure.
        n: About how many particles.
        noise: Thermal noise (fraction of the nn distance).
        seed: Seed or Generator.
        vacuum: Empty space between the particle and each face of the (open) box.

    Returns:
        The system; ``bulk`` is the periodic crystal it was cut from.
    """
    rng = np.random.default_rng(seed)
    radius = (3.0 * n / (4.0 * np.pi * crystal_density(kind))) ** (1.0 / 3.0)
    _, positions, depth, bulk, index = _sphere(kind, radius, noise, rng)
    edge = 2.0 * (radius + vacuum)
    frame = _frame(positions + 0.5 * edge, np.eye(3) * edge, (False, False, False), f"{kind} nanoparticle")
    m = len(positions)
    return Inhomogeneous("nanoparticle", kind, frame, np.ones(m, bool), depth, bulk, index)


@functools.lru_cache(maxsize=4)
def lj_liquid(n: int = 1000, steps: int = 600, seed: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """The periodic LJ liquid every liquid is cut from: positions (n, 3) and its cubic cell (3, 3), nn units."""
    s = structures.liquid(n=n, density=_BASE_DENSITY_LJ, temperature=1.5, steps=steps, seed=seed)
    return s.positions, s.cell


def _liquid_spacing(density: float) -> float:
    """The rescaling factor that takes the base liquid to ``density`` (particles per nn^3)."""
    base = _BASE_DENSITY_LJ / structures.LJ_SIGMA ** 3
    return (base / density) ** (1.0 / 3.0)


def _tiled_liquid(cell: np.ndarray, lo: float, hi: float, density: float, rng, liquid) -> np.ndarray:
    """Liquid positions (M, 3) filling fractions ``lo <= s3 < hi`` of ``cell`` (and all of s1, s2)."""
    base, base_cell = liquid
    f = _liquid_spacing(density)
    edge = base_cell[0, 0] * f
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (lo, hi)]) @ cell
    low, high = corners.min(axis=0), corners.max(axis=0)
    shift = rng.uniform(0.0, edge, 3)
    counts = np.ceil((high - low + edge) / edge).astype(int)
    grid = np.stack(np.meshgrid(*(np.arange(c) for c in counts), indexing="ij"), axis=-1).reshape(-1, 3)
    points = (base[None, :, :] * f + grid[:, None, :] * edge).reshape(-1, 3) + low - shift
    s = points @ np.linalg.inv(cell)
    keep = (s[:, 0] >= 0) & (s[:, 0] < 1) & (s[:, 1] >= 0) & (s[:, 1] < 1) & (s[:, 2] >= lo) & (s[:, 2] < hi)
    return points[keep]


def _close_pairs(positions: np.ndarray, cell: np.ndarray, periodic, radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` closer than ``radius`` (periodic images included): two (P,) int arrays."""
    import torch

    from md_orderml.neighbors import radius_graph_shifts

    edges, _, _ = radius_graph_shifts(torch.as_tensor(positions, dtype=torch.float64),
                                      torch.as_tensor(cell, dtype=torch.float64),
                                      torch.tensor(list(periodic)), float(radius))
    i, j = edges.numpy()
    keep = i < j
    return i[keep], j[keep]


def _remove_overlaps(fixed: np.ndarray, added: np.ndarray, cell: np.ndarray, periodic, cross: float,
                     within: float) -> np.ndarray:
    """``added`` without particles closer than ``cross`` to ``fixed`` or than ``within`` to one another."""
    n = len(fixed)
    both = np.concatenate([fixed, added])
    i, j = _close_pairs(both, cell, periodic, max(cross, within))
    d = np.linalg.norm(_minimum_image(both[j] - both[i], cell, periodic), axis=1)
    drop = np.zeros(len(both), bool)
    hit = (i < n) & (j >= n) & (d < cross)
    drop[j[hit]] = True
    for a, b in zip(i[(i >= n) & (d < within)], j[(i >= n) & (d < within)]):
        if not drop[a] and not drop[b]:
            drop[b] = True
    return added[~drop[n:]]


def _minimum_image(vectors: np.ndarray, cell: np.ndarray, periodic) -> np.ndarray:
    s = vectors @ np.linalg.inv(cell)
    s -= np.round(s) * np.asarray(periodic, dtype=float)
    return s @ cell


def slab(kind: str, surroundings: str = "vacuum", thickness: float = 16.0, width: float = 7.0,
         noise: float = NOISE, seed=0, liquid_ratio: float = 0.7, vapour_ratio: float = 0.02,
         liquid=None) -> Inhomogeneous:
    """A crystal slab, periodic along its plane, next to vacuum, a less dense liquid or a vapour.

    The slab is a periodic supercell of the conventional cell, at least ``width`` wide in its
    first two lattice directions and ``thickness`` along the third; the system's box is periodic in every
    direction and ``11 x`` (vacuum), ``2 x`` (liquid) or ``4 x`` (vapour) the slab's height.

    Args:
        kind: Crystal structure.
        surroundings: ``"vacuum"``, ``"liquid"`` or ``"vapour"``.
        thickness, width: Least slab thickness and in-plane widths (nn units).
        noise: Thermal noise of the crystal (fraction of the nn distance).
        seed: Seed or Generator.
        liquid_ratio: Liquid density over the crystal's.
        vapour_ratio: Vapour density over the crystal's.
        liquid: ``(positions, cell)`` of the base liquid (:func:`lj_liquid` by default).

    Returns:
        The system, crystal particles first; ``bulk`` is the slab in its own periodic cell.
    """
    if surroundings not in SURROUNDINGS:
        raise ValueError(f"surroundings must be one of {SURROUNDINGS}, got {surroundings!r}")
    rng = np.random.default_rng(seed)
    unit = structures.crystal(kind, min_width=1e-3)  # the conventional cell
    reps = np.ceil(np.array([width, width, thickness]) / structures._widths(unit.cell) - 1e-9).astype(int)
    grid = np.stack(np.meshgrid(*(np.arange(r) for r in reps), indexing="ij"), axis=-1).reshape(-1, 3)
    sites = (unit.positions[None] + (grid @ unit.cell)[:, None]).reshape(-1, 3)
    cell = unit.cell * reps[:, None]
    noisy = sites + rng.normal(0.0, noise, sites.shape)
    bulk = _frame(noisy, cell, (True, True, True), f"{kind} periodic slab bulk")
    normal = np.cross(cell[0], cell[1])
    height = sites @ (normal / np.linalg.norm(normal))
    depth = np.minimum(height - height.min(), height.max() - height)
    factor = {"vacuum": 11, "liquid": 2, "vapour": 4}[surroundings]
    full = cell.copy()
    full[2] = cell[2] * factor
    rho = crystal_density(kind)
    other = np.zeros((0, 3))
    if surroundings == "liquid":
        spacing = _liquid_spacing(liquid_ratio * rho)
        other = _tiled_liquid(full, 1.0 / factor, 1.0, liquid_ratio * rho, rng, liquid or lj_liquid())
        other = _remove_overlaps(noisy, other, full, (True,) * 3, 0.85 * (1.0 + spacing) / 2.0, 0.7 * spacing)
    elif surroundings == "vapour":
        count = rng.poisson(vapour_ratio * rho * abs(np.linalg.det(full)) * (factor - 1) / factor)
        s = rng.uniform(0.0, 1.0, (count, 3))
        s[:, 2] = (1.0 + s[:, 2] * (factor - 1)) / factor
        other = _remove_overlaps(noisy, s @ full, full, (True,) * 3, 1.0, 0.8)
    positions = np.concatenate([noisy, other])
    m, n = len(noisy), len(positions)
    frame = _frame(positions, full, (True, True, True), f"{kind} slab + {surroundings}")
    crystal = np.arange(n) < m
    return Inhomogeneous(f"slab+{surroundings}", kind, frame, crystal, _pad(depth, n), bulk,
                         np.where(crystal, np.arange(n), -1))


def _pad(depth: np.ndarray, n: int) -> np.ndarray:
    """Crystal depths (M,) followed by NaN up to (N,)."""
    return np.concatenate([depth, np.full(n - len(depth), np.nan)])


def cluster_in_liquid(kind: str, fraction: float = 0.1, density_ratio: float = 1.5, tiles: int = 2,
                      noise: float = NOISE, seed=0, liquid=None) -> Inhomogeneous:
    """A crystal sphere holding ``fraction`` of the particles inside a liquid ``density_ratio`` times denser.

    The liquid is the base liquid replicated ``tiles`` times along each axis (so the box is
    periodic without seams) and rescaled to the density; the crystal is cut from a noisy
    periodic crystal and put at the centre, displacing the liquid.

    Args:
        kind: Crystal structure.
        fraction: About which fraction of all particles is crystal.
        density_ratio: Liquid density over the crystal's.
        tiles: Replicas of the base liquid per axis.
        noise: Thermal noise of the crystal.
        seed: Seed or Generator.
        liquid: ``(positions, cell)`` of the base liquid (:func:`lj_liquid` by default).

    Returns:
        The system, crystal particles first; ``bulk`` is the periodic crystal the sphere was cut from.
    """
    rng = np.random.default_rng(seed)
    base, base_cell = liquid or lj_liquid()
    rho_c = crystal_density(kind)
    rho_l = density_ratio * rho_c
    f = _liquid_spacing(rho_l)
    edge = tiles * base_cell[0, 0] * f
    volume = edge ** 3 * fraction * rho_l / ((1.0 - fraction) * rho_c + fraction * rho_l)
    radius = (3.0 * volume / (4.0 * np.pi)) ** (1.0 / 3.0)
    sites, crystal_pos, depth, bulk, index = _sphere(kind, radius, noise, rng)
    grid = np.stack(np.meshgrid(*(np.arange(tiles),) * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    liquid_pos = (base[None] * f + grid[:, None, :] * base_cell[0, 0] * f).reshape(-1, 3)
    outside = np.linalg.norm(liquid_pos - 0.5 * edge, axis=1) > np.linalg.norm(sites, axis=1).max() + 0.5
    liquid_pos = liquid_pos[outside]  # none in the crystal's voids (cd has room for them)
    crystal_pos = crystal_pos + 0.5 * edge
    cell = np.eye(3) * edge
    liquid_pos = _remove_overlaps(crystal_pos, liquid_pos, cell, (True,) * 3, 0.85 * (1.0 + f) / 2.0, 0.0)
    positions = np.concatenate([crystal_pos, liquid_pos])
    m, n = len(crystal_pos), len(positions)
    frame = _frame(positions, cell, (True, True, True), f"{kind} cluster in a denser liquid")
    crystal = np.arange(n) < m
    return Inhomogeneous("cluster+liquid", kind, frame, crystal, _pad(depth, n), bulk,
                         np.where(crystal, index[np.minimum(np.arange(n), m - 1)], -1))


def polydisperse(kind: str, spread: float = 0.1, min_width: float = 8.0, noise: float = NOISE, seed=0,
                 iterations: int = 400) -> Inhomogeneous:
    """A periodic crystal of particles with diameters ``1 + spread * xi`` (xi standard normal, cut at +-2.5).

    Every pair of the ideal lattice closer than 1.7 nn distances (the first two shells)
    becomes a spring of rest length ``|r_ij| (d_i + d_j) / 2`` (diameters in nn units, mean
    1: the lattice constant stays; second-shell springs keep bcc and cd rigid), relaxed by
    gradient descent in the periodic box; then the thermal noise is added. The lattice's
    topology stays; the network frustrates part of the spread (measured without noise, at
    ``spread = 0.1``: nearest-neighbour distances spread by 2.8-3.2 %: fcc 3.1, bcc 2.8, hcp 3.0, cd 3.2 %).

    Args:
        kind: Crystal structure.
        spread: Relative standard deviation of the radii.
        min_width: Least perpendicular width of the periodic box (nn units).
        noise: Thermal noise after the relaxation.
        seed: Seed or Generator.
        iterations: Gradient-descent steps.

    Returns:
        The system: every particle is crystal, depth ``inf``, no bulk comparison.
    """
    rng = np.random.default_rng(seed)
    s = structures.crystal(kind, min_width=min_width)
    x, cell, n = s.positions.copy(), s.cell, s.N
    i, j = _close_pairs(x, cell, (True,) * 3, 1.7)
    diameters = 1.0 + spread * np.clip(rng.normal(size=n), -2.5, 2.5)
    ideal = np.linalg.norm(_minimum_image(x[j] - x[i], cell, (True,) * 3), axis=1)
    rest = ideal * 0.5 * (diameters[i] + diameters[j])
    degree = np.bincount(np.concatenate([i, j]), minlength=n)
    step = 0.25 / degree.max()  # below the stability limit of the spring network
    for _ in range(iterations):
        d = _minimum_image(x[j] - x[i], cell, (True,) * 3)
        length = np.linalg.norm(d, axis=1)
        g = ((length - rest) / length)[:, None] * d  # pulls j towards i when stretched
        grad = np.zeros_like(x)
        np.add.at(grad, i, -g)
        np.add.at(grad, j, g)
        x -= 2.0 * step * grad
    x = x + rng.normal(0.0, noise, x.shape)
    frame = _frame(x, cell, (True, True, True), f"{kind} polydisperse ({spread:.0%} diameters)")
    return Inhomogeneous("polydisperse", kind, frame, np.ones(n, bool), np.full(n, np.inf))
