"""Own classes from reference frames: ``md-orderml train --reference`` (md_orderml.training.reference_training).

One model is trained (module fixture, about 15 s, the default backbone) from four reference
frames of three structures in three formats: bcc (two frames of a GSD file), A15 (one frame of an extended
XYZ file) and sigma (a CIF of its perfect unit cell, read through ASE). Fresh frames of
those structures (other seeds, other noise, random orientations) must come out right,
other crystals ``unknown``; bad references must fail in one line without writing a file.
"""

import numpy as np
import pytest
import torch

from md_orderml import OrderML, structures
from md_orderml.cli import main
from md_orderml.errors import InputError
from md_orderml.model_file import read_metadata
from md_orderml.nn.pretrained import SHIPPED_BACKBONE
from md_orderml.training import references as refs

from user_models import REFERENCE_NOISE as NOISE, train_references, write_reference_files


@pytest.fixture(scope="module")
def reference_files(tmp_path_factory):
    return write_reference_files(tmp_path_factory.mktemp("references"))


@pytest.fixture(scope="module")
def model(reference_files):
    d = reference_files
    return train_references(d / "own.pt", f"bcc={d / 'bcc.gsd'}", f"a15_phase={d / 'a15.xyz'}:frames=0",
                            f"sigma={d / 'sigma.cif'}")


def fractions(model_path, kind, noise, seed):
    s = structures.crystal(kind, noise=noise, min_width=7, seed=seed, rotation="random")
    return OrderML(model_path).compute((s.cell, s.positions)).fractions


@pytest.mark.parametrize("kind, name", [("bcc", "bcc"), ("a15", "a15_phase"), ("sigma", "sigma")])
@pytest.mark.parametrize("noise", [0.03, 0.05])
def test_fresh_frames_of_the_references_are_labelled(model, kind, name, noise):
    f = fractions(model, kind, noise, seed=100 + int(noise * 100))
    assert f[name] >= 0.95, f


@pytest.mark.parametrize("kind", ["fcc", "sc", "cd"])
def test_other_structures_are_unknown(model, kind):
    f = fractions(model, kind, NOISE, seed=7)
    assert f["unknown"] >= 0.9, f


def test_model_file_records_the_run(model, reference_files, capsys):
    meta = read_metadata(model)
    assert meta["class_names"] == ["bcc", "a15_phase", "sigma", "liquid", "unknown"]
    assert meta["length_unit"] == "local" and meta["unknown_rule"]["relabel"] == "unknown"
    training = meta["training"]
    assert training["kind"] == "references" and training["backbone"]["source"] == "default"
    particles = {r["name"]: sum(x["particles"] for x in r["references"]) for r in training["references"]}
    assert particles == {"bcc": 2 * 432, "a15_phase": 216, "sigma": 30}
    assert all(m["accuracy"] >= 0.9 for m in training["metrics"].values()), training["metrics"]
    assert meta["class_info"]["bcc"]["pearson_symbol"] == "cI2"  # a library name keeps its crystallography
    assert meta["class_info"]["a15_phase"]["description"].endswith("a15.xyz")
    assert main(["info", "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "a15_phase    from references:" in out and "training       references" in out, out


@pytest.mark.parametrize("make_args, message", [
    (lambda d: ["--reference", f"bcc={d / 'bcc.gsd'}"], "only one class ('bcc')"),
    (lambda d: ["--reference", f"bcc={d / 'bcc.gsd'}", "--reference", f"a15={d / 'nope.xyz'}"], "no such file"),
    (lambda d: ["--reference", f"bcc={d / 'bcc.gsd'}", "--reference", f"a15={d / 'broken.gsd'}"], "broken.gsd"),
    (lambda d: ["--reference", f"bcc={d / 'bcc.gsd'}", "--reference", f"a15={d / 'a15.xyz'}:types=Cu"],
     "--types Cu: the frame's types are Ar"),
    (lambda d: ["--reference", f"bcc={d / 'bcc.gsd'}:mask={d / 'zeros.txt'}", "--reference", f"a15={d / 'a15.xyz'}"],
     "holds no particle"),
    (lambda d: ["--reference", f"bcc={d / 'bcc.gsd'}:mask={d / 'short.txt'}", "--reference", f"a15={d / 'a15.xyz'}"],
     "has 3 entries for 432 particles"),
    (lambda d: ["--reference", f"bcc={d / 'bcc.gsd'}:frames=1:4", "--reference", f"a15={d / 'a15.xyz'}"],
     "frames=1:4 is outside the 2 frame(s)"),
    (lambda d: ["--reference", f"{d / 'bcc.gsd'}", "--reference", f"a15={d / 'a15.xyz'}"], "expected NAME=PATH"),
])
def test_bad_references_fail_in_one_line_and_write_nothing(reference_files, tmp_path, capsys, make_args, message):
    d = reference_files
    (d / "broken.gsd").write_bytes(b"not a gsd file at all")
    (d / "zeros.txt").write_text("0\n" * 432)
    (d / "short.txt").write_text("1 0 1\n")
    out = tmp_path / "model.pt"
    rc = main(["train", *make_args(d), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.skipif(not SHIPPED_BACKBONE.is_file(), reason="the shipped pretrained backbone is not there")
def test_shipped_self_supervised_backbone(reference_files, tmp_path):
    """--backbone pretrained: the same references, labels at the references' own noise."""
    d = reference_files
    path = train_references(tmp_path / "ssl.pt", f"bcc={d / 'bcc.gsd'}", f"a15={d / 'a15.xyz'}", backbone="pretrained")
    assert read_metadata(path)["training"]["backbone"]["source"] == "pretrained"
    for kind in ("bcc", "a15"):
        assert fractions(path, kind, NOISE, seed=50)[kind] >= 0.95


def test_parse_reference():
    spec = refs.parse_reference("bcc=runs/a=b.gsd:frames=-3::types=A,B:mask=m.txt")
    assert (spec.name, spec.path, spec.frames, spec.types, spec.mask) == ("bcc", "runs/a=b.gsd", (-3, None),
                                                                          ("A", "B"), "m.txt")
    assert refs.parse_reference("x=f.dump:frames=4").frames == (4, 5)
    assert refs.parse_reference("x=f.dump:frames=-1").frames == (-1, None)
    assert refs.parse_reference("x=f.dump:frames=:2").frames == (None, 2)
    assert refs.parse_reference("x=dir:with:colons/f.xyz").path == "dir:with:colons/f.xyz"
    for bad, message in [("=f.gsd", "expected"), ("x=", "expected"), ("a b=f.gsd", "class name"),
                         ("x=f.gsd:frames=1:2:frames=3", "given twice"), ("x=f.gsd:types=", "needs a value"),
                         ("x=f.gsd:frames=a", "not A:B"), ("x=:frames=1", "no file"), ("unknown=f.gsd", "unknown")]:
        with pytest.raises(InputError, match=message):
            refs.parse_reference(bad)


def test_chosen_frames():
    assert list(refs.chosen_frames((-2, None), 5, "f", "w")) == [3, 4]
    assert list(refs.chosen_frames(None, 3, "f", "w")) == [0, 1, 2]
    for bad in [(5, 6), (0, 9), (-9, None), (3, 1)]:
        with pytest.raises(InputError, match="outside"):
            refs.chosen_frames(bad, 5, "f", "w")


def test_augmented_labels_follow_their_particles():
    """The graphs are in a spatial order of the rotated frame: each label must stay with its particle
    (checked by the number of bonds, different from particle to particle in a random gas)."""
    from md_orderml.frame import Box, Frame
    from md_orderml.local_scale import spatially_sorted_local_graph

    rng = np.random.default_rng(0)
    frame = Frame(positions=rng.uniform(0, 8, size=(400, 3)), box=Box(8.0, 8.0, 8.0, origin=(0, 0, 0)))
    geo = refs.geometry(refs.ReferenceFrame(frame, np.ones(400, dtype=bool), "gas"), 1.6)
    assert len(geo.positions) == 400  # wide enough: not replicated
    inverse, _, edge_index, _, _, _ = spatially_sorted_local_graph(
        torch.as_tensor(geo.positions), torch.zeros(400, dtype=torch.int64), torch.as_tensor(geo.cell),
        torch.ones(3, dtype=torch.bool), 1.0, 1.6, torch.float32)
    degree = torch.bincount(edge_index[0], minlength=400)[inverse].numpy()  # in input order
    assert len(np.unique(degree)) > 10
    sample, = refs.augmented_samples(geo, np.arange(400), 1.6, [0.0], rng, strain=0.0, jitter=0.0)
    moved = torch.bincount(sample.edge_index[0], minlength=400).numpy()
    np.testing.assert_array_equal(moved, degree[sample.labels.numpy()])


def test_small_cells_are_replicated_and_split(reference_files):
    frame, = refs.read_reference(refs.parse_reference(f"sigma={reference_files / 'sigma.cif'}"))
    geo = refs.geometry(frame, 1.6)
    assert frame.frame.N == 30 and len(geo.positions) % 30 == 0 and len(geo.positions) >= 8 * 30
    assert (geo.image < 30).all() and geo.selected.all()
    slab = refs.validation_slab(geo, 0.2, np.random.default_rng(1))
    assert 0.15 < slab.mean() < 0.3


def test_types_and_mask_select_the_examples(reference_files, tmp_path):
    mask = np.zeros(432, dtype=int)
    mask[5:15] = 1
    (tmp_path / "ten.txt").write_text(" ".join(map(str, mask)))
    frames = refs.read_reference(refs.parse_reference(f"x={reference_files / 'bcc.gsd'}:frames=-1:types=A:"
                                                      f"mask={tmp_path / 'ten.txt'}"))
    assert len(frames) == 1 and frames[0].where.endswith("frame 1 (timestep 0)")
    np.testing.assert_array_equal(frames[0].selected, mask == 1)


def test_classes_of_the_model():
    from md_orderml.training.data import VOCABULARY_CLASSES
    from md_orderml.training.reference_training import class_names_of

    specs = [refs.parse_reference(t) for t in ("b=1.gsd", "a=2.gsd", "b=3.gsd")]
    assert class_names_of(specs, False) == ["b", "a", "liquid"]
    assert class_names_of(specs[:1] + [refs.parse_reference("liquid=4.gsd")], False) == ["b", "liquid"]
    merged = class_names_of([refs.parse_reference("bcc=1.gsd")], True)
    assert merged == ["bcc"] + [n for n in VOCABULARY_CLASSES if n != "bcc"]
