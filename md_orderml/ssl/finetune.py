"""Fine-tuning a (pretrained or fresh) backbone on few labelled environments.

Modes (the from-scratch baseline is ``full`` on a freshly initialised backbone):

* ``frozen``: the backbone is fixed; the head (``linear`` or a small ``mlp``) is
  trained on standardised embeddings of the labelled environments. The
  standardisation (mean and std over all particles of the labelled configurations,
  no labels needed) is folded into the head's first layer afterwards.
* ``full``: the same head training first (a linear probe), then the backbone and
  head together on the labelled environments' sub-graphs
  (:func:`md_orderml.ssl.data.environment_graphs`) with AdamW.

The result is an ordinary :class:`~md_orderml.nn.labeler.StructureLabeler`; its
export is the normal model file, whose outputs include the ``embedding``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.families import build_backbone
from md_orderml.nn.labeler import StructureLabeler
from md_orderml.ssl.data import labelled_environments
from md_orderml.training import frozen_head
from md_orderml.training.data import GraphSample, collate
from md_orderml.training.frozen_head import embed_samples as embed
from md_orderml.training.frozen_head import fold_standardisation as _fold_standardisation
from md_orderml.training.frozen_head import make_head
from md_orderml.training.optim import optimizer_step
from md_orderml.training.trainer import per_class_accuracy


@dataclasses.dataclass
class FinetuneConfig:
    """Settings of a fine-tuning run.

    Attributes:
        mode: ``frozen`` or ``full``.
        head: ``linear`` or ``mlp`` (one hidden layer of ``head_hidden``).
        head_hidden: Hidden width of the ``mlp`` head.
        probe_steps: Full-batch steps of head training on frozen embeddings.
        probe_lr: Learning rate of that phase.
        probe_weight_decay: Its AdamW weight decay.
        steps: Steps of full fine-tuning (``full`` only).
        batch_size: Labelled environments per full fine-tuning step.
        lr: Learning rate of full fine-tuning.
        seed: Seed of initialisation and shuffling.
    """

    mode: str = "frozen"
    head: str = "linear"
    head_hidden: int = 64
    probe_steps: int = 300
    probe_lr: float = 1e-2
    probe_weight_decay: float = 1e-3
    steps: int = 150
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0


def train_probe(head: nn.Sequential, x: torch.Tensor, y: torch.Tensor, config: FinetuneConfig) -> None:
    """Full-batch head training on fixed features ``x`` (M, D) with labels ``y`` (M,) (:func:`~md_orderml.training.frozen_head.train_probe`)."""
    frozen_head.train_probe(head, x, y, config.probe_steps, config.probe_lr, config.probe_weight_decay)


def finetune(backbone: EquivariantBackbone, n_classes: int, pool: Sequence[GraphSample], picked: Sequence[tuple],
             config: FinetuneConfig, progress: bool = False) -> StructureLabeler:
    """Train a labeler from ``backbone`` on the picked labelled environments.

    Args:
        backbone: Pretrained (or freshly initialised) backbone; it is modified in ``full`` mode.
        n_classes: Number of classes.
        pool: Labelled configurations the environments come from.
        picked: ``(sample index, particle index, label)`` triples
            (:func:`md_orderml.ssl.data.pick_environments`).
        config: Settings.
        progress: Show a progress bar.

    Returns:
        The trained :class:`StructureLabeler` (eval mode, CPU).
    """
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    envs = labelled_environments(pool, picked, int(backbone.config["n_layers"]))
    all_embeddings, _ = embed(backbone, list(pool))
    mean, std = all_embeddings.mean(0), all_embeddings.std(0).clamp_min(1e-6)
    x, y = embed(backbone, envs, only_labelled=True)
    head = make_head(backbone.embedding_dim, n_classes, config.head, config.head_hidden)
    train_probe(head, (x - mean) / std, y, config)
    _fold_standardisation(head, mean, std)
    labeler = StructureLabeler(backbone, n_classes)
    labeler.head = head
    if config.mode == "full":
        opt = torch.optim.AdamW(labeler.parameters(), lr=config.lr, weight_decay=1e-5)
        rng = np.random.default_rng(config.seed)
        loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
        labeler.train()
        for step in tqdm(range(config.steps), desc="fine-tune", disable=not progress, leave=False):
            for group in opt.param_groups:
                group["lr"] = config.lr * 0.5 * (1 + np.cos(np.pi * step / config.steps))
            chosen = rng.choice(len(envs), min(config.batch_size, len(envs)), replace=False)
            batch = collate([envs[i] for i in chosen])
            logits, _ = labeler.graph_forward(batch["types"], batch["edge_index"], batch["edge_vec"])
            loss = loss_fn(logits, batch["labels"])
            optimizer_step(opt, loss, labeler.parameters())
    elif config.mode != "frozen":
        from md_orderml.errors import InputError

        raise InputError(f"unknown mode {config.mode!r}; known: frozen, full")
    return labeler.eval()


def balanced_accuracy(labeler: StructureLabeler, samples: Sequence[GraphSample], n_classes: int) -> tuple:
    """Mean over classes of the per-particle accuracy, and the per-class accuracies (n_classes,)."""
    acc = per_class_accuracy(labeler, samples, n_classes)
    return float(np.nanmean(acc)), acc


def export_labeler(labeler: StructureLabeler, class_names: Sequence[str], path, training: Dict) -> Path:
    """Save ``labeler`` as a normal model file (:func:`md_orderml.model_file.save_model`)."""
    import json

    from md_orderml.model_file import build_metadata, save_model

    backbone = labeler.backbone
    metadata = build_metadata(class_names, backbone.cutoff, int(backbone.config["n_layers"]),
                              {"family": "equivariant-density", **backbone.config}, training)
    return save_model(labeler, json.loads(json.dumps(metadata)), path)


def fresh_backbone(cutoff: float, architecture: Optional[Dict], seed: int) -> EquivariantBackbone:
    """A randomly initialised backbone (the from-scratch baseline)."""
    torch.manual_seed(seed)
    return build_backbone(cutoff, architecture or {})


def summary(history: List[Dict]) -> Dict:
    """Last pretraining record, for the model file's training metadata."""
    return history[-1] if history else {}
