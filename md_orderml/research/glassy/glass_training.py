"""Train a glass-vs-liquid model either way: the logistic probe (default) or the end-to-end network.

Kept apart from :mod:`~md_orderml.research.glassy.glass_model` (the network, its CV loop and
the model file) and :mod:`~md_orderml.research.glassy.glass_probe` (the probe), which it chooses
between, so neither imports the other's caller.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from md_orderml.research.glassy import glass_probe
from md_orderml.research.glassy.glass_model import (CUTOFF, GlassFit, cross_validated_scores, data_graphs,
                                                    export_glass_model, fit_glass_classifier)


@dataclasses.dataclass
class GlassTraining:
    """Result of :func:`train_glass_model`.

    Attributes:
        model_path: The model file written.
        cv_scores: Out-of-fold configuration scores by readout (``mean_log_odds``,
            ``glass_fraction``), shape (C,) each; empty when ``folds`` < 2.
        cv_auc: ROC AUC of each readout over the out-of-fold scores (NaN when no CV).
        labels: Configuration labels, shape (C,).
        seconds: Wall time of cross-validation and final training.
    """

    model_path: Path
    cv_scores: Dict[str, np.ndarray]
    cv_auc: Dict[str, float]
    labels: np.ndarray
    seconds: float


def train_glass_model(data, output, folds: int = 4, fit: GlassFit = GlassFit(), cutoff: float = CUTOFF,
                      architecture: Optional[Dict] = None, split_seed: int = 0,
                      progress: bool = False, method: str = "probe") -> GlassTraining:
    """Cross-validate, then fit on every configuration and export a 2D model file.

    Args:
        data: A :class:`~md_orderml.research.glassy.glass2d.Glass2DData`.
        output: Model file to write.
        folds: Stratified folds of the cross-validation (< 2: none, AUCs are NaN).
        fit: Optimisation settings of the network (fold f uses seed ``fit.seed + f``); for
            the probe only ``fit.seed`` (backbone initialisation and inner splits).
        cutoff: Dimensionless cutoff.
        architecture: Backbone settings (default :data:`GLASS2D_ARCHITECTURE`).
        split_seed: Seed of the fold assignment.
        progress: Print progress lines.
        method: ``"probe"``: logistic probe on the frozen backbone
            (:mod:`md_orderml.research.glassy.glass_probe`, seconds); ``"network"``: the network
            trained end to end (:func:`fit_glass_classifier`).

    Returns:
        A :class:`GlassTraining`.

    Raises:
        InputError: A class with fewer configurations than folds, or an unknown method.
    """
    from md_orderml.errors import InputError
    from md_orderml.research.probes import roc_auc, stratified_folds

    start = time.time()
    if method not in ("probe", "network"):
        raise InputError(f"unknown glass classifier method {method!r}: use 'probe' or 'network'")
    labels = np.asarray(data.labels, np.int64)
    if folds >= 2 and np.bincount(labels, minlength=2).min() < folds:
        raise InputError(f"{folds} folds need at least {folds} configurations per class, got "
                         f"{np.bincount(labels, minlength=2).tolist()}")
    graphs = data_graphs(data, cutoff)
    pooled = None  # the probe's frozen-backbone embeddings, computed once for CV and the final fit
    if method == "probe":
        pooled = glass_probe.pooled_embeddings(glass_probe.frozen_backbone_model(fit.seed, cutoff, architecture),
                                               graphs)
    scores: Dict[str, np.ndarray] = {}
    auc = {"mean_log_odds": float("nan"), "glass_fraction": float("nan")}
    if folds >= 2:
        split = stratified_folds(labels, folds, np.random.default_rng(split_seed))
        if method == "probe":
            scores = glass_probe.cross_validated_probe_scores(graphs, labels, split, fit.seed, cutoff, architecture,
                                                              progress, pooled)
        else:
            scores = cross_validated_scores(graphs, labels, split, fit, cutoff, architecture, progress)
        auc = {k: roc_auc(v, labels) for k, v in scores.items()}
    if progress:
        print(f"  final model on all {len(labels)} configurations", flush=True)
    meta = data.meta if isinstance(data.meta, dict) else {}
    if method == "probe":
        model = glass_probe.fit_probe_classifier(graphs, labels, fit.seed, cutoff, architecture, pooled)
        training = {"method": "probe", "seed": fit.seed}
    else:
        model = fit_glass_classifier(graphs, labels, fit, cutoff, architecture)
        training = {"method": "network", "epochs": fit.epochs, "batch": fit.batch, "lr": fit.lr,
                    "weight_decay": fit.weight_decay, "seed": fit.seed, "particle_weight": fit.particle_weight}
    training = {**training,
                "configurations": {"liquid": int((labels == 0).sum()), "glass": int((labels == 1).sum())},
                "particles": int(data.positions.shape[1]), "cv_folds": int(folds),
                "cv_auc": {k: None if np.isnan(v) else float(v) for k, v in auc.items()},
                "data": {"config": meta.get("config"), "quench_tau": meta.get("quench_tau")}}
    path = export_glass_model(model, output, training)
    return GlassTraining(path, scores, auc, labels, time.time() - start)
