"""The SE(3)-equivariant backbone: bonds in, invariant per-particle embedding out."""

from typing import Dict, List

import torch
from e3nn import o3
from torch import nn

from md_orderml.nn.convolution import DensityConvolution, neighbor_slots
from md_orderml.nn.radial import BesselBasis, PolynomialCutoff

DEFAULT_CONFIG: Dict = {
    "l_max": 6,
    "channels": 16,
    "features": 64,
    "n_layers": 2,
    "n_basis": 8,
    "radial_hidden": 32,
    "avg_neighbors": 16.0,
    "n_types": 1,
}


class EquivariantBackbone(nn.Module):
    """Message-passing network on e3nn; its output is an invariant per-particle embedding.

    Bond vectors are dimensionless (the model's length unit); the layers see
    ``|r| / cutoff`` through a Bessel basis with a smooth envelope and the bond
    direction through real spherical harmonics up to ``l_max``
    (:class:`~md_orderml.nn.convolution.DensityConvolution`). The embedding
    concatenates every layer's invariant features.

    Args:
        cutoff: Dimensionless cutoff radius (bond vectors are in the same units).
        config: Architecture settings, see :data:`DEFAULT_CONFIG`.
    """

    def __init__(self, cutoff: float, config: Dict):
        super().__init__()
        cfg = dict(DEFAULT_CONFIG)
        cfg.update(config)
        self.config = cfg
        self.cutoff = float(cutoff)
        self.n_types = int(cfg["n_types"])
        l_max = int(cfg["l_max"])
        self.sh = o3.SphericalHarmonics(
            o3.Irreps.spherical_harmonics(l_max), normalize=True, normalization="component"
        )
        self.basis = BesselBasis(int(cfg["n_basis"]))
        self.envelope = PolynomialCutoff(6.0)
        n_in = self.n_types
        layers = []
        for _ in range(int(cfg["n_layers"])):
            layers.append(
                DensityConvolution(
                    n_in, int(cfg["features"]), int(cfg["channels"]), l_max,
                    int(cfg["n_basis"]), int(cfg["radial_hidden"]), float(cfg["avg_neighbors"]),
                )
            )
            n_in = int(cfg["features"])
        self.layers = nn.ModuleList(layers)
        self.embedding_dim = int(cfg["features"]) * len(layers)

    def forward(
        self, types: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor
    ) -> torch.Tensor:
        """Embed every particle.

        Args:
            types: Model type index of each particle, shape (N,), int64.
            edge_index: Bonds as (centre, neighbour) indices, shape (2, E).
            edge_vec: Dimensionless bond vectors, neighbour minus centre, shape (E, 3).

        Returns:
            Invariant embedding, shape (N, embedding_dim).
        """
        r = torch.linalg.vector_norm(edge_vec, dim=1) / self.cutoff
        edge_sh = self.sh(edge_vec)
        edge_radial = self.basis(r) * self.envelope(r).unsqueeze(-1)
        h = torch.nn.functional.one_hot(types, self.n_types).to(edge_vec.dtype)
        bonds = neighbor_slots(h.shape[0], edge_index, edge_sh, edge_radial)
        features: List[torch.Tensor] = []
        for layer in self.layers:
            h, _ = layer(h, bonds)
            features.append(h)
        return torch.cat(features, dim=1)
