"""Geometric-algebra attention backbone (after Spellings et al., arXiv 2411.14680).

For every centre ``i`` the bonds ``r_j`` (neighbour minus centre) are combined in
ordered pairs ``(r_j, r_k)`` (rank-2 tuples, ``j = k`` included). The geometric
product ``r_j r_k = r_j . r_k + r_j ^ r_k`` gives the pair's rotation invariants: the
scalar part ``r_j . r_k``, the bivector norm ``|r_j ^ r_k|`` and, with the norms
``|r_j|`` and ``|r_k|``, the bond angle (used through Chebyshev polynomials
``T_m(cos theta) = cos(m theta)``). A pair embedding of these invariants is mixed with
the features of both neighbours and of the centre; the pairs of a centre are summed
with learned multi-head attention weights (softmax over the centre's pairs) times the
smooth envelope product ``u(r_j) u(r_k)``, so pairs fade out continuously when a
neighbour crosses the cutoff and padded slots get exactly zero weight. Each layer also
adds an envelope-weighted neighbour sum (normalised by ``avg_neighbors``), which
carries the coordination number that a softmax average does not, and updates the
features with a residual MLP. Everything the network sees is a rotation invariant,
so the embedding is exactly invariant to rotations, translations and neighbour order.

Memory is bounded as in :class:`~md_orderml.nn.backbone.EquivariantBackbone`: bonds
are padded per centre (:func:`~md_orderml.nn.convolution.padded_neighbors`) and the
centres processed in chunks, each padded to its own largest neighbour count ``K``
(pair tensors are ``chunk x K x K x pair_width``).
"""

from typing import Dict, List, Tuple

import torch
from torch import nn

from md_orderml.nn.convolution import padded_neighbors
from md_orderml.nn.radial import BesselBasis, PolynomialCutoff

#: Architecture settings of the GA-attention family. Keys of other families (for
#: instance the density backbone's ``l_max`` merged in by the command line) are ignored.
GA_DEFAULT_CONFIG: Dict = {
    "family": "ga_attention",
    "features": 64,
    "pair_width": 32,
    "heads": 4,
    "n_basis": 8,
    "n_angular": 8,
    "n_layers": 2,
    "avg_neighbors": 16.0,
    "n_types": 1,
}

#: Centres per chunk on a CPU (results do not depend on it).
GA_CPU_CHUNK = 256

#: Centres per chunk on CUDA: pair tensors are ``K^2`` per centre, so unlike the density
#: backbone the GA backbone does not take all centres in one go (about 0.4 GB per pair
#: tensor at K = 20).
GA_CUDA_CHUNK = 8192

#: Largest pair geometry (all chunks) kept across layers instead of being recomputed.
GA_GEOMETRY_CACHE_BYTES = 256 * 1024 * 1024


class PairGeometry(nn.Module):
    """Invariant embedding of the bond pairs of a chunk of centres.

    Args:
        cutoff: Dimensionless cutoff radius.
        n_basis: Bessel functions per bond length.
        n_angular: Chebyshev polynomials of the bond angle.
        pair_width: Width of the pair embedding.
    """

    def __init__(self, cutoff: float, n_basis: int, n_angular: int, pair_width: int):
        super().__init__()
        self.cutoff = float(cutoff)
        self.n_angular = int(n_angular)
        self.basis = BesselBasis(n_basis)
        self.envelope = PolynomialCutoff(6.0)
        self.first = nn.Linear(n_basis, pair_width)
        self.second = nn.Linear(n_basis, pair_width, bias=False)
        self.angular = nn.Linear(self.n_angular + 2, pair_width, bias=False)
        self.out = nn.Linear(pair_width, pair_width)

    def forward(self, vec: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pair embedding, bond basis and envelope of padded bonds.

        Args:
            vec: Bond vectors of C centres in K slots, shape (C, K, 3) (padded slots
                lie beyond the cutoff).

        Returns:
            ``(pair (C, K, K, pair_width), radial (C, K, n_basis), envelope (C, K))``.
        """
        x = vec * (1.0 / self.cutoff)
        r = torch.sqrt(x.pow(2).sum(-1))
        radial = self.basis(r.clamp_min(1e-6).reshape(-1)).reshape(r.shape[0], r.shape[1], -1)
        envelope = self.envelope(r).clamp_min(0.0)  # float32 rounding near r = 1
        # geometric product r_j r_k: scalar part (dot) and bivector part (wedge = cross in 3D)
        dot = torch.einsum("cjx,ckx->cjk", x, x)
        a = x.unsqueeze(2).expand(-1, -1, x.shape[1], -1)
        b = x.unsqueeze(1).expand(-1, x.shape[1], -1, -1)
        wedge2 = torch.cross(a, b, dim=-1).pow(2).sum(-1)
        wedge = torch.sqrt(wedge2 + 1e-12) - 1e-6  # smooth at j = k (zero bivector)
        norms = (r.unsqueeze(2) * r.unsqueeze(1)).clamp_min(1e-12)
        cos = (dot / norms).clamp(-1.0, 1.0)
        terms: List[torch.Tensor] = [dot, wedge]
        previous, current = torch.ones_like(cos), cos
        for _ in range(self.n_angular):
            terms.append(current)
            previous, current = current, 2.0 * cos * current - previous
        angular = self.angular(torch.stack(terms, -1))
        pre = self.first(radial).unsqueeze(2) + self.second(radial).unsqueeze(1) + angular
        pair = self.out(nn.functional.silu(pre))
        return pair, radial, envelope


class GeometricAttentionLayer(nn.Module):
    """One attention layer over the rank-2 bond tuples of every centre.

    Args:
        n_in: Input feature width.
        features: Output feature width.
        pair_width: Width of the pair embedding.
        heads: Attention heads.
        n_basis: Bessel functions per bond length.
        avg_neighbors: Normalisation of the neighbour sum.
    """

    def __init__(self, n_in: int, features: int, pair_width: int, heads: int, n_basis: int,
                 avg_neighbors: float):
        super().__init__()
        self.pair_width = int(pair_width)
        self.heads = int(heads)
        self.norm = 1.0 / float(avg_neighbors)
        self.inp = nn.Linear(n_in, features)
        self.neighbor = nn.Linear(n_in, 3 * pair_width)  # j part, k part, neighbour-sum part
        self.center = nn.Linear(n_in, pair_width, bias=False)
        self.pair = nn.Linear(pair_width, pair_width)
        self.radial = nn.Linear(n_basis, pair_width, bias=False)
        self.score = nn.Linear(pair_width, heads)
        self.value = nn.Linear(heads * pair_width, features)
        self.update = nn.Sequential(
            nn.Linear(features + features + pair_width, features), nn.SiLU(), nn.Linear(features, features)
        )

    def neighbor_features(self, h: torch.Tensor) -> torch.Tensor:
        """Per-particle projections used as neighbour features, shape (N, 3 * pair_width)."""
        return self.neighbor(h)

    def forward(self, h: torch.Tensor, projected: torch.Tensor, idx: torch.Tensor, nb: torch.Tensor,
                pair: torch.Tensor, radial: torch.Tensor, envelope: torch.Tensor) -> torch.Tensor:
        """New features of a chunk of centres.

        Args:
            h: Features of all particles, shape (N, n_in).
            projected: :meth:`neighbor_features` of ``h``, shape (N, 3 * pair_width).
            idx: The chunk's centres, shape (C,).
            nb: Their neighbours in K slots, shape (C, K).
            pair: Pair embedding, shape (C, K, K, pair_width).
            radial: Bond basis, shape (C, K, n_basis).
            envelope: Bond envelope (0 for padded slots), shape (C, K).

        Returns:
            Features of the chunk, shape (C, features).
        """
        c, k = nb.shape[0], nb.shape[1]
        p = self.pair_width
        hc = h.index_select(0, idx)
        nbf = projected.index_select(0, nb.reshape(-1)).reshape(c, k, 3 * p)
        fj, fk, fs = nbf[:, :, :p], nbf[:, :, p:2 * p], nbf[:, :, 2 * p:]
        z = self.pair(pair) + fj.unsqueeze(2) + fk.unsqueeze(1) + self.center(hc).reshape(c, 1, 1, p)
        z = nn.functional.silu(z).reshape(c, k * k, p)
        weight = (envelope.unsqueeze(2) * envelope.unsqueeze(1)).reshape(c, k * k, 1)
        logits = self.score(z)
        valid = weight > 0.0
        top = logits.masked_fill(~valid, float("-inf")).amax(dim=1, keepdim=True)
        top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
        e = weight * torch.exp(torch.where(valid, logits, top) - top)
        denom = e.sum(dim=1, keepdim=True)
        alpha = torch.where(denom > 0.0, e / denom.clamp_min(1e-30), torch.zeros_like(e))
        attended = torch.einsum("cth,ctp->chp", alpha, z).reshape(c, self.heads * p)
        summed = (envelope.unsqueeze(2) * nn.functional.silu(self.radial(radial) + fs)).sum(1) * self.norm
        x = self.inp(hc)
        return x + self.update(torch.cat([x, self.value(attended), summed], 1))


class GeometricAlgebraAttentionBackbone(nn.Module):
    """Stack of geometric-algebra attention layers; invariant per-particle embedding out.

    Same interface as :class:`~md_orderml.nn.backbone.EquivariantBackbone`: bond
    vectors are dimensionless, the embedding concatenates every layer's features, and
    the centres are processed in chunks of ``chunk`` on a CPU and of
    :data:`GA_CUDA_CHUNK` on CUDA.

    Args:
        cutoff: Dimensionless cutoff radius (bond vectors are in the same units).
        config: Architecture settings, see :data:`GA_DEFAULT_CONFIG` (other keys ignored).
        chunk: Centres per chunk on a CPU (results do not depend on it).
    """

    def __init__(self, cutoff: float, config: Dict, chunk: int = GA_CPU_CHUNK):
        super().__init__()
        cfg = dict(GA_DEFAULT_CONFIG)
        cfg.update({k: v for k, v in config.items() if k in GA_DEFAULT_CONFIG})
        if cfg["family"] != "ga_attention":
            raise ValueError(f"GeometricAlgebraAttentionBackbone got family {cfg['family']!r}")
        self.config = cfg
        self.cutoff = float(cutoff)
        self.n_types = int(cfg["n_types"])
        self.chunk = int(chunk)
        self.cuda_chunk = GA_CUDA_CHUNK
        self.geometry_cache_bytes = GA_GEOMETRY_CACHE_BYTES
        features, pair_width = int(cfg["features"]), int(cfg["pair_width"])
        self.pair_width = pair_width
        self.geometry = PairGeometry(self.cutoff, int(cfg["n_basis"]), int(cfg["n_angular"]), pair_width)
        n_in = self.n_types
        layers = []
        for _ in range(int(cfg["n_layers"])):
            layers.append(GeometricAttentionLayer(n_in, features, pair_width, int(cfg["heads"]),
                                                  int(cfg["n_basis"]), float(cfg["avg_neighbors"])))
            n_in = features
        self.layers = nn.ModuleList(layers)
        self.features = features
        self.embedding_dim = features * len(layers)

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
        chunk = self.cuda_chunk if edge_vec.is_cuda else self.chunk
        order = torch.argsort(counts, stable=True) if n > chunk else torch.arange(n, device=counts.device)
        chunks: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        pair_elements = 0
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            k = max(int(counts.index_select(0, idx).max()), 1)
            chunks.append((idx, neighbor.index_select(0, idx)[:, :k], vec.index_select(0, idx)[:, :k]))
            pair_elements += idx.shape[0] * k * k
        keep = pair_elements * self.pair_width * 4 <= self.geometry_cache_bytes
        geometry: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        if keep:
            geometry = [self.geometry(v) for _, _, v in chunks]
        h = torch.nn.functional.one_hot(types, self.n_types).to(edge_vec.dtype)
        outputs: List[torch.Tensor] = []
        for layer in self.layers:
            projected = layer.neighbor_features(h)
            pieces: List[torch.Tensor] = []
            for c, (idx, nb, v) in enumerate(chunks):
                pair, radial, envelope = geometry[c] if keep else self.geometry(v)
                pieces.append(layer(h, projected, idx, nb, pair, radial, envelope))
            if len(pieces) == 0:
                h = projected.new_zeros((0, self.features))
            else:
                h = torch.empty((n, self.features), dtype=projected.dtype, device=projected.device).index_copy_(
                    0, order, torch.cat(pieces, 0))
            outputs.append(h)
        return torch.cat(outputs, dim=1)
