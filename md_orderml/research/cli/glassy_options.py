"""Options shared by the glassy training commands (``train-propensity``, ``train-glass``).

Both commands read a cached LAMMPS data set chosen by ``--quick`` and ``--data`` (JSON
overriding the preset's settings) and train a backbone whose settings ``--architecture``
(JSON) overrides.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Dict, Tuple

from md_orderml.threads import add_threads_option


def add_shared_options(p, defaults_name: str) -> None:
    """Add ``--architecture``, ``--seed``, ``--cache-dir``, ``--threads`` and ``--quiet`` to parser ``p``.

    Args:
        p: The subcommand's ``argparse`` parser.
        defaults_name: What the backbone defaults are called in the help (e.g. ``"glassy"``).
    """
    p.add_argument("--architecture", metavar="JSON", help=f"backbone settings overriding the {defaults_name} defaults")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", help="data cache directory (default ~/.cache/md_orderml/glassy)")
    add_threads_option(p, default=1)
    p.add_argument("--quiet", action="store_true")


def data_and_architecture(args, quick, default, architecture: Dict) -> Tuple[object, Dict]:
    """The data settings and backbone settings a glassy command asked for; sets torch's threads.

    Args:
        args: Parsed arguments with ``quick``, ``data``, ``architecture`` and ``threads``.
        quick: Data settings of ``--quick`` (a frozen dataclass).
        default: Data settings otherwise.
        architecture: Default backbone settings.

    Returns:
        ``(data settings with the --data overrides (JSON lists become tuples), backbone settings)``.

    Raises:
        InputError: ``--data`` or ``--architecture`` is not valid JSON or names an unknown setting.
    """
    from md_orderml.errors import InputError
    from md_orderml.threads import set_threads

    set_threads(args.threads)
    try:
        data = json.loads(args.data) if args.data else {}
        if not isinstance(data, dict):
            raise TypeError(f"--data must be a JSON object, got {args.data!r}")
        overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        arch = {**architecture, **(json.loads(args.architecture) if args.architecture else {})}
        config = dataclasses.replace(quick if args.quick else default, **overrides)
    except (ValueError, TypeError) as err:
        raise InputError(f"bad option: {err}") from None
    return config, arch
