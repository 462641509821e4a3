"""Glassy-liquid benchmark: per-particle propensity of a 3D Kob-Andersen mixture.

Data (``md_orderml.research.glassy.data``, cached under ``~/.cache/md_orderml/glassy``): N = 1000,
rho = 1.2, T = 0.64 (``--quick``: T = 0.8), iso-configurational NVE runs; propensity =
mean squared displacement over the velocity draws at the grid times nearest to 0.1, 0.5
and 1 x tau_alpha (from ``F_s(k = 7.25, t) = 1/e`` of the A particles).

Methods, on the same split (configurations 0..C-3 train, the last of them validates:
ridge penalty and network epoch; the last two are held out):

* ``network``: ``EquivariantBackbone`` (types A/B, 3 layers) + MLP head, all time scales at
  once, trained with ``1 - Pearson`` (per configuration and time scale) + 0.1 x MSE on
  A and B particles, then calibrated to the target's scale
  (``md_orderml.research.glassy.propensity.FitConfig``); ``--seeds`` networks (default 3) with
  consecutive seeds, the table shows their mean and spread, each seed, and the Pearson
  of their averaged prediction (ensemble);
* ``model``: what ``md-orderml research train-propensity`` writes into the model file
  (``md_orderml.research.glassy.expert_torch``): each network blended with a ridge on the same
  descriptors computed inside the model, ``a * network + b * ridge + c`` per time scale
  (ridge per particle type on the training configurations, ``a, b, c`` by least squares
  on the validation configuration); mean and spread over the seeds;
* ``ridge``: ridge regression on Boattini-style invariant features (radial shells of A
  and B neighbours, Steinhardt q_1..q_8, their neighbour averages); closed form and
  deterministic (penalty per time scale picked on the validation configuration), so
  it needs no seeds. For reference (not in the gain) the same ridge is also fitted with
  the features of the inherent structures (``md_orderml.research.glassy.inherent``) appended.

Scores are Pearson correlations of predicted vs measured propensity over all held-out
A particles. Prints a table and ends with
``RESULT pearson_gain=<model (mean over seeds) minus ridge at the longest time scale> glass_auc=<AUC>``.
``glass_auc`` is the held-out AUC of the 2D glass-vs-liquid classifier (the logistic probe
on the frozen backbone, :mod:`md_orderml.research.glassy.glass_probe`) at matched inherent-structure
energy, from :func:`benchmarks.glass_vs_liquid.run` on its larger set (N = 1000, 200
configurations per class; ``--quick``: its quick set), without the end-to-end network (run
``benchmarks/glass_vs_liquid.py`` for that). Its table is printed too; ``--no-glass`` skips
it and prints ``glass_auc=nan``. It adds about 2 min on one core, plus about 10 min of
LAMMPS the first time (the data are cached).

    python benchmarks/glassy.py [--quick] [--plot glassy.png] [--epochs N] [--seeds 3] [--threads 1] [--no-glass]

Measured (default data, cached; 228 s on a shared core, 2026-12-02): held-out rho at 0.1 /
0.55 / 1.1 tau_alpha, model (network + in-model ridge, mean of seeds 0-2) 0.372 / 0.406 /
0.427 (+- 0.005), network alone 0.350 / 0.378 / 0.398, ridge 0.363 / 0.394 / 0.397, ridge
with IS features 0.372 / 0.400 / 0.413 (``RESULT pearson_gain=0.0300``). The network alone
only ties the ridge; what it adds to the expert descriptors is what the gain measures.
The full run (Intel Xeon VM, 2026-12-03, one core, KA data generated in 181 s, the 2D
large set cached): the same table, then the glass part in 108 s,
``RESULT pearson_gain=0.0300 glass_auc=0.6520`` (expert features 0.608).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

FRACTIONS = (0.1, 0.5, 1.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 0.8, 6 configurations x 8 draws, fewer epochs")
    parser.add_argument("--epochs", type=int, help="training epochs of the network (default 100, quick 150)")
    parser.add_argument("--test", type=int, default=2, help="held-out configurations")
    parser.add_argument("--plot", help="write a PNG (scatter plots and Pearson vs time scale)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="first network initialisation seed")
    parser.add_argument("--seeds", type=int, default=3, help="networks trained (seeds seed, seed+1, ...; default 3)")
    parser.add_argument("--no-glass", action="store_true", help="skip the 2D glass-vs-liquid part (glass_auc=nan)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from md_orderml.research.glassy.data import QUICK, GlassyConfig, load_or_generate, time_indices
    from md_orderml.research.glassy.inherent import load_or_compute_inherent
    from md_orderml.research.glassy.propensity import (FitConfig, expert_features, fit_regressor, fit_ridge,
                                              make_graph, pearson, predict)

    t0 = time.time()
    config = QUICK if args.quick else GlassyConfig()
    data = load_or_generate(config, progress=True)
    t_data = time.time() - t0
    idx = time_indices(data, FRACTIONS)
    times = data.times[idx]
    n_conf = data.positions.shape[0]
    n_a = int((data.types == 0).sum())
    print(f"KA 3D: N = {config.n_particles} ({n_a} A), rho = {config.density}, T = {config.temperature}, "
          f"{n_conf} configurations x {config.n_draws} draws; tau_alpha = {data.tau_alpha:.2f} "
          f"(pilot {data.meta['pilot_tau_alpha']:.2f}); generation {data.meta['seconds']:.0f} s "
          f"(this call {t_data:.0f} s)")
    print("time scales: " + ", ".join(f"{t:.3g} ({t / data.tau_alpha:.2f} tau_alpha)" for t in times))
    if args.test < 1 or n_conf - args.test < 2:
        print("need at least 2 training and 1 test configuration", file=sys.stderr)
        return 2
    train_ids = list(range(n_conf - args.test - 1))
    val_ids = [n_conf - args.test - 1]
    test_ids = list(range(n_conf - args.test, n_conf))
    is_a = data.types == 0
    prop = data.propensity[:, idx, :].transpose(0, 2, 1)  # (C, N, S)
    scale = prop[train_ids][:, is_a].mean(axis=(0, 1))  # (S,)
    target = prop / scale

    # ridge on expert features
    t1 = time.time()
    feats = [expert_features(data.positions[c], data.types, data.box_length) for c in range(n_conf)]

    def stack(features, ids):
        """A-particle features and targets of configurations ``ids``, stacked."""
        return (np.concatenate([features[c][is_a] for c in ids]), np.concatenate([target[c][is_a] for c in ids]))

    ridge = fit_ridge(*stack(feats, train_ids), *stack(feats, val_ids))
    x_test, y_test = stack(feats, test_ids)
    ridge_pred = ridge["predict"](x_test)
    t_ridge = time.time() - t1
    # reference only (not in the gain): the same ridge with the features of the inherent
    # structures (energy-minimised configurations) appended
    ist = load_or_compute_inherent(data, config)
    feats_is = [np.concatenate([f, expert_features(ist.positions[c], data.types, data.box_length)], axis=1)
                for c, f in enumerate(feats)]
    ridge_is = fit_ridge(*stack(feats_is, train_ids), *stack(feats_is, val_ids))
    ridge_is_pred = ridge_is["predict"](stack(feats_is, test_ids)[0])

    # equivariant network: one model per seed; the table shows their mean (not an ensemble).
    # The model file of train-propensity is the hybrid: each network blended with the ridge
    # on the same descriptors computed inside the model (blend fitted on the validation set)
    from md_orderml.research.glassy.expert_torch import build_hybrid

    t2 = time.time()
    graphs = [make_graph(data.positions[c], data.types, data.box_length, target[c], 2.0) for c in range(n_conf)]
    epochs = args.epochs or (150 if args.quick else 100)
    seeds = list(range(args.seed, args.seed + max(1, args.seeds)))
    fits, preds, hybrid_preds, hybrid_graphs = [], [], [], {}
    for seed in seeds:
        fit = fit_regressor([graphs[c] for c in train_ids], [graphs[c] for c in val_ids], len(idx),
                            config=FitConfig(epochs=epochs, seed=seed))
        fits.append(fit)
        preds.append(np.concatenate([predict(fit["model"], graphs[c])[is_a] for c in test_ids]))
        hybrid, _ = build_hybrid(fit["model"], data.positions, data.types, data.box_length, target, train_ids,
                                 val_ids)
        for c in test_ids:
            hybrid_graphs.setdefault(c, make_graph(data.positions[c], data.types, data.box_length, target[c],
                                                   hybrid.cutoff))
        hybrid_preds.append(np.concatenate([predict(hybrid, hybrid_graphs[c])[is_a] for c in test_ids]))
    t_model = time.time() - t2
    n_params = sum(p.numel() for p in fits[0]["model"].parameters())
    per_seed = np.array([[pearson(p[:, s], y_test[:, s]) for s in range(len(idx))] for p in preds])  # (seeds, S)
    hybrid_seed = np.array([[pearson(p[:, s], y_test[:, s]) for s in range(len(idx))] for p in hybrid_preds])
    ensemble = np.mean(preds, axis=0)

    rows = []
    print(f"\ntrain {len(train_ids)} / validation {len(val_ids)} / test {len(test_ids)} configurations; "
          f"Pearson rho over {len(y_test)} held-out A particles; means over seeds {seeds}; "
          "model = network + in-model ridge (the model file), network = the equivariant network alone")
    print(f"{'t':>8} {'t/tau_a':>8} {'model':>7} {'+-':>6} {'network':>8} {'+-':>6} {'ridge':>7} {'gain':>7}  "
          "ridge alpha   network per seed; network ensemble")
    for s in range(len(idx)):
        h, hsd = hybrid_seed[:, s].mean(), hybrid_seed[:, s].std()
        m, sd = per_seed[:, s].mean(), per_seed[:, s].std()
        r = pearson(ridge_pred[:, s], y_test[:, s])
        rows.append((h, r, m))
        print(f"{times[s]:8.3g} {times[s] / data.tau_alpha:8.2f} {h:7.3f} {hsd:6.3f} {m:8.3f} {sd:6.3f} {r:7.3f} "
              f"{h - r:+7.3f}  {ridge['alpha'][s]:<11g}   {' '.join(f'{v:.3f}' for v in per_seed[:, s])}; "
              f"{pearson(ensemble[:, s], y_test[:, s]):.3f}")
    print("reference, not in the gain: ridge on thermal + inherent-structure features "
          f"({feats_is[0].shape[1]}): " + " / ".join(f"{pearson(ridge_is_pred[:, s], y_test[:, s]):.3f}"
                                                      for s in range(len(idx))))
    fc = FitConfig()
    loss = f"{fc.loss} loss on types {'+'.join('AB'[t] for t in fc.loss_types)}"
    print(f"\nmodel: {n_params} parameters, {loss}, {epochs} epochs x {len(seeds)} seeds (best validation epochs "
          f"{', '.join(str(f['best_epoch']) for f in fits)}), {t_model:.0f} s; ridge: {x_test.shape[1]} features, "
          f"{t_ridge:.0f} s; total {time.time() - t0:.0f} s")
    print("paper set-ups for comparison: Bapst et al. / Pezzicoli et al. N = 4096, T = 0.44-0.64, "
          "400 configurations x 32 draws (Pezzicoli rho ~ 0.68-0.73 at T = 0.44, the longest times)")

    if args.plot:
        _plot(args.plot, times / data.tau_alpha, rows, hybrid_preds[0][:, -1], ridge_pred[:, -1], y_test[:, -1], data)
        print(f"plot: {args.plot}")
    glass_auc = float("nan")
    if not args.no_glass:
        glass_auc = _glass_part(args)
    print(f"RESULT pearson_gain={rows[-1][0] - rows[-1][1]:.4f} glass_auc={glass_auc:.4f}")
    return 0


def _glass_part(args) -> float:
    """Run benchmarks/glass_vs_liquid.py (large set or ``--quick``, same ``--seed``, no network); the probe's AUC."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import glass_vs_liquid

    plot = None
    if args.plot:
        stem = Path(args.plot)
        plot = str(stem.with_name(stem.stem + "_glass" + (stem.suffix or ".png")))
    print("\n2D glass vs liquid (benchmarks/glass_vs_liquid.py):", flush=True)
    result = glass_vs_liquid.run(quick=args.quick, plot=plot, seed=args.seed, progress=False, network=False,
                                 large=not args.quick)
    print("\n".join(result["table"]))
    return float(result["glass_auc"])


def _plot(path, t_over_tau, rows, model_pred, ridge_pred, measured, data) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(16, 3.8))
    ax[0].semilogx(data.times, data.fs, "o-", ms=3)
    ax[0].axhline(np.exp(-1), color="grey", lw=0.8)
    ax[0].axvline(data.tau_alpha, color="grey", lw=0.8, ls="--")
    ax[0].set(xlabel="t", ylabel="F_s(k=7.25, t) (A)", title=f"T = {data.meta['config']['temperature']}")
    rows = np.asarray(rows)
    ax[1].semilogx(t_over_tau, rows[:, 0], "o-", label="model (network + in-model ridge)")
    ax[1].semilogx(t_over_tau, rows[:, 2], "^-", label="equivariant network alone")
    ax[1].semilogx(t_over_tau, rows[:, 1], "s-", label="ridge (expert features)")
    ax[1].set(xlabel="t / tau_alpha", ylabel="Pearson rho (held-out A)", ylim=(0, 1))
    ax[1].legend()
    for a, pred, name in ((ax[2], model_pred, "model"), (ax[3], ridge_pred, "ridge")):
        a.scatter(measured, pred, s=3, alpha=0.4)
        a.set(xlabel="measured propensity / mean", ylabel="predicted", title=f"{name}, t = {t_over_tau[-1]:.2f} tau_alpha")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
