"""Packaging promises: a light import, every module importable and documented, package data, the wheel."""

import ast
import importlib
import os
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

import md_orderml


def test_import_does_not_load_optional_engines():
    code = ("import sys, md_orderml, md_orderml.io, md_orderml.analysis; "
            "print(sorted(m for m in ('hoomd', 'lammps', 'ovito', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


PACKAGE = Path(md_orderml.__file__).resolve().parent
#: Top-level modules of optional dependencies: a package module may fail to import without them.
OPTIONAL_ENGINES = {"hoomd", "lammps", "mpi4py", "ovito", "freud", "matplotlib"}


def package_modules() -> dict:
    """Every module of the package, subpackages included: dotted name -> source file."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def missing_optional_engine(err: BaseException):
    """The optional engine whose absence raised ``err`` (its cause chain searched), or None."""
    while err is not None:
        if isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] in OPTIONAL_ENGINES:
            return err.name
        err = err.__cause__ or err.__context__
    return None


def undocumented(tree: ast.Module) -> list:
    """Public functions, classes and methods of public classes in a syntax tree without a docstring of their own.

    A base class's docstring or the signature ``dataclasses`` writes into ``__doc__`` does not
    count (``inspect.getdoc`` would take either). Definitions under a top-level ``if`` or ``try``
    count like top-level ones.
    """
    def definitions(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield node
            elif isinstance(node, (ast.If, ast.Try)):
                for block in (node.body, node.orelse, node.finalbody if isinstance(node, ast.Try) else [],
                              *(handler.body for handler in getattr(node, "handlers", []))):
                    yield from definitions(block)

    missing = []
    for node in definitions(tree.body):
        if node.name.startswith("_"):
            continue
        if not ast.get_docstring(node):
            missing.append(node.name)
        if isinstance(node, ast.ClassDef):
            missing += [f"{node.name}.{method.name}" for method in definitions(node.body)
                        if not method.name.startswith("_") and not ast.get_docstring(method)]
    return missing


def test_undocumented_finds_functions_classes_and_methods():
    source = '''
import dataclasses
def bare(): pass
def _private(): pass
def documented():
    """Doc."""
@dataclasses.dataclass
class Record:
    x: int
class Documented:
    """Doc."""
    def method(self): pass
    def _helper(self): pass
    @property
    def size(self):
        """Doc."""
try:
    def fallback(): pass
except ImportError:
    pass
'''
    assert undocumented(ast.parse(source)) == ["bare", "Record", "Documented.method", "fallback"]


def test_every_module_imports_or_lacks_only_an_optional_engine():
    """Each module imports; one that does not may only lack an optional engine (its docstrings
    are then checked from its source all the same, below)."""
    broken = {}
    for name in package_modules():
        if name.endswith("__main__"):
            continue  # runs the command line
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # md_orderml.classifier, a deprecated alias
                importlib.import_module(name)
        except ImportError as err:
            if not missing_optional_engine(err):
                broken[name] = repr(err)
    assert not broken, broken


def test_public_functions_have_docstrings():
    """Read from the source of every module, so modules that need an engine to import count too."""
    modules = package_modules()
    for subpackage in ("md_orderml.nn", "md_orderml.engines.lammps", "md_orderml.engines.hoomd",
                       "md_orderml.research", "md_orderml.research.glassy", "md_orderml.ssl", "md_orderml.cli"):
        assert any(name.startswith(subpackage + ".") for name in modules), subpackage
    missing = [f"{name}.{definition}" for name, path in modules.items()
               for definition in undocumented(ast.parse(path.read_text(), str(path)))]
    assert not missing, missing


ROOT = PACKAGE.parent
#: Where setuptools and setup.py write when a wheel is built in a checkout (``build/`` in-tree).
BUILD_OUTPUTS = ("build", "dist", "*.egg-info", "md_orderml/lammps_plugin_prebuilt")


def build_outputs(root: Path) -> dict:
    """Files under the checkout's build-output folders: path -> modification time (ns)."""
    return {path: path.stat().st_mtime_ns for pattern in BUILD_OUTPUTS for top in root.glob(pattern)
            for path in [top, *top.rglob("*")]}


def checkout_copy(target: Path) -> Path:
    """The checkout's sources (tracked and untracked, not ignored) copied into ``target``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not listed as gone
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_package_data_globs_match_files():
    """Every ``[tool.setuptools.package-data]`` pattern ships at least one file."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    with open(ROOT / "pyproject.toml", "rb") as f:
        package_data = tomllib.load(f)["tool"]["setuptools"]["package-data"]
    empty = [f"{package}: {pattern}" for package, patterns in package_data.items() for pattern in patterns
             if not any(path.is_file() for path in (ROOT / package.replace(".", "/")).glob(pattern))]
    assert not empty, empty


def test_wheel_carries_the_native_plugin_sources(tmp_path):
    """A plain (non-editable) install can still build the LAMMPS plugin: the wheel ships its sources.

    The wheel is built from a copy of the checkout, so nothing (setuptools' in-tree ``build/``,
    the ``egg-info``) is written into the checkout. The install-time compile is switched off
    here (MD_ORDERML_BUILD_NATIVE=0, it takes a minute; tests/engines/test_lammps_plugin_install.py
    checks what it built); the wheel then carries its record saying so.
    """
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (the wheel is built from its listed files)")
    before = build_outputs(ROOT)
    source = checkout_copy(tmp_path / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "wheels")], check=True, cwd=tmp_path,
                   env=dict(os.environ, MD_ORDERML_BUILD_NATIVE="0"))
    assert build_outputs(ROOT) == before, "building the wheel wrote into the checkout"
    (wheel,) = (tmp_path / "wheels").glob("md_orderml-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("CMakeLists.txt", "src/compute_orderml_atom.cpp", "src/orderml_plugin.cpp"):
        assert f"md_orderml/lammps_plugin_src/{needed}" in names, needed
    assert "md_orderml/models/default.pt" in names
    assert "md_orderml/lammps_plugin_prebuilt/built_with.json" in names
