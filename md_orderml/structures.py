"""Reference structures for training and tests: ideal and noisy crystals, LJ liquids, coexistence.

Everything is deterministic given ``seed`` (a :class:`numpy.random.Generator` is built
from it). Lengths are in units of the nearest-neighbour distance ``nn_distance``:

* Crystals are scaled so their nearest-neighbour distance equals ``nn_distance``.
* Liquids are simulated in Lennard-Jones units (sigma = epsilon = mass = 1,
  cutoff 2.5 sigma) and then rescaled by ``nn_distance / 2**(1/6)``, i.e. the minimum
  of the pair potential sits at ``nn_distance`` and sigma becomes
  ``nn_distance * 2**(-1/6)`` (0.891 for ``nn_distance = 1``). At the default state
  point (density 0.9, T 1.5) the first peak of g(r) is at ~0.93 ``nn_distance``: like
  a real LJ liquid next to its crystal, whose neighbours sit near the potential minimum.

Cells are rows of lattice vectors in any orientation; :meth:`Structure.to_frame`
rotates a structure into the HOOMD box convention of :class:`~md_orderml.frame.Frame`.
torch is imported only by the liquid simulation (it uses
:func:`md_orderml.neighbors.radius_graph_shifts`).
"""

import dataclasses
import itertools
from typing import Optional, Union

import numpy as np

from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame

CRYSTALS = ("fcc", "bcc", "hcp", "sc", "cd", "hd")
"""Crystal kinds: cd = cubic diamond, hd = hexagonal diamond (lonsdaleite)."""

COORDINATION = {"fcc": 12, "bcc": 8, "hcp": 12, "sc": 6, "cd": 4, "hd": 4}
"""Number of nearest neighbours of each crystal kind."""

LJ_SIGMA = 2.0 ** (-1.0 / 6.0)
"""Lennard-Jones sigma of :func:`liquid` and :func:`mixed` in units of ``nn_distance``."""

_HEX = np.array([[1.0, 0.0, 0.0], [0.5, np.sqrt(3.0) / 2, 0.0], [0.0, 0.0, np.sqrt(8.0 / 3.0)]])
_FCC = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
# kind -> (cell rows for lattice constant 1, fractional basis, nearest-neighbour distance)
_LATTICES = {
    "sc": (np.eye(3), np.zeros((1, 3)), 1.0),
    "bcc": (np.eye(3), np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), np.sqrt(3.0) / 2),
    "fcc": (np.eye(3), _FCC, 1.0 / np.sqrt(2.0)),
    "cd": (np.eye(3), np.concatenate([_FCC, _FCC + 0.25]), np.sqrt(3.0) / 4),
    "hcp": (_HEX, np.array([[0, 0, 0], [1 / 3, 1 / 3, 0.5]]), 1.0),
    "hd": (_HEX, np.array([[0, 0, 0], [1 / 3, 1 / 3, 0.5], [0, 0, 3 / 8], [1 / 3, 1 / 3, 7 / 8]]),
           3 / 8 * np.sqrt(8.0 / 3.0)),
}


def _wrap(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Positions (N, 3) mapped into the cell spanned from the origin by its rows."""
    frac = positions @ np.linalg.inv(cell)
    return (frac - np.floor(frac)) @ cell


def _widths(cell: np.ndarray) -> np.ndarray:
    """Perpendicular widths of a cell (rows = lattice vectors), shape (3,)."""
    return 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)


@dataclasses.dataclass
class Structure:
    """A periodic configuration with ground-truth labels.

    Attributes:
        positions: Cartesian positions, shape (N, 3).
        cell: Lattice vectors as rows, shape (3, 3), any orientation.
        types: Type index of each particle, shape (N,), int32.
        type_names: Name of each type index.
        label: The structure's label ("fcc", ..., "liquid", or "mixed").
        particle_labels: Per-particle labels, shape (N,), str; ``None`` means
            ``label`` for every particle.
    """

    positions: np.ndarray
    cell: np.ndarray
    types: np.ndarray
    type_names: list
    label: str
    particle_labels: Optional[np.ndarray] = None

    @property
    def N(self) -> int:
        """Number of particles."""
        return int(len(self.positions))

    @property
    def labels(self) -> np.ndarray:
        """Ground-truth label of every particle, shape (N,), str."""
        if self.particle_labels is not None:
            return np.asarray(self.particle_labels)
        return np.full(self.N, self.label)

    def rotated(self, rotation: np.ndarray) -> "Structure":
        """This structure rotated about the origin (positions and cell).

        Args:
            rotation: Rotation matrix R, shape (3, 3); vectors become ``R @ v``.

        Returns:
            A new structure: positions (N, 3) ``@ R.T``, cell (3, 3) ``@ R.T``.
        """
        rot = np.asarray(rotation, dtype=float)
        return dataclasses.replace(self, positions=self.positions @ rot.T, cell=self.cell @ rot.T)

    def to_frame(self, source: str = "structure") -> Frame:
        """Convert to a :class:`Frame` with a HOOMD-convention box.

        The structure is rotated by ``Q`` (from a QR decomposition of ``cell.T``) so
        that ``cell @ Q`` is lower triangular with a positive diagonal; a left-handed
        cell first has its third lattice vector negated (the same lattice). Positions
        are wrapped into the box. Pair distances are unchanged.

        Args:
            source: The frame's ``source`` text.

        Returns:
            The frame, positions shape (N, 3).
        """
        cell = np.array(self.cell, dtype=float)
        if np.linalg.det(cell) < 0:
            cell[2] = -cell[2]
        q, r = np.linalg.qr(cell.T)
        sign = np.where(np.diag(r) < 0, -1.0, 1.0)
        q, low = q * sign, (sign[:, None] * r).T  # cell @ q == low
        box = Box(low[0, 0], low[1, 1], low[2, 2], xy=low[1, 0] / low[1, 1],
                  xz=low[2, 0] / low[2, 2], yz=low[2, 1] / low[2, 2])
        return Frame(positions=box.wrap(self.positions @ q), box=box, types=self.types,
                     type_names=self.type_names, source=source)


def random_rotation(rng: Union[np.random.Generator, int, None] = None) -> np.ndarray:
    """A rotation matrix drawn uniformly from SO(3) (normalised Gaussian quaternion).

    Args:
        rng: A numpy Generator or a seed.

    Returns:
        Proper rotation matrix, shape (3, 3).
    """
    q = np.random.default_rng(rng).normal(size=4)  # isotropic in R^4: uniform unit quaternion
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _rotation(rotation, rng) -> Optional[np.ndarray]:
    if rotation is None:
        return None
    if isinstance(rotation, str):
        if rotation != "random":
            raise InputError(f"rotation must be None, a 3x3 matrix or 'random', got {rotation!r}")
        return random_rotation(rng)
    rot = np.asarray(rotation, dtype=float)
    if rot.shape != (3, 3) or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-8):
        raise InputError("rotation must be an orthogonal 3x3 matrix")
    return rot


def _types(n: int, n_types: int, rng: np.random.Generator):
    if n_types < 1:
        raise InputError(f"n_types must be >= 1, got {n_types}")
    types = rng.integers(0, n_types, size=n).astype(np.int32) if n_types > 1 else np.zeros(n, np.int32)
    return types, [chr(ord("A") + k) for k in range(n_types)]


def crystal(kind: str, nn_distance: float = 1.0, min_width: float = 6.0, noise: float = 0.0,
            rotation=None, n_types: int = 1, seed=None, perturb: float = 0.0) -> Structure:
    """A periodic supercell of a crystal.

    The conventional cell (cubic for fcc, bcc, sc, cd; hexagonal with ideal
    c/a = sqrt(8/3) for hcp and hd; built from space group and Wyckoff sites for the
    prototypes of :mod:`md_orderml.prototypes`) is replicated until every perpendicular
    width is at least ``min_width * nn_distance``.

    Args:
        kind: One of :data:`CRYSTALS` or of :data:`md_orderml.prototypes.PROTOTYPES`.
        nn_distance: Nearest-neighbour distance of the ideal crystal.
        min_width: Smallest perpendicular width of the supercell, in ``nn_distance``.
        noise: Gaussian displacement std per coordinate as a fraction of ``nn_distance``.
        rotation: ``None``, a (3, 3) rotation matrix, or ``"random"``.
        n_types: More than 1 assigns types at random (a chemically disordered crystal).
        seed: Seed or Generator for perturbation, noise, rotation and types.
        perturb: Prototypes only: relative random change of the free Wyckoff parameters
            and of c/a (see :func:`md_orderml.prototypes.prototype_crystal`).

    Returns:
        The structure: positions (N, 3), cell (3, 3), types (N,), label ``kind``.
    """
    if not nn_distance > 0 or not min_width > 0 or not noise >= 0:
        raise InputError("nn_distance and min_width must be > 0 and noise >= 0")
    rng = np.random.default_rng(seed)
    if kind in _LATTICES and perturb == 0:
        unit, basis, nn = _LATTICES[kind]
    else:  # prototypes built by ASE (issue 21); raises "unknown crystal kind" for other names
        from md_orderml.prototype_table import conventional_cell

        (unit, basis), nn = conventional_cell(kind, perturb, rng), 1.0
    unit = unit * (nn_distance / nn)
    reps = np.maximum(1, np.ceil(min_width * nn_distance / _widths(unit) - 1e-9)).astype(int)
    grid = np.array(list(itertools.product(*(range(r) for r in reps))), dtype=float)
    frac = (grid[:, None, :] + basis[None, :, :]).reshape(-1, 3)
    positions = frac @ unit
    if noise > 0:
        positions = positions + rng.normal(0.0, noise * nn_distance, size=positions.shape)
    types, names = _types(len(positions), n_types, rng)
    result = Structure(positions, unit * reps[:, None], types, names, kind)
    rot = _rotation(rotation, rng)
    return result if rot is None else result.rotated(rot)


# ----------------------------------------------------------------- LJ dynamics (numpy)


def _half_list(pos, cell, cutoff, mobile):
    """Pairs i < j within cutoff with at least one mobile particle, and their image vectors."""
    import torch

    from md_orderml.neighbors import radius_graph_shifts

    ei, shift, _ = radius_graph_shifts(torch.from_numpy(pos), torch.from_numpy(cell),
                                       torch.ones(3, dtype=torch.bool), float(cutoff))
    i, j = ei.numpy()
    keep = (i < j) & (mobile[i] | mobile[j])  # i == j image pairs: opposite forces cancel
    return i[keep], j[keep], shift.numpy()[keep] @ cell


def _pair_forces(pos, i, j, image, rc, soft):
    """Forces, shape (N, 3): LJ (soft=False) or harmonic push-off ``(1 - r)^2`` (rc = 1)."""
    d = np.take(pos, j, axis=0)
    d -= np.take(pos, i, axis=0)
    d += image
    r2 = np.einsum("ij,ij->i", d, d)
    if soft:
        r = np.sqrt(r2)
        f = 2.0 * (1.0 - r) / np.maximum(r, 1e-9)  # -dU/dr / r: acts on j along +d
    else:
        inv6 = 1.0 / (r2 * r2 * r2)
        f = 24.0 * inv6 * (2.0 * inv6 - 1.0) / r2
    f[r2 >= rc * rc] = 0.0
    d *= f[:, None]
    both = np.concatenate([j, i])
    out = np.empty_like(pos)
    for k in range(3):
        out[:, k] = np.bincount(both, np.concatenate([d[:, k], -d[:, k]]), minlength=len(pos))
    return out


def _lj_run(pos, cell, mobile, temperature, steps, rng, dt=0.005, gamma=1.0, rc=2.5, skin=0.6):
    """Push overlaps apart, then BAOAB Langevin dynamics of LJ particles (frozen: ~mobile).

    Args:
        pos: Positions in LJ units, shape (N, 3); returned updated.
        cell: Periodic cell rows, shape (3, 3).
        mobile: Which particles move, shape (N,), bool.
        temperature, steps, dt, gamma: Langevin parameters (LJ units).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small neighbour searches: threads only add overhead
    try:
        return _lj_steps(np.array(pos, dtype=float), cell, mobile, temperature, steps, rng, dt, gamma, rc, skin)
    finally:
        torch.set_num_threads(threads)


def _lj_steps(pos, cell, mobile, temperature, steps, rng, dt, gamma, rc, skin):
    m = mobile[:, None].astype(float)
    for _ in range(300):  # push-off: steepest descent on (1 - r)^2, steps capped at 0.1
        i, j, image = _half_list(pos, cell, 1.0, mobile)
        d = pos[j] - pos[i] + image
        if len(i) == 0 or np.einsum("ij,ij->i", d, d).min() > 0.9 ** 2 or not mobile.any():
            break
        step = 0.25 * _pair_forces(pos, i, j, image, 1.0, soft=True) * m
        pos += step * np.minimum(1.0, 0.1 / np.maximum(np.linalg.norm(step, axis=1), 1e-12))[:, None]
    vel = rng.normal(0.0, np.sqrt(temperature), size=pos.shape) * m
    warm = min(200, steps // 5)  # gentle start at dt / 5 with capped forces, so particles
    ref = pos.copy()             # trapped by the push-off (e.g. at a crystal face) escape

    def forces(capped):
        f = _pair_forces(pos, i, j, image, rc, soft=False)
        if capped:
            f *= np.minimum(1.0, 100.0 / np.maximum(np.linalg.norm(f, axis=1), 1e-12))[:, None]
        return f

    i, j, image = _half_list(pos, cell, rc + skin, mobile)
    force = forces(warm > 0)
    for step in range(warm + steps):
        h = dt * (0.2 if step < warm else 1.0)
        a1 = np.exp(-gamma * h)
        a2 = np.sqrt((1.0 - a1 * a1) * temperature)
        vel += 0.5 * h * force * m
        pos += 0.5 * h * vel
        vel = (a1 * vel + a2 * rng.normal(size=pos.shape)) * m
        pos += 0.5 * h * vel
        if np.einsum("ij,ij->i", pos - ref, pos - ref).max() > (0.5 * skin) ** 2:
            ref = pos.copy()
            i, j, image = _half_list(pos, cell, rc + skin, mobile)
        force = forces(step < warm)
        vel += 0.5 * h * force * m
    return pos


def liquid(n: int = 500, density: float = 0.9, temperature: float = 1.5, steps: int = 2000,
           seed=None, noise: float = 0.0, nn_distance: float = 1.0, n_types: int = 1) -> Structure:
    """A Lennard-Jones liquid in a cubic periodic box.

    Random start, push-off of overlaps, ``min(200, steps // 5)`` warm-up steps at dt / 5
    with capped forces, then ``steps`` BAOAB Langevin steps (dt = 0.005, friction 1, LJ
    cutoff 2.5 sigma) at the given state point in LJ units, which should be a liquid
    (density 0.75-0.95, temperature 1.0-2.0). Lengths are then scaled by
    ``nn_distance / 2**(1/6)`` (see the module docstring); positions are wrapped into
    the cell.

    Args:
        n: Number of particles.
        density: Number density in LJ units (sigma^-3).
        temperature: Temperature in LJ units (epsilon / k_B).
        steps: Number of Langevin time steps.
        seed: Seed or Generator.
        noise: Extra Gaussian displacement std as a fraction of ``nn_distance``.
        nn_distance: Length unit of the result (the LJ potential's minimum).
        n_types: More than 1 assigns types at random (same LJ interactions).

    Returns:
        The structure: positions (n, 3), cell (3, 3), label ``"liquid"``.
    """
    if n < 2 or not density > 0 or not temperature > 0 or steps < 0:
        raise InputError("liquid needs n >= 2, density > 0, temperature > 0 and steps >= 0")
    rng = np.random.default_rng(seed)
    cell = np.eye(3) * (n / density) ** (1.0 / 3.0)
    pos = _lj_run(rng.uniform(0.0, 1.0, size=(n, 3)) @ cell, cell, np.ones(n, bool), temperature, steps, rng)
    scale = nn_distance * LJ_SIGMA
    pos = _wrap(pos, cell) * scale
    if noise > 0:
        pos = pos + rng.normal(0.0, noise * nn_distance, size=pos.shape)
    types, names = _types(n, n_types, rng)
    return Structure(pos, cell * scale, types, names, "liquid")


def mixed(kind: str = "fcc", crystal_fraction: float = 0.5, nn_distance: float = 1.0,
          min_width: float = 6.0, density: float = 0.9, temperature: float = 1.5, steps: int = 1000,
          noise: float = 0.0, seed=None) -> Structure:
    """A crystal slab in coexistence with a liquid slab, labelled per particle.

    A supercell of ``kind`` (:func:`crystal`, ``min_width``) is doubled along its
    third lattice vector; the lower ``crystal_fraction`` of it keeps the crystal, the
    rest is filled with LJ liquid at ``density`` and simulated for ``steps`` Langevin
    steps with the crystal frozen (see :func:`liquid` for units).

    Args:
        kind: One of :data:`CRYSTALS`.
        crystal_fraction: Fraction of the box height taken by the crystal slab.
        nn_distance, min_width: As in :func:`crystal`.
        density, temperature, steps: Liquid state point and run length (LJ units).
        noise: Gaussian displacement std of every particle, fraction of ``nn_distance``.
        seed: Seed or Generator.

    Returns:
        The structure: label ``"mixed"``, particle_labels ``kind`` or ``"liquid"``, shape (N,).
    """
    if not 0 < crystal_fraction < 1:
        raise InputError(f"crystal_fraction must be in (0, 1), got {crystal_fraction}")
    rng = np.random.default_rng(seed)
    base = crystal(kind, nn_distance=1.0 / LJ_SIGMA, min_width=min_width)  # LJ units
    cell = base.cell.copy()
    cell[2] *= 2
    pos = np.concatenate([base.positions, base.positions + base.cell[2]])
    frac = pos @ np.linalg.inv(cell)
    xtal = pos[frac[:, 2] < crystal_fraction]
    volume = abs(np.linalg.det(cell)) * (1 - crystal_fraction)
    n_liq = int(round(density * volume))
    s = rng.uniform(0.0, 1.0, size=(n_liq, 3))
    gap = 0.5 / _widths(cell)[2]  # half a sigma from either crystal face
    s[:, 2] = crystal_fraction + gap + (1 - crystal_fraction - 2 * gap) * s[:, 2]
    pos = np.concatenate([xtal, s @ cell])
    mobile = np.arange(len(pos)) >= len(xtal)
    pos = _lj_run(pos, cell, mobile, temperature, steps, rng)
    pos = _wrap(pos, cell) * (nn_distance * LJ_SIGMA)
    if noise > 0:
        pos = pos + rng.normal(0.0, noise * nn_distance, size=pos.shape)
    labels = np.where(mobile, "liquid", kind)
    return Structure(pos, cell * nn_distance * LJ_SIGMA, np.zeros(len(pos), np.int32), ["A"], "mixed", labels)
