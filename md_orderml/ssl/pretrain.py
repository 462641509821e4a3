"""Self-supervised pretraining of the backbone (``md-orderml pretrain``).

:func:`pretrain` makes unlabelled graphs, trains :class:`~md_orderml.ssl.pretext.PretextModel`
with AdamW and a cosine schedule, writes ``pretrain_checkpoint.pt`` in the run
directory after every epoch (``resume`` continues from it) and finally a *pretrained
checkpoint*: a small ``torch.save`` dictionary with the backbone's state and settings
that ``md-orderml finetune --pretrained`` reads (:func:`md_orderml.nn.pretrained.load_pretrained_backbone`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from md_orderml.nn.backbone import DEFAULT_CONFIG
from md_orderml.nn.families import build_backbone
from md_orderml.nn.pretrained import PRETRAINED_KIND
from md_orderml.ssl.pretext import PretextConfig, PretextModel, corrupt
from md_orderml.training.checkpoints import CheckpointedRun
from md_orderml.training.data import GraphSample, collate, graph_of_node
from md_orderml.training.optim import optimizer_step



@dataclasses.dataclass
class PretrainConfig:
    """Settings of a pretraining run.

    Attributes:
        cutoff: Dimensionless cutoff in units of ``(V / N) ** (1 / 3)``.
        architecture: Backbone settings (see ``DEFAULT_CONFIG``).
        n_structures: Unlabelled configurations generated.
        liquid_fraction: Fraction of them that are LJ liquids.
        noise_max: Largest crystal noise, fraction of the nn distance per coordinate.
        epochs: Passes over the data (each with fresh corruptions).
        batch_size: Configurations per step.
        lr: Peak learning rate.
        weight_decay: AdamW weight decay.
        seed: Seed of data, initialisation, shuffling and corruptions.
        pretext: Task weights and corruption strengths.
        length_unit: ``"global"`` (units of ``(V / N) ** (1 / 3)``) or ``"local"`` (each
            particle's own unit, :mod:`md_orderml.local_scale`, as the default model).
        kinds: Crystal kinds of the generated configurations (``None``: the six simple crystals).
    """

    cutoff: float = 1.6
    architecture: Dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_CONFIG))
    n_structures: int = 120
    liquid_fraction: float = 0.25
    noise_max: float = 0.08
    epochs: int = 10
    batch_size: int = 6
    lr: float = 2e-3
    weight_decay: float = 1e-5
    seed: int = 0
    pretext: PretextConfig = dataclasses.field(default_factory=PretextConfig)
    length_unit: str = "global"
    kinds: Optional[Sequence[str]] = None


def _collate_with_graph(samples: Sequence[GraphSample]):
    return collate(samples), graph_of_node(samples)


class Pretrainer(CheckpointedRun):
    """Model, optimiser, schedule and checkpoints of one pretraining run.

    Args:
        config: The run's settings.
        out_dir: Where the checkpoint goes.
    """

    CHECKPOINT_NAME = "pretrain_checkpoint.pt"

    def __init__(self, config: PretrainConfig, out_dir):
        torch.manual_seed(config.seed)
        self._start(config, out_dir, PretextModel(build_backbone(config.cutoff, config.architecture)))

    def evaluate(self, samples: Sequence[GraphSample], seed: int = 12345) -> Dict[str, float]:
        """Mean pretext losses on ``samples`` with fixed corruptions (no gradient)."""
        gen = torch.Generator().manual_seed(seed)
        self.model.eval()
        sums: Dict[str, float] = {}
        with torch.no_grad():
            for start in range(0, len(samples), 8):
                chunk = samples[start:start + 8]
                batch, graph = _collate_with_graph(chunk)
                losses = self.model(batch, corrupt(batch, graph, len(chunk), self.config.pretext, gen), self.config.pretext)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * len(chunk)
        return {k: v / max(len(samples), 1) for k, v in sums.items()}

    def fit(self, train: Sequence[GraphSample], val: Sequence[GraphSample], progress: bool = True) -> None:
        """Train until ``config.epochs``, checkpointing after every epoch."""
        from tqdm.auto import tqdm

        cfg = self.config
        steps = int(np.ceil(len(train) / cfg.batch_size))
        total = steps * cfg.epochs
        while self.epoch < cfg.epochs:
            rng = np.random.default_rng(cfg.seed + 1000 + self.epoch)
            gen = torch.Generator().manual_seed(cfg.seed + 2000 + self.epoch)
            order = rng.permutation(len(train))
            self.model.train()
            start, losses = time.time(), []
            bar = tqdm(range(steps), desc=f"pretrain {self.epoch + 1}/{cfg.epochs}", disable=not progress, leave=False)
            for i in bar:
                step = self.epoch * steps + i
                warmup = max(1, total // 20)
                lr = cfg.lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * max(0, step - warmup) / max(1, total - warmup)))
                for group in self.optimizer.param_groups:
                    group["lr"] = lr + 1e-5
                chunk = [train[j] for j in order[i * cfg.batch_size:(i + 1) * cfg.batch_size]]
                batch, graph = _collate_with_graph(chunk)
                loss = self.model(batch, corrupt(batch, graph, len(chunk), cfg.pretext, gen), cfg.pretext)
                optimizer_step(self.optimizer, loss["total"], self.model.parameters())
                losses.append({k: float(v.detach()) for k, v in loss.items()})
                bar.set_postfix(loss=f"{np.mean([x['total'] for x in losses[-20:]]):.4f}")
            self.epoch += 1
            record = {"epoch": self.epoch, "seconds": time.time() - start,
                      "train": {k: float(np.mean([x[k] for x in losses])) for k in losses[0]},
                      "val": self.evaluate(val)}
            self.history.append(record)
            self.save_checkpoint()
            if progress:
                text = " ".join(f"{k}={v:.4f}" for k, v in record["val"].items())
                print(f"pretrain epoch {self.epoch}: val {text} ({record['seconds']:.0f} s)", flush=True)

    def save_pretrained(self, path) -> Path:
        """Write the pretrained checkpoint (backbone state and settings) that fine-tuning reads."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save({"kind": PRETRAINED_KIND, "cutoff": self.config.cutoff,
                    "architecture": dict(self.model.backbone.config),
                    "backbone": self.model.backbone.state_dict(), "epochs": self.epoch,
                    "length_unit": self.config.length_unit,
                    "history": self.history, "config": dataclasses.asdict(self.config)}, tmp)
        tmp.replace(path)
        return path


def pretrain(config: PretrainConfig, out_dir, output, resume: bool = False, progress: bool = True,
             extra: Optional[Sequence[GraphSample]] = None) -> Path:
    """Generate unlabelled data, pretrain, and write the pretrained checkpoint.

    Args:
        config: Run settings.
        out_dir: Directory of the per-epoch checkpoint.
        output: Pretrained checkpoint to write.
        resume: Continue from ``out_dir/pretrain_checkpoint.pt`` when present.
        progress: Progress bars and per-epoch losses.
        extra: More unlabelled graphs (e.g. trajectory frames) added to the training set.

    Returns:
        The pretrained checkpoint's path.
    """
    from md_orderml.ssl.data import unlabelled_samples

    trainer = Pretrainer(config, out_dir)
    if resume and trainer.load_checkpoint() and progress:
        print(f"resumed from {trainer.checkpoint_path} at epoch {trainer.epoch}", flush=True)
    kinds = {} if config.kinds is None else {"kinds": tuple(config.kinds)}
    train = unlabelled_samples(config.n_structures, config.cutoff, config.seed, config.noise_max,
                               config.liquid_fraction, progress=progress, length_unit=config.length_unit,
                               **kinds) + list(extra or [])
    val = unlabelled_samples(max(4, config.n_structures // 10), config.cutoff, config.seed + 7919,
                             config.noise_max, config.liquid_fraction, length_unit=config.length_unit, **kinds)
    trainer.fit(train, val, progress=progress)
    return trainer.save_pretrained(output)
