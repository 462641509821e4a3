"""Particle-level contrastive pretext (view invariance, SimCLR-style InfoNCE).

Two views of every configuration in a batch are made from the same clean bonds:
each view displaces every particle by independent Gaussian noise (its own ``sigma``
per configuration); the second view is also rotated by a random rotation and
rescaled by a random length factor ``1 +- jitter`` per configuration (density
jitter). Both views go through the backbone; a small projection head maps the
invariant embeddings to unit vectors ``z``. For an anchor particle ``i`` the
positive is the same particle in the other view; the negatives are all other
anchors *from other configurations* in the batch. Other particles of the same
configuration are left out: in a crystal they have the same environment, so
pushing them apart could only be done by encoding the noise.

Loss (symmetric InfoNCE, temperature ``tau``)::

    L = -1/2 mean_i [ log softmax_j (z_a_i . z_b_j / tau)[i] + (a <-> b) ]

It makes the embedding keep what survives re-noising, rotation and rescaling (the
structure of the environment) and discard the noise realisation.
"""

from __future__ import annotations

from typing import Dict

import torch
from torch import nn


def random_rotations(count: int, generator: torch.Generator) -> torch.Tensor:
    """Uniformly random proper rotations (QR of Gaussian matrices), shape (count, 3, 3)."""
    q, r = torch.linalg.qr(torch.randn(count, 3, 3, generator=generator))
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)
    det = torch.linalg.det(q)
    q[:, :, 0] = q[:, :, 0] * det[:, None]
    return q


def second_view(vec: torch.Tensor, edge_index: torch.Tensor, graph_of_node: torch.Tensor, n_graphs: int,
                sigma_min: float, sigma_max: float, jitter: float, generator: torch.Generator) -> torch.Tensor:
    """Independently re-noised, rotated and rescaled copy of the clean bonds.

    Args:
        vec: Clean bond vectors, shape (E, 3).
        edge_index: (centre, neighbour), shape (2, E).
        graph_of_node: Configuration index of each node, shape (N,).
        n_graphs: Number of configurations.
        sigma_min, sigma_max: Range of the per-configuration noise (per coordinate).
        jitter: Relative half-width of the per-configuration length factor.
        generator: Random generator.

    Returns:
        Bond vectors of the second view, shape (E, 3).
    """
    n = graph_of_node.shape[0]
    sigma = sigma_min + (sigma_max - sigma_min) * torch.rand(n_graphs, generator=generator)
    displacement = torch.randn(n, 3, generator=generator) * sigma[graph_of_node][:, None]
    src, dst = edge_index[0], edge_index[1]
    noisy = vec + displacement[dst] - displacement[src]
    rot = random_rotations(n_graphs, generator)
    scale = 1.0 + jitter * (2.0 * torch.rand(n_graphs, generator=generator) - 1.0)
    graph_of_edge = graph_of_node[src]
    return torch.einsum("eij,ej->ei", rot[graph_of_edge], noisy) * scale[graph_of_edge][:, None]


def pick_anchors(n: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """At most ``count`` distinct random node indices, shape (min(n, count),)."""
    return torch.randperm(n, generator=generator)[:count]


class ProjectionHead(nn.Module):
    """MLP from the embedding (N, D) to unit vectors (N, out)."""

    def __init__(self, dim: int, hidden: int = 128, out: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, out))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        """Normalised projections, shape (N, out)."""
        return nn.functional.normalize(self.net(embedding), dim=1)


def info_nce(za: torch.Tensor, zb: torch.Tensor, graph: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between two views, negatives only from other configurations.

    Args:
        za, zb: Unit projections of the same M anchors in views a and b, shape (M, P).
        graph: Configuration index of each anchor, shape (M,).
        temperature: Softmax temperature ``tau``.

    Returns:
        Scalar loss (``log(number of candidates)`` at chance).
    """
    logits = za @ zb.T / temperature
    same = graph[:, None] == graph[None, :]
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(za.shape[0])
    return 0.5 * (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target))


def contrast_loss(head: ProjectionHead, emb_a: torch.Tensor, emb_b: torch.Tensor,
                  corrupted: Dict[str, torch.Tensor], temperature: float) -> torch.Tensor:
    """InfoNCE of the anchors ``corrupted["anchors"]`` between embeddings (N, D) of views a and b."""
    idx = corrupted["anchors"]
    return info_nce(head(emb_a[idx]), head(emb_b[idx]), corrupted["graph"][idx], temperature)
