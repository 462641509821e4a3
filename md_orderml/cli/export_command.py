"""``md-orderml export``: turn a training checkpoint into a model file, or re-export a model file."""

from __future__ import annotations

from md_orderml.threads import add_threads_option


def add_parser(sub) -> None:
    """Register the ``export`` subcommand."""
    p = sub.add_parser("export", help="export a training checkpoint as a TorchScript model file, or "
                       "re-export a classification model file with the current code (same weights)")
    p.add_argument("checkpoint", help="checkpoint.pt written by 'md-orderml train', or a classification "
                   "model file (or 'default', 'classic') to re-export")
    p.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    add_threads_option(p)
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml export``."""
    from md_orderml.threads import set_threads

    set_threads(args.threads)
    from md_orderml.errors import ModelFileError
    from md_orderml.model_file import SHIPPED_MODELS
    from md_orderml.model_reexport import reexport_model_file
    from md_orderml.training import Trainer

    if args.checkpoint in SHIPPED_MODELS or is_model_file(args.checkpoint):
        print(f"wrote {reexport_model_file(args.checkpoint, args.output)}")
        return 0
    try:
        trainer = Trainer.from_checkpoint(args.checkpoint)
    except Exception as err:
        raise ModelFileError(f"{args.checkpoint}: not a training checkpoint ({type(err).__name__}: {err}); "
                             "propensity checkpoints: md-orderml research export-propensity") from None
    print(f"wrote {trainer.export(args.output)}")
    return 0


def is_model_file(path) -> bool:
    """Whether ``path`` is an md_orderml model file (a zip archive with md_orderml metadata)."""
    from md_orderml.errors import ModelFileError
    from md_orderml.model_file import read_metadata

    try:
        read_metadata(path)
    except ModelFileError:
        return False
    return True
