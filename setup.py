"""Build hooks: ship the native LAMMPS plugin's sources, and build the plugin at install time.

Everything else is in pyproject.toml. ``lammps_plugin/`` stays at the top of the
repository (where the project's layout puts it); a wheel gets a copy as
``md_orderml/lammps_plugin_src`` so ``md-orderml build-lammps-plugin`` and the ``lmp``
launcher can compile the plugin after a plain (non-editable) ``pip install`` too.

``build_py`` also compiles the plugin (regular and editable installs) with the torch,
lammps, mpich and cmake wheels of pip's build environment (``[build-system] requires``)
into ``md_orderml/lammps_plugin_prebuilt/``: inside the wheel, or inside the checkout for
``pip install -e``. Without a compiler (or any other failure) the install still succeeds
with a one-line message; see ``md_orderml/engines/lammps/plugin_install.py``.
"""

import importlib.util
import shutil
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _install_module():
    """``md_orderml/engines/lammps/plugin_install.py``, loaded without importing the package."""
    spec = importlib.util.spec_from_file_location("_orderml_plugin_install", ROOT / "md_orderml" / "engines" / "lammps" / "plugin_install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithPlugin(build_py):
    """``build_py`` that also copies ``lammps_plugin/`` and builds ``ordermlplugin.so``."""

    def run(self):
        super().run()
        source = ROOT / "lammps_plugin"
        editable = getattr(self, "editable_mode", False)
        if source.is_dir() and not editable:
            target = Path(self.build_lib) / "md_orderml" / "lammps_plugin_src"
            shutil.copytree(source, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("build", "__pycache__", "*.so", "*.o"))
        package = ROOT / "md_orderml" if editable else Path(self.build_lib) / "md_orderml"
        try:
            install = _install_module()
            install.build_at_install(source, package / install.PREBUILT_DIR, self.distribution.get_version())
        except Exception as err:  # noqa: BLE001  (the Python package must install whatever happens)
            print(f"md_orderml: native LAMMPS plugin not built at install time: {type(err).__name__}: {err}; "
                  "the Python compute works; run `md-orderml build-lammps-plugin` later", flush=True)


class BinaryDistribution(Distribution):
    """The wheel may hold a compiled module: tag it for this platform and Python."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithPlugin}, distclass=BinaryDistribution)
