"""The exportable model: raw engine data in, per-particle labels out.

:class:`StructureLabeler` is what gets compiled with TorchScript and saved as the one
model file. Its ``forward`` does everything from raw coordinates on: division by the
length scale, the periodic neighbour search, the backbone and the classification
head, so HOOMD, LAMMPS (Python or C++) and the command line all run exactly the same
code.
"""

from typing import Dict, List, Tuple

import torch
from torch import nn

from md_orderml import keys
from md_orderml.neighbors import radius_graph
from md_orderml.nn.families import Backbone
from md_orderml.spatial_order import spatial_order


def scaled_graph(positions: torch.Tensor, cell: torch.Tensor, pbc: torch.Tensor, length_scale: float,
                 cutoff: float, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
    """Bond graph of raw coordinates in units of ``length_scale`` (the model files' first step).

    Args:
        positions: Positions, shape (N, 3), any float dtype.
        cell: Lattice vectors as rows, shape (3, 3).
        pbc: Periodicity along each lattice vector, shape (3,), bool.
        length_scale: The length unit.
        cutoff: Dimensionless cutoff.
        dtype: Dtype of the returned bond vectors (the model's).

    Returns:
        ``(edge_index (2, E), edge_vec (E, 3))``; the division is done in float64.
    """
    inv = 1.0 / length_scale
    x = (positions.to(torch.float64) * inv).to(dtype)
    box = (cell.to(torch.float64) * inv).to(dtype)
    return radius_graph(x, box, pbc, cutoff)


def spatially_sorted_graph(positions: torch.Tensor, types: torch.Tensor, cell: torch.Tensor, pbc: torch.Tensor,
                           length_scale: float, cutoff: float,
                           dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`scaled_graph` of the particles in :func:`~md_orderml.spatial_order.spatial_order`.

    The backbone keeps bond geometry between layers only while its wavefront passes,
    which needs neighbours close in the particle order; input orders (tags, random
    shuffles, periodic wrap-around) need not have that.

    Args:
        positions: Positions, shape (N, 3).
        types: Model type index per particle, shape (N,).
        cell, pbc, length_scale, cutoff, dtype: As for :func:`scaled_graph`.

    Returns:
        ``(inverse (N,), types (N,), edge_index (2, E), edge_vec (E, 3))`` of the sorted
        particles; ``per_node_sorted.index_select(0, inverse)`` is back in input order.
    """
    order = spatial_order(positions, cell, pbc, cutoff * length_scale)
    inverse = torch.empty_like(order).index_copy_(0, order, torch.arange(order.shape[0], device=order.device))
    edge_index, edge_vec = scaled_graph(positions.index_select(0, order), cell, pbc, length_scale, cutoff, dtype)
    return inverse, types.index_select(0, order), edge_index, edge_vec


class StructureLabeler(nn.Module):
    """Backbone plus a classification head, with the neighbour search inside.

    Optionally (:meth:`set_isolated_crystal_rule`) a crystal label needs crystalline
    neighbours: a particle whose most probable class is a crystal but which has fewer than
    ``min_neighbours`` particles with a crystal label within ``radius`` is labelled
    ``liquid`` instead (after the solid-like-neighbour criterion of ten Wolde, Ruiz-Montero
    and Frenkel, in its weakest form). ``probabilities`` stay the network's; ``confidence``
    is the probability of the label given. The rule needs the labels of neighbours, so it
    adds ``radius`` to the model's receptive field.

    Args:
        backbone: A backbone of any family (:mod:`md_orderml.nn.families`): a
            ``torch.nn.Module`` with the :class:`~md_orderml.nn.families.Backbone` interface,
            ``forward(types (N,), edge_index (2, E), edge_vec (E, 3)) -> (N, embedding_dim)``
            and a dimensionless ``cutoff``.
        n_classes: Number of structure classes.
        head_hidden: Width of the head's hidden layer; 0: a linear head.

    Raises:
        TypeError: ``backbone`` is no ``torch.nn.Module`` or lacks the backbone interface.
    """

    def __init__(self, backbone: Backbone, n_classes: int, head_hidden: int = 64):
        super().__init__()
        if not (isinstance(backbone, nn.Module) and isinstance(backbone, Backbone)):
            raise TypeError(f"a StructureLabeler needs a backbone module with cutoff, embedding_dim and "
                            f"forward(types, edge_index, edge_vec); got {type(backbone).__name__}")
        self.backbone = backbone
        self.cutoff = backbone.cutoff
        self.n_classes = int(n_classes)
        if head_hidden > 0:
            self.head = nn.Sequential(
                nn.Linear(backbone.embedding_dim, head_hidden),
                nn.SiLU(),
                nn.Linear(head_hidden, self.n_classes),
            )
        else:  # a linear head (a logistic probe on the embedding)
            self.head = nn.Sequential(nn.Linear(backbone.embedding_dim, self.n_classes))
        self.isolation_radius = 0.0
        self.isolation_min_neighbours = 1
        self.liquid_label = -1
        self.register_buffer("crystal_classes", torch.zeros(self.n_classes, dtype=torch.bool), persistent=False)

    def set_isolated_crystal_rule(self, class_names: List[str], crystal_names: List[str], radius: float,
                                  min_neighbours: int = 1, liquid_name: str = "liquid") -> None:
        """Switch on the isolated-crystal rule (see the class docstring); ``radius`` 0 switches it off.

        Args:
            class_names: The model's class names, index = label, length ``n_classes``.
            crystal_names: Which of them are crystals.
            radius: Dimensionless neighbour radius (units of the length scale), below the cutoff.
            min_neighbours: Crystal-labelled neighbours a crystal label needs.
            liquid_name: The class given to isolated crystal-labelled particles.
        """
        if len(class_names) != self.n_classes:
            raise ValueError(f"{len(class_names)} class names {class_names} for a model of {self.n_classes} classes")
        if liquid_name not in class_names or not 0.0 <= radius <= self.cutoff or min_neighbours < 1:
            raise ValueError(f"the isolated-crystal rule needs a {liquid_name!r} class, a radius up to the cutoff "
                             f"{self.cutoff} and at least 1 neighbour (radius {radius}, neighbours {min_neighbours}, "
                             f"classes {class_names})")
        self.isolation_radius = float(radius)
        self.isolation_min_neighbours = int(min_neighbours)
        self.liquid_label = class_names.index(liquid_name)
        self.crystal_classes = torch.tensor([n in crystal_names for n in class_names], dtype=torch.bool)

    def isolated_crystal_labels(self, label: torch.Tensor, edge_index: torch.Tensor,
                                edge_vec: torch.Tensor) -> torch.Tensor:
        """Apply the isolated-crystal rule to the labels of every node.

        Args:
            label: Most probable class of every node, shape (N,), int64.
            edge_index: (centre, neighbour) bond indices, shape (2, E).
            edge_vec: Dimensionless bond vectors, shape (E, 3).

        Returns:
            The labels with isolated crystal-labelled nodes set to ``liquid``, shape (N,).
        """
        crystal = self.crystal_classes[label]
        near = torch.linalg.norm(edge_vec, dim=1) < self.isolation_radius
        centre, neighbour = edge_index[0][near], edge_index[1][near]
        count = torch.zeros(label.size(0), dtype=torch.int64, device=label.device)
        count.index_add_(0, centre, crystal[neighbour].to(torch.int64))
        isolated = crystal & (count < self.isolation_min_neighbours)
        return torch.where(isolated, torch.full_like(label, self.liquid_label), label)

    def graph_forward(
        self, types: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Logits and embedding of every node of a prepared graph (used in training).

        Args:
            types: Model type index, shape (N,), int64.
            edge_index: (centre, neighbour) bond indices, shape (2, E).
            edge_vec: Dimensionless bond vectors, shape (E, 3).

        Returns:
            ``(logits (N, n_classes), embedding (N, embedding_dim))``.
        """
        embedding = self.backbone(types, edge_index, edge_vec)
        return self.head(embedding), embedding

    def forward(
        self,
        positions: torch.Tensor,
        types: torch.Tensor,
        cell: torch.Tensor,
        pbc: torch.Tensor,
        owned: torch.Tensor,
        length_scale: float,
    ) -> Dict[str, torch.Tensor]:
        """Label the owned particles of one configuration.

        Args:
            positions: Positions of owned and ghost particles, shape (N, 3), any float dtype.
            types: Model type index of each particle, shape (N,), int64.
            cell: Lattice vectors as rows, shape (3, 3) (ignored along non-periodic directions).
            pbc: Periodicity along each lattice vector, shape (3,), bool. Engines that
                supply ghost particles pass all False.
            owned: Which particles to label, shape (N,), bool. Ghosts only give context.
            length_scale: The length unit: ``(V / N) ** (1 / 3)`` of the whole system.

        Returns:
            Dictionary with ``label`` (M,) int64, ``probabilities`` (M, C) float32,
            ``confidence`` (M,) float32 and ``embedding`` (M, D) float32 for the
            M owned particles, in input order.
        """
        inverse, sorted_types, edge_index, edge_vec = spatially_sorted_graph(
            positions, types, cell, pbc, length_scale, self.cutoff, self.head[0].weight.dtype)
        logits, embedding = self.graph_forward(sorted_types, edge_index, edge_vec)
        rows = inverse[owned]  # sorted row of each owned particle, in input order
        probabilities = torch.softmax(logits.index_select(0, rows), dim=1)
        if self.isolation_radius > 0.0:
            label = self.isolated_crystal_labels(logits.argmax(dim=1), edge_index, edge_vec).index_select(0, rows)
            confidence = probabilities.gather(1, label.unsqueeze(1)).squeeze(1)
        else:
            confidence, label = probabilities.max(dim=1)
        return {
            keys.LABEL: label,
            keys.PROBABILITIES: probabilities,
            keys.CONFIDENCE: confidence,
            keys.EMBEDDING: embedding.index_select(0, rows),
        }
