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

#: Most bond geometry (harmonics and radial features) kept at once between a chunk's
#: first and last layer instead of being recomputed: 512 MB, about 140,000 particles
#: at K = 18. Chunks run in a wavefront (see :func:`ready_after`), so with spatially
#: sorted particles only a few slabs of the system are kept at a time.
GEOMETRY_CACHE_BYTES = 512 * 1024 * 1024

#: Chunks per block: centres are sorted by neighbour count within blocks of this many
#: chunks in input order (padding stays small in liquids, the input's locality is kept).
BLOCK_CHUNKS = 16


def chunk_order(counts: torch.Tensor, chunk: int, block_chunks: int) -> torch.Tensor:
    """The order in which centres are processed, ``chunk`` at a time.

    Centres stay in input order by blocks of ``block_chunks`` chunks; within a block they
    are sorted by neighbour count, so each chunk, padded to its own largest count, has
    little padding even in liquids.

    Args:
        counts: Neighbour count of every centre, shape (N,), int64.
        chunk: Centres per chunk.
        block_chunks: Chunks per block.

    Returns:
        A permutation of the centres, shape (N,), int64.
    """
    n = counts.shape[0]
    if n <= chunk:
        return torch.arange(n, device=counts.device)
    block = torch.div(torch.arange(n, device=counts.device), chunk * block_chunks, rounding_mode="floor")
    return torch.argsort(block * (int(counts.max()) + 1) + counts, stable=True)


def ready_after(neighbor: torch.Tensor, order: torch.Tensor, chunk: int) -> List[int]:
    """For each chunk, the last chunk a layer must have finished before the next layer runs it.

    A layer needs the previous layer's features of the chunk's centres and of all their
    neighbours; chunks run in order, so chunk ``c`` of layer ``l`` may run once layer
    ``l - 1`` has finished chunk ``ready[c]`` (a running maximum over chunks ``<= c``).

    Args:
        neighbor: Padded neighbour indices, shape (N, K) (empty slots: the centre itself).
        order: :func:`chunk_order`, shape (N,).
        chunk: Centres per chunk.

    Returns:
        ``ready``, one chunk index per chunk, non-decreasing, ``ready[c] >= c``.
    """
    n = order.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    position = torch.arange(n, device=order.device)
    chunk_of = torch.empty_like(order).index_copy_(0, order, torch.div(position, chunk, rounding_mode="floor"))
    last = chunk_of.index_select(0, neighbor.reshape(-1)).reshape(neighbor.shape).max(dim=1)[0]
    need = torch.zeros(n_chunks, dtype=torch.long, device=order.device).scatter_reduce_(0, chunk_of, last, "amax")
    return torch.cummax(need, 0)[0].tolist()


class EquivariantBackbone(nn.Module):
    """Message-passing network on e3nn; its output is an invariant per-particle embedding.

    Bond vectors are dimensionless (the model's length unit); the layers see
    ``|r| / cutoff`` through a Bessel basis with a smooth envelope and the bond
    direction through real spherical harmonics up to ``l_max``
    (:class:`~md_orderml.nn.convolution.DensityConvolution`). The embedding
    concatenates every layer's invariant features. On a CPU the centres are processed
    in chunks of ``chunk`` (cache-sized intermediates, bounded memory); on CUDA in one go.
    The chunks run in a wavefront: a chunk's next layer runs as soon as the previous
    layer has reached all its neighbours (:func:`ready_after`), so its bond geometry is
    kept only in between (at most ``geometry_cache_bytes``, else recomputed). That keeps
    memory small when neighbours are close in the particle order, which the exported
    models arrange with :func:`~md_orderml.spatial_order.spatial_order`; the results do
    not depend on the order, the chunk size or the budget.

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
        self.block_chunks = BLOCK_CHUNKS
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
        n_layers = len(self.layers)
        width = self.embedding_dim // n_layers
        if n == 0:
            return edge_vec.new_zeros((0, self.embedding_dim))
        neighbor, vec, counts = padded_neighbors(n, edge_index, edge_vec, 2.0 * self.cutoff)
        chunk = n if edge_vec.is_cuda else self.chunk
        order = chunk_order(counts, chunk, self.block_chunks)
        chunks: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            k = max(int(counts.index_select(0, idx).max()), 1)
            chunks.append((idx, neighbor.index_select(0, idx)[:, :k], vec.index_select(0, idx)[:, :k]))
        ready = ready_after(neighbor, order, chunk)
        # per layer: incoming features, density weights of the incoming features, channel mixing
        h0 = torch.nn.functional.one_hot(types, self.n_types).to(edge_vec.dtype)
        inputs: List[torch.Tensor] = [h0]
        weights: List[torch.Tensor] = []
        mixing: List[torch.Tensor] = []
        for l, layer in enumerate(self.layers):
            mixing.append(layer.row_mixing())
            if l == 0:
                weights.append(layer.neighbor_features(h0))
            else:
                weights.append(h0.new_empty((n, layer.channels)))
            inputs.append(h0.new_empty((n, width)))
        # bond geometry of a chunk is the same in every layer: keep it (within a memory
        # budget) from its first layer to its last
        empty = vec.new_zeros(0)
        geometry: List[Tuple[torch.Tensor, torch.Tensor]] = [(empty, empty) for _ in chunks]
        kept_bytes = 0
        done = [0 for _ in range(n_layers)]
        n_chunks = len(chunks)
        last = n_layers - 1
        while done[last] < n_chunks:
            l = last  # the deepest layer whose next chunk has its inputs ready
            while l > 0 and not (done[l] < n_chunks and done[l - 1] > ready[done[l]]):
                l -= 1
            c = done[l]
            idx, nb, v = chunks[c]
            harmonics, radial = self.run_chunk(l, idx, nb, v, geometry[c], weights, inputs, mixing)
            size = (harmonics.numel() + radial.numel()) * harmonics.element_size()
            if l == last and geometry[c][0].numel() > 0:
                kept_bytes -= size
                geometry[c] = (empty, empty)
            elif l == 0 and l < last and kept_bytes + size <= self.geometry_cache_bytes:
                geometry[c] = (harmonics, radial)
                kept_bytes += size
            done[l] += 1
        return torch.cat(inputs[1:], dim=1)

    def run_chunk(self, l: int, idx: torch.Tensor, neighbor: torch.Tensor, vec: torch.Tensor,
                  geometry: Tuple[torch.Tensor, torch.Tensor], weights: List[torch.Tensor],
                  inputs: List[torch.Tensor], mixing: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Run layer ``l`` on one chunk of centres, writing its rows of the layer's output.

        Args:
            l: The layer.
            idx: The chunk's centres, shape (B,).
            neighbor: Their padded neighbours, shape (B, K).
            vec: Their padded bond vectors, shape (B, K, 3).
            geometry: The chunk's kept ``(harmonics, radial)``, or two empty tensors.
            weights: Density weights per layer, each (N, channels); the next layer's rows
                of the chunk are written here.
            inputs: Features per layer, ``inputs[l + 1]`` (N, width) is written here.
            mixing: Row mixing per layer.

        Returns:
            The chunk's ``(harmonics, radial)`` (computed here when not given).
        """
        harmonics, radial = geometry
        if harmonics.numel() == 0:
            harmonics, radial = self.geometry(vec)
        for k, step in enumerate(self.layers):
            if k == l:
                invariants = step.invariants(weights[k], neighbor, harmonics, radial, mixing[k])
                inputs[k + 1].index_copy_(0, idx, step(inputs[k].index_select(0, idx), invariants))
            elif k == l + 1:
                weights[k].index_copy_(0, idx, step.neighbor_features(inputs[k].index_select(0, idx)))
        return harmonics, radial
