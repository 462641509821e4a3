"""Labelled graphs for training: generated structures turned into bond graphs.

A :class:`GraphSample` holds one periodic configuration as the model sees it:
dimensionless bond vectors, bonds within the model cutoff, and a class index per
particle. Global length unit: positions divided by ``(V / N) ** (1 / 3)``, times a small
random jitter so the model tolerates local density differences. Local length unit: the
graph of :func:`md_orderml.local_scale.spatially_sorted_local_graph`, the very function
the exported model's forward runs (each particle's bonds in its own unit, so the jitter
has no effect: uniform rescaling is an exact invariance).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch

from md_orderml.local_scale import spatially_sorted_local_graph
from md_orderml.neighbors import radius_graph
from md_orderml.prototype_table import PROTOTYPES, VOCABULARY

DEFAULT_CLASSES = ("fcc", "bcc", "hcp", "sc", "cd", "hd", "liquid")
#: Every class of the prototype vocabulary (issue 21): the six simple crystals, the
#: vocabulary prototypes of :mod:`md_orderml.prototypes`, and the liquid.
VOCABULARY_CLASSES = DEFAULT_CLASSES[:-1] + tuple(VOCABULARY) + ("liquid",)


@dataclasses.dataclass
class GraphSample:
    """One configuration as a graph.

    Attributes:
        types: Model type index per particle, shape (N,), int64.
        edge_index: (centre, neighbour) per bond, shape (2, E), int64.
        edge_vec: Dimensionless bond vectors, shape (E, 3), float32.
        labels: Class index per particle, shape (N,), int64.
        noise: Noise level the structure was made with (fraction of the nn distance).
    """

    types: torch.Tensor
    edge_index: torch.Tensor
    edge_vec: torch.Tensor
    labels: torch.Tensor
    noise: float = 0.0

    @property
    def n(self) -> int:
        """Number of particles."""
        return int(self.types.shape[0])


def structure_to_graph(structure, label_index: int, cutoff: float, jitter: float = 1.0,
                       type_agnostic: bool = True, length_unit: str = "global") -> GraphSample:
    """Turn a :class:`~md_orderml.structures.Structure` into a :class:`GraphSample`.

    Args:
        structure: Positions (N, 3) and cell (3, 3) of a periodic configuration.
        label_index: Class index given to every particle.
        cutoff: Dimensionless model cutoff.
        jitter: Factor applied to the length scale (1 = exact ``(V/N)^(1/3)``).
        type_agnostic: Give every particle type 0.
        length_unit: ``"global"`` or ``"local"`` (the model's; local: the exported
            forward's own graph function, particles in its spatial order).

    Returns:
        The graph.
    """
    positions = np.asarray(structure.positions, dtype=np.float64)
    cell = np.asarray(structure.cell, dtype=np.float64)
    n = len(positions)
    scale = (abs(np.linalg.det(cell)) / n) ** (1.0 / 3.0) * jitter
    types = torch.as_tensor(np.zeros(n) if type_agnostic else np.asarray(structure.types), dtype=torch.int64)
    if length_unit == "local":  # every particle has the same label, so the spatial order needs no undoing
        _, types, edge_index, edge_vec, _, _ = spatially_sorted_local_graph(
            torch.as_tensor(positions), types, torch.as_tensor(cell), torch.ones(3, dtype=torch.bool), scale,
            cutoff, torch.float32)
    else:
        pos = torch.as_tensor(positions / scale, dtype=torch.float32)
        box = torch.as_tensor(cell / scale, dtype=torch.float32)
        edge_index, edge_vec = radius_graph(pos, box, torch.ones(3, dtype=torch.bool), cutoff)
    return GraphSample(
        types=types,
        edge_index=edge_index,
        edge_vec=edge_vec.float(),
        labels=torch.full((n,), label_index, dtype=torch.int64),
    )


def make_crystal(kind: str, noise: float, rng: np.random.Generator, perturb: float = 0.0):
    """Generate one training crystal of ``kind`` with a random size and orientation.

    Args:
        kind: One of :data:`md_orderml.structures.CRYSTALS` or a prototype of :mod:`md_orderml.prototypes`.
        noise: Gaussian noise per coordinate as a fraction of the nn distance.
        rng: Random generator (its next integer seeds the structure).
        perturb: Prototypes: relative random change of the free Wyckoff parameters and c/a
            (see :func:`md_orderml.prototypes.prototype_crystal`); 0 for the simple crystals.

    Returns:
        A :class:`~md_orderml.structures.Structure`.
    """
    from md_orderml import structures

    return structures.crystal(
        kind, nn_distance=1.0, min_width=float(rng.uniform(4.5, 6.0)), noise=noise,
        rotation="random", seed=int(rng.integers(2**31)), perturb=perturb,
    )


def make_liquids(count: int, rng: np.random.Generator, per_run: int = 5):
    """Lennard-Jones liquids from short LAMMPS runs at random liquid state points.

    Half come from stable liquids (density 0.80-0.92, T 0.75-2.0), half from dense
    supercooled liquids (density 0.95-1.08, T 0.6-1.0) sampled within 3000 steps of
    the quench, before crystals nucleate in these small boxes: the model must not
    call the locally ordered dense liquid crystalline.

    Args:
        count: Number of configurations.
        rng: Random generator choosing state points and seeds.
        per_run: Configurations sampled from each run.

    Returns:
        List of ``count`` structures.
    """
    from md_orderml.engines.lammps.samples import lj_liquid_samples

    out = []
    while len(out) < count:
        if len(out) // per_run % 2 == 0:
            density, temperature, equilibrate, interval = rng.uniform(0.80, 0.92), rng.uniform(0.75, 2.0), 2000, 400
        else:
            density, temperature, equilibrate, interval = rng.uniform(0.95, 1.08), rng.uniform(0.6, 1.0), 1000, 200
        out += lj_liquid_samples(
            n_cells=int(rng.integers(4, 6)), density=float(density), temperature=float(temperature),
            n_samples=min(per_run, count - len(out)), interval=interval, equilibrate=equilibrate,
            seed=int(rng.integers(2**30)),
        )
    return out


def generate_samples(
    class_names: Sequence[str],
    per_class: int,
    cutoff: float,
    noise_max: float,
    seed: int,
    jitter: float = 0.05,
    progress: bool = False,
    thermal_fraction: float = 0.0,
    length_unit: str = "global",
    prototype_perturb: float = 0.02,
    noise_levels: Optional[Sequence[float]] = None,
) -> List[GraphSample]:
    """Generate a labelled data set from the structure library.

    Crystal noise levels are drawn uniformly in ``[0, noise_max]``; liquids come from
    short Lennard-Jones runs in LAMMPS (:func:`make_liquids`). With ``thermal_fraction``
    > 0, that fraction of the fcc, bcc, hcp, cd and liquid structures are instead MD
    frames of real potentials (:mod:`md_orderml.training.thermal`; training materials
    only, none of the benchmark's).

    Args:
        class_names: Classes to generate (crystal names and ``"liquid"``).
        per_class: Structures per class.
        cutoff: Dimensionless model cutoff.
        noise_max: Largest noise level (fraction of the nn distance per coordinate).
        seed: Seed of the whole data set.
        jitter: Relative half-width of the random length-scale jitter.
        progress: Show a progress bar.
        thermal_fraction: Fraction of structures of classes with real-potential
            frames taken from those frames.
        length_unit: The model's length unit, ``"global"`` or ``"local"``.
        prototype_perturb: ``perturb`` of the prototype crystals (:func:`make_crystal`);
            the simple crystals are never perturbed.
        noise_levels: Instead of uniform noise in ``[0, noise_max]``: the crystals of each
            class take these noise levels in turn (``noise_max`` is then unused).

    Returns:
        The list of samples.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    samples = []
    for k, name in enumerate(tqdm(class_names, desc="structures", disable=not progress)):
        n_thermal = 0
        made = []
        if thermal_fraction > 0:
            from md_orderml.training.thermal import thermal_structures

            made = [(s, 0.0) for s in thermal_structures(name, int(round(thermal_fraction * per_class)), rng)]
            n_thermal = len(made)
        if name == "liquid":
            made += [(s, 0.0) for s in make_liquids(per_class - n_thermal, rng)]
        else:
            noises = rng.uniform(0.0, noise_max, size=per_class - n_thermal) if noise_levels is None \
                else np.resize(np.asarray(noise_levels, dtype=float), per_class - n_thermal)
            perturb = prototype_perturb if name in PROTOTYPES else 0.0
            made += [(make_crystal(name, float(nz), rng, perturb), float(nz)) for nz in noises]
        for structure, noise in made:
            factor = float(rng.uniform(1.0 - jitter, 1.0 + jitter))
            sample = structure_to_graph(structure, k, cutoff, jitter=factor, length_unit=length_unit)
            sample.noise = noise
            samples.append(sample)
    return samples


def merge_graphs(samples: Sequence) -> Dict[str, torch.Tensor]:
    """Merge graphs (anything with ``types``, ``edge_index``, ``edge_vec``) into one disconnected graph.

    Args:
        samples: Graphs to merge.

    Returns:
        Dictionary with ``types`` (N,), ``edge_index`` (2, E), ``edge_vec`` (E, 3).
    """
    offsets = np.cumsum([0] + [int(s.types.shape[0]) for s in samples[:-1]])
    return {
        "types": torch.cat([s.types for s in samples]),
        "edge_index": torch.cat([s.edge_index + int(o) for s, o in zip(samples, offsets)], dim=1),
        "edge_vec": torch.cat([s.edge_vec for s in samples]),
    }


def graph_of_node(samples: Sequence) -> torch.Tensor:
    """Index of each node's graph in the merged graph of ``samples``, shape (N,), int64."""
    return torch.cat([torch.full((int(s.types.shape[0]),), g, dtype=torch.int64) for g, s in enumerate(samples)])


def collate(samples: Sequence[GraphSample]) -> Dict[str, torch.Tensor]:
    """Merge labelled graphs into one disconnected graph.

    Args:
        samples: Graphs to merge.

    Returns:
        Dictionary with ``types`` (N,), ``edge_index`` (2, E), ``edge_vec`` (E, 3), ``labels`` (N,).
    """
    return dict(merge_graphs(samples), labels=torch.cat([s.labels for s in samples]))


def batches(samples: Sequence[GraphSample], batch_size: int, rng: np.random.Generator) -> Iterator[Dict]:
    """Shuffled mini-batches of merged graphs.

    Args:
        samples: The data set.
        batch_size: Graphs per batch.
        rng: Shuffling generator.

    Yields:
        Collated batches (see :func:`collate`).
    """
    order = rng.permutation(len(samples))
    for start in range(0, len(order), batch_size):
        yield collate([samples[i] for i in order[start:start + batch_size]])
