"""Where HOOMD-blue must be there (its build prefix exists, or MD_ORDERML_REQUIRE_HOOMD=1), a HOOMD test
that skips for lack of it fails (tests/conftest.py); elsewhere it skips with the reason."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HOOMD_PREFIX

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/engines/test_hoomd.py::test_table_prints_fractions"


def _env_without_hoomd(require: str) -> dict:
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p) != HOOMD_PREFIX]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(parts), MD_ORDERML_REQUIRE_HOOMD=require,
                MD_ORDERML_HOOMD_PREFIX=str(ROOT / "no-such-hoomd-prefix"))


@pytest.mark.parametrize("require, status, says", [
    ("1", 1, "skipped for lack of HOOMD-blue, but MD_ORDERML_REQUIRE_HOOMD=1"), ("0", 0, "1 skipped")])
def test_skip_for_lack_of_hoomd_fails_where_required(require, status, says):
    env = _env_without_hoomd(require)
    probe = subprocess.run([sys.executable, "-c", "import hoomd"], env=env, capture_output=True, cwd=ROOT, timeout=120)
    if probe.returncode == 0:
        pytest.skip("hoomd imports from the environment itself: no HOOMD test skips here")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", TEST],
                            env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == status, result.stdout[-3000:] + result.stderr[-2000:]
    assert says in result.stdout, result.stdout[-3000:]
