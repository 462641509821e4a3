"""The icosahedral liquids' generator (``md_orderml.engines.lammps.liquids``) without running LAMMPS:
the Dzugutov potential, the cache keys and the benchmark's re-export."""

import numpy as np

from md_orderml.engines.lammps import liquids


def test_dzugutov_force_is_minus_the_derivative_and_vanishes_at_the_cutoff():
    r = np.linspace(0.8, 1.9, 200)
    energy, force = liquids.dzugutov(r)
    h = 1e-6
    numeric = -(liquids.dzugutov(r + h)[0] - liquids.dzugutov(r - h)[0]) / (2 * h)
    np.testing.assert_allclose(force, numeric, rtol=1e-5, atol=1e-7)
    edge = liquids.dzugutov(np.array([liquids.DZUGUTOV["b"] - 1e-4, liquids.DZUGUTOV["b"] + 0.1]))
    assert abs(edge[0][0]) < 1e-12 and edge[0][1] == 0.0 and edge[1][1] == 0.0
    assert energy.min() < -0.5  # the well near r = 1.13


def test_cache_keys_are_those_of_the_benchmark_frames():
    """Keys depend only on the settings: frames cached by the benchmark before the move stay valid."""
    run = liquids.Run(potential="ka", n=2000, density=1.2, temperature=0.6, melt_temperature=2.0, seed=12,
                      melt_steps=4000, equilibrate_steps=40000, frames=6, spacing=4000)
    assert run.key() == "ka-e99a29aa40"


def test_benchmark_module_reexports_the_package_module():
    from benchmark_modules import benchmark_module

    with benchmark_module("icosahedral_md") as md:
        assert md.Run is liquids.Run and md.load_or_generate is liquids.load_or_generate
