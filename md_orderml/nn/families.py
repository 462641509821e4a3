"""Backbone families: build the backbone an architecture dictionary asks for.

``architecture["family"]`` picks the class (default ``"density"``):

* ``"density"`` (alias ``"equivariant-density"``, the name model files record):
  :class:`~md_orderml.nn.backbone.EquivariantBackbone`;
* ``"ga_attention"``: :class:`~md_orderml.nn.ga_attention.GeometricAlgebraAttentionBackbone`.

Both have the interface :class:`Backbone` describes, which is all the heads
(:class:`~md_orderml.nn.labeler.StructureLabeler`) use.
"""

from typing import Dict, Optional, Protocol, runtime_checkable

import torch

from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.ga_attention import GeometricAlgebraAttentionBackbone

@runtime_checkable
class Backbone(Protocol):
    """What a head needs of a backbone; a backbone is also a ``torch.nn.Module`` (a submodule of the head).

    Every family's class has this interface (and, for model files and training, the
    ``config``, ``n_types`` and ``chunk`` attributes :func:`build_backbone` lists).
    ``isinstance(module, Backbone)`` checks that the attributes exist.

    Attributes:
        cutoff: Dimensionless cutoff radius: bond vectors are given in the same units.
        embedding_dim: Width ``D`` of the per-particle embedding.
    """

    cutoff: float
    embedding_dim: int

    def forward(self, types: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor) -> torch.Tensor:
        """Invariant embedding of every particle of a bond graph.

        Args:
            types: Model type index per particle, shape (N,), int64.
            edge_index: (centre, neighbour) bond indices, shape (2, E), int64.
            edge_vec: Dimensionless bond vectors, shape (E, 3).

        Returns:
            Invariant embedding, shape (N, embedding_dim), the dtype of ``edge_vec``.
        """
        ...


#: Family name -> backbone class.
FAMILIES = {
    "density": EquivariantBackbone,
    "equivariant-density": EquivariantBackbone,
    "ga_attention": GeometricAlgebraAttentionBackbone,
}


def build_backbone(cutoff: float, architecture: Optional[Dict], chunk: Optional[int] = None) -> Backbone:
    """A freshly initialised backbone of the family ``architecture`` names.

    Args:
        cutoff: Dimensionless cutoff radius.
        architecture: Backbone settings; ``"family"`` selects the class (default
            ``"density"``), the rest goes to its constructor.
        chunk: Centres per chunk on a CPU; ``None`` keeps the class's default.

    Returns:
        The backbone, a ``torch.nn.Module`` with the :class:`Backbone` interface (forward
        ``(types (N,), edge_index (2, E), edge_vec (E, 3)) -> (N, embedding_dim)``,
        ``cutoff`` and ``embedding_dim``) and ``config``, ``n_types`` and ``chunk`` attributes.

    Raises:
        ValueError: Unknown family.
    """
    architecture = dict(architecture or {})
    family = str(architecture.get("family", "density"))
    if family not in FAMILIES:
        raise ValueError(f"unknown backbone family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    cls = FAMILIES[family]
    if cls is EquivariantBackbone:
        architecture.pop("family", None)  # the density backbone's config has no family key
    if chunk is None:
        return cls(cutoff, architecture)
    return cls(cutoff, architecture, chunk=int(chunk))
