"""``md-orderml calibrate-unknown``: fit a model file's ``unknown`` rule again, with a preset's settings."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register the ``calibrate-unknown`` subcommand."""
    from md_orderml.threads import add_threads_option

    p = sub.add_parser(
        "calibrate-unknown", help="fit a model file's unknown rule again (same weights, new rule settings)",
        description="Rebuild a model file from its weights, regenerate the training and calibration structures "
                    "of the preset it was trained with, fit and calibrate the unknown rule with the preset's "
                    "current settings (e.g. the neighbour-averaged embedding) and write the model file. Labels "
                    "other than 'unknown' do not change. The shipped default: 'md-orderml calibrate-unknown "
                    "default --preset default -o md_orderml/models/default.pt'.")
    p.add_argument("model", help="model file: a path, 'default' or 'classic'")
    p.add_argument("-o", "--output", required=True, help="model file to write (may be the input)")
    p.add_argument("--preset", required=True, help="the 'md-orderml train' preset the model was trained with")
    p.add_argument("--unknown-average-radius", type=float,
                   help="override the preset's radius of the unknown rule's neighbour average (0: off)")
    p.add_argument("--unknown-rescue-passes", type=int, help="override the preset's rounds of the unknown rescue")
    p.add_argument("--liquid-fallback-quantile", type=float,
                   help="override the preset's quantile of the unknown rule's liquid fallback (0: off)")
    p.add_argument("--calibration-per-class", type=int,
                   help="override the preset's number of calibration structures per class")
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml calibrate-unknown``."""
    import dataclasses

    from md_orderml.cli.train_command import PRESETS, preset_config
    from md_orderml.errors import InputError
    from md_orderml.threads import set_threads

    if args.preset not in PRESETS:
        raise InputError(f"--preset {args.preset!r}: known presets are {', '.join(sorted(PRESETS))}")
    set_threads(args.threads)
    from md_orderml.training.recalibration import recalibrate_unknown

    config = preset_config(args.preset)
    overrides = {"unknown_average_radius": args.unknown_average_radius,
                 "unknown_rescue_passes": args.unknown_rescue_passes,
                 "calibration_per_class": args.calibration_per_class,
                 "liquid_fallback_quantile": args.liquid_fallback_quantile}
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    path = recalibrate_unknown(args.model, config, args.output, progress=not args.quiet)
    print(f"wrote {path}")
    return 0
