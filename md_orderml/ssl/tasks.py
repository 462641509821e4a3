"""Labelled tasks for fine-tuning and the transfer benchmark.

``default``: the default model's classes (fcc bcc hcp sc cd hd liquid), made like its
training data (:func:`md_orderml.training.data.generate_samples`).

``heldout``: a task the default model and the pretraining data never contain labels
or even structures of: fcc, hcp, bcc, body-centred tetragonal (``bct``, c/a = 1.2),
the A15 (Cr3Si / beta-W) structure with its icosahedral 2a sites and 14-coordinated
6c sites (one class ``a15`` for both), simple hexagonal (``sh``, c/a = 1), and LJ
liquid, with crystal noise drawn uniformly between 4 % and 12 % of the
nearest-neighbour distance per coordinate (the pretraining data stops at 8 %).
"""

from __future__ import annotations

import itertools
from typing import List, Sequence, Tuple

import numpy as np

from md_orderml.structures import Structure, crystal, random_rotation
from md_orderml.training.data import DEFAULT_CLASSES, GraphSample, generate_samples, make_liquids, structure_to_graph

HELDOUT_CLASSES = ("fcc", "hcp", "bcc", "bct", "a15", "sh", "liquid")

_HEX = np.array([[1.0, 0.0, 0.0], [0.5, np.sqrt(3.0) / 2, 0.0], [0.0, 0.0, 1.0]])
# kind -> (cell rows for lattice constant 1, fractional basis, nearest-neighbour distance)
_EXTRA_LATTICES = {
    "bct": (np.diag([1.0, 1.0, 1.2]), np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), np.sqrt(0.5 + 0.36)),
    "a15": (np.eye(3), np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0, 0.5], [0.75, 0, 0.5],
                                 [0.5, 0.25, 0], [0.5, 0.75, 0], [0, 0.5, 0.25], [0, 0.5, 0.75]]), 0.5),
    "sh": (_HEX, np.zeros((1, 3)), 1.0),
}


def extra_crystal(kind: str, noise: float, rng: np.random.Generator, min_width: float = 5.0) -> Structure:
    """A noisy, randomly rotated supercell of ``bct``, ``a15`` or ``sh`` (nn distance 1).

    Args:
        kind: One of ``bct``, ``a15``, ``sh``.
        noise: Gaussian displacement std per coordinate, fraction of the nn distance.
        rng: Random generator.
        min_width: Smallest perpendicular width of the supercell in nn distances.

    Returns:
        The structure: positions (N, 3), cell (3, 3).
    """
    unit, basis, nn = _EXTRA_LATTICES[kind]
    unit = unit / nn
    widths = 1.0 / np.linalg.norm(np.linalg.inv(unit), axis=0)
    reps = np.maximum(1, np.ceil(min_width / widths - 1e-9)).astype(int)
    grid = np.array(list(itertools.product(*(range(r) for r in reps))), dtype=float)
    positions = (grid[:, None, :] + basis[None]).reshape(-1, 3) @ unit
    positions = positions + rng.normal(0.0, noise, size=positions.shape)
    rot = random_rotation(rng)
    n = len(positions)
    return Structure(positions @ rot.T, (unit * reps[:, None]) @ rot.T, np.zeros(n, np.int32), ["A"], kind)


def heldout_samples(per_class: int, cutoff: float, seed: int, noise_min: float = 0.04,
                    noise_max: float = 0.12, jitter: float = 0.05) -> List[GraphSample]:
    """Labelled graphs of the held-out task (:data:`HELDOUT_CLASSES`).

    Args:
        per_class: Configurations per class.
        cutoff: Dimensionless model cutoff.
        seed: Seed of the set.
        noise_min, noise_max: Range of the crystal noise.
        jitter: Relative half-width of the length-scale jitter.

    Returns:
        ``per_class * len(HELDOUT_CLASSES)`` graphs, labels = class index.
    """
    rng = np.random.default_rng(seed)
    out = []
    for k, name in enumerate(HELDOUT_CLASSES):
        if name == "liquid":
            made = make_liquids(per_class, rng)
        else:
            made = []
            for _ in range(per_class):
                noise = float(rng.uniform(noise_min, noise_max))
                if name in _EXTRA_LATTICES:
                    made.append(extra_crystal(name, noise, rng))
                else:
                    made.append(crystal(name, 1.0, min_width=float(rng.uniform(4.5, 6.0)), noise=noise,
                                        rotation="random", seed=int(rng.integers(2**31))))
        for structure in made:
            out.append(structure_to_graph(structure, k, cutoff, jitter=float(rng.uniform(1 - jitter, 1 + jitter))))
    return out


def task_samples(task: str, per_class: int, cutoff: float, seed: int) -> Tuple[Sequence[str], List[GraphSample]]:
    """Class names and labelled graphs of a named task (``default`` or ``heldout``)."""
    if task == "heldout":
        return HELDOUT_CLASSES, heldout_samples(per_class, cutoff, seed)
    if task == "default":
        return DEFAULT_CLASSES, generate_samples(DEFAULT_CLASSES, per_class, cutoff, 0.11, seed)
    from md_orderml.errors import InputError

    raise InputError(f"unknown task {task!r}; known: default, heldout")
