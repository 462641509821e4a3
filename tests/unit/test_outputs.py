"""md_orderml.outputs: which per-particle arrays a model gives, their checks, and the per-frame summary."""

import doctest

import numpy as np
import pytest

from md_orderml import keys, outputs
from md_orderml.errors import InputError
from md_orderml.outputs import OutputSpec

CLASSES = OutputSpec.classification(["fcc", "bcc", "liquid"])
VALUES = OutputSpec.regression(["p_short", "p_long"])


def test_module_examples_run():
    result = doctest.testmod(outputs, optionflags=doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.attempted > 0 and result.failed == 0


def test_spec_of_the_default_model(default_model_path):
    from md_orderml.model_file import load_model

    model = load_model(default_model_path)
    spec = OutputSpec.of(model)
    assert spec.task == keys.CLASSIFICATION and list(spec.class_names) == model.class_names
    assert OutputSpec.of(spec) is spec
    assert spec.particle_keys == (keys.LABEL, keys.CONFIDENCE, keys.PROBABILITIES)
    assert spec.stored_keys() == (keys.LABEL, keys.CONFIDENCE)
    assert spec.stored_keys(probabilities=True) == spec.particle_keys
    assert spec.summary_key == keys.LABEL and spec.summary_kind == "fractions"


def test_regression_spec_and_probabilities_refused():
    assert VALUES.particle_keys == (keys.VALUES,) and VALUES.stored_keys() == (keys.VALUES,)
    assert VALUES.summary_names == ("p_short", "p_long") and VALUES.summary_kind == "means"
    assert OutputSpec.named(keys.REGRESSION, ["p_short", "p_long"]) == VALUES
    with pytest.raises(InputError, match="regression model .* no class probabilities"):
        VALUES.stored_keys(probabilities=True)
    with pytest.raises(InputError, match="unknown model task"):
        OutputSpec("segmentation")


def test_fractions_count_unlabelled_in_no_class():
    labels = np.array([0, 0, 1, -1, 2, 2, 2, 2])
    assert CLASSES.frame_summary({keys.LABEL: labels}) == {"fcc": 0.25, "bcc": 0.125, "liquid": 0.5}
    np.testing.assert_array_equal(CLASSES.totals({keys.LABEL: labels}), [2, 1, 4, 8])
    assert CLASSES.frame_summary(CLASSES.empty()) == {"fcc": 0.0, "bcc": 0.0, "liquid": 0.0}


def test_means_and_totals_add_over_ranks():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(10, 2)).astype(np.float32)
    whole = VALUES.frame_summary({keys.VALUES: values})
    assert whole == pytest.approx({"p_short": values[:, 0].mean(), "p_long": values[:, 1].mean()}, rel=1e-6)
    parts = VALUES.totals({keys.VALUES: values[:3]}) + VALUES.totals({keys.VALUES: values[3:]})
    assert VALUES.summary(parts) == pytest.approx(whole, rel=1e-6)
    assert all(np.isnan(v) for v in VALUES.frame_summary(VALUES.empty()).values())


def test_check_converts_and_names_the_problem():
    good = {keys.LABEL: np.array([0, 2]), keys.CONFIDENCE: np.array([0.5, 0.9]), "embedding": np.zeros((2, 4))}
    checked = CLASSES.check(good, 2, CLASSES.stored_keys(), "out.gsd: f0")
    assert set(checked) == {keys.LABEL, keys.CONFIDENCE}
    assert checked[keys.LABEL].dtype == np.int32 and checked[keys.CONFIDENCE].dtype == np.float32
    with pytest.raises(InputError, match=r"^out.gsd: f0: no probabilities given$"):
        CLASSES.check(good, 2, CLASSES.stored_keys(probabilities=True), "out.gsd: f0")
    with pytest.raises(InputError, match=r"^w: confidence has shape \(2,\), expected \(3,\)$"):
        CLASSES.check({**good, keys.LABEL: np.zeros(3, int)}, 3, CLASSES.stored_keys(), "w")
    with pytest.raises(InputError, match=r"^w, particle 1: label 3 is outside \[-1, 3\)$"):
        CLASSES.check({**good, keys.LABEL: np.array([0, 3])}, 2, CLASSES.stored_keys(), "w")
    with pytest.raises(InputError, match="labels must be integers"):
        CLASSES.check({**good, keys.LABEL: np.array([0.0, 1.0])}, 2, CLASSES.stored_keys(), "w")
    with pytest.raises(InputError, match=r"values has shape \(2, 3\), expected \(2, 2\)"):
        VALUES.check({keys.VALUES: np.zeros((2, 3))}, 2, VALUES.stored_keys(), "w")


def test_expand_names_columns_for_file_formats():
    assert CLASSES.expand(keys.PROBABILITIES, "orderml_p{index}") == (
        ("orderml_p0", 1), ("orderml_p1", 1), ("orderml_p2", 1))
    assert CLASSES.expand(keys.PROBABILITIES, "orderml_probabilities") == (("orderml_probabilities", 3),)
    assert CLASSES.expand(keys.LABEL, "orderml_label") == (("orderml_label", 1),)
    assert VALUES.expand(keys.VALUES, "orderml_{name}") == (("orderml_p_short", 1), ("orderml_p_long", 1))


def test_describe_one_line():
    assert CLASSES.describe({"fcc": 0.97, "bcc": 0.0, "liquid": 0.03}) == "fractions: fcc 0.970, liquid 0.030"
    assert VALUES.describe({"p_short": 0.123456, "p_long": 2.0}) == "values: p_short 0.1235, p_long 2"


class FakeComm:
    """Two ranks' worth of ``allgather`` for one rank (what mpi4py returns, in rank order)."""

    def __init__(self, rank, parts):
        self.rank, self.parts = rank, parts

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return len(self.parts)

    def allgather(self, mine):
        assert np.array_equal(mine[0], self.parts[self.rank][0])
        return self.parts


def test_gather_halo_keeps_owned_first_and_every_near_particle():
    from md_orderml.engines.halo import gather_halo
    from md_orderml.frame import Box

    box = Box(10.0, 10.0, 10.0)
    rng = np.random.default_rng(3)
    mine = np.column_stack([rng.uniform(-5, -3, 20), rng.uniform(-5, 5, 20), rng.uniform(-5, 5, 20)])
    other = rng.uniform(-5, 5, (200, 3))
    parts = [(mine, np.zeros(20, np.int32)), (other, np.arange(200, dtype=np.int32))]
    positions, types = gather_halo(FakeComm(0, parts), mine, parts[0][1], box, reach=1.0)
    np.testing.assert_array_equal(positions[:20], mine)
    kept = types[20:]
    d = other[:, None, :] - mine[None, :, :]
    d -= 10.0 * np.round(d / 10.0)
    near = np.nonzero((np.linalg.norm(d, axis=2) <= 1.0).any(axis=1))[0]
    assert set(near) <= set(kept.tolist())  # every particle within reach of an owned one
    assert len(kept) < 200  # far ones (x in the middle of the box) left out
    np.testing.assert_array_equal(positions[20:], other[kept])
    assert gather_halo(None, mine, parts[0][1], box, 1.0)[0] is mine
