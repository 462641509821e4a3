"""The unknown rule's liquid fallback (issue 21, item 3): unknown particles inside a Gaussian of liquids become liquid.

A small untrained labeler with hand-set Gaussians (mean 0, whitening 1: the squared distance is
the squared norm of the embedding), so which particle is inside which threshold is known exactly;
the rule is then saved, loaded as TorchScript and rebuilt from the weights record.
"""

import numpy as np
import pytest
import torch

from md_orderml import keys
from md_orderml.model_file import build_metadata, load_model, save_model
from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.labeler import StructureLabeler

CLASSES = ("fcc", "bcc", "liquid")
LIQUID, UNKNOWN = 2, 3


def _setup():
    torch.manual_seed(0)
    model = StructureLabeler(EquivariantBackbone(1.6, {"features": 16, "channels": 4, "l_max": 2}), 3).eval()
    x = torch.rand(60, 3, dtype=torch.float64) * 4.0
    args = (x, torch.zeros(60, dtype=torch.long), torch.eye(3, dtype=torch.float64) * 4.0,
            torch.ones(3, dtype=torch.bool), torch.ones(60, dtype=torch.bool), 1.0)
    with torch.inference_mode():
        plain = model(*args)
    squared = plain[keys.EMBEDDING].pow(2).sum(dim=1)
    d = model.backbone.embedding_dim
    rule_threshold = float(squared.quantile(0.3))  # 70 % of the particles unknown
    model.set_unknown_rule(torch.zeros(3, d), torch.eye(d).repeat(3, 1, 1), torch.full((3,), rule_threshold))
    return model, args, plain, squared, rule_threshold


def test_unknown_inside_the_fallback_becomes_liquid_outside_stays_unknown():
    model, args, plain, squared, rule_threshold = _setup()
    d = model.backbone.embedding_dim
    with torch.inference_mode():
        without = model(*args)[keys.LABEL]
    assert torch.equal(without, torch.where(squared > rule_threshold, UNKNOWN, plain[keys.LABEL]))
    fallback_threshold = float(squared.quantile(0.7))
    model.unknown_rule.set_liquid_fallback(torch.zeros(d), torch.eye(d), fallback_threshold, LIQUID)
    assert not any("fallback" in k for k in model.state_dict())  # like the rule's buffers
    with torch.inference_mode():
        out = model(*args)
    inside = (without == UNKNOWN) & (squared <= fallback_threshold)
    outside = (without == UNKNOWN) & (squared > fallback_threshold)
    assert inside.any() and outside.any()
    assert (out[keys.LABEL][inside] == LIQUID).all()
    assert (out[keys.LABEL][outside] == UNKNOWN).all()
    assert torch.equal(out[keys.LABEL][without != UNKNOWN], without[without != UNKNOWN])  # others unchanged
    assert torch.equal(out[keys.CONFIDENCE][inside], out[keys.PROBABILITIES][inside, LIQUID])
    model.unknown_rule.set_liquid_fallback(torch.zeros(d), torch.eye(d), fallback_threshold, -1)  # off again
    with torch.inference_mode():
        assert torch.equal(model(*args)[keys.LABEL], without)
    with pytest.raises(ValueError):
        model.unknown_rule.set_liquid_fallback(torch.zeros(d + 1), torch.eye(d), 1.0, LIQUID)


def test_unknown_liquid_fallback_in_the_file_torchscript_and_rebuilt(tmp_path, capsys):
    from md_orderml.cli import main
    from md_orderml.model_reexport import rebuild_labeler

    model, args, _, squared, rule_threshold = _setup()
    d = model.backbone.embedding_dim
    fallback_threshold = float(squared.quantile(0.7))
    model.unknown_rule.set_liquid_fallback(torch.zeros(d), torch.eye(d), fallback_threshold, LIQUID)
    meta = build_metadata(list(CLASSES) + ["unknown"], 1.6, 2, dict(model.backbone.config), {"kind": "untrained"})
    meta[keys.UNKNOWN_RULE] = {
        "method": "mahalanobis", "covariance": "per_class", "ridge": 0.0, "quantile": 0.99, "liquid_quantile": 0.999,
        "thresholds": {n: rule_threshold for n in CLASSES}, "calibration": {"noise_max": 0.0}, "relabel": "unknown",
        "liquid_fallback": {"relabel": "liquid", "threshold": fallback_threshold, "quantile": 0.97,
                            "liquids": ["test"]}}
    path = save_model(model, meta, tmp_path / "fallback.pt")
    scripted = load_model(path).module
    rebuilt, _ = rebuild_labeler(str(path))
    with torch.inference_mode():
        eager = model(*args)
        for other in (scripted(*args), rebuilt(*args)):
            assert torch.equal(other[keys.LABEL], eager[keys.LABEL])
            np.testing.assert_allclose(other[keys.PROBABILITIES], eager[keys.PROBABILITIES], atol=1e-6)
    assert (eager[keys.LABEL] == UNKNOWN).any() and (eager[keys.LABEL] == LIQUID).any()
    assert rebuilt.unknown_rule.fallback_label == LIQUID
    assert float(rebuilt.unknown_rule.fallback_threshold) == pytest.approx(fallback_threshold)
    assert main(["info", "--model", str(path)]) == 0
    assert "liquid fallback" in capsys.readouterr().out


def test_default_preset_has_the_fallback_and_its_liquids_are_not_the_benchmarks():
    """The default preset fits the fallback; its KA and Dzugutov liquids are at other state
    points and seeds than benchmarks/icosahedral_liquids.py's test frames (T 0.6, seeds 11-13)."""
    from md_orderml.cli.train_command import preset_config
    from md_orderml.training import liquid_fallback

    assert preset_config("default").liquid_fallback_quantile == liquid_fallback.FALLBACK_QUANTILE
    assert preset_config("classic").liquid_fallback_quantile == 0.0
    for run in liquid_fallback.FIT_RUNS + liquid_fallback.CALIBRATION_RUNS:
        assert run.potential in ("ka", "dzugutov") and run.temperature != 0.6 and run.seed not in (11, 12, 13)
    assert not set(liquid_fallback.FIT) & set(liquid_fallback.CALIBRATION)
