"""What a new user trips over (issue 23), through the real ``md-orderml`` command in a subprocess.

Damaged and misnamed inputs, errors under MPI, output formats, start-up without torch,
threads, error locations with atom ids and time steps, a mistyped option, and labelling
a subset of the particles.
"""

import gzip
import os
import subprocess
import sys

import gsd.hoomd
import numpy as np
import pytest

from md_orderml import structures
from md_orderml.io import open_trajectory, read_gsd_outputs

from conftest import mpirun


def cli(*args, env=None, timeout=300):
    """Run ``python -m md_orderml.cli ARGS``; returns the CompletedProcess (text)."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "md_orderml.cli", *map(str, args)], capture_output=True,
                          text=True, env=environment, timeout=timeout)


def assert_one_line_error(result, *fragments):
    """Exit status 2, one ``md-orderml: error:`` line naming ``fragments``, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines() if "md-orderml: error:" in line]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def two_type_gsd(tmp_path_factory):
    """Three frames of a noisy fcc crystal (about 500 particles) with types A and B alternating."""
    path = tmp_path_factory.mktemp("gsd") / "traj.gsd"
    frame = structures.crystal("fcc", noise=0.05, min_width=7.0, seed=1).to_frame()
    with gsd.hoomd.open(str(path), "w") as f:
        for step in range(3):
            snap = gsd.hoomd.Frame()
            snap.configuration.step = step * 1000
            snap.configuration.box = frame.box.to_hoomd()
            snap.particles.N = frame.N
            snap.particles.position = frame.box.wrap(frame.positions).astype(np.float32)
            snap.particles.types = ["A", "B"]
            snap.particles.typeid = np.arange(frame.N) % 2
            f.append(snap)
    return path


@pytest.fixture(scope="module")
def dump_of(two_type_gsd, untrained_model_path, tmp_path_factory):
    """The GSD as a LAMMPS text dump (written by ``md-orderml label``)."""
    path = tmp_path_factory.mktemp("dump") / "traj.dump"
    result = cli("label", two_type_gsd, "-o", path, "--model", untrained_model_path, "--quiet")
    assert result.returncode == 0, result.stderr
    return path


# ---------------------------------------------------------------- start-up without torch

@pytest.mark.parametrize("args", [["--help"], ["--version"], ["lable"], ["label", "--help"]])
def test_help_version_and_typo_import_no_torch(args):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "md_orderml.cli", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == (2 if args == ["lable"] else 0), result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "md_orderml.cli" in imported
    assert not {"torch", "e3nn"} & imported, sorted(m for m in imported if m.startswith(("torch", "e3nn")))[:5]


def test_building_the_parser_imports_no_torch():
    code = ("import sys\nfrom md_orderml.cli import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in ('torch', 'e3nn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_deferred_options_still_show_in_subcommand_help():
    result = cli("train", "--help")
    assert result.returncode == 0 and "--epochs" in result.stdout and "--threads" in result.stdout


# ---------------------------------------------------------------- damaged and misnamed inputs

@pytest.mark.parametrize("name, extra", [("wrong.dump", []), ("wrong.xyz", []), ("right.gsd", ["--format", "xyz"]),
                                         ("right.gsd", ["--format", "lammps-dump"])])
def test_binary_file_under_a_text_format(two_type_gsd, untrained_model_path, tmp_path, name, extra):
    path = tmp_path / name
    path.write_bytes(two_type_gsd.read_bytes())
    out = tmp_path / "o.dump"
    result = cli("label", path, "-o", out, "--model", untrained_model_path, *extra)
    line = assert_one_line_error(result, name, "frame 0", "GSD file", "--format gsd")
    assert "UnicodeDecodeError" not in line and not out.exists()


def test_truncated_gzip_dump(dump_of, untrained_model_path, tmp_path):
    packed = gzip.compress(dump_of.read_bytes())
    cut = tmp_path / "t.dump.gz"
    cut.write_bytes(packed[: len(packed) // 3])
    for quiet in ([], ["--quiet"]):  # with the progress bar, counting frames meets the damage first
        result = cli("label", cut, "-o", tmp_path / "o.dump", "--model", untrained_model_path, *quiet)
        assert_one_line_error(result, "t.dump.gz, frame", "truncated")
    fake = tmp_path / "plain.dump.gz"
    fake.write_bytes(dump_of.read_bytes())
    assert_one_line_error(cli("label", fake, "-o", tmp_path / "o.dump", "--model", untrained_model_path),
                          "plain.dump.gz", "not gzip")


def test_text_formats_swapped(dump_of, untrained_model_path, tmp_path):
    result = cli("label", dump_of, "--format", "xyz", "-o", tmp_path / "o.dump", "--model", untrained_model_path)
    assert_one_line_error(result, "frame 0", "--format lammps-dump")


# ---------------------------------------------------------------- error locations

def test_nan_names_atom_id_and_timestep(untrained_model_path, tmp_path):
    frame = structures.crystal("fcc", noise=0.05, min_width=7.0, seed=1).to_frame()
    lo, hi = frame.box.corner, frame.box.corner + np.diag(frame.box.matrix)
    header = (f"ITEM: NUMBER OF ATOMS\n{frame.N}\nITEM: BOX BOUNDS pp pp pp\n{lo[0]} {hi[0]}\n{lo[1]} {hi[1]}\n"
              f"{lo[2]} {hi[2]}\nITEM: ATOMS id type x y z\n")
    ids = np.arange(frame.N)[::-1] + 100  # ids unlike the row index
    rows = [f"{i} 1 {x} {y} {z}" for i, (x, y, z) in zip(ids, frame.box.wrap(frame.positions))]
    bad = list(rows)
    bad[4] = f"{ids[4]} 1 nan 0 0"
    path = tmp_path / "nan.dump"
    path.write_text("ITEM: TIMESTEP\n0\n" + header + "\n".join(rows) + "\nITEM: TIMESTEP\n1000\n" + header
                    + "\n".join(bad) + "\n")
    result = cli("label", path, "-o", tmp_path / "o.dump", "--model", untrained_model_path, "--quiet")
    assert_one_line_error(result, "nan.dump, frame 1 (timestep 1000)", f"particle 4 (id {ids[4]})")


# ---------------------------------------------------------------- output formats and options

def test_unknown_output_extension_names_the_cli_option(two_type_gsd, untrained_model_path, tmp_path):
    line = assert_one_line_error(cli("label", two_type_gsd, "-o", tmp_path / "out.txt", "--model",
                                     untrained_model_path), "out.txt", "--output-format", "gsd, lammps-dump, xyz")
    assert "fmt=" not in line and "csv" not in line
    assert not (tmp_path / "out.txt").exists()
    result = cli("label", two_type_gsd, "-o", tmp_path / "out.txt", "--output-format", "xyz", "--model",
                 untrained_model_path, "--quiet")
    assert result.returncode == 0, result.stderr
    with open_trajectory(tmp_path / "out.txt", "xyz") as traj:
        assert len(list(traj)) == 3


def test_mistyped_label_option_shows_label_usage(two_type_gsd, tmp_path):
    result = cli("label", two_type_gsd, "-o", tmp_path / "y.gsd", "--fractons", tmp_path / "f.csv")
    assert result.returncode == 2
    assert "usage: md-orderml label" in result.stderr and "--fractions" in result.stderr
    assert "unrecognized arguments: --fractons" in result.stderr


# ---------------------------------------------------------------- threads

def test_threads_option_and_passive_openmp(two_type_gsd, untrained_model_path, tmp_path):
    code = ("import os, sys\nfrom md_orderml.cli import main\n"
            f"status = main(['label', {str(two_type_gsd)!r}, '--fractions', {str(tmp_path / 'f.csv')!r}, "
            f"'--model', {str(untrained_model_path)!r}, '--quiet', '--threads', '1'])\n"
            "import torch\nprint(status, os.environ.get('OMP_WAIT_POLICY'), torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.stdout.split() == ["0", "PASSIVE", "1"], out.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # a policy the user chose stays
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.stdout.split() == ["0", "ACTIVE", "1"], out.stderr


def test_default_threads_leave_busy_cores_alone(monkeypatch):
    from md_orderml import threads

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(threads, "usable_cpus", lambda: 8)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert threads.default_threads() == 8 and threads.default_threads(share=4) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (5.2, 0.0, 0.0))
    assert threads.default_threads() == 3
    monkeypatch.setattr(os, "getloadavg", lambda: (30.0, 0.0, 0.0))
    assert threads.default_threads() == 1 and threads.default_threads(share=4) == 1


# ---------------------------------------------------------------- a subset of the particles

def test_label_types_and_mask(two_type_gsd, untrained_model_path, tmp_path):
    full, part, masked = tmp_path / "full.gsd", tmp_path / "part.gsd", tmp_path / "masked.dump"
    csv = tmp_path / "part.csv"
    assert cli("label", two_type_gsd, "-o", full, "--model", untrained_model_path, "--quiet").returncode == 0
    result = cli("label", two_type_gsd, "-o", part, "--types", "B", "--fractions", csv, "--probabilities",
                 "--model", untrained_model_path, "--quiet")
    assert result.returncode == 0, result.stderr
    with gsd.hoomd.open(str(full)) as a, gsd.hoomd.open(str(part)) as b:
        for fa, fb in zip(a, b):
            (whole, _), (sub, _) = read_gsd_outputs(fa), read_gsd_outputs(fb)
            is_b = fb.particles.typeid == 1
            np.testing.assert_array_equal(sub["label"][is_b], whole["label"][is_b])  # the A still are neighbours
            np.testing.assert_allclose(sub["confidence"][is_b], whole["confidence"][is_b], rtol=1e-5)
            assert (sub["label"][~is_b] == -1).all() and np.isnan(sub["confidence"][~is_b]).all()
            assert np.isnan(sub["probabilities"][~is_b]).all()
            n_b = int(is_b.sum())
    rows = [line.split(",") for line in csv.read_text().splitlines()]
    assert all(int(r[2]) == n_b for r in rows[1:])  # N counts the labelled particles
    assert all(abs(sum(float(v) for v in r[3:3 + 7]) - 1.0) < 1e-4 for r in rows[1:])  # fractions of them
    with gsd.hoomd.open(str(two_type_gsd)) as traj:
        n = traj[0].particles.N
    mask = np.zeros(n, dtype=int)
    mask[:10] = 1
    (tmp_path / "mask.txt").write_text("\n".join(map(str, mask)))
    result = cli("label", two_type_gsd, "-o", masked, "--mask", tmp_path / "mask.txt", "--types", "A",
                 "--model", untrained_model_path, "--quiet")
    assert result.returncode == 0, result.stderr
    labels = next(iter(open_trajectory(masked))).native.column("orderml_label")
    expected = (mask == 1) & (np.arange(n) % 2 == 0)
    assert ((labels >= 0) == expected).all()
    assert_one_line_error(cli("label", two_type_gsd, "-o", masked, "--types", "C", "--model", untrained_model_path,
                              "--quiet"), "frame 0", "--types C", "A, B")
    (tmp_path / "short.txt").write_text("1 0 1")
    assert_one_line_error(cli("label", two_type_gsd, "-o", masked, "--mask", tmp_path / "short.txt", "--model",
                              untrained_model_path, "--quiet"), "short.txt", f"3 entries for {n} particles")


# ---------------------------------------------------------------- errors under MPI

def _nan_gsd(source, path, bad_frame):
    with gsd.hoomd.open(str(source)) as src, gsd.hoomd.open(str(path), "w") as dst:
        for i, snap in enumerate(src):
            if i == bad_frame:
                position = np.array(snap.particles.position)
                position[3] = np.nan
                snap.particles.position = position
            dst.append(snap)
    return path


@pytest.mark.mpi
@pytest.mark.parametrize("case", ["nan on rank 1", "nan on rank 0", "missing model"])
def test_mpi_errors_once_with_status_2(two_type_gsd, untrained_model_path, tmp_path, case):
    model = tmp_path / "missing.pt" if case == "missing model" else untrained_model_path
    source = _nan_gsd(two_type_gsd, tmp_path / "nan.gsd", {"nan on rank 1": 1, "nan on rank 0": 2}.get(case, -1))
    out = tmp_path / "o.dump"
    result = subprocess.run([mpirun(), "-np", "2", sys.executable, "-m", "md_orderml.cli", "label", str(source),
                             "-o", str(out), "--model", str(model), "--fractions", str(tmp_path / "f.csv")],
                            capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=180)
    fragments = ["missing.pt"] if case == "missing model" else ["nan.gsd, frame", "non-finite"]
    assert_one_line_error(result, *fragments)
    assert "MPI_Abort" not in result.stderr and "application called" not in result.stderr.lower()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith((".o.dump", "o.dump", ".f.csv", "f.csv"))]


@pytest.mark.mpi
def test_mpi_subset_equals_serial(two_type_gsd, untrained_model_path, tmp_path):
    serial, parallel = tmp_path / "serial.dump", tmp_path / "parallel.dump"
    assert cli("label", two_type_gsd, "-o", serial, "--types", "A", "--model", untrained_model_path,
               "--quiet").returncode == 0
    result = subprocess.run([mpirun(), "-np", "2", sys.executable, "-m", "md_orderml.cli", "label",
                             str(two_type_gsd), "-o", str(parallel), "--types", "A", "--model",
                             str(untrained_model_path), "--quiet"],
                            capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=180)
    assert result.returncode == 0, result.stderr
    assert serial.read_text() == parallel.read_text()
