"""The generated graphs of a training run: training, validation and calibration sets from its settings.

Shared by :mod:`md_orderml.training.trainer` and :mod:`md_orderml.training.recalibration`,
so a model file's unknown rule can be fitted again on exactly the data it was trained on.
"""

from __future__ import annotations

from typing import Dict, List

from md_orderml.training.data import GraphSample, generate_samples


#: Seed offsets of the validation and calibration sets from the run's seed.
VALIDATION_SEED, CALIBRATION_SEED = 7919, 104729


def run_samples(config, per_class: int, noise_max: float, seed: int,
                progress: bool = False) -> List[GraphSample]:
    """``per_class`` labelled graphs of every class of a run, crystal noise up to ``noise_max``
    (:func:`~md_orderml.training.data.generate_samples` with :func:`sample_settings`)."""
    return generate_samples(config.class_names, per_class, config.cutoff, noise_max, seed, progress=progress,
                            **sample_settings(config))


def sample_settings(config) -> Dict:
    """The run's keyword arguments of :func:`~md_orderml.training.data.generate_samples` beyond classes and sizes."""
    return {"thermal_fraction": config.thermal_fraction, "length_unit": config.length_unit,
            "prototype_perturb": config.prototype_perturb}
