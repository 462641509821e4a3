"""Nearest-bond prediction pretext: where is the neighbour that was taken away?

A fraction of particles (``holes``) is removed from a batch's (noisy) graph: every
bond to or from a hole is dropped. Each remaining particle whose *nearest* neighbour
was a hole must predict the bond vector to it, ``r_ih``, from the bonds it still has.
The prediction is an exactly equivariant vector (l = 1), built like the denoising
head's (:func:`md_orderml.ssl.pretext.bond_vector_sum`, used by
:meth:`~md_orderml.ssl.pretext.PretextModel.nearest_bond`):
``p_i = sum_j s(e_i, e_j, |r_ij|) * r_ij / |r_ij|`` with an invariant scalar ``s`` (an
MLP on both embeddings and the bond's Bessel features times the cutoff envelope). In a crystal the answer is the empty site of the first shell; in a liquid
it is the largest gap. Loss: ``|p_i - r_ih|^2 / |r_ih|^2`` averaged over the
targets, so predicting zero scores 1.

The task needs its own backbone forward on the graph with holes (the other tasks see
the full graph).
"""

from __future__ import annotations

from typing import Dict

import torch

#: Fraction of particles removed per batch.
HOLE_FRACTION = 0.05


def holes_and_targets(edge_index: torch.Tensor, edge_vec: torch.Tensor, n: int, fraction: float,
                      generator: torch.Generator) -> Dict[str, torch.Tensor]:
    """Pick holes and the nearest-bond targets of the particles that lost their nearest neighbour.

    Args:
        edge_index: (centre, neighbour), shape (2, E), int64.
        edge_vec: Bond vectors (already noisy), shape (E, 3).
        n: Number of particles.
        fraction: Probability that a particle becomes a hole.
        generator: Random generator (CPU).

    Returns:
        ``nearest_keep`` (E,) bool: bonds that survive (neither end is a hole);
        ``nearest_centres`` (M,) int64: particles with a target (not holes themselves);
        ``nearest_target`` (M, 3): their bond vector to the removed nearest neighbour.
    """
    src, dst = edge_index[0], edge_index[1]
    hole = torch.rand(n, generator=generator) < fraction
    length = torch.linalg.vector_norm(edge_vec, dim=1)
    shortest = torch.full((n,), float("inf"), dtype=length.dtype).scatter_reduce(0, src, length, "amin")
    # the nearest bond of each centre (ties: the first such bond)
    is_nearest = length == shortest[src]
    first = torch.full((n,), edge_vec.shape[0], dtype=torch.int64).scatter_reduce(
        0, src[is_nearest], torch.nonzero(is_nearest)[:, 0], "amin")
    has_bond = first < edge_vec.shape[0]
    centres = torch.nonzero(has_bond & ~hole)[:, 0]
    nearest_edge = first[centres]
    lost = hole[dst[nearest_edge]]
    centres, nearest_edge = centres[lost], nearest_edge[lost]
    return {"nearest_keep": ~(hole[src] | hole[dst]), "nearest_centres": centres,
            "nearest_target": edge_vec[nearest_edge]}


def nearest_bond_loss(prediction: torch.Tensor, centres: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of ``|p_i - r_ih|^2 / |r_ih|^2`` over the targets (0 when there are none).

    Args:
        prediction: Per-particle predictions, shape (N, 3).
        centres: Particles with a target, shape (M,).
        target: Their missing bond vectors, shape (M, 3).
    """
    if centres.numel() == 0:
        return prediction.sum() * 0.0
    err = (prediction[centres] - target).pow(2).sum(1)
    return (err / target.pow(2).sum(1).clamp_min(1e-12)).mean()
