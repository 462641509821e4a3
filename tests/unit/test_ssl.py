"""Self-supervised pretraining: losses go down, denoising is equivariant, pretrain -> finetune -> model file."""

import json

import numpy as np
import pytest
import torch

from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.ssl.data import environment_graphs, unlabelled_samples
from md_orderml.ssl.pretext import PretextConfig, PretextModel, corrupt
from md_orderml.ssl.pretrain import _collate_with_graph

TINY = {"features": 16, "channels": 4, "l_max": 2, "power_channels": 8, "cubic_channels": 4}


@pytest.fixture(scope="module")
def crystals():
    return unlabelled_samples(4, 1.6, seed=3, liquid_fraction=0.0)



def _fit_fixed_batch(model, batch, corrupted, config, steps):
    """Train ``steps`` Adam steps on one fixed corrupted batch; pretext losses before and after."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        before = {k: float(v) for k, v in model(batch, corrupted, config).items()}
    for _ in range(steps):
        loss = model(batch, corrupted, config)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = {k: float(v) for k, v in model(batch, corrupted, config).items()}
    return before, after

def test_pretext_losses_decrease(crystals):
    torch.manual_seed(0)
    model = PretextModel(EquivariantBackbone(1.6, TINY))
    config = PretextConfig(weights={"denoise": 1.0, "noisy_bond": 1.0, "shift": 1.0})
    batch, graph = _collate_with_graph(crystals)
    corrupted = corrupt(batch, graph, len(crystals), config, torch.Generator().manual_seed(0))
    before, after = _fit_fixed_batch(model, batch, corrupted, config, steps=40)
    for task in ("denoise", "noisy_bond", "shift", "total"):
        assert after[task] < before[task], (task, before, after)


def test_denoising_output_rotates_with_input(crystals):
    from e3nn import o3

    torch.manual_seed(1)
    model = PretextModel(EquivariantBackbone(1.6, TINY)).eval()
    sample = crystals[0]
    rot = o3.rand_matrix()
    with torch.no_grad():
        outs = []
        for vec in (sample.edge_vec, sample.edge_vec @ rot.T):
            emb = model.backbone(sample.types, sample.edge_index, vec)
            outs.append(model.denoise(emb, sample.edge_index, vec))
    assert outs[0].abs().max() > 1e-4  # not trivially zero
    torch.testing.assert_close(outs[1], outs[0] @ rot.T, atol=1e-5, rtol=1e-4)


def test_environment_subgraph_embedding_equals_whole(crystals):
    torch.manual_seed(2)
    backbone = EquivariantBackbone(1.6, TINY).eval()
    sample = crystals[1]
    centres = [0, 5, sample.n - 1]
    with torch.no_grad():
        whole = backbone(sample.types, sample.edge_index, sample.edge_vec)[centres]
        parts = [backbone(g.types, g.edge_index, g.edge_vec)[0] for g in environment_graphs(sample, centres, [0, 0, 0], 2)]
    torch.testing.assert_close(torch.stack(parts), whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode,head", [("frozen", "linear"), ("full", "mlp")])
def test_pretrain_then_finetune_writes_loadable_model(tmp_path, mode, head):
    from md_orderml import structures
    from md_orderml.cli import main
    from md_orderml.model_file import load_model

    pre = tmp_path / "pretrained.pt"
    if not pre.exists():
        assert main(["pretrain", "-o", str(pre), "--run-dir", str(tmp_path / "pre"), "--epochs", "1",
                     "--structures", "4", "--liquid-fraction", "0", "--threads", "1", "--quiet",
                     "--architecture", json.dumps(TINY)]) == 0
    assert (tmp_path / "pre" / "pretrain_checkpoint.pt").is_file()
    model_path = tmp_path / "model.pt"
    assert main(["finetune", "--pretrained", str(pre), "-o", str(model_path), "--labels", "14", "--mode", mode,
                 "--head", head, "--steps", "3", "--probe-steps", "20", "--pool-per-class", "1",
                 "--test-per-class", "0", "--task", "default", "--run-dir", str(tmp_path / "ft"),
                 "--threads", "1", "--quiet"]) == 0
    model = load_model(model_path)
    assert model.class_names == ["fcc", "bcc", "hcp", "sc", "cd", "hd", "liquid"]
    assert model.metadata["training"]["kind"] == "finetuned" and model.metadata["training"]["mode"] == mode
    s = structures.crystal("fcc", min_width=4.0)
    n = s.N
    out = model.module(torch.as_tensor(s.positions), torch.zeros(n, dtype=torch.int64), torch.as_tensor(s.cell),
                       torch.ones(3, dtype=torch.bool), torch.ones(n, dtype=torch.bool),
                       float((abs(np.linalg.det(s.cell)) / n) ** (1 / 3)))
    assert out["embedding"].shape == (n, 32) and out["label"].shape == (n,)


def test_contrastive_and_pointgroup_losses_decrease(crystals):
    torch.manual_seed(3)
    model = PretextModel(EquivariantBackbone(1.6, TINY))
    config = PretextConfig(weights={"contrast": 1.0, "pointgroup": 1.0}, contrast_anchors=256, pointgroup_clouds=16)
    batch, graph = _collate_with_graph(crystals)
    corrupted = corrupt(batch, graph, len(crystals), config, torch.Generator().manual_seed(0))
    assert corrupted["view_vec"].shape == batch["edge_vec"].shape and len(corrupted["anchors"]) == 256
    before, after = _fit_fixed_batch(model, batch, corrupted, config, steps=25)
    for task in ("contrast", "pointgroup", "total"):
        assert after[task] < before[task], (task, before, after)


def test_info_nce_ignores_same_configuration_and_rotations_are_proper():
    from md_orderml.ssl.contrast import info_nce, random_rotations

    rot = random_rotations(5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(rot @ rot.transpose(1, 2), torch.eye(3).expand(5, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(5), atol=1e-5, rtol=0)
    z = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    # all anchors in one configuration: no negatives, the loss is exactly 0
    assert float(info_nce(z, z, torch.zeros(6, dtype=torch.int64), 0.1)) == pytest.approx(0.0, abs=1e-6)
    assert float(info_nce(z, z, torch.arange(6), 0.1)) > 0.0


def test_point_groups_have_their_orders_and_clouds_their_symmetry():
    from md_orderml.ssl.pointgroups import GROUPS, group_elements, symmetric_cloud

    orders = {"C1": 1, "Ci": 2, "C4v": 8, "D6h": 24, "D2d": 8, "Td": 24, "Th": 24, "Oh": 48, "Ih": 120}
    assert {g: len(group_elements(g)) for g in orders} == orders and len(GROUPS) == 17
    rng = np.random.default_rng(0)
    for name in ("Oh", "D3h", "Ih"):
        points = symmetric_cloud(name, rng)
        assert np.allclose(points[0], 0.0) and len(points) > 1
        for g in group_elements(name):  # every element maps the cloud onto itself
            moved = points @ g.T
            assert np.linalg.norm(moved[:, None] - points[None], axis=2).min(1).max() < 1e-4


def test_nearest_bond_targets_are_the_removed_nearest_neighbours(crystals):
    from md_orderml.ssl.nearest_bond import holes_and_targets

    sample = crystals[0]
    n = len(sample.types)
    out = holes_and_targets(sample.edge_index, sample.edge_vec, n, 0.2, torch.Generator().manual_seed(4))
    src, dst = sample.edge_index
    keep = out["nearest_keep"]
    holes = set(range(n)) - set(src[keep].tolist()) - set(dst[keep].tolist())
    assert 0 < len(out["nearest_centres"]) and not holes & set(out["nearest_centres"].tolist())
    length = torch.linalg.vector_norm(sample.edge_vec, dim=1)
    for centre, target in zip(out["nearest_centres"].tolist(), out["nearest_target"]):
        mine = src == centre
        nearest = torch.argmin(torch.where(mine, length, torch.inf))
        assert int(dst[nearest]) in holes  # its nearest neighbour was removed ...
        torch.testing.assert_close(target, sample.edge_vec[nearest])  # ... and is the target
        assert not bool((keep & mine & (dst == dst[nearest])).any())  # the bond is gone


def test_nearest_bond_prediction_rotates_with_input_and_its_loss_decreases(crystals):
    from e3nn import o3

    torch.manual_seed(5)
    model = PretextModel(EquivariantBackbone(1.6, TINY))
    sample, rot = crystals[1], o3.rand_matrix()
    with torch.no_grad():
        outs = []
        for vec in (sample.edge_vec, sample.edge_vec @ rot.T):
            emb = model.backbone(sample.types, sample.edge_index, vec)
            outs.append(model.nearest_bond(emb, sample.edge_index, vec))
    assert outs[0].abs().max() > 1e-4
    torch.testing.assert_close(outs[1], outs[0] @ rot.T, atol=1e-5, rtol=1e-4)

    config = PretextConfig(weights={"nearest_bond": 1.0}, hole_fraction=0.1)
    batch, graph = _collate_with_graph(crystals)
    corrupted = corrupt(batch, graph, len(crystals), config, torch.Generator().manual_seed(0))
    before, after = _fit_fixed_batch(model, batch, corrupted, config, steps=40)
    assert after["nearest_bond"] < 0.7 * before["nearest_bond"], (before, after)


def test_supervised_training_starts_from_a_pretrained_backbone(tmp_path):
    from md_orderml.cli import main
    from md_orderml.errors import InputError
    from md_orderml.nn.pretrained import load_pretrained_backbone
    from md_orderml.training import TrainConfig, Trainer

    pre = tmp_path / "pretrained.pt"
    assert main(["pretrain", "-o", str(pre), "--run-dir", str(tmp_path / "pre"), "--epochs", "1",
                 "--structures", "3", "--liquid-fraction", "0", "--threads", "1", "--quiet",
                 "--architecture", json.dumps(TINY), "--weights", '{"nearest_bond": 1}']) == 0
    pretrained, _ = load_pretrained_backbone(pre)
    arch = {**TrainConfig().architecture, **TINY}
    trainer = Trainer(TrainConfig(architecture=arch, init_backbone=str(pre)), tmp_path / "run")
    for name, value in pretrained.state_dict().items():
        torch.testing.assert_close(trainer.model.backbone.state_dict()[name], value, msg=name)
    random = Trainer(TrainConfig(architecture=arch), tmp_path / "run2").model.backbone.state_dict()
    assert any(not torch.equal(random[k], v) for k, v in pretrained.state_dict().items())
    with pytest.raises(InputError, match="differs from the training run"):
        Trainer(TrainConfig(architecture={**arch, "features": 24}, init_backbone=str(pre)), tmp_path / "run3")
