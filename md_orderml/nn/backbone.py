"""The SE(3)-equivariant backbone: bonds in, invariant per-particle embedding out."""

from typing import Dict, List, Tuple

import torch
from torch import nn

from md_orderml.nn.convolution import BondGeometry, DensityConvolution, padded_neighbors

DEFAULT_CONFIG: Dict = {
    "l_max": 6,
    "channels": 24,
    "power_channels": 24,
    "cubic_channels": 16,
    "cubic_degrees": [2, 4, 6],
    "features": 64,
    "n_layers": 2,
    "n_basis": 8,
    "radial_hidden": 32,
    "radial_dim": 16,
    "avg_neighbors": 16.0,
    "n_types": 1,
    "chunk": 512,
}

#: Largest bond geometry (harmonics and radial features of all bonds) kept across layers
#: instead of being recomputed per layer: 512 MB, about 140,000 particles at K = 18.
GEOMETRY_CACHE_BYTES = 512 * 1024 * 1024


class EquivariantBackbone(nn.Module):
    """Message-passing network on e3nn; its output is an invariant per-particle embedding.

    Bond vectors are dimensionless (the model's length unit); the layers see
    ``|r| / cutoff`` through a Bessel basis with a smooth envelope and the bond
    direction through real spherical harmonics up to ``l_max``
    (:class:`~md_orderml.nn.convolution.DensityConvolution`). The embedding
    concatenates every layer's invariant features. On a CPU the centres are processed
    in chunks of ``chunk`` (cache-sized intermediates, bounded memory); on CUDA in one go.

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
        self.chunk = int(cfg["chunk"])
        self.geometry_cache_bytes = GEOMETRY_CACHE_BYTES
        l_max = int(cfg["l_max"])
        cubic_degrees = [int(l) for l in cfg["cubic_degrees"] if int(l) <= l_max]
        self.geometry = BondGeometry(self.cutoff, l_max, int(cfg["n_basis"]), int(cfg["radial_hidden"]),
                                     int(cfg["radial_dim"]))
        n_in = self.n_types
        layers = []
        for _ in range(int(cfg["n_layers"])):
            layers.append(
                DensityConvolution(
                    n_in, int(cfg["features"]), int(cfg["channels"]), int(cfg["power_channels"]),
                    int(cfg["cubic_channels"]), l_max, cubic_degrees, int(cfg["radial_dim"]),
                    float(cfg["avg_neighbors"]),
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
        n = types.shape[0]
        neighbor, vec = padded_neighbors(n, edge_index, edge_vec, 2.0 * self.cutoff)
        chunk = max(n, 1) if edge_vec.is_cuda else self.chunk
        starts = list(range(0, n, chunk))
        # bond geometry is the same for every layer: keep it when it is small enough
        keep = vec.shape[0] * vec.shape[1] * (self.geometry.n_harmonics + self.geometry.radial_dim) * 4 <= self.geometry_cache_bytes
        geometry: List[Tuple[torch.Tensor, torch.Tensor]] = []
        if keep:
            geometry = [self.geometry(vec[start:start + chunk]) for start in starts]
        h = torch.nn.functional.one_hot(types, self.n_types).to(edge_vec.dtype)
        features: List[torch.Tensor] = []
        for layer in self.layers:
            weights = layer.neighbor_features(h)
            pieces: List[torch.Tensor] = []
            for k, start in enumerate(starts):
                harmonics, radial = geometry[k] if keep else self.geometry(vec[start:start + chunk])
                invariants = layer.invariants(weights, neighbor[start:start + chunk], harmonics, radial)
                pieces.append(layer(h[start:start + chunk], invariants))
            h = torch.cat(pieces, 0) if len(pieces) > 0 else weights.new_zeros((0, self.embedding_dim // len(self.layers)))
            features.append(h)
        return torch.cat(features, dim=1)
