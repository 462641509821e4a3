"""The ``unknown`` rule (issue 21): environments unlike the training data get the last class, ``unknown``.

A small model (fcc, bcc, a15, liquid) fine-tuned for a few epochs from the backbone of the
shipped seven-class model (so its embedding means something after seconds of training),
then fitted and calibrated (``md_orderml.training.calibration``). Also: the rule in the
module, the model file's SHA-256 in every output, ``load_model("classic")``.
"""

import json

import numpy as np
import pytest
import torch

from md_orderml import keys, structures
from md_orderml.cli import main
from md_orderml.model_file import SHIPPED_MODELS, file_sha256, load_model, read_metadata
from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.labeler import StructureLabeler

CLASSES = ("fcc", "bcc", "a15", "liquid")


def fractions(model_file, structure):
    """Fraction of each class name among the labels of a periodic structure."""
    from md_orderml.analysis import OrderML

    labels = OrderML(model_file).compute((structure.cell, structure.positions)).labels
    return {name: float(np.mean(labels == k)) for k, name in enumerate(model_file.class_names)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``(trainer, path)``: the small model, fine-tuned 4 epochs from the classic backbone, rule on, exported."""
    from md_orderml.model_reexport import rebuild_labeler
    from md_orderml.training.trainer import TrainConfig, Trainer, run_samples

    if not SHIPPED_MODELS["classic"].is_file():
        pytest.skip("the classic model is not in the package")
    out = tmp_path_factory.mktemp("unknown")
    config = TrainConfig(class_names=CLASSES, per_class=8, val_per_class=1, epochs=4, batch_size=4,
                         unknown_quantile=0.99, calibration_per_class=6)
    trainer = Trainer(config, out / "run")
    trainer.model.backbone.load_state_dict(rebuild_labeler("classic")[0].backbone.state_dict())
    train_set = run_samples(config, config.per_class, config.noise_max, config.seed)
    trainer.fit(train_set, run_samples(config, 1, config.noise_max, config.seed + 7919), progress=False)
    trainer.fit_unknown_rule(train_set, progress=False)
    return trainer, trainer.export(out / "small.pt")


@pytest.fixture(scope="module")
def small(trained):
    return load_model(trained[1])


# ----------------------------------------------------------------------------- the module
def test_rule_off_changes_nothing_and_keeps_the_state_dict():
    torch.manual_seed(0)
    model = StructureLabeler(EquivariantBackbone(1.6, {"features": 16, "channels": 4, "l_max": 2}), 3).eval()
    assert not any(k.startswith("unknown_rule") for k in model.state_dict())  # old weights still load
    x = torch.rand(40, 3) * 3.5
    args = (x, torch.zeros(40, dtype=torch.long), torch.eye(3) * 3.5, torch.ones(3, dtype=torch.bool),
            torch.ones(40, dtype=torch.bool), 1.0)
    before = model(*args)
    assert before[keys.PROBABILITIES].shape == (40, 3)
    d = model.backbone.embedding_dim
    squared = before[keys.EMBEDDING].pow(2).sum(dim=1)  # the squared distance to mean 0, whitening 1
    model.set_unknown_rule(torch.zeros(3, d), torch.eye(d).repeat(3, 1, 1), squared.median().repeat(3))
    after = model(*args)
    unknown = squared > squared.median()
    assert unknown.any() and (~unknown).any()
    assert torch.equal(after[keys.LABEL], torch.where(unknown, 3, before[keys.LABEL]))
    assert after[keys.PROBABILITIES].shape == (40, 4) and (after[keys.PROBABILITIES][:, 3] == 0).all()
    assert torch.equal(after[keys.PROBABILITIES][:, :3], before[keys.PROBABILITIES])
    assert (after[keys.CONFIDENCE][unknown] == 0).all()
    assert torch.equal(after[keys.CONFIDENCE][~unknown], before[keys.CONFIDENCE][~unknown])
    model.unknown_rule.switch_off()
    assert torch.equal(model(*args)[keys.LABEL], before[keys.LABEL])


# ----------------------------------------------------------------------------- the trained rule
def test_rule_recorded_in_the_metadata(small):
    meta = small.metadata
    assert small.class_names == list(CLASSES) + ["unknown"]
    rule = meta[keys.UNKNOWN_RULE]
    assert rule["relabel"] == "unknown" and rule["quantile"] == 0.99 and rule["covariance"] == "per_class"
    assert set(rule["thresholds"]) == set(CLASSES) and all(t > 0 for t in rule["thresholds"].values())
    assert rule["calibration"]["noise_max"] == 0.07
    assert max(rule["calibration"]["unknown_fraction_by_noise"].values()) <= 0.0125
    info = meta[keys.CLASS_INFO]
    assert info["a15"]["pearson_symbol"] == "cP8" and info["a15"]["space_group_number"] == 223
    assert info["fcc"]["space_group_symbol"] == "Fm-3m" and info["unknown"]["role"] == "unknown"
    assert meta["receptive_field"] == 2 * meta["cutoff"]  # the rule looks at no neighbour


@pytest.mark.parametrize("name", ["fcc", "bcc", "a15"])
@pytest.mark.parametrize("noise", [0.0, 0.04, 0.07])
def test_vocabulary_crystals_are_rarely_unknown(small, name, noise):
    s = structures.crystal(name, noise=noise, rotation="random", seed=101, min_width=6.0,
                           perturb=0.02 if name == "a15" else 0.0)
    got = fractions(small, s)
    assert got["unknown"] <= 0.02 and got[name] >= 0.9, got  # the accuracy of a 4-epoch model


def test_liquid_stays_liquid(small):
    got = fractions(small, structures.liquid(n=400, density=0.85, temperature=1.5, steps=1000, seed=7))
    assert got["liquid"] >= 0.95 and got["unknown"] <= 0.03, got


@pytest.mark.parametrize("name", ["cd", "clathrate_i", "sc", "hcp"])
def test_structures_outside_the_vocabulary_are_mostly_unknown(small, name):
    got = fractions(small, structures.crystal(name, noise=0.02, rotation="random", seed=3, min_width=6.0))
    assert got["unknown"] > 0.8, got


def test_random_points_are_mostly_unknown(small):
    rng = np.random.default_rng(0)
    gas = rng.uniform(0.0, 8.0, size=(512, 3))  # an ideal gas: overlaps and holes no liquid has
    got = fractions(small, structures.Structure(gas, np.eye(3) * 8.0, np.zeros(512, np.int32), ["A"], "gas"))
    assert got["unknown"] > 0.9, got
    # the same points 2.5 times as far apart, with the length unit of the denser system
    out = small.module(torch.as_tensor(gas * 2.5), torch.zeros(512, dtype=torch.long), torch.eye(3) * 20.0,
                       torch.ones(3, dtype=torch.bool), torch.ones(512, dtype=torch.bool), 1.0)
    assert float((out[keys.LABEL] == 4).float().mean()) > 0.6


def test_exported_file_equals_eager(trained, small):
    trainer, _ = trained
    s = structures.mixed("fcc", steps=200, seed=2)
    parts = [s.positions, structures.crystal("cd", min_width=3.0, seed=1).positions + s.cell.sum(0) * 0.25]
    positions = torch.as_tensor(np.concatenate(parts))
    n = len(positions)
    args = (positions, torch.zeros(n, dtype=torch.long), torch.as_tensor(s.cell), torch.ones(3, dtype=torch.bool),
            torch.ones(n, dtype=torch.bool), float((abs(np.linalg.det(s.cell)) / n) ** (1 / 3)))
    with torch.inference_mode():
        eager = trainer.model.cpu().eval()(*args)
        scripted = small.module(*args)
    assert torch.equal(eager[keys.LABEL], scripted[keys.LABEL])
    assert torch.allclose(eager[keys.PROBABILITIES], scripted[keys.PROBABILITIES], atol=1e-6)
    assert (scripted[keys.LABEL] == 4).any() and (scripted[keys.LABEL] < 4).any()


def test_reexport_keeps_the_rule(trained, small, tmp_path):
    from md_orderml.model_reexport import reexport_model_file

    again = load_model(reexport_model_file(trained[1], tmp_path / "again.pt"))
    assert again.metadata[keys.UNKNOWN_RULE] == small.metadata[keys.UNKNOWN_RULE]
    rng = np.random.default_rng(1)
    points = rng.uniform(0.0, 6.0, size=(200, 3))
    for model in (small, again):
        s = fractions(model, structures.Structure(points, np.eye(3) * 6.0, np.zeros(200, np.int32), ["A"], "gas"))
        assert s == fractions(small, structures.Structure(points, np.eye(3) * 6.0, np.zeros(200, np.int32),
                                                          ["A"], "gas"))


# ----------------------------------------------------------------------------- files and commands
def test_info_prints_classes_rule_and_sha256(trained, capsys):
    path = trained[1]
    assert main(["info", "--model", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"sha256         {file_sha256(path)}" in text
    assert "unknown rule   unknown where the embedding's squared mahalanobis distance" in text
    assert "   2 a15          cP8    Cr3Si (A15), Pm-3n (223)" in text
    assert "   4 unknown      environments unlike the training data" in text
    assert main(["info", "--model", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == file_sha256(path)


def test_labelled_files_carry_names_and_sha256(trained, small, tmp_path):
    import gsd.hoomd

    from md_orderml.io import open_trajectory, read_gsd_outputs

    source = tmp_path / "in.gsd"
    s = structures.crystal("a15", noise=0.03, seed=5, min_width=5.0)
    with gsd.hoomd.open(str(source), "w") as traj:
        snap = gsd.hoomd.Frame()
        snap.configuration.box = [*np.diag(s.cell), 0, 0, 0]
        snap.particles.N = len(s.positions)
        snap.particles.position = (s.positions - np.diag(s.cell) / 2).astype(np.float32)
        traj.append(snap)
    gsd_out, dump_out, csv_out = tmp_path / "out.gsd", tmp_path / "out.dump", tmp_path / "f.csv"
    for out in (gsd_out, dump_out):
        args = ["label", str(source), "--model", str(trained[1]), "-o", str(out), "--quiet", "--probabilities"]
        assert main(args + (["--fractions", str(csv_out)] if out == gsd_out else [])) == 0
    with open_trajectory(gsd_out) as traj:
        outputs, spec = read_gsd_outputs(next(iter(traj)).native)
    assert spec.model_sha256 == small.sha256 == file_sha256(trained[1])
    assert spec.class_names == tuple(small.class_names) and outputs["probabilities"].shape[1] == 5
    with open_trajectory(dump_out) as traj:
        header = next(iter(traj)).native.md_orderml_header
    assert header == {"class_names": small.class_names, "model_sha256": [small.sha256]}
    rows = [line.split(",") for line in csv_out.read_text().splitlines()]
    assert rows[0] == ["frame", "step", "N", *small.class_names, "model_sha256"] and rows[1][-1] == small.sha256
    try:
        from ovito.io import import_file
    except ImportError:
        return
    data = import_file(str(dump_out)).compute(0)
    assert data.particles.count == len(s.positions)
    np.testing.assert_array_equal(np.asarray(data.particles["orderml_label"]), outputs["label"])


def test_classic_model_by_name(capsys):
    classic = load_model("classic")
    assert classic.class_names == ["fcc", "bcc", "hcp", "sc", "cd", "hd", "liquid"]
    assert classic.path == SHIPPED_MODELS["classic"] and len(classic.sha256) == 64
    assert keys.UNKNOWN_RULE not in read_metadata(SHIPPED_MODELS["classic"])
    assert main(["info", "--model", "classic"]) == 0
    assert "classes        fcc, bcc, hcp, sc, cd, hd, liquid" in capsys.readouterr().out


def test_train_command_records_the_rule(tmp_path):
    model = tmp_path / "tiny.pt"
    assert main(["train", "-o", str(model), "--run-dir", str(tmp_path / "run"), "--classes", "fcc,sigma,liquid",
                 "--per-class", "1", "--val-per-class", "1", "--epochs", "1", "--quiet", "--threads", "1",
                 "--architecture", json.dumps({"features": 16, "channels": 4, "l_max": 2}),
                 "--unknown-quantile", "0.99", "--calibration-per-class", "3",
                 "--isolated-crystal-radius", "1.2"]) == 0
    meta = read_metadata(model)
    assert meta["class_names"] == ["fcc", "sigma", "liquid", "unknown"]
    assert meta[keys.UNKNOWN_RULE]["quantile"] == 0.99
    assert meta[keys.ISOLATED_CRYSTAL_RULE]["crystal_classes"] == ["fcc", "sigma"]
    assert meta["training"]["config"]["unknown_quantile"] == 0.99
    assert load_model(model).module.unknown_rule.unknown_label == 3
    assert main(["train", "-o", str(tmp_path / "x.pt"), "--classes", "fcc,liquid,unknown", "--quiet"]) == 2


def test_recalibrated_rule_on_the_averaged_embedding(trained, tmp_path):
    """recalibrate_unknown with a neighbour average: same head (labels that are not unknown keep), a wider
    receptive field, the average recorded, and the written file equals the eager module and its weights rebuild."""
    import dataclasses
    import zipfile

    from md_orderml.analysis import OrderML
    from md_orderml.model_file import ModelFile
    from md_orderml.model_weights import rebuild_labeler, stored_weights
    from md_orderml.training.recalibration import recalibrate_unknown

    trainer, path = trained
    config = dataclasses.replace(trainer.config, unknown_average_radius=1.5, unknown_rescue_passes=2)
    out = recalibrate_unknown(path, config, tmp_path / "averaged.pt")
    before, after = load_model(path), load_model(out)
    record = after.metadata[keys.UNKNOWN_RULE]
    assert record["embedding_average"] == {"radius": 1.5, "taper": 0.5}
    assert record["rescue"] == {"radius": 1.4, "passes": 2,
                                "min_fraction": {"fcc": 0.25, "bcc": 0.25, "a15": 0.25, "liquid": 0.5}}
    assert after.receptive_field == pytest.approx(before.receptive_field + 1.5 + 2 * 1.4)
    s = structures.crystal("bcc", noise=0.04, min_width=6.0, seed=11)
    old = OrderML(before).compute((s.cell, s.positions))
    new = OrderML(after).compute((s.cell, s.positions))
    np.testing.assert_allclose(new.probabilities, old.probabilities, atol=1e-5)  # the head is the same
    both = (old.labels < 4) & (new.labels < 4)
    assert both.mean() > 0.9 and (old.labels[both] == new.labels[both]).all()
    with zipfile.ZipFile(out) as archive:
        tensors = stored_weights(archive.namelist(), archive.read, str(out))
    eager = rebuild_labeler(after.metadata, tensors, str(out))
    assert eager.unknown_average_radius == 1.5 and eager.rescue_passes == 2
    again = OrderML(ModelFile(module=eager, metadata=after.metadata, path=out)).compute((s.cell, s.positions))
    np.testing.assert_array_equal(again.labels, new.labels)


def test_rescue_gives_back_the_head_class_where_neighbours_have_it():
    """A chain 0-1-2-3-4 (bonds between consecutive nodes): unknown nodes whose head class a
    quarter of their neighbours carry take it, one shell per pass; a run of unknowns stays."""
    from md_orderml.nn.neighbour_rules import rescued_labels

    pairs = [(i, i + 1) for i in range(4)]
    edge_index = torch.tensor([[a for a, b in pairs] + [b for a, b in pairs],
                               [b for a, b in pairs] + [a for a, b in pairs]])
    edge_vec = torch.tensor([[1.0, 0.0, 0.0]] * (2 * len(pairs)))
    head = torch.tensor([0, 0, 0, 1, 1])
    label = torch.tensor([0, 9, 9, 9, 9])  # 9: unknown
    quarter = torch.tensor([0.25, 0.25])
    one = rescued_labels(label, head, 9, edge_index, edge_vec, 1.5, 1, quarter)
    assert one.tolist() == [0, 0, 9, 9, 9]
    three = rescued_labels(label, head, 9, edge_index, edge_vec, 1.5, 3, quarter)
    assert three.tolist() == [0, 0, 0, 9, 9]  # node 3's head says 1, which no neighbour carries
    far = rescued_labels(label, head, 9, edge_index, edge_vec, 0.5, 3, quarter)  # no neighbour within 0.5
    assert far.tolist() == label.tolist()
    barred = rescued_labels(label, head, 9, edge_index, edge_vec, 1.5, 3, torch.tensor([2.0, 0.25]))
    assert barred.tolist() == label.tolist()  # class 0 is never given back
    strict = rescued_labels(label, head, 9, edge_index, edge_vec, 1.5, 3, torch.tensor([0.75, 0.25]))
    assert strict.tolist() == label.tolist()  # node 1 has 1 of 2 neighbours labelled 0: under 0.75
