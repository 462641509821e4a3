"""Glass vs liquid by a logistic probe on a frozen equivariant backbone (the default method).

The network of :mod:`md_orderml.research.glassy.glass_model`, trained end to end from about a
hundred configuration labels, does not beat the expert features (RDF + psi_k) at matched
inherent-structure energy. A linear readout of the backbone at its seeded initialisation
does: its embedding is a fixed set of random rotation-invariant functions of each
particle's neighbourhood (power spectra and cubic invariants of learned-shape neighbour
densities, two layers deep), and the only fitted part is one L2 logistic regression on
the configuration means of that embedding (:func:`md_orderml.research.probes.fit_probe`: L2
strength by inner cross-validation). It needs seconds, not the network's half hour.

Because the probe is linear, it is exactly a per-particle model: with ``h_i`` the
embedding of particle i and ``(w, b)`` the probe, ``d_i = w . h_i + b`` has configuration
mean ``w . mean_i(h_i) + b``, the probe's decision value. So :func:`fit_probe_classifier`
returns a normal :class:`~md_orderml.nn.labeler.StructureLabeler` with a linear head whose
logits are ``(-d_i / 2, d_i / 2)``: its configuration score (mean per-particle log-odds,
:func:`~md_orderml.research.glassy.glass_model.config_scores`) is the probe's decision value, and
it is exported, and runs on the fly, like the trained network.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import torch

from md_orderml.research.glassy.glass_model import CUTOFF, ConfigGraph, new_model, out_of_fold_scores
from md_orderml.nn.labeler import StructureLabeler
from md_orderml.research.probes import fit_probe
from md_orderml.training.data import graph_of_node, merge_graphs


def pooled_embeddings(model: StructureLabeler, graphs: Sequence[ConfigGraph], batch: int = 16) -> np.ndarray:
    """Mean backbone embedding of every configuration.

    Args:
        model: A labeler (only its backbone is used).
        graphs: Configurations.
        batch: Configurations per forward pass.

    Returns:
        Configuration means of the embedding, shape (C, embedding_dim), float64.
    """
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(graphs), batch):
            part = list(graphs[start:start + batch])
            merged = merge_graphs(part)
            embedding = model.backbone(merged["types"], merged["edge_index"], merged["edge_vec"]).double()
            owner = graph_of_node(part)
            count = torch.bincount(owner, minlength=len(part)).double().unsqueeze(1)
            total = torch.zeros(len(part), embedding.shape[1], dtype=torch.float64).index_add_(0, owner, embedding)
            out.append((total / count).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.backbone.embedding_dim))


def frozen_backbone_model(seed: int = 0, cutoff: float = CUTOFF,
                          architecture: Optional[Dict] = None) -> StructureLabeler:
    """The glass labeler with a linear head, backbone at its initialisation drawn with ``seed``."""
    torch.manual_seed(seed)
    return new_model(cutoff, architecture, head_hidden=0).eval()


def set_probe_head(model: StructureLabeler, weight: np.ndarray, bias: float) -> StructureLabeler:
    """Make the linear head give ``logit_glass - logit_liquid = embedding @ weight + bias``.

    Args:
        model: A labeler built with ``head_hidden=0`` (classes liquid, glass).
        weight: Probe weights on the embedding, shape (embedding_dim,).
        bias: Probe intercept.

    Returns:
        ``model``, its head overwritten (logits ``(-d/2, d/2)``).
    """
    linear = model.head[0]
    w = torch.as_tensor(np.asarray(weight, np.float64) / 2.0, dtype=linear.weight.dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.stack([-w, w]))
        linear.bias.copy_(torch.tensor([-bias / 2.0, bias / 2.0], dtype=linear.bias.dtype))
    return model


def fit_probe_classifier(graphs: Sequence[ConfigGraph], labels: np.ndarray, seed: int = 0, cutoff: float = CUTOFF,
                         architecture: Optional[Dict] = None, pooled: Optional[np.ndarray] = None) -> StructureLabeler:
    """Fit the probe on configuration labels and return it as a per-particle labeler.

    Args:
        graphs: Training configurations.
        labels: 0 = liquid, 1 = glass, shape (C,).
        seed: Seed of the backbone initialisation and of the inner splits.
        cutoff: Dimensionless cutoff.
        architecture: Backbone settings (default :data:`~md_orderml.research.glassy.glass_model.GLASS2D_ARCHITECTURE`).
        pooled: :func:`pooled_embeddings` of ``graphs`` by the same frozen backbone, shape
            (C, embedding_dim), when already computed.

    Returns:
        The labeler, in eval mode.
    """
    model = frozen_backbone_model(seed, cutoff, architecture)
    x = pooled if pooled is not None else pooled_embeddings(model, graphs)
    weight, bias = fit_probe(x, np.asarray(labels), rng=np.random.default_rng(seed))
    return set_probe_head(model, weight, bias)


def cross_validated_probe_scores(graphs: Sequence[ConfigGraph], labels: np.ndarray, folds: Sequence[np.ndarray],
                                 seed: int = 0, cutoff: float = CUTOFF, architecture: Optional[Dict] = None,
                                 progress: bool = False, pooled: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Out-of-fold configuration scores of the probe labeler (one fit per fold), (C,) each.

    Every fold has the same frozen backbone (same ``seed``), so the pooled embeddings are
    computed once; each fold fits its own probe on its training configurations only (as
    :func:`fit_probe_classifier` would) and the held-out scores come from the labeler
    itself (:func:`~md_orderml.research.glassy.glass_model.config_scores`), so they are what the
    exported model file would report. ``pooled``: those embeddings, when already computed
    (as for :func:`fit_probe_classifier`).

    Returns:
        ``{"mean_log_odds", "glass_fraction"}``, shape (C,) each.
    """
    labels = np.asarray(labels)
    model = frozen_backbone_model(seed, cutoff, architecture)
    pooled = pooled if pooled is not None else pooled_embeddings(model, graphs)
    return out_of_fold_scores(graphs, folds, lambda f, train: set_probe_head(
        model, *fit_probe(pooled[train], labels[train], rng=np.random.default_rng(seed))), progress)
