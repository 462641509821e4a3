"""Glass-vs-liquid benchmark (issue 8, after Swanson et al., Soft Matter 2020): 2D Kob-Andersen.

Data (``md_orderml.glassy.glass2d``, cached under ``~/.cache/md_orderml/glassy``): 2D KA
65:35 at density 1.2; liquids (20 tau at T = 0.8) and liquid-cooled glasses (linear quench
2.0 -> 0.1, duration picked by a pilot so that the mean inherent-structure energies match),
both classified as inherent structures. Default N = 500, 48 configurations per class;
``--quick``: N = 300, 16 per class.

Methods, on the same stratified k-fold split over configurations (out-of-fold scores,
one ROC AUC over all configurations):

* ``energy``: logistic probe on the IS energy alone (how trivial the task is);
* ``baseline``: logistic probe (L2, inner CV) on partial RDFs A-A/A-B/B-B and 2D
  bond-orientational order |psi_k|, k = 4..8, plus coordination (means and quantiles per
  type), :mod:`md_orderml.glassy.glass2d_baseline`;
* ``model``: the per-particle equivariant classifier with the configuration readout
  (mean log-odds, :mod:`md_orderml.glassy.glass_model`), each fold trained from scratch;
  also the AUC of its glass fraction (what ``md-orderml label`` reports per frame).

The cheap probes are also repeated over 5 random splits (mean +- std). Prints a table and
ends with ``RESULT glass_auc=<model AUC> baseline_auc=<baseline AUC>``.

    python benchmarks/glass_vs_liquid.py [--quick] [--plot glass.png] [--seed 0] [--epochs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, Optional

import numpy as np

FOLDS = 4
REPEATS = 5


def run(quick: bool = False, plot: Optional[str] = None, seed: int = 0, epochs: Optional[int] = None,
        progress: bool = True) -> Dict:
    """Run the benchmark.

    Args:
        quick: Small data set and fewer epochs.
        plot: Write ROC curves to this PNG.
        seed: Seed of the split and of the network initialisation.
        epochs: Training epochs (default: GlassFit().epochs, 80).
        progress: Print progress lines.

    Returns:
        ``{"glass_auc", "glass_fraction_auc", "baseline_auc", "energy_auc", "baseline_auc_repeats",
        "energy_auc_repeats", "n_particles", "n_per_class", "quench_tau", "seconds", "table"}``.
    """
    import torch

    from md_orderml.glassy import glass_model as gm
    from md_orderml.glassy.glass2d import QUICK, Glass2DConfig, load_or_generate
    from md_orderml.glassy.glass2d_baseline import feature_matrix
    from md_orderml.ssl.precrystallization import probe_scores, roc_auc, stratified_folds

    torch.set_num_threads(1)
    start = time.time()
    config = QUICK if quick else Glass2DConfig()
    epochs = epochs or gm.GlassFit().epochs
    data = load_or_generate(config, progress=progress)
    t_data = time.time() - start
    y = data.labels
    features = {"energy": data.energy[:, None], "baseline": feature_matrix(data)}
    folds = stratified_folds(y, FOLDS, np.random.default_rng(seed))
    scores = {name: probe_scores(x, y, folds, seed=seed) for name, x in features.items()}
    repeats = {name: np.array([roc_auc(probe_scores(x, y, stratified_folds(y, FOLDS, np.random.default_rng([seed, r])),
                                                    seed=r), y) for r in range(REPEATS)])
               for name, x in features.items()}
    t0 = time.time()
    model_scores = gm.cross_validated_scores(gm.data_graphs(data), y, folds, gm.GlassFit(epochs=epochs, seed=seed),
                                             progress=progress)
    t_model = time.time() - t0
    auc = {name: roc_auc(s, y) for name, s in scores.items()}
    auc_model = {k: roc_auc(v, y) for k, v in model_scores.items()}
    e_l, e_g = data.energy[y == 0], data.energy[y == 1]
    table = [
        f"2D KA 65:35, N = {data.positions.shape[1]}, {config.n_per_class} liquids (T = {config.t_liquid}, "
        f"{config.liquid_tau:g} tau) + {config.n_per_class} glasses (quench {config.t_high} -> {config.t_low} "
        f"over {data.meta['quench_tau']:.1f} tau), all inherent structures",
        f"IS energy per particle: liquids {e_l.mean():.4f} +- {e_l.std():.4f}, glasses {e_g.mean():.4f} +- "
        f"{e_g.std():.4f} (parent U/N {data.parent_energy[y == 0].mean():.3f} vs "
        f"{data.parent_energy[y == 1].mean():.3f})",
        f"{FOLDS}-fold CV over configurations (split seed {seed}); AUC over {len(y)} out-of-fold scores",
        f"{'method':<34}{'AUC':>8}{'AUC, 5 splits':>18}",
        f"{'IS energy only (logistic)':<34}{auc['energy']:>8.3f}"
        f"{repeats['energy'].mean():>11.3f} +- {repeats['energy'].std():.3f}",
        f"{'RDF + psi_k baseline (logistic)':<34}{auc['baseline']:>8.3f}"
        f"{repeats['baseline'].mean():>11.3f} +- {repeats['baseline'].std():.3f}",
        f"{'model, mean log-odds':<34}{auc_model['mean_log_odds']:>8.3f}{'':>18}",
        f"{'model, glass fraction (label)':<34}{auc_model['glass_fraction']:>8.3f}{'':>18}",
        f"times: data {t_data:.0f} s (cached when fast), model CV {t_model:.0f} s ({epochs} epochs x {FOLDS} folds), "
        f"total {time.time() - start:.0f} s",
    ]
    if plot:
        _plot(plot, y, {"IS energy": scores["energy"], "RDF + psi_k": scores["baseline"],
                        "model (mean log-odds)": model_scores["mean_log_odds"]}, roc_auc)
        table.append(f"wrote {plot}")
    return {"glass_auc": auc_model["mean_log_odds"], "glass_fraction_auc": auc_model["glass_fraction"],
            "baseline_auc": auc["baseline"], "energy_auc": auc["energy"],
            "baseline_auc_repeats": repeats["baseline"].tolist(), "energy_auc_repeats": repeats["energy"].tolist(),
            "n_particles": int(data.positions.shape[1]), "n_per_class": int(config.n_per_class),
            "quench_tau": float(data.meta["quench_tau"]), "seconds": time.time() - start, "table": table}


def roc_curve(scores: np.ndarray, labels: np.ndarray):
    """False and true positive rates over all thresholds, shape (M + 1,) each."""
    order = np.argsort(-np.asarray(scores))
    hits = np.asarray(labels)[order].astype(bool)
    tpr = np.r_[0.0, np.cumsum(hits) / max(hits.sum(), 1)]
    fpr = np.r_[0.0, np.cumsum(~hits) / max((~hits).sum(), 1)]
    return fpr, tpr


def _plot(path: str, labels: np.ndarray, scores: Dict[str, np.ndarray], roc_auc) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, s in scores.items():
        fpr, tpr = roc_curve(s, labels)
        ax.plot(fpr, tpr, label=f"{name}: AUC {roc_auc(s, labels):.3f}")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate (liquids called glass)", ylabel="true positive rate (glasses)",
           title="2D KA glass vs liquid, out-of-fold")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 300, 16 configurations per class")
    parser.add_argument("--plot", help="write ROC curves to this PNG")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="training epochs (default 80)")
    args = parser.parse_args(argv)
    result = run(args.quick, args.plot, args.seed, args.epochs)
    print("\n".join(result["table"]))
    print(f"RESULT glass_auc={result['glass_auc']:.4f} baseline_auc={result['baseline_auc']:.4f} "
          f"energy_auc={result['energy_auc']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
