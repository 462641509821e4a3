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


class CheckpointedRun:
    """Model, AdamW optimiser, progress and the per-epoch checkpoint of one training run.

    Subclasses (:class:`~md_orderml.training.trainer.Trainer`,
    :class:`~md_orderml.ssl.pretrain.Pretrainer`) build their model and call
    :meth:`_start`; ``CHECKPOINT_NAME`` names the checkpoint file in ``out_dir``.
    """

    CHECKPOINT_NAME = "checkpoint.pt"

    def _start(self, config, out_dir, model: torch.nn.Module, device: str = "cpu") -> None:
        """Set the run's settings, folder (created), model and a fresh AdamW (``config.lr``, ``config.weight_decay``)."""
        self.config = config
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.device = device
        self.model = model
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.epoch = 0
        self.history: List[Dict] = []

    @property
    def checkpoint_path(self) -> Path:
        """The per-epoch checkpoint of this run."""
        return self.out_dir / self.CHECKPOINT_NAME

    def save_checkpoint(self) -> None:
        """Write model, optimiser and progress (atomically)."""
        save_training_state(self.checkpoint_path, self.model, self.optimizer, self.epoch, self.history, self.config)

    def load_checkpoint(self) -> bool:
        """Resume from the checkpoint if there is one; return whether it was found."""
        if not self.checkpoint_path.is_file():
            return False
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)
        self.epoch, self.history = restore_training_state(state, self.model, self.optimizer)
        return True
