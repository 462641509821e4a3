"""Accuracy on generated noisy crystals and liquids: md_orderml vs OVITO PTM and a-CNA.

Every method labels the same frames: fcc, bcc, hcp, sc, cubic and hexagonal diamond
with Gaussian noise of sigma = 3, 5, 7, 9 % of the nearest-neighbour distance per
coordinate, and Lennard-Jones liquids (LAMMPS, three state points). A particle counts as correct when its label is
its structure's name (for liquids: anything that is not a crystal class counts as
correct for PTM/a-CNA, "liquid" for the model).

    python benchmarks/noisy_crystals.py [--model default] [--seeds 2]

Ends with ``RESULT`` holding the model's worst crystal accuracy at 7 % and its liquid accuracy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from md_orderml import structures
from md_orderml.baselines import cna_or_diamond_labels, ptm_labels
from md_orderml.analysis import OrderML
from md_orderml.engines.lammps.samples import lj_liquid_samples

CRYSTALS = ("fcc", "bcc", "hcp", "sc", "cd", "hd")
NOISES = (0.03, 0.05, 0.07, 0.09)


def frames(kind: str, noise: float, seeds: int):
    """Yield frames of one structure at one noise level."""
    for seed in range(seeds):
        if kind == "liquid":
            state = [(0.85, 0.8), (0.88, 1.2), (0.9, 2.0)][seed % 3]
            sample = lj_liquid_samples(n_cells=6, density=state[0], temperature=state[1], n_samples=1,
                                       seed=1000 + seed)[0]
            yield sample.to_frame()
        else:
            yield structures.crystal(kind, noise=noise, min_width=9.0, rotation="random", seed=100 + seed).to_frame()


def accuracy(method, kind: str, noise: float, seeds: int) -> float:
    """Fraction of particles ``method`` labels correctly."""
    correct = total = 0
    for frame in frames(kind, noise, seeds):
        names = np.asarray(method(frame))
        if kind == "liquid":
            correct += int(np.sum(~np.isin(names, CRYSTALS)))
        else:
            correct += int(np.sum(names == kind))
        total += frame.N
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--seeds", type=int, default=2, help="frames per structure and noise level")
    args = parser.parse_args()
    clf = OrderML(args.model)
    names = np.array(clf.class_names, dtype=object)
    methods = {
        "md_orderml": lambda f: names[clf.compute(f).labels],
        "PTM (default)": lambda f: ptm_labels(f, 0.1),
        "PTM (no RMSD cutoff)": lambda f: ptm_labels(f, None),
        "a-CNA / diamond": cna_or_diamond_labels,
    }
    start = time.time()
    print(f"{'structure':10s} {'sigma':>6s} " + " ".join(f"{m:>22s}" for m in methods))
    results = {}
    for kind in CRYSTALS + ("liquid",):
        for noise in NOISES if kind != "liquid" else (0.0,):
            row = {m: accuracy(fn, kind, noise, args.seeds) for m, fn in methods.items()}
            results[(kind, noise)] = row
            label = f"{noise * 100:.0f} %" if kind != "liquid" else "-"
            print(f"{kind:10s} {label:>6s} " + " ".join(f"{row[m] * 100:21.1f}%" for m in methods), flush=True)
    worst7 = min(results[(k, 0.07)]["md_orderml"] for k in CRYSTALS)
    liquid = results[("liquid", 0.0)]["md_orderml"]
    ptm7 = {k: results[(k, 0.07)]["PTM (default)"] for k in ("fcc", "bcc", "hcp")}
    print(f"({time.time() - start:.0f} s)")
    print(
        f"RESULT model_min_crystal_acc_7pct={worst7:.4f} model_liquid_acc={liquid:.4f} "
        + " ".join(f"ptm_{k}_7pct={v:.4f}" for k, v in ptm7.items())
    )


if __name__ == "__main__":
    main()
