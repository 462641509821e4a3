"""``md-orderml research export-propensity``: turn a propensity training checkpoint into a model file."""

from __future__ import annotations

from md_orderml.threads import add_threads_option


def add_parser(sub) -> None:
    """Register the ``export-propensity`` subcommand."""
    p = sub.add_parser("export-propensity", help="export a 'research train-propensity --checkpoint' checkpoint "
                       "as a regression model file")
    p.add_argument("checkpoint", help="checkpoint written by 'md-orderml research train-propensity --checkpoint'")
    p.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    add_threads_option(p)
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml research export-propensity``."""
    from md_orderml.threads import set_threads

    set_threads(args.threads)
    from md_orderml.errors import ModelFileError
    from md_orderml.research.glassy.propensity_model import export_checkpoint, is_propensity_checkpoint

    if not is_propensity_checkpoint(args.checkpoint):
        raise ModelFileError(f"{args.checkpoint}: not a propensity checkpoint "
                             "(written by 'md-orderml research train-propensity --checkpoint')")
    print(f"wrote {export_checkpoint(args.checkpoint, args.output)}")
    return 0
