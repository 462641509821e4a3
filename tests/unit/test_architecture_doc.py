"""ARCHITECTURE.md's module table names every module of the package, and only modules that exist.

A module is every ``.py`` file under ``md_orderml/``, ``__init__.py`` included, written by its
path relative to ``md_orderml/`` (``frame.py``, ``io/__init__.py``, ``engines/lammps/compute.py``).
The table is every Markdown table row between the ``## Modules`` heading and the next ``## ``
heading; a row's first cell names one or more modules in backticks. Each module is its own
test case, so a failure names the module to add or remove.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "md_orderml"
DOC = ROOT / "ARCHITECTURE.md"


def package_modules():
    """Every module of the package, as paths relative to ``md_orderml/`` (POSIX style)."""
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def table_modules(text: str):
    """The modules named in the first cell of the rows of the ``## Modules`` tables."""
    match = re.search(r"^## Modules\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "ARCHITECTURE.md has no '## Modules' section"
    named = []
    for line in match.group(1).splitlines():
        cells = line.strip().split("|")
        if len(cells) < 3 or not line.strip().startswith("|"):
            continue
        first = cells[1]
        if set(first.strip()) <= set("-: ") or first.strip() == "module":
            continue  # separator or header row
        tokens = re.findall(r"`([^`]+)`", first)
        assert tokens, f"a row of the module table names no module in backticks: {line.strip()}"
        named.extend(tokens)
    return named


MODULES = package_modules()
NAMED = table_modules(DOC.read_text())


def test_the_table_is_found_and_the_package_has_modules():
    assert len(NAMED) > 20 and len(MODULES) > 20


@pytest.mark.parametrize("module", MODULES)
def test_module_is_in_the_table(module):
    assert module in NAMED, (f"md_orderml/{module} is missing from the module table of ARCHITECTURE.md: "
                             f"add a row '| `{module}` | <one concept> |' under '## Modules'")


@pytest.mark.parametrize("name", sorted(set(NAMED)))
def test_table_names_only_existing_modules(name):
    assert name in MODULES, (f"ARCHITECTURE.md's module table names `{name}`, but md_orderml/{name} does not exist: "
                             f"remove or rename the row")


def test_no_module_is_named_twice():
    twice = sorted({n for n in NAMED if NAMED.count(n) > 1})
    assert not twice, f"named more than once in ARCHITECTURE.md's module table: {twice}"


def test_the_parser_reads_rows_and_cells():
    text = ("## Modules\n\n| module | one concept |\n|---|---|\n| `a.py`, `b/__init__.py` | x `not_a_module` |\n"
            "\n## Next\n\n| `c.py` | outside the section |\n")
    assert table_modules(text) == ["a.py", "b/__init__.py"]
