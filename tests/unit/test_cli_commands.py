"""The ``md-orderml`` command list: what ``md_orderml.cli``'s docstring names is what it registers."""

import argparse
import importlib
import re

import md_orderml.cli as cli


def registered_commands(modules) -> list:
    """Names of the subcommands the ``add_parser`` of each module registers, in order."""
    sub = argparse.ArgumentParser().add_subparsers()
    for name in modules:
        importlib.import_module(name).add_parser(sub)
    return list(sub.choices)


def test_cli_docstring_lists_the_commands_it_registers():
    doc = cli.__doc__
    core = [m for m in cli.SUBCOMMANDS if m.startswith("md_orderml.cli.")]
    core_sentence = re.search(r"Core commands:(.*?)\(modules", doc, re.S).group(1)
    assert re.findall(r"``([a-z][a-z-]*)``", core_sentence) == registered_commands(core)
    named = set(re.findall(r"``([a-z][a-z-]*)``", doc)) - {"md-orderml"}  # the program; ``md-orderml research``
    assert named == set(registered_commands(cli.SUBCOMMANDS))  # and module names have other characters
    assert "``md-orderml research``" in doc and cli.ENTRY_POINT_GROUP == "md_orderml.cli"
