"""Transfer benchmark: does self-supervised pretraining help with few labels?

Pretrains the backbone on 300 unlabelled noisy crystals (fcc bcc hcp sc cd hd, noise
up to 8 %) and LJ liquids (``md_orderml.ssl.pretrain``) for 20 epochs with the
particle-level contrastive pretext, nearest-bond prediction and point-group
classification of generated clouds (default ``--weights``; the held-out structures are
not in the pretraining data), then trains labelers for the
held-out task of :mod:`md_orderml.ssl.tasks` (fcc, hcp, bcc, bct, A15, simple
hexagonal, liquid at 4-12 % noise; bct, A15 and sh never appear in pretraining) from
10, 100 and 1000 labelled environments (particles, balanced over classes, the same
draw for every method):

* ``frozen-pretrained``: pretrained backbone fixed, linear head;
* ``finetuned-pretrained``: linear probe, then backbone and head trained together;
* ``scratch``: the same as ``finetuned`` from a freshly initialised backbone (its
  linear probe on random features is reported as ``frozen-random``).

Accuracy = mean over classes of the per-particle accuracy on separate test
configurations. Prints a table and ends with
``RESULT transfer_gain_100=<frozen-pretrained minus scratch at 100 labels>``.

``--family`` picks the backbone family of the pretrained and scratch models
(``density``: the equivariant density backbone, ``ga_attention``: geometric-algebra
attention, see :mod:`md_orderml.nn.families`).

    python benchmarks/ssl_transfer.py [--quick] [--family ga_attention] [--seeds 3] [--plot ssl_transfer.png]
        [--pretrained CKPT] [--structures 300] [--epochs 20] [--weights JSON]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time

import numpy as np
import torch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller pretraining and fewer steps (a few minutes)")
    parser.add_argument("--pretrained", help="reuse a pretrained checkpoint instead of pretraining")
    parser.add_argument("--family", default="density", choices=("density", "ga_attention"),
                        help="backbone family of the pretrained and scratch models")
    parser.add_argument("--save-pretrained", help="where the pretrained checkpoint goes "
                        "(default /tmp/ssl_transfer_pretrained[_FAMILY].pt)")
    parser.add_argument("--structures", type=int, help="pretraining configurations (default 300, quick 60)")
    parser.add_argument("--epochs", type=int, help="pretraining epochs (default 20, quick 6)")
    parser.add_argument("--weights", default='{"contrast": 1.0, "pointgroup": 0.5, "nearest_bond": 1.0}',
                        help="pretext task weights (JSON), see md_orderml.ssl.pretext.TASKS")
    parser.add_argument("--labels", default="10,100,1000")
    parser.add_argument("--seeds", type=int, default=1, help="label draws (and scratch initialisations) per size")
    parser.add_argument("--plot", help="write a PNG of accuracy vs labels")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from md_orderml.ssl.data import pick_environments
    from md_orderml.ssl.finetune import FinetuneConfig, balanced_accuracy, finetune, fresh_backbone
    import json

    from md_orderml.ssl.pretext import PretextConfig
    from md_orderml.nn.pretrained import load_pretrained_backbone
    from md_orderml.ssl.pretrain import PretrainConfig, pretrain
    from md_orderml.ssl.tasks import HELDOUT_CLASSES, heldout_samples

    suffix = "" if args.family == "density" else "_" + args.family
    save_pretrained = args.save_pretrained or f"/tmp/ssl_transfer_pretrained{suffix}.pt"
    print(f"backbone family: {args.family}")
    t0 = time.time()
    if args.pretrained:
        pretrained, _ = load_pretrained_backbone(args.pretrained)
        print(f"pretrained backbone from {args.pretrained} (family {pretrained.config.get('family', 'density')})")
    else:
        structures = args.structures or (60 if args.quick else 300)
        epochs = args.epochs or (6 if args.quick else 20)
        config = PretrainConfig(n_structures=structures, epochs=epochs,
                                pretext=PretextConfig(weights=json.loads(args.weights)))
        if args.family != "density":
            config = dataclasses.replace(config, architecture={"family": args.family})
        path = pretrain(config, "/tmp/ssl_transfer_run" + suffix, save_pretrained, progress=False)
        pretrained, state = load_pretrained_backbone(path)
        last = state["history"][-1]["val"]
        first = state["history"][0]["val"]
        print(f"pretraining: {config.n_structures} configurations x {config.epochs} epochs, "
              f"{time.time() - t0:.0f} s, weights {args.weights}; val losses epoch 1 -> {config.epochs}: "
              + ", ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in last))
    t1 = time.time()
    n_classes = len(HELDOUT_CLASSES)
    pool = heldout_samples(8 if args.quick else 12, pretrained.cutoff, seed=101)
    test = heldout_samples(3 if args.quick else 4, pretrained.cutoff, seed=202)
    print(f"held-out task: {', '.join(HELDOUT_CLASSES)}; pool {len(pool)} configurations "
          f"({sum(s.n for s in pool)} particles), test {len(test)} ({sum(s.n for s in test)}); {time.time() - t1:.0f} s")
    steps = 60 if args.quick else 150
    sizes = [int(x) for x in args.labels.split(",")]
    methods = ("frozen-pretrained", "finetuned-pretrained", "frozen-random", "scratch")
    results = {m: {n: [] for n in sizes} for m in methods}
    for seed in range(args.seeds):
        for n_labels in sizes:
            picked = pick_environments(pool, n_labels, n_classes, np.random.default_rng(1000 * seed + n_labels))
            runs = {
                "frozen-pretrained": (copy.deepcopy(pretrained), "frozen"),
                "finetuned-pretrained": (copy.deepcopy(pretrained), "full"),
                "frozen-random": (fresh_backbone(pretrained.cutoff, pretrained.config, seed), "frozen"),
                "scratch": (fresh_backbone(pretrained.cutoff, pretrained.config, seed), "full"),
            }
            for method, (backbone, mode) in runs.items():
                start = time.time()
                labeler = finetune(backbone, n_classes, pool, picked, FinetuneConfig(mode=mode, steps=steps, seed=seed))
                acc, _ = balanced_accuracy(labeler, test, n_classes)
                results[method][n_labels].append(acc)
                print(f"  seed {seed} labels {n_labels:5d} {method:21s} accuracy {acc:.3f} ({time.time() - start:.0f} s)",
                      flush=True)

    print()
    print("| labelled environments | " + " | ".join(methods) + " |")
    print("|---:|" + "---:|" * len(methods))
    for n in sizes:
        print(f"| {n} | " + " | ".join(f"{100 * np.mean(results[m][n]):.1f} %" for m in methods) + " |")
    print(f"(balanced test accuracy, mean of {args.seeds} label draw(s); total {time.time() - t0:.0f} s)")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.6))
        for m in methods:
            ax.plot(sizes, [100 * np.mean(results[m][n]) for n in sizes], "o-", label=m)
        ax.axhline(100 / n_classes, color="grey", ls=":", label="chance")
        ax.set_xscale("log")
        ax.set_xlabel("labelled environments")
        ax.set_ylabel("balanced test accuracy (%)")
        ax.set_title("held-out task: " + " ".join(HELDOUT_CLASSES), fontsize=8)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    if 100 in sizes:
        gain = np.mean(results["frozen-pretrained"][100]) - np.mean(results["scratch"][100])
        print(f"RESULT transfer_gain_100={gain:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
