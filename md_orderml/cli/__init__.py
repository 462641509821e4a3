"""The ``md-orderml`` command line: one module per subcommand.

``label``, ``train``, ``export``, ``info``, ``train-propensity`` and ``train-glass`` are in the core; engine subcommands
(``lammps``) register themselves the same way. Errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from md_orderml.errors import OrderMLError

SUBCOMMANDS = ("label", "train", "export", "info", "lammps", "build_lammps_plugin", "pretrain", "finetune",
               "train_propensity", "train_glass")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand's options."""
    import importlib

    from md_orderml import __version__

    parser = argparse.ArgumentParser(
        prog="md-orderml",
        description="Equivariant neural-network labels of local structure (fcc, bcc, hcp, diamond, liquid, ...).",
    )
    parser.add_argument("--version", action="version", version=f"md-orderml {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"md_orderml.cli.{name}_command")
        module.add_parser(sub)
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
