"""The training command: checkpoints, resume, export of a loadable model file."""

import json

import torch

from md_orderml import keys
from md_orderml.cli import main
from md_orderml.model_file import load_model, read_metadata


def test_train_resume_and_export(tmp_path, capsys):
    run_dir, model = tmp_path / "run", tmp_path / "model.pt"
    common = ["train", "-o", str(model), "--run-dir", str(run_dir), "--per-class", "1",
              "--val-per-class", "1", "--batch-size", "4", "--quiet", "--threads", "1",
              "--architecture", json.dumps({"features": 16, "channels": 4, "l_max": 2}),
              "--isolated-crystal-radius", "1.2", "--isolated-crystal-neighbours", "3"]
    assert main(common + ["--epochs", "1"]) == 0
    state = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert main(common + ["--epochs", "2", "--resume"]) == 0
    meta = read_metadata(model)
    assert meta["training"]["epochs"] == 2
    assert meta["architecture"]["l_max"] == 2
    assert set(meta["training"]["history"][-1]["val_accuracy"]) == set(meta["class_names"])
    assert load_model(model).class_names == meta["class_names"]
    rule = meta[keys.ISOLATED_CRYSTAL_RULE]
    assert rule["radius"] == 1.2 and rule["min_neighbours"] == 3 and "liquid" not in rule["crystal_classes"]
    assert meta["receptive_field"] == 2 * meta["cutoff"] + 1.2
    assert load_model(model).module.isolation_radius == 1.2
    exported = tmp_path / "exported.pt"
    assert main(["export", str(run_dir / "checkpoint.pt"), "-o", str(exported)]) == 0
    a, b = load_model(model).module.state_dict(), load_model(exported).module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_metadata(exported)[keys.ISOLATED_CRYSTAL_RULE] == rule


def test_train_refuses_a_bad_isolated_crystal_rule_before_training(tmp_path, capsys):
    model = tmp_path / "model.pt"
    assert main(["train", "-o", str(model), "--run-dir", str(tmp_path / "run"), "--quiet",
                 "--isolated-crystal-radius", "2.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "a radius up to the cutoff 1.6" in err
    assert not model.exists() and not (tmp_path / "run" / "checkpoint.pt").exists()
