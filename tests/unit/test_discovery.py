"""md-orderml discover: clusters of known structures, its files, its model file, bad input."""

import json
import subprocess
import sys

import gsd.hoomd
import numpy as np
import pytest
import torch

from md_orderml import OrderML, structures
from md_orderml.discovery.clustering import fit_clusters
from md_orderml.discovery.report import CLUSTER_LOG, read_clusters
from md_orderml.discovery.run import FrameRange
from md_orderml.errors import InputError

from user_models import DISCOVERY_KINDS as KINDS, discover, write_crystals


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    """``md-orderml discover`` on five frames of four crystals, with --export."""
    return discover(tmp_path_factory.mktemp("discover"))


def test_discover_recovers_known_structures(discovered):
    from sklearn.metrics import adjusted_rand_score

    clusters = read_clusters(discovered / "out" / "clusters.gsd")
    truth = np.concatenate([np.full(len(c), sorted(set(KINDS)).index(k)) for c, k in zip(clusters, KINDS)])
    found = np.concatenate(clusters)
    assert (found >= 0).mean() > 0.97  # few particles are unknown
    assert adjusted_rand_score(truth, found) >= 0.85
    summary = json.loads((discovered / "out" / "summary.json").read_text())
    assert summary["n_clusters"] == 4
    nearest = {c["nearest_builtin"]["class"] for c in summary["clusters"]}
    assert nearest == {"fcc", "bcc", "sc", "cd"}


def test_discover_writes_every_file(discovered):
    out = discovered / "out"
    for name in ("clusters.gsd", "summary.json", "fractions.png", "map.png", "model.pt"):
        assert (out / name).stat().st_size > 0, name
    with gsd.hoomd.open(str(out / "clusters.gsd")) as traj, gsd.hoomd.open(str(discovered / "mix.gsd")) as src:
        assert len(traj) == len(src) == len(KINDS)
        for a, b in zip(traj, src):  # input particle order, every frame
            assert a.log[CLUSTER_LOG].dtype == np.int32
            np.testing.assert_allclose(a.particles.position, b.particles.position, atol=1e-5)
    summary = json.loads((out / "summary.json").read_text())
    for cluster in summary["clusters"]:
        assert cluster["environments"]
        for name in cluster["environments"]:
            lines = (out / name).read_text().splitlines()
            assert int(lines[0]) == len(lines) - 2 >= 7  # centre and neighbours
            assert f'cluster="{cluster["name"]}"' in lines[1]
    assert not [p for p in discovered.iterdir() if p.name.startswith(".")]  # no staging left


def test_ovito_opens_the_environments(discovered):
    ovito_io = pytest.importorskip("ovito.io")
    summary = json.loads((discovered / "out" / "summary.json").read_text())
    first = summary["clusters"][0]["environments"][0]
    data = ovito_io.import_file(str(discovered / "out" / first)).compute()
    assert data.particles.count >= 7 and data.attributes["cluster"] == summary["clusters"][0]["name"]
    assert np.allclose(data.particles.positions[0], 0.0)  # the typical particle first, at the origin


def test_exported_model_equals_the_clustering(discovered):
    clusters = read_clusters(discovered / "out" / "clusters.gsd")
    model = OrderML(str(discovered / "clusters.pt"))
    assert model.class_names[-1] == "unknown" and len(model.class_names) == 5
    with gsd.hoomd.open(str(discovered / "mix.gsd")) as traj:
        for frame, expected in zip(traj, clusters):
            labels = model.compute(frame).labels
            np.testing.assert_array_equal(np.where(labels >= 4, -1, labels), expected)


def test_exported_model_labels_a_new_run(discovered, tmp_path):
    """Fresh crystals of other seeds and orientations get their structure's cluster; others are unknown."""
    write_crystals(tmp_path / "new.gsd", ("bcc", "cd", "fcc", "hcp", "a15"), noise=0.03, seed=100)
    summary = json.loads((discovered / "out" / "summary.json").read_text())
    cluster_of = {c["nearest_builtin"]["class"]: i for i, c in enumerate(summary["clusters"])}
    model = OrderML(str(discovered / "clusters.pt"))
    with gsd.hoomd.open(str(tmp_path / "new.gsd")) as traj:
        for frame, kind in zip(traj, ("bcc", "cd", "fcc", "hcp", "a15")):
            labels = model.compute(frame).labels
            if kind in cluster_of:
                assert (labels == cluster_of[kind]).mean() > 0.95, kind
            else:  # never seen in the discovered frames
                assert (labels == 4).mean() > 0.9, kind


def test_exported_model_is_rotation_and_permutation_invariant(discovered):
    s = structures.crystal("bcc", noise=0.03, min_width=6.0, seed=7)
    model = OrderML(str(discovered / "clusters.pt"))
    labels = model.compute((s.cell, s.positions)).labels
    rot = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64))[0].numpy()
    perm = np.random.default_rng(2).permutation(len(s.positions))
    moved = model.compute((s.cell @ rot.T, (s.positions @ rot.T)[perm])).labels
    np.testing.assert_array_equal(moved, labels[perm])


def test_fit_clusters_finds_the_number_of_blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, size=(4, 16))
    x = np.concatenate([c + rng.normal(0, 1, size=(300, 16)) for c in centres])
    fit = fit_clusters(x, "auto", seed=0)
    assert fit.n_clusters == 4
    found = fit.predict(x)
    assert len({tuple(np.unique(found[i * 300:(i + 1) * 300])) for i in range(4)}) == 4
    assert fit_clusters(x, 2).n_clusters == 2
    with pytest.raises(InputError):
        fit_clusters(x[:3], 2)


@pytest.mark.parametrize("text, expected", [(None, (0, None, 1)), ("2:5", (2, 5, 1)), ("0:10:2", (0, 10, 2)),
                                            ("3:", (3, None, 1))])
def test_frame_range(text, expected):
    r = FrameRange.parse(text)
    assert (r.start, r.stop, r.stride) == expected


@pytest.mark.parametrize("text", ["5", "a:b", "5:2", "0:3:0"])
def test_frame_range_refuses(text):
    with pytest.raises(InputError):
        FrameRange.parse(text)


def _run(args, cwd):
    return subprocess.run([sys.executable, "-m", "md_orderml.cli", "discover", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", ["missing", "not_gsd", "no_frames", "clusters"])
def test_bad_input_one_line_no_output(tmp_path, case):
    write_crystals(tmp_path / "ok.gsd", ("fcc",))
    (tmp_path / "bad.gsd").write_bytes(b"not a gsd file at all" * 10)
    args = {"missing": ["nothing.gsd"], "not_gsd": ["bad.gsd"], "no_frames": ["ok.gsd", "--frames", "5:9"],
            "clusters": ["ok.gsd", "--clusters", "many"]}[case]
    result = _run([*args, "-o", "out", "--export", "m.pt", "--model", "default", "--quiet"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.pt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gsd", "ok.gsd"]


def test_cluster_model_rebuilds_from_its_weights(discovered):
    """The weights record (used where TorchScript cannot load) rebuilds the same labels, average included."""
    import zipfile

    from md_orderml.model_file import ModelFile, read_metadata
    from md_orderml.model_weights import rebuild_labeler, stored_weights

    path = discovered / "clusters.pt"
    metadata = read_metadata(path)
    assert metadata["embedding_average"]["radius"] > 0
    with zipfile.ZipFile(path) as archive:
        tensors = stored_weights(archive.namelist(), archive.read, str(path))
    rebuilt = rebuild_labeler(metadata, tensors, str(path))
    assert rebuilt.average_radius == metadata["embedding_average"]["radius"]
    s = structures.crystal("sc", noise=0.03, min_width=6.0, seed=3)
    scripted = OrderML(str(path)).compute((s.cell, s.positions)).labels
    eager = OrderML(ModelFile(module=rebuilt, metadata=metadata, path=path)).compute((s.cell, s.positions)).labels
    np.testing.assert_array_equal(eager, scripted)
