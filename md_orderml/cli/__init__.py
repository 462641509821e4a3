"""The ``md-orderml`` command line: one module per subcommand.

Core commands: ``label``, ``info``, ``export``, ``train``, ``pretrain``, ``finetune`` (modules
``md_orderml.cli.<name>_command``); the LAMMPS commands ``lammps`` and ``build-lammps-plugin``
live with the rest of the LAMMPS code (``md_orderml.engines.lammps``). Command groups of other
packages or subpackages (``md-orderml research``) register through the ``md_orderml.cli``
entry point group. Errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from md_orderml.errors import OrderMLError

#: Modules with an ``add_parser(subparsers)``, in the order ``--help`` lists them.
SUBCOMMANDS = ("md_orderml.cli.label_command", "md_orderml.cli.info_command", "md_orderml.cli.export_command",
               "md_orderml.cli.train_command", "md_orderml.cli.pretrain_command", "md_orderml.cli.finetune_command",
               "md_orderml.engines.lammps.command", "md_orderml.engines.lammps.build_plugin_command")
ENTRY_POINT_GROUP = "md_orderml.cli"  #: entry points ``name = "module:add_parser"`` of command groups


def command_groups():
    """The ``add_parser`` functions registered under :data:`ENTRY_POINT_GROUP` (installed packages only)."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand's options."""
    import importlib

    from md_orderml.version import __version__

    parser = argparse.ArgumentParser(
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except OrderMLError as err:
        print(f"md-orderml: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("md-orderml: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
