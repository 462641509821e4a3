"""Clusters of environments: a Gaussian mixture on the principal components of embeddings.

:func:`fit_clusters` standardises the (neighbour-averaged) embeddings, keeps the principal
components that explain :data:`PCA_VARIANCE` of the variance, and fits Gaussian mixtures
with full covariances (scikit-learn's ``GaussianMixture``). With ``n_clusters="auto"`` it
fits 1 ... ``max_clusters`` components and keeps the smallest number whose Bayesian
information criterion (BIC) is within :data:`BIC_TOLERANCE` of the whole range of BIC above
its lowest value (Boattini et al. take the lowest BIC itself; crystals at finite temperature
are not Gaussian blobs, so the BIC goes on falling slowly by splitting one environment into
several once each has its own component, and this tolerance stops at that elbow).
Clusters are numbered by size, largest first.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Union

import numpy as np

PCA_VARIANCE = 0.9  #: fraction of the embeddings' variance the kept principal components explain
MAX_CLUSTERS = 12  #: the most components ``"auto"`` tries
#: ``"auto"``: the smallest K with ``BIC(K) - min BIC <= BIC_TOLERANCE * (BIC(1) - min BIC)``.
BIC_TOLERANCE = 0.01
#: Fewest particles per component tried: ``auto`` stops at ``len(x) // MIN_CLUSTER_PARTICLES`` components.
MIN_CLUSTER_PARTICLES = 20


@dataclasses.dataclass
class ClusterFit:
    """A fitted clustering of embeddings.

    Attributes:
        mean: Mean of the embeddings, shape (D,).
        std: Their standard deviation, shape (D,).
        pca: The fitted ``sklearn.decomposition.PCA``.
        mixture: The chosen ``sklearn.mixture.GaussianMixture`` (components renumbered by size).
        bic: BIC by number of components tried, ``{K: bic}``.
        order: Component of each cluster (cluster 0 = the most populated component; components
            that own no fitted particle are left out), shape (K,).
    """

    mean: np.ndarray
    std: np.ndarray
    pca: object
    mixture: object
    bic: Dict[int, float]
    order: np.ndarray

    @property
    def n_clusters(self) -> int:
        """Number of clusters K."""
        return len(self.order)

    def reduce(self, x: np.ndarray) -> np.ndarray:
        """Principal components of embeddings ``x`` (M, D): shape (M, d)."""
        return self.pca.transform((np.asarray(x, dtype=np.float64) - self.mean) / self.std)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Cluster of each embedding of ``x`` (M, D): shape (M,), int64 in [0, K)."""
        probabilities = self.mixture.predict_proba(self.reduce(x))
        return np.argmax(probabilities[:, self.order], axis=1).astype(np.int64)


def fit_clusters(x: np.ndarray, n_clusters: Union[str, int] = "auto", max_clusters: int = MAX_CLUSTERS,
                 seed: int = 0, variance: float = PCA_VARIANCE) -> ClusterFit:
    """Cluster embeddings with a Gaussian mixture (see the module docstring).

    Args:
        x: Embeddings, shape (M, D).
        n_clusters: ``"auto"`` (BIC elbow over 1 ... ``max_clusters``, see the module docstring)
            or a number K >= 1.
        max_clusters: The most components ``"auto"`` tries.
        seed: Seed of the mixtures' initialisation.
        variance: Fraction of the variance the kept principal components explain.

    Returns:
        The :class:`ClusterFit`.

    Raises:
        InputError: Fewer particles than clusters asked for, or a bad ``n_clusters``.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from md_orderml.errors import InputError

    x = np.asarray(x, dtype=np.float64)
    if n_clusters == "auto":
        counts: List[int] = list(range(1, max(1, min(max_clusters, len(x) // MIN_CLUSTER_PARTICLES)) + 1))
    elif isinstance(n_clusters, (int, np.integer)) and n_clusters >= 1:
        counts = [int(n_clusters)]
    else:
        raise InputError(f"--clusters must be 'auto' or a number >= 1, got {n_clusters!r}")
    if len(x) < 2 * counts[-1]:
        raise InputError(f"{len(x)} particles are too few for {counts[-1]} clusters")
    mean, std = x.mean(0), x.std(0)
    std = np.where(std > 1e-9, std, 1.0)
    pca = PCA(variance, svd_solver="full", random_state=seed).fit((x - mean) / std)
    z = pca.transform((x - mean) / std)
    fits, bic = {}, {}
    for k in counts:
        gm = GaussianMixture(k, covariance_type="full", n_init=2, reg_covar=1e-4, random_state=seed).fit(z)
        fits[k], bic[k] = gm, float(gm.bic(z))
    lowest, highest = min(bic.values()), max(bic.values())
    best = min(k for k in counts if bic[k] - lowest <= BIC_TOLERANCE * (highest - lowest))
    mixture = fits[best]
    sizes = np.bincount(mixture.predict(z), minlength=best)
    order = np.argsort(-sizes, kind="stable")
    order = order[sizes[order] > 0]  # a component that owns no particle is no cluster
    return ClusterFit(mean=mean, std=std, pca=pca, mixture=mixture, bic=bic, order=order)
