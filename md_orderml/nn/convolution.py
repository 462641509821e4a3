"""The equivariant layer: a neighbour-density convolution with Clebsch–Gordan contractions.

Each layer (after Pezzicoli et al. and the ACE/MACE family) builds, for every
particle i and channel c, the equivariant neighbour density::

    A_i[l, m, c] = 1/n_avg * sum_j R_c(|r_ij|) Y_lm(r_ij / |r_ij|) w_c(h_j)

with real spherical harmonics ``Y`` up to ``l_max`` (e3nn), a learned radial
function per channel on a Bessel basis with a smooth cutoff envelope, and weights
from the neighbours' invariant features ``h_j``. Per degree ``l`` a learned channel
mixing gives three copies of ``A``; their Clebsch–Gordan contractions are the
rotation invariants of the layer:

* ``(l, l) -> 0``: ``P[l, c] = sum_m a1[l, m, c] a2[l, m, c] / (2l+1)``, a learned
  power spectrum (Steinhardt ``q_l`` / SOAP-like, body order 3);
* ``(l, l, l) -> 0`` for the even degrees in ``cubic_degrees``: the cubic invariant
  ``W_l`` of the third copy (Steinhardt ``w_l``-like, body order 4), from the sparse
  table of :mod:`md_orderml.nn.clebsch_gordan`.

They go with the scalar density through LayerNorm and an MLP into the next invariant
features, with a residual connection.

All contractions are written out directly instead of e3nn's generic tensor products
(which build dense outer products): the channel mixing of every degree is one batched
matrix product, the m-averages of the power spectrum one matrix product. The layer runs
over chunks of centres so its intermediates stay in the CPU cache.
"""

from typing import List, Tuple

import torch
from torch import nn

from md_orderml.nn.clebsch_gordan import cubic_invariant_table
from md_orderml.nn.harmonics import PolynomialHarmonics
from md_orderml.nn.radial import BesselBasis, PolynomialCutoff


def padded_neighbors(n: int, edge_index: torch.Tensor, edge_vec: torch.Tensor,
                     far: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lay bonds out per centre in ``K`` slots (``K`` the largest neighbour count).

    Empty slots point at the centre itself with the bond vector ``(far, 0, 0)``, which
    lies beyond the cutoff, so their radial weight is exactly zero.

    Args:
        n: Number of particles.
        edge_index: (centre, neighbour) per bond, shape (2, E), any order.
        edge_vec: Bond vectors, shape (E, 3).
        far: A length beyond the cutoff.

    Returns:
        ``(neighbor (N, K) int64, vec (N, K, 3), counts (N,) int64)``: bonds of a centre
        in input order in its first ``counts`` slots.
    """
    center = edge_index[0]
    if center.numel() > 1 and bool((center[1:] < center[:-1]).any()):
        order = torch.argsort(center, stable=True)
        center = center[order]
        neighbor_ids, edge_vec = edge_index[1][order], edge_vec[order]
    else:  # already sorted by centre (radius_graph's order): skip the sort
        neighbor_ids = edge_index[1]
    counts = torch.bincount(center, minlength=n)
    k = max(int(counts.max()) if center.numel() > 0 else 1, 1)
    first = torch.cumsum(counts, 0) - counts
    slot = center * k + torch.arange(center.numel(), device=center.device) - first[center]
    neighbor = torch.arange(n, device=center.device).repeat_interleave(k)
    neighbor = neighbor.index_copy(0, slot, neighbor_ids).reshape(n, k)
    vec = torch.zeros((n * k, 3), dtype=edge_vec.dtype, device=edge_vec.device)
    vec[:, 0] = far
    vec = vec.index_copy(0, slot, edge_vec).reshape(n, k, 3)
    return neighbor, vec, counts


class BondGeometry(nn.Module):
    """Angular and radial parts of the bonds of a chunk of centres.

    Args:
        cutoff: Dimensionless cutoff radius.
        l_max: Largest spherical-harmonic degree.
        n_basis: Size of the Bessel basis.
        radial_hidden: Width of the radial MLP's hidden layer.
        radial_dim: Width of its output, shared by all layers.
    """

    def __init__(self, cutoff: float, l_max: int, n_basis: int, radial_hidden: int, radial_dim: int):
        super().__init__()
        self.cutoff = float(cutoff)
        self.n_harmonics = (l_max + 1) ** 2
        self.radial_dim = radial_dim
        self.sh = PolynomialHarmonics(l_max)
        self.basis = BesselBasis(n_basis)
        self.envelope = PolynomialCutoff(6.0)
        self.mlp = nn.Sequential(
            nn.Linear(n_basis, radial_hidden), nn.SiLU(), nn.Linear(radial_hidden, radial_dim), nn.SiLU()
        )

    def forward(self, vec: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Harmonics and radial features of padded bonds.

        Args:
            vec: Bond vectors, shape (B, K, 3).

        Returns:
            ``(harmonics (B, (l_max+1)^2, K), radial (B, K, radial_dim))`` (harmonics a
            permuted view, fine for batched matrix products); the radial
            features vanish smoothly at the cutoff and are zero beyond it.
        """
        b, k = vec.shape[0], vec.shape[1]
        flat = vec.reshape(-1, 3)
        r = torch.linalg.vector_norm(flat, dim=1) / self.cutoff
        envelope = self.envelope(r).unsqueeze(-1)
        radial = self.mlp(self.basis(r.clamp(1e-6, 1.0))) * envelope
        harmonics = self.sh(flat).reshape(-1, b, k).transpose(0, 1)
        return harmonics, radial.reshape(b, k, -1)


class DensityConvolution(nn.Module):
    """One layer: invariant features in, new invariant features out, equivariant inside.

    Args:
        n_in: Width of the incoming invariant features.
        n_out: Width of the outgoing invariant features.
        channels: Channels ``c`` of the neighbour density.
        power_channels: Channels of the learned power spectrum per degree.
        cubic_channels: Channels of the cubic invariants per even degree.
        l_max: Largest spherical-harmonic degree.
        cubic_degrees: Even degrees with a cubic invariant ``W_l``.
        radial_dim: Width of the shared radial features.
        avg_neighbors: Typical number of neighbours (normalises the sum).
    """

    def __init__(
        self, n_in: int, n_out: int, channels: int, power_channels: int, cubic_channels: int,
        l_max: int, cubic_degrees: List[int], radial_dim: int, avg_neighbors: float,
    ):
        super().__init__()
        self.channels = channels
        self.power_channels = power_channels
        self.cubic_channels = cubic_channels
        self.l_max = l_max
        self.inv_neighbors = 1.0 / float(avg_neighbors)
        self.neighbor_weights = nn.Linear(n_in, channels)
        self.radial = nn.Linear(radial_dim, channels, bias=False)
        width = 2 * power_channels + cubic_channels
        self.mix = nn.Parameter(torch.randn(l_max + 1, channels, width) / channels ** 0.5)
        index, weight = cubic_invariant_table(cubic_degrees)
        self.register_buffer("cubic_index", index)
        self.register_buffer("cubic_weight", weight.to(torch.get_default_dtype()))
        # row bookkeeping over the (l_max+1)^2 harmonic rows (rebuilt, not in state_dict):
        # degree of each row, the m-average per degree, the rows of the cubic degrees
        degree = torch.tensor([l for l in range(l_max + 1) for _ in range(2 * l + 1)], dtype=torch.long)
        average = torch.zeros(l_max + 1, (l_max + 1) ** 2)
        average[degree, torch.arange(degree.numel())] = 1.0 / (2.0 * degree.to(torch.float64) + 1.0).float()
        rows = [r for l in cubic_degrees for r in range(l * l, (l + 1) * (l + 1))]
        self.register_buffer("row_degree", degree, persistent=False)
        self.register_buffer("degree_average", average, persistent=False)
        self.register_buffer("cubic_rows", torch.tensor(rows, dtype=torch.long), persistent=False)
        self.n_invariants = channels + (l_max + 1) * power_channels + len(cubic_degrees) * cubic_channels
        self.norm = nn.LayerNorm(self.n_invariants)
        self.update = nn.Sequential(nn.Linear(self.n_invariants, n_out), nn.SiLU(), nn.Linear(n_out, n_out))
        self.skip = nn.Linear(n_in, n_out, bias=False)

    def neighbor_features(self, h: torch.Tensor) -> torch.Tensor:
        """Per-particle density weights ``w(h) / n_avg``, shape (N, channels), from h (N, n_in)."""
        return self.neighbor_weights(h) * self.inv_neighbors

    def row_mixing(self) -> torch.Tensor:
        """The channel mixing of each harmonic row (its degree's), shape ((l_max+1)^2, channels, width)."""
        return self.mix.index_select(0, self.row_degree)

    def invariants(self, weights: torch.Tensor, neighbor: torch.Tensor, harmonics: torch.Tensor,
                   radial: torch.Tensor, mixing: torch.Tensor) -> torch.Tensor:
        """Rotation invariants of a chunk of centres.

        Args:
            weights: :meth:`neighbor_features` of all particles, shape (N, channels).
            neighbor: Neighbour indices of the chunk, shape (B, K).
            harmonics: Bond harmonics, shape (B, S, K), ``S = (l_max + 1)^2``.
            radial: Shared radial features, shape (B, K, radial_dim).
            mixing: :meth:`row_mixing` (computed once per forward, not per chunk).

        Returns:
            Invariants before normalisation, shape (B, n_invariants).
        """
        b = neighbor.shape[0]
        cp = self.power_channels
        bonds = self.radial(radial) * weights.index_select(0, neighbor.reshape(-1)).reshape(b, neighbor.shape[1], -1)
        density = torch.bmm(harmonics, bonds).transpose(0, 1)  # (S, B, C)
        # per-degree channel mixing, all degrees in one batched product: (S, B, width)
        copies = torch.bmm(density, mixing)
        products = (copies[:, :, :cp] * copies[:, :, cp:2 * cp]).reshape(copies.shape[0], -1)
        power = torch.mm(self.degree_average, products).reshape(-1, b, cp)  # (l_max+1, B, cp)
        parts: List[torch.Tensor] = [density[0], power.transpose(0, 1).reshape(b, -1)]
        if self.cubic_rows.numel() > 0:
            stacked = copies[:, :, 2 * cp:].index_select(0, self.cubic_rows).reshape(-1, b * self.cubic_channels)
            products = (stacked.index_select(0, self.cubic_index[0]) * stacked.index_select(0, self.cubic_index[1])
                        * stacked.index_select(0, self.cubic_index[2]))
            w = torch.mm(self.cubic_weight, products).reshape(-1, b, self.cubic_channels)
            parts.append(w.transpose(0, 1).reshape(b, -1))
        return torch.cat(parts, dim=1)

    def forward(self, h: torch.Tensor, invariants: torch.Tensor) -> torch.Tensor:
        """New features of a chunk from its old features and invariants.

        Args:
            h: Incoming features of the chunk, shape (B, n_in).
            invariants: :meth:`invariants` of the chunk, shape (B, n_invariants).

        Returns:
            Outgoing features, shape (B, n_out).
        """
        return self.skip(h) + self.update(self.norm(invariants))
