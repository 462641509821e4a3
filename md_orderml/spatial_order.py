"""A spatial order of the particles in which neighbours are never far apart.

The backbone runs its layers over chunks of centres in a wavefront (a chunk's next
layer runs as soon as the previous layer has reached all its neighbours), keeping each
chunk's bond geometry only in between. That needs an order in which neighbours are
close, also across periodic boundaries: :func:`spatial_order` sorts particles into
slabs at least ``width`` thick along the direction with the most slabs, visits the
slabs folded (``0, n-1, 1, n-2, 2, ...``) so that the periodic neighbours of the first
slab come second instead of last, and orders the particles inside a slab by cells.
Any two particles closer than ``width`` then lie at most two slabs apart in the order.

TorchScript-compatible: the exported model files sort their input with it.
"""

from typing import List

import torch
from torch import Tensor

from md_orderml.cell_hash import grid_shape
from md_orderml.neighbors import cell_indices, fractional_coordinates

__all__ = ["spatial_order", "folded_slab_rank"]


def folded_slab_rank(slab: Tensor, n_slabs: int) -> Tensor:
    """Rank of each slab in the folded visiting order ``0, n-1, 1, n-2, 2, ...``.

    Args:
        slab: Slab index per particle, shape (N,), int64 in ``[0, n_slabs)``.
        n_slabs: Number of slabs.

    Returns:
        Rank per particle, shape (N,), int64: slabs ``i`` and ``i + 1 (mod n_slabs)``
        are at most two ranks apart.
    """
    return torch.where(2 * slab < n_slabs, 2 * slab, 2 * (n_slabs - 1 - slab) + 1)


def spatial_order(positions: Tensor, cell: Tensor, pbc: Tensor, width: float) -> Tensor:
    """A permutation that sorts particles into folded slabs, then by cells within a slab.

    Args:
        positions: Cartesian positions, shape (N, 3).
        cell: Lattice vectors as rows, shape (3, 3) (open rows may be anything).
        pbc: Periodicity of each lattice direction, shape (3,), bool.
        width: Smallest slab and cell width (the neighbour cutoff), > 0.

    Returns:
        ``order``, shape (N,), int64: ``positions[order]`` is the sorted system.

    Raises:
        ValueError: NaN or inf positions; a degenerate periodic cell.
    """
    n = positions.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=positions.device)
    pbc_list: List[bool] = [bool(pbc[0]), bool(pbc[1]), bool(pbc[2])]
    basis, s, wraps, lo, span, widths = fractional_coordinates(
        positions.detach().to(torch.float64), cell.detach().to(device=positions.device, dtype=torch.float64), pbc_list)
    extent: List[float] = (widths * span).tolist()
    ncell = grid_shape(extent, width)  # (fewer cells where the sort key would overflow)
    cidx = cell_indices(s, lo, span, torch.tensor(ncell, dtype=torch.long, device=positions.device))
    a = 0  # slabs along the direction with the most cells
    for d in range(1, 3):
        if ncell[d] > ncell[a]:
            a = d
    b, c = (a + 1) % 3, (a + 2) % 3
    key = (folded_slab_rank(cidx[:, a], ncell[a]) * ncell[b] + cidx[:, b]) * ncell[c] + cidx[:, c]
    return torch.argsort(key, stable=True)
