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
    """

    def __init__(self, n_classes: int, embedding_dim: int):
        super().__init__()
        self.unknown_label = -1
        self.register_buffer("means", torch.zeros(n_classes, embedding_dim), persistent=False)
        self.register_buffer("whitening", torch.eye(embedding_dim).repeat(n_classes, 1, 1), persistent=False)
        self.register_buffer("thresholds", torch.full((n_classes,), float("inf")), persistent=False)

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
