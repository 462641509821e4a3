"""Prototype library benchmark (issue 21): per-class accuracy, held-out ``unknown``, PTM and a DC3-style baseline.

Every method labels the same frames, made with fresh seeds (9100 and up; the model's
training draws its structure seeds from its own generator, the DC3-style baseline below
trains on seeds 5100+ and calibrates on 7100+):

* **vocabulary crystals**: the six simple crystals (:data:`md_orderml.structures.CRYSTALS`)
  and the vocabulary prototypes (:data:`md_orderml.prototypes.VOCABULARY`; Wyckoff
  parameters and c/a perturbed by ``perturb=0.02``), random orientation, Gaussian noise
  sigma = 0, 3, 5, 7 % of the nearest-neighbour distance per coordinate; a particle is
  correct when labelled with its structure's own class name;
* **liquids**: Lennard-Jones liquids (:func:`md_orderml.structures.liquid`) at two state
  points, correct when labelled ``liquid``;
* **held-out structures**: the locally distinct ones (:data:`md_orderml.prototypes.HELD_OUT`
  less :data:`~md_orderml.prototypes.NEAR_TWINS`) and, separately, the near twins, at
  sigma = 0 and 3 %; the figure is the share labelled ``unknown``.

Methods:

* ``model``: ``OrderML(--model)``; everything goes by class NAME, so a model without a
  class (or without ``unknown``) gets ``n/a`` there, and the table shows what it says instead;
* ``PTM``: OVITO polyhedral template matching (:func:`md_orderml.baselines.ptm_labels`,
  RMSD cutoff 0.1). It can name fcc, bcc, hcp, sc, cd, hd (its accuracy is given there);
  on every other structure the table gives its ``other`` rate in brackets, its honest
  "unknown" (its ``ico`` is shown separately for the held-out structures; on liquids
  ``other`` and ``ico`` both count as correct);
* ``DC3``: a DC3-style baseline (after Chung, Freitas, Cheon & Reed, Phys. Rev. Materials 6,
  043801 (2022))
  trained here on the same library: per particle, freud Steinhardt q_l, l = 1..15, over
  the 4, 6, 8, 12, 14 and 16 nearest neighbours, plus the 16 nearest-neighbour distances
  sorted and divided by their mean (106 features, scale free); an MLP (106-128-128-C,
  torch) trained on crystals with noise uniform in 0-7 % (prototypes perturbed by 0.02)
  and LJ liquids at three state points. Its ``unknown`` (our rule, not DC3's own outlier step): a particle whose feature vector
  is too far from the training mean of its predicted class (Euclidean distance in that
  class's standardised features), with per-class thresholds calibrated like the model's
  rule: on validation structures at sigma = 0, 3.5 and 7 %, the 0.99 quantile of the
  particles predicted as the class (0.999 for the liquid), the largest over the levels,
  so that at most about 1 % of in-vocabulary validation particles become ``unknown``.
  A max-probability threshold calibrated the same way is reported too (``dc3_maxprob``).

    python benchmarks/prototypes.py [--model default] [--seeds 2] [--json OUT] [--quick]

Ends with one line ``RESULT key=value ...``: ``min_complex_acc_{0,3,7}pct`` (the model's
worst vocabulary prototype), ``simple_acc_7pct`` (worst simple crystal), ``heldout_unknown``
(the smallest ``unknown`` share over the locally distinct held-out structures and both
noise levels; ``heldout_unknown_mean`` pools them), ``near_twin_unknown``,
``vocab_unknown_7pct`` (the model's false ``unknown`` on vocabulary crystals at 7 %),
``liquid_acc`` (worst liquid), the same for ``ptm_*`` (``ptm_heldout_other``: smallest
``other`` share) and ``dc3_*``, and ``seconds``. Fractions; ``n/a`` where the model lacks
the class. About 3-4 minutes on 2 cores; ``--quick`` is a seconds-long smoke run (two
classes, one noise level, small crystals) used by the unit test.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from md_orderml import prototypes, structures

SIMPLE = tuple(structures.CRYSTALS)
COMPLEX = tuple(prototypes.VOCABULARY)
DISTINCT_HELD_OUT = tuple(h for h in prototypes.HELD_OUT if h not in prototypes.NEAR_TWINS)
NEAR_TWINS = tuple(h for h in prototypes.HELD_OUT if h in prototypes.NEAR_TWINS)
PTM_NAMEABLE = ("fcc", "bcc", "hcp", "sc", "cd", "hd")
UNKNOWN = "unknown"
TEST_SEED, TRAIN_SEED, VAL_SEED = 9100, 5100, 7100
STEINHARDT_L = tuple(range(1, 16))
STEINHARDT_K = (4, 6, 8, 12, 14, 16)
RADIAL_K = 16


@dataclasses.dataclass
class Config:
    """What the benchmark runs.

    Attributes:
        classes: Vocabulary crystals tested (simple ones and prototypes).
        noises: Noise levels of the vocabulary crystals (fraction of the nn distance).
        held_out: Locally distinct held-out structures.
        near_twins: Held-out near twins of vocabulary members.
        held_out_noises: Noise levels of the held-out structures.
        liquids: Test liquid state points ``(density, temperature)`` in LJ units.
        seeds: Frames per structure and noise level.
        min_width: Supercell width of the test crystals, in nn distances.
        liquid_n, liquid_steps: Particles and Langevin steps of each liquid.
        dc3_classes: Classes the DC3-style baseline is trained on.
        dc3_train: Training crystals per class.
        dc3_liquids: Training liquid state points.
        dc3_val: Validation crystals per class and noise level.
        dc3_val_liquids: Validation liquid state points.
        dc3_epochs: MLP training epochs.
        dc3_min_width: Range of the training crystals' widths (like the model's training).
    """

    classes: Tuple[str, ...] = SIMPLE + COMPLEX
    noises: Tuple[float, ...] = (0.0, 0.03, 0.05, 0.07)
    held_out: Tuple[str, ...] = DISTINCT_HELD_OUT
    near_twins: Tuple[str, ...] = NEAR_TWINS
    held_out_noises: Tuple[float, ...] = (0.0, 0.03)
    liquids: Tuple[Tuple[float, float], ...] = ((0.85, 1.0), (0.95, 1.5))
    seeds: int = 2
    min_width: float = 6.0
    liquid_n: int = 500
    liquid_steps: int = 2000
    dc3_classes: Tuple[str, ...] = SIMPLE + COMPLEX + ("liquid",)
    dc3_train: int = 8
    dc3_liquids: Tuple[Tuple[float, float], ...] = ((0.80, 1.2), (0.90, 1.0), (0.92, 1.8))
    dc3_val: int = 3
    dc3_val_liquids: Tuple[Tuple[float, float], ...] = ((0.88, 1.4),)
    dc3_epochs: int = 40
    dc3_min_width: Tuple[float, float] = (4.5, 6.0)


def quick_config() -> Config:
    """A seconds-long setting: fcc and a15, sigma = 3 %, small crystals, one small liquid."""
    return Config(classes=("fcc", "a15"), noises=(0.03,), held_out=("alpha_pa",), near_twins=(),
                  held_out_noises=(0.03,), liquids=((0.85, 1.0),), seeds=1, min_width=3.5, liquid_n=108,
                  liquid_steps=60, dc3_classes=("fcc", "a15", "liquid"), dc3_train=2, dc3_liquids=((0.85, 1.2),),
                  dc3_val=1, dc3_val_liquids=((0.88, 1.4),), dc3_epochs=15, dc3_min_width=(3.5, 4.0))


# ------------------------------------------------------------------ structures


def make_crystal(kind: str, noise: float, seed: int, min_width: float) -> structures.Structure:
    """One crystal in a random orientation; prototypes get their Wyckoff parameters and c/a perturbed by 2 %.

    Args:
        kind: A simple crystal or a prototype.
        noise: Gaussian noise per coordinate, fraction of the nn distance.
        seed: Seed of perturbation, noise and rotation.
        min_width: Supercell width in nn distances.

    Returns:
        The structure, positions (N, 3).
    """
    perturb = 0.02 if kind in prototypes.PROTOTYPES else 0.0
    return structures.crystal(kind, noise=noise, rotation="random", seed=seed, perturb=perturb, min_width=min_width)


def make_liquid(density: float, temperature: float, n: int, steps: int, seed: int) -> structures.Structure:
    """A Lennard-Jones liquid (:func:`md_orderml.structures.liquid`), positions (n, 3)."""
    return structures.liquid(n=n, density=density, temperature=temperature, steps=steps, seed=seed)


# ------------------------------------------------------------------ DC3-style baseline


def dc3_features(structure: structures.Structure) -> np.ndarray:
    """Steinhardt q_l (l = 1..15) over several nearest-neighbour counts plus sorted radial distances.

    Args:
        structure: A periodic configuration.

    Returns:
        Features, shape (N, 15 * len(STEINHARDT_K) + 16), float32; every one is scale free.
    """
    import freud

    frame = structure.to_frame()
    b = frame.box
    box = freud.box.Box(b.Lx, b.Ly, b.Lz, b.xy, b.xz, b.yz)
    frac = b.fractional(frame.positions)
    points = ((frac - np.floor(frac)) - 0.5) @ b.matrix
    query = freud.locality.AABBQuery(box, points)
    n = frame.N
    out = []
    for k in STEINHARDT_K:
        nlist = query.query(points, {"num_neighbors": k, "exclude_ii": True}).toNeighborList()
        st = freud.order.Steinhardt(list(STEINHARDT_L))
        st.compute((box, points), neighbors=nlist)
        out.append(np.asarray(st.particle_order, dtype=np.float64).reshape(n, len(STEINHARDT_L)))
        if k == RADIAL_K:
            order = np.lexsort((nlist.distances, nlist.query_point_indices))
            d = np.asarray(nlist.distances)[order].reshape(n, k)
            out.append(d / d.mean(axis=1, keepdims=True))
    return np.nan_to_num(np.concatenate(out, axis=1)).astype(np.float32)


class DC3Baseline:
    """An MLP on :func:`dc3_features` with a per-class distance rule for ``unknown``.

    Attributes:
        class_names: The classes, in output order (no ``unknown``).
        thresholds: Per class, the largest allowed distance to its training mean.
        prob_threshold: Smallest allowed max probability (the max-probability variant).
    """

    def __init__(self, class_names: Sequence[str], hidden: int = 128, seed: int = 0):
        """An untrained baseline.

        Args:
            class_names: Class names, in output order.
            hidden: Width of the two hidden layers.
            seed: Seed of the weights and the batches.
        """
        import torch

        self.class_names = list(class_names)
        self.seed = seed
        self.hidden = hidden
        self.net: Optional[torch.nn.Module] = None
        self.thresholds = np.full(len(class_names), np.inf)
        self.prob_threshold = 0.0

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int = 40, batch: int = 512) -> None:
        """Train the MLP (class-balanced loss) and record each class's feature mean and spread.

        Args:
            x: Features, shape (N, F).
            y: Class indices, shape (N,).
            epochs: Passes over the data.
            batch: Batch size.
        """
        import torch

        gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self.mean, self.std = x.mean(axis=0), x.std(axis=0) + 1e-6
        c = len(self.class_names)
        self.class_mean = np.stack([x[y == k].mean(axis=0) if np.any(y == k) else self.mean for k in range(c)])
        self.class_std = np.stack([x[y == k].std(axis=0) + 0.05 * self.std if np.any(y == k) else self.std
                                   for k in range(c)])
        xs = torch.from_numpy((x - self.mean) / self.std).float()
        ys = torch.from_numpy(y).long()
        f = x.shape[1]
        self.net = torch.nn.Sequential(torch.nn.Linear(f, self.hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(self.hidden, self.hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(self.hidden, c))
        counts = np.bincount(y, minlength=c).astype(np.float64)
        weight = torch.from_numpy(np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / c, 0.0)).float()
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        opt = torch.optim.Adam(self.net.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
        for _ in range(epochs):
            perm = torch.randperm(len(xs), generator=gen)
            for i in range(0, len(xs), batch):
                idx = perm[i:i + batch]
                opt.zero_grad()
                loss_fn(self.net(xs[idx]), ys[idx]).backward()
                opt.step()
            sched.step()
        self.net.eval()

    def scores(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted class, its probability and the distance to its class mean.

        Args:
            x: Features, shape (N, F).

        Returns:
            ``(index (N,), max probability (N,), distance (N,))``.
        """
        import torch

        with torch.no_grad():
            p = torch.softmax(self.net(torch.from_numpy((x - self.mean) / self.std).float()), dim=1).numpy()
        k = p.argmax(axis=1)
        dist = np.linalg.norm((x - self.class_mean[k]) / self.class_std[k], axis=1)
        return k, p.max(axis=1), dist

    def calibrate(self, levels: Sequence[Tuple[np.ndarray, np.ndarray]], quantile: float = 0.99,
                  liquid_quantile: float = 0.999, min_particles: int = 50) -> None:
        """Per-class distance thresholds and one max-probability threshold, as the model's rule.

        For each class and validation level: the ``quantile`` of the distances of the
        particles predicted as the class (``liquid_quantile`` for the liquid); the largest
        over the levels with at least ``min_particles`` such particles (all levels pooled
        if none has). The max-probability threshold is the smallest over the levels of the
        ``1 - quantile`` quantile of the max probability.

        Args:
            levels: ``(features (N, F), class indices (N,))`` per validation level.
            quantile: Share of in-vocabulary particles to keep.
            liquid_quantile: The liquid class's share.
            min_particles: Fewest predicted particles for a level's own quantile.
        """
        scored = [self.scores(x) for x, _ in levels]
        for k, name in enumerate(self.class_names):
            q = liquid_quantile if name == "liquid" else quantile
            per_level = [np.quantile(d[i == k], q) for i, _, d in scored if np.sum(i == k) >= min_particles]
            if not per_level:
                pooled = np.concatenate([d[i == k] for i, _, d in scored])
                per_level = [np.quantile(pooled, q)] if len(pooled) else [np.inf]
            self.thresholds[k] = max(per_level)
        self.prob_threshold = min(np.quantile(p, 1.0 - quantile) for _, p, _ in scored)

    def labels(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Class names with ``unknown``: by the distance rule, and by the max-probability rule.

        Args:
            x: Features, shape (N, F).

        Returns:
            Two arrays of names, shape (N,) each.
        """
        k, p, d = self.scores(x)
        names = np.array(self.class_names, dtype=object)[k]
        return (np.where(d > self.thresholds[k], UNKNOWN, names).astype(object),
                np.where(p < self.prob_threshold, UNKNOWN, names).astype(object))


def _library(classes: Sequence[str], liquids, noises_of, seed: int, cfg: Config, rng: np.random.Generator):
    """(features, class index) per structure of a training or validation library."""
    out = []
    for k, name in enumerate(classes):
        if name == "liquid":
            for j, (rho, temp) in enumerate(liquids):
                s = make_liquid(rho, temp, cfg.liquid_n, cfg.liquid_steps, seed + 50 * k + j)
                out.append((dc3_features(s), k, 0.0))
        else:
            for j, noise in enumerate(noises_of(rng)):
                s = make_crystal(name, float(noise), seed + 50 * k + j, float(rng.uniform(*cfg.dc3_min_width)))
                out.append((dc3_features(s), k, float(noise)))
    return out


def train_dc3(cfg: Config, log=print) -> Tuple[DC3Baseline, float]:
    """Train and calibrate the DC3-style baseline on the library (seeds of its own).

    Args:
        cfg: The benchmark setting (classes, sizes, epochs).
        log: Where progress lines go.

    Returns:
        The baseline and its ``unknown`` share on the in-vocabulary validation particles.
    """
    classes = list(cfg.dc3_classes)
    rng = np.random.default_rng(TRAIN_SEED)
    train = _library(classes, cfg.dc3_liquids, lambda r: r.uniform(0.0, 0.07, cfg.dc3_train), TRAIN_SEED, cfg, rng)
    x = np.concatenate([f for f, _, _ in train])
    y = np.concatenate([np.full(len(f), k) for f, k, _ in train])
    dc3 = DC3Baseline(classes)
    dc3.fit(x, y, epochs=cfg.dc3_epochs)
    levels = (0.0, 0.035, 0.07)
    val = _library(classes, cfg.dc3_val_liquids, lambda r: np.repeat(levels, cfg.dc3_val), VAL_SEED, cfg,
                   np.random.default_rng(VAL_SEED))
    by_level = []
    for level in levels:  # liquids join every level (the model's calibration does the same)
        part = [(f, k) for f, k, nz in val if nz == level or classes[k] == "liquid"]
        by_level.append((np.concatenate([f for f, _ in part]), np.concatenate([np.full(len(f), k) for f, k in part])))
    dc3.calibrate(by_level)
    val_x = np.concatenate([f for f, _, _ in val])
    val_y = np.concatenate([np.full(len(f), k) for f, k, _ in val])
    dist_labels, _ = dc3.labels(val_x)
    val_acc = float(np.mean(dist_labels == np.array(classes, dtype=object)[val_y]))
    val_unknown = float(np.mean(dist_labels == UNKNOWN))
    log(f"DC3-style baseline: {len(x)} training particles, {x.shape[1]} features, {len(classes)} classes; "
        f"validation accuracy {val_acc * 100:.1f} %, unknown {val_unknown * 100:.2f} %")
    return dc3, val_unknown


# ------------------------------------------------------------------ evaluation


@dataclasses.dataclass
class Row:
    """Label counts of one (group, structure, noise) over its frames.

    Attributes:
        group: ``"vocabulary"``, ``"liquid"``, ``"held_out"`` or ``"near_twin"``.
        name: Structure name (for liquids ``liquid rho=.. T=..``).
        truth: The class name a correct label has (``unknown`` for held-out structures).
        noise: Noise level (0 for liquids).
        n: Particles over all frames.
        counts: Per method, label name -> particle count.
    """

    group: str
    name: str
    truth: str
    noise: float
    n: int = 0
    counts: Dict[str, collections.Counter] = dataclasses.field(default_factory=dict)

    def share(self, method: str, label: str) -> float:
        """Share of the row's particles the method gave ``label``."""
        return self.counts[method][label] / self.n if self.n else float("nan")

    def top(self, method: str) -> str:
        """The method's most frequent label and its share, e.g. ``"liquid 100%"``."""
        label, count = self.counts[method].most_common(1)[0]
        return f"{label} {100.0 * count / self.n:.0f}%"


class Methods:
    """The model, PTM and the DC3-style baseline, labelling one structure by class names."""

    def __init__(self, model: str, dc3: Optional[DC3Baseline]):
        """Load the model.

        Args:
            model: A model name or path (``OrderML(model)``).
            dc3: The trained baseline, or ``None`` to leave it out.
        """
        from md_orderml.analysis import OrderML

        self.clf = OrderML(model)
        self.class_names = list(self.clf.class_names)
        self._names = np.array(self.class_names, dtype=object)
        self.dc3 = dc3

    def label(self, structure: structures.Structure) -> Dict[str, np.ndarray]:
        """Labels of every method, names (N,) each: ``model``, ``ptm`` and ``dc3``, ``dc3_maxprob``."""
        from md_orderml.baselines import ptm_labels

        frame = structure.to_frame()
        out = {"model": self._names[self.clf.compute(frame).labels], "ptm": ptm_labels(frame, 0.1)}
        if self.dc3 is not None:
            out["dc3"], out["dc3_maxprob"] = self.dc3.labels(dc3_features(structure))
        return out


def _add(row: Row, labels: Dict[str, np.ndarray]) -> None:
    for method, names in labels.items():
        row.counts.setdefault(method, collections.Counter()).update(str(v) for v in names)
    row.n += len(next(iter(labels.values())))


def evaluate(cfg: Config, methods: Methods, log=print) -> List[Row]:
    """Label every test frame with every method.

    Args:
        cfg: The benchmark setting.
        methods: The labelling methods.
        log: Where progress lines go.

    Returns:
        One :class:`Row` per (group, structure, noise).
    """
    rows = []
    for c, kind in enumerate(cfg.classes):
        for noise in cfg.noises:
            row = Row("vocabulary", kind, kind, noise)
            for s in range(cfg.seeds):
                _add(row, methods.label(make_crystal(kind, noise, TEST_SEED + 100 * c + s, cfg.min_width)))
            rows.append(row)
        log(f"  {kind}: done")
    for j, (rho, temp) in enumerate(cfg.liquids):
        row = Row("liquid", f"liquid rho={rho:g} T={temp:g}", "liquid", 0.0)
        _add(row, methods.label(make_liquid(rho, temp, cfg.liquid_n, cfg.liquid_steps, TEST_SEED + 5000 + j)))
        rows.append(row)
        log(f"  {row.name}: done")
    for group, names in (("held_out", cfg.held_out), ("near_twin", cfg.near_twins)):
        for c, kind in enumerate(names):
            for noise in cfg.held_out_noises:
                row = Row(group, kind, UNKNOWN, noise)
                for s in range(cfg.seeds):
                    seed = TEST_SEED + 3000 + 1000 * (group == "near_twin") + 100 * c + s
                    _add(row, methods.label(make_crystal(kind, noise, seed, cfg.min_width)))
                rows.append(row)
            log(f"  {kind}: done")
    return rows


# ------------------------------------------------------------------ figures and tables


def model_share(row: Row, methods: Methods, label: str) -> Optional[float]:
    """The model's share of ``label`` on a row, ``None`` when the model has no class of that name."""
    return row.share("model", label) if label in methods.class_names else None


def ptm_figure(row: Row) -> Tuple[str, float]:
    """PTM's figure on a row: ``("acc", accuracy)`` where it can name the class, else ``("other", other rate)``.

    On liquids, ``other`` and ``ico`` both count as correct (``"acc"``).
    """
    if row.truth in PTM_NAMEABLE:
        return "acc", row.share("ptm", row.truth)
    if row.truth == "liquid":
        return "acc", row.share("ptm", "other") + row.share("ptm", "ico")
    return "other", row.share("ptm", "other")


def _min(values) -> Optional[float]:
    values = list(values)
    return None if not values or any(v is None for v in values) else float(min(values))


def _mean_rate(rows: Sequence[Row], method: str, label: str) -> Optional[float]:
    n = sum(r.n for r in rows)
    return sum(r.counts[method][label] for r in rows) / n if n else None


def summary(rows: Sequence[Row], methods: Methods, dc3_val_unknown: Optional[float], seconds: float) -> Dict:
    """The RESULT figures (fractions; ``None`` = n/a).

    Args:
        rows: Rows of :func:`evaluate`.
        methods: The methods (for the model's class names).
        dc3_val_unknown: The baseline's validation ``unknown`` share.
        seconds: Wall time.

    Returns:
        Key -> value, in RESULT order.
    """
    vocab = [r for r in rows if r.group == "vocabulary"]
    held = [r for r in rows if r.group == "held_out"]
    twins = [r for r in rows if r.group == "near_twin"]
    liquids = [r for r in rows if r.group == "liquid"]
    has_unknown = UNKNOWN in methods.class_names
    dc3 = methods.dc3 is not None

    def at(noise, kinds):
        return [r for r in vocab if abs(r.noise - noise) < 1e-9 and r.name in kinds]

    out = {"model": None}
    for pct in (0, 3, 7):
        out[f"min_complex_acc_{pct}pct"] = _min(model_share(r, methods, r.truth) for r in at(pct / 100, COMPLEX))
    out["simple_acc_7pct"] = _min(model_share(r, methods, r.truth) for r in at(0.07, SIMPLE))
    out["heldout_unknown"] = _min(model_share(r, methods, UNKNOWN) for r in held)
    out["heldout_unknown_mean"] = _mean_rate(held, "model", UNKNOWN) if has_unknown else None
    out["near_twin_unknown"] = _mean_rate(twins, "model", UNKNOWN) if has_unknown else None
    out["vocab_unknown_7pct"] = _mean_rate(at(0.07, SIMPLE + COMPLEX), "model", UNKNOWN) if has_unknown else None
    out["liquid_acc"] = _min(model_share(r, methods, "liquid") for r in liquids)
    out["ptm_simple_acc_7pct"] = _min(ptm_figure(r)[1] for r in at(0.07, SIMPLE))
    out["ptm_complex_other_3pct"] = _mean_rate(at(0.03, COMPLEX), "ptm", "other")
    out["ptm_heldout_other"] = _min(r.share("ptm", "other") for r in held)
    out["ptm_near_twin_other"] = _mean_rate(twins, "ptm", "other")
    out["ptm_liquid_acc"] = _min(ptm_figure(r)[1] for r in liquids)
    if dc3:
        for pct in (0, 3, 7):
            out[f"dc3_min_complex_acc_{pct}pct"] = _min(r.share("dc3", r.truth) for r in at(pct / 100, COMPLEX))
        out["dc3_simple_acc_7pct"] = _min(r.share("dc3", r.truth) for r in at(0.07, SIMPLE))
        out["dc3_heldout_unknown"] = _min(r.share("dc3", UNKNOWN) for r in held)
        out["dc3_heldout_unknown_mean"] = _mean_rate(held, "dc3", UNKNOWN)
        out["dc3_near_twin_unknown"] = _mean_rate(twins, "dc3", UNKNOWN)
        out["dc3_vocab_unknown_7pct"] = _mean_rate(at(0.07, SIMPLE + COMPLEX), "dc3", UNKNOWN)
        out["dc3_val_unknown"] = dc3_val_unknown
        out["dc3_liquid_acc"] = _min(r.share("dc3", "liquid") for r in liquids)
        out["dc3_maxprob_heldout_unknown"] = _min(r.share("dc3_maxprob", UNKNOWN) for r in held)
        out["dc3_maxprob_min_complex_acc_3pct"] = _min(r.share("dc3_maxprob", r.truth) for r in at(0.03, COMPLEX))
    out["seconds"] = round(seconds)
    return out


def _pct(value: Optional[float], width: int = 6, brackets: bool = False) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"{'n/a':>{width}s}"
    text = f"{value * 100:.1f}"
    return f"{('[' + text + ']') if brackets else text:>{width}s}"


def format_tables(rows: Sequence[Row], methods: Methods, cfg: Config) -> str:
    """The per-class accuracy, liquid and held-out tables as text."""
    has_dc3 = methods.dc3 is not None
    noises = cfg.noises
    shown = int(np.argmin(np.abs(np.asarray(noises) - 0.03)))  # the noise of the top-label column
    w = 7
    lines = []
    heads = " ".join(f"{n * 100:>{w - 1}.0f}%" for n in noises)
    block = len(heads)
    lines.append("Per-class accuracy, % of particles labelled as their own class "
                 f"(noise sigma in % of the nn distance; {cfg.seeds} frame(s) each; prototypes perturb=0.02)")
    lines.append("PTM: accuracy where it can name the class, [its 'other' rate] elsewhere; "
                 "model n/a: the model has no class of that name")
    lines.append(f"{'class':12s} | {'model':^{block}s} | " + (f"{'DC3-style':^{block}s} | " if has_dc3 else "")
                 + f"{'PTM':^{block}s} | model's top label at {noises[shown] * 100:.0f} %")
    lines.append(f"{'':12s} | {heads} | " + (f"{heads} | " if has_dc3 else "") + f"{heads} |")
    vocab = {(r.name, r.noise): r for r in rows if r.group == "vocabulary"}
    for kind in cfg.classes:
        rs = [vocab[(kind, n)] for n in noises]
        model = " ".join(_pct(model_share(r, methods, kind), w) for r in rs)
        dc3 = " ".join(_pct(r.share("dc3", kind), w) for r in rs) + " | " if has_dc3 else ""
        ptm = " ".join(_pct(ptm_figure(r)[1], w, ptm_figure(r)[0] == "other") for r in rs)
        lines.append(f"{kind:12s} | {model} | {dc3}{ptm} | {rs[shown].top('model')}")
    unknown_row = [_mean_rate([vocab[(k, n)] for k in cfg.classes], "model", UNKNOWN)
                   if UNKNOWN in methods.class_names else None for n in noises]
    dc3_unknown = [_mean_rate([vocab[(k, n)] for k in cfg.classes], "dc3", UNKNOWN) for n in noises] if has_dc3 else []
    lines.append(f"{'(unknown)':12s} | " + " ".join(_pct(v, w) for v in unknown_row) + " | "
                 + (" ".join(_pct(v, w) for v in dc3_unknown) + " | " if has_dc3 else "")
                 + f"{'':{block}s} | false 'unknown' on all vocabulary crystals")
    lines.append("")
    lines.append(f"{'liquid':28s} | {'model':>7s} | " + (f"{'DC3':>7s} | " if has_dc3 else "")
                 + f"{'PTM':>7s} | model's top label   (PTM: other or ico counts as correct)")
    for r in (r for r in rows if r.group == "liquid"):
        lines.append(f"{r.name:28s} | {_pct(model_share(r, methods, 'liquid'), 7)} | "
                     + (f"{_pct(r.share('dc3', 'liquid'), 7)} | " if has_dc3 else "")
                     + f"{_pct(ptm_figure(r)[1], 7)} | {r.top('model')}")
    lines.append("")
    lines.append("Held-out structures: % labelled 'unknown' (PTM: % 'other', % 'ico')")
    lines.append(f"{'structure':20s} {'sigma':>5s} | {'model':>7s} | {'model top label':18s} | "
                 + (f"{'DC3':>7s} | {'DC3 maxp':>8s} | {'DC3 top label':16s} | " if has_dc3 else "")
                 + f"{'PTM oth':>7s} | {'PTM ico':>7s}")
    for r in (r for r in rows if r.group in ("held_out", "near_twin")):
        name = r.name + (" (twin)" if r.group == "near_twin" else "")
        lines.append(f"{name:20s} {r.noise * 100:4.0f}% | {_pct(model_share(r, methods, UNKNOWN), 7)} | "
                     f"{r.top('model'):18s} | "
                     + (f"{_pct(r.share('dc3', UNKNOWN), 7)} | {_pct(r.share('dc3_maxprob', UNKNOWN), 8)} | "
                        f"{r.top('dc3'):16s} | " if has_dc3 else "")
                     + f"{_pct(r.share('ptm', 'other'), 7)} | {_pct(r.share('ptm', 'ico'), 7)}")
    return "\n".join(lines)


def result_line(figures: Dict) -> str:
    """``RESULT key=value ...`` (fractions with 4 decimals, ``n/a`` for ``None``)."""
    def fmt(v):
        if v is None:
            return "n/a"
        return f"{v:.4f}" if isinstance(v, float) else str(v)
    return "RESULT " + " ".join(f"{k}={fmt(v)}" for k, v in figures.items())


def rows_to_json(rows: Sequence[Row]) -> List[Dict]:
    """The rows as plain JSON records (label counts per method)."""
    return [{"group": r.group, "name": r.name, "truth": r.truth, "noise": r.noise, "n": r.n,
             "counts": {m: dict(c) for m, c in r.counts.items()}} for r in rows]


def run(cfg: Config, model: str = "default", dc3: bool = True, log=print) -> Tuple[List[Row], Methods, Dict]:
    """Train the baseline, label everything, and compute the RESULT figures.

    Args:
        cfg: The benchmark setting.
        model: Model name or path.
        dc3: Train and run the DC3-style baseline.
        log: Where progress lines go.

    Returns:
        ``(rows, methods, figures)``.
    """
    start = time.time()
    baseline, val_unknown = train_dc3(cfg, log) if dc3 else (None, None)
    log(f"({time.time() - start:.0f} s so far)")
    methods = Methods(model, baseline)
    log(f"model {model!r}: classes {' '.join(methods.class_names)}")
    rows = evaluate(cfg, methods, log)
    figures = summary(rows, methods, val_unknown, time.time() - start)
    figures["model"] = str(model).replace(" ", "_")
    return rows, methods, figures


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Command line entry point; returns the RESULT figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model name or path (default: default)")
    parser.add_argument("--seeds", type=int, default=None, help="frames per structure and noise level (default 2)")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write rows and figures as JSON")
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (fcc, a15; sigma = 3 %%)")
    parser.add_argument("--no-dc3", action="store_true", help="leave the DC3-style baseline out")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared small machines)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    cfg = quick_config() if args.quick else Config()
    if args.seeds is not None:
        cfg = dataclasses.replace(cfg, seeds=args.seeds)
    rows, methods, figures = run(cfg, args.model, dc3=not args.no_dc3, log=lambda s: print(s, flush=True))
    print()
    print(f"model {args.model!r} ({len(methods.class_names)} classes)")
    print(format_tables(rows, methods, cfg))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "class_names": methods.class_names, "config": dataclasses.asdict(cfg),
                       "figures": figures, "rows": rows_to_json(rows)}, fh, indent=1)
    print(result_line(figures), flush=True)
    return figures


if __name__ == "__main__":
    main()
