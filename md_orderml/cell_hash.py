"""Hashed cell lists: only cells that hold particles exist, so empty space costs nothing.

A grid cell list allocates per grid cell, so its memory grows with the box volume (a
nanoparticle in a 200 Å box, a slab with 7,000 Å of vacuum); capping the number of
cells instead makes cells huge and the search quadratic. Here every particle gets
integer cell coordinates ``c`` on a grid of ``ncell`` cells per direction and the linear
key ``(c0 * n1 + c1) * n2 + c2``; particles are sorted by key, the occupied cells are
the distinct keys (``torch.unique_consecutive``) and a neighbour cell is looked up with
``torch.searchsorted`` among them. Time and memory are O(N log N), whatever the volume.

Shared by :func:`md_orderml.neighbors.radius_graph_shifts` (one radius, half shell) and
:mod:`md_orderml.local_scale` (k-th neighbour distances and per-centre radii, full
shell). TorchScript-compatible.
"""

import math
from typing import List, Tuple

import torch
from torch import Tensor

__all__ = ["MAX_KEY", "grid_shape", "search_reach", "build_cells", "shell_offsets", "shell_candidates",
           "expand_ranges"]

#: Largest product of the cells per direction (the linear key is an int64; TorchScript
#: functions cannot read globals, so :func:`grid_shape` writes the number out).
MAX_KEY = 4.0e18


def grid_shape(extent: List[float], width: float) -> List[int]:
    """Cells per direction, each at least ``width`` wide, fewer where the key would overflow.

    Args:
        extent: Perpendicular extent of the searched range per direction, three floats.
        width: Smallest cell width, > 0.

    Returns:
        Cells per direction, three ints >= 1, with a product of at most :data:`MAX_KEY`.
    """
    ncell: List[int] = []
    for d in range(3):
        cells = extent[d] / width
        if cells > 4.0e18:
            cells = 4.0e18
        ncell.append(max(1, int(math.floor(cells))))
    while float(ncell[0]) * float(ncell[1]) * float(ncell[2]) > 4.0e18:  # MAX_KEY
        d = 0
        for e in range(1, 3):
            if ncell[e] > ncell[d]:
                d = e
        ncell[d] = (ncell[d] + 1) // 2
    return ncell


def search_reach(extent: List[float], ncell: List[int], pbc: List[bool], radius: float) -> List[int]:
    """Neighbour-cell offsets ``-m..m`` per direction that hold every particle within ``radius``.

    Periodic directions reach at least one cell (narrow boxes: several images of the
    same cell); open directions never more than the grid.

    Args:
        extent: Perpendicular extent per direction.
        ncell: Cells per direction.
        pbc: Periodicity per direction.
        radius: The search radius.

    Returns:
        ``m`` per direction.
    """
    reach: List[int] = []
    for d in range(3):
        if ncell[d] == 1 and not pbc[d]:
            reach.append(0)
        else:
            m = int(math.ceil(radius / (extent[d] / ncell[d]) - 1e-9))
            reach.append(min(m, ncell[d] - 1) if not pbc[d] else max(m, 1))
    return reach


def build_cells(cidx: Tensor, ncell: List[int]) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Sort particles by cell and list the occupied cells (CSR).

    Args:
        cidx: Integer cell coordinates per particle, shape (N, 3), int64, in ``[0, ncell)``.
        ncell: Cells per direction (product at most :data:`MAX_KEY`).

    Returns:
        ``(order, cell_of, keys, start, count, coords)``: ``order`` (N,) sorts the
        particles by cell; ``cell_of`` (N,) is the occupied-cell index of each sorted
        particle; per occupied cell (U of them, ascending ``keys`` (U,)) the first sorted
        particle ``start`` (U,), the particle ``count`` (U,) and the cell coordinates
        ``coords`` (U, 3).
    """
    key = (cidx[:, 0] * ncell[1] + cidx[:, 1]) * ncell[2] + cidx[:, 2]
    key_sorted, order = torch.sort(key, stable=True)
    keys, count = torch.unique_consecutive(key_sorted, return_counts=True)
    start = torch.cumsum(count, 0) - count
    cell_of = torch.repeat_interleave(torch.arange(keys.shape[0], device=cidx.device), count,
                                      output_size=key.shape[0])
    coords = cidx.index_select(0, order.index_select(0, start))
    return order, cell_of, keys, start, count, coords


def shell_offsets(reach: List[int], half: bool, device: torch.device) -> Tensor:
    """Neighbour-cell offsets: the own cell first, then the others.

    Args:
        reach: ``m`` per direction (offsets ``-m..m``).
        half: Only the lexicographically positive half (a symmetric search mirrors it).
        device: Where to put them.

    Returns:
        Offsets, shape (H, 3), int64, row 0 the zero offset.

    Raises:
        ValueError: Over 10^7 offsets (a radius of hundreds of periodic box widths).
    """
    sizes = [2 * reach[0] + 1, 2 * reach[1] + 1, 2 * reach[2] + 1]
    if float(sizes[0]) * float(sizes[1]) * float(sizes[2]) > 1.0e7:
        raise ValueError(f"neighbour search: the radius spans {sizes} cells or periodic images (over 10^7); "
                         "is a periodic box far narrower than the model's reach?")
    k = torch.arange(sizes[0] * sizes[1] * sizes[2], device=device)
    offs = torch.stack(
        [k // (sizes[1] * sizes[2]) - reach[0], (k // sizes[2]) % sizes[1] - reach[1], k % sizes[2] - reach[2]], dim=1)
    positive = (offs[:, 0] > 0) | ((offs[:, 0] == 0) & (offs[:, 1] > 0)) | (
        (offs[:, 0] == 0) & (offs[:, 1] == 0) & (offs[:, 2] > 0))
    others = positive if half else (offs != 0).any(dim=1)
    return torch.cat([torch.zeros(1, 3, dtype=torch.long, device=device), offs[others]])


def expand_ranges(start: Tensor, count: Tensor) -> Tuple[Tensor, Tensor]:
    """Every index of a list of ranges ``[start, start + count)``.

    Args:
        start: First index of each range, shape (P,), int64.
        count: Length of each range, shape (P,), int64, >= 0.

    Returns:
        ``(pair, j)``: for each of the ``sum(count)`` indices its range ``pair`` and the index ``j``.
    """
    total = int(count.sum())
    pair = torch.repeat_interleave(torch.arange(count.shape[0], device=count.device), count, output_size=total)
    j = (start - (torch.cumsum(count, 0) - count)).index_select(0, pair)
    return pair, j + torch.arange(total, device=count.device)


def shell_candidates(centres: Tensor, cell_of: Tensor, keys: Tensor, start: Tensor, count: Tensor, coords: Tensor,
                     offs: Tensor, ncell: List[int], pbc_t: Tensor,
                     half: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """Candidate neighbours of some centres: the particles of their neighbour cells.

    Args:
        centres: Sorted-particle indices of the centres, shape (B,), int64, ascending.
        cell_of, keys, start, count, coords: From :func:`build_cells`.
        offs: Offsets from :func:`shell_offsets`, shape (H, 3), row 0 the own cell.
        ncell: Cells per direction.
        pbc_t: Periodicity per direction, shape (3,), bool (open directions never wrap).
        half: Own cell: only later particles ``j > i`` (for a mirrored half-shell search);
            else every particle but the centre itself.

    Returns:
        ``(pair, j, img)``: per candidate its (centre, offset) slot ``pair`` in
        ``[0, B * H)`` (centre ``pair // H``) and sorted-particle index ``j``; per slot the
        lattice image ``img`` (B * H, 3), int64, of the neighbour cell.
    """
    device = centres.device
    n_off = offs.shape[0]
    ncell_t = torch.tensor(ncell, dtype=torch.long, device=device)
    centre_cell = cell_of.index_select(0, centres)
    cells, local = torch.unique_consecutive(centre_cell, return_inverse=True)
    t = coords.index_select(0, cells).unsqueeze(1) + offs.unsqueeze(0)  # (C, H, 3)
    img = torch.div(t, ncell_t, rounding_mode="floor")
    inside = ((img == 0) | pbc_t).all(dim=2)  # open directions: no wrapping
    img = img * pbc_t.to(torch.long)
    t = torch.where(inside.unsqueeze(2), t - img * ncell_t, torch.zeros_like(t))
    key = (t[..., 0] * ncell[1] + t[..., 1]) * ncell[2] + t[..., 2]
    slot = torch.clamp(torch.searchsorted(keys, key), max=keys.shape[0] - 1)
    found = inside & (keys.index_select(0, slot.reshape(-1)).reshape(slot.shape) == key)
    first = torch.where(found, start.index_select(0, slot.reshape(-1)).reshape(slot.shape), torch.zeros_like(slot))
    size = torch.where(found, count.index_select(0, slot.reshape(-1)).reshape(slot.shape), torch.zeros_like(slot))
    first = first.index_select(0, local)  # (B, H)
    size = size.index_select(0, local)
    img = img.index_select(0, local).reshape(-1, 3)
    if half:  # own cell: the later members only (the mirror adds the rest)
        end = (start + count).index_select(0, centre_cell)
        first = torch.cat([(centres + 1).unsqueeze(1), first[:, 1:]], dim=1)
        size = torch.cat([(end - centres - 1).unsqueeze(1), size[:, 1:]], dim=1)
    pair, j = expand_ranges(first.reshape(-1), size.reshape(-1))
    if not half:  # drop the centre itself (own cell, zero image); its images in other slots stay
        own = (torch.remainder(pair, n_off) == 0) & (j == centres.index_select(0, torch.div(pair, n_off,
                                                                                              rounding_mode="floor")))
        keep = torch.nonzero(~own).squeeze(1)
        pair = pair.index_select(0, keep)
        j = j.index_select(0, keep)
    return pair, j, img
