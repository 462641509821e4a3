"""``md-orderml pretrain``: self-supervised pretraining of the backbone on unlabelled environments."""

from __future__ import annotations

import dataclasses
import json

#: Named pretraining settings. ``default`` made the backbone that the shipped default
#: model starts from (``md-orderml train --preset default --init-backbone ...``) and is
#: the pretraining of ``benchmarks/ssl_transfer.py``.
PRESETS = {
    "default": dict(structures=300, epochs=20, weights='{"contrast": 1.0, "pointgroup": 0.5, "nearest_bond": 1.0}',
                    threads=1),
}
#: ``shipped``: the pretrained backbone inside the package (md_orderml/models/backbone.pt), which
#: ``md-orderml train --reference`` and ``md-orderml discover`` start from:
#: ``md-orderml pretrain --preset shipped -o md_orderml/models/backbone.pt --run-dir runs/backbone``.
#: The ``default`` tasks in the default model's local length unit, on every vocabulary crystal.
PRESETS["shipped"] = dict(PRESETS["default"], length_unit="local", kinds="vocabulary")


def add_parser(sub) -> None:
    """Register the ``pretrain`` subcommand (its options, whose defaults need torch, when it is used)."""
    from md_orderml.cli.parser import deferred_options

    p = sub.add_parser("pretrain", help="self-supervised pretraining of the backbone (pretext tasks)",
                       description="Pretrain the equivariant backbone on unlabelled noisy crystals, LJ liquids and "
                                   "optional trajectory frames with pretext tasks (denoising, noisy-bond and shift "
                                   "identification, particle-level contrastive view invariance, nearest-bond "
                                   "prediction, point-group classification of generated symmetric clouds). Writes a "
                                   "pretrained checkpoint for 'md-orderml finetune' and 'md-orderml train "
                                   "--init-backbone'.")
    p.set_defaults(run=run)
    deferred_options(p, add_options)


def add_options(p) -> None:
    """Add the options of ``pretrain`` to its parser ``p`` (defaults from :class:`~md_orderml.ssl.pretrain.PretrainConfig`)."""
    from md_orderml.ssl.pretrain import PretrainConfig
    from md_orderml.threads import add_threads_option

    d = PretrainConfig()
    p.add_argument("-o", "--output", required=True, help="pretrained checkpoint to write (.pt)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="named settings (e.g. 'default': 300 configurations x "
                   "20 epochs, contrast + point groups + nearest bond); the options it sets are ignored")
    p.add_argument("--run-dir", default="runs/pretrain", help="per-epoch checkpoint directory")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/pretrain_checkpoint.pt")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--structures", type=int, default=d.n_structures, help="unlabelled configurations generated")
    p.add_argument("--liquid-fraction", type=float, default=d.liquid_fraction)
    p.add_argument("--noise-max", type=float, default=d.noise_max)
    p.add_argument("--frames", nargs="*", default=[], metavar="TRAJ",
                   help="unlabelled trajectory files (GSD, LAMMPS dump, XYZ) added to the data")
    p.add_argument("--max-frames", type=int, default=20, help="frames taken from each --frames file")
    p.add_argument("--weights", metavar="JSON", default=json.dumps(d.pretext.weights),
                   help="task weights, e.g. '{\"contrast\": 1, \"pointgroup\": 0.5}'; tasks: denoise, noisy_bond, "
                        "shift, contrast, nearest_bond, pointgroup")
    p.add_argument("--cutoff", type=float, default=d.cutoff)
    p.add_argument("--length-unit", choices=("global", "local"), default=d.length_unit,
                   help="global: lengths in units of (V/N)^(1/3) (default); local: each particle's own unit, "
                        "as the default model")
    p.add_argument("--kinds", default="simple", help="crystals generated: 'simple' (fcc,bcc,hcp,sc,cd,hd; "
                   "default), 'vocabulary' (those and every vocabulary prototype) or a comma-separated list")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--architecture", metavar="JSON", help="backbone settings overriding the defaults")
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true")


def run(args) -> int:
    """Run ``md-orderml pretrain``."""
    from md_orderml.threads import set_threads

    if args.preset:
        for key, value in PRESETS[args.preset].items():
            setattr(args, key, value)
    set_threads(args.threads)
    from md_orderml.errors import InputError
    from md_orderml.ssl.data import trajectory_samples
    from md_orderml.ssl.pretext import TASKS, PretextConfig
    from md_orderml.ssl.pretrain import PretrainConfig, pretrain

    weights = {k: float(v) for k, v in json.loads(args.weights).items()}
    if set(weights) - set(TASKS) or not any(v > 0 for v in weights.values()):
        raise InputError(f"--weights: tasks are {', '.join(TASKS)} and at least one weight must be > 0")
    config = PretrainConfig(cutoff=args.cutoff, n_structures=args.structures, liquid_fraction=args.liquid_fraction,
                            noise_max=args.noise_max, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            seed=args.seed, pretext=PretextConfig(weights=weights), length_unit=args.length_unit,
                            kinds=crystal_kinds(args.kinds))
    if args.architecture:
        config = dataclasses.replace(config, architecture={**config.architecture, **json.loads(args.architecture)})
    extra = []
    for path in args.frames:
        extra += trajectory_samples(path, config.cutoff, max_frames=args.max_frames, length_unit=config.length_unit)
    path = pretrain(config, args.run_dir, args.output, resume=args.resume, progress=not args.quiet, extra=extra)
    print(f"wrote {path}")
    return 0


def crystal_kinds(text: str):
    """The crystal kinds of ``--kinds``: ``None`` for ``simple``, the vocabulary crystals, or a list.

    Raises:
        InputError: A name that is neither a library crystal nor a prototype.
    """
    from md_orderml.errors import InputError
    from md_orderml.prototype_table import PROTOTYPES
    from md_orderml.structures import CRYSTALS
    from md_orderml.training.data import VOCABULARY_CLASSES

    if text.strip() == "simple":
        return None
    if text.strip() == "vocabulary":
        return tuple(n for n in VOCABULARY_CLASSES if n != "liquid")
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in CRYSTALS and n not in PROTOTYPES]
    if bad or not names:
        raise InputError(f"--kinds: {', '.join(bad) or 'nothing'} is no crystal of the library")
    return names
