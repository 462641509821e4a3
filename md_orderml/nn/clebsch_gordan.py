"""Sparse Clebsch–Gordan tables for the third-order invariants ``W_l``.

For even ``l`` the real Wigner 3j symbol ``(l l l)`` is symmetric in its three indices,
so the cubic invariant of one equivariant vector ``a`` of degree ``l``,

    W_l(a) = sqrt(2l+1) * sum_{m1 m2 m3} C^{lll}_{m1 m2 m3} a_m1 a_m2 a_m3,

is a sum over *unordered* index triples only. For ``l = 6`` that is a few dozen
products instead of the 2,197 entries of the dense symbol: written as gathers and one
small matrix product, this is what keeps the layer cheap on CPUs. Coefficients come
from e3nn's ``o3.wigner_3j`` in its real spherical-harmonic basis, the basis of the
harmonics the model uses, so ``W_l`` is exactly rotation invariant. Steinhardt's
``w_l`` (the classic fcc/hcp discriminator) is this invariant of the neighbour
density, normalised.
"""

from typing import Sequence, Tuple

import torch
from e3nn import o3


def cubic_invariant_table(degrees: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Unordered index triples and weights of ``W_l`` for several even degrees.

    The vectors are assumed laid out one after another in the order of ``degrees``
    (degree ``l`` takes ``2l+1`` rows), as the layer stacks them.

    Args:
        degrees: Even degrees ``l``, e.g. ``(2, 4, 6)``.

    Returns:
        ``(index, weight)``: ``index`` (3, T) int64 rows of the three factors of each
        product, ``weight`` (len(degrees), T) float64 so that
        ``W = weight @ (a[index[0]] * a[index[1]] * a[index[2]])``.

    Raises:
        ValueError: An odd or negative degree (its cubic invariant vanishes).
    """
    triples, coefficients, owners = [], [], []
    offset = 0
    for p, l in enumerate(degrees):
        if l < 0 or l % 2:
            raise ValueError(f"cubic invariants need even degrees, got {l}")
        symbol = o3.wigner_3j(l, l, l).to(torch.float64)
        summed = {}
        for m1, m2, m3 in torch.nonzero(symbol.abs() > 1e-10).tolist():
            key = tuple(sorted((m1, m2, m3)))
            summed[key] = summed.get(key, 0.0) + float(symbol[m1, m2, m3])
        for key, value in sorted(summed.items()):
            if abs(value) > 1e-10:
                triples.append([offset + k for k in key])
                coefficients.append(value * (2 * l + 1) ** 0.5)
                owners.append(p)
        offset += 2 * l + 1
    index = torch.tensor(triples, dtype=torch.long).reshape(-1, 3).t().contiguous()
    weight = torch.zeros(len(degrees), len(coefficients), dtype=torch.float64)
    weight[torch.tensor(owners, dtype=torch.long), torch.arange(len(coefficients))] = torch.tensor(
        coefficients, dtype=torch.float64)
    return index, weight
