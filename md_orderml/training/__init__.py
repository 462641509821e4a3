"""Training: generated labelled data and the supervised training loop."""

from md_orderml.training.trainer import TrainConfig, Trainer, train

__all__ = ["TrainConfig", "Trainer", "train"]
