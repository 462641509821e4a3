"""The exportable regression model: raw engine data in, per-particle values out.

:class:`StructureRegressor` is the regression counterpart of
:class:`~md_orderml.nn.labeler.StructureLabeler`: the same ``forward`` contract (raw
positions divided by the length scale, periodic neighbour search inside, owned
particles only) so the command line, HOOMD and the LAMMPS Python compute run it
unchanged; it returns ``values`` (M, S) instead of class labels.
"""

from typing import Dict

import torch
from torch import nn

from md_orderml import keys
from md_orderml.nn.labeler import scaled_graph
from md_orderml.nn.backbone import EquivariantBackbone


class StructureRegressor(nn.Module):
    """Backbone plus a regression head (S invariant values per particle), neighbour search inside.

    Args:
        backbone: The equivariant backbone (its ``cutoff`` is dimensionless).
        head: Maps the embedding (N, D) to the values (N, S); its first layer must be an
            ``nn.Linear`` (its weight dtype is the model's dtype).
        n_values: S, the number of values per particle.
    """

    def __init__(self, backbone: EquivariantBackbone, head: nn.Sequential, n_values: int):
        super().__init__()
        self.backbone = backbone
        self.cutoff = backbone.cutoff
        self.n_values = int(n_values)
        self.head = head

    @classmethod
    def from_propensity(cls, regressor) -> "StructureRegressor":
        """Wrap a trained :class:`~md_orderml.glassy.propensity.PropensityRegressor` (weights shared)."""
        return cls(regressor.backbone, regressor.head, regressor.head[-1].out_features)

    def forward(
        self,
        positions: torch.Tensor,
        types: torch.Tensor,
        cell: torch.Tensor,
        pbc: torch.Tensor,
        owned: torch.Tensor,
        length_scale: float,
    ) -> Dict[str, torch.Tensor]:
        """Predict the values of the owned particles of one configuration.

        Args:
            positions: Positions of owned and ghost particles, shape (N, 3), any float dtype.
            types: Model type index of each particle, shape (N,), int64.
            cell: Lattice vectors as rows, shape (3, 3) (ignored along non-periodic directions).
            pbc: Periodicity along each lattice vector, shape (3,), bool (all False when
                the engine supplies ghost particles).
            owned: Which particles to predict, shape (N,), bool. Ghosts only give context.
            length_scale: The length unit: ``(V / N) ** (1 / 3)`` of the whole system.

        Returns:
            Dictionary with ``values`` (M, S) float32 and ``embedding`` (M, D) float32
            for the M owned particles, in input order.
        """
        edge_index, edge_vec = scaled_graph(positions, cell, pbc, length_scale, self.cutoff, self.head[0].weight.dtype)
        embedding = self.backbone(types, edge_index, edge_vec)
        values = self.head(embedding)
        return {
            keys.VALUES: values[owned].to(torch.float32),
            keys.EMBEDDING: embedding[owned].to(torch.float32),
        }
