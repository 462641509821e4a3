"""Pre-crystallization: do SSL embeddings of early supercooled-liquid frames predict crystallization?

Protocol (fixed before looking at any AUC; details in :mod:`md_orderml.research.precrystallization`):

* 50 independent LAMMPS runs (velocity seeds 1..50) of N = 1372 Lennard-Jones atoms
  (``lj/cut 2.5``, dt = 0.005), each decorrelated for 5 tau at T* = 2.0 from one shared
  hot liquid and quenched (velocity rescaling + Nose-Hoover NVT, Tdamp = 0.5) to
  density 0.98, T* = 0.6. Calibration (2 seeds each at (0.98, 0.6), (1.0, 0.7),
  (0.95, 0.65), (0.95, 0.55)) gave about one crystallizing run in two within 100 tau
  only at the first two points; (0.98, 0.6) was taken.
* Early frames: 3 frames at 7.5, 8.75 and 10 tau after the quench (1500-2000 steps).
  ``--early-tau T`` moves the last of them to T tau (frames 1.25 tau apart; a second
  protocol, added after the first gave no signal: frames closer to nucleation, still
  with at most 5 % crystalline particles).
  Runs whose crystalline fraction (particles not labelled ``liquid`` by the shipped
  default model) exceeds 0.05 in an early frame are dropped and counted.
* Outcome: crystalline fraction >= 0.2 at a check (every 5 tau) by the horizon of
  120 tau (24,000 steps) after the quench; runs are simulated to 150 tau. The horizon
  was set from the first 10 runs only (9 of 10 crossed 0.2 by 150 tau, median crossing
  about 22,500 steps), before any probe was run, to balance the two outcomes.
* Per-run features: mean and std over the particles of the early frames of (a) the
  SSL-pretrained backbone's embedding, (b) the same backbone freshly initialised
  (control), (c) the shipped supervised default model's embedding, (d) Steinhardt Q4,
  Q6, W4, W6 (freud, 12 nearest neighbours, normalised W).
* Probe: L2 logistic regression on standardised features, L2 strength from
  {0.1, 1, 10, 100, 1000} by inner 3-fold CV on the training folds; stratified 5-fold
  CV repeated with 5 shuffles, the same splits for every feature set; AUC of the pooled
  out-of-fold decision values, mean +- std over the repeats.
* Positive control of the probe (uses later information, not a predictor from early
  frames): the default model's crystalline fraction at 25, 50 and 75 tau, same splits.

Both backbone families (``--families``, default ``density,ga_attention``: the
equivariant density backbone and geometric-algebra attention, see
:mod:`md_orderml.nn.families`) get rows (a) and (b). Without ``--pretrained`` each
backbone is pretrained here (pretext weights as in ``benchmarks/ssl_transfer.py``:
contrast 1, point groups 0.5; 80 library crystals and liquids x 8 epochs) plus the
first early frame of every kept run (unlabelled; outcomes are never used) and saved to
``--save-pretrained`` (with the family appended). Simulations are cached under
``~/.cache/md_orderml/precrystallization``. Ends with
``RESULT auc_ssl=<best SSL probe AUC over the families> auc_steinhardt=<Steinhardt probe AUC>``.

    python benchmarks/ssl_precrystallization.py [--families density,ga_attention] [--pretrained CKPT ...]
        [--plot precryst.png]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


CONTROL = "control: crystalline fraction at 25, 50, 75 tau (not early)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="independent runs (seeds 1..runs)")
    parser.add_argument("--families", default="density,ga_attention",
                        help="backbone families to pretrain and probe (comma-separated)")
    parser.add_argument("--pretrained", nargs="+", help="reuse pretrained checkpoints (any families) instead of pretraining")
    parser.add_argument("--save-pretrained", default="/tmp/precryst_pretrained.pt",
                        help="pretrained checkpoints go here, with _FAMILY before the suffix")
    parser.add_argument("--pretrain-structures", type=int, default=80)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--weights", default='{"contrast": 1.0, "pointgroup": 0.5}',
                        help="pretext task weights (JSON), as in benchmarks/ssl_transfer.py")
    parser.add_argument("--early-tau", type=float, default=10.0,
                        help="time after the quench of the last early frame (default 10 tau)")
    parser.add_argument("--horizon", type=float, default=120.0, help="outcome horizon, tau after the quench")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--plot", help="write a PNG (crystallinity vs time, AUC per feature set)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from md_orderml.analysis import OrderML
    from md_orderml.research.probes import probe_auc
    from md_orderml.ssl import precrystallization as pc
    from md_orderml.ssl.finetune import fresh_backbone
    from md_orderml.ssl.pretext import PretextConfig
    from md_orderml.nn.pretrained import load_pretrained_backbone
    from md_orderml.ssl.pretrain import PretrainConfig, pretrain

    t0 = time.time()
    config = pc.SimConfig()
    config = dataclasses.replace(config, early_steps=int(round(args.early_tau / config.timestep)))
    runs = pc.simulate_runs(config, range(1, args.runs + 1), log=print)
    t_sim = time.time() - t0
    kept = [r for r in runs if np.max(r["early_fraction"]) <= config.early_threshold]
    horizon = int(round(args.horizon / config.timestep))
    y = pc.outcomes(kept, horizon)
    n = kept[0]["early"].shape[1]
    print(f"\n{len(runs)} runs of N = {n} at density {config.density}, T* = {config.temperature}: "
          f"{len(runs) - len(kept)} dropped (crystalline > {config.early_threshold} in an early frame), "
          f"{y.sum()} of {len(kept)} kept crystallize (>= {config.crystal_threshold}) by "
          f"{args.horizon:g} tau ({horizon} steps); simulations {t_sim:.0f} s")
    if y.sum() < args.folds or (1 - y).sum() < args.folds:
        print("too few runs of one outcome for the cross-validation")
        return 1

    t1 = time.time()
    backbones = {}
    if args.pretrained:
        for path in args.pretrained:
            backbone, _ = load_pretrained_backbone(path)
            backbones[backbone.config.get("family", "density")] = backbone
            print(f"pretrained backbone from {path}")
    else:
        extra = pc.frames_graphs([pc.early_frames(r)[0] for r in kept], 1.6)
        for family in args.families.split(","):
            pconfig = PretrainConfig(n_structures=args.pretrain_structures, epochs=args.pretrain_epochs,
                                     pretext=PretextConfig(weights=json.loads(args.weights)))
            if family != "density":
                pconfig = dataclasses.replace(pconfig, architecture={"family": family})
            save = Path(args.save_pretrained)
            save = save.with_name(f"{save.stem}_{family}{save.suffix}")
            path = pretrain(pconfig, f"/tmp/precryst_pretrain_run_{family}", save, progress=False, extra=extra)
            backbones[family], state = load_pretrained_backbone(path)
            first, last = state["history"][0]["val"], state["history"][-1]["val"]
            print(f"pretraining ({family}): {pconfig.n_structures} library configurations + {len(extra)} early "
                  f"frames x {pconfig.epochs} epochs, {time.time() - t1:.0f} s; val losses: "
                  + ", ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in last))
            t1 = time.time()
    t2 = time.time()
    features = {}
    for family, backbone in backbones.items():
        features[f"SSL pretrained backbone ({family})"] = pc.backbone_features(backbone, kept)
        features[f"random backbone ({family}, control)"] = pc.backbone_features(
            fresh_backbone(backbone.cutoff, backbone.config, 0), kept)
    features.update({
        "supervised default model": pc.classifier_features(OrderML("default"), kept),
        "Steinhardt Q4 Q6 W4 W6": pc.steinhardt_features(kept),
        CONTROL: np.array([[r["fractions"][np.searchsorted(r["times"], t, side="right") - 1]
                            for t in (5000, 10000, 15000)] for r in kept]),
    })
    t3 = time.time()
    aucs = probe_auc(features, y, k=args.folds, repeats=args.repeats)
    print(f"features {t3 - t2:.0f} s, probes {time.time() - t3:.0f} s\n")
    print("| features (mean, std over particles) | dim | ROC AUC (mean +- std over repeats) |")
    print("|---|---:|---:|")
    for name, a in aucs.items():
        print(f"| {name} | {features[name].shape[1]} | {a.mean():.3f} +- {a.std():.3f} |")
    print(f"({len(kept)} runs, {y.sum()} crystallize; stratified {args.folds}-fold CV x {args.repeats} shuffles, "
          f"same splits for all; total {time.time() - t0:.0f} s)")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.6))
        for r, outcome in zip(kept, y):
            ax.plot(np.asarray(r["times"]) * config.timestep, r["fractions"], color="C3" if outcome else "C0",
                    lw=0.7, alpha=0.7)
        ax.axvline(config.early_steps * config.timestep, color="k", ls=":", label="early frame")
        ax.axhline(config.crystal_threshold, color="grey", ls="--", label="crystallized")
        ax.axvline(args.horizon, color="grey", ls="-.", label="horizon")
        ax.set_xlabel("time after quench (tau)")
        ax.set_ylabel("crystalline fraction (default model)")
        ax.set_title(f"rho={config.density}, T*={config.temperature}: red = crystallizes by the horizon", fontsize=8)
        ax.legend(fontsize=7)
        names = list(aucs)
        bx.barh(range(len(names)), [aucs[k].mean() for k in names], xerr=[aucs[k].std() for k in names], color="C2")
        bx.set_yticks(range(len(names)), names, fontsize=7)
        bx.axvline(0.5, color="grey", ls=":")
        bx.set_xlim(0, 1)
        bx.set_xlabel("probe ROC AUC")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    best_ssl = max(a.mean() for name, a in aucs.items() if name.startswith("SSL pretrained"))
    print(f"RESULT auc_ssl={best_ssl:.4f} "
          f"auc_steinhardt={aucs['Steinhardt Q4 Q6 W4 W6'].mean():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
