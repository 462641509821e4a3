"""Supervised training of a structure classifier on generated structures.

:func:`train` is what ``md-orderml train`` runs: it generates (or receives) labelled
graphs, trains with AdamW and a cosine learning-rate schedule, evaluates per-class
accuracy on a validation set after each epoch, writes a checkpoint after each epoch
(``--resume`` continues from it) and finally exports one model file.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from md_orderml.errors import InputError
from md_orderml.keys import CLASS_INFO, ISOLATED_CRYSTAL_RULE, UNKNOWN, UNKNOWN_RULE
from md_orderml.model_file import build_metadata, save_model
from md_orderml.nn.backbone import DEFAULT_CONFIG
from md_orderml.nn.families import build_backbone
from md_orderml.nn.labeler import StructureLabeler
from md_orderml.prototype_table import PROTOTYPES
from md_orderml.structures import CRYSTALS
from md_orderml.training.checkpoints import CheckpointedRun, restore_training_state
from md_orderml.training.data import DEFAULT_CLASSES, GraphSample, batches, collate
from md_orderml.training.optim import optimizer_step
from md_orderml.training.recalibration import fit_run_unknown_rule
from md_orderml.training.run_data import VALIDATION_SEED, run_samples


@dataclasses.dataclass
class TrainConfig:
    """Settings of a supervised training run (all stored in the model file).

    Attributes:
        class_names: Classes to learn.
        cutoff: Dimensionless cutoff in units of ``(V / N) ** (1 / 3)``.
        architecture: Backbone settings (see ``DEFAULT_CONFIG``).
        per_class: Training structures per class.
        val_per_class: Validation structures per class.
        noise_max: Largest crystal noise, fraction of the nn distance per coordinate.
        epochs: Passes over the training set.
        batch_size: Structures per optimisation step.
        lr: Peak learning rate.
        weight_decay: AdamW weight decay.
        seed: Seed of data, initialisation and shuffling.
        thermal_fraction: Fraction of fcc/bcc/hcp/cd/liquid structures taken from MD
            frames of real potentials (:mod:`md_orderml.training.thermal`).
        init_backbone: Pretrained checkpoint (``md-orderml pretrain``) whose backbone
            weights start the run (its cutoff and architecture must equal these);
            ``None`` starts from a random initialisation.
        isolated_crystal_radius: Exported model only: a crystal label needs at least
            ``isolated_crystal_neighbours`` crystal-labelled particles within this
            dimensionless radius, else the particle is labelled ``liquid``
            (:meth:`md_orderml.nn.labeler.StructureLabeler.set_isolated_crystal_rule`);
            0 switches the rule off. Training itself is unaffected.
        isolated_crystal_neighbours: See ``isolated_crystal_radius``.
        length_unit: ``"global"`` (lengths in units of ``(V / N) ** (1 / 3)`` of the whole
            system, as the default model) or ``"local"`` (each particle's own unit,
            :mod:`md_orderml.local_scale`; needs a ``liquid`` class for capped vapour
            particles). The cutoff is in that unit.
        prototype_perturb: Relative perturbation of the prototype crystals' free Wyckoff
            parameters and c/a (:func:`md_orderml.training.data.make_crystal`).
        unknown_quantile: Exported model only: > 0 switches on the unknown rule
            (:mod:`md_orderml.nn.unknown`, fitted by :mod:`md_orderml.training.calibration`):
            the fraction of held-out in-vocabulary particles per class that keep their
            label, e.g. 0.99; the model file gets the class ``unknown`` after these.
        calibration_per_class: Held-out structures per class that calibrate the unknown rule.
        calibration_noise_max: Largest crystal noise the rule must accept
            (:func:`~md_orderml.training.calibration.calibration_samples`).
        unknown_average_radius: > 0: the unknown rule sees the neighbour-averaged embedding
            within this radius (taper :data:`~md_orderml.training.recalibration.UNKNOWN_AVERAGE_TAPER`;
            :meth:`~md_orderml.nn.labeler.StructureLabeler.set_unknown_average`).
        unknown_rescue_passes: > 0: unknown particles take their head's class back where at
            least ``unknown_rescue_fraction`` of their neighbours within ``unknown_rescue_radius``
            carry it, in this many rounds
            (:meth:`~md_orderml.nn.labeler.StructureLabeler.set_unknown_rescue`).
        unknown_rescue_radius: See ``unknown_rescue_passes``.
        unknown_rescue_fraction: See ``unknown_rescue_passes`` (crystal classes).
        unknown_rescue_liquid_fraction: The same for ``liquid`` (above 1: never).
        liquid_fallback_quantile: > 0: the unknown rule's liquid fallback, calibrated at this
            quantile of calibration liquids (:mod:`md_orderml.training.liquid_fallback`: LJ, and
            Kob-Andersen and Dzugutov from LAMMPS); 0: off.
    """

    class_names: Sequence[str] = DEFAULT_CLASSES
    cutoff: float = 1.6
    architecture: Dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_CONFIG))
    per_class: int = 40
    val_per_class: int = 8
    noise_max: float = 0.11
    epochs: int = 12
    batch_size: int = 6
    lr: float = 3e-3
    weight_decay: float = 1e-5
    seed: int = 0
    thermal_fraction: float = 0.0
    init_backbone: Optional[str] = None
    isolated_crystal_radius: float = 0.0
    isolated_crystal_neighbours: int = 2
    length_unit: str = "global"
    prototype_perturb: float = 0.02
    unknown_quantile: float = 0.0
    calibration_per_class: int = 9
    calibration_noise_max: float = 0.07
    unknown_average_radius: float = 0.0
    unknown_rescue_passes: int = 0
    unknown_rescue_radius: float = 1.4
    unknown_rescue_fraction: float = 0.25
    unknown_rescue_liquid_fraction: float = 0.5
    liquid_fallback_quantile: float = 0.0


def per_class_accuracy(model: StructureLabeler, samples: Sequence[GraphSample],
                       n_classes: int, device: str = "cpu") -> np.ndarray:
    """Accuracy per true class over all particles of ``samples``.

    Returns:
        Accuracy per class, shape (n_classes,) (NaN for absent classes).
    """
    correct = np.zeros(n_classes)
    total = np.zeros(n_classes)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(samples), 16):
            batch = collate(samples[start:start + 16])
            logits, _ = model.graph_forward(
                batch["types"].to(device), batch["edge_index"].to(device), batch["edge_vec"].to(device)
            )
            pred = logits.argmax(1).cpu().numpy()
            true = batch["labels"].numpy()
            np.add.at(total, true, 1)
            np.add.at(correct, true, pred == true)
    with np.errstate(invalid="ignore"):
        return correct / total


def _load_pretrained_weights(backbone: torch.nn.Module, config: TrainConfig) -> None:
    """Copy the weights of ``config.init_backbone`` into ``backbone`` (same cutoff and architecture)."""
    from md_orderml.errors import InputError
    from md_orderml.nn.pretrained import load_pretrained_backbone

    pretrained, state = load_pretrained_backbone(config.init_backbone)
    settings = [{k: v for k, v in b.config.items() if k != "chunk"} for b in (pretrained, backbone)]
    if abs(float(state["cutoff"]) - float(config.cutoff)) > 1e-9 or settings[0] != settings[1]:
        raise InputError(f"{config.init_backbone}: pretrained backbone (cutoff {state['cutoff']}, "
                         f"{pretrained.config}) differs from the training run's (cutoff {config.cutoff}, {backbone.config})")
    backbone.load_state_dict(pretrained.state_dict())


class Trainer(CheckpointedRun):
    """Owns the model, optimiser, schedule and checkpoints of one run.

    Args:
        config: The run's settings.
        out_dir: Where checkpoints and the log go.
        device: ``"cpu"`` or ``"cuda"``.
    """

    def __init__(self, config: TrainConfig, out_dir, device: str = "cpu"):
        if UNKNOWN in config.class_names:
            raise InputError(f"{UNKNOWN!r} is not trained: leave it out of the classes {list(config.class_names)} "
                             "and switch the unknown rule on (--unknown-quantile 0.99)")
        self.unknown_record: Optional[Dict] = None
        torch.manual_seed(config.seed)
        backbone = build_backbone(config.cutoff, config.architecture)
        if config.init_backbone:
            _load_pretrained_weights(backbone, config)
        model = StructureLabeler(backbone, len(config.class_names), **labeler_length_unit(config))
        # set (and check) the export-time rule now, before any data is generated
        apply_isolated_crystal_rule(model, config.class_names, config.isolated_crystal_radius,
                                    config.isolated_crystal_neighbours)
        self._start(config, out_dir, model.to(device), device)

    def _restore(self, state: Dict) -> None:
        self.epoch, self.history = restore_training_state(state, self.model, self.optimizer)

    @classmethod
    def from_checkpoint(cls, path, device: str = "cpu") -> "Trainer":
        """The trainer of a checkpoint file (its settings, weights and progress).

        Args:
            path: A ``checkpoint.pt`` written by :meth:`save_checkpoint`.
            device: ``"cpu"`` or ``"cuda"``.
        """
        state = torch.load(path, map_location=device, weights_only=False)
        trainer = cls(TrainConfig(**state["config"]), Path(path).parent, device)
        trainer._restore(state)
        return trainer

    def _lr(self, step: int, total: int) -> float:
        warmup = max(1, total // 20)
        if step < warmup:
            return self.config.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return self.config.lr * 0.5 * (1.0 + np.cos(np.pi * progress)) + 1e-5

    def fit(self, train: Sequence[GraphSample], val: Sequence[GraphSample], progress: bool = True) -> None:
        """Train until ``config.epochs``, checkpointing after every epoch.

        Args:
            train: Training graphs.
            val: Validation graphs.
            progress: Show progress bars and per-epoch metrics.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        steps_per_epoch = int(np.ceil(len(train) / cfg.batch_size))
        total = steps_per_epoch * cfg.epochs
        loss_fn = torch.nn.CrossEntropyLoss()
        while self.epoch < cfg.epochs:
            rng = np.random.default_rng(cfg.seed + 1000 + self.epoch)
            self.model.train()
            losses = []
            start = time.time()
            bar = tqdm(batches(train, cfg.batch_size, rng), total=steps_per_epoch,
                       desc=f"epoch {self.epoch + 1}/{cfg.epochs}", disable=not progress, leave=False)
            for i, batch in enumerate(bar):
                for group in self.optimizer.param_groups:
                    group["lr"] = self._lr(self.epoch * steps_per_epoch + i, total)
                logits, _ = self.model.graph_forward(
                    batch["types"].to(self.device), batch["edge_index"].to(self.device),
                    batch["edge_vec"].to(self.device),
                )
                loss = loss_fn(logits, batch["labels"].to(self.device))
                optimizer_step(self.optimizer, loss, self.model.parameters())
                losses.append(loss.detach().item())
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            acc = per_class_accuracy(self.model, val, len(cfg.class_names), self.device)
            self.epoch += 1
            record = {
                "epoch": self.epoch,
                "loss": float(np.mean(losses)),
                "val_accuracy": {n: float(a) for n, a in zip(cfg.class_names, acc)},
                "seconds": time.time() - start,
            }
            self.history.append(record)
            self.save_checkpoint()
            if progress:
                accs = " ".join(f"{n}={a:.4f}" for n, a in zip(cfg.class_names, acc))
                print(f"epoch {self.epoch}: loss {record['loss']:.4f} val {accs} ({record['seconds']:.0f} s)", flush=True)

    def export(self, path, extra_training: Optional[Dict] = None) -> Path:
        """Save the trained model as a model file with its metadata.

        Args:
            path: Output model file.
            extra_training: More entries for the ``training`` metadata.

        Returns:
            The path written.
        """
        cfg = self.config
        training = {
            "kind": "supervised",
            "config": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "architecture"},
            "history": self.history[-1:] if self.history else [],
            "epochs": self.epoch,
        }
        training.update(extra_training or {})
        n_layers = int(self.model.backbone.config["n_layers"])
        if cfg.unknown_quantile > 0 and self.unknown_record is None:
            self.fit_unknown_rule(progress=False)
        names = list(cfg.class_names) + ([UNKNOWN] if cfg.unknown_quantile > 0 else [])
        rule = apply_isolated_crystal_rule(self.model, names, cfg.isolated_crystal_radius,
                                           cfg.isolated_crystal_neighbours)
        metadata = build_metadata(
            names, cfg.cutoff, n_layers,
            {"family": "equivariant-density", **self.model.backbone.config}, training,
            receptive_field=self.model.receptive_field(), length_unit=cfg.length_unit,
        )
        if rule:
            metadata[ISOLATED_CRYSTAL_RULE] = rule
        if cfg.unknown_quantile > 0:
            metadata[UNKNOWN_RULE] = self.unknown_record
        metadata[CLASS_INFO] = class_info_of(names)
        self.model.eval()
        return save_model(self.model.cpu(), json.loads(json.dumps(metadata)), path)

    def fit_unknown_rule(self, train_set: Optional[Sequence[GraphSample]] = None, progress: bool = True) -> Dict:
        """Fit the unknown rule on the training graphs and calibrate it on held-out ones (:meth:`export` does it
        when needed, regenerating the training graphs from the settings).

        Args:
            train_set: The run's training graphs (None: generated again, as :func:`train` made them).
            progress: Show progress bars.

        Returns:
            The rule's metadata record (:func:`md_orderml.training.calibration.fit_unknown_rule`).
        """
        self.unknown_record = fit_run_unknown_rule(self.model, self.config, train_set, progress, self.device)
        return self.unknown_record


def class_info_of(class_names: Sequence[str]) -> Dict:
    """The ``class_info`` metadata record: :func:`md_orderml.prototypes.class_info` by class name
    (``unknown``: role ``"unknown"``; names the library does not know are left out)."""
    from md_orderml.prototypes import class_info

    out = {}
    for name in class_names:
        if name == UNKNOWN:
            out[name] = {"name": name, "role": UNKNOWN, "description": "environments unlike the training data "
                         "(the unknown rule)"}
            continue
        try:
            out[name] = class_info(name)
        except InputError:
            pass
    return out


def labeler_length_unit(config: TrainConfig) -> Dict:
    """The :class:`StructureLabeler` arguments of the run's length unit.

    Returns:
        ``{"length_unit": ..., "vapour_class": ...}`` (the ``liquid`` class in local units).

    Raises:
        InputError: An unknown unit; a local unit without a ``liquid`` class.
    """
    unit = str(config.length_unit)
    names = list(config.class_names)
    if unit not in ("global", "local"):
        raise InputError(f"unknown length unit {unit!r}: 'global' or 'local'")
    if unit == "local" and "liquid" not in names:
        raise InputError(f"a local length unit labels capped vapour particles 'liquid', which is not a class {names}")
    return {"length_unit": unit, "vapour_class": names.index("liquid") if unit == "local" else -1}


def apply_isolated_crystal_rule(model: StructureLabeler, class_names: Sequence[str], radius: float,
                                min_neighbours: int) -> Optional[Dict]:
    """Set the isolated-crystal rule of a labeler; returns its metadata record (None when off).

    Args:
        model: The labeler to export.
        class_names: Its class names; the crystals are those in :data:`md_orderml.structures.CRYSTALS`
            and the prototypes of :mod:`md_orderml.prototypes`.
        radius: Dimensionless neighbour radius; 0 switches the rule off.
        min_neighbours: Crystal-labelled neighbours a crystal label needs.

    Returns:
        ``{"radius", "min_neighbours", "crystal_classes", "relabel"}`` or None.

    Raises:
        InputError: No ``liquid`` class, a radius beyond the cutoff or fewer than 1 neighbour.
    """
    names = list(class_names)
    crystals = [n for n in names if n in CRYSTALS or n in PROTOTYPES]
    if radius <= 0.0:
        model.isolation_radius = 0.0
        return None
    try:
        model.set_isolated_crystal_rule(names, crystals, radius, min_neighbours)
    except ValueError as err:
        raise InputError(str(err)) from None
    return {"radius": float(radius), "min_neighbours": int(min_neighbours), "crystal_classes": crystals,
            "relabel": "liquid"}


def train(config: TrainConfig, out_dir, model_path, resume: bool = False,
          device: str = "cpu", progress: bool = True) -> Path:
    """Generate data, train, and export a model file (``md-orderml train``).

    Args:
        config: Run settings.
        out_dir: Directory for checkpoints.
        model_path: The model file to write.
        resume: Continue from ``out_dir/checkpoint.pt`` when present.
        device: ``"cpu"`` or ``"cuda"``.
        progress: Show progress bars.

    Returns:
        The model file's path.
    """
    torch.manual_seed(config.seed)
    trainer = Trainer(config, out_dir, device)
    if resume and trainer.load_checkpoint() and progress:
        print(f"resumed from {trainer.checkpoint_path} at epoch {trainer.epoch}", flush=True)
    train_set = run_samples(config, config.per_class, config.noise_max, config.seed, progress)
    val_set = run_samples(config, config.val_per_class, config.noise_max, config.seed + VALIDATION_SEED, progress)
    trainer.fit(train_set, val_set, progress=progress)
    if config.unknown_quantile > 0:
        trainer.fit_unknown_rule(train_set, progress=progress)
    return trainer.export(model_path)
