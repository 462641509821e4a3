"""Pre-crystallization: do early supercooled-liquid frames predict crystallization?

Many independent Lennard-Jones runs (LAMMPS, ``lj/cut 2.5``, NVT Nose-Hoover) are
quenched from one hot liquid to the same supercooled state point; each run keeps a few
*early frames* (before any crystal is detectable) and the *outcome*: whether its
crystalline fraction reaches ``crystal_threshold`` by a horizon (:func:`outcomes`; at most
the simulated ``horizon_steps``). Crystallinity is the
fraction of particles that the shipped default model (``OrderML("default")``)
does not label ``liquid``, checked every ``check_every`` steps; a run stops at the first
check above the threshold. Runs already above ``early_threshold`` at an early frame are
*dropped* (they crystallized before the prediction time) and counted.

Per-run features are the mean and standard deviation over particles (pooled over the
early frames) of per-particle descriptors: backbone embeddings (:func:`backbone_features`),
the default model's embedding (:func:`classifier_features`) or Steinhardt Q4, Q6, W4, W6
from freud with the 12 nearest neighbours (:func:`steinhardt_features`). The probe is
L2-regularised logistic regression on standardised features whose strength is chosen
by inner cross-validation on the training folds only (:func:`md_orderml.research.probes.probe_auc`).

Runs are cached (one ``.npz`` per run) under ``~/.cache/md_orderml/precrystallization/<hash of settings>``.

What it is for, and what it found: this module is complete for the experiment of
``benchmarks/ssl_precrystallization.py`` (runs, outcomes, per-run features; the probe is in
:mod:`md_orderml.research.probes`), and that experiment is a negative result. Its goal, a
probe ROC AUC >= 0.9 where Steinhardt gives <= 0.6, is not met (50 runs of 1372 atoms at
density 0.98, T* = 0.6, outcome within 120 tau; numbers and tables in ``docs/results.md``):

* early frames 7.5-10 tau after the quench: no feature set is clearly above chance (SSL-pretrained
  density backbone 0.47, its random initialisation 0.56, GA attention 0.33 / 0.48, the
  default model's embedding 0.46, Steinhardt 0.50), while the same probe on the later
  crystalline fraction (25-75 tau, a positive control) gives 0.81;
* early frames 32.5-35 tau after the quench (``early_steps=7000``): learned embeddings carry
  some signal (0.58-0.69) that Steinhardt averages do not (0.52), but randomly initialised
  backbones carry as much or more than pretrained ones; the control gives 0.88.

Limits: one state point and system size; 50 runs, so an AUC moves by 0.02-0.07 between
shuffles of the cross-validation folds; per-run features are means and standard deviations over
all particles, which can wash out a few precursor regions; the cache key covers the
simulation settings but not the model that labels crystallinity, so cached outcomes keep
the labels of the default model that simulated them (the figures above used the
previous default model). Looking for precursors would need frames closer to nucleation,
milder supercooling, many more runs or local (not per-run) features.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from md_orderml.frame import Box, Frame

CACHE_VERSION = 1
"""Bumped whenever the simulation protocol changes (old cache folders are then ignored)."""


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Settings of the supercooled runs (LJ units).

    Attributes:
        density, temperature: State point of the NVT supercooled runs.
        cells: fcc cells per box edge of the initial lattice (``4 * cells**3`` atoms).
        timestep: MD time step.
        melt_temperature: Temperature of the shared hot liquid (melted once for
            ``melt_steps``) and of each run's ``decorrelate_steps`` after fresh velocities.
        early_steps: Steps after the quench of the last of ``early_frames`` early
            frames, taken ``early_spacing`` steps apart.
        horizon_steps: Steps simulated after the quench: the longest horizon of :func:`outcomes`.
        check_every: Steps between crystallinity checks.
        early_threshold: A run more crystalline than this in an early frame is dropped.
        crystal_threshold: Crystalline fraction that counts as crystallized.
    """

    density: float = 0.98
    temperature: float = 0.6
    cells: int = 7
    timestep: float = 0.005
    melt_temperature: float = 2.0
    melt_steps: int = 3000
    decorrelate_steps: int = 1000
    early_steps: int = 2000
    early_frames: int = 3
    early_spacing: int = 250
    horizon_steps: int = 30000
    check_every: int = 1000
    early_threshold: float = 0.05
    crystal_threshold: float = 0.2

    def key(self) -> str:
        """Short hash of every setting and :data:`CACHE_VERSION` (the cache folder name)."""
        text = json.dumps([CACHE_VERSION, dataclasses.asdict(self)], sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def cache_dir(config: SimConfig, root: Optional[Path] = None) -> Path:
    """``~/.cache/md_orderml/precrystallization/<key>`` (or under ``root``)."""
    return (Path(root) if root else Path.home() / ".cache" / "md_orderml" / "precrystallization") / config.key()


def crystalline_fraction(classifier, frame: Frame) -> float:
    """Fraction of particles the classifier does not label ``liquid``."""
    return float(np.mean(classifier.compute(frame).labels != classifier.class_names.index("liquid")))


class _Simulator:
    """One LAMMPS instance holding the shared hot liquid; runs are restarted from it."""

    def __init__(self, config: SimConfig):
        from md_orderml.engines.lammps.samples import lj_fcc_commands
        from md_orderml.mpi import import_lammps

        self.config = c = config
        self.lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        self.lmp.commands_string(lj_fcc_commands(c.density, c.cells, atom_map=True) + f"""
neigh_modify every 1 delay 0 check yes
timestep {c.timestep}
velocity all create {c.melt_temperature} 4928459 loop geom
fix hot all nvt temp {c.melt_temperature} {c.melt_temperature} 0.5
run {c.melt_steps}
unfix hot
""")
        self.n = int(self.lmp.get_natoms())
        self.hot = self.positions()
        lo, hi = self.lmp.extract_box()[:2]
        self.box = Box(*(np.asarray(hi) - np.asarray(lo)), origin=tuple(lo))

    def positions(self) -> np.ndarray:
        return np.array(self.lmp.numpy.extract_atom("x")[: self.n], dtype=np.float64)

    def run(self, seed: int, classifier) -> Dict[str, np.ndarray]:
        """One run from the shared hot liquid with velocity seed ``seed`` (>= 1)."""
        c, lmp = self.config, self.lmp
        lmp.numpy.extract_atom("x")[: self.n] = self.hot
        lmp.commands_string(f"""
velocity all create {c.melt_temperature} {seed} loop geom
fix hot all nvt temp {c.melt_temperature} {c.melt_temperature} 0.5
run {c.decorrelate_steps}
unfix hot
velocity all scale {c.temperature}
fix cold all nvt temp {c.temperature} {c.temperature} 0.5
""")
        early_times = [c.early_steps - k * c.early_spacing for k in range(c.early_frames)][::-1]
        checks = list(range(c.check_every, c.horizon_steps + 1, c.check_every))
        stops = sorted(set(early_times) | set(checks))
        step, early, early_fraction, times, fractions = 0, [], [], [], []
        for stop in stops:
            lmp.command(f"run {stop - step}")
            step = stop
            frame = Frame(self.positions(), self.box, source="precrystallization run")
            if stop in early_times:
                early.append(frame.positions)
                early_fraction.append(crystalline_fraction(classifier, frame))
            if stop in checks:
                times.append(stop)
                fractions.append(crystalline_fraction(classifier, frame))
                if stop > c.early_steps and fractions[-1] >= c.crystal_threshold:
                    break
        lmp.command("unfix cold")
        crossed = np.nonzero((fractions := np.asarray(fractions)) >= c.crystal_threshold)[0]
        return {"seed": np.int64(seed), "early": np.stack(early), "early_fraction": np.asarray(early_fraction),
                "times": np.asarray(times), "fractions": fractions, "cell": self.box.matrix,
                "crystallized": np.bool_(len(crossed) > 0),
                "crystallization_step": np.int64(times[crossed[0]] if len(crossed) else -1)}


def simulate_runs(config: SimConfig, seeds: Sequence[int], root: Optional[Path] = None,
                  log: Optional[Callable[[str], None]] = None) -> List[Dict[str, np.ndarray]]:
    """Simulate (or load from the cache) one supercooled run per seed.

    Args:
        config: Simulation settings.
        seeds: Velocity seeds (>= 1), one run each.
        root: Cache root (default ``~/.cache/md_orderml/precrystallization``).
        log: Called with one line per run.

    Returns:
        One dictionary per seed: ``early`` (F, N, 3) positions of the early frames,
        ``early_fraction`` (F,), ``times`` (T,) and ``fractions`` (T,) of the checks,
        ``cell`` (3, 3), ``crystallized`` (bool), ``crystallization_step`` (-1 if none),
        ``seed``.
    """
    from md_orderml.analysis import OrderML

    (folder := cache_dir(config, root)).mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=1))
    sim, classifier, out = None, None, []
    for seed in seeds:
        path = folder / f"run_{seed}.npz"
        start = time.time()
        if path.is_file():
            with np.load(path) as data:
                run = {k: data[k] for k in data.files}
            source = "cache"
        else:
            if sim is None:
                sim, classifier = _Simulator(config), OrderML("default")
            run = sim.run(int(seed), classifier)
            tmp = path.with_name(path.name + ".tmp.npz")
            np.savez_compressed(tmp, **run)
            tmp.replace(path)
            source = "LAMMPS"
        out.append(run)
        if log:
            log(f"run seed {seed}: early crystalline {np.max(run['early_fraction']):.3f}, "
                f"final {run['fractions'][-1]:.3f} at step {run['times'][-1]}, "
                f"crystallized {bool(run['crystallized'])} ({source}, {time.time() - start:.0f} s)")
    return out


def outcomes(runs: Sequence[Dict[str, np.ndarray]], horizon_steps: int) -> np.ndarray:
    """1 for runs whose crystalline fraction reached the threshold within ``horizon_steps``: (R,)."""
    steps = np.array([int(r["crystallization_step"]) for r in runs])
    return ((steps >= 0) & (steps <= horizon_steps)).astype(np.int64)


def early_frames(run: Dict[str, np.ndarray]) -> List[Frame]:
    """The early frames of one run as :class:`Frame` objects."""
    cell = run["cell"]
    box = Box(cell[0, 0], cell[1, 1], cell[2, 2], origin=(0.0, 0.0, 0.0))
    return [Frame(box.wrap(x), box) for x in run["early"]]


def _pool(per_particle: Sequence[np.ndarray]) -> np.ndarray:
    """Mean and std over particles of per-particle descriptors [(N_i, D), ...]: (2 D,)."""
    x = np.concatenate(per_particle).astype(np.float64)
    return np.concatenate([x.mean(0), x.std(0)])


def frames_graphs(frames: Sequence[Frame], cutoff: float) -> list:
    """Unlabelled graphs (:func:`md_orderml.ssl.data.unlabelled_graph`) of frames."""
    from md_orderml.ssl.data import unlabelled_graph
    from md_orderml.structures import Structure

    return [unlabelled_graph(Structure(f.positions - f.box.corner, f.box.matrix, np.zeros(f.N, np.int32),
                                       ["A"], "unlabelled"), cutoff) for f in frames]


def backbone_features(backbone, runs: Sequence[Dict[str, np.ndarray]]) -> np.ndarray:
    """Mean and std over the particles of each run's early frames of a backbone embedding.

    Args:
        backbone: A backbone of either family (:class:`~md_orderml.nn.families.Backbone`), D-dim output.
        runs: R runs from :func:`simulate_runs`.

    Returns:
        Features, shape (R, 2 D).
    """
    from md_orderml.ssl.finetune import embed

    return np.stack([_pool([embed(backbone, [g])[0].numpy() for g in frames_graphs(early_frames(run), backbone.cutoff)])
                     for run in runs])


def classifier_features(classifier, runs: Sequence[Dict[str, np.ndarray]]) -> np.ndarray:
    """Like :func:`backbone_features` with a :class:`OrderML`'s embedding: (R, 2 D)."""
    return np.stack([_pool([classifier.compute(f).embedding for f in early_frames(run)]) for run in runs])


def steinhardt_per_particle(frame: Frame, num_neighbors: int = 12) -> np.ndarray:
    """Q4, Q6, W4, W6 (normalised W) per particle from freud over ``num_neighbors`` nearest neighbours.

    Returns:
        Shape (N, 4), columns Q4, Q6, W4, W6.
    """
    import freud

    box = freud.box.Box.from_matrix(frame.box.matrix.T)
    points = box.wrap(frame.positions - frame.box.corner - 0.5 * frame.box.matrix.sum(0))
    st = freud.order.Steinhardt([4, 6], wl=True, wl_normalize=True)
    st.compute((box, points), neighbors={"num_neighbors": num_neighbors})
    return np.concatenate([np.asarray(st.ql), np.asarray(st.particle_order)], axis=1)


def steinhardt_features(runs: Sequence[Dict[str, np.ndarray]]) -> np.ndarray:
    """Mean and std of Q4, Q6, W4, W6 over the particles of each run's early frames: (R, 8)."""
    return np.stack([_pool([steinhardt_per_particle(f) for f in early_frames(run)]) for run in runs])
