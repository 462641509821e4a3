"""The package's architecture, checked on its source: the core never imports research, no import circles.

Imports are read from the syntax tree of every module, so function-level imports, ``from
package import module`` and ``importlib.import_module`` of a module named by a string literal
(or an f-string's literal prefix) all count.
Importing a submodule runs its parents' ``__init__`` too, but that is no dependency of the
importer on the parent: an edge goes to the module named, or to the package when a name is
taken from its ``__init__``.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "md_orderml"
RESEARCH = "md_orderml.research"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set:
    """Modules of the package that module ``name`` imports (anywhere in its body)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            submodules = {f"{target}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in MODULES:
            found.add(node.value)  # a module name handed to importlib.import_module (directly or from a table)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.JoinedStr)):  # import_module(f"md_orderml.x.{name}")
            first = node.args[0].values[0]
            prefix = first.value if isinstance(first, ast.Constant) else ""
            found.update(m for m in MODULES if prefix and m.startswith(prefix))
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def is_research(name: str) -> bool:
    return name == RESEARCH or name.startswith(RESEARCH + ".")


def test_the_graph_sees_function_level_and_importlib_imports():
    assert "md_orderml.engines.lammps.compute" in GRAPH["md_orderml.engines.lammps"]  # inside __getattr__
    assert "md_orderml.cli.label_command" in GRAPH["md_orderml.cli"]  # string in SUBCOMMANDS via import_module
    assert "md_orderml.research.glassy.propensity_model" in GRAPH["md_orderml.research.cli.export_propensity_command"]


def test_core_never_imports_research():
    offending = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if not is_research(m)
                       for t in targets if is_research(t))
    assert not offending, offending


def find_cycle(graph):
    """One import circle as a list of modules, or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_circles():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


def test_cycle_finder_finds_a_planted_circle():
    graph = {k: set(v) for k, v in GRAPH.items()}
    graph["md_orderml.errors"].add("md_orderml.frame")  # frame imports errors
    assert find_cycle(graph) is not None


@pytest.mark.parametrize("package", ["nn", "io", "cli", "engines", "engines.lammps", "engines.hoomd", "research",
                                     "training", "ssl"])
def test_every_subpackage_has_an_init(package):
    assert (PACKAGE / package.replace(".", "/") / "__init__.py").is_file()


def package_of(name: str) -> str:
    """The first-level subpackage (or top-level module) of the package that ``name`` belongs to."""
    parts = name.split(".")
    return ".".join(parts[:2])


def test_no_circles_between_subpackages():
    """Rooms import downwards only: e.g. ssl uses training, so training never uses ssl."""
    graph = {}
    for name, targets in GRAPH.items():
        if name == "md_orderml":
            continue  # the package's own __init__ only re-exports
        graph.setdefault(package_of(name), set()).update(
            package_of(t) for t in targets if t != "md_orderml" and package_of(t) != package_of(name))
    for targets in list(graph.values()):
        for t in targets:
            graph.setdefault(t, set())
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
