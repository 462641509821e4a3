"""Shared fixtures: model files (an untrained one for mechanics, the shipped default for physics)."""

import os
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


def pytest_report_header(config):
    return f"md_orderml default model: {'present' if DEFAULT_MODEL_PATH.is_file() else 'absent'}; OMP threads {os.environ.get('OMP_NUM_THREADS', 'default')}"
