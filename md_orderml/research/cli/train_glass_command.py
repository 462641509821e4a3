"""``md-orderml research train-glass``: a glass-vs-liquid classifier of 2D Kob-Andersen configurations.

Generates (or reads from ``~/.cache/md_orderml/glassy``) liquids and liquid-cooled
glasses at matched inherent-structure energy (:mod:`md_orderml.research.glassy.glass2d`),
cross-validates and fits the per-particle classifier (``--method probe``, the default: a
logistic probe on the frozen equivariant backbone, :mod:`md_orderml.research.glassy.glass_probe`;
``--method network``: the network of :mod:`md_orderml.research.glassy.glass_model` trained end to
end) and writes a 2D classification model file
(classes ``liquid``, ``glass``; types ``A``, ``B``: give ``--type-map '{"1": "A", "2": "B"}'``
for LAMMPS files), which ``md-orderml label`` runs like any other.
"""

from __future__ import annotations

from md_orderml.research.cli.glassy_options import add_shared_options, data_and_architecture


def add_parser(sub) -> None:
    """Register the ``train-glass`` subcommand."""
    p = sub.add_parser(
        "train-glass", help="train a glass-vs-liquid classifier (2D Kob-Andersen)",
        description="Fit a classifier on the equivariant backbone that tells 2D Kob-Andersen liquids from "
                    "liquid-cooled glasses at matched inherent-structure energy (generated with LAMMPS and cached), "
                    "with configuration labels (mean per-particle log-odds), and export a 2D classification model "
                    "file.")
    p.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    p.add_argument("--quick", action="store_true", help="small data set (N = 300, 16 configurations per class)")
    p.add_argument("--data", metavar="JSON", help="Glass2DConfig settings overriding the (quick) defaults, "
                   'e.g. \'{"n_particles": 200, "n_per_class": 8}\'')
    p.add_argument("--method", choices=("probe", "network"), default="probe",
                   help="probe: logistic regression on the frozen backbone's mean embedding (default, seconds); "
                        "network: train the backbone end to end")
    p.add_argument("--epochs", type=int, default=None, help="training epochs of --method network (default 80)")
    p.add_argument("--folds", type=int, default=4, help="cross-validation folds for the reported AUC (0: none)")
    add_shared_options(p, "glass")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml research train-glass``."""
    from md_orderml.errors import InputError
    from md_orderml.research.glassy.glass2d import QUICK, Glass2DConfig, load_or_generate
    from md_orderml.research.glassy.glass_model import GLASS2D_ARCHITECTURE, GlassFit
    from md_orderml.research.glassy.glass_training import train_glass_model

    config, arch = data_and_architecture(args, QUICK, Glass2DConfig(), GLASS2D_ARCHITECTURE)
    epochs = args.epochs if args.epochs is not None else GlassFit().epochs
    if epochs <= 0:
        raise InputError(f"--epochs {epochs}: give a positive number")
    data = load_or_generate(config, cache_dir=args.cache_dir, progress=not args.quiet)
    result = train_glass_model(data, args.output, folds=args.folds, fit=GlassFit(epochs=epochs, seed=args.seed),
                               architecture=arch, split_seed=args.seed, progress=not args.quiet,
                               method=args.method)
    if not args.quiet:
        auc = ", ".join(f"{k} {v:.3f}" for k, v in result.cv_auc.items())
        print(f"trained in {result.seconds:.0f} s on {len(result.labels)} configurations; "
              f"cross-validated AUC: {auc}")
    print(f"wrote {result.model_path}")
    return 0
