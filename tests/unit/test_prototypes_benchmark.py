"""benchmarks/prototypes.py never rots: its quick run against the ``classic`` model, and its core functions."""

import collections
import json
import types
from pathlib import Path

import numpy as np
import pytest
from benchmark_modules import benchmark_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module."""
    with benchmark_module("prototypes") as module:
        yield module


def parse_result(line: str) -> dict:
    assert line.startswith("RESULT "), line
    return dict(item.split("=", 1) for item in line.split()[1:])


def test_quick_run_against_classic(bench, tmp_path, capsys):
    pytest.importorskip("ovito")
    pytest.importorskip("freud")
    out = tmp_path / "proto.json"
    bench.main(["--model", "classic", "--quick", "--json", str(out)])
    lines = capsys.readouterr().out.strip().splitlines()
    result = parse_result(lines[-1])
    assert sum(line.startswith("RESULT") for line in lines) == 1
    assert result["model"] == "classic"
    # classic has neither a15 nor unknown: n/a, never a number from a class index
    assert result["min_complex_acc_3pct"] == "n/a" and result["heldout_unknown"] == "n/a"
    assert float(result["liquid_acc"]) >= 0.99
    assert 0.0 <= float(result["ptm_complex_other_3pct"]) <= 1.0
    assert float(result["dc3_min_complex_acc_3pct"]) >= 0.5  # a15 from fcc and liquid, two training crystals
    assert float(result["dc3_val_unknown"]) <= 0.05
    record = json.loads(out.read_text())
    rows = {(r["name"], r["noise"]): r for r in record["rows"]}
    fcc = rows[("fcc", 0.03)]
    assert fcc["counts"]["model"].get("fcc", 0) == fcc["n"] > 0
    assert fcc["counts"]["ptm"].get("fcc", 0) >= 0.99 * fcc["n"]
    a15 = rows[("a15", 0.03)]
    assert a15["counts"]["model"].get("liquid", 0) == a15["n"]  # issue 21's confident wrong answer
    assert {r["group"] for r in record["rows"]} == {"vocabulary", "liquid", "held_out"}


def test_dc3_features_are_scale_and_rotation_free(bench):
    pytest.importorskip("freud")
    s = bench.make_crystal("a15", 0.03, 9999, 3.5)
    f = bench.dc3_features(s)
    assert f.shape == (s.N, 15 * len(bench.STEINHARDT_K) + bench.RADIAL_K) and np.isfinite(f).all()
    rot = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    moved = type(s)(2.5 * s.positions @ rot.T, 2.5 * s.cell @ rot.T, s.types, s.type_names, s.label)
    np.testing.assert_allclose(bench.dc3_features(moved), f, atol=2e-4)
    assert not np.allclose(bench.dc3_features(bench.make_crystal("c15", 0.03, 9999, 3.5))[:5].mean(0), f.mean(0),
                           atol=1e-2)


def _row(bench, group, name, truth, noise, counts):
    row = bench.Row(group, name, truth, noise)
    row.counts = {m: collections.Counter(c) for m, c in counts.items()}
    row.n = sum(counts["model"].values())
    return row


def test_summary_goes_by_class_names(bench):
    """A model with ``unknown`` but without ``c15``: held-out figures are numbers, c15's accuracy n/a."""
    names = ["fcc", "a15", "liquid", "unknown"]
    ptm = {"other": 10}
    rows = [
        _row(bench, "vocabulary", "fcc", "fcc", 0.07, {"model": {"fcc": 9, "unknown": 1}, "ptm": {"fcc": 10}}),
        _row(bench, "vocabulary", "a15", "a15", 0.03, {"model": {"a15": 8, "liquid": 2}, "ptm": ptm}),
        _row(bench, "vocabulary", "c15", "c15", 0.03, {"model": {"a15": 10}, "ptm": ptm}),
        _row(bench, "liquid", "liquid x", "liquid", 0.0, {"model": {"liquid": 10}, "ptm": {"other": 5, "ico": 5}}),
        _row(bench, "held_out", "alpha_mn", "unknown", 0.0, {"model": {"unknown": 9, "a15": 1}, "ptm": ptm}),
        _row(bench, "held_out", "alpha_pa", "unknown", 0.0, {"model": {"unknown": 7, "fcc": 3},
                                                             "ptm": {"bcc": 10}}),
    ]
    methods = types.SimpleNamespace(class_names=names, dc3=None)
    figures = bench.summary(rows, methods, None, 1.0)
    assert figures["min_complex_acc_3pct"] is None  # c15 is not a class of this model
    assert figures["simple_acc_7pct"] == pytest.approx(0.9)
    assert figures["heldout_unknown"] == pytest.approx(0.7)
    assert figures["heldout_unknown_mean"] == pytest.approx(0.8)
    assert figures["vocab_unknown_7pct"] == pytest.approx(0.1)
    assert figures["liquid_acc"] == 1.0 and figures["ptm_liquid_acc"] == 1.0
    assert figures["ptm_heldout_other"] == 0.0 and figures["ptm_simple_acc_7pct"] == 1.0
    line = bench.result_line(figures)
    assert "min_complex_acc_3pct=n/a" in line and "heldout_unknown=0.7000" in line
    methods.class_names = names[:-1] + ["c15"]  # now c15 but no unknown
    figures = bench.summary(rows, methods, None, 1.0)
    assert figures["min_complex_acc_3pct"] == 0.0 and figures["heldout_unknown"] is None
