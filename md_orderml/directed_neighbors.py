"""Neighbour searches with a radius per particle: k-th neighbour distances and directed bonds.

Both run on the hashed cell list of :mod:`md_orderml.cell_hash` (only occupied cells
exist), in float64, periodic, partly periodic or open, under TorchScript:

* :func:`kth_neighbor_distances`: the distance of particles to their ``rank``-th nearest
  neighbour (periodic images included) with no radius given. Levels of doubling search
  radius ``h`` with cells at least ``h`` wide: a particle is resolved at the first level
  with ``rank`` neighbours within ``h`` (all of them lie in its 27 neighbour cells).
  Once half the particles are resolved, the search stops at ``stop_factor`` times their
  median (the cap of :mod:`md_orderml.local_scale`), so isolated particles stay cheap.
  :func:`kth_bond_length` reads the same distance off a graph that already holds it.
* :func:`directed_radius_graph`: every bond ``i -> j`` with ``|r_ij| < radius[i]``, the
  centre's own radius, for given centres (the graph need not be symmetric).
"""

import math
from typing import List, Tuple

import torch
from torch import Tensor

from md_orderml.cell_hash import build_cells, grid_shape, search_reach, shell_candidates, shell_offsets
from md_orderml.neighbors import cell_indices, fractional_coordinates, sort_edges

__all__ = ["kth_neighbor_distances", "kth_bond_length", "directed_radius_graph"]

#: Candidate pairs per chunk (bounds the working memory, ~100 bytes each; written out in the
#: code, which TorchScript compiles without globals).
_CHUNK_PAIRS = 2097152


def _starting_width(s: Tensor, lo: Tensor, span: Tensor, extent: List[float], target: float) -> float:
    """A cell width whose occupied cells hold about ``target`` particles (speed only).

    Starts from the largest extent and shrinks by the measured particle-weighted
    occupancy ``sum(count^2) / N`` of the occupied cells, so empty space plays no part.
    """
    n = s.shape[0]
    h = max(max(extent), 1e-300)
    for _ in range(16):
        ncell = grid_shape(extent, h)
        cidx = cell_indices(s, lo, span, torch.tensor(ncell, dtype=torch.long, device=s.device))
        count = build_cells(cidx, ncell)[4].to(torch.float64)
        occupancy = float((count * count).sum()) / n
        if occupancy <= 2.0 * target:
            break
        h = h * (target / occupancy) ** (1.0 / 3.0)
    return h


def _kth_smallest(centre: Tensor, d2: Tensor, n_centres: int, rank: int) -> Tuple[Tensor, Tensor]:
    """Count and ``rank``-th smallest value per centre of values grouped by centre.

    Args:
        centre: Centre of each value, shape (T,), int64, non-decreasing, in ``[0, n_centres)``.
        d2: The values, shape (T,), float64.
        n_centres: Number of centres B.
        rank: Which smallest value (1 = the smallest).

    Returns:
        ``(count (B,), kth (B,))``; ``kth`` is ``inf`` where ``count < rank``.
    """
    count = torch.bincount(centre, minlength=n_centres)
    first = torch.cumsum(count, 0) - count
    slot = torch.arange(centre.shape[0], device=centre.device) - first.index_select(0, centre)
    width = max(int(count.max()) if centre.numel() > 0 else 0, rank)
    padded = torch.full((n_centres * width,), math.inf, dtype=d2.dtype, device=d2.device)
    padded.index_copy_(0, centre * width + slot, d2)
    return count, torch.kthvalue(padded.reshape(n_centres, width), rank, dim=1)[0]


def kth_neighbor_distances(x64: Tensor, cell64: Tensor, pbc: List[bool], rank: int, stop_factor: float,
                           centres: Tensor, distance: Tensor, width: float, searched: float) -> Tuple[Tensor, float]:
    """Distance of some particles to their ``rank``-th nearest neighbour, up to a cap.

    Args:
        x64: Positions, shape (N, 3), float64, N > 0.
        cell64: Lattice vectors as rows, shape (3, 3), float64; open rows must be zero.
        pbc: Periodicity per direction, three bools.
        rank: Which neighbour (6: the sixth nearest), at most N - 1 in an open system.
        stop_factor: Stop once the search radius reaches ``stop_factor`` times the
            (lower) median distance of ``centres``; > 0.
        centres: The particles to resolve, shape (B,), int64, B > 0.
        distance: Distances already known, shape (N,), float64, ``inf`` where unknown
            (exact values only: particles with a finite entry are not searched again).
        width: Search radius of the first level (0: from the particles' occupancy).
        searched: Radius already searched: every unknown distance is at least this.

    Returns:
        ``(distance, limit)``: ``distance`` (N,) with the centres' distances filled in,
        exact where ``<= limit`` and still ``inf`` where the search stopped below
        them; ``limit`` = ``stop_factor`` x the centres' median.
    """
    n = x64.shape[0]
    device = x64.device
    pbc_t = torch.tensor(pbc, dtype=torch.bool, device=device)
    basis, s, wraps, lo, span, widths = fractional_coordinates(x64, cell64, pbc)
    extent: List[float] = (widths * span).tolist()
    h = width if width > 0.0 else _starting_width(s, lo, span, extent, 3.0)
    shrink = 1.0 - 1e-9  # resolved within h * shrink: safe from rounding in the cell assignment
    median_rank = (centres.shape[0] + 1) // 2
    limit = math.inf
    distance = distance.clone()
    for _ in range(64):
        remaining = centres.index_select(0, torch.nonzero(torch.isinf(distance.index_select(0, centres))).squeeze(1))
        if math.isinf(limit) and centres.shape[0] - remaining.shape[0] >= median_rank:
            limit = stop_factor * float(torch.kthvalue(distance.index_select(0, centres), median_rank)[0])
        if remaining.shape[0] == 0 or searched >= limit:
            break
        h = min(h, limit / shrink)
        ncell = grid_shape(extent, h)
        reach = search_reach(extent, ncell, pbc, h)
        order, cell_of, keys, start, count, coords = build_cells(
            cell_indices(s, lo, span, torch.tensor(ncell, dtype=torch.long, device=device)), ncell)
        sorted_at = torch.empty_like(order).index_copy_(0, order, torch.arange(n, device=device))
        centres_all = torch.sort(sorted_at.index_select(0, remaining))[0]
        wraps_s = wraps.index_select(0, order).to(torch.long)
        offs = shell_offsets(reach, False, device)
        n_off = offs.shape[0]
        chunk = max(1, 2097152 // (n_off * int(count.max())))
        r2 = (h * shrink) ** 2
        for a in range(0, centres_all.shape[0], chunk):
            centres_s = centres_all[a:a + chunk]
            b = centres_s.shape[0]
            pair, j, img = shell_candidates(centres_s, cell_of, keys, start, count, coords, offs, ncell, pbc_t, False)
            centre = centres_s.index_select(0, torch.div(pair, n_off, rounding_mode="floor"))
            # the bond vector as radius_graph_shifts computes it: x_j - x_i + shift @ cell
            shift = img.index_select(0, pair) + wraps_s.index_select(0, j) - wraps_s.index_select(0, centre)
            vec = (x64.index_select(0, order.index_select(0, j)) - x64.index_select(0, order.index_select(0, centre))
                   + shift.to(torch.float64) @ cell64)
            d2 = (vec * vec).sum(dim=1)
            within = torch.nonzero(d2 <= r2).squeeze(1)
            found, kth = _kth_smallest(torch.div(pair.index_select(0, within), n_off, rounding_mode="floor"),
                                       d2.index_select(0, within), b, rank)
            resolved = torch.nonzero(found >= rank).squeeze(1)
            distance.index_copy_(0, order.index_select(0, centres_s.index_select(0, resolved)),
                                 torch.sqrt(kth.index_select(0, resolved)))
        searched = h * shrink
        h = 2.0 * h
    return distance, limit


def kth_bond_length(edge_index: Tensor, length: Tensor, n: int, rank: int) -> Tensor:
    """The ``rank``-th shortest bond of every centre of a graph sorted by centre.

    Args:
        edge_index: Bonds, shape (2, E), int64, sorted by centre (row 0).
        length: Bond lengths, shape (E,), float64.
        n: Number of particles.
        rank: Which bond (1 = the shortest).

    Returns:
        Per particle the length, shape (N,), float64; ``inf`` with fewer than ``rank`` bonds.
    """
    return _kth_smallest(edge_index[0], length, n, rank)[1]


def directed_radius_graph(x64: Tensor, cell64: Tensor, pbc: List[bool], radius: Tensor, centres: Tensor,
                          width: float) -> Tuple[Tensor, Tensor, Tensor]:
    """Every bond ``i -> j`` shorter than the centre's own radius, for some centres.

    Centres are grouped by how many cells their radius spans, each group searching its
    full shell of neighbour cells (the graph need not be symmetric).

    Args:
        x64: Positions, shape (N, 3), float64, N > 0.
        cell64: Lattice vectors as rows, shape (3, 3), float64; open rows must be zero.
        pbc: Periodicity per direction, three bools.
        radius: Radius of each particle, shape (N,), float64, finite, > 0.
        centres: The centres, shape (B,), int64.
        width: Smallest cell width, > 0 (speed only; the typical radius).

    Returns:
        ``(edge_index, shifts, edge_vec)``: edge_index (2, E) int64 (centre ``i`` in
        ``centres``, neighbour ``j``); shifts (E, 3) int64 lattice images; edge_vec (E, 3)
        float64 ``= x[j] - x[i] + shifts @ cell`` with ``|edge_vec| < radius[i]``. Sorted
        by centre, neighbour, image; no ``(i, i)`` pair with zero shift.
    """
    n = x64.shape[0]
    device = x64.device
    pbc_t = torch.tensor(pbc, dtype=torch.bool, device=device)
    basis, s, wraps, lo, span, widths = fractional_coordinates(x64, cell64, pbc)
    extent: List[float] = (widths * span).tolist()
    slack = 16.0e-12 * (float(x64.abs().max()) + float(cell64.abs().sum()) + float(radius.max()))
    ncell = grid_shape(extent, width)
    order, cell_of, keys, start, count, coords = build_cells(
        cell_indices(s, lo, span, torch.tensor(ncell, dtype=torch.long, device=device)), ncell)
    sorted_at = torch.empty_like(order).index_copy_(0, order, torch.arange(n, device=device))
    centres_s = torch.sort(sorted_at.index_select(0, centres))[0]
    xs = (x64 + wraps @ basis).index_select(0, order)
    search_s = (radius + slack).index_select(0, order)
    # per centre and direction the cells its radius spans (the rules of search_reach)
    ncell_l = torch.tensor(ncell, dtype=torch.long, device=device)
    cell_width = torch.tensor(extent, dtype=torch.float64, device=device) / ncell_l.to(torch.float64)
    spans = torch.ceil(torch.clamp(search_s.index_select(0, centres_s).unsqueeze(1)
                                   / torch.clamp(cell_width, min=1e-300), max=1e6) - 1e-9).to(torch.long)
    spans = torch.where(pbc_t, torch.clamp(spans, min=1), torch.minimum(spans, ncell_l - 1))
    top = int(spans.max()) + 1 if spans.numel() > 0 else 1
    group = (spans[:, 0] * top + spans[:, 1]) * top + spans[:, 2]
    found_i: List[Tensor] = [torch.zeros(0, dtype=torch.long, device=device)]
    found_j: List[Tensor] = [torch.zeros(0, dtype=torch.long, device=device)]
    found_img: List[Tensor] = [torch.zeros(0, 3, dtype=torch.long, device=device)]
    max_count = int(count.max())
    groups: List[int] = torch.unique(group).tolist()
    for g in groups:
        rows = torch.nonzero(group == g).squeeze(1)
        members = centres_s.index_select(0, rows)  # ascending sorted indices
        reach: List[int] = spans[int(rows[0])].tolist()
        offs = shell_offsets(reach, False, device)
        n_off = offs.shape[0]
        chunk = max(1, 2097152 // (n_off * max_count))
        for a in range(0, members.shape[0], chunk):
            part = members[a:a + chunk]
            b = part.shape[0]
            pair, j, img = shell_candidates(part, cell_of, keys, start, count, coords, offs, ncell, pbc_t, False)
            ctr = (xs.index_select(0, part).unsqueeze(1) - img.reshape(b, n_off, 3).to(torch.float64) @ basis)
            diff = xs.index_select(0, j) - ctr.reshape(-1, 3).index_select(0, pair)
            centre = part.index_select(0, torch.div(pair, n_off, rounding_mode="floor"))
            r_c = search_s.index_select(0, centre)
            sel = torch.nonzero((diff * diff).sum(dim=1) < r_c * r_c).squeeze(1)
            found_i.append(centre.index_select(0, sel))
            found_j.append(j.index_select(0, sel))
            found_img.append(img.index_select(0, pair.index_select(0, sel)))
    wraps_s = wraps.index_select(0, order).to(torch.long)
    i_s = torch.cat(found_i)
    j_s = torch.cat(found_j)
    shift = torch.cat(found_img) + wraps_s.index_select(0, j_s) - wraps_s.index_select(0, i_s)
    i_o = order.index_select(0, i_s)
    j_o = order.index_select(0, j_s)
    vec = x64.index_select(0, j_o) - x64.index_select(0, i_o) + shift.to(torch.float64) @ cell64
    r_i = radius.index_select(0, i_o)
    keep = torch.nonzero((vec * vec).sum(dim=1) < r_i * r_i).squeeze(1)  # the exact cut
    perm, src, dst, shift = sort_edges(i_o.index_select(0, keep), j_o.index_select(0, keep),
                                       shift.index_select(0, keep), n)
    return torch.stack([src, dst]), shift, vec.index_select(0, keep).index_select(0, perm)
