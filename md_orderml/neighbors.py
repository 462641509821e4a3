"""Torch-native radius neighbour search (cell list), TorchScript-compatible.

:func:`radius_graph` finds every pair closer than a cutoff in a periodic, partly
periodic or open system. It runs on CPU and CUDA, under ``torch.jit.script`` and in
O(N log N) time and O(N) memory, independent of the box volume:

1. A search basis ``B`` (rows) is built: periodic rows are the given lattice vectors;
   each open (``pbc`` False) row is replaced by a unit vector normal to the periodic
   ones, so the cell's open rows may be anything (zeros, for MPI ghosts).
2. Fractional coordinates ``s = x B^-1`` are wrapped into ``[0, 1)`` in periodic
   directions; open directions use the particles' bounding range.
3. Direction ``d`` of perpendicular width ``W_d`` gets ``n_d = max(1, floor(k W_d / rc))``
   cells and neighbour-cell offsets ``-m_d..m_d`` with ``m_d = ceil(rc / (W_d / n_d))``;
   k = 1 usually, 2 or 3 for dense neighbourhoods (picked by a cost estimate). Wrapped
   offsets are distinct (cell, image) pairs, so boxes narrower than the cutoff give
   every periodic image.
4. Only occupied cells exist (:mod:`md_orderml.cell_hash`): particles are sorted by a
   linear cell key, neighbour cells are found by ``searchsorted`` among the occupied
   ones, so vacuum (open directions far apart, periodic boxes that are mostly empty)
   costs neither memory nor time. For chunks of centres and the half shell of offsets
   (plus the own cell with ``j > i``), candidate pairs are expanded with
   ``repeat_interleave``, filtered by distance and mirrored.
5. Edges are sorted by (centre, neighbour, image) so output is reproducible.

Working memory is bounded by chunks of 2**21 candidate pairs plus the output: about
170 bytes per returned edge at the peak (10^6 particles with 17 neighbours each,
float32: 17 M edges, 0.5 GB returned, ~3 GB peak).

The search runs without gradients; the returned ``edge_vec`` is recomputed as
``x[j] - x[i] + shift @ cell`` from the inputs, so it is differentiable with respect
to positions and cell.
"""

import math
from typing import List, Tuple

import torch
from torch import Tensor

from md_orderml.cell_hash import build_cells, grid_shape, search_reach, shell_candidates, shell_offsets

__all__ = ["radius_graph", "radius_graph_shifts", "number_of_neighbors", "fractional_coordinates",
           "cell_indices", "sort_edges", "radius_pairs"]

def _search_basis(cell: Tensor, pbc: List[bool]) -> Tensor:
    """Rows: periodic lattice vectors, open rows replaced by orthonormal normals.

    Args:
        cell: Lattice vectors as rows, shape (3, 3), float64.
        pbc: Periodicity per lattice direction, three bools.

    Returns:
        The search basis, shape (3, 3), float64.
    """
    eye = torch.eye(3, dtype=cell.dtype, device=cell.device)
    per: List[int] = []
    opn: List[int] = []
    for d in range(3):
        if pbc[d]:
            per.append(d)
        else:
            opn.append(d)
    if len(per) == 3:
        return cell.clone()
    if len(per) == 0:
        return eye
    basis = torch.zeros(3, 3, dtype=cell.dtype, device=cell.device)
    for d in per:
        basis[d] = cell[d]
    if len(per) == 2:
        normal = torch.linalg.cross(cell[per[0]], cell[per[1]])
        norm = torch.linalg.norm(normal)
        if not bool(norm > 0):
            raise ValueError("radius_graph: the periodic lattice vectors are parallel or zero")
        basis[opn[0]] = normal / norm
        return basis
    u = cell[per[0]]
    norm = torch.linalg.norm(u)
    if not bool(norm > 0):
        raise ValueError("radius_graph: a periodic lattice vector is zero")
    u = u / norm
    helper = eye[int(torch.argmin(u.abs()))]
    v1 = helper - (helper * u).sum() * u
    v1 = v1 / torch.linalg.norm(v1)
    basis[opn[0]] = v1
    basis[opn[1]] = torch.linalg.cross(u, v1)
    return basis


def fractional_coordinates(x64: Tensor, cell64: Tensor,
                           pbc: List[bool]) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Coordinates in the search basis, wrapped into the cell along periodic directions.

    Args:
        x64: Cartesian positions, shape (N, 3), float64, finite, N > 0.
        cell64: Lattice vectors as rows, shape (3, 3), float64 (open rows: anything).
        pbc: Periodicity per lattice direction, three bools.

    Returns:
        ``(basis, s, wraps, lo, span, widths)``: the search basis (3, 3) (see
        :func:`_search_basis`); fractional coordinates ``s`` (N, 3), in ``[0, 1)`` along
        periodic directions; the integer shifts ``wraps`` (N, 3) float64 added to get
        them; per direction the start ``lo`` (3,) and length ``span`` (3,) of the
        searched range (``0`` and ``1`` when periodic, the particles' bounding range
        when open) and the basis' perpendicular ``widths`` (3,).

    Raises:
        ValueError: NaN or inf positions; a degenerate or non-finite periodic cell.
    """
    if not bool(torch.isfinite(x64).all()):
        raise ValueError("radius_graph: positions contain NaN or inf")
    device = x64.device
    pbc_t = torch.tensor(pbc, dtype=torch.bool, device=device)
    basis = _search_basis(cell64, pbc)
    det = torch.linalg.det(basis)
    if not bool(det.abs() > 1e-300) or not bool(torch.isfinite(basis).all()):
        raise ValueError("radius_graph: the periodic cell is degenerate or not finite")
    inv = torch.linalg.inv(basis)
    widths = 1.0 / torch.linalg.norm(inv, dim=0)  # perpendicular width per direction
    s = x64 @ inv
    wraps = torch.where(pbc_t, -torch.floor(s), torch.zeros_like(s))  # (N, 3)
    s = s + wraps
    lo = torch.where(pbc_t, torch.zeros(3, dtype=s.dtype, device=device), s.min(0)[0])
    span = torch.where(pbc_t, torch.ones(3, dtype=s.dtype, device=device), s.max(0)[0] - lo)
    return basis, s, wraps, lo, span, widths


def cell_indices(s: Tensor, lo: Tensor, span: Tensor, ncell: Tensor) -> Tensor:
    """Cell of each particle on a grid of ``ncell`` cells over the searched range.

    Args:
        s, lo, span: From :func:`fractional_coordinates`.
        ncell: Cells per direction, shape (3,), int64.

    Returns:
        Integer cell coordinates, shape (N, 3), int64, each in ``[0, ncell)``.
    """
    frac = (s - lo) / torch.clamp(span, min=1e-300)
    cidx = torch.floor(frac * ncell.to(torch.float64)).to(torch.long)
    return torch.minimum(torch.clamp(cidx, min=0), ncell - 1)


def _empty(positions: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    dev = positions.device
    return (
        torch.zeros(2, 0, dtype=torch.long, device=dev),
        torch.zeros(0, 3, dtype=torch.long, device=dev),
        torch.zeros(0, 3, dtype=positions.dtype, device=dev),
    )


def _no_pairs(positions: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    none = torch.zeros(0, dtype=torch.long, device=positions.device)
    return none, none, torch.zeros(0, 3, dtype=torch.long, device=positions.device), \
        torch.zeros(0, 3, dtype=positions.dtype, device=positions.device)


def radius_graph_shifts(
    positions: Tensor, cell: Tensor, pbc: Tensor, cutoff: float, cells_per_cutoff: int = 0
) -> Tuple[Tensor, Tensor, Tensor]:
    """All pairs closer than ``cutoff``, with the integer image shift of each.

    Args:
        positions: Cartesian positions, shape (N, 3), float32 or float64.
        cell: Lattice vectors as rows, shape (3, 3), any orientation. Rows of open
            directions are ignored (may be zero).
        pbc: Periodicity of each lattice direction, shape (3,), bool.
        cutoff: The cutoff radius, > 0.
        cells_per_cutoff: Cell width ``>= cutoff / k`` with k = 1, 2 or 3; 0 picks k
            from the density (only speed depends on it).

    Returns:
        ``(edge_index, shifts, edge_vec)``: edge_index (2, E) int64 with centres ``i``
        in row 0 and neighbours ``j`` in row 1; shifts (E, 3) int64 lattice images;
        edge_vec (E, 3) ``= x[j] - x[i] + shifts @ cell`` with ``|edge_vec| < cutoff``.
        Sorted by centre, then neighbour, then shift. No ``(i, i)`` pair with zero shift.
    """
    i_o, j_o, shift, half_vec = radius_pairs(positions, cell, pbc, cutoff, cells_per_cutoff)
    if i_o.size(0) == 0:
        return _empty(positions)
    # --- mirror and sort by centre, neighbour, image ---
    perm, src, dst, shift = sort_edges(torch.cat([i_o, j_o]), torch.cat([j_o, i_o]), torch.cat([shift, -shift]),
                                       positions.size(0))
    edge_vec = torch.cat([half_vec, -half_vec]).index_select(0, perm)
    return torch.stack([src, dst]), shift, edge_vec


def radius_pairs(
    positions: Tensor, cell: Tensor, pbc: Tensor, cutoff: float, cells_per_cutoff: int = 0
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Each pair closer than ``cutoff`` once (half list, unsorted), with its image shift.

    Args:
        positions: Cartesian positions, shape (N, 3), float32 or float64.
        cell: Lattice vectors as rows, shape (3, 3), any orientation. Rows of open
            directions are ignored (may be zero).
        pbc: Periodicity of each lattice direction, shape (3,), bool.
        cutoff: The cutoff radius, > 0.
        cells_per_cutoff: Cell width ``>= cutoff / k`` with k = 1, 2 or 3; 0 picks k
            from the density (only speed depends on it).

    Returns:
        ``(i, j, shifts, vec)``: per pair (P of them) the particles ``i`` (P,) and ``j``
        (P,), int64, the lattice image ``shifts`` (P, 3), int64, and ``vec`` (P, 3)
        ``= x[j] - x[i] + shifts @ cell``, ``|vec| < cutoff``; the mirrored ``(j, i, -shift)``
        is not listed, nor ``(i, i)`` with zero shift.
    """
    if positions.dim() != 2 or positions.size(1) != 3:
        raise ValueError("radius_graph: positions must have shape (N, 3)")
    if not (cutoff > 0.0) or math.isinf(cutoff):
        raise ValueError("radius_graph: the cutoff must be finite and > 0")
    device = positions.device
    dtype = positions.dtype
    n = positions.size(0)
    if n == 0:
        return _no_pairs(positions)
    pbc_list: List[bool] = [bool(pbc[0]), bool(pbc[1]), bool(pbc[2])]
    x = positions.detach()

    # --- search basis, fractional coordinates and integer wraps (float64) ---
    pbc_t = torch.tensor(pbc_list, dtype=torch.bool, device=device)
    cell = torch.where(pbc_t.unsqueeze(1), cell.to(device), torch.zeros_like(cell, device=device))
    cell64 = cell.detach().to(dtype=torch.float64)
    x64 = x.to(torch.float64)
    basis, s, wraps, lo, span, widths = fractional_coordinates(x64, cell64, pbc_list)

    # rounding slack: the search uses a slightly larger radius, the final cut is exact
    scale = float(x64.abs().max()) + float(cell64.abs().sum()) + cutoff
    eps = 1e-6 if dtype == torch.float32 or dtype == torch.float16 else 1e-12
    rc_search = cutoff + 16.0 * eps * scale
    extent: List[float] = (widths * span).tolist()
    # cells of width >= rc / k; k = 1, 2 or 3 by an estimate of the work per particle:
    # (half-shell offsets) x (fixed cost per offset + particles per occupied cell)
    ncell = grid_shape(extent, rc_search)
    sparse = float(ncell[0]) * float(ncell[1]) * float(ncell[2]) > n and cells_per_cutoff == 0
    occupied = 0.0
    if sparse:  # mostly empty space: count the occupied cells
        ncell_t = torch.tensor(ncell, dtype=torch.long, device=device)
        occupied = float(build_cells(cell_indices(s, lo, span, ncell_t), ncell)[2].shape[0])
    best_cost = -1.0
    reach: List[int] = [0, 0, 0]
    for k in range(1, 4):
        if cells_per_cutoff > 0 and k != cells_per_cutoff:
            continue
        nc = grid_shape(extent, rc_search / k)
        rh = search_reach(extent, nc, pbc_list, rc_search)
        n_off = (2 * rh[0] + 1) * (2 * rh[1] + 1) * (2 * rh[2] + 1) // 2 + 1
        cells = float(nc[0]) * float(nc[1]) * float(nc[2])
        if sparse:
            cells = min(cells, occupied * k * k * k)
        cost = n_off * (8.0 + n / cells)
        if best_cost < 0 or cost < best_cost:
            best_cost = cost
            ncell = nc
            reach = rh
    ncell_t = torch.tensor(ncell, dtype=torch.long, device=device)
    order, cell_of, keys, starts, counts, coords = build_cells(cell_indices(s, lo, span, ncell_t), ncell)
    wraps_s = wraps.index_select(0, order)
    basis_w = basis.to(dtype)
    xw = (x64.index_select(0, order) + wraps_s @ basis).to(dtype)  # wrapped, sorted
    wraps_s = wraps_s.to(torch.long)
    xs = xw[:, 0].contiguous()
    ys = xw[:, 1].contiguous()
    zs = xw[:, 2].contiguous()

    # --- own cell (later members) and the half shell of neighbour cells, in chunks ---
    offs = shell_offsets(reach, True, device)
    n_off = offs.size(0)
    # candidate pairs per chunk: 2**21 (~60 bytes each) bounds the working memory
    chunk = max(1, 2097152 // max(1, n_off * int(counts.max())))
    rc2 = rc_search * rc_search
    found_i: List[Tensor] = []
    found_j: List[Tensor] = []
    found_img: List[Tensor] = []
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        pair, j, img = shell_candidates(torch.arange(a, b, device=device), cell_of, keys, starts, counts, coords,
                                        offs, ncell, pbc_t, True)
        if pair.numel() == 0:
            continue
        ctr = xw[a:b].unsqueeze(1) - img.reshape(b - a, n_off, 3).to(dtype) @ basis_w  # centre minus image shift
        ctr = ctr.reshape(-1, 3)
        dx = xs.index_select(0, j) - ctr[:, 0].contiguous().index_select(0, pair)
        d2 = dx * dx
        dx = ys.index_select(0, j) - ctr[:, 1].contiguous().index_select(0, pair)
        d2 += dx * dx
        dx = zs.index_select(0, j) - ctr[:, 2].contiguous().index_select(0, pair)
        d2 += dx * dx
        sel = torch.nonzero(d2 < rc2).squeeze(1)
        pair_sel = pair.index_select(0, sel)
        found_i.append(torch.div(pair_sel, n_off, rounding_mode="floor") + a)
        found_j.append(j.index_select(0, sel))
        found_img.append(img.index_select(0, pair_sel))
    if len(found_i) == 0:
        return _no_pairs(positions)
    i_s = torch.cat(found_i)
    j_s = torch.cat(found_j)
    shift = torch.cat(found_img) + wraps_s.index_select(0, j_s) - wraps_s.index_select(0, i_s)

    # --- exact vectors from the inputs (differentiable) and the exact cut, half list ---
    x_sorted = positions.index_select(0, order)  # neighbours are close in sorted order
    half_vec = x_sorted.index_select(0, j_s) - x_sorted.index_select(0, i_s)
    half_vec = half_vec + shift.to(dtype) @ cell.to(dtype)
    r2 = half_vec[:, 0] * half_vec[:, 0] + half_vec[:, 1] * half_vec[:, 1] + half_vec[:, 2] * half_vec[:, 2]
    keep = r2 < cutoff * cutoff
    if not bool(keep.all()):
        sel = torch.nonzero(keep).squeeze(1)
        i_s = i_s.index_select(0, sel)
        j_s = j_s.index_select(0, sel)
        shift = shift.index_select(0, sel)
        half_vec = half_vec.index_select(0, sel)
    if i_s.size(0) == 0:
        return _no_pairs(positions)
    return order.index_select(0, i_s), order.index_select(0, j_s), shift, half_vec


def sort_edges(src: Tensor, dst: Tensor, shift: Tensor, n: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Sort edges by centre, then neighbour, then image (reproducible output order).

    Args:
        src: Centres, shape (E,), int64 in ``[0, n)``.
        dst: Neighbours, shape (E,), int64.
        shift: Lattice images, shape (E, 3), int64; (src, dst, shift) distinct.
        n: Number of particles.

    Returns:
        ``(perm, src, dst, shift)``: the permutation (E,) and the sorted edges.
    """
    if src.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=src.device), src, dst, shift
    smax: List[int] = shift.abs().max(0)[0].tolist()
    ext = [2 * smax[0] + 1, 2 * smax[1] + 1, 2 * smax[2] + 1]
    if float(n) * float(n) * float(ext[0]) * float(ext[1]) * float(ext[2]) < 4.0e18:  # one int64 key
        n_code = ext[0] * ext[1] * ext[2]
        code = ((shift[:, 0] + smax[0]) * ext[1] + (shift[:, 1] + smax[1])) * ext[2] + (shift[:, 2] + smax[2])
        key, perm = torch.sort((src * n + dst) * n_code + code)
        code = torch.remainder(key, n_code)
        key = torch.div(key, n_code, rounding_mode="floor")
        src = torch.div(key, n, rounding_mode="floor")
        dst = key - src * n
        shift = torch.stack(
            [torch.div(code, ext[1] * ext[2], rounding_mode="floor") - smax[0],
             torch.remainder(torch.div(code, ext[2], rounding_mode="floor"), ext[1]) - smax[1],
             torch.remainder(code, ext[2]) - smax[2]], dim=1)
        return perm, src, dst, shift
    # far-away images (positions many boxes outside the cell): stable sorts
    perm = torch.arange(src.size(0), device=src.device)
    for d in range(2, -1, -1):
        perm = perm.index_select(0, torch.sort(shift[:, d].index_select(0, perm), stable=True)[1])
    perm = perm.index_select(0, torch.sort((src * n + dst).index_select(0, perm), stable=True)[1])
    return perm, src.index_select(0, perm), dst.index_select(0, perm), shift.index_select(0, perm)


def radius_graph(positions: Tensor, cell: Tensor, pbc: Tensor, cutoff: float) -> Tuple[Tensor, Tensor]:
    """All pairs closer than ``cutoff``, periodic images included.

    Args:
        positions: Cartesian positions, shape (N, 3), float32 or float64.
        cell: Lattice vectors as rows, shape (3, 3), any orientation (a rotated
            periodic system works). Only the periodic rows are used; for an all-open
            ``pbc`` the cell may be anything, e.g. zeros.
        pbc: Periodicity of each lattice direction, shape (3,), bool. Open directions
            never wrap (MPI ghosts included in ``positions``).
        cutoff: The cutoff radius, > 0.

    Returns:
        ``(edge_index, edge_vec)``: edge_index (2, E) int64, row 0 the centre ``i``
        and row 1 the neighbour ``j``; edge_vec (E, 3) ``= (x_j + image shift) - x_i``,
        ``|edge_vec| < cutoff``. Boxes narrower than the cutoff give several images
        of the same ``j`` (and ``i`` may neighbour its own image); there is no
        ``(i, i)`` pair with zero shift. Sorted by centre, neighbour, then image.
    """
    edge_index, shifts, edge_vec = radius_graph_shifts(positions, cell, pbc, cutoff)
    return edge_index, edge_vec


def number_of_neighbors(edge_index: Tensor, n: int) -> Tensor:
    """Neighbour count of every centre.

    Args:
        edge_index: Edges, shape (2, E), int64, centres in row 0.
        n: Number of particles N.

    Returns:
        Counts, shape (N,), int64.
    """
    return torch.bincount(edge_index[0], minlength=n)
