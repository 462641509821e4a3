"""The exportable model: raw engine data in, per-particle labels out.

:class:`StructureLabeler` is what gets compiled with TorchScript and saved as the one
model file. Its ``forward`` does everything from raw coordinates on: the length unit,
the periodic neighbour search, the backbone and the classification head, so HOOMD,
LAMMPS (Python or C++) and the command line all run exactly the same code.

Two length units (``length_unit``, recorded in the model file's metadata):

* ``"global"`` (files without the record): lengths divided by the ``length_scale``
  argument, ``(V / N) ** (1 / 3)`` of the whole system (:func:`scaled_graph`).
* ``"local"``: every particle's lengths in a unit from its own neighbourhood, capped
  for vapour atoms, which are labelled liquid (:mod:`md_orderml.local_scale`); the
  ``length_scale`` argument is then only a hint, and :meth:`StructureLabeler.ghost_reach`
  tells engines how far their ghost particles must reach.
"""

from typing import Dict, List, Tuple

import torch
from torch import nn

from md_orderml import keys
from md_orderml.local_scale import (CAP_FACTOR, SCALE_RANK, UNIT_DISTANCE, local_length_scales,
                                    local_receptive_field, spatially_sorted_local_graph)
from md_orderml.neighbors import radius_graph
from md_orderml.nn.families import Backbone
from md_orderml.nn.neighbour_rules import neighbour_average, rescued_labels
from md_orderml.nn.unknown import UnknownEnvironmentRule, unknown_rule_names
from md_orderml.spatial_order import spatial_order

GLOBAL = "global"  #: lengths in units of (V / N) ** (1 / 3) of the whole system
LOCAL = "local"  #: lengths in each particle's own local unit (md_orderml.local_scale)
LENGTH_UNITS = (GLOBAL, LOCAL)
NEVER_RESCUED = 2.0  #: a rescue fraction above 1: the class is never given back (:meth:`StructureLabeler.set_unknown_rescue`)


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

    Optionally (:meth:`set_unknown_rule`, :mod:`md_orderml.nn.unknown`) a particle whose
    embedding is far from the mean of its most probable class is labelled ``unknown``,
    label ``n_classes``, the last class name of the model file. ``unknown`` has no logit:
    ``probabilities`` are the network's over the ``n_classes`` classes plus a last column
    0 for ``unknown``, and ``confidence``, the probability of the label given, is 0 for
    unknown particles. Optionally (:meth:`set_unknown_rescue`) unknown particles take their
    head's class back where enough neighbours carry it. The rule's liquid fallback
    (:meth:`~md_orderml.nn.unknown.UnknownEnvironmentRule.set_liquid_fallback`) labels unknown
    particles close to a Gaussian of liquids ``liquid`` before the rescue, so they count as
    liquid neighbours there (after it, it would change nothing more: the rescue makes no
    particle unknown). Order: most probable class, unknown rule, liquid fallback, rescue,
    vapour (local unit), isolated-crystal rule (unknown counts as no crystal).

    With ``length_unit="local"`` each particle's lengths are measured in its own local
    unit (:mod:`md_orderml.local_scale`: the 6th-neighbour distance over ``2 ** (1 / 6)``,
    capped at 3 median 6th-neighbour distances; bonds in the centre's unit), so labels
    depend on the environment alone, never on the box volume or other phases; capped
    (vapour) particles are labelled ``vapour_class``. ``length_scale`` is then unused
    (save as the scale of a lone particle in open space).

    Args:
        backbone: A backbone of any family (:mod:`md_orderml.nn.families`): a
            ``torch.nn.Module`` with the :class:`~md_orderml.nn.families.Backbone` interface,
            ``forward(types (N,), edge_index (2, E), edge_vec (E, 3)) -> (N, embedding_dim)``
            and a dimensionless ``cutoff``.
        n_classes: Number of structure classes.
        head_hidden: Width of the head's hidden layer; 0: a linear head.
        length_unit: ``"global"`` (the default; files without the metadata record) or ``"local"``.
        vapour_class: Local unit only: the label of capped particles, required: the liquid class,
            or ``n_classes``, the label of the unknown rule (which must then be set before use).

    Raises:
        TypeError: ``backbone`` is no ``torch.nn.Module`` or lacks the backbone interface.
        ValueError: An unknown length unit; a local one without a valid ``vapour_class``.
    """

    def __init__(self, backbone: Backbone, n_classes: int, head_hidden: int = 64, length_unit: str = "global",
                 vapour_class: int = -1):
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
        self.average_radius = 0.0
        self.average_taper = 0.0
        self.unknown_average_radius = 0.0
        self.unknown_average_taper = 0.0
        self.rescue_radius = 0.0
        self.rescue_passes = 0
        self.liquid_label = -1
        # one entry more than the head's classes: the label of the unknown rule, never a crystal
        self.register_buffer("crystal_classes", torch.zeros(self.n_classes + 1, dtype=torch.bool), persistent=False)
        self.register_buffer("rescue_fractions", torch.full((self.n_classes,), NEVER_RESCUED), persistent=False)
        self.unknown_rule = UnknownEnvironmentRule(self.n_classes, backbone.embedding_dim)
        if length_unit not in LENGTH_UNITS:
            raise ValueError(f"length_unit must be one of {LENGTH_UNITS}, got {length_unit!r}")
        if length_unit == LOCAL and not 0 <= vapour_class <= self.n_classes:
            raise ValueError(f"a local length unit needs the class of capped (vapour) particles, the liquid "
                             f"class or the unknown label: vapour_class in [0, {self.n_classes}], got {vapour_class}")
        self.length_unit = length_unit
        self.local_unit = length_unit == LOCAL
        self.vapour_class = int(vapour_class)
        self.n_layers = int(getattr(backbone, "config", {}).get("n_layers", 0))
        self.scale_rank = SCALE_RANK
        self.unit_distance = UNIT_DISTANCE
        self.cap_factor = CAP_FACTOR

    def set_isolated_crystal_rule(self, class_names: List[str], crystal_names: List[str], radius: float,
                                  min_neighbours: int = 1, liquid_name: str = "liquid") -> None:
        """Switch on the isolated-crystal rule (see the class docstring); ``radius`` 0 switches it off.

        Args:
            class_names: The model's class names, index = label, length ``n_classes`` (or
                ``n_classes + 1`` ending with ``"unknown"``, the unknown rule's label).
            crystal_names: Which of them are crystals.
            radius: Dimensionless neighbour radius (units of the length scale), below the cutoff.
            min_neighbours: Crystal-labelled neighbours a crystal label needs.
            liquid_name: The class given to isolated crystal-labelled particles.
        """
        class_names = unknown_rule_names(class_names)
        if len(class_names) != self.n_classes:
            raise ValueError(f"{len(class_names)} class names {class_names} for a model of {self.n_classes} classes")
        if liquid_name not in class_names or not 0.0 <= radius <= self.cutoff or min_neighbours < 1:
            raise ValueError(f"the isolated-crystal rule needs a {liquid_name!r} class, a radius up to the cutoff "
                             f"{self.cutoff} and at least 1 neighbour (radius {radius}, neighbours {min_neighbours}, "
                             f"classes {class_names})")
        self.isolation_radius = float(radius)
        self.isolation_min_neighbours = int(min_neighbours)
        self.liquid_label = class_names.index(liquid_name)
        self.crystal_classes = torch.tensor([n in crystal_names for n in class_names] + [False], dtype=torch.bool)

    def set_embedding_average(self, radius: float, taper: float = 0.0) -> None:
        """Average each particle's embedding with its neighbours' within ``radius`` (0: off).

        With it on, the embedding that the head, the unknown rule and the ``embedding`` output
        see is the weighted mean of the backbone's embedding over the particle (weight 1) and
        its neighbours closer than ``radius`` (in the length unit; local unit: the centre's),
        as Lechner and Dellago average bond-order parameters: the environments of one
        crystal's Wyckoff sites move together. A neighbour's weight is 1 up to
        ``radius - taper`` and falls to 0 at ``radius`` as a half cosine, so the average does
        not jump when a neighbour crosses the radius. It adds ``radius`` to the receptive
        field. ``md-orderml discover`` uses it.

        Raises:
            ValueError: ``radius`` outside [0, cutoff], or ``taper`` outside [0, radius].
        """
        self._check_average(radius, taper, "the embedding average")
        self.average_radius = float(radius)
        self.average_taper = float(taper)

    @torch.jit.unused
    def _check_average(self, radius: float, taper: float, what: str) -> None:
        """Raise ValueError unless ``0 <= taper <= radius <= cutoff``."""
        if not 0.0 <= radius <= self.cutoff or not 0.0 <= taper <= radius:
            raise ValueError(f"{what} needs 0 <= taper <= radius <= {self.cutoff}, got radius {radius}, taper {taper}")

    def set_unknown_average(self, radius: float, taper: float = 0.0) -> None:
        """Let the unknown rule (only) see the neighbour-averaged embedding (0: off).

        The head still classifies each particle's own embedding; the unknown rule, and the
        ``embedding`` output, see its weighted mean over the particle and its neighbours
        (weights as in :meth:`set_embedding_average`). Averaging narrows each crystal's
        cloud of embeddings far more than it moves it, so structures the model never saw
        stand out: recalibrated on the default model (radius 1.5), held-out alpha-Mn,
        gamma-brass and alpha-Pa went from 64 / 10 / 100 % to 100 / 95 / 100 % unknown at
        3 % noise; real-potential crystals at their melting point then lose 30-40 % of their
        labels to ``unknown`` unless :meth:`set_unknown_rescue` gives them back
        (docs/results.md). It adds ``radius`` to the receptive field.

        Raises:
            ValueError: ``radius`` outside [0, cutoff], or ``taper`` outside [0, radius].
        """
        self._check_average(radius, taper, "the unknown rule's average")
        self.unknown_average_radius = float(radius)
        self.unknown_average_taper = float(taper)

    def set_unknown_rescue(self, radius: float, passes: int, fractions: List[float]) -> None:
        """Give unknown particles their head's class back where enough neighbours have it
        (:func:`~md_orderml.nn.neighbour_rules.rescued_labels`); ``passes`` 0 switches it off.

        It adds ``passes * radius`` to the receptive field.

        Args:
            radius: Neighbours closer than this count (length units).
            passes: Rounds.
            fractions: Per head class, the fraction of neighbours that must carry it, length
                ``n_classes``; above 1 (e.g. :data:`NEVER_RESCUED`): never given back.

        Raises:
            ValueError: ``radius`` outside (0, cutoff], negative ``passes``, ``fractions`` of
                another length or not > 0.
        """
        if passes < 0 or (passes > 0 and not 0.0 < radius <= self.cutoff) or len(fractions) != self.n_classes \
                or min(fractions) <= 0.0:
            raise ValueError(f"the unknown rescue needs 0 < radius <= {self.cutoff}, passes >= 0 and "
                             f"{self.n_classes} fractions > 0; got {radius}, {passes}, {fractions}")
        self.rescue_fractions = torch.tensor([float(f) for f in fractions], dtype=torch.float32)
        self.rescue_radius = float(radius) if passes > 0 else 0.0
        self.rescue_passes = int(passes)

    def set_unknown_rule(self, means: torch.Tensor, whitening: torch.Tensor, thresholds: torch.Tensor) -> None:
        """Switch on the unknown rule (:mod:`md_orderml.nn.unknown`): label ``n_classes`` = ``unknown``.

        Args:
            means: Class means of the embedding, shape (n_classes, D).
            whitening: ``W_k`` with ``W_k W_k^T`` the inverse covariance of class k, shape (n_classes, D, D).
            thresholds: Squared-distance threshold per class, shape (n_classes,).
        """
        self.unknown_rule.set_rule(means, whitening, thresholds, self.n_classes)

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

    @torch.jit.export
    def receptive_field(self) -> float:
        """How far a label looks, in length units (global: of ``length_scale``; local: of the largest local scale).

        Returns:
            ``n_layers * cutoff + isolation_radius + average_radius + unknown_average_radius +
            rescue_passes * rescue_radius``; local unit:
            :func:`~md_orderml.local_scale.local_receptive_field` (the same for cutoffs
            above ``2 ** (1 / 6)``).
        """
        extra = self.isolation_radius + self.average_radius + self.unknown_average_radius + \
            self.rescue_passes * self.rescue_radius
        if self.local_unit:
            return local_receptive_field(self.cutoff, self.n_layers, extra, self.unit_distance)
        return self.n_layers * self.cutoff + extra

    @torch.jit.export
    def local_scales(self, positions: torch.Tensor, cell: torch.Tensor, pbc: torch.Tensor,
                     length_scale: float) -> torch.Tensor:
        """The length unit of every particle (``forward``'s arguments, without types and owned).

        Returns:
            Shape (N,), float64: global unit: ``length_scale`` everywhere; local unit: the
            capped local scales (:func:`~md_orderml.local_scale.local_length_scales`).
        """
        if self.local_unit:
            return local_length_scales(positions, cell, pbc, length_scale, self.scale_rank, self.unit_distance,
                                       self.cap_factor)[0]
        return torch.full((positions.shape[0],), length_scale, dtype=torch.float64, device=positions.device)

    @torch.jit.export
    def ghost_reach(self, positions: torch.Tensor, cell: torch.Tensor, pbc: torch.Tensor,
                    length_scale: float) -> float:
        """Absolute distance ghost particles must cover for exact labels of the owned ones.

        ``receptive_field() x`` the largest length unit of the configuration: global unit
        ``receptive_field() * length_scale``; local unit ``receptive_field() * max(local_scales(...))``
        (at most ``3 / 2 ** (1 / 6)`` median 6th-neighbour distances, reached only where a
        vapour particle is capped). Engines call it on what they hold (owned particles and
        current ghosts, with the same ``pbc`` as ``forward``), take the maximum over ranks
        and add their margin and skin.

        Returns:
            The reach, in the units of ``positions`` (0 for no particles).
        """
        if positions.shape[0] == 0:
            return 0.0
        return self.receptive_field() * float(self.local_scales(positions, cell, pbc, length_scale).max())

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
        if self.average_radius > 0.0:
            embedding = neighbour_average(embedding, edge_index, edge_vec, self.average_radius, self.average_taper)
        logits = self.head(embedding)
        if self.unknown_average_radius > 0.0:
            embedding = neighbour_average(embedding, edge_index, edge_vec, self.unknown_average_radius,
                                          self.unknown_average_taper)
        return logits, embedding

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
            length_scale: The length unit: ``(V / N) ** (1 / 3)`` of the whole system. A
                local-unit model uses it only as the scale of a lone particle in open space.

        Returns:
            Dictionary with ``label`` (M,) int64, ``probabilities`` (M, C) float32,
            ``confidence`` (M,) float32 and ``embedding`` (M, D) float32 for the
            M owned particles, in input order; C = ``n_classes``, plus 1 with the unknown rule.
        """
        dtype = self.head[0].weight.dtype
        if self.local_unit:
            inverse, sorted_types, edge_index, edge_vec, capped, scales = spatially_sorted_local_graph(
                positions, types, cell, pbc, length_scale, self.cutoff, dtype, self.scale_rank, self.unit_distance,
                self.cap_factor)
        else:
            inverse, sorted_types, edge_index, edge_vec = spatially_sorted_graph(
                positions, types, cell, pbc, length_scale, self.cutoff, dtype)
            capped = torch.zeros(0, dtype=torch.bool, device=positions.device)
        logits, embedding = self.graph_forward(sorted_types, edge_index, edge_vec)
        rows = inverse[owned]  # sorted row of each owned particle, in input order
        probabilities = torch.softmax(logits.index_select(0, rows), dim=1)
        if self.unknown_rule.is_on():  # unknown has no logit: its probability column is 0
            probabilities = torch.cat([probabilities, torch.zeros_like(probabilities[:, :1])], dim=1)
        if self.isolation_radius > 0.0 or self.local_unit or self.unknown_rule.is_on():
            head = logits.argmax(dim=1)
            label = self.unknown_rule.liquid_fallback(embedding, self.unknown_rule(embedding, head))
            if self.rescue_passes > 0 and self.unknown_rule.is_on():
                label = rescued_labels(label, head, self.n_classes, edge_index, edge_vec, self.rescue_radius,
                                       self.rescue_passes, self.rescue_fractions)
            if self.local_unit:  # capped (vapour) particles are liquid
                label = torch.where(capped, torch.full_like(label, self.vapour_class), label)
            if self.isolation_radius > 0.0:
                label = self.isolated_crystal_labels(label, edge_index, edge_vec)
            label = label.index_select(0, rows)
            confidence = probabilities.gather(1, label.unsqueeze(1)).squeeze(1)
        else:
            confidence, label = probabilities.max(dim=1)
        return {
            keys.LABEL: label,
            keys.PROBABILITIES: probabilities,
            keys.CONFIDENCE: confidence,
            keys.EMBEDDING: embedding.index_select(0, rows),
        }
