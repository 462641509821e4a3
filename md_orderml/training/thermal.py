"""Thermal crystals and non-Lennard-Jones liquids of real potentials, for training.

Noisy lattices (random Gaussian displacements) miss what thermal motion does near
melting (correlated displacements, anisotropic vibrations, a few defects), and
Lennard-Jones liquids miss open, tetrahedral liquids such as liquid silicon or water.
This module supplies both from short LAMMPS runs of the *training* materials of
:data:`md_orderml.engines.lammps.real_potentials.TRAINING_MATERIALS` (Ni, Ag, W, Zr, Ge, mW water, Bi),
which share no element and no potential file with the benchmark materials of
``benchmarks/melting_accuracy.py`` (Cu, Fe, Mg, Si).

Crystal frames are kept only if OVITO's PTM (without RMSD cutoff) still finds their
structure for at least 60 % of the atoms, so a crystal that melted is never labelled
crystalline; liquid frames only if PTM with its default cutoff finds < 20 % crystal.
Without OVITO the check is skipped. Frames are cached (``~/.cache/md_orderml/thermal``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from md_orderml.structures import Structure

#: Temperatures (fractions of Tm) of the crystal runs.
CRYSTAL_T = (0.3, 0.5, 0.7, 0.85, 0.95, 1.0)
#: Temperatures of the liquid runs.
LIQUID_T = (1.0, 1.1)
#: Liquids used: every training material whose crystal melts in the short runs (W does not).
LIQUID_MATERIALS = ("Ni", "Ag", "Zr", "Ge", "mW", "Bi")
#: Small boxes: conventional cells per material (about 250-400 atoms).
CELLS = {"Ni": (4, 4, 4), "Ag": (4, 4, 4), "W": (5, 5, 5), "Zr": (6, 4, 4), "Ge": (3, 3, 3), "mW": (3, 3, 3),
         "Bi": (7, 7, 7)}
#: Materials with their own crystal temperatures (Zr turns bcc above ~0.55 Tm).
CRYSTAL_T_OF = {"Zr": (0.2, 0.3, 0.4, 0.5)}
#: mW water and Bi are used as liquids only (mW ice would be a second cd material of one
#: potential; sc has no real-potential crystal here).
CRYSTAL_MATERIALS = ("Ni", "Ag", "W", "Zr", "Ge")


def default_cache_dir():
    """``$XDG_CACHE_HOME/md_orderml/thermal`` (``~/.cache/md_orderml/thermal``)."""
    from md_orderml.engines.lammps.real_potentials import default_cache_dir as melting_cache

    return melting_cache().parent / "thermal"


def _structure_ok(frame, structure: str) -> bool:
    """PTM sanity check of a generated frame (True when OVITO is missing)."""
    try:
        from md_orderml.baselines import ptm_labels
    except ImportError:  # pragma: no cover - OVITO is in the [baselines] extra
        return True
    try:
        if structure == "liquid":
            labels = ptm_labels(frame)
            return float(np.mean(np.isin(labels, ["fcc", "bcc", "hcp", "sc", "cd", "hd"]))) < 0.2
        return float(np.mean(ptm_labels(frame, rmsd_cutoff=0.0) == structure)) >= 0.6
    except ImportError:  # pragma: no cover
        return True


def state_points(class_name: str) -> List[Tuple[str, float, bool]]:
    """The (material, T/Tm, liquid) runs that give frames of one class.

    Args:
        class_name: ``fcc``, ``bcc``, ``hcp``, ``cd`` or ``liquid``; other classes
            (``sc``, ``hd``) have no real-potential material and give none.

    Returns:
        The state points, possibly empty.
    """
    from md_orderml.engines.lammps.real_potentials import TRAINING_MATERIALS

    if class_name == "liquid":
        return [(name, t, True) for name in LIQUID_MATERIALS for t in LIQUID_T]
    points = []
    for name in CRYSTAL_MATERIALS:
        if TRAINING_MATERIALS[name].structure == class_name:
            points += [(name, t, False) for t in CRYSTAL_T_OF.get(name, CRYSTAL_T)]
    return points


def thermal_frames(class_name: str, cache_dir=None, progress: bool = False) -> list:
    """Every checked frame of one class (2 per state point), generated or from the cache.

    Args:
        class_name: The class (see :func:`state_points`).
        cache_dir: Cache directory; None uses :func:`default_cache_dir`.
        progress: Print one line per generated state point.

    Returns:
        Frames (positions (N, 3) in Angstrom or the material's unit, periodic box).
    """
    from md_orderml.engines.lammps.real_potentials import TRAINING_MATERIALS, state_frames

    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    frames = []
    for name, t, liquid in state_points(class_name):
        material = TRAINING_MATERIALS[name]
        made = state_frames(material, t, liquid=liquid, cache_dir=cache_dir, n_frames=2, equilibrate_ps=3.0,
                            interval_ps=1.0, melt_ps=8.0, hold_ps=6.0, cells=CELLS[name], seed=int(t * 1000) + 7)
        kept = [f for f in made if _structure_ok(f, class_name)]
        if progress:
            print(f"thermal {class_name}: {name} T/Tm={t:.2f}: kept {len(kept)}/{len(made)}", flush=True)
        frames += kept
    return frames


def thermal_structures(class_name: str, count: int, rng: np.random.Generator,
                       cache_dir=None, pool: Optional[Dict[str, list]] = None) -> List[Structure]:
    """``count`` structures of one class drawn (with replacement) from the thermal frames.

    Args:
        class_name: The class.
        count: How many to draw.
        rng: Random generator.
        cache_dir: Cache directory of the frames.
        pool: Optional dict caching :func:`thermal_frames` per class across calls.

    Returns:
        Structures with the class as label (empty when the class has no material).
    """
    if count <= 0:
        return []
    if pool is not None and class_name in pool:
        frames = pool[class_name]
    else:
        frames = thermal_frames(class_name, cache_dir)
        if pool is not None:
            pool[class_name] = frames
    if not frames:
        return []
    picks = rng.integers(len(frames), size=count)
    return [Structure(positions=frames[i].positions, cell=frames[i].box.matrix,
                      types=np.zeros(frames[i].N, dtype=np.int32), type_names=["A"], label=class_name)
            for i in picks]
