"""Fitting and calibrating the ``unknown`` rule (:mod:`md_orderml.nn.unknown`) after training.

Two data sets, both generated like the training data (:func:`md_orderml.training.data.generate_samples`):

* **fit**: the training graphs. Class means ``mu_k`` of the embedding (true classes)
  and the covariance of each class, ``Sigma_k = (n_k S_k + D S) / (n_k + D)``: the class's
  own ``S_k`` shrunk towards the pooled within-class covariance ``S`` with ``D`` pseudo-
  particles (D = embedding width; this matters only for classes with few particles),
  plus a ridge ``ridge * trace(Sigma_k) / D`` on its diagonal. ``covariance="shared"``
  uses ``S`` for every class instead (Lee et al.'s form). A class's own covariance keeps
  a perfect lattice near its class: the noise that spreads a crystal's embeddings is
  different in every class, and one shared covariance mistook e.g. noiseless hexagonal
  diamond for an unknown environment.
* **calibration** (:func:`calibration_samples`): held-out structures of every class
  (seed of their own), crystals at the noise levels of :func:`calibration_noise_levels`
  (0, half and all of ``noise_max``, 7 % of the nearest-neighbour distance by default)
  with the training's length-scale jitter, one perfect lattice per class at the exact
  length scale, liquids (and thermal frames) as in training, and
  (:func:`extreme_perturbation_samples`) :data:`EXTREME_LATTICES` perfect lattices of every
  prototype class with each free Wyckoff parameter and c/a at one end of the training's
  perturbation range, or :data:`EXTREME_REACH` times it (+-2.2 % for the +-2 % of
  ``prototype_perturb``; random ends). A perfect perturbed
  lattice has one distance per Wyckoff orbit, so the few uniformly perturbed perfect
  lattices among the noise-0 structures rarely reached the far end of the range: the
  perfect beta_sn of the vocabulary model moves from squared distance 15 to 267 as c/a
  falls by 2 % (its threshold had been 152, and a benchmark lattice at -1.9 % was wholly
  ``unknown``). The distance is not
  monotonic in the noise: it grows with large noise, but a perfect lattice, the end of
  the range the training noise covers, can be farther from its class mean than a
  slightly noisy one (a neighbour shell of the perfect lattice close to the cutoff: the
  perfect hexagonal diamond of the seven-class model moves from squared distance 50 to
  234 between 0.98 and 1.0 times its length scale). So the threshold ``t_k`` of class ``k`` is
  the largest, over the noise levels, ``quantile`` (0.99: at most 1 % become
  ``unknown``) of the squared distances ``d_k`` of the calibration particles the head
  assigns to ``k`` at that level (levels with fewer than
  :data:`MIN_CALIBRATION_PARTICLES` such particles are left out; a class with none
  falls back to the particles of true class ``k``). The liquid class takes the larger
  :data:`LIQUID_QUANTILE`: liquids span state points and potentials beyond the training
  liquids (LJ liquids at densities 0.70-0.80, below the training's 0.80-1.08, had 2-5 %
  of their particles above the 0.99 quantile with the seven-class model's embedding,
  about 1 % above the 0.999 one, while an ideal gas stayed above it).

The record returned by :func:`fit_unknown_rule` goes into the model file's metadata as
``unknown_rule`` (:data:`md_orderml.keys.UNKNOWN_RULE`).
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from md_orderml import keys
from md_orderml.nn.labeler import StructureLabeler
from md_orderml.training.class_gaussians import DEFAULT_RIDGE, embeddings_and_predictions, fit_class_gaussians
from md_orderml.training.data import GraphSample, generate_samples

#: Fewest calibration particles assigned to a class for its own quantile.
MIN_CALIBRATION_PARTICLES = 50
#: Quantile of the liquid class: 1 in 1000 held-out liquid particles become ``unknown``.
LIQUID_QUANTILE = 0.999
#: Perfect lattices per prototype class at the ends of the perturbation range in the calibration set.
EXTREME_LATTICES = 8
#: Their perturbation in units of the training's: a little beyond its ends, so that a lattice at an end
#: is not at the threshold itself (all its particles of one orbit share one distance).
EXTREME_REACH = 1.1


class ExtremeDraws(np.random.Generator):
    """A generator whose scalar uniform draws are one end of their interval, either end at random.

    :func:`md_orderml.prototype_table.conventional_cell` draws the relative change ``u`` of
    every free Wyckoff parameter and of c/a as ``rng.uniform(-1, 1)``; with this generator
    each is -1 or +1, the edge of the perturbation range. Every other draw (array-valued
    uniform, normal, integers: noise, rotation) is that of a plain generator.
    """

    def uniform(self, low=0.0, high=1.0, size=None):
        """``low`` or ``high`` (equal odds) for scalar arguments, else a plain uniform draw."""
        if size is None and np.ndim(low) == 0 and np.ndim(high) == 0:
            return low if self.integers(2) == 0 else high
        return super().uniform(low, high, size)


def calibration_noise_levels(noise_max: float) -> Tuple[float, ...]:
    """The crystal noise levels of the calibration set: ``(0, noise_max / 2, noise_max)``."""
    return (0.0, 0.5 * float(noise_max), float(noise_max))


def calibration_samples(class_names: Sequence[str], per_class: int, noise_max: float, cutoff: float, seed: int,
                        progress: bool = False, **settings) -> List[GraphSample]:
    """The calibration set (see the module docstring).

    Args:
        class_names: The classes, in the model's order.
        per_class: Structures per class at the noise levels (the levels in turn).
        noise_max: The largest noise level.
        cutoff: The model's cutoff.
        seed: Seed of the set (not the training's).
        progress: Show progress bars.
        **settings: More arguments of :func:`~md_orderml.training.data.generate_samples`
            (thermal fraction, length unit, prototype perturbation).

    Returns:
        ``per_class + 1`` graphs per class and :data:`EXTREME_LATTICES` more per prototype class
        (with ``prototype_perturb`` > 0); ``noise`` of each is its crystal noise (0 for liquids).
    """
    levels = calibration_noise_levels(noise_max)
    noisy = generate_samples(class_names, per_class, cutoff, noise_max, seed, progress=progress,
                             noise_levels=levels, **settings)
    perfect = generate_samples(class_names, 1, cutoff, 0.0, seed + 1, jitter=0.0, progress=progress,
                               noise_levels=(0.0,), **settings)
    extreme = extreme_perturbation_samples(class_names, EXTREME_LATTICES,
                                           EXTREME_REACH * float(settings.get("prototype_perturb", 0.0)), cutoff,
                                           seed + 2, settings.get("length_unit", "global"))
    return noisy + perfect + extreme


def extreme_perturbation_samples(class_names: Sequence[str], per_class: int, perturb: float, cutoff: float, seed: int,
                                 length_unit: str = "global") -> List[GraphSample]:
    """Perfect lattices of the prototype classes at the ends of their perturbation range.

    Each free Wyckoff parameter and c/a of each lattice is changed by ``+perturb`` or
    ``-perturb`` (:class:`ExtremeDraws`, random ends; see
    :func:`md_orderml.prototype_table.conventional_cell`), random orientation and size as in
    training, exact length scale, noise 0.

    Args:
        class_names: The classes, in the model's order (those not in
            :data:`md_orderml.prototype_table.PROTOTYPES` get none).
        per_class: Lattices per prototype class.
        perturb: The training's ``prototype_perturb`` (0: no lattices).
        cutoff: The model's cutoff.
        seed: Seed of the lattices.
        length_unit: The model's length unit, ``"global"`` or ``"local"``.

    Returns:
        ``per_class`` graphs per prototype class, ``noise`` 0, labels its index in ``class_names``.
    """
    from md_orderml import structures
    from md_orderml.prototype_table import PROTOTYPES
    from md_orderml.training.data import structure_to_graph

    rng = np.random.default_rng(seed)
    samples = []
    for k, name in enumerate(class_names):
        if name not in PROTOTYPES or perturb <= 0:
            continue
        for _ in range(per_class):  # sizes as make_crystal's; the structure's own draws are extreme
            structure = structures.crystal(name, nn_distance=1.0, min_width=float(rng.uniform(4.5, 6.0)),
                                           rotation="random", perturb=perturb,
                                           seed=ExtremeDraws(np.random.PCG64(int(rng.integers(2**31)))))
            samples.append(structure_to_graph(structure, k, cutoff, length_unit=length_unit))
    return samples


def particle_noise(samples: Sequence[GraphSample]) -> np.ndarray:
    """The noise level of each particle's structure, shape (N,) for the N particles of ``samples``."""
    return np.repeat([float(s.noise) for s in samples], [s.n for s in samples])


def squared_distances(embedding: np.ndarray, label: np.ndarray, means: np.ndarray,
                      whitening: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each row to the mean of its class, shape (N,).

    Args:
        embedding: Embeddings, shape (N, D).
        label: Class of each row, shape (N,).
        means: Class means, shape (K, D).
        whitening: Per-class whitening matrices, shape (K, D, D).
    """
    out = np.zeros(len(label))
    for k in np.unique(label):
        rows = label == k
        out[rows] = (((embedding[rows] - means[k]) @ whitening[k]) ** 2).sum(axis=1)
    return out


def calibrate_thresholds(distances: np.ndarray, predicted: np.ndarray, true: np.ndarray, noise: np.ndarray,
                         quantiles: np.ndarray) -> np.ndarray:
    """Per-class thresholds: the largest over noise levels of the ``quantile`` of the distances of the
    particles assigned to each class (see the module docstring).

    Args:
        distances: Squared distance of each calibration particle to its predicted class, shape (N,).
        predicted: The head's class, shape (N,).
        true: The true class, shape (N,).
        noise: The noise level of each particle's structure, shape (N,).
        quantiles: The quantile of each class, in (0, 1], e.g. 0.99, shape (K,).

    Returns:
        Thresholds, shape (K,) (``inf`` for a class without any calibration particle).
    """
    thresholds = np.full(len(quantiles), np.inf)
    for k, quantile in enumerate(quantiles):
        assigned = predicted == k
        levels = [distances[assigned & (noise == level)] for level in np.unique(noise[assigned])]
        values = [np.quantile(d, quantile) for d in levels if len(d) >= MIN_CALIBRATION_PARTICLES]
        if not values:
            chosen = distances[assigned | (true == k)]
            values = [np.quantile(chosen, quantile)] if len(chosen) else []
        if values:
            thresholds[k] = float(max(values))
    return thresholds


def fit_unknown_rule(model: StructureLabeler, class_names: Sequence[str], fit_samples: Sequence[GraphSample],
                     calibration_samples: Sequence[GraphSample], quantile: float, noise_max: float,
                     ridge: float = DEFAULT_RIDGE, covariance: str = "per_class", liquid_quantile: float = LIQUID_QUANTILE,
                     device: str = "cpu", liquid_fallback_quantile: float = 0.0) -> Dict:
    """Fit the rule on ``fit_samples``, calibrate it on ``calibration_samples`` and switch it on.

    Args:
        model: The trained labeler (its head predicts ``class_names``).
        class_names: The head's K class names (without ``unknown``).
        fit_samples: Training graphs (means and covariance).
        calibration_samples: Held-out graphs of every class (thresholds).
        quantile: Fraction of calibration particles per class that keep their label, e.g. 0.99.
        noise_max: Crystal noise of the calibration set (recorded).
        ridge: Relative ridge of the covariances.
        covariance: ``"per_class"`` or ``"shared"`` (:func:`fit_class_gaussians`).
        liquid_quantile: The quantile of the class ``liquid`` (the others: ``quantile``).
        device: Where to run the model.
        liquid_fallback_quantile: > 0: fit and calibrate the rule's liquid fallback with this
            quantile too (:func:`md_orderml.training.liquid_fallback.fit_liquid_fallback`, record
            ``liquid_fallback``; LAMMPS liquids); 0: off.

    Returns:
        The metadata record: ``method``, ``covariance``, ``ridge``, ``quantile``,
        ``liquid_quantile``, ``thresholds`` by class name, ``calibration`` (largest noise, particles, unknown
        fraction per true class and per noise level); ``relabel`` is ``"unknown"``; with the model's
        unknown average on, ``embedding_average`` (``radius``, ``taper``); with its rescue on,
        ``rescue`` (``radius``, ``passes``, ``min_fraction`` by class name; classes left out are never given back). Thresholds of classes
        without calibration particles are ``None`` (never unknown).
    """
    names = list(class_names)
    if not (0.0 < quantile <= 1.0 and 0.0 < liquid_quantile <= 1.0):
        raise ValueError(f"the unknown rule's quantiles must be in (0, 1], got {quantile}, {liquid_quantile}")
    fit_embedding, _, fit_true = embeddings_and_predictions(model, fit_samples, device)
    means, whitening = fit_class_gaussians(fit_embedding, fit_true, len(names), ridge, covariance)
    embedding, predicted, true = embeddings_and_predictions(model, calibration_samples, device)
    record, _ = calibrate_rule(model, names, means, whitening, embedding, predicted, true,
                               particle_noise(calibration_samples), quantile, noise_max, ridge, covariance,
                               liquid_quantile)
    if liquid_fallback_quantile > 0:
        from md_orderml.training.liquid_fallback import fit_liquid_fallback

        record["liquid_fallback"] = fit_liquid_fallback(model, names, fit_embedding, fit_true, embedding, true,
                                                        liquid_fallback_quantile, ridge, covariance, device)
    return record


def calibrate_rule(model: StructureLabeler, names: Sequence[str], means: np.ndarray, whitening: np.ndarray,
                   embedding: np.ndarray, predicted: np.ndarray, true: np.ndarray, noise: np.ndarray,
                   quantile: float, noise_max: float, ridge: float = DEFAULT_RIDGE, covariance: str = "per_class",
                   liquid_quantile: float = LIQUID_QUANTILE) -> Tuple[Dict, np.ndarray]:
    """Calibrate the thresholds of fitted class Gaussians, switch the rule on in ``model`` and record it.

    Shared by :func:`fit_unknown_rule` and ``md-orderml train --reference``
    (:mod:`md_orderml.training.reference_training`, whose graphs are partly unlabelled).

    Args:
        model: The labeler.
        names: The head's K class names.
        means: Class means, shape (K, D); whitening: shape (K, D, D) (:func:`fit_class_gaussians`).
        whitening: See ``means``.
        embedding: Embeddings of the M calibration particles, shape (M, D).
        predicted: Their head's class, shape (M,).
        true: Their true class, shape (M,).
        noise: Their structure's crystal noise, shape (M,).
        quantile: Fraction of calibration particles per class that keep their label.
        noise_max: Crystal noise of the calibration set (recorded).
        ridge: The covariances' ridge (recorded).
        covariance: ``"per_class"`` or ``"shared"`` (recorded).
        liquid_quantile: The quantile of the class ``liquid``.

    Returns:
        ``(record, unknown (M,) bool)``: the metadata record (see :func:`fit_unknown_rule`) and
        which calibration particles the rule relabels.
    """
    quantiles = np.array([liquid_quantile if n == "liquid" else quantile for n in names])
    distances = squared_distances(embedding, predicted, means, whitening)
    thresholds = calibrate_thresholds(distances, predicted, true, noise, quantiles)
    unknown = distances > thresholds[predicted]
    fraction = {n: float(unknown[true == k].mean()) for k, n in enumerate(names) if (true == k).any()}
    by_level = {f"{level:g}": float(unknown[noise == level].mean()) for level in np.unique(noise)}
    model.set_unknown_rule(torch.as_tensor(means, dtype=torch.float32), torch.as_tensor(whitening, dtype=torch.float32),
                           torch.as_tensor(thresholds, dtype=torch.float32))
    average = {"embedding_average": {"radius": model.unknown_average_radius, "taper": model.unknown_average_taper}
               } if model.unknown_average_radius > 0 else {}
    if model.rescue_passes > 0:
        average["rescue"] = {"radius": model.rescue_radius, "passes": model.rescue_passes,
                             "min_fraction": {n: f for n, f in zip(names, model.rescue_fractions.tolist()) if f <= 1}}
    return {
        **average,
        "method": "mahalanobis",
        "covariance": covariance,
        "ridge": float(ridge),
        "quantile": float(quantile),
        "liquid_quantile": float(liquid_quantile),
        "thresholds": {n: (float(t) if np.isfinite(t) else None) for n, t in zip(names, thresholds)},
        "calibration": {"noise_max": float(noise_max), "particles": int(len(true)), "unknown_fraction": fraction,
                        "unknown_fraction_by_noise": by_level},
        "relabel": keys.UNKNOWN,
    }, unknown
