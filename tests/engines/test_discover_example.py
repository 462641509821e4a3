"""``examples/discover_self_assembly.py --fast`` (about a minute): run 1's frames hold fcc, hcp and liquid
clusters, the exported file labels run 2 on the fly, the crystal-side fractions of both runs agree,
and output goes only where ``--out`` says."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lammps")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "discover_self_assembly.py"


def test_example_discovers_environments_and_labels_the_next_run(default_model_path, tmp_path):
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    cwd.mkdir()
    result = subprocess.run([sys.executable, str(EXAMPLE), "--fast", "--out", str(out)], capture_output=True,
                            text=True, cwd=cwd, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    nearest = re.findall(r"cluster_\d+: nearest built-in class (\w+)", result.stdout)
    assert {"fcc", "hcp", "liquid"} <= set(nearest), nearest  # the three environments, each found
    labelled = [ln for ln in lines if ln.strip().startswith("run 2 step")]
    assert [int(ln.split()[3]) for ln in labelled] == [0, 1000, 2000, 3000, 4000]
    assert all(len(re.findall(r"cluster_\d+ [01]\.\d{3}", ln)) == len(nearest) for ln in labelled)
    verdict = next(ln for ln in lines if ln.startswith(f"found {len(nearest)} clusters; crystal-side"))
    assert ": consistent (|difference|" in verdict
    x1, x2 = map(float, re.search(r"run 1 ([\d.]+), run 2 ([\d.]+)", verdict).groups())
    assert 0.2 < x1 < 0.8 and 0.2 < x2 < 0.8  # a crystal with its melt, neither melted nor grown through
    for name in ("run1/traj.dump", "discovery/summary.json", "discovery/clusters.gsd", "clusters.pt",
                 "run2/traj.dump", "run2/log.lammps", "run2/fractions.png"):
        assert (out / name).stat().st_size > 0, name
    last = (out / "run2" / "traj.dump").read_text().split("ITEM: ATOMS")[-1].splitlines()
    assert last[0].split() == ["id", "type", "x", "y", "z", "i_orderml", "d_orderml_conf"]
    clusters = np.array([int(float(ln.split()[5])) for ln in last[1:]])
    assert len(clusters) == 1920 and clusters.min() >= 0 and clusters.max() <= len(nearest)  # K = unknown
    assert not list(cwd.iterdir())  # nothing written where it was started
