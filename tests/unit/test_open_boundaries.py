"""Open boundaries (issue 20, item 2): periodicity from the file, ``--pbc`` and ``pbc=``, kept by the writers.

Extended XYZ ``pbc=``, the LAMMPS dump's ``ITEM: BOX BOUNDS`` flags and GSD (always periodic)
set ``Box.periodic``; ``md-orderml label --pbc`` and ``open_trajectory(pbc=)`` override it; the
text writers write the flags used. A local-unit model labels a cluster or a slab in vacuum, a
global-unit model refuses vacuum along an open direction in one line, and the box-width check
counts periodic directions only.
"""

import numpy as np
import pytest

from md_orderml import structures
from md_orderml.cli import main
from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame
from md_orderml.io import OutputSpec, open_trajectory, open_writer

SPEC = OutputSpec.classification(["fluid", "fcc"])
XYZ_ATOMS = "Cu 0.5 0.5 0.5\nCu 1.5 1.5 1.0\nCu 2.5 0.5 2.0\n"


def read_one(path, **kw):
    with open_trajectory(path, **kw) as traj:
        frames = list(traj)
    assert len(frames) == 1
    return frames[0]


def write_frame(path, frame, **kw):
    with open_writer(path, SPEC, **kw) as out:
        out.write(frame, {"label": np.zeros(frame.N, dtype=np.int32), "confidence": np.ones(frame.N, np.float32)})


def xyz_text(comment, atoms=XYZ_ATOMS):
    return f"{len(atoms.splitlines())}\n{comment}\n{atoms}"


def dump_text(head, bounds="0 10\n0 10\n0 10", atoms="1 1 1.0 1.0 1.0\n2 1 2.0 2.0 2.0\n"):
    return (f"ITEM: TIMESTEP\n5\nITEM: NUMBER OF ATOMS\n{len(atoms.splitlines())}\n{head}\n{bounds}\n"
            f"ITEM: ATOMS id type x y z\n{atoms}")


# ----------------------------------------------------------------------------- flags from the file
@pytest.mark.parametrize("pbc, flags", [
    (None, (True, True, True)), ('"T T T"', (True, True, True)), ('"F F F"', (False, False, False)),
    ('"T T F"', (True, True, False)), ('"1 0 1"', (True, False, True)), ('"True False False"', (True, False, False)),
    ("F", (False, False, False)),
])
def test_xyz_pbc_is_read(tmp_path, pbc, flags):
    path = tmp_path / "a.xyz"
    key = "" if pbc is None else f" pbc={pbc}"
    path.write_text(xyz_text(f'Lattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3{key}'))
    frame = read_one(path)
    assert frame.box.periodic == flags
    assert not frame.box.is2D  # particles at several z: 3D even when z is open
    assert read_one(path, pbc=(True, False, True)).box.periodic == (True, False, True)


def test_xyz_cluster_without_lattice_gets_its_bounding_box(tmp_path):
    path = tmp_path / "cluster.xyz"
    path.write_text(xyz_text('Properties=species:S:1:pos:R:3 pbc="F F F"'))
    frame = read_one(path)
    assert frame.box.periodic == (False, False, False)
    s = frame.box.fractional(frame.positions)
    assert (s > 0).all() and (s < 1).all()
    np.testing.assert_allclose(frame.positions[1], [1.5, 1.5, 1.0])  # positions untouched
    plain = tmp_path / "plain.xyz"
    plain.write_text(xyz_text("just a comment"))
    with pytest.raises(InputError, match="no Lattice=.*--pbc none"):
        read_one(plain)
    assert read_one(plain, pbc=False).box.periodic == (False, False, False)


def test_xyz_open_direction_without_extent_gets_the_particles_extent(tmp_path):
    path = tmp_path / "slab.xyz"
    path.write_text(xyz_text('Lattice="4 0 0 0 4 0 0 0 0" Properties=species:S:1:pos:R:3 pbc="T T F"'))
    frame = read_one(path)
    assert frame.box.periodic == (True, True, False)
    assert (frame.box.Lx, frame.box.Ly) == (4.0, 4.0) and frame.box.Lz > 1.5  # z spans 0.5 .. 2.0 and more
    z = frame.box.fractional(frame.positions)[:, 2]
    assert (z > 0).all() and (z < 1).all()


@pytest.mark.parametrize("bad", ['"T T"', '"T T X"', '"yes no yes"'])
def test_xyz_bad_pbc_is_one_line(tmp_path, bad):
    path = tmp_path / "bad.xyz"
    path.write_text(xyz_text(f'Lattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3 pbc={bad}'))
    with pytest.raises(InputError, match=r"bad\.xyz, frame 0: pbc=.* must be three flags") as err:
        read_one(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("head, bounds, flags", [
    ("ITEM: BOX BOUNDS pp pp pp", None, (True, True, True)),
    ("ITEM: BOX BOUNDS", None, (True, True, True)),  # old dumps: no flags
    ("ITEM: BOX BOUNDS ff ff ff", None, (False, False, False)),
    ("ITEM: BOX BOUNDS ss ss ss", None, (False, False, False)),
    ("ITEM: BOX BOUNDS mm mm mm", None, (False, False, False)),
    ("ITEM: BOX BOUNDS pp pp fs", None, (True, True, False)),
    ("ITEM: BOX BOUNDS sm pp ff", None, (False, True, False)),
    ("ITEM: BOX BOUNDS xy xz yz pp ff pp", "0 11 1\n0 10 0\n0 10 0", (True, False, True)),
    ("ITEM: BOX BOUNDS abc origin pp pp ff", "10 0 0 0\n0 10 0 0\n0 0 10 0", (True, True, False)),
])
def test_dump_box_bounds_flags_are_read(tmp_path, head, bounds, flags):
    path = tmp_path / "a.dump"
    path.write_text(dump_text(head, *(() if bounds is None else (bounds,))))
    assert read_one(path).box.periodic == flags
    assert read_one(path, pbc=(False, True, True)).box.periodic == (False, True, True)


@pytest.mark.parametrize("head", ["ITEM: BOX BOUNDS pp pp", "ITEM: BOX BOUNDS pp pp px", "ITEM: BOX BOUNDS pp pp p"])
def test_dump_bad_flags_are_one_line(tmp_path, head):
    path = tmp_path / "bad.dump"
    path.write_text(dump_text(head))
    with pytest.raises(InputError, match=r"bad\.dump, frame 0: bad boundary flags") as err:
        read_one(path)
    assert "\n" not in str(err.value)


def test_gsd_is_periodic_unless_overridden(tmp_path):
    pytest.importorskip("gsd")
    path = tmp_path / "a.gsd"
    frame = Frame(positions=[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], box=Box(5.0, 5.0, 5.0), source="made")
    write_frame(path, frame)
    assert read_one(path).box.periodic == (True, True, True)
    assert read_one(path, pbc=(True, True, False)).box.periodic == (True, True, False)


# ----------------------------------------------------------------------------- writers keep the flags
FLAGS = [(False, False, False), (True, True, False), (True, False, True), (True, True, True)]


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("ext", ["xyz", "dump", "gsd"])
def test_round_trip_keeps_the_flags(tmp_path, ext, flags):
    box = Box(6.0, 7.0, 8.0, xy=0.1, origin=(1.0, 2.0, 3.0), periodic=flags)
    frame = Frame(positions=np.random.default_rng(0).random((20, 3)) * 5 + 2, box=box, source="made")
    first = tmp_path / f"first.{ext}"
    write_frame(first, frame)  # a frame from elsewhere: fresh header
    again = read_one(first)
    assert again.box.periodic == flags
    second = tmp_path / f"second.{ext}"
    write_frame(second, again)  # a frame read from this format: the copied header
    assert read_one(second).box.periodic == flags
    other = tuple(not f for f in flags)
    third = tmp_path / f"third.{ext}"
    write_frame(third, read_one(second, pbc=other))  # overridden: the flags used are written
    assert read_one(third).box.periodic == other


def test_dump_writer_keeps_the_open_style_where_flags_agree(tmp_path):
    path = tmp_path / "a.dump"
    path.write_text(dump_text("ITEM: BOX BOUNDS pp ss fm"))
    out = tmp_path / "out.dump"
    write_frame(out, read_one(path))
    assert "ITEM: BOX BOUNDS pp ss fm" in out.read_text()
    write_frame(out, read_one(path, pbc=(False, False, True)))
    assert "ITEM: BOX BOUNDS ff ss pp" in out.read_text()


# ----------------------------------------------------------------------------- md-orderml label --pbc
def slab_dump(path, bounds="pp pp ff", vacuum=10.0):
    """A noisy fcc slab, 4 cells thick in z, in a box with ``vacuum`` times its thickness of empty space along z."""
    s = structures.crystal("fcc", min_width=6.0, noise=0.03, seed=3)
    frame = s.to_frame()
    box = frame.box
    thick = Box(box.Lx, box.Ly, box.Lz * (1.0 + vacuum), origin=tuple(box.corner), periodic=box.periodic)
    write_frame(path, Frame(positions=frame.positions, box=thick, source="slab"))
    text = path.read_text().replace("ITEM: BOX BOUNDS pp pp pp", f"ITEM: BOX BOUNDS {bounds}")
    path.write_text(text)
    return frame.N


def label_cli(capsys, *argv):
    code = main(["label", *map(str, argv), "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("bad", ["TT", "TTX", "yes", "TTFF", "periodic", "", "x y z"])
def test_bad_pbc_values_are_one_line_and_exit_2(tmp_path, capsys, local_unit_model_path, bad):
    path = tmp_path / "slab.dump"
    slab_dump(path)
    code, err = label_cli(capsys, path, "-o", tmp_path / "out.dump", "--model", local_unit_model_path, "--pbc", bad)
    assert code == 2
    assert err.count("\n") == 1 and "--pbc" in err and "e.g. --pbc TTF" in err, err
    assert not (tmp_path / "out.dump").exists()


@pytest.mark.parametrize("value, flags", [("TTF", (True, True, False)), ("t,f,t", (True, False, True)),
                                           ("none", (False, False, False)), ("all", (True, True, True)),
                                           ("110", (True, True, False)), ("file", (True, True, False))])
def test_pbc_option_overrides_the_file_and_is_written(tmp_path, capsys, local_unit_model_path, value, flags):
    path = tmp_path / "slab.dump"
    n = slab_dump(path, vacuum=1.0)
    out = tmp_path / "out.dump"
    code, err = label_cli(capsys, path, "-o", out, "--model", local_unit_model_path, "--pbc", value)
    assert code == 0, err
    frame = read_one(out)
    assert frame.box.periodic == flags and frame.N == n


def test_file_flags_decide_and_the_width_check_counts_periodic_directions_only(tmp_path, capsys,
                                                                                local_unit_model_path):
    path = tmp_path / "thin.dump"
    slab_dump(path, bounds="pp pp ff", vacuum=0.0)
    text = path.read_text()
    lines = text.splitlines()
    z = lines.index("ITEM: BOX BOUNDS pp pp ff") + 3
    zlo, zhi = map(float, lines[z].split())
    lines[z] = f"{zlo} {zlo + 2.0}"  # a box only 2 units thick along z (the slab pokes out: open, so fine)
    path.write_text("\n".join(lines) + "\n")
    code, err = label_cli(capsys, path, "--fractions", tmp_path / "f.csv", "--model", local_unit_model_path)
    assert code == 0, err
    code, err = label_cli(capsys, path, "--fractions", tmp_path / "g.csv", "--model", local_unit_model_path,
                          "--pbc", "TTT")
    assert code == 2 and "box width 2 is smaller than twice the model's cutoff" in err and err.count("\n") == 1


def test_global_unit_model_refuses_vacuum_in_one_line_and_local_unit_labels_it(tmp_path, capsys,
                                                                                untrained_model_path,
                                                                                local_unit_model_path):
    path = tmp_path / "slab.dump"
    n = slab_dump(path, bounds="pp pp ff", vacuum=10.0)
    code, err = label_cli(capsys, path, "-o", tmp_path / "g.dump", "--model", untrained_model_path)
    assert code == 2 and "open along z, the particles span" in err and err.count("\n") == 1, err
    code, err = label_cli(capsys, path, "-o", tmp_path / "l.dump", "--model", local_unit_model_path)
    assert code == 0, err
    assert read_one(tmp_path / "l.dump").N == n


def test_python_pbc_and_ase_clusters(local_unit_model_path):
    ase = pytest.importorskip("ase")
    from md_orderml.analysis import OrderML

    s = structures.crystal("fcc", min_width=5.0, noise=0.03, seed=4)
    centre = s.positions.mean(axis=0)
    cluster = s.positions[np.linalg.norm(s.positions - centre, axis=1) < 2.5]
    clf = OrderML(local_unit_model_path)
    atoms = ase.Atoms("Cu" * len(cluster), positions=cluster)  # no cell, pbc False: what ase.cluster gives
    labels = clf.compute(atoms).labels.copy()
    big = clf.compute((np.eye(3) * 1000.0, cluster + 500.0), pbc=(False, False, False)).labels
    np.testing.assert_array_equal(labels, big)  # the open box's size does not matter
    with pytest.raises(InputError, match="pbc must be one or three bools"):
        clf.compute(atoms, pbc=(True, False))


@pytest.mark.parametrize("boundary, flags", [("p p s", (True, True, False)), ("f s m", (False, False, False)),
                                             ("p f p", (True, False, True))])
def test_flags_of_a_real_lammps_dump(tmp_path, boundary, flags):
    try:
        from md_orderml.mpi import import_lammps

        lammps = import_lammps()
    except ImportError as err:
        pytest.skip(f"LAMMPS is not importable: {err}")
    path = tmp_path / "real.dump"
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_string(f"""
            boundary {boundary}
            lattice fcc 1.5874
            region box block 0 3 0 3 0 3
            create_box 1 box
            create_atoms 1 box
            mass 1 1.0
            write_dump all custom {path} id type x y z
        """)
        natoms = lmp.get_natoms()
    finally:
        lmp.close()
    frame = read_one(path)
    assert frame.box.periodic == flags and frame.N == natoms >= 108  # open faces hold one more layer
    out = tmp_path / "out.dump"
    write_frame(out, frame)
    assert read_one(out).box.periodic == flags
    assert path.read_text().splitlines()[4] in out.read_text()  # LAMMPS's own BOX BOUNDS line is kept


def test_a_thin_slab_beside_vapour_is_labelled():
    """The width check leaves capped (vapour) particles out: a slab 5 nn wide in x and y beside a few
    vapour atoms is labelled (the vapour's capped unit used to demand 8.6 nn), and its crystal stays fcc."""
    from md_orderml.analysis import OrderML

    s = structures.crystal("fcc", min_width=5.0, noise=0.02, seed=6)
    cell = s.cell.copy()
    cell[2] *= 4.0  # vacuum above the slab along z (periodic)
    rng = np.random.default_rng(1)
    vapour = rng.uniform(0.0, 1.0, (6, 3)) @ s.cell + s.cell[2] * 2.0  # six atoms far from the slab and each other
    clf = OrderML("default")
    labels = clf.compute((cell, np.vstack([s.positions, vapour]))).labels
    names = np.asarray(clf.class_names)
    assert (names[labels[-6:]] == "liquid").all()
    bulk = np.abs(s.positions @ np.linalg.inv(s.cell)[:, 2] - 0.5) < 0.25  # the slab's middle half
    assert (names[labels[:len(s.positions)][bulk]] == "fcc").mean() > 0.95
