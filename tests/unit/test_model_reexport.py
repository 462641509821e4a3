"""Re-exporting a model file with the current code keeps its weights, metadata and labels."""

import numpy as np
import pytest

from md_orderml import structures
from md_orderml.analysis import OrderML
from md_orderml.cli import main
from md_orderml.errors import ModelFileError
from md_orderml.model_file import read_metadata
from md_orderml.model_reexport import reexport_model_file


def test_reexported_default_model_labels_like_the_shipped_file(default_model_path, tmp_path):
    again = tmp_path / "again.pt"
    assert main(["export", "default", "-o", str(again)]) == 0
    assert read_metadata(again) == read_metadata(default_model_path)
    shipped, rebuilt = OrderML(default_model_path), OrderML(again)
    rng = np.random.default_rng(0)
    for name in ("fcc", "hcp", "cd"):
        frame = structures.crystal(name, noise=0.08, min_width=12, seed=3).to_frame()
        frame = frame.replace(positions=frame.positions[rng.permutation(frame.N)])
        labels = shipped.compute(frame).labels.copy()
        probabilities = shipped.probabilities.copy()
        rebuilt.compute(frame)
        np.testing.assert_array_equal(rebuilt.labels, labels)
        np.testing.assert_allclose(rebuilt.probabilities, probabilities, atol=1e-5)


def test_architecture_the_code_cannot_build_is_refused(untrained_model_path, tmp_path):
    with pytest.raises(ModelFileError, match="cannot rebuild the architecture"):
        reexport_model_file(untrained_model_path, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
