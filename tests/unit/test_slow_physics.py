"""Slow physics checks (``pytest -m slow``): the benchmarks' claims, asserted.

* Noisy crystals: at sigma = 7 % of the nn distance the default model labels >= 99 % of
  every crystal correctly and beats OVITO PTM (default settings) on fcc, bcc and hcp; at
  9 % it still labels >= 97 %.
* A real LAMMPS crystallization (the README's example): the labels start liquid and end
  mostly crystalline.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from md_orderml import structures
from md_orderml.baselines import ptm_labels
from md_orderml.analysis import OrderML

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _accuracy(method, kind, noise, seeds=3):
    correct = total = 0
    for seed in range(seeds):
        frame = structures.crystal(kind, noise=noise, min_width=9.0, rotation="random", seed=7000 + seed).to_frame()
        correct += int(np.sum(np.asarray(method(frame)) == kind))
        total += frame.N
    return correct / total


@pytest.mark.parametrize("kind", structures.CRYSTALS)
def test_noisy_crystals_beat_ptm(default_model_path, kind):
    clf = OrderML(default_model_path)
    names = np.array(clf.class_names)
    model = lambda f: names[clf.compute(f).labels]  # noqa: E731
    assert _accuracy(model, kind, 0.07) >= 0.99
    assert _accuracy(model, kind, 0.09) >= 0.97
    if kind in ("fcc", "bcc", "hcp"):
        assert _accuracy(model, kind, 0.07) > _accuracy(lambda f: ptm_labels(f, 0.1), kind, 0.07) + 0.3


def test_lammps_crystallization_example(default_model_path, tmp_path):
    sys.path.insert(0, str(EXAMPLES))
    try:
        import lammps_lj_crystallization as example
    finally:
        sys.path.remove(str(EXAMPLES))
    out = tmp_path / "run"
    assert example.main(["--out", str(out)]) == 0
    data = np.loadtxt(out / "counts.txt", comments="#", ndmin=2)
    fractions = data[:, 1:8] / data[:, 8:9]  # fcc bcc hcp sc cd hd liquid
    assert fractions[0, 6] > 0.95  # the quenched melt starts liquid
    assert fractions[-1, [0, 1, 2]].sum() > 0.5  # and crystallizes
    assert (out / "fractions.png").is_file()
