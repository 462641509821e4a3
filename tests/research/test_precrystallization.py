"""Pre-crystallization probe: AUC, logistic probe, splits, Steinhardt features (no MD)."""

import numpy as np
import pytest

from md_orderml.research.probes import fit_logistic, probe_auc, roc_auc, stratified_folds
from md_orderml.research.precrystallization import (SimConfig, early_frames, outcomes, steinhardt_features,
                                                   steinhardt_per_particle)
from md_orderml.structures import crystal


def test_roc_auc_hand_computed():
    # positives 0.8, 0.4, 0.6; negatives 0.1, 0.4, 0.7: pairs won 3 + (0.5 + 1) + 2 = 6.5 of 9
    scores = np.array([0.8, 0.1, 0.4, 0.4, 0.7, 0.6])
    labels = np.array([1, 0, 1, 0, 0, 1])
    assert roc_auc(scores, labels) == pytest.approx(6.5 / 9)
    assert roc_auc(-scores, labels) == pytest.approx(2.5 / 9)
    with pytest.raises(ValueError):
        roc_auc(scores, np.ones(6))


def test_logistic_fit_recovers_direction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (rng.random(400) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 2])))).astype(float)
    w, b = fit_logistic(x, y, l2=1e-3)
    assert w[0] > 1.2 and w[2] < -0.5 and abs(w[1]) < 0.4
    w_strong, _ = fit_logistic(x, y, l2=1e4)
    assert np.abs(w_strong).max() < 0.1


def test_stratified_folds_partition_and_balance():
    y = np.array([0] * 12 + [1] * 8)
    folds = stratified_folds(y, 4, np.random.default_rng(1))
    assert sorted(np.concatenate(folds).tolist()) == list(range(20))
    assert [int(y[f].sum()) for f in folds] == [2, 2, 2, 2]


def test_probe_separable_vs_shuffled():
    rng = np.random.default_rng(2)
    y = np.array([0, 1] * 20)
    x = rng.normal(size=(40, 6))
    separable = x.copy()
    separable[:, 0] += 4.0 * y
    aucs = probe_auc({"separable": separable, "noise": x}, y, k=5, repeats=2)
    assert aucs["separable"].mean() > 0.97
    shuffled = np.stack([probe_auc({"s": separable}, rng.permutation(y), k=5, repeats=1)["s"][0] for _ in range(8)])
    assert abs(shuffled.mean() - 0.5) < 0.15


def test_steinhardt_fcc_values_and_shapes():
    frame = crystal("fcc", min_width=4.0).to_frame()
    per = steinhardt_per_particle(frame)
    assert per.shape == (frame.N, 4)
    # ideal fcc, 12 neighbours: Q4 = 0.19094, Q6 = 0.57452, normalised W4 = -0.159317, W6 = -0.013161
    np.testing.assert_allclose(per.mean(0), [0.19094, 0.57452, -0.159317, -0.013161], atol=2e-4)
    run = {"early": np.stack([frame.positions - frame.box.corner] * 2), "cell": frame.box.matrix}
    assert len(early_frames(run)) == 2
    feats = steinhardt_features([run, run])
    assert feats.shape == (2, 8)
    np.testing.assert_allclose(feats[:, 4:], 0.0, atol=1e-6)


def test_outcomes_count_crossings_within_the_horizon_and_the_cache_key_follows_the_settings():
    runs = [{"crystallization_step": np.int64(step)} for step in (-1, 5000, 24000, 26000)]
    np.testing.assert_array_equal(outcomes(runs, 24000), [0, 1, 1, 0])  # -1: never crossed
    np.testing.assert_array_equal(outcomes(runs, 30000), [0, 1, 1, 1])
    assert SimConfig().key() == SimConfig().key() and len(SimConfig().key()) == 12
    assert SimConfig(early_steps=7000).key() != SimConfig().key()
