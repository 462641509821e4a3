"""``md-orderml finetune``: train a labeler from a pretrained backbone on few labelled environments."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register the ``finetune`` subcommand (its options, whose defaults need torch, when it is used)."""
    from md_orderml.cli.parser import deferred_options

    p = sub.add_parser("finetune", help="fine-tune a pretrained backbone on N labelled environments, export a model",
                       description="Label N environments of a generated task, train a head on the (frozen) pretrained "
                                   "backbone or fine-tune everything, report balanced test accuracy and export a "
                                   "normal model file (outputs include the embedding).")
    p.set_defaults(run=run)
    deferred_options(p, add_options)


def add_options(p) -> None:
    """Add the options of ``finetune`` to its parser ``p`` (defaults from :class:`~md_orderml.ssl.finetune.FinetuneConfig`)."""
    from md_orderml.ssl.finetune import FinetuneConfig
    from md_orderml.threads import add_threads_option

    d = FinetuneConfig()
    p.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    p.add_argument("--pretrained", help="checkpoint from 'md-orderml pretrain' (omit: a fresh backbone, from scratch)")
    p.add_argument("--labels", type=int, default=100, help="number of labelled environments (particles)")
    p.add_argument("--mode", choices=("frozen", "full"), default=d.mode)
    p.add_argument("--head", choices=("linear", "mlp"), default=d.head)
    p.add_argument("--task", choices=("heldout", "default"), default="heldout", help="labelled task (see md_orderml.ssl.tasks)")
    p.add_argument("--pool-per-class", type=int, default=4, help="labelled configurations per class to draw from")
    p.add_argument("--test-per-class", type=int, default=2, help="test configurations per class (0: no test)")
    p.add_argument("--steps", type=int, default=d.steps, help="full fine-tuning steps")
    p.add_argument("--probe-steps", type=int, default=d.probe_steps)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default="runs/finetune", help="where the fine-tuned checkpoint goes")
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true")


def run(args) -> int:
    """Run ``md-orderml finetune``."""
    import dataclasses
    from pathlib import Path

    from md_orderml.threads import set_threads

    set_threads(args.threads)
    import numpy as np
    import torch

    from md_orderml.ssl.data import pick_environments
    from md_orderml.ssl.finetune import (FinetuneConfig, balanced_accuracy, export_labeler, finetune,
                                         fresh_backbone, summary)
    from md_orderml.nn.pretrained import load_pretrained_backbone
    from md_orderml.ssl.tasks import task_samples

    if args.pretrained:
        backbone, state = load_pretrained_backbone(args.pretrained)
        origin = {"pretrained": str(args.pretrained), "pretraining": summary(state.get("history", []))}
    else:
        backbone, origin = fresh_backbone(1.6, None, args.seed), {"pretrained": None}
    names, pool = task_samples(args.task, args.pool_per_class, backbone.cutoff, args.seed)
    picked = pick_environments(pool, args.labels, len(names), np.random.default_rng(args.seed))
    config = FinetuneConfig(mode=args.mode, head=args.head, steps=args.steps, probe_steps=args.probe_steps,
                            lr=args.lr, seed=args.seed)
    labeler = finetune(backbone, len(names), pool, picked, config, progress=not args.quiet)
    training = {"kind": "finetuned", "task": args.task, "labels": len(picked), **dataclasses.asdict(config), **origin}
    if args.test_per_class > 0:
        _, test = task_samples(args.task, args.test_per_class, backbone.cutoff, args.seed + 7919)
        acc, per_class = balanced_accuracy(labeler, test, len(names))
        training["test_balanced_accuracy"] = acc
        if not args.quiet:
            print("test accuracy " + " ".join(f"{n}={a:.3f}" for n, a in zip(names, per_class)) + f" mean={acc:.3f}")
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"model": labeler.state_dict(), "class_names": list(names), "training": training},
               run_dir / "finetune_checkpoint.pt")
    print(f"wrote {export_labeler(labeler, names, args.output, training)}")
    return 0
