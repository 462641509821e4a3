"""The ``md-orderml`` parser classes: subcommands whose options are added on first use, and
that answer a mistyped option with their own usage.

:class:`CommandParser` is the top-level parser; its ``add_subparsers`` makes
:class:`Subcommands`, whose parsers are ``CommandParser`` too (command groups nest). A
subcommand whose options need heavy imports (defaults read from a torch-based
configuration) registers them with :func:`deferred_options`, so that ``md-orderml
--help`` imports no torch.
"""

from __future__ import annotations

import argparse
import difflib
from typing import Callable, List


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose subcommands complete their options lazily and report their own usage.

    Its subparsers (made by ``add_subparsers``) are :class:`Subcommands`; the parsers
    they create are ``CommandParser`` too, so command groups nest.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", Subcommands)
        self.deferred: List[Callable] = []  # functions adding options on first use (deferred_options)

    def complete(self) -> "CommandParser":
        """Add the deferred options (once)."""
        while self.deferred:
            self.deferred.pop(0)(self)
        return self


def deferred_options(parser, add_options: Callable) -> None:
    """Add options to a subcommand's parser when the subcommand is parsed (at once for a plain parser).

    Args:
        parser: The subcommand's parser.
        add_options: ``add_options(parser)`` adds the options (and may import torch).
    """
    if isinstance(parser, CommandParser):
        parser.deferred.append(add_options)
    else:
        add_options(parser)


class Subcommands(argparse._SubParsersAction):
    """Subparsers that complete the chosen parser's options and reject unknown ones with its usage."""

    def __call__(self, parser, namespace, values, option_string=None):
        chosen = self._name_parser_map.get(values[0])
        if chosen is None:  # argparse's "invalid choice" error
            return super().__call__(parser, namespace, values, option_string)
        if isinstance(chosen, CommandParser):
            chosen.complete()
        if self.dest is not argparse.SUPPRESS:
            setattr(namespace, self.dest, values[0])
        subnamespace, rest = chosen.parse_known_args(values[1:], None)
        for key, value in vars(subnamespace).items():
            setattr(namespace, key, value)
        if rest:
            known = [s for action in chosen._actions for s in action.option_strings]
            close = [m for r in rest if r.startswith("-") for m in difflib.get_close_matches(r.split("=")[0], known, 1)]
            hint = f" (did you mean {' '.join(close)}?)" if close else ""
            chosen.error(f"unrecognized arguments: {' '.join(rest)}{hint}")
