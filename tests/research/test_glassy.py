"""Glassy liquids: Kob-Andersen set-up in LAMMPS, iso-configurational propensities, regressors."""

import numpy as np
import pytest
import torch

from md_orderml.research.glassy.data import GlassyConfig, GlassyData, load_or_generate, ka_lammps, relaxation_time
from md_orderml.research.glassy.propensity import (FitConfig, expert_features, fit_regressor, fit_ridge, make_graph,
                                          pearson, predict)

TINY = {"l_max": 2, "channels": 4, "power_channels": 4, "cubic_channels": 2, "cubic_degrees": [2],
        "features": 16, "n_layers": 1, "n_types": 2, "avg_neighbors": 30.0}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> GlassyData:
    config = GlassyConfig(n_particles=300, temperature=1.0, n_configs=2, n_draws=2, equilibrate_tau=4.0,
                          t_max=1.0, n_times=6, seed=3)
    cache = tmp_path_factory.mktemp("glassy")
    data = load_or_generate(config, cache_dir=cache)
    again = load_or_generate(config, cache_dir=cache)  # from the cache
    np.testing.assert_array_equal(data.propensity, again.propensity)
    assert again.tau_alpha == data.tau_alpha
    return data


def test_ka_setup_composition_density_energy():
    lmp = ka_lammps(500, 1.2, seed=5)
    try:
        types = np.asarray(lmp.numpy.extract_atom("type")[: lmp.extract_global("nlocal")])
        assert np.bincount(types)[1:].tolist() == [400, 100]
        lo, hi = lmp.extract_box()[:2]
        volume = np.prod(np.asarray(hi) - np.asarray(lo))
        assert 500 / volume == pytest.approx(1.2, rel=1e-9)
        # the minimised KA mixture at rho = 1.2 sits deep in its energy landscape (eps_AB = 1.5)
        lmp.command("run 0")
        pe = lmp.get_thermo("pe")
        assert -8.5 < pe < -6.5
    finally:
        lmp.close()


def test_propensities_finite_nonnegative(tiny_data):
    d = tiny_data
    c, t, n = d.propensity.shape
    assert (c, n) == (2, 300) and t == len(d.times) and d.positions.shape == (2, 300, 3)
    assert np.isfinite(d.propensity).all() and (d.propensity >= 0).all()
    assert np.all(np.diff(d.msd) > 0) and np.all(np.diff(d.times) > 0)
    assert d.fs[0] > 0.8 and d.fs[-1] < d.fs[0]
    assert (d.positions >= 0).all() and (d.positions < d.box_length).all()
    assert np.bincount(d.types).tolist() == [240, 60]


def test_relaxation_time_interpolates():
    times = np.array([1.0, 10.0, 100.0])
    fs = np.array([0.9, np.exp(-1.0) + 0.1, np.exp(-1.0) - 0.1])
    assert relaxation_time(times, fs) == pytest.approx(np.sqrt(10.0) * 10.0, rel=1e-6)
    assert relaxation_time(times, np.array([0.9, 0.8, 0.7])) == 100.0


def test_pearson_and_ridge():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    assert pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert pearson(a, 3 * a + 1) == pytest.approx(1.0)
    x = rng.normal(size=(400, 5))
    y = x @ np.array([1.0, -2.0, 0.0, 0.5, 0.0]) + 0.01 * rng.normal(size=400)
    ridge = fit_ridge(x[:300], y[:300, None], x[300:], y[300:, None])
    assert pearson(ridge["predict"](x[300:])[:, 0], y[300:]) > 0.999


def test_expert_features_invariant(tiny_data):
    d = tiny_data
    f = expert_features(d.positions[0], d.types, d.box_length)
    swapped = expert_features(d.positions[0][:, [2, 0, 1]], d.types, d.box_length)
    assert f.shape == (300, 2 * (2 * 19 + 8)) and np.isfinite(f).all()
    np.testing.assert_allclose(f, swapped, rtol=1e-4, atol=1e-4)


def test_regressor_learns_synthetic_target(tiny_data):
    """A tiny regressor fits an invariant local target (number of B neighbours within 1.4 sigma)."""
    d = tiny_data
    pos, length = d.positions[0], d.box_length
    diff = pos[:, None] - pos[None]
    diff -= length * np.round(diff / length)
    dist = np.linalg.norm(diff, axis=-1) + np.eye(len(pos)) * 10
    count = ((dist < 1.4) & (d.types[None] == 1)).sum(1).astype(float)
    target = ((count - count.mean()) / count.std())[:, None]
    graph = make_graph(pos, d.types, length, target, 2.0)
    fit = fit_regressor([graph], [], 1, architecture=TINY, config=FitConfig(epochs=60, lr=1e-2, loss_types=(0, 1)))
    assert fit["history"][-1]["train_loss"] < 0.5 * fit["history"][0]["train_loss"]
    pred = predict(fit["model"], graph)[:, 0]
    assert pearson(pred, target[:, 0]) > 0.7
    # invariant under a symmetry of the cubic box (axis permutation)
    rotated = make_graph(pos[:, [1, 2, 0]], d.types, length, target, 2.0)
    np.testing.assert_allclose(predict(fit["model"], rotated), predict(fit["model"], graph), atol=1e-4)
    torch.manual_seed(0)


def test_inherent_structure_lowers_energy_keeps_identity(tiny_data, tmp_path):
    from md_orderml.research.glassy.inherent import inherent_structure, load_or_compute_inherent

    d = tiny_data
    x, e0, e1 = inherent_structure(d.positions[0], d.types, d.box_length)
    assert x.shape == d.positions[0].shape and (x >= 0).all() and (x < d.box_length).all()
    assert e1 < e0 - 0.5  # thermal energy (3/2 T per particle from the potential side) is removed
    # same particles: each moves by a fraction of sigma (minimum image)
    step = x - d.positions[0]
    step -= d.box_length * np.round(step / d.box_length)
    assert np.median(np.linalg.norm(step, axis=1)) < 0.3
    # a minimum stays a minimum
    again, f0, f1 = inherent_structure(x, d.types, d.box_length)
    assert f1 == pytest.approx(f0, abs=1e-6) and f0 == pytest.approx(e1, abs=1e-6)
    config = GlassyConfig(n_particles=300, temperature=1.0, n_configs=2, n_draws=2, equilibrate_tau=4.0,
                          t_max=1.0, n_times=6, seed=3)
    ist = load_or_compute_inherent(d, config, cache_dir=tmp_path)
    np.testing.assert_allclose(ist.positions[0], x)
    assert ist.energy.shape == (2, 2) and (ist.energy[:, 1] < ist.energy[:, 0]).all()
    np.testing.assert_array_equal(load_or_compute_inherent(d, config, cache_dir=tmp_path).positions, ist.positions)


def test_pearson_loss_and_head_calibration(tiny_data):
    from md_orderml.research.glassy.propensity import PropensityRegressor, calibrate_head, pearson_loss

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    expected = 1 - np.mean([pearson(a[:, s], b[:, s]) for s in range(2)])
    assert float(pearson_loss(torch.as_tensor(a), torch.as_tensor(b))) == pytest.approx(expected, abs=1e-6)
    assert float(pearson_loss(torch.as_tensor(a), torch.as_tensor(3 * a + 2))) == pytest.approx(0.0, abs=1e-6)
    d = tiny_data
    torch.manual_seed(0)
    model = PropensityRegressor(2.0, 2, TINY)
    graph = make_graph(d.positions[0], d.types, d.box_length, np.zeros((300, 2)), 2.0)
    raw = predict(model, graph)
    target = 5.0 * raw + 1.0 + 0.01 * rng.normal(size=raw.shape)
    graph.target = torch.as_tensor(target, dtype=torch.float32)
    ab = calibrate_head(model, [graph])
    np.testing.assert_allclose(ab[:, 0], 5.0, rtol=0.05)
    after = predict(model, graph)
    np.testing.assert_allclose(after, target, atol=0.1)
    for s in range(2):
        assert pearson(after[:, s], raw[:, s]) == pytest.approx(1.0, abs=1e-5)
