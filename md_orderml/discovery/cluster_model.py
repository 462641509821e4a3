"""The model files of discovery: one that embeds environments, one that names their clusters.

Both are :class:`~md_orderml.nn.labeler.StructureLabeler` modules in the local length unit
around one backbone, with the neighbour average of the embedding switched on
(:meth:`~md_orderml.nn.labeler.StructureLabeler.set_embedding_average`, radius
:data:`AVERAGE_RADIUS`, taper :data:`AVERAGE_TAPER`):

* :func:`environment_model`: two classes, ``environment`` and ``vapour`` (capped particles,
  :mod:`md_orderml.local_scale`); only its ``embedding`` and which particles are vapour
  are used. It runs in memory through :class:`~md_orderml.analysis.OrderML`.
* :func:`cluster_labeler`: K clusters plus ``unknown``. Its head (an MLP on the embedding)
  is trained to give the mixture's cluster of the fitted particles, and its unknown rule
  (Mahalanobis distance to the cluster's mean under the pooled within-cluster covariance,
  :mod:`md_orderml.nn.unknown`) has thresholds :data:`UNKNOWN_MARGIN` times the
  :data:`UNKNOWN_QUANTILE` of each cluster's held-out distances; vapour is ``unknown``. Saved
  with :func:`save_cluster_model`, it is an ordinary model file: the clusters that
  ``md-orderml discover`` reports are this file's labels, and LAMMPS and HOOMD run it unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from md_orderml import keys
from md_orderml.model_file import ModelFile, build_metadata, save_model
from md_orderml.nn.labeler import LOCAL, StructureLabeler

AVERAGE_RADIUS = 1.5  #: neighbour-average radius, local units (first shells of every vocabulary crystal)
AVERAGE_TAPER = 0.5  #: the neighbours' weights fall from 1 to 0 over this last part of the radius
UNKNOWN_QUANTILE = 0.99  #: the quantile of each cluster's held-out distances that sets its threshold
#: Thresholds are this many times that quantile. Fitted on crystals at 3 % noise (fcc, bcc, sc, cd)
#: with the default model's backbone, a bcc at 4 % noise kept its cluster (2 % unknown) while hcp,
#: A15 and sigma were all unknown; at a margin of 1 the bcc at 4 % was all unknown.
UNKNOWN_MARGIN = 8.0
ENVIRONMENT, VAPOUR = "environment", "vapour"  #: the classes of :func:`environment_model`


def _metadata(labeler: StructureLabeler, names: Sequence[str], training: Dict, vapour_name: str) -> Dict:
    backbone = labeler.backbone
    metadata = build_metadata(list(names), backbone.cutoff, int(backbone.config["n_layers"]),
                              {"family": "equivariant-density", **backbone.config}, training,
                              receptive_field=labeler.receptive_field(), length_unit=LOCAL, vapour_name=vapour_name)
    metadata[keys.EMBEDDING_AVERAGE] = {"radius": labeler.average_radius, "taper": labeler.average_taper}
    return json.loads(json.dumps(metadata))


def environment_model(backbone: torch.nn.Module, average_radius: float = AVERAGE_RADIUS,
                      source: str = "") -> ModelFile:
    """An in-memory model whose ``embedding`` output is the neighbour-averaged embedding.

    Its label is 0 (``environment``) or 1 (``vapour``: a capped particle, no environment).

    Args:
        backbone: The backbone (local length unit).
        average_radius: Neighbour-average radius in local units.
        source: Where the backbone came from (recorded as the model's path).

    Returns:
        A :class:`~md_orderml.model_file.ModelFile` holding the eager module.
    """
    labeler = StructureLabeler(backbone, 2, head_hidden=0, length_unit=LOCAL, vapour_class=1)
    with torch.no_grad():
        labeler.head[0].weight.zero_()
        labeler.head[0].bias.copy_(torch.tensor([0.0, -1e4]))
    labeler.set_embedding_average(average_radius, AVERAGE_TAPER)
    metadata = _metadata(labeler, [ENVIRONMENT, VAPOUR], {"kind": "embedding"}, VAPOUR)
    return ModelFile(module=labeler.eval(), metadata=metadata, path=Path(source or "<backbone>"))


def cluster_names(n_clusters: int) -> List[str]:
    """Class names of a K-cluster model: ``cluster_0`` ... ``cluster_{K-1}``, then ``unknown``."""
    return [f"cluster_{k}" for k in range(n_clusters)] + [keys.UNKNOWN]


def cluster_labeler(backbone: torch.nn.Module, embedding: np.ndarray, clusters: np.ndarray, n_clusters: int,
                    average_radius: float = AVERAGE_RADIUS, quantile: float = UNKNOWN_QUANTILE,
                    seed: int = 0) -> Tuple[StructureLabeler, Dict]:
    """Train the cluster model's head and unknown rule on embedded particles (see the module docstring).

    Half of the particles (every other one of a random order) fit the head and the
    clusters' Gaussians; the other half set the unknown thresholds.

    Args:
        backbone: The backbone the embeddings came from.
        embedding: Neighbour-averaged embeddings of the fitted particles, shape (M, D).
        clusters: Their mixture clusters, shape (M,), in [0, K).
        n_clusters: K.
        average_radius: The neighbour-average radius of the embeddings.
        quantile: The quantile of each cluster's held-out distances (times :data:`UNKNOWN_MARGIN`: the threshold).
        seed: Seed of the split and the head's training.

    Returns:
        ``(labeler, record)``: the eval-mode labeler and the unknown rule's metadata record,
        with ``agreement``, the fraction of fitted particles whose head class is their mixture cluster.
    """
    from md_orderml.training.calibration import calibrate_thresholds, squared_distances
    from md_orderml.training.class_gaussians import fit_class_gaussians
    from md_orderml.training.frozen_head import fit_head

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(embedding))
    fit, held = order[0::2], order[1::2]
    x = torch.as_tensor(embedding, dtype=torch.float32)
    head = fit_head(x[fit], torch.as_tensor(clusters[fit]), n_clusters, kind="mlp", hidden=64, seed=seed)
    labeler = StructureLabeler(backbone, n_clusters, head_hidden=64, length_unit=LOCAL, vapour_class=n_clusters)
    labeler.head = head
    labeler.set_embedding_average(average_radius, AVERAGE_TAPER)
    with torch.no_grad():
        predicted = head(x).argmax(1).numpy()
    present = np.bincount(predicted[fit], minlength=n_clusters) > 0
    fit_labels = np.where(present[predicted[fit]], predicted[fit], clusters[fit])
    means, whitening = fit_class_gaussians(embedding[fit], fit_labels, n_clusters, covariance="shared")
    distances = squared_distances(embedding[held], predicted[held], means, whitening)
    quantiles = np.full(n_clusters, quantile)
    thresholds = UNKNOWN_MARGIN * calibrate_thresholds(distances, predicted[held], predicted[held],
                                                       np.zeros(len(held)), quantiles)
    labeler.set_unknown_rule(torch.as_tensor(means, dtype=torch.float32),
                             torch.as_tensor(whitening, dtype=torch.float32),
                             torch.as_tensor(thresholds, dtype=torch.float32))
    names = cluster_names(n_clusters)[:-1]
    record = {"method": "mahalanobis", "covariance": "shared", "quantile": float(quantile), "margin": UNKNOWN_MARGIN,
              "thresholds": {n: (float(t) if np.isfinite(t) else None) for n, t in zip(names, thresholds)},
              "relabel": keys.UNKNOWN, "agreement": float((predicted == clusters).mean())}
    return labeler.eval(), record


def save_cluster_model(labeler: StructureLabeler, unknown_record: Dict, path, training: Dict) -> Path:
    """Write the cluster model as an ordinary model file (classes :func:`cluster_names`).

    Args:
        labeler: From :func:`cluster_labeler`.
        unknown_record: Its unknown rule's record.
        path: The file to write (atomically).
        training: The ``training`` metadata record (how the clusters were found).

    Returns:
        The path written.
    """
    metadata = _metadata(labeler, cluster_names(labeler.n_classes), training, keys.UNKNOWN)
    metadata[keys.UNKNOWN_RULE] = unknown_record
    return save_model(labeler, metadata, path)
