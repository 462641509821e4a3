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
}

#: Centres per chunk on a CPU (an execution setting, not part of the architecture: the
#: ``"chunk"`` key that older model files and checkpoints carry is ignored). 256 keeps a
#: chunk's harmonics and densities within a core's L2 cache: about 8 % faster than 512
#: for a 32,000-atom LJ liquid on one core.
CPU_CHUNK = 256

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
        chunk: Centres per chunk on a CPU (results do not depend on it).
    """

    def __init__(self, cutoff: float, config: Dict, chunk: int = CPU_CHUNK):
        super().__init__()
        cfg = dict(DEFAULT_CONFIG)
        cfg.update({k: v for k, v in config.items() if k != "chunk"})
        self.config = cfg
        self.cutoff = float(cutoff)
        self.n_types = int(cfg["n_types"])
        self.chunk = int(chunk)
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
        neighbor, vec, counts = padded_neighbors(n, edge_index, edge_vec, 2.0 * self.cutoff)
        chunk = max(n, 1) if edge_vec.is_cuda else self.chunk
        # chunks of centres with similar neighbour counts, each padded to its own largest
        # count (liquids: a chunk's K is near the mean, not the global maximum)
        order = torch.argsort(counts, stable=True) if n > chunk else torch.arange(n, device=counts.device)
        chunks: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            k = max(int(counts.index_select(0, idx).max()), 1)
            chunks.append((idx, neighbor.index_select(0, idx)[:, :k], vec.index_select(0, idx)[:, :k]))
        # bond geometry is the same for every layer: keep it when it is small enough
        keep = vec.shape[0] * vec.shape[1] * (self.geometry.n_harmonics + self.geometry.radial_dim) * 4 <= self.geometry_cache_bytes
        geometry: List[Tuple[torch.Tensor, torch.Tensor]] = []
        if keep:
            geometry = [self.geometry(v) for _, _, v in chunks]
        h = torch.nn.functional.one_hot(types, self.n_types).to(edge_vec.dtype)
        features: List[torch.Tensor] = []
        width = self.embedding_dim // len(self.layers)
        for layer in self.layers:
            weights = layer.neighbor_features(h)
            mixing = layer.row_mixing()
            pieces: List[torch.Tensor] = []
            for c, (idx, nb, v) in enumerate(chunks):
                harmonics, radial = geometry[c] if keep else self.geometry(v)
                invariants = layer.invariants(weights, nb, harmonics, radial, mixing)
                pieces.append(layer(h.index_select(0, idx), invariants))
            if len(pieces) == 0:
                h = weights.new_zeros((0, width))
            else:
                h = torch.empty((n, width), dtype=weights.dtype, device=weights.device).index_copy_(
                    0, order, torch.cat(pieces, 0))
            features.append(h)
        return torch.cat(features, dim=1)
