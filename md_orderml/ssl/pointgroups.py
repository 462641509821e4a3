"""Point-group classification pretext: symmetric point clouds made from random point groups.

A cloud is a centre particle at the origin plus the orbits of one to three random
seed points under the elements of a point group (:data:`GROUPS`), randomly
rotated, with Gaussian noise on every point. Seed points are generic or (often)
lie in the fixed subspace (axis or mirror plane) of a random group element, which
gives the small, high-symmetry orbits that real first shells have (the fcc
cuboctahedron is the ``Oh`` orbit of a point on a mirror plane). Orbits whose points
come closer than ``min_distance`` are rejected. The label is the generating group;
a cloud can occasionally be more symmetric than its label (label noise).

The task: classify the group from the centre's embedding with a linear head. No
labelled configuration is involved; the labels come from the generator.
"""

from __future__ import annotations

import functools
from typing import Dict, List, Tuple

import numpy as np
import torch

from md_orderml.training.data import GraphSample, collate

_PHI = (1.0 + np.sqrt(5.0)) / 2.0


def axis_rotation(axis, angle: float) -> np.ndarray:
    """Rotation by ``angle`` about ``axis`` (Rodrigues), shape (3, 3)."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def _generators() -> Dict[str, List[np.ndarray]]:
    z, x, d = (0, 0, 1), (1, 0, 0), (1, 1, 1)
    c = {n: axis_rotation(z, 2 * np.pi / n) for n in (2, 3, 4, 6)}
    sh, sv, inv = np.diag([1.0, 1.0, -1.0]), np.diag([1.0, -1.0, 1.0]), -np.eye(3)
    c2x, c3d, s4 = axis_rotation(x, np.pi), axis_rotation(d, 2 * np.pi / 3), sh @ c[4]
    c5 = axis_rotation((0.0, 1.0, _PHI), 2 * np.pi / 5)
    return {
        "C1": [np.eye(3)], "Ci": [inv], "Cs": [sh], "C2v": [c[2], sv], "C3v": [c[3], sv], "C4v": [c[4], sv],
        "C6v": [c[6], sv], "D2h": [c[2], c2x, inv], "D3d": [c[3], c2x, inv], "D3h": [c[3], c2x, sh],
        "D4h": [c[4], c2x, inv], "D6h": [c[6], c2x, inv], "D2d": [s4, c2x], "Td": [c3d, s4],
        "Th": [c3d, c[2], inv], "Oh": [c[4], c3d, inv], "Ih": [c[2], c3d, c5, inv],
    }


#: Point groups of the task, in class-index order.
GROUPS: Tuple[str, ...] = tuple(_generators())


@functools.lru_cache(maxsize=None)
def group_elements(name: str) -> np.ndarray:
    """All elements of point group ``name`` (closure of its generators), shape (order, 3, 3)."""
    gens = _generators()[name]
    elements = {tuple(np.round(np.eye(3), 6).ravel()): np.eye(3)}
    frontier = [np.eye(3)]
    while frontier:
        new = []
        for a in frontier:
            for g in gens:
                m = g @ a
                key = tuple(np.round(m, 6).ravel())
                if key not in elements:
                    elements[key] = m
                    new.append(m)
        frontier = new
    return np.stack(list(elements.values()))


def _seed_point(elements: np.ndarray, radius: float, special: bool, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    if special and len(elements) > 1:
        g = elements[1 + int(rng.integers(len(elements) - 1))]
        _, s, vt = np.linalg.svd(g - np.eye(3))
        fixed = vt[s < 1e-6]  # basis of the fixed subspace (axis or plane), rows
        if len(fixed):
            v = fixed.T @ (fixed @ v)
    return radius * v / max(np.linalg.norm(v), 1e-12)


def symmetric_cloud(name: str, rng: np.random.Generator, radius=(0.85, 1.5), max_orbits: int = 3,
                    special: float = 0.6, min_distance: float = 0.7, tries: int = 30) -> np.ndarray:
    """Centre plus orbits of random seed points under group ``name`` (no noise, not rotated).

    Args:
        name: Point group (one of :data:`GROUPS`).
        rng: Random generator.
        radius: Range of the seed points' distance from the centre.
        max_orbits: At most this many orbits (at least one).
        special: Probability that a seed lies in the fixed subspace of a random element.
        min_distance: Smallest allowed distance between points.
        tries: Seed draws before giving up on more orbits.

    Returns:
        Points, shape (M, 3); row 0 is the centre (origin).
    """
    elements = group_elements(name)
    points = np.zeros((1, 3))
    wanted = int(rng.integers(1, max_orbits + 1))
    for _ in range(tries):
        seed = _seed_point(elements, float(rng.uniform(*radius)), rng.random() < special, rng)
        orbit = np.unique(np.round(elements @ seed, 5), axis=0)
        candidate = np.concatenate([points, orbit])
        dist = np.linalg.norm(candidate[:, None] - candidate[None], axis=2) + 10.0 * np.eye(len(candidate))
        if dist.min() >= min_distance:
            points = candidate
            wanted -= 1
            if wanted == 0:
                break
    return points


def cloud_graph(points: np.ndarray, label: int, cutoff: float) -> GraphSample:
    """Graph of a cloud (M, 3) with every pair closer than ``cutoff`` bonded; label at node 0 only."""
    diff = points[None, :, :] - points[:, None, :]
    dist = np.linalg.norm(diff, axis=2)
    src, dst = np.nonzero((dist < cutoff) & (dist > 0))
    labels = torch.full((len(points),), -1, dtype=torch.int64)
    labels[0] = label
    return GraphSample(types=torch.zeros(len(points), dtype=torch.int64),
                       edge_index=torch.as_tensor(np.stack([src, dst]), dtype=torch.int64),
                       edge_vec=torch.as_tensor(diff[src, dst], dtype=torch.float32), labels=labels)


def pointgroup_batch(count: int, cutoff: float, noise_max: float, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
    """Collated batch of ``count`` random noisy, rotated clouds (groups drawn uniformly).

    Returns:
        :func:`~md_orderml.training.data.collate` output: ``types`` (N,), ``edge_index``
        (2, E), ``edge_vec`` (E, 3), ``labels`` (N,) with the group index at each centre
        and -1 elsewhere.
    """
    from md_orderml.structures import random_rotation

    graphs = []
    for _ in range(count):
        label = int(rng.integers(len(GROUPS)))
        points = symmetric_cloud(GROUPS[label], rng)
        points = points @ random_rotation(rng).T + rng.normal(0.0, rng.uniform(0.0, noise_max), size=points.shape)
        graphs.append(cloud_graph(points, label, cutoff))
    return collate(graphs)
