"""Expert baseline of the 2D glass-vs-liquid task: partial RDFs and bond-orientational order.

Per configuration (all invariant under rotations, translations and permutations):

* partial radial distribution functions ``g_AA``, ``g_AB``, ``g_BB`` as histograms of
  pair distances over :data:`RDF_EDGES` (units of ``sigma_AA``), each normalised by the
  ideal-gas count of its pair type;
* 2D bond-orientational order ``|psi_k(i)| = |mean_j exp(i k theta_ij)|``, k = 4..8,
  over the neighbours j within ``FIRST_SHELL * sigma_ab`` (Kob-Andersen ``sigma_ab``),
  and the coordination number; for A and B particles separately: the mean and the 10,
  50 and 90 % quantiles over the particles.

The classifier is the L2-regularised logistic probe of
:mod:`md_orderml.research.precrystallization` (features standardised on the training
configurations, strength picked by an inner cross-validation).
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

#: Bin edges of the partial RDF histograms (units of sigma_AA), 50 bins.
RDF_EDGES = np.linspace(0.5, 3.0, 51)
#: Bond-orientational orders k of ``psi_k``.
PSI_KS = (4, 5, 6, 7, 8)
#: First-shell cutoff in units of the pair's sigma (first minimum of g_AA in 2D KA ~ 1.45).
FIRST_SHELL = 1.45
#: Kob-Andersen sigma by type pair (0 = A, 1 = B).
SIGMA = np.array([[1.0, 0.8], [0.8, 0.88]])
#: Quantiles of the per-particle values used as features (besides the mean).
QUANTILES = (0.1, 0.5, 0.9)


def pair_vectors(positions: np.ndarray, box_length: float, r_max: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs i != j closer than ``r_max`` in a periodic square box (minimum image).

    Args:
        positions: Positions, shape (N, 2) or (N, 3) (only x, y used).
        box_length: Edge of the square box (> 2 r_max).
        r_max: Largest distance kept.

    Returns:
        ``(i (P,), j (P,), d (P, 2))`` with ``d = x_j - x_i`` folded to the nearest image.
    """
    x = np.asarray(positions, np.float64)[:, :2]
    d = x[None, :, :] - x[:, None, :]
    d -= box_length * np.round(d / box_length)
    r2 = (d ** 2).sum(-1)
    np.fill_diagonal(r2, np.inf)
    i, j = np.nonzero(r2 < r_max ** 2)
    return i, j, d[i, j]


def partial_rdfs(positions: np.ndarray, types: np.ndarray, box_length: float,
                 edges: np.ndarray = RDF_EDGES) -> np.ndarray:
    """Partial RDFs AA, AB, BB of one 2D configuration, shape (3, len(edges) - 1)."""
    types = np.asarray(types)
    i, j, d = pair_vectors(positions, box_length, float(edges[-1]))
    r = np.linalg.norm(d, axis=1)
    area = box_length ** 2
    shell = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    counts = np.bincount(types, minlength=2).astype(float)
    out = np.empty((3, len(edges) - 1))
    for k, (a, b) in enumerate(((0, 0), (0, 1), (1, 1))):
        mask = (types[i] == a) & (types[j] == b)
        hist = np.histogram(r[mask], bins=edges)[0].astype(float)
        out[k] = hist / (counts[a] * counts[b] / area * shell)
    return out


def psi_k(positions: np.ndarray, types: np.ndarray, box_length: float,
          ks: Sequence[int] = PSI_KS, first_shell: float = FIRST_SHELL) -> Tuple[np.ndarray, np.ndarray]:
    """Per-particle ``|psi_k|`` and coordination number in a periodic square box.

    Args:
        positions: Positions, shape (N, 2) or (N, 3).
        types: 0 = A, 1 = B, shape (N,).
        box_length: Box edge.
        ks: Orders k.
        first_shell: Neighbour cutoff in units of the pair's sigma.

    Returns:
        ``(|psi_k| (N, len(ks)), coordination (N,))``; particles without neighbours get 0.
    """
    types = np.asarray(types)
    n = len(types)
    i, j, d = pair_vectors(positions, box_length, first_shell * SIGMA.max())
    keep = np.linalg.norm(d, axis=1) < first_shell * SIGMA[types[i], types[j]]
    i, j, d = i[keep], j[keep], d[keep]
    theta = np.arctan2(d[:, 1], d[:, 0])
    coordination = np.bincount(i, minlength=n).astype(float)
    out = np.empty((n, len(ks)))
    for c, k in enumerate(ks):
        re = np.bincount(i, np.cos(k * theta), minlength=n)
        im = np.bincount(i, np.sin(k * theta), minlength=n)
        out[:, c] = np.hypot(re, im) / np.maximum(coordination, 1.0)
    return out, coordination


def _stats(values: np.ndarray) -> np.ndarray:
    """Mean and :data:`QUANTILES` over particles of each column, shape (1 + Q, D) flattened."""
    return np.concatenate([values.mean(0, keepdims=True), np.quantile(values, QUANTILES, axis=0)]).ravel()


def config_features(positions: np.ndarray, types: np.ndarray, box_length: float) -> np.ndarray:
    """All baseline features of one configuration, shape (F,) with F = 3 * 50 + 2 * 4 * 6 = 198."""
    types = np.asarray(types)
    psi, coordination = psi_k(positions, types, box_length)
    local = np.concatenate([psi, coordination[:, None]], axis=1)
    per_type = [_stats(local[types == t]) for t in (0, 1)]
    return np.concatenate([partial_rdfs(positions, types, box_length).ravel(), *per_type])


def feature_matrix(data) -> np.ndarray:
    """Baseline features of every configuration of a :class:`~md_orderml.research.glassy.glass2d.Glass2DData`, (C, F)."""
    return np.stack([config_features(data.positions[c], data.types[c], data.box_length)
                     for c in range(len(data.labels))])
