"""Unlabelled configurations for pretraining and local environments for fine-tuning.

Pretraining graphs are :class:`~md_orderml.training.data.GraphSample` objects whose
``labels`` are all ``-1`` (no label is ever used). They come from the structure
library (noisy crystals in random orientations), Lennard-Jones liquids from short
LAMMPS runs, and optionally frames of GSD / LAMMPS dump / XYZ trajectories.

A *labelled environment* is one particle of a labelled configuration. Because the
backbone has ``n_layers`` message-passing layers, a particle's embedding depends only
on its ``n_layers``-hop neighbourhood; :func:`environment_graphs` cuts out exactly
that sub-graph, so training on 10 or 1000 labelled environments costs in proportion
to 10 or 1000, not to the configurations they come from.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import torch

from md_orderml.structures import CRYSTALS, Structure
from md_orderml.training.data import GraphSample, make_crystal, make_liquids, structure_to_graph


def unlabelled_samples(count: int, cutoff: float, seed: int, noise_max: float = 0.08,
                       liquid_fraction: float = 0.25, kinds: Sequence[str] = CRYSTALS,
                       jitter: float = 0.05, progress: bool = False,
                       length_unit: str = "global") -> List[GraphSample]:
    """Unlabelled graphs from the structure library (crystals and LJ liquids).

    Args:
        count: Number of configurations.
        cutoff: Dimensionless model cutoff.
        seed: Seed of the whole set.
        noise_max: Largest crystal noise (fraction of the nn distance per coordinate).
        liquid_fraction: Fraction of configurations that are LJ liquids.
        kinds: Crystal kinds to draw from.
        jitter: Relative half-width of the random length-scale jitter.
        progress: Show a progress bar.
        length_unit: ``"global"`` or ``"local"`` (the backbone's; see
            :func:`~md_orderml.training.data.structure_to_graph`).

    Returns:
        ``count`` graphs with ``labels`` all -1.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    n_liquid = int(round(count * liquid_fraction))
    structures: List[Structure] = make_liquids(n_liquid, rng) if n_liquid > 0 else []
    for _ in tqdm(range(count - n_liquid), desc="unlabelled crystals", disable=not progress, leave=False):
        kind = kinds[int(rng.integers(len(kinds)))]
        structures.append(make_crystal(kind, float(rng.uniform(0.0, noise_max)), rng))
    samples = []
    for structure in structures:
        samples.append(unlabelled_graph(structure, cutoff, float(rng.uniform(1.0 - jitter, 1.0 + jitter)),
                                        length_unit))
    order = rng.permutation(len(samples))
    return [samples[i] for i in order]


def unlabelled_graph(structure: Structure, cutoff: float, jitter: float = 1.0,
                     length_unit: str = "global") -> GraphSample:
    """Graph of one configuration with every label set to -1.

    Args:
        structure: Positions (N, 3) and cell (3, 3).
        cutoff: Dimensionless model cutoff.
        jitter: Factor applied to the length scale.
        length_unit: ``"global"`` or ``"local"``.
    """
    sample = structure_to_graph(structure, 0, cutoff, jitter=jitter, length_unit=length_unit)
    sample.labels = torch.full_like(sample.labels, -1)
    return sample


def trajectory_samples(path, cutoff: float, max_frames: Optional[int] = None, stride: int = 1,
                       length_unit: str = "global") -> List[GraphSample]:
    """Unlabelled graphs from the frames of a trajectory file (GSD, LAMMPS dump, XYZ).

    Args:
        path: Trajectory file (see :func:`md_orderml.io.open_trajectory`).
        cutoff: Dimensionless model cutoff.
        max_frames: Read at most this many frames.
        stride: Take every ``stride``-th frame.
        length_unit: ``"global"`` or ``"local"``.

    Returns:
        One graph per frame (type-agnostic, labels -1).
    """
    from md_orderml.io import open_trajectory

    out = []
    with open_trajectory(path, stop=None if max_frames is None else max_frames * stride, stride=stride) as traj:
        for frame in traj:
            box = frame.box
            structure = Structure(np.asarray(frame.positions, float) - box.corner, box.matrix,
                                  np.zeros(frame.N, np.int32), ["A"], "unlabelled")
            out.append(unlabelled_graph(structure, cutoff, length_unit=length_unit))
    return out


def _bonds_by_centre(sample: GraphSample):
    centre = sample.edge_index[0]
    order = torch.argsort(centre, stable=True)
    counts = torch.bincount(centre, minlength=sample.n)
    ptr = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)])
    return order, ptr


def environment_graphs(sample: GraphSample, centres: Sequence[int], labels: Sequence[int],
                       n_layers: int) -> List[GraphSample]:
    """Cut out the ``n_layers``-hop sub-graph of each labelled particle.

    The sub-graph keeps every bond whose centre lies within ``n_layers - 1`` hops of
    the labelled particle, so the backbone's embedding of that particle in the
    sub-graph equals its embedding in the whole configuration (the other nodes'
    embeddings are not meaningful and carry label -1).

    Args:
        sample: A whole configuration.
        centres: Indices of the labelled particles, length M.
        labels: Their class indices, length M.
        n_layers: Message-passing layers of the backbone.

    Returns:
        M graphs; each has exactly one label >= 0, at node 0.
    """
    order, ptr = _bonds_by_centre(sample)
    src, dst = sample.edge_index[0], sample.edge_index[1]
    out = []
    for centre, label in zip(centres, labels):
        inner = torch.tensor([int(centre)])
        for _ in range(n_layers - 1):
            bonds = torch.cat([order[ptr[c]:ptr[c + 1]] for c in inner.tolist()])
            inner = torch.unique(torch.cat([inner, dst[bonds]]))
            inner = torch.cat([torch.tensor([int(centre)]), inner[inner != int(centre)]])
        bonds = torch.cat([order[ptr[c]:ptr[c + 1]] for c in inner.tolist()])
        outer = torch.unique(dst[bonds])
        nodes = torch.cat([inner, outer[~torch.isin(outer, inner)]])
        local = torch.full((sample.n,), -1, dtype=torch.int64)
        local[nodes] = torch.arange(len(nodes))
        node_labels = torch.full((len(nodes),), -1, dtype=torch.int64)
        node_labels[0] = int(label)
        out.append(GraphSample(types=sample.types[nodes], edge_index=local[torch.stack([src[bonds], dst[bonds]])],
                               edge_vec=sample.edge_vec[bonds], labels=node_labels, noise=sample.noise))
    return out


def pick_environments(samples: Sequence[GraphSample], n_labels: int, n_classes: int,
                      rng: np.random.Generator) -> List[tuple]:
    """Draw ``n_labels`` labelled particles, as balanced over classes as possible.

    Every class gets ``n_labels // n_classes`` particles and the remainder goes to
    randomly chosen classes; within a class, particles are drawn uniformly from all
    configurations of that class.

    Args:
        samples: Labelled configurations.
        n_labels: Number of labelled environments.
        n_classes: Number of classes.
        rng: Random generator.

    Returns:
        List of ``(sample index, particle index, label)``.
    """
    per_class = np.full(n_classes, n_labels // n_classes)
    per_class[rng.choice(n_classes, n_labels % n_classes, replace=False)] += 1
    pool = {k: [] for k in range(n_classes)}
    for s, sample in enumerate(samples):
        labels = sample.labels.numpy()
        for k in np.unique(labels):
            idx = np.nonzero(labels == k)[0]
            pool[int(k)].append(np.stack([np.full(len(idx), s), idx], 1))
    picked = []
    for k in range(n_classes):
        if per_class[k] == 0 or not pool[k]:
            continue
        candidates = np.concatenate(pool[k])
        rows = rng.choice(len(candidates), min(per_class[k], len(candidates)), replace=False)
        picked += [(int(candidates[r, 0]), int(candidates[r, 1]), k) for r in rows]
    return picked


def labelled_environments(samples: Sequence[GraphSample], picked: Sequence[tuple], n_layers: int) -> List[GraphSample]:
    """Sub-graphs (:func:`environment_graphs`) of picked ``(sample, particle, label)`` triples."""
    out = []
    for s in sorted({p[0] for p in picked}):
        mine = [p for p in picked if p[0] == s]
        out += environment_graphs(samples[s], [p[1] for p in mine], [p[2] for p in mine], n_layers)
    return out
