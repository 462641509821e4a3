"""Per-class Gaussians in a labeler's embedding space: the embeddings, the fit, its default ridge.

The pieces :mod:`md_orderml.training.calibration` (the unknown rule) and
:mod:`md_orderml.training.liquid_fallback` (its liquid fallback) both use, kept below both so neither
imports the other.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch

from md_orderml.nn.labeler import StructureLabeler
from md_orderml.training.data import GraphSample, collate

#: Relative ridge added to every class covariance (times its trace / D).
DEFAULT_RIDGE = 1e-3


def embeddings_and_predictions(model: StructureLabeler, samples: Sequence[GraphSample], device: str = "cpu",
                               batch: int = 16) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The embedding, the head's class and the true class of every particle of ``samples``.

    Args:
        model: The trained labeler.
        samples: Labelled graphs, N particles in all.
        device: Where to run the model.
        batch: Graphs per forward pass.

    Returns:
        ``(embedding (N, D) float64, predicted (N,) int64, true (N,) int64)``.
    """
    embeddings, predicted, true = [], [], []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(samples), batch):
            merged = collate(samples[start:start + batch])
            logits, embedding = model.graph_forward(merged["types"].to(device), merged["edge_index"].to(device),
                                                    merged["edge_vec"].to(device))
            embeddings.append(embedding.double().cpu().numpy())
            predicted.append(logits.argmax(dim=1).cpu().numpy())
            true.append(merged["labels"].numpy())
    return np.concatenate(embeddings), np.concatenate(predicted), np.concatenate(true)


def fit_class_gaussians(embedding: np.ndarray, labels: np.ndarray, n_classes: int, ridge: float = DEFAULT_RIDGE,
                        covariance: str = "per_class") -> Tuple[np.ndarray, np.ndarray]:
    """Class means and the whitening matrices of the class covariances (see :mod:`md_orderml.training.calibration`).

    Args:
        embedding: Embeddings, shape (N, D).
        labels: True class of each row, shape (N,), in [0, K).
        n_classes: K.
        ridge: Relative ridge: ``ridge * trace(Sigma_k) / D`` is added to the diagonal.
        covariance: ``"per_class"`` or ``"shared"`` (the pooled within-class covariance for all).

    Returns:
        ``(means (K, D), whitening (K, D, D))``, ``whitening[k] @ whitening[k].T`` the inverse
        of the regularised ``Sigma_k`` (``W_k = L_k^-T`` of its Cholesky factor ``L_k``).

    Raises:
        ValueError: A class without rows, or an unknown ``covariance``.
    """
    if covariance not in ("per_class", "shared"):
        raise ValueError(f"covariance must be 'per_class' or 'shared', got {covariance!r}")
    counts = np.bincount(labels, minlength=n_classes)
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"no training particles of classes {missing} to fit the unknown rule")
    d = embedding.shape[1]
    means = np.zeros((n_classes, d))
    np.add.at(means, labels, embedding)
    means /= counts[:, None]
    centred = embedding - means[labels]
    scatter = np.stack([centred[labels == k].T @ centred[labels == k] for k in range(n_classes)])
    pooled = scatter.sum(axis=0) / max(1, len(embedding) - n_classes)
    whitening = np.zeros((n_classes, d, d))
    for k in range(n_classes):
        sigma = pooled if covariance == "shared" else (scatter[k] + d * pooled) / (counts[k] + d)
        sigma = sigma + np.eye(d) * ridge * np.trace(sigma) / d
        whitening[k] = np.linalg.inv(np.linalg.cholesky(sigma)).T
    return means, whitening
