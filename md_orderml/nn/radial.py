"""Radial parts of the convolution: a Bessel basis and a smooth polynomial cutoff envelope."""

import math

import torch
from torch import nn


class BesselBasis(nn.Module):
    """Bessel functions ``sqrt(2) sin(n pi r) / r`` on the dimensionless distance ``r = |r_ij| / cutoff``.

    Args:
        n_basis: Number of basis functions.
        trainable: Let the frequencies ``n pi`` be learned.
    """

    def __init__(self, n_basis: int = 8, trainable: bool = False):
        super().__init__()
        freqs = math.pi * torch.arange(1, n_basis + 1, dtype=torch.get_default_dtype())
        if trainable:
            self.freqs = nn.Parameter(freqs)
        else:
            self.register_buffer("freqs", freqs)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """Evaluate the basis.

        Args:
            r: Distances divided by the cutoff, shape (E,), values in (0, 1].

        Returns:
            Basis values, shape (E, n_basis).
        """
        r = r.unsqueeze(-1)
        return math.sqrt(2.0) * torch.sin(self.freqs * r) / r


class PolynomialCutoff(nn.Module):
    """Smooth envelope that goes to zero with ``p`` continuous derivatives at ``r = 1``.

    Args:
        p: Polynomial order (6 as in DimeNet and nequip).
    """

    def __init__(self, p: float = 6.0):
        super().__init__()
        self.p = float(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """Evaluate the envelope.

        Args:
            r: Distances divided by the cutoff, shape (E,).

        Returns:
            Envelope values in [0, 1], shape (E,).
        """
        p = self.p
        out = (
            1.0
            - (p + 1.0) * (p + 2.0) / 2.0 * torch.pow(r, p)
            + p * (p + 2.0) * torch.pow(r, p + 1.0)
            - p * (p + 1.0) / 2.0 * torch.pow(r, p + 2.0)
        )
        return out * (r < 1.0)
