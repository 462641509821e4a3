"""The ``unknown`` rule: a class label only for environments like those the model was trained on.

A classification head always picks one of its classes, also for environments it never
saw (a crystal outside the training vocabulary, an ideal gas). The rule looks at the
particle's invariant embedding ``e`` (D,) instead: the squared Mahalanobis distance to
the mean ``mu_k`` of its predicted class ``k`` under the covariance ``Sigma_k`` of that
class (fitted on the training embeddings),

``d_k(e) = (e - mu_k)^T Sigma_k^-1 (e - mu_k) = |(e - mu_k) W_k|^2``,  ``W_k = L_k^-T``,  ``Sigma_k = L_k L_k^T``,

is compared with the class's threshold ``t_k``; above it, the label becomes ``unknown``
(after Lee et al., NeurIPS 2018, "A simple unified framework for detecting
out-of-distribution samples"; there with one covariance shared by all classes, which is
the special case ``W_k = W``). Means, whitening matrices and thresholds are buffers of the
module, so the rule is inside the model file and every engine applies it. Fitting and
calibration (thresholds from held-out in-vocabulary data) are in
:mod:`md_orderml.training.calibration`.

Optionally (:meth:`UnknownEnvironmentRule.set_liquid_fallback`) a particle ``unknown``
after the rule (the labeler applies it before its rescue) whose embedding lies within ``t_f`` of one more
Gaussian, fitted on liquids alone (mean ``mu_f``, whitening ``W_f``), is labelled ``liquid``:
``|(e - mu_f) W_f|^2 <= t_f``. A liquid particle whose head picks a crystal class (common in
icosahedrally ordered liquids such as Kob-Andersen or Dzugutov) fails that crystal's
threshold and would otherwise never meet a liquid test.
"""

from typing import List

import torch
from torch import nn


class UnknownEnvironmentRule(nn.Module):
    """Relabels particles whose embedding lies far from the mean of their predicted class.

    Off (labels unchanged) until :meth:`set_rule`. The buffers are not part of the
    ``state_dict`` (as the isolated-crystal rule's), so checkpoints and re-exported weights
    keep their keys; the TorchScript file stores them.

    Args:
        n_classes: K, the classes the head predicts.
        embedding_dim: D, the width of the embedding.

    Attributes:
        unknown_label: Label given to far particles; -1 while the rule is off.
        means: Class means of the embedding, shape (K, D).
        whitening: ``W_k`` with ``W_k W_k^T = Sigma_k^-1`` per class, shape (K, D, D).
        thresholds: Largest squared distance ``t_k`` a class keeps, shape (K,).
        fallback_label: Label given to unknown particles inside the liquid fallback; -1 while it is off.
        fallback_mean: Mean ``mu_f`` of the liquid fallback, shape (D,).
        fallback_whitening: Its ``W_f`` with ``W_f W_f^T = Sigma_f^-1``, shape (D, D).
        fallback_threshold: Its squared-distance threshold ``t_f``, shape () (``-inf`` while off).
    """

    def __init__(self, n_classes: int, embedding_dim: int):
        super().__init__()
        self.unknown_label = -1
        self.register_buffer("means", torch.zeros(n_classes, embedding_dim), persistent=False)
        self.register_buffer("whitening", torch.eye(embedding_dim).repeat(n_classes, 1, 1), persistent=False)
        self.register_buffer("thresholds", torch.full((n_classes,), float("inf")), persistent=False)
        self.fallback_label = -1
        self.register_buffer("fallback_mean", torch.zeros(embedding_dim), persistent=False)
        self.register_buffer("fallback_whitening", torch.eye(embedding_dim), persistent=False)
        self.register_buffer("fallback_threshold", torch.tensor(float("-inf")), persistent=False)

    @torch.jit.ignore
    def set_rule(self, means: torch.Tensor, whitening: torch.Tensor, thresholds: torch.Tensor,
                 unknown_label: int) -> None:
        """Switch the rule on.

        Args:
            means: Class means, shape (K, D).
            whitening: ``W_k`` with ``W_k W_k^T`` the inverse covariance of class k, shape (K, D, D).
            thresholds: Squared-distance threshold per class, shape (K,) (``inf``: never unknown).
            unknown_label: The label of ``unknown`` (K: the class after the head's).

        Raises:
            ValueError: Shapes that do not fit the module, or a label below 0.
        """
        if (tuple(means.shape) != tuple(self.means.shape) or tuple(whitening.shape) != tuple(self.whitening.shape)
                or tuple(thresholds.shape) != tuple(self.thresholds.shape) or unknown_label < 0):
            raise ValueError(f"unknown rule of shapes means {tuple(means.shape)}, whitening {tuple(whitening.shape)}, "
                             f"thresholds {tuple(thresholds.shape)}, label {unknown_label} for a module of "
                             f"{tuple(self.means.shape)}")
        dtype, device = self.means.dtype, self.means.device
        self.means = means.detach().to(device=device, dtype=dtype).clone()
        self.whitening = whitening.detach().to(device=device, dtype=dtype).clone()
        self.thresholds = thresholds.detach().to(device=device, dtype=dtype).clone()
        self.unknown_label = int(unknown_label)

    @torch.jit.ignore
    def set_liquid_fallback(self, mean: torch.Tensor, whitening: torch.Tensor, threshold: float,
                            liquid_label: int) -> None:
        """Switch the liquid fallback on (see the module docstring); ``liquid_label`` -1 switches it off.

        Args:
            mean: Mean of the liquid Gaussian, shape (D,).
            whitening: ``W_f`` with ``W_f W_f^T`` the inverse covariance of the liquids, shape (D, D).
            threshold: Largest squared distance ``t_f`` that is labelled liquid.
            liquid_label: The label given (the class ``liquid``), in [0, K), or -1 (off).

        Raises:
            ValueError: Shapes that do not fit the module, or a label outside [-1, K).
        """
        if (tuple(mean.shape) != tuple(self.fallback_mean.shape)
                or tuple(whitening.shape) != tuple(self.fallback_whitening.shape)
                or not -1 <= liquid_label < self.means.shape[0]):
            raise ValueError(f"liquid fallback of shapes mean {tuple(mean.shape)}, whitening {tuple(whitening.shape)}, "
                             f"label {liquid_label} for a module of {tuple(self.fallback_mean.shape)} and "
                             f"{self.means.shape[0]} classes")
        dtype, device = self.means.dtype, self.means.device
        self.fallback_mean = mean.detach().to(device=device, dtype=dtype).clone()
        self.fallback_whitening = whitening.detach().to(device=device, dtype=dtype).clone()
        self.fallback_threshold = torch.tensor(float(threshold), dtype=dtype, device=device)
        self.fallback_label = int(liquid_label)

    def fallback_distances(self, embedding: torch.Tensor) -> torch.Tensor:
        """Squared Mahalanobis distance of each embedding to the liquid fallback's mean.

        Args:
            embedding: Embeddings, shape (N, D).

        Returns:
            ``|(e - mu_f) W_f|^2``, shape (N,).
        """
        return ((embedding.to(self.fallback_mean.dtype) - self.fallback_mean) @ self.fallback_whitening).pow(2).sum(1)

    def liquid_fallback(self, embedding: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Labels with ``unknown`` particles inside the liquid fallback relabelled ``liquid``.

        Unchanged while the rule or the fallback is off.

        Args:
            embedding: Embeddings, shape (N, D).
            label: Labels after the rule, shape (N,), int64.

        Returns:
            The labels, shape (N,), int64.
        """
        if self.unknown_label < 0 or self.fallback_label < 0:
            return label
        inside = (label == self.unknown_label) & (self.fallback_distances(embedding) <= self.fallback_threshold)
        return torch.where(inside, torch.full_like(label, self.fallback_label), label)

    @torch.jit.ignore
    def switch_off(self) -> None:
        """Labels unchanged again (the buffers are kept)."""
        self.unknown_label = -1

    def is_on(self) -> bool:
        """Whether the rule relabels."""
        return self.unknown_label >= 0

    def squared_distances(self, embedding: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Squared Mahalanobis distance of each embedding to the mean of its class.

        Args:
            embedding: Embeddings, shape (N, D).
            label: The class of each row, shape (N,), int64 in [0, K).

        Returns:
            ``d_label(e)``, shape (N,).
        """
        diff = embedding.to(self.means.dtype) - self.means.index_select(0, label)
        distances = torch.zeros(label.shape[0], dtype=diff.dtype, device=diff.device)
        for k in range(self.means.shape[0]):  # one matrix product per class, no (N, D, D) gather
            rows = torch.nonzero(label == k).squeeze(1)
            if rows.shape[0] > 0:
                distances.index_copy_(0, rows, (diff.index_select(0, rows) @ self.whitening[k]).pow(2).sum(dim=1))
        return distances

    def forward(self, embedding: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Labels with far particles relabelled ``unknown_label`` (unchanged while off).

        Args:
            embedding: Embeddings, shape (N, D).
            label: Predicted class of each row, shape (N,), int64 in [0, K).

        Returns:
            The labels, shape (N,), int64.
        """
        if self.unknown_label < 0:
            return label
        far = self.squared_distances(embedding, label) > self.thresholds.index_select(0, label)
        return torch.where(far, torch.full_like(label, self.unknown_label), label)


def unknown_rule_names(class_names: List[str], unknown_name: str = "unknown") -> List[str]:
    """The class names the head predicts: ``class_names`` without ``unknown_name``.

    Args:
        class_names: A model's class names; ``unknown_name``, when present, must be last.

    Returns:
        The head's class names.

    Raises:
        ValueError: ``unknown_name`` present but not last.
    """
    names = list(class_names)
    if unknown_name in names[:-1]:
        raise ValueError(f"the class {unknown_name!r} must be the last class name, got {names}")
    return names[:-1] if names and names[-1] == unknown_name else names
