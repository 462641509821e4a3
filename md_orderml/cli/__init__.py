"""The ``md-orderml`` command line: one module per subcommand.

Core commands: ``label``, ``info``, ``export``, ``train``, ``pretrain``, ``finetune``, ``calibrate-unknown``
(module ``calibrate_command``), ``discover`` (modules
``md_orderml.cli.<name>_command``); the LAMMPS commands ``lammps`` and ``build-lammps-plugin``
live with the rest of the LAMMPS code (``md_orderml.engines.lammps``). Command groups of other
packages or subpackages (``md-orderml research``) register through the ``md_orderml.cli``
entry point group. Errors print one line and exit 2 (under mpirun, once).

Start-up is fast: building the parser imports neither torch nor e3nn. A subcommand whose
options need heavy imports (defaults read from a training configuration) registers them
with :func:`~md_orderml.cli.parser.deferred_options`; they are added when that subcommand is parsed. A mistyped
option of a subcommand shows that subcommand's usage. :func:`main` asks OpenMP for its
passive wait policy before torch loads (see :mod:`md_orderml.threads`).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from md_orderml.cli.parser import CommandParser, deferred_options
from md_orderml.errors import OrderMLError, ReportedElsewhere

__all__ = ["CommandParser", "build_parser", "deferred_options", "main"]

#: Modules with an ``add_parser(subparsers)``, in the order ``--help`` lists them.
SUBCOMMANDS = ("md_orderml.cli.label_command", "md_orderml.cli.info_command", "md_orderml.cli.export_command",
               "md_orderml.cli.train_command", "md_orderml.cli.pretrain_command", "md_orderml.cli.finetune_command",
               "md_orderml.cli.calibrate_command", "md_orderml.cli.discover_command",
               "md_orderml.engines.lammps.command",
               "md_orderml.engines.lammps.build_plugin_command")
ENTRY_POINT_GROUP = "md_orderml.cli"  #: entry points ``name = "module:add_parser"`` of command groups


def command_groups():
    """The ``add_parser`` functions registered under :data:`ENTRY_POINT_GROUP` (installed packages only)."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)]


def build_parser() -> CommandParser:
    """The argument parser with every subcommand's options."""
    import importlib

    from md_orderml.version import __version__

    parser = CommandParser(
        prog="md-orderml",
        description="Equivariant neural-network labels of local structure (fcc, bcc, hcp, diamond, liquid, ...).",
    )
    parser.add_argument("--version", action="version", version=f"md-orderml {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).add_parser(sub)
    for add_parser in command_groups():
        add_parser(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``md-orderml``; returns the exit status."""
    from md_orderml.threads import passive_openmp

    passive_openmp()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ReportedElsewhere:  # another MPI rank printed it
        return 2
    except OrderMLError as err:
        print(f"md-orderml: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("md-orderml: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
