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
from md_orderml.nn.labeler import spatially_sorted_graph


class StructureRegressor(nn.Module):
    """A per-particle regressor (S invariant values per particle) with the neighbour search inside.

    Args:
        regressor: A module with a float ``cutoff`` (dimensionless) and a method
            ``embed_and_predict(types, edge_index, edge_vec) -> (values (N, S), embedding (N, D))``:
            :class:`~md_orderml.research.glassy.propensity.PropensityRegressor` or
            :class:`~md_orderml.research.glassy.expert_torch.HybridPropensityRegressor`.
        n_values: S, the number of values per particle.
        dtype: The regressor's floating-point type (the graph is built in it).
    """

    def __init__(self, regressor: nn.Module, n_values: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.regressor = regressor
        self.cutoff = float(regressor.cutoff)
        self.n_values = int(n_values)
        self.register_buffer("dtype_probe", torch.zeros(0, dtype=dtype))  # follows .double() / .float()

    @classmethod
    def from_propensity(cls, regressor) -> "StructureRegressor":
        """Wrap a trained propensity regressor, plain or hybrid (weights shared)."""
        network = getattr(regressor, "network", regressor)
        head = network.head
        return cls(regressor, head[-1].out_features, head[0].weight.dtype)

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
        inverse, sorted_types, edge_index, edge_vec = spatially_sorted_graph(
            positions, types, cell, pbc, length_scale, self.cutoff, self.dtype_probe.dtype)
        values, embedding = self.regressor.embed_and_predict(sorted_types, edge_index, edge_vec)
        rows = inverse[owned]  # sorted row of each owned particle, in input order
        return {
            keys.VALUES: values.index_select(0, rows).to(torch.float32),
            keys.EMBEDDING: embedding.index_select(0, rows).to(torch.float32),
        }
