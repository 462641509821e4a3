"""``md-orderml train``: supervised training on generated structures, then export; or, with
``--reference``, a head for the user's own classes on a frozen backbone
(:mod:`md_orderml.training.reference_training`)."""

from __future__ import annotations

import dataclasses
import json


#: Named training settings (``--preset``; explicit options are then ignored).
#:
#: * ``classic``: the settings that made md_orderml/models/classic.pt, the seven-class model
#:   (fcc bcc hcp sc cd hd liquid) in the global length unit, the default before issues 20-21.
#: * ``default``: the shipped md_orderml/models/default.pt: every class of the prototype vocabulary
#:   (``--classes vocabulary``), lengths in each particle's local unit (md_orderml.local_scale), and
#:   the ``unknown`` rule calibrated at noise up to 7 %, with its liquid fallback
#:   (md_orderml.training.liquid_fallback: Kob-Andersen and Dzugutov liquids too):
#:   ``md-orderml train --preset default -o md_orderml/models/default.pt --run-dir runs/default``.
PRESETS = {
    "classic": dict(epochs=40, per_class=90, val_per_class=6, batch_size=8, noise_max=0.11, thermal_fraction=0.5,
                    cutoff=1.6, lr=3e-3, seed=0, threads=1, isolated_crystal_radius=1.2, isolated_crystal_neighbours=2,
                    length_unit="global", classes="default"),
}
PRESETS["default"] = dict(PRESETS["classic"], classes="vocabulary", length_unit="local", unknown_quantile=0.99,
                          calibration_per_class=9, calibration_noise_max=0.07, prototype_perturb=0.02,
                          unknown_average_radius=1.5, unknown_rescue_passes=3, liquid_fallback_quantile=0.97)
#: Named class lists of ``--classes`` (resolved in :func:`class_list`).
CLASS_LISTS = ("default", "vocabulary")


def add_parser(sub) -> None:
    """Register the ``train`` subcommand (its options, whose defaults need torch, when it is used)."""
    from md_orderml.cli.parser import deferred_options

    p = sub.add_parser("train", help="train a structure classifier on generated structures (or own classes: --reference)",
                       description="Train on the structure library (noisy crystals and LJ liquids) and export a model file. "
                                   "Checkpoints go to --run-dir after every epoch; --resume continues.")
    p.set_defaults(run=run)
    deferred_options(p, add_options)


def add_options(p) -> None:
    """Add the options of ``train`` to its parser ``p`` (defaults from :class:`~md_orderml.training.TrainConfig`)."""
    from md_orderml.threads import add_threads_option
    from md_orderml.training import TrainConfig
    from md_orderml.training.reference_training import DEFAULT_BACKBONE

    d = TrainConfig()
    p.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="settings of a named model (e.g. 'default', "
                   "the shipped default model); explicit options are ignored")
    p.add_argument("--run-dir", default="runs/train", help="checkpoint directory (default runs/train)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    p.add_argument("--classes", default="default",
                   help="classes to learn, comma-separated (crystals of the structure library and prototypes, "
                        "'liquid'), or 'default' (fcc,bcc,hcp,sc,cd,hd,liquid) or 'vocabulary' (those and every "
                        "vocabulary prototype: a15,c14,c15,beta_mn,sigma,clathrate_i,sh,beta_sn)")
    p.add_argument("--unknown-quantile", type=float, default=d.unknown_quantile,
                   help="exported model: > 0 adds the class 'unknown' for environments far from the training data "
                        "(Mahalanobis distance of the embedding); the fraction of held-out particles per class "
                        "that keep their label, e.g. 0.99; 0 = off (default)")
    p.add_argument("--unknown-average-radius", type=float, default=d.unknown_average_radius,
                   help="> 0: the unknown rule sees the embedding averaged over neighbours within this radius "
                        "(local units; the default preset: 1.5, with --unknown-rescue-passes 3 for hot crystals; "
                        "docs/results.md); 0 = each particle's own (default)")
    p.add_argument("--unknown-rescue-passes", type=int, default=d.unknown_rescue_passes,
                   help="> 0: unknown particles take their head's class back where at least a quarter of their "
                        "neighbours within 1.4 units carry it, in this many rounds (the default preset: 3); 0 = off")
    p.add_argument("--liquid-fallback-quantile", type=float, default=d.liquid_fallback_quantile,
                   help="> 0: unknown particles close to a Gaussian of LJ, Kob-Andersen and Dzugutov liquids "
                        "become liquid; its threshold is this quantile of calibration liquids' squared distances "
                        "(LAMMPS runs, cached; the default preset: 0.97); 0 = off (default)")
    p.add_argument("--calibration-per-class", type=int, default=d.calibration_per_class,
                   help="held-out structures per class calibrating the unknown rule (default %(default)s)")
    p.add_argument("--calibration-noise-max", type=float, default=d.calibration_noise_max,
                   help="largest crystal noise of those structures (default %(default)s)")
    p.add_argument("--prototype-perturb", type=float, default=d.prototype_perturb,
                   help="relative perturbation of the prototypes' free Wyckoff parameters and c/a "
                        "(default %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--per-class", type=int, default=d.per_class, help="training structures per class")
    p.add_argument("--val-per-class", type=int, default=d.val_per_class)
    p.add_argument("--noise-max", type=float, default=d.noise_max, help="largest noise, fraction of nn distance")
    p.add_argument("--cutoff", type=float, default=d.cutoff, help="cutoff in the length unit")
    p.add_argument("--length-unit", choices=("global", "local"), default=d.length_unit,
                   help="global: lengths in units of (V/N)^(1/3) of the whole system (default); local: in each "
                        "particle's own unit (6th-neighbour distance / 2^(1/6), capped for vapour: labels "
                        "independent of vacuum and other phases)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--thermal-fraction", type=float, default=d.thermal_fraction,
                   help="fraction of fcc/bcc/hcp/cd/liquid structures from MD of real potentials (needs LAMMPS)")
    p.add_argument("--architecture", metavar="JSON", help="backbone settings overriding the defaults")
    p.add_argument("--init-backbone", metavar="PRETRAINED",
                   help="start from the backbone of a pretrained checkpoint (md-orderml pretrain; same architecture)")
    p.add_argument("--isolated-crystal-radius", type=float, default=d.isolated_crystal_radius,
                   help="exported model: a crystal label needs crystal-labelled neighbours within this radius "
                        "(units of (V/N)^(1/3)), else 'liquid'; 0 = off (default)")
    p.add_argument("--isolated-crystal-neighbours", type=int, default=d.isolated_crystal_neighbours,
                   help="crystal-labelled neighbours a crystal label needs (default %(default)s)")
    p.add_argument("--device", default="cpu")
    g = p.add_argument_group("own classes from reference frames (the options above but -o, --seed, --unknown-quantile, "
                             "--threads and --quiet are then unused)")
    g.add_argument("--reference", action="append", metavar="NAME=PATH[:frames=A:B][:types=T,...][:mask=FILE]",
                   help="frames of a GSD, LAMMPS dump or XYZ file (or a CIF, POSCAR... read by ASE) whose (selected) "
                        "particles are examples of class NAME; repeat for more files and classes; mask: a file of "
                        "one 0/1 per particle")
    g.add_argument("--with-default-classes", action="store_true",
                   help="also learn the vocabulary classes (fcc, bcc, ..., liquid) from the structure library")
    g.add_argument("--backbone", default=DEFAULT_BACKBONE,
                   help="frozen backbone: the default model's ('default', the default: more accurate in "
                        "docs/results.md), the shipped self-supervised one ('pretrained'), a pretrain checkpoint "
                        "or a local-unit model file")
    g.add_argument("--head", choices=("mlp", "linear"), default="mlp", help="head on the embedding (default mlp)")
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true")


def run(args) -> int:
    """Run ``md-orderml train``."""
    from md_orderml.threads import set_threads

    if args.reference:
        return run_references(args)
    if args.preset:
        for key, value in PRESETS[args.preset].items():
            setattr(args, key, value)
    set_threads(args.threads)
    from md_orderml.training import train

    config = train_config(args)
    path = train(config, args.run_dir, args.output, resume=args.resume, device=args.device,
                 progress=not args.quiet)
    print(f"wrote {path}")
    return 0


def train_config(args):
    """The :class:`~md_orderml.training.TrainConfig` of parsed ``train`` options (preset already applied)."""
    from md_orderml.training import TrainConfig

    config = TrainConfig(
        epochs=args.epochs, per_class=args.per_class, val_per_class=args.val_per_class,
        noise_max=args.noise_max, cutoff=args.cutoff, lr=args.lr, batch_size=args.batch_size,
        seed=args.seed, thermal_fraction=args.thermal_fraction, init_backbone=args.init_backbone,
        isolated_crystal_radius=args.isolated_crystal_radius,
        isolated_crystal_neighbours=args.isolated_crystal_neighbours, length_unit=args.length_unit,
        class_names=class_list(args.classes), unknown_quantile=args.unknown_quantile,
        calibration_per_class=args.calibration_per_class, calibration_noise_max=args.calibration_noise_max,
        prototype_perturb=args.prototype_perturb, unknown_average_radius=args.unknown_average_radius,
        unknown_rescue_passes=args.unknown_rescue_passes, liquid_fallback_quantile=args.liquid_fallback_quantile,
    )
    if args.architecture:
        config = dataclasses.replace(config, architecture={**config.architecture, **json.loads(args.architecture)})
    return config


def preset_config(name: str):
    """The :class:`~md_orderml.training.TrainConfig` of a preset (:data:`PRESETS`)."""
    import argparse

    parser = argparse.ArgumentParser()
    add_options(parser)
    args = parser.parse_args(["-o", "unused", "--preset", name])
    for key, value in PRESETS[name].items():
        setattr(args, key, value)
    return train_config(args)


def run_references(args) -> int:
    """``md-orderml train --reference ...``: :func:`~md_orderml.training.reference_training.train_from_references`."""
    from md_orderml.errors import InputError
    from md_orderml.threads import set_threads

    if args.preset or args.resume:
        raise InputError("--reference trains its own classes: leave out --preset and --resume")
    set_threads(args.threads)
    from md_orderml.training.reference_training import train_from_references

    train_from_references(args.reference, args.output, backbone=args.backbone,
                          with_default_classes=args.with_default_classes, head=args.head, seed=args.seed,
                          unknown_quantile=args.unknown_quantile or 0.99, progress=not args.quiet)
    return 0


def class_list(classes: str) -> tuple:
    """The class names of ``--classes``: a comma-separated list, or a name of :data:`CLASS_LISTS`.

    Raises:
        InputError: An empty list.
    """
    from md_orderml.errors import InputError
    from md_orderml.training.data import DEFAULT_CLASSES, VOCABULARY_CLASSES

    named = {"default": DEFAULT_CLASSES, "vocabulary": VOCABULARY_CLASSES}
    names = named.get(classes.strip()) or tuple(n.strip() for n in classes.split(",") if n.strip())
    if not names:
        raise InputError(f"--classes {classes!r} names no class")
    return names
