"""The geometric-algebra attention backbone family: symmetries, smoothness, export, CLI, factory."""

import json

import numpy as np
import pytest
import torch
from e3nn import o3

from md_orderml import OrderML, keys, structures
from md_orderml.cli import main
from md_orderml.model_file import build_metadata, load_model, read_metadata, save_model
from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.families import Backbone, build_backbone
from md_orderml.nn.ga_attention import GeometricAlgebraAttentionBackbone
from md_orderml.nn.labeler import StructureLabeler

SMALL = {"family": "ga_attention", "features": 16, "pair_width": 8, "heads": 2, "n_angular": 4}
CLASSES = ["fcc", "bcc", "hcp", "liquid"]


def _labeler(seed=0, **extra):
    torch.manual_seed(seed)
    return StructureLabeler(build_backbone(1.6, {**SMALL, **extra}), len(CLASSES)).eval()


def _run(module, positions, cell):
    n = len(positions)
    scale = float((abs(np.linalg.det(cell)) / n) ** (1.0 / 3.0))
    with torch.inference_mode():
        out = module(torch.as_tensor(positions, dtype=torch.float64), torch.zeros(n, dtype=torch.int64),
                     torch.as_tensor(cell, dtype=torch.float64), torch.ones(3, dtype=torch.bool),
                     torch.ones(n, dtype=torch.bool), scale)
    return {k: v.numpy() for k, v in out.items()}


@pytest.fixture(scope="module")
def noisy_bcc():
    return structures.crystal("bcc", noise=0.06, seed=5)


def test_rotation_translation_permutation_invariance(noisy_bcc):
    model, s = _labeler(), noisy_bcc
    ref = _run(model, s.positions, s.cell)
    assert np.ptp(ref[keys.EMBEDDING], axis=0).max() > 1e-3  # noise makes environments differ
    torch.manual_seed(7)
    rot = o3.rand_matrix().double().numpy()
    out = _run(model, s.positions @ rot.T, s.cell @ rot.T)
    np.testing.assert_allclose(out[keys.EMBEDDING], ref[keys.EMBEDDING], atol=2e-5)
    out = _run(model, s.positions + np.array([2.1, -7.3, 0.4]), s.cell)
    np.testing.assert_allclose(out[keys.EMBEDDING], ref[keys.EMBEDDING], atol=2e-5)
    perm = np.random.default_rng(0).permutation(len(s.positions))
    out = _run(model, s.positions[perm], s.cell)
    np.testing.assert_allclose(out[keys.EMBEDDING], ref[keys.EMBEDDING][perm], atol=2e-5)
    np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES][perm], atol=2e-5)


def _cluster_graph(vectors):
    """Centre 0 bonded to every other particle of a small non-periodic cluster."""
    vec = torch.as_tensor(np.asarray(vectors), dtype=torch.float32)
    n = vec.shape[0] + 1
    edge_index = torch.stack([torch.zeros(n - 1, dtype=torch.int64), torch.arange(1, n)])
    return torch.zeros(n, dtype=torch.int64), edge_index, vec


def test_neighbor_order_chunks_and_angles():
    torch.manual_seed(3)
    backbone = GeometricAlgebraAttentionBackbone(1.6, SMALL, chunk=5).eval()
    whole = GeometricAlgebraAttentionBackbone(1.6, SMALL, chunk=100000).eval()
    whole.load_state_dict(backbone.state_dict())
    s = structures.crystal("fcc", noise=0.08, seed=2)
    from md_orderml.neighbors import radius_graph

    x = torch.as_tensor(s.positions, dtype=torch.float32)
    cell = torch.as_tensor(s.cell, dtype=torch.float32)
    scale = float((abs(np.linalg.det(s.cell)) / len(x)) ** (1.0 / 3.0))
    edge_index, edge_vec = radius_graph(x / scale, cell / scale, torch.ones(3, dtype=torch.bool), 1.6)
    types = torch.zeros(len(x), dtype=torch.int64)
    with torch.no_grad():
        ref = backbone(types, edge_index, edge_vec)
        perm = torch.randperm(edge_vec.shape[0])
        torch.testing.assert_close(backbone(types, edge_index[:, perm], edge_vec[perm]), ref, atol=2e-5, rtol=0)
        torch.testing.assert_close(whole(types, edge_index, edge_vec), ref, atol=2e-5, rtol=0)
        # same bond lengths, different angle: a rank-1 (distance-only) model could not tell them apart
        a = backbone(*_cluster_graph([[1.0, 0, 0], [0, 1.0, 0]]))[0]
        b = backbone(*_cluster_graph([[1.0, 0, 0], [-0.5, 0.75 ** 0.5, 0]]))[0]
    assert (a - b).abs().max() > 1e-4


def test_continuous_when_a_neighbor_crosses_the_cutoff():
    torch.manual_seed(4)
    backbone = GeometricAlgebraAttentionBackbone(1.6, SMALL).eval()
    near = [[1.0, 0.1, 0.0], [0.0, 1.1, 0.2], [-0.3, 0.1, 1.0]]
    with torch.no_grad():
        outside = backbone(*_cluster_graph(near))[0]  # the fourth particle beyond the cutoff: no bond
        gap = [(backbone(*_cluster_graph(near + [[1.6 * (1.0 - eps), 0.0, 0.0]]))[0] - outside).abs().max()
               for eps in (0.2, 0.02)]
    # the fourth bond's weight fades out smoothly (envelope ~ eps^3), not with a jump
    assert gap[0] > 1e-3
    assert gap[1] < 1e-3 and gap[1] < 0.05 * gap[0]


def test_exported_equals_eager(tmp_path, noisy_bcc):
    eager = _labeler(seed=1)
    path = save_model(eager, build_metadata(CLASSES, 1.6, 2, dict(eager.backbone.config), {"kind": "untrained"}),
                      tmp_path / "ga.pt")
    scripted = load_model(path).module
    s = noisy_bcc
    a, b = _run(scripted, s.positions, s.cell), _run(eager, s.positions, s.cell)
    for key in keys.OUTPUT_KEYS:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6)


def test_cli_trains_a_ga_model_that_labels_a_crystal(tmp_path):
    model = tmp_path / "ga.pt"
    architecture = {"family": "ga_attention", "features": 16, "pair_width": 8, "heads": 2}
    args = ["train", "-o", str(model), "--run-dir", str(tmp_path / "run"), "--per-class", "1",
            "--val-per-class", "1", "--batch-size", "4", "--quiet", "--threads", "1", "--epochs", "1",
            "--architecture", json.dumps(architecture)]
    assert main(args) == 0
    arch = read_metadata(model)["architecture"]
    assert arch["family"] == "ga_attention" and arch["features"] == 16 and "l_max" not in arch
    clf = OrderML(str(model))
    frame = structures.crystal("fcc", noise=0.03, seed=1).to_frame()
    labels = clf.compute(frame).labels
    assert labels.shape == (frame.N,) and labels.min() >= 0 and labels.max() < len(clf.class_names)
    assert np.isfinite(clf.probabilities).all()


def test_factory_dispatch_and_unknown_family():
    assert isinstance(build_backbone(1.6, {}), EquivariantBackbone)
    assert isinstance(build_backbone(1.6, {"family": "density", "features": 8}), EquivariantBackbone)
    ga = build_backbone(1.6, {"family": "ga_attention", "l_max": 3}, chunk=9)
    assert isinstance(ga, GeometricAlgebraAttentionBackbone) and ga.chunk == 9
    assert ga.config["family"] == "ga_attention" and "l_max" not in ga.config
    for key in ("avg_neighbors", "n_layers", "n_types"):
        assert key in ga.config
    assert ga.embedding_dim == ga.config["features"] * ga.config["n_layers"]
    with pytest.raises(ValueError, match="transformer"):
        build_backbone(1.6, {"family": "transformer"})


def test_labeler_takes_a_backbone_of_either_family_and_refuses_other_modules():
    for architecture in ({"features": 8, "channels": 4}, SMALL):
        backbone = build_backbone(1.6, architecture)
        assert isinstance(backbone, Backbone)
        labeler = StructureLabeler(backbone, len(CLASSES))
        assert labeler.cutoff == 1.6 and labeler.head[0].in_features == backbone.embedding_dim
    with pytest.raises(TypeError, match="backbone module with cutoff, embedding_dim"):
        StructureLabeler(torch.nn.Linear(3, 3), len(CLASSES))
