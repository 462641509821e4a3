"""Fitting a run's ``unknown`` rule, at the end of training or again on a finished model file.

:func:`fit_run_unknown_rule` is the last step of ``md-orderml train``;
:func:`recalibrate_unknown` (``md-orderml calibrate-unknown``) runs it on the weights of a
model file with a preset's settings, so a new form of the rule (the neighbour-averaged
embedding, :meth:`~md_orderml.nn.labeler.StructureLabeler.set_unknown_average`) reaches a
shipped model without retraining it: the backbone and head, and so every label that is
not ``unknown``, stay as they were.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Dict, Optional, Sequence

from md_orderml.training.data import GraphSample
from md_orderml.training.run_data import CALIBRATION_SEED, run_samples, sample_settings


UNKNOWN_AVERAGE_TAPER = 0.5  #: taper of the unknown rule's neighbour average (``unknown_average_radius`` > 0)


def fit_run_unknown_rule(model, cfg,
                         train_set: Optional[Sequence[GraphSample]] = None, progress: bool = False,
                         device: str = "cpu") -> Dict:
    """Fit and calibrate the unknown rule of a run's model.

    Args:
        model: The trained labeler (its unknown average and rescue are set from ``cfg`` here).
        cfg: The run's settings (classes, samples, quantile, calibration, average radius).
        train_set: The run's training graphs (None: generated again from ``cfg``).
        progress: Show progress bars.
        device: Where to run the model.

    Returns:
        The rule's metadata record (:func:`md_orderml.training.calibration.fit_unknown_rule`).
    """
    from md_orderml.training.calibration import calibration_samples, fit_unknown_rule

    radius = float(cfg.unknown_average_radius)
    model.set_unknown_average(radius, min(UNKNOWN_AVERAGE_TAPER, radius))
    model.set_unknown_rescue(cfg.unknown_rescue_radius, cfg.unknown_rescue_passes,
                             [cfg.unknown_rescue_liquid_fraction if name == "liquid" else cfg.unknown_rescue_fraction
                              for name in cfg.class_names])
    if train_set is None:
        train_set = run_samples(cfg, cfg.per_class, cfg.noise_max, cfg.seed, progress)
    calibration = calibration_samples(cfg.class_names, cfg.calibration_per_class, cfg.calibration_noise_max,
                                      cfg.cutoff, cfg.seed + CALIBRATION_SEED, progress, **sample_settings(cfg))
    return fit_unknown_rule(model, cfg.class_names, train_set, calibration, cfg.unknown_quantile,
                            cfg.calibration_noise_max, device=device,
                            liquid_fallback_quantile=float(getattr(cfg, "liquid_fallback_quantile", 0.0)))


def recalibrate_unknown(model, cfg, output, progress: bool = False) -> Path:
    """Fit a model file's unknown rule again with the settings ``cfg`` and write the result.

    Args:
        model: The model file (a path, ``"default"``, ``"classic"``); it needs a weights record.
        cfg: The settings of the run that trained it (a preset), with the rule's new settings
            (``unknown_quantile`` > 0, ``unknown_average_radius``).
        output: The model file to write (may be ``model`` itself; written atomically).
        progress: Show progress bars.

    Returns:
        The path written.

    Raises:
        InputError: A file without weights record or unknown rule, or classes other than ``cfg``'s.
    """
    from md_orderml import keys
    from md_orderml.errors import InputError
    from md_orderml.model_file import read_metadata, resolve_model_path, save_model
    from md_orderml.model_weights import rebuild_labeler, stored_weights
    from md_orderml.nn.unknown import unknown_rule_names
    from md_orderml.training.calibration import EXTREME_LATTICES, EXTREME_REACH

    path = resolve_model_path(model)
    metadata = read_metadata(path)
    with zipfile.ZipFile(path) as archive:
        tensors = stored_weights(archive.namelist(), archive.read, str(path))
    if tensors is None or not metadata.get(keys.UNKNOWN_RULE):
        raise InputError(f"{path}: recalibrating needs a model file with a weights record and an unknown rule")
    names = unknown_rule_names(list(metadata["class_names"]))
    if list(names) != list(cfg.class_names) or cfg.unknown_quantile <= 0:
        raise InputError(f"{path}: its classes {names} are not the preset's {list(cfg.class_names)} "
                         "(or the preset has no unknown rule)")
    labeler = rebuild_labeler(metadata, tensors, str(path))
    record = fit_run_unknown_rule(labeler, cfg, progress=progress)
    metadata = json.loads(json.dumps(metadata))
    metadata[keys.UNKNOWN_RULE] = record
    metadata["receptive_field"] = labeler.receptive_field()
    metadata.setdefault("training", {})["unknown_rule_recalibrated"] = {
        "unknown_average_radius": cfg.unknown_average_radius, "unknown_rescue_passes": cfg.unknown_rescue_passes,
        "unknown_quantile": cfg.unknown_quantile,
        "liquid_fallback_quantile": float(getattr(cfg, "liquid_fallback_quantile", 0.0)),
        "calibration_noise_max": cfg.calibration_noise_max,
        "calibration_extreme_lattices": EXTREME_LATTICES, "calibration_extreme_reach": EXTREME_REACH}
    return save_model(labeler.eval(), metadata, output)
