"""Local length scales: every particle's lengths in a unit from its own neighbourhood.

Models with ``length_unit="local"`` (:class:`~md_orderml.nn.labeler.StructureLabeler`)
measure lengths not in one unit per frame, ``(V / N) ** (1 / 3)`` of the whole box
(which vacuum or a second phase of another density shifts), but per particle:

* **Scale.** ``d_i`` is the distance of particle ``i`` to its 6th nearest neighbour
  (:data:`SCALE_RANK`; periodic images included). An order statistic needs no absolute
  radius, is robust (for the 12 neighbours of fcc/hcp it is the median of the first
  shell; atoms of fcc (111) and (100) surfaces, with 9 and 8 neighbours, keep their bulk
  value) and is a continuous function of the positions. The unit is
  ``s_i = d_i / 2 ** (1 / 6)`` (:data:`UNIT_DISTANCE`), so in a perfect fcc crystal
  ``s = (V / N) ** (1 / 3)``: the global unit the models were trained in. Measured on the
  noisy reference crystals, ``s`` is 1.00-1.01 of the global unit in fcc, bcc and sc,
  1.18 in cd and hd (their 6th neighbour is in the second shell), 0.97-0.98 in LJ
  liquids, and varies by 3-5 % from particle to particle (a built-in jitter). Models
  trained in the global unit therefore need retraining for diamond structures.
* **Bonds** are measured in the centre's unit: ``i -> j`` is a bond when
  ``|r_ij| < cutoff * s_i``, with bond vector ``r_ij / s_i``. A label then depends on
  the particle's own environment alone (not on a neighbour's unit as with the mean of
  both ends, which would drag an interface's other phase into it), the search is a
  radius search per centre, and the backbone, which sums over the centre's bonds,
  needs no symmetric graph. The isolated-crystal rule's radius is in the centre's
  unit too.
* **Cap.** With ``m`` the lower median of ``d`` over all particles given to the model,
  ``d_i > 3 m`` (:data:`CAP_FACTOR`) marks particle ``i`` *capped* (a vapour atom, far
  from everything: fewer than 6 particles within three typical first-shell distances):
  its unit becomes ``3 m / 2 ** (1 / 6)`` and its label the model's liquid class. The
  search for ``d`` stops there, so vapour stays cheap. No particle of a condensed phase
  is capped: liquids, surfaces and phases up to 27 times less dense than the median keep
  ``d_i <= 3 m``, and an atom within one cutoff of a condensed surface has dozens of
  particles within ``3 m``; so the cap changes no label in a condensed phase. (Under MPI,
  ``m`` is each rank's median of owned and ghost particles: only capped particles, whose
  label is liquid in any case, can see the difference.)
* **Reach.** ``s_i`` depends on particles within ``d_i = UNIT_DISTANCE * s_i`` (capped:
  within ``3 m``, also ``UNIT_DISTANCE * s_i``); a layer reaches ``cutoff * s_i``. The
  receptive field in local units is ``(n_layers - 1) * cutoff + max(cutoff,
  UNIT_DISTANCE) + isolation_radius`` (:func:`local_receptive_field`; equal to the global
  ``n_layers * cutoff + isolation_radius`` for cutoffs above 1.12), and the absolute
  reach of a configuration is that times its largest scale after the cap
  (``StructureLabeler.ghost_reach``).

Uniform rescaling multiplies every ``d_i``, ``m`` and ``s_i`` by the same factor, so it
is an exact invariance. TorchScript-compatible: the model files run it.
"""

import math
from typing import Dict, List, Tuple

import torch
from torch import Tensor

from md_orderml.directed_neighbors import directed_radius_graph, kth_bond_length, kth_neighbor_distances
from md_orderml.neighbors import radius_pairs
from md_orderml.spatial_order import spatial_order

__all__ = ["SCALE_RANK", "UNIT_DISTANCE", "CAP_FACTOR", "local_length_scales", "local_scales_and_graph",
           "spatially_sorted_local_graph", "local_receptive_field", "largest_scale_bound", "width_check_bound",
           "typical_scale"]

#: The scale is the distance to this nearest neighbour.
SCALE_RANK = 6
#: That distance in units of the scale: the 6th-neighbour distance of perfect fcc in
#: units of ``(V / N) ** (1 / 3)``, ``2 ** (1 / 6)``.
UNIT_DISTANCE = 2.0 ** (1.0 / 6.0)
#: A particle whose 6th-neighbour distance exceeds this multiple of the median is capped.
CAP_FACTOR = 3.0


def local_receptive_field(cutoff: float, n_layers: int, isolation_radius: float = 0.0,
                          unit_distance: float = UNIT_DISTANCE) -> float:
    """Receptive field of a local-unit model, in units of the largest local scale.

    Args:
        cutoff: Dimensionless cutoff.
        n_layers: Message-passing layers.
        isolation_radius: The isolated-crystal rule's radius (0: off).
        unit_distance: :data:`UNIT_DISTANCE` (the scale's own reach).

    Returns:
        ``(n_layers - 1) * cutoff + max(cutoff, unit_distance) + isolation_radius``.
    """
    return (n_layers - 1) * cutoff + max(cutoff, unit_distance) + isolation_radius


def largest_scale_bound(volume: float, n: int, shortest_width: float, rank: int = SCALE_RANK,
                        unit_distance: float = UNIT_DISTANCE, cap_factor: float = CAP_FACTOR) -> float:
    """An upper bound of every capped local scale in a fully periodic 3D box, from N and V alone.

    With ``m`` the lower median of the rank-``k`` distances ``d_i``, at least N / 2
    particles have ``d_i >= m``, so fewer than ``k`` others within ``m``. Balls of radius
    ``m / 2`` around them cover no point more than ``k`` times (particles whose balls share
    a point are within ``m`` of each other) and, when ``m`` is below the shortest periodic
    width, do not overlap their own images; so ``(N / 2) (4 pi / 3) (m / 2)^3 <= k V``,
    i.e. ``m <= (12 k / pi)^(1/3) (V / N)^(1/3)``. (If ``m`` exceeded the shortest width
    ``W``, the same count with radius ``W / 2`` would bound ``W`` by that value: so the bound
    holds whenever ``W`` exceeds it.) Every scale, capped or not, is at most
    ``cap_factor * m / unit_distance``.

    Lets callers skip computing all scales when a box is certainly wide enough.

    Args:
        volume: Box volume.
        n: Particles, N > 0.
        shortest_width: Smallest perpendicular width of the (fully periodic) box.
        rank, unit_distance, cap_factor: The scale's rule.

    Returns:
        The bound, or ``inf`` when ``shortest_width`` does not exceed the median's bound.
    """
    if n <= 0:
        return math.inf
    median_bound = (12.0 * rank / math.pi * volume / n) ** (1.0 / 3.0)
    if not shortest_width > median_bound:
        return math.inf
    return cap_factor * median_bound / unit_distance


def width_check_bound(volume: float, n: int, widths: List[float], cutoff: float, rule: Dict) -> float:
    """:func:`largest_scale_bound` when a fully periodic 3D box passes the width check with it, else 0.

    The width check wants every periodic width at least ``2 * cutoff`` times the largest
    local scale. Computing the scales costs as much as a good part of the model's own
    call, which computes them again; a box wider than ``2 * cutoff`` times this bound
    passes whatever they are. Callers fall back to the exact scales on 0. Not a reach: never
    size ghosts or halos with it.

    Args:
        volume: Box volume.
        n: Particles.
        widths: The three perpendicular widths (every direction periodic).
        cutoff: The model's dimensionless cutoff.
        rule: The model file's ``local_length_scale`` metadata (``rank``, ``unit_distance``,
            ``cap_factor``; others ignored).

    Returns:
        The bound, or 0 when it does not clear the box.
    """
    narrowest = float(min(widths))
    bound = largest_scale_bound(volume, n, narrowest, int(rule.get("rank", SCALE_RANK)),
                                float(rule.get("unit_distance", UNIT_DISTANCE)),
                                float(rule.get("cap_factor", CAP_FACTOR)))
    return bound if 2.0 * cutoff * bound <= narrowest else 0.0


def _model_geometry(positions: Tensor, cell: Tensor, pbc: Tensor) -> Tuple[Tensor, Tensor, List[bool]]:
    """Positions and cell in float64 (open rows of the cell zeroed) and the periodic flags."""
    pbc_list: List[bool] = [bool(pbc[0]), bool(pbc[1]), bool(pbc[2])]
    pbc_t = torch.tensor(pbc_list, dtype=torch.bool, device=positions.device)
    cell64 = cell.detach().to(device=positions.device, dtype=torch.float64)
    cell64 = torch.where(pbc_t.unsqueeze(1), cell64, torch.zeros_like(cell64))
    return positions.detach().to(torch.float64), cell64, pbc_list


def _scale_rank(pbc: List[bool], n: int, rank: int) -> int:
    """The rank used: ``rank``, or ``N - 1`` in an open system of ``N <= rank`` particles."""
    return rank if pbc[0] or pbc[1] or pbc[2] else min(rank, n - 1)


def typical_scale(x64: Tensor, cell64: Tensor, pbc: List[bool], rank: int, unit_distance: float,
                  cap_factor: float) -> float:
    """The 95th percentile of the capped scales of a sample of about 1,000 particles.

    Only speed depends on it (search radii, slab widths): results are exact whatever it is.

    Args:
        x64, cell64, pbc: From :func:`_model_geometry`, N > 0 and a usable rank.
        rank, unit_distance, cap_factor: The scale's rule.
    """
    n = x64.shape[0]
    sample = torch.arange(0, n, max(1, n // 1024), device=x64.device)
    inf = torch.full((n,), math.inf, dtype=torch.float64, device=x64.device)
    distance, limit = kth_neighbor_distances(x64, cell64, pbc, _scale_rank(pbc, n, rank), cap_factor, sample,
                                             inf, 0.0, 0.0)
    d = torch.clamp(distance.index_select(0, sample), max=limit)
    return float(torch.kthvalue(d, max(1, int(math.ceil(0.95 * d.shape[0]))))[0]) / unit_distance


def local_scales_and_graph(x64: Tensor, cell64: Tensor, pbc: List[bool], cutoff: float, hint: float,
                           rank: int, unit_distance: float, cap_factor: float, typical: float,
                           with_graph: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Capped local scales and the bonds in the centres' units (raw lengths).

    One symmetric search (:func:`~md_orderml.neighbors.radius_pairs`) with the radius
    ``1.05 * max(cutoff, UNIT_DISTANCE) * typical`` holds the scale-setting neighbour and
    every bond of the typical particle; the others (isolated, or with a longer cutoff) are
    resolved by :func:`~md_orderml.directed_neighbors.kth_neighbor_distances` and
    :func:`~md_orderml.directed_neighbors.directed_radius_graph`.

    Args:
        x64, cell64, pbc: From :func:`_model_geometry`, N > 0.
        cutoff: Dimensionless cutoff.
        hint: Scale of a lone particle in open space (see :func:`local_length_scales`).
        rank, unit_distance, cap_factor: The scale's rule.
        typical: :func:`typical_scale` (speed only).
        with_graph: Also return the bonds (else two empty tensors).

    Returns:
        ``(scales (N,) float64, capped (N,) bool, edge_index (2, E), edge_vec (E, 3) float64)``:
        bonds ``i -> j`` with ``|r_ij| < cutoff * s_i``, raw lengths, sorted by centre.

    Raises:
        ValueError: Most particles at one point (a zero median).
    """
    n = x64.shape[0]
    device = x64.device
    no_edges = torch.zeros(2, 0, dtype=torch.long, device=device)
    no_vec = torch.zeros(0, 3, dtype=torch.float64, device=device)
    rank = _scale_rank(pbc, n, rank)
    if rank < 1:  # a lone particle in open space: no bond at any scale
        return (torch.full((n,), hint if hint > 0.0 else 1.0, dtype=torch.float64, device=device),
                torch.ones(n, dtype=torch.bool, device=device), no_edges, no_vec)
    pbc_t = torch.tensor(pbc, dtype=torch.bool, device=device)
    search = 1.05 * max(cutoff, unit_distance) * typical
    near = 1.05 * unit_distance * typical  # holds the typical particle's scale-setting neighbour
    first, second, shifts, pair_vec = radius_pairs(x64, cell64, pbc_t, search)
    n_pairs = first.shape[0]
    centre = torch.cat([first, second])  # every pair in both directions: bond k < n_pairs is first -> second
    d2 = (pair_vec * pair_vec).sum(dim=1)
    d2 = torch.cat([d2, d2])
    close = torch.nonzero(d2 < near * near).squeeze(1)
    close = close.index_select(0, torch.sort(centre.index_select(0, close), stable=True)[1])
    distance = torch.sqrt(kth_bond_length(centre.index_select(0, close).unsqueeze(0), d2.index_select(0, close),
                                          n, rank))
    distance, limit = kth_neighbor_distances(x64, cell64, pbc, rank, cap_factor, torch.arange(n, device=device),
                                             distance, 2.0 * near, near)
    if not limit > 0.0:
        raise ValueError("local length scale: most particles sit at the same point (zero median "
                         "neighbour distance)")
    capped = distance > limit
    scales = torch.clamp(distance, min=1e-9 * limit, max=limit) / unit_distance
    if not with_graph:
        return scales, capped, no_edges, no_vec
    radius = cutoff * scales
    ordinary = radius <= search  # all their bonds are among the pairs
    keep = torch.nonzero(ordinary.index_select(0, centre) & (d2 < radius.index_select(0, centre) ** 2)).squeeze(1)
    keep = keep.index_select(0, torch.sort(centre.index_select(0, keep), stable=True)[1])
    pair = torch.remainder(keep, max(n_pairs, 1))
    edge_index = torch.stack([centre.index_select(0, keep), torch.cat([second, first]).index_select(0, keep)])
    vec = pair_vec.index_select(0, pair) * torch.where(keep < n_pairs, 1.0, -1.0).to(torch.float64).unsqueeze(1)
    others = torch.nonzero(~ordinary).squeeze(1)
    if others.shape[0] > 0:
        extra_index, extra_shifts, extra_vec = directed_radius_graph(x64, cell64, pbc, radius, others, search)
        edge_index = torch.cat([edge_index, extra_index], dim=1)
        vec = torch.cat([vec, extra_vec])
        by_centre = torch.sort(edge_index[0], stable=True)[1]  # both parts are sorted by centre
        edge_index = edge_index.index_select(1, by_centre)
        vec = vec.index_select(0, by_centre)
    return scales, capped, edge_index, vec


def local_length_scales(positions: Tensor, cell: Tensor, pbc: Tensor, hint: float, rank: int = SCALE_RANK,
                        unit_distance: float = UNIT_DISTANCE,
                        cap_factor: float = CAP_FACTOR) -> Tuple[Tensor, Tensor]:
    """The local length scale of every particle, capped (see the module docstring).

    Args:
        positions: Positions, shape (N, 3), any float dtype, finite.
        cell: Lattice vectors as rows, shape (3, 3) (open rows: anything).
        pbc: Periodicity per direction, shape (3,), bool.
        hint: Only for a lone particle in open space (no neighbour, so no bond at any
            scale): its scale (1 when not > 0). Otherwise unused.
        rank: :data:`SCALE_RANK`.
        unit_distance: :data:`UNIT_DISTANCE`.
        cap_factor: :data:`CAP_FACTOR`.

    Returns:
        ``(scales, capped)``: ``s_i`` (N,) float64 and whether it was capped (N,) bool.

    Raises:
        ValueError: NaN or inf positions; most particles at one point (a zero median).
    """
    x64, cell64, pbc_list = _model_geometry(positions, cell, pbc)
    n = x64.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.bool)
    typical = typical_scale(x64, cell64, pbc_list, rank, unit_distance, cap_factor) if _scale_rank(
        pbc_list, n, rank) > 0 else 1.0
    scales, capped, _, _ = local_scales_and_graph(x64, cell64, pbc_list, 1.0, hint, rank, unit_distance, cap_factor,
                                                  typical, False)
    return scales, capped


def spatially_sorted_local_graph(positions: Tensor, types: Tensor, cell: Tensor, pbc: Tensor, hint: float,
                                 cutoff: float, dtype: torch.dtype, rank: int = SCALE_RANK,
                                 unit_distance: float = UNIT_DISTANCE, cap_factor: float = CAP_FACTOR
                                 ) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The graph a local-unit model sees: its forward and its training data both use this.

    The particles are put in :func:`~md_orderml.spatial_order.spatial_order` (slabs
    ``cutoff`` typical scales thick), then :func:`local_scales_and_graph` gives the scales
    and bonds, whose vectors are divided by the centre's scale.

    Args:
        positions: Positions, shape (N, 3), raw units (any).
        types: Model type index per particle, shape (N,), int64.
        cell: Lattice vectors as rows, shape (3, 3).
        pbc: Periodicity per direction, shape (3,), bool.
        hint: See :func:`local_length_scales` (the engines' ``length_scale``).
        cutoff: Dimensionless cutoff.
        dtype: Dtype of the bond vectors (the model's).
        rank, unit_distance, cap_factor: The scale's rule.

    Returns:
        ``(inverse (N,), types (N,), edge_index (2, E), edge_vec (E, 3), capped (N,), scales (N,))``
        of the sorted particles: ``edge_vec = r_ij / s_i``, sorted by centre;
        ``per_node_sorted.index_select(0, inverse)`` is in input order.

    Raises:
        ValueError: NaN or inf positions; most particles at one point.
    """
    x64, cell64, pbc_list = _model_geometry(positions, cell, pbc)
    n = x64.shape[0]
    device = x64.device
    if n == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return (empty, types, torch.zeros(2, 0, dtype=torch.long, device=device),
                torch.zeros(0, 3, dtype=dtype, device=device), torch.zeros(0, dtype=torch.bool, device=device),
                torch.zeros(0, dtype=torch.float64, device=device))
    typical = typical_scale(x64, cell64, pbc_list, rank, unit_distance, cap_factor) if _scale_rank(
        pbc_list, n, rank) > 0 else 1.0
    order = spatial_order(x64, cell64, pbc, cutoff * typical)
    inverse = torch.empty_like(order).index_copy_(0, order, torch.arange(n, device=device))
    scales, capped, edge_index, vec = local_scales_and_graph(x64.index_select(0, order), cell64, pbc_list, cutoff,
                                                             hint, rank, unit_distance, cap_factor, typical, True)
    edge_vec = (vec / scales.index_select(0, edge_index[0]).unsqueeze(1)).to(dtype)
    return inverse, types.index_select(0, order), edge_index, edge_vec, capped, scales
