"""Shared fixtures: model files (an untrained one for mechanics, the shipped default for physics)."""

import os
import sys
from pathlib import Path

import pytest

from md_orderml.model_file import DEFAULT_MODEL_PATH

CLASSES = ["fcc", "bcc", "hcp", "sc", "cd", "hd", "liquid"]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run single-threaded: the test machines are small and shared (2 cores), where
    torch's OpenMP threads spin against each other and other jobs."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def untrained_model_path(tmp_path_factory) -> Path:
    """A randomly initialised, exported model file (outputs are arbitrary but deterministic)."""
    import torch

    from md_orderml.model_file import build_metadata, save_model
    from md_orderml.nn.backbone import EquivariantBackbone
    from md_orderml.nn.labeler import StructureLabeler

    torch.manual_seed(1)
    model = StructureLabeler(EquivariantBackbone(1.6, {"features": 32, "channels": 8}), len(CLASSES))
    path = tmp_path_factory.mktemp("models") / "untrained.pt"
    save_model(model, build_metadata(CLASSES, 1.6, 2, {"family": "test"}, {"kind": "untrained"}), path)
    return path


@pytest.fixture(scope="session")
def local_unit_model_path(tmp_path_factory) -> Path:
    """A randomly initialised model file in the local length unit (md_orderml.local_scale)."""
    import torch

    from md_orderml.model_file import build_metadata, save_model
    from md_orderml.nn.backbone import EquivariantBackbone
    from md_orderml.nn.labeler import StructureLabeler

    torch.manual_seed(1)
    model = StructureLabeler(EquivariantBackbone(1.6, {"features": 32, "channels": 8}), len(CLASSES),
                             length_unit="local", vapour_class=CLASSES.index("liquid")).eval()
    path = tmp_path_factory.mktemp("models") / "untrained_local.pt"
    save_model(model, build_metadata(CLASSES, 1.6, 2, {"family": "test"}, {"kind": "untrained"},
                                     receptive_field=model.receptive_field(), length_unit="local"), path)
    return path


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    """The shipped default model (tests that need trained physics use this)."""
    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip(f"the default model {DEFAULT_MODEL_PATH} has not been trained yet")
    return DEFAULT_MODEL_PATH


def mpirun() -> str:
    """The MPI launcher of the mpich wheel next to this Python, or 'mpirun'."""
    import sys

    candidate = Path(sys.executable).parent / "mpirun"
    return str(candidate) if candidate.exists() else "mpirun"


#: Where HOOMD-blue 4.8.2 (MD, HPMC, MPI; built by hand) is installed; MD_ORDERML_HOOMD_PREFIX overrides.
HOOMD_PREFIX = Path(os.environ.get("MD_ORDERML_HOOMD_PREFIX") or Path.home() / ".cache" / "md-orderml-hoomd" / "4.8.2")
#: Every skip for lack of HOOMD-blue says this (and fails instead where :func:`hoomd_required`).
NO_HOOMD_PHRASE = "HOOMD-blue is not installed"
NO_HOOMD = f"{NO_HOOMD_PHRASE} (conda install -c conda-forge hoomd)"
HOOMD_IMPORT_ERRORS = {}  #: component -> why it did not import


def _use_hoomd_prefix() -> None:
    """Put :data:`HOOMD_PREFIX` first on ``sys.path`` and ``PYTHONPATH`` (for the MPI helpers) when it exists."""
    if not HOOMD_PREFIX.is_dir():
        return
    prefix = str(HOOMD_PREFIX)
    if prefix not in sys.path:
        sys.path.insert(0, prefix)
    parts = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    if prefix not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([prefix, *parts])


_use_hoomd_prefix()


def hoomd_required() -> str:
    """Why a skip for lack of HOOMD-blue is a failure here, or "" where it is not.

    It is where :data:`HOOMD_PREFIX` exists or ``MD_ORDERML_REQUIRE_HOOMD=1``
    (``MD_ORDERML_REQUIRE_HOOMD=0`` turns it off).
    """
    flag = os.environ.get("MD_ORDERML_REQUIRE_HOOMD", "")
    if flag == "0":
        return ""
    if flag == "1":
        return "MD_ORDERML_REQUIRE_HOOMD=1"
    return f"the HOOMD-blue build {HOOMD_PREFIX} exists" if HOOMD_PREFIX.is_dir() else ""


def hoomd_available(*components: str) -> bool:
    """Whether ``hoomd`` and its ``components`` (default ``md``; e.g. ``hpmc``) import (MPICH loaded first)."""
    import importlib

    from md_orderml.mpi import load_mpi

    load_mpi()
    for component in ("",) + (components or ("md",)):
        name = f"hoomd.{component}" if component else "hoomd"
        try:
            importlib.import_module(name)
        except ImportError as err:
            HOOMD_IMPORT_ERRORS[name] = f"{type(err).__name__}: {err}"
            return False
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Where HOOMD-blue must be there (:func:`hoomd_required`), a test skipped for lack of it fails."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or getattr(report, "wasxfail", None) is not None:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    why = hoomd_required()
    if why and NO_HOOMD_PHRASE in reason:
        errors = "; ".join(f"{name}: {error}" for name, error in HOOMD_IMPORT_ERRORS.items()) or "no import error seen"
        report.outcome = "failed"
        report.longrepr = (f"skipped for lack of HOOMD-blue, but {why} ({errors}); "
                           f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}")


def ka_simulation(positions, types, length, seed: int = 3):
    """A HOOMD simulation (CPU) of a cubic two-type configuration, types named A and B, no operations.

    Args:
        positions: Positions in ``[0, length)``, shape (N, 3).
        types: 0 = A, 1 = B, shape (N,).
        length: Box edge.
    """
    import hoomd

    device = hoomd.device.CPU(notice_level=1)
    sim = hoomd.Simulation(device=device, seed=seed)
    snap = hoomd.Snapshot(device.communicator)
    if snap.communicator.rank == 0:
        snap.configuration.box = [length, length, length, 0, 0, 0]
        snap.particles.N = len(positions)
        snap.particles.types = ["A", "B"]
        snap.particles.typeid[:] = types
        snap.particles.position[:] = positions - length / 2
    sim.create_state_from_snapshot(snap)
    return sim


def synthetic_glassy_cache(cache_dir, positions, types, length, n_configs: int, n_times: int, seed: int,
                           noise: float, meta=None) -> str:
    """Cache a synthetic iso-configurational data set where ``md-orderml research train-propensity`` finds it.

    Configurations are ``positions`` plus Gaussian ``noise``, propensities random (growing
    with time), tau_alpha = 1.

    Returns:
        The ``--data`` JSON that selects it (with ``--cache-dir cache_dir``).
    """
    import json

    import numpy as np

    from md_orderml.research.glassy.data import GlassyConfig, GlassyData

    n = len(positions)
    settings = {"n_particles": n, "n_configs": n_configs, "n_draws": 2, "n_times": n_times, "seed": seed}
    rng = np.random.default_rng(seed)
    times = np.geomspace(0.1, 10.0, n_times)
    data = GlassyData(positions=np.stack([(positions + rng.normal(0, noise, positions.shape)) % length
                                          for _ in range(n_configs)]),
                      types=types, box_length=length, times=times,
                      propensity=rng.uniform(0.1, 2.0, (n_configs, n_times, n)) * times[None, :, None],
                      fs=np.linspace(0.9, 0.1, n_times), msd=times.copy(), tau_alpha=1.0, meta=dict(meta or {}))
    data.save(Path(cache_dir) / f"ka3d_{GlassyConfig(**settings).key()}.npz")
    return json.dumps(settings)


FOLDER_MARKERS = {"unit": "unit", "engines": "engines", "research": "research"}


def pytest_collection_modifyitems(config, items):
    """Mark each test by its folder: ``unit``, ``engines`` (LAMMPS, HOOMD, MPI, plugin, packaging), ``research``."""
    root = Path(__file__).resolve().parent
    for item in items:
        try:
            folder = Path(str(item.fspath)).resolve().relative_to(root).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, FOLDER_MARKERS[folder]))


def pytest_report_header(config):
    return f"md_orderml default model: {'present' if DEFAULT_MODEL_PATH.is_file() else 'absent'}; OMP threads {os.environ.get('OMP_NUM_THREADS', 'default')}"
