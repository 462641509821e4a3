"""``md-orderml research train-propensity``: a per-particle propensity model of the Kob-Andersen glass former.

Generates (or reads from ``~/.cache/md_orderml/glassy``) the iso-configurational data of
:mod:`md_orderml.research.glassy.data`, trains :class:`~md_orderml.research.glassy.propensity.PropensityRegressor`,
blends it with a ridge on in-model expert descriptors
(:class:`~md_orderml.research.glassy.expert_torch.HybridPropensityRegressor`; ``--no-expert``: the
network alone) and writes a regression model file (see
:mod:`md_orderml.research.glassy.propensity_model`), which ``md-orderml label``, the LAMMPS Python
compute and the HOOMD analyzer run.
"""

from __future__ import annotations

from md_orderml.research.cli.glassy_options import add_shared_options, data_and_architecture


def add_parser(sub) -> None:
    """Register the ``train-propensity`` subcommand."""
    p = sub.add_parser(
        "train-propensity", help="train a per-particle propensity model (Kob-Andersen glass former)",
        description="Train the equivariant backbone with a regression head on iso-configurational propensities of "
                    "the 3D Kob-Andersen mixture (generated with LAMMPS and cached), blend it with a ridge on "
                    "Boattini-style descriptors computed inside the model, and export a regression model file. "
                    "The default data set takes about 10 minutes to generate on one core, --quick about 2.")
    p.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    p.add_argument("--quick", action="store_true", help="T = 0.8 data set (6 configurations x 8 draws)")
    p.add_argument("--data", metavar="JSON", help="GlassyConfig settings overriding the (quick) defaults, "
                   'e.g. \'{"n_particles": 300, "n_configs": 3}\'')
    p.add_argument("--fractions", default="0.1,0.5,1.0",
                   help="time scales in units of tau_alpha, one output each (default 0.1,0.5,1.0)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--test", type=int, default=1, help="held-out configurations for the reported score (default 1)")
    p.add_argument("--cutoff", type=float, default=2.0, help="cutoff in units of (V/N)^(1/3) (default 2)")
    p.add_argument("--no-expert", action="store_true",
                   help="the network alone (default: blended with a ridge on Boattini-style descriptors computed "
                        "inside the model, see md_orderml.research.glassy.expert_torch)")
    p.add_argument("--checkpoint", metavar="PT", help="also save a checkpoint (md-orderml research export-propensity re-exports it)")
    add_shared_options(p, "glassy")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml research train-propensity``."""
    from md_orderml.errors import InputError
    from md_orderml.research.glassy.data import QUICK, GlassyConfig, load_or_generate
    from md_orderml.research.glassy.propensity import GLASSY_ARCHITECTURE
    from md_orderml.research.glassy.propensity_model import train_propensity_model

    config, arch = data_and_architecture(args, QUICK, GlassyConfig(), GLASSY_ARCHITECTURE)
    try:
        fractions = [float(f) for f in args.fractions.split(",") if f.strip()]
    except ValueError as err:
        raise InputError(f"bad option: {err}") from None
    if not fractions or min(fractions) <= 0:
        raise InputError(f"--fractions {args.fractions!r}: give positive fractions of tau_alpha")
    data = load_or_generate(config, cache_dir=args.cache_dir, progress=not args.quiet)
    result = train_propensity_model(data, args.output, fractions, epochs=args.epochs, test=args.test,
                                    cutoff=args.cutoff, architecture=arch, seed=args.seed,
                                    checkpoint=args.checkpoint, progress=not args.quiet, expert=not args.no_expert)
    if not args.quiet:
        scores = ", ".join(f"{n} {s:.3f}" for n, s in zip(result.value_names, result.pearson))
        print(f"trained {args.epochs} epochs in {result.seconds:.0f} s (best epoch {result.best_epoch}); "
              f"held-out Pearson (A particles): {scores}")
        if result.checkpoint is not None:
            print(f"wrote {result.checkpoint}")
    print(f"wrote {result.model_path}")
    return 0
