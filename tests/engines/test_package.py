"""Packaging promises: a light import, public functions documented."""

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import md_orderml


def test_import_does_not_load_optional_engines():
    code = ("import sys, md_orderml, md_orderml.io, md_orderml.analysis; "
            "print(sorted(m for m in ('hoomd', 'lammps', 'ovito', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_functions_have_docstrings():
    missing = []
    for info in pkgutil.walk_packages(md_orderml.__path__, "md_orderml."):
        if info.name.startswith("md_orderml.engines.hoomd") or info.name.endswith("__main__"):
            continue  # imports hoomd; documented the same way, checked in test_hoomd
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and not inspect.getdoc(obj):
                missing.append(f"{info.name}.{name}")
    assert not missing, missing


def test_wheel_carries_the_native_plugin_sources(tmp_path):
    """A plain (non-editable) install can still build the LAMMPS plugin: the wheel ships its sources.

    The install-time compile is switched off here (MD_ORDERML_BUILD_NATIVE=0, it takes a
    minute; tests/engines/test_lammps_plugin_install.py checks what it built); the wheel then
    carries its record saying so.
    """
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    import shutil

    root = Path(__file__).resolve().parents[2]
    leftover = not (root / "build").exists()  # setuptools builds in-tree: tidy up after
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path)], check=True, cwd=tmp_path,
                       env=dict(os.environ, MD_ORDERML_BUILD_NATIVE="0"))
    finally:
        if leftover:
            shutil.rmtree(root / "build", ignore_errors=True)
    (wheel,) = tmp_path.glob("md_orderml-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("CMakeLists.txt", "src/compute_orderml_atom.cpp", "src/orderml_plugin.cpp"):
        assert f"md_orderml/lammps_plugin_src/{needed}" in names, needed
    assert "md_orderml/models/default.pt" in names
    assert "md_orderml/lammps_plugin_prebuilt/built_with.json" in names
