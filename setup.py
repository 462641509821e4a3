"""Build hook: ship the native LAMMPS plugin's sources inside the wheel.

Everything else is in pyproject.toml. ``lammps_plugin/`` stays at the top of the
repository (where the project's layout puts it); a wheel gets a copy as
``md_orderml/lammps_plugin_src`` so ``md-orderml build-lammps-plugin`` and the ``lmp``
launcher can compile the plugin after a plain (non-editable) ``pip install`` too.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithPluginSources(build_py):
    """``build_py`` that also copies ``lammps_plugin/`` into the built package."""

    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "lammps_plugin"
        if source.is_dir() and not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "md_orderml" / "lammps_plugin_src"
            shutil.copytree(source, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("build", "__pycache__", "*.so", "*.o"))


setup(cmdclass={"build_py": BuildPyWithPluginSources})
