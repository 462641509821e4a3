"""Backbone families: build the backbone an architecture dictionary asks for.

``architecture["family"]`` picks the class (default ``"density"``):

* ``"density"`` (alias ``"equivariant-density"``, the name model files record):
  :class:`~md_orderml.nn.backbone.EquivariantBackbone`;
* ``"ga_attention"``: :class:`~md_orderml.nn.ga_attention.GeometricAlgebraAttentionBackbone`.
"""

from typing import Dict, Optional

from torch import nn

from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.ga_attention import GeometricAlgebraAttentionBackbone

#: Family name -> backbone class.
FAMILIES = {
    "density": EquivariantBackbone,
    "equivariant-density": EquivariantBackbone,
    "ga_attention": GeometricAlgebraAttentionBackbone,
}


def build_backbone(cutoff: float, architecture: Optional[Dict], chunk: Optional[int] = None) -> nn.Module:
    """A freshly initialised backbone of the family ``architecture`` names.

    Args:
        cutoff: Dimensionless cutoff radius.
        architecture: Backbone settings; ``"family"`` selects the class (default
            ``"density"``), the rest goes to its constructor.
        chunk: Centres per chunk on a CPU; ``None`` keeps the class's default.

    Returns:
        The backbone: forward ``(types (N,), edge_index (2, E), edge_vec (E, 3)) ->
        (N, embedding_dim)``, with ``cutoff``, ``config``, ``embedding_dim``, ``n_types``
        and ``chunk`` attributes.

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
