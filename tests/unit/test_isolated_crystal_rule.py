"""The isolated-crystal rule: a crystal label needs crystal-labelled neighbours.

The rule runs inside the exported model, after the classification head: exported and
eager models must agree, ghosts must reach the enlarged receptive field, and the shipped
default model carries it (it turns the rare crystal-like particles of real liquids into
``liquid`` without touching crystals; ``benchmarks/melting_accuracy.py`` measures that).
"""

import numpy as np
import pytest
import torch

from md_orderml import keys, structures
from md_orderml.analysis import OrderML, length_scale_of
from md_orderml.model_file import load_model, save_model
from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.labeler import StructureLabeler
from md_orderml.training.trainer import apply_isolated_crystal_rule

from conftest import CLASSES

CUTOFF, RADIUS = 1.6, 1.2


def _run(module, positions, cell, pbc=(True, True, True), owned=None, scale=None):
    n = len(positions)
    owned = np.ones(n, bool) if owned is None else owned
    scale = length_scale_of(abs(np.linalg.det(cell)), int(owned.sum())) if scale is None else scale
    with torch.inference_mode():
        out = module(torch.as_tensor(positions, dtype=torch.float64), torch.zeros(n, dtype=torch.int64),
                     torch.as_tensor(cell, dtype=torch.float64), torch.tensor(pbc), torch.as_tensor(owned), scale)
    return {k: v.numpy() for k, v in out.items()}


def _tiny(seed=2):
    torch.manual_seed(seed)
    return StructureLabeler(EquivariantBackbone(CUTOFF, {"features": 32, "channels": 8}), len(CLASSES)).eval()


def test_rule_relabels_only_isolated_crystal_particles():
    model = _tiny()
    fcc, bcc, liquid = CLASSES.index("fcc"), CLASSES.index("bcc"), CLASSES.index("liquid")
    crystals = [c for c in CLASSES if c != "liquid"]
    model.set_isolated_crystal_rule(list(CLASSES), crystals, RADIUS, min_neighbours=2)
    # 0-1-2: a crystal triangle (bonds 1.0); 3 liquid; 4 bcc next to the liquid one and
    # 1.5 (beyond the radius) from particle 0; 5 fcc with one crystal neighbour (needs two)
    label = torch.tensor([fcc, fcc, bcc, liquid, bcc, fcc])
    pairs = [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (3, 4, 1.0), (0, 4, 1.5), (5, 0, 1.1)]
    edges = [(i, j, d) for i, j, d in pairs] + [(j, i, d) for i, j, d in pairs]
    edge_index = torch.tensor([[i for i, _, _ in edges], [j for _, j, _ in edges]])
    edge_vec = torch.tensor([[d, 0.0, 0.0] for _, _, d in edges])
    out = model.isolated_crystal_labels(label, edge_index, edge_vec)
    assert out.tolist() == [fcc, fcc, bcc, liquid, liquid, liquid]
    model.set_isolated_crystal_rule(list(CLASSES), crystals, RADIUS, min_neighbours=1)
    assert model.isolated_crystal_labels(label, edge_index, edge_vec).tolist() == [fcc, fcc, bcc, liquid, liquid, fcc]
    with pytest.raises(ValueError, match="radius"):
        model.set_isolated_crystal_rule(list(CLASSES), crystals, 2 * CUTOFF)


@pytest.fixture(scope="module")
def ruled_model_path(tmp_path_factory):
    """The classic model's weights with a strict rule (6 crystal neighbours), exported as the trainer does.

    An untrained model labels every particle alike; the trained weights on a crystal-liquid
    frame give crystal particles at the interface with few crystal neighbours.
    """
    shipped = load_model("classic")
    meta = dict(shipped.metadata)
    arch = {k: v for k, v in meta["architecture"].items() if k != "family"}
    model = StructureLabeler(EquivariantBackbone(meta["cutoff"], arch), len(meta["class_names"]))
    wanted = model.state_dict()
    model.load_state_dict({k: v for k, v in shipped.module.state_dict().items() if k in wanted})
    model.eval()
    meta[keys.ISOLATED_CRYSTAL_RULE] = apply_isolated_crystal_rule(model, meta["class_names"], RADIUS, 6)
    meta["receptive_field"] = meta["cutoff"] * meta["n_layers"] + RADIUS
    path = tmp_path_factory.mktemp("ruled") / "ruled.pt"
    save_model(model, meta, path)
    return path, model


@pytest.fixture(scope="module")
def mixed_frame():
    return structures.mixed("fcc", crystal_fraction=0.5, min_width=7.0, steps=300, seed=4)


def test_exported_rule_equals_eager_and_acts(ruled_model_path, mixed_frame):
    path, eager = ruled_model_path
    scripted = load_model(path).module
    s = mixed_frame
    a, b = _run(scripted, s.positions, s.cell), _run(eager, s.positions, s.cell)
    for key in keys.OUTPUT_KEYS:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6)
    raw = a[keys.PROBABILITIES].argmax(axis=1)
    changed = raw != a[keys.LABEL]
    assert 0 < changed.sum() < len(raw), "the frame must exercise the rule"
    assert (a[keys.LABEL][changed] == list(CLASSES).index("liquid")).all()
    np.testing.assert_allclose(a[keys.CONFIDENCE], a[keys.PROBABILITIES][np.arange(len(raw)), a[keys.LABEL]])
    info = load_model(path).metadata
    assert info[keys.ISOLATED_CRYSTAL_RULE]["min_neighbours"] == 6
    assert info["receptive_field"] == pytest.approx(2 * CUTOFF + RADIUS)


def _ghost_labels(module, s, reach_units):
    """Labels of the particles with fractional x < 1/2 from them plus images within the reach."""
    scale = length_scale_of(abs(np.linalg.det(s.cell)), len(s.positions))
    frac = s.positions @ np.linalg.inv(s.cell)
    frac -= np.floor(frac)
    owned_mask = frac[:, 0] < 0.5
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    images = (frac[None] + shifts[:, None]).reshape(-1, 3)
    index = np.tile(np.arange(len(frac)), len(shifts))
    original = np.repeat((shifts == 0).all(1), len(frac))
    normals = np.linalg.inv(s.cell).T  # rows: reciprocal vectors; plane spacing = 1 / |row|
    margin = reach_units * scale * np.linalg.norm(normals[0])
    keep = (images[:, 0] > -margin) & (images[:, 0] < 0.5 + margin)
    owned = original[keep] & owned_mask[index[keep]]
    out = _run(module, images[keep] @ s.cell, np.zeros((3, 3)), (False, False, False), owned, scale)
    return out[keys.LABEL], index[keep][owned]


def test_ghosts_within_the_enlarged_receptive_field_give_periodic_labels(ruled_model_path, mixed_frame):
    path, _ = ruled_model_path
    module = load_model(path).module
    s = mixed_frame
    ref = _run(module, s.positions, s.cell)[keys.LABEL]
    labels, which = _ghost_labels(module, s, (2 * CUTOFF + RADIUS) * 1.02)
    np.testing.assert_array_equal(labels, ref[which])
    assert (ref[which] == list(CLASSES).index("liquid")).any() and (ref[which] == 0).any()


def test_default_model_carries_the_rule_and_keeps_crystals():
    clf = OrderML("default")
    meta = clf.model.metadata
    rule = meta[keys.ISOLATED_CRYSTAL_RULE]
    assert rule["relabel"] == "liquid" and set(rule["crystal_classes"]) == set(meta["class_names"]) - {"liquid", "unknown"}
    unknown = meta[keys.UNKNOWN_RULE]  # the unknown rule's neighbour average and rescue reach further
    extra = unknown["embedding_average"]["radius"] + unknown["rescue"]["passes"] * unknown["rescue"]["radius"]
    assert meta["receptive_field"] == pytest.approx(meta["cutoff"] * meta["n_layers"] + rule["radius"] + extra)
    assert clf.model.module.receptive_field() == pytest.approx(meta["receptive_field"])
    for kind in ("fcc", "bcc", "hcp", "cd"):
        s = structures.crystal(kind, noise=0.04, seed=7)
        names = np.array(meta["class_names"])[clf.compute_arrays(
            s.positions, np.zeros(len(s.positions), np.int64), s.cell, (True, True, True),
            np.ones(len(s.positions), bool), length_scale_of(abs(np.linalg.det(s.cell)), len(s.positions)))[keys.LABEL]]
        assert (names == kind).all(), kind
