"""Propensity models as model files: train from the cached Kob-Andersen data, checkpoint, export.

A trained :class:`~md_orderml.research.glassy.propensity.PropensityRegressor` becomes one model
file (``task: "regression"``) through :class:`~md_orderml.nn.regressor.StructureRegressor`,
so ``md-orderml label``, the LAMMPS Python compute and the HOOMD analyzer run it like a
classifier. Conventions of the file:

* ``type_names = ["A", "B"]`` (model type 0 = A, 1 = B). LAMMPS types are ``"1"``/``"2"``
  and need ``type_map={"1": "A", "2": "B"}`` (``--type-map '{"1": "A", "2": "B"}'``).
* ``value_names``: ``propensity_<f>_tau_alpha`` with ``f`` the fraction of the structural
  relaxation time, ``.`` written as ``p`` (``propensity_0p5_tau_alpha``).
* ``value_info``: the values are the propensity (iso-configurational mean squared
  displacement) divided by its mean over the A particles of the training data; ``scale``
  (per value, in squared length units of the training data) turns them back into MSDs,
  ``times`` and ``tau_alpha`` (LJ time) say which time scales they are.

Command line: ``md-orderml research train-propensity -o propensity.pt`` (see
:mod:`md_orderml.research.cli.train_propensity_command`), ``md-orderml research export-propensity CHECKPOINT -o FILE``
for a checkpoint written by it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from md_orderml.errors import ModelFileError
from md_orderml.research.glassy.propensity import GLASSY_ARCHITECTURE, PropensityRegressor

#: Model type names of Kob-Andersen propensity models (index = model type).
KA_TYPE_NAMES = ("A", "B")
#: LAMMPS / dump type ids of the KA mixture as written by :func:`md_orderml.research.glassy.data.ka_lammps`.
KA_TYPE_MAP = {"1": "A", "2": "B"}
#: Marker of a propensity checkpoint (``torch.save`` dictionary).
CHECKPOINT_KIND = "md_orderml-propensity-checkpoint"


def value_names_for(fractions: Sequence[float]) -> List[str]:
    """``propensity_<f>_tau_alpha`` names (``.`` -> ``p``) for fractions of tau_alpha, e.g. 0.5."""
    return [f"propensity_{float(f):g}_tau_alpha".replace(".", "p").replace("-", "m") for f in fractions]


def export_propensity_model(model: PropensityRegressor, path, value_names: Sequence[str],
                            value_info: Optional[Dict] = None, training: Optional[Dict] = None,
                            type_names: Sequence[str] = KA_TYPE_NAMES) -> Path:
    """Write a trained regressor as a regression model file.

    Args:
        model: The trained regressor, plain or hybrid
            (:class:`~md_orderml.research.glassy.expert_torch.HybridPropensityRegressor`; its
            cutoff, receptive field and backbone config are recorded).
        path: Output model file (``.pt``).
        value_names: Name of each of the S outputs (identifiers).
        value_info: What the values mean (JSON-serialisable), stored as ``value_info``.
        training: Summary of the training (JSON-serialisable).
        type_names: Model type names, index = model type (default ``["A", "B"]``).

    Returns:
        The path written.

    Raises:
        ModelFileError: Value names that are not identifiers, or a count that does not
            match the head's outputs.
    """
    import json

    from md_orderml.model_file import build_metadata, save_model
    from md_orderml.nn.regressor import StructureRegressor

    wrapper = StructureRegressor.from_propensity(model)
    if len(value_names) != wrapper.n_values:
        raise ModelFileError(f"{len(value_names)} value names for a model with {wrapper.n_values} outputs")
    network = getattr(model, "network", model)
    config = dict(network.backbone.config)
    if len(type_names) != int(config.get("n_types", 1)):
        raise ModelFileError(f"{len(type_names)} type names for a backbone with {config.get('n_types')} types")
    architecture = {"family": "equivariant-density", **config}
    receptive = None
    if network is not model:  # hybrid: the descriptors' graph may reach farther than the network's
        receptive = model.receptive_field
        architecture["expert_features"] = {"cutoff": model.features.cutoff, "unit": model.features.unit,
                                           "network_cutoff": model.network_cutoff}
    metadata = build_metadata(
        [], float(model.cutoff), int(config["n_layers"]), architecture,
        dict(training or {"kind": "propensity-regression"}), type_names=list(type_names),
        value_names=list(value_names), value_info=value_info, receptive_field=receptive,
    )
    model.eval()
    return save_model(wrapper.cpu().eval(), json.loads(json.dumps(metadata)), path)


def save_checkpoint(model, path, value_names: Sequence[str], value_info: Optional[Dict] = None,
                    training: Optional[Dict] = None, head_hidden: int = 64) -> Path:
    """Save the weights (plain or hybrid regressor) and what :func:`export_checkpoint` needs (``torch.save``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = getattr(model, "network", model)
    hybrid = {"unit": float(model.features.unit)} if network is not model else None
    torch.save({"kind": CHECKPOINT_KIND, "state_dict": model.state_dict(), "cutoff": float(network.backbone.cutoff),
                "architecture": dict(network.backbone.config), "n_outputs": len(value_names),
                "head_hidden": int(head_hidden), "value_names": list(value_names), "hybrid": hybrid,
                "value_info": dict(value_info or {}), "training": dict(training or {})}, path)
    return path


def is_propensity_checkpoint(path) -> bool:
    """Whether ``path`` is a checkpoint written by :func:`save_checkpoint`."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(ckpt, dict) and ckpt.get("kind") == CHECKPOINT_KIND


def export_checkpoint(checkpoint, path) -> Path:
    """Export a :func:`save_checkpoint` file as a regression model file.

    Raises:
        ModelFileError: Not a propensity checkpoint.
    """
    try:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelFileError(f"{checkpoint}: not a propensity checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise ModelFileError(f"{checkpoint}: not a propensity checkpoint")
    model = PropensityRegressor(ckpt["cutoff"], ckpt["n_outputs"], ckpt["architecture"], ckpt["head_hidden"])
    if ckpt.get("hybrid"):
        from md_orderml.research.glassy.expert_torch import ExpertFeatures, HybridPropensityRegressor

        features = ExpertFeatures(ckpt["hybrid"]["unit"], n_types=int(ckpt["architecture"].get("n_types", 1)))
        model = HybridPropensityRegressor(model, features)
    model.load_state_dict(ckpt["state_dict"])
    return export_propensity_model(model, path, ckpt["value_names"], ckpt["value_info"], ckpt["training"])


@dataclasses.dataclass
class PropensityTraining:
    """Result of :func:`train_propensity_model`.

    Attributes:
        model_path: The model file written.
        checkpoint: The checkpoint written (or None).
        value_names: Names of the S values.
        pearson: Held-out Pearson correlation per value over the A particles, shape (S,)
            (NaN when no configuration was held out).
        best_epoch: Epoch whose weights were kept.
        seconds: Training wall time.
    """

    model_path: Path
    checkpoint: Optional[Path]
    value_names: List[str]
    pearson: np.ndarray
    best_epoch: int
    seconds: float


def train_propensity_model(data, output, fractions: Sequence[float] = (0.1, 0.5, 1.0), epochs: int = 100,
                           test: int = 1, cutoff: float = 2.0, architecture: Optional[Dict] = None, seed: int = 0,
                           checkpoint=None, progress: bool = False, expert: bool = True) -> PropensityTraining:
    """Train a propensity regressor on iso-configurational data and write a model file.

    Split (as in ``benchmarks/glassy.py``): the last ``test`` configurations are held out,
    the one before them picks the epoch (validation), the rest train. Targets: the
    propensity at the grid times nearest to ``fractions`` x tau_alpha, each divided by its
    mean over the training A particles. Loss and calibration: the defaults of
    :class:`~md_orderml.research.glassy.propensity.FitConfig` (``1 - Pearson`` + 0.1 x MSE on A and
    B particles, then an affine calibration of each output on the training particles, so
    the values stay propensity / mean), as in the benchmark; one network (the benchmark
    also reports the mean over seeds and a seed ensemble, which a model file does not hold).
    With ``expert`` (default) the file holds the hybrid of
    :func:`~md_orderml.research.glassy.expert_torch.build_hybrid`: the network blended with a ridge
    on Boattini-style descriptors computed inside the model.

    Args:
        data: A :class:`~md_orderml.research.glassy.data.GlassyData` (e.g. from ``load_or_generate``).
        output: Model file to write.
        fractions: Time scales in units of tau_alpha (one output each).
        epochs: Training epochs.
        test: Held-out configurations (0: none; scores are then NaN).
        cutoff: Dimensionless cutoff (units of ``(V/N)^(1/3)``).
        architecture: Backbone settings (default :data:`GLASSY_ARCHITECTURE`).
        seed: Initialisation seed.
        checkpoint: Also save a checkpoint here (re-export with ``md-orderml research export-propensity``).
        progress: Print one line per epoch.
        expert: Blend the network with the in-model ridge on expert descriptors.

    Returns:
        A :class:`PropensityTraining`.

    Raises:
        InputError: Fewer than 2 configurations for training + validation.
    """
    from md_orderml.errors import InputError
    from md_orderml.research.glassy.data import time_indices
    from md_orderml.research.glassy.propensity import FitConfig, fit_regressor, make_graph, pearson, predict

    n_conf = data.positions.shape[0]
    if test < 0 or n_conf - test < 2:
        raise InputError(f"{n_conf} configurations: need at least 2 for training and validation besides "
                         f"{test} held out")
    idx = time_indices(data, fractions)
    train_ids, val_ids = list(range(n_conf - test - 1)), [n_conf - test - 1]
    test_ids = list(range(n_conf - test, n_conf))
    is_a = data.types == 0
    prop = data.propensity[:, idx, :].transpose(0, 2, 1)  # (C, N, S)
    scale = prop[train_ids][:, is_a].mean(axis=(0, 1))  # (S,)
    target = prop / scale
    arch = dict(architecture or GLASSY_ARCHITECTURE)
    graphs = [make_graph(data.positions[c], data.types, data.box_length, target[c], cutoff) for c in range(n_conf)]
    fit_config = FitConfig(epochs=epochs, seed=seed)
    fit = fit_regressor([graphs[c] for c in train_ids], [graphs[c] for c in val_ids], len(idx), cutoff, arch,
                        fit_config, progress=progress)
    model = fit["model"]
    hybrid_info = None
    if expert:
        from md_orderml.research.glassy.expert_torch import build_hybrid

        model, hybrid_info = build_hybrid(model, data.positions, data.types, data.box_length, target, train_ids, val_ids)
        graphs = {c: make_graph(data.positions[c], data.types, data.box_length, target[c], model.cutoff)
                  for c in test_ids}
    scores = np.full(len(idx), np.nan)
    if test_ids:
        pred = np.concatenate([predict(model, graphs[c])[is_a] for c in test_ids])
        true = np.concatenate([target[c][is_a] for c in test_ids])
        scores = np.array([pearson(pred[:, s], true[:, s]) for s in range(len(idx))])
    names = value_names_for(fractions)
    info = {"description": "propensity (iso-configurational mean squared displacement) divided by its mean "
                           "over the A particles of the training configurations",
            "scale": [float(s) for s in scale], "times": [float(data.times[i]) for i in idx],
            "tau_alpha_fractions": [float(f) for f in fractions], "tau_alpha": float(data.tau_alpha),
            "temperature": data.meta.get("config", {}).get("temperature") if isinstance(data.meta, dict) else None}
    training = {"kind": "propensity-regression", "epochs": int(epochs), "best_epoch": int(fit["best_epoch"]),
                "loss": fit_config.loss, "loss_types": [KA_TYPE_NAMES[t] for t in fit_config.loss_types],
                "configurations": {"train": len(train_ids), "validation": 1, "test": len(test_ids)},
                "test_pearson_A": [None if np.isnan(s) else float(s) for s in scores], "seed": int(seed),
                "expert_ridge": hybrid_info}
    ckpt_path = None
    if checkpoint is not None:
        ckpt_path = save_checkpoint(model, checkpoint, names, info, training)
    path = export_propensity_model(model, output, names, info, training)
    return PropensityTraining(path, ckpt_path, names, scores, int(fit["best_epoch"]), float(fit["seconds"]))
