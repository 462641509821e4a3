"""A classification head on a frozen backbone: embeddings in, a trained head out.

What ``md-orderml finetune --mode frozen``, ``md-orderml train --reference`` and
``md-orderml discover --export`` share: embed labelled particles once with a fixed
backbone (:func:`embed_samples`), standardise the embeddings, train a ``linear`` or
``mlp`` head on them with full-batch AdamW and class-balanced cross-entropy
(:func:`fit_head`), and fold the standardisation into the head's first layer so the
head takes raw embeddings, as :class:`~md_orderml.nn.labeler.StructureLabeler` expects.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from md_orderml.training.data import GraphSample, collate

HEAD_KINDS = ("linear", "mlp")  #: the heads :func:`make_head` builds


def make_head(dim: int, n_classes: int, kind: str, hidden: int) -> nn.Sequential:
    """A ``linear`` head (one Linear) or an ``mlp`` head (Linear, SiLU, Linear) as nn.Sequential.

    Raises:
        InputError: Another ``kind``.
    """
    if kind == "linear":
        return nn.Sequential(nn.Linear(dim, n_classes))
    if kind == "mlp":
        return nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, n_classes))
    from md_orderml.errors import InputError

    raise InputError(f"unknown head {kind!r}; known: {', '.join(HEAD_KINDS)}")


def embed_samples(backbone: nn.Module, samples: Sequence[GraphSample], only_labelled: bool = False,
                  batch: int = 64) -> Tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of all nodes (or only labelled ones, label >= 0) of ``samples`` (no gradient).

    Returns:
        ``(embedding (M, D), labels (M,))``.
    """
    outs, labels = [], []
    backbone.eval()
    with torch.no_grad():
        for start in range(0, len(samples), batch):
            merged = collate(samples[start:start + batch])
            e = backbone(merged["types"], merged["edge_index"], merged["edge_vec"])
            keep = merged["labels"] >= 0 if only_labelled else torch.ones(len(e), dtype=torch.bool)
            outs.append(e[keep])
            labels.append(merged["labels"][keep])
    return torch.cat(outs), torch.cat(labels)


def fold_standardisation(head: nn.Sequential, mean: torch.Tensor, std: torch.Tensor) -> None:
    """Make ``head(x)`` equal the trained ``head((x - mean) / std)`` (``mean``, ``std``: shape (D,))."""
    first = head[0]
    with torch.no_grad():
        w = first.weight / std
        first.bias -= (w * mean).sum(1)
        first.weight.copy_(w)


def train_probe(head: nn.Sequential, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float,
                weight_decay: float, class_weight: Optional[torch.Tensor] = None) -> None:
    """Full-batch head training on fixed features ``x`` (M, D) with labels ``y`` (M,)."""
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss(weight=class_weight)
    head.train()
    for _ in range(steps):
        loss = loss_fn(head(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()


def fit_head(x: torch.Tensor, y: torch.Tensor, n_classes: int, kind: str = "mlp", hidden: int = 64,
             steps: int = 400, lr: float = 1e-2, weight_decay: float = 1e-3, seed: int = 0,
             balanced: bool = True) -> nn.Sequential:
    """Train a head on embeddings ``x`` (M, D) with class labels ``y`` (M,) in [0, ``n_classes``).

    The embeddings are standardised for training (mean and std of ``x``); the returned head
    takes raw embeddings. ``balanced``: classes weigh by the inverse of their particle count.

    Returns:
        The head (eval mode): ``nn.Sequential`` whose first module is an ``nn.Linear`` of input D.

    Raises:
        InputError: A class without particles, or an unknown ``kind``.
    """
    from md_orderml.errors import InputError

    torch.manual_seed(seed)
    x = x.detach().float()
    y = y.detach().long()
    counts = torch.bincount(y, minlength=n_classes)
    if (counts == 0).any():
        raise InputError(f"class(es) {np.flatnonzero(counts.numpy() == 0).tolist()} have no particles to train on")
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    head = make_head(x.shape[1], n_classes, kind, hidden)
    weight = (len(y) / (n_classes * counts.float())) if balanced else None
    train_probe(head, (x - mean) / std, y, steps, lr, weight_decay, weight)
    fold_standardisation(head, mean, std)
    return head
