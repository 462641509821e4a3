"""Training checkpoints shared by supervised training and self-supervised pretraining."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Tuple

import torch


def save_training_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        epoch: int, history: List[Dict], config) -> None:
    """Write model, optimiser, progress and settings to ``path`` atomically.

    Args:
        path: Checkpoint file.
        model: The model being trained.
        optimizer: Its optimiser.
        epoch: Epochs done.
        history: Per-epoch records.
        config: The run's settings (a dataclass).
    """
    tmp = Path(path).with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": int(epoch),
                "history": history, "config": dataclasses.asdict(config)}, tmp)
    tmp.replace(path)


def restore_training_state(state: Dict, model: torch.nn.Module,
                           optimizer: torch.optim.Optimizer) -> Tuple[int, List[Dict]]:
    """Load a state written by :func:`save_training_state` into ``model`` and ``optimizer``.

    Returns:
        ``(epoch, history)`` of the checkpoint.
    """
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"]), list(state["history"])
