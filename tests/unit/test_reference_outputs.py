"""The default model's outputs stay what they were when ``tests/data/reference_outputs.npz`` was written.

Refactors of the package must not change what users get: on the stored frames (six noisy
rotated crystals, a crystal-liquid coexistence frame, two LJ liquids) labels are
identical and probabilities and confidences within 1e-6 of the stored ones.
"""

from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference_outputs.npz"


def stored_frames():
    with np.load(REFERENCE) as data:
        names = sorted({key.split("/")[0] for key in data.files if "/" in key})
        return {name: {k.split("/")[1]: data[k] for k in data.files if k.startswith(name + "/")} for name in names}, \
            list(data["class_names"])


FRAMES, CLASS_NAMES = stored_frames()


@pytest.fixture(scope="module")
def model():
    """The model the reference was written with: the seven-class default of before issues 20-21,
    shipped unchanged as ``classic`` (byte-identical file)."""
    from md_orderml.analysis import OrderML

    return OrderML("classic")


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_outputs_match_reference(model, name):
    from md_orderml.frame import Box, Frame

    ref = FRAMES[name]
    box = Box(*ref["box"], origin=tuple(ref["origin"]))
    model.compute(Frame(positions=ref["positions"], box=box))
    assert model.class_names == CLASS_NAMES
    np.testing.assert_array_equal(model.labels, ref["label"])
    np.testing.assert_allclose(model.confidence, ref["confidence"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(model.probabilities, ref["probabilities"], atol=1e-6, rtol=0)
