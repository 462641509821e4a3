"""The equivariant layer: a neighbour-density convolution with Clebsch–Gordan products.

Each layer (after Pezzicoli et al. and the ACE/MACE family) builds, for every
particle i and channel c, the equivariant neighbour density

    A_i[c, l, m] = 1/n_avg * sum_j R_c,l(|r_ij|) Y_lm(r_ij / |r_ij|) h_j[c]

with real spherical harmonics ``Y``, a radial MLP ``R`` on a Bessel basis times a
smooth cutoff envelope, and the neighbours' invariant features ``h_j``. Per-particle
Clebsch–Gordan products of linearly mixed copies of ``A`` give invariants of body
order 3 (``A x A -> 0``, Steinhardt/SOAP-like power spectra) and 4 (``(A x A -> l) x A
-> 0``, bispectrum-like). Invariants go through LayerNorm and an MLP into the next
invariant features with a residual connection. Edge work is a cheap outer product;
all Clebsch–Gordan work is per particle, which keeps the layer fast on CPUs.
"""

from typing import List, Tuple

import torch
from e3nn import o3
from torch import nn


@torch.jit.script
class NeighborSlots:
    """Bonds laid out per centre, so sums over neighbours become batched matrix products.

    Attributes:
        neighbor: Neighbour index per bond, shape (E,).
        slot: Row of each bond in the padded (N * max_neighbors) layout, shape (E,).
        max_neighbors: Largest number of bonds of one centre (K).
        sh: Spherical harmonics, zero-padded per centre, shape (N, K, (l_max + 1)^2).
        radial: Radial basis times envelope per bond, shape (E, n_basis).
    """

    def __init__(self, neighbor: torch.Tensor, slot: torch.Tensor, max_neighbors: int,
                 sh: torch.Tensor, radial: torch.Tensor):
        self.neighbor = neighbor
        self.slot = slot
        self.max_neighbors = max_neighbors
        self.sh = sh
        self.radial = radial


def neighbor_slots(
    n: int, edge_index: torch.Tensor, edge_sh: torch.Tensor, edge_radial: torch.Tensor
) -> NeighborSlots:
    """Lay bonds out per centre.

    Args:
        n: Number of particles.
        edge_index: (centre, neighbour) per bond, shape (2, E), any order.
        edge_sh: Spherical harmonics per bond, shape (E, S).
        edge_radial: Radial basis per bond, shape (E, n_basis).

    Returns:
        The :class:`NeighborSlots`.
    """
    center = edge_index[0]
    order = torch.argsort(center, stable=True)
    center = center[order]
    counts = torch.bincount(center, minlength=n)
    max_neighbors = int(counts.max()) if center.numel() > 0 else 1
    max_neighbors = max(max_neighbors, 1)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(center.numel(), device=center.device) - first[center]
    slot = center * max_neighbors + rank
    sh = torch.zeros((n * max_neighbors, edge_sh.shape[1]), dtype=edge_sh.dtype, device=edge_sh.device)
    sh = sh.index_copy_(0, slot, edge_sh[order]).reshape(n, max_neighbors, -1)
    return NeighborSlots(edge_index[1][order], slot, max_neighbors, sh, edge_radial[order])


def _uuu_tensor_product(irreps1: o3.Irreps, irreps2: o3.Irreps, paths) -> o3.TensorProduct:
    """Channel-wise (``uuu``) CG product restricted to ``paths``: set of ``(l1, l2, l_out)``."""
    irreps_out = []
    instructions = []
    for i, (mul, ir1) in enumerate(irreps1):
        for j, (_, ir2) in enumerate(irreps2):
            for ir in ir1 * ir2:
                if (ir1.l, ir2.l, ir.l) in paths and ir.p == (-1) ** ir.l:
                    instructions.append((i, j, len(irreps_out), "uuu", True))
                    irreps_out.append((mul, ir))
    return o3.TensorProduct(irreps1, irreps2, o3.Irreps(irreps_out), instructions)


def coupling_paths(l_max: int, l_low: int = 2):
    """CG paths of the 4-body term: all couplings among degrees <= ``l_low`` plus the
    diagonal ``(l, l) -> l`` of every even ``l`` (whose contraction with ``A_l`` gives
    Steinhardt's third-order ``W_l``, the classic fcc/hcp discriminator)."""
    paths = {(a, b, c) for a in range(l_low + 1) for b in range(l_low + 1) for c in range(l_low + 1)
             if abs(a - b) <= c <= a + b}
    paths |= {(l, l, l) for l in range(l_low + 1, l_max + 1) if l % 2 == 0}
    return paths


class DensityConvolution(nn.Module):
    """One layer: invariant features in, new invariant features out, equivariant inside.

    Args:
        n_in: Width of the incoming invariant features.
        n_out: Width of the outgoing invariant features.
        channels: Channels ``c`` of the neighbour density.
        l_max: Largest spherical-harmonic degree.
        n_basis: Size of the radial basis.
        radial_hidden: Width of the radial MLP.
        avg_neighbors: Typical number of neighbours (normalises the sum).
    """

    def __init__(
        self, n_in: int, n_out: int, channels: int, l_max: int,
        n_basis: int, radial_hidden: int, avg_neighbors: float,
    ):
        super().__init__()
        self.channels = channels
        self.l_max = l_max
        self.inv_neighbors = 1.0 / float(avg_neighbors)
        self.irreps_density = o3.Irreps([(channels, (l, (-1) ** l)) for l in range(l_max + 1)])
        self.neighbor_weights = nn.Linear(n_in, channels)
        self.radial = nn.Sequential(
            nn.Linear(n_basis, radial_hidden), nn.SiLU(),
            nn.Linear(radial_hidden, radial_hidden), nn.SiLU(),
            nn.Linear(radial_hidden, channels * (l_max + 1)),
        )
        self.mix = nn.ModuleList([o3.Linear(self.irreps_density, self.irreps_density) for _ in range(4)])
        self.power = _uuu_tensor_product(
            self.irreps_density, self.irreps_density, {(l, l, 0) for l in range(l_max + 1)}
        )
        paths = coupling_paths(l_max)
        self.coupled = _uuu_tensor_product(self.irreps_density, self.irreps_density, paths)
        self.bispectrum = _uuu_tensor_product(
            self.coupled.irreps_out, self.irreps_density, {(l, l, 0) for l in range(l_max + 1)}
        )
        n_invariants = channels + self.power.irreps_out.dim + self.bispectrum.irreps_out.dim
        self.n_invariants = n_invariants
        self.norm = nn.LayerNorm(n_invariants)
        self.update = nn.Sequential(nn.Linear(n_invariants, n_out), nn.SiLU(), nn.Linear(n_out, n_out))
        self.skip = nn.Linear(n_in, n_out, bias=False)

    def density(self, h: torch.Tensor, bonds: NeighborSlots) -> torch.Tensor:
        """The equivariant neighbour density.

        Args:
            h: Invariant features, shape (N, n_in).
            bonds: The bonds laid out per centre (see :class:`NeighborSlots`).

        Returns:
            ``A`` in e3nn layout for ``irreps_density``, shape (N, channels * (l_max + 1)^2).
        """
        n = h.shape[0]
        weights = self.neighbor_weights(h).index_select(0, bonds.neighbor) * self.inv_neighbors
        radial = self.radial(bonds.radial) * weights.repeat(1, self.l_max + 1)  # (E, (L+1) C)
        padded = torch.zeros(
            (n * bonds.max_neighbors, radial.shape[1]), dtype=radial.dtype, device=radial.device
        ).index_copy_(0, bonds.slot, radial).reshape(n, bonds.max_neighbors, -1)
        blocks: List[torch.Tensor] = []
        c = self.channels
        for l in range(self.l_max + 1):
            r_l = padded[:, :, l * c:(l + 1) * c].transpose(1, 2)  # (N, C, K)
            y_l = bonds.sh[:, :, l * l:(l + 1) * (l + 1)]  # (N, K, 2l+1)
            blocks.append(torch.bmm(r_l, y_l).reshape(n, -1))
        return torch.cat(blocks, dim=1)

    def forward(self, h: torch.Tensor, bonds: NeighborSlots) -> Tuple[torch.Tensor, torch.Tensor]:
        """Update the invariant features.

        Args:
            h: Invariant features, shape (N, n_in).
            bonds: The bonds laid out per centre.

        Returns:
            ``(h_new (N, n_out), invariants (N, n_invariants))``; the invariants are
            the layer's rotation-invariant descriptors after LayerNorm.
        """
        a = self.density(h, bonds)
        a1 = self.mix[0](a)
        a2 = self.mix[1](a)
        a3 = self.mix[2](a)
        a4 = self.mix[3](a)
        invariants = torch.cat(
            [
                a.narrow(1, 0, self.channels),
                self.power(a1, a2),
                self.bispectrum(self.coupled(a3, a4), a),
            ],
            dim=1,
        )
        invariants = self.norm(invariants)
        return self.skip(h) + self.update(invariants), invariants
