"""The ``md-orderml research`` command group: research commands apart from the product's.

``md-orderml research train-propensity``, ``train-glass`` and ``export-propensity``. The core
CLI finds this group through the ``md_orderml.cli`` entry point of ``pyproject.toml``; it never
imports research code by name.
"""

from __future__ import annotations

import importlib

COMMANDS = ("train_propensity", "train_glass", "export_propensity")


def add_parser(sub) -> None:
    """Register the ``research`` group and its subcommands on the top-level subparsers ``sub``."""
    p = sub.add_parser("research", help="research commands (glassy liquids: propensity and glass-vs-liquid models)",
                       description="Research built on md_orderml's core: models of glassy dynamics.")
    group = p.add_subparsers(dest="research_command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"md_orderml.research.cli.{name}_command").add_parser(group)
