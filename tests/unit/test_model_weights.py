"""Every model file carries a plain weights record; where TorchScript cannot load the file (another
torch version, e.g. torch 2.11 on the GPU machine), load_model rebuilds the module from it."""

import zipfile

import numpy as np
import pytest
import torch

from md_orderml import keys, structures
from md_orderml.analysis import OrderML
from md_orderml.errors import ModelFileError
from md_orderml.model_file import load_model


@pytest.fixture
def reexported_classic(tmp_path):
    """The classic model re-exported with today's code (so it holds a weights record)."""
    from md_orderml.cli import main

    path = tmp_path / "classic_again.pt"
    assert main(["export", "classic", "-o", str(path)]) == 0
    return path


def refuse_torchscript(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("version_ number 11 is older than this archive's\nmore text")

    monkeypatch.setattr(torch.jit, "load", refuse)


def test_every_saved_file_holds_the_record(reexported_classic):
    with zipfile.ZipFile(reexported_classic) as archive:
        assert any(n.endswith("extra/" + keys.WEIGHTS_FILE) for n in archive.namelist())


def test_unloadable_torchscript_falls_back_to_the_record(reexported_classic, monkeypatch):
    frames = [structures.crystal(k, noise=0.06, min_width=7, rotation="random", seed=2).to_frame()
              for k in ("fcc", "cd", "hcp")] + [structures.liquid(n=300, steps=300, seed=4).to_frame()]
    scripted = OrderML(reexported_classic)
    expected = [(scripted.compute(f).labels.copy(), scripted.probabilities.copy()) for f in frames]
    refuse_torchscript(monkeypatch)
    with pytest.warns(UserWarning, match="cannot load the file's TorchScript code"):
        rebuilt = OrderML(reexported_classic)
    assert not isinstance(rebuilt.model.module, torch.jit.ScriptModule)
    for frame, (labels, probabilities) in zip(frames, expected):
        np.testing.assert_array_equal(rebuilt.compute(frame).labels, labels)
        np.testing.assert_allclose(rebuilt.probabilities, probabilities, atol=1e-5)


def test_a_file_without_record_still_gives_the_one_line_error(monkeypatch, tmp_path):
    import shutil

    from md_orderml.model_file import resolve_model_path

    old = shutil.copy(resolve_model_path("classic"), tmp_path / "old.pt")  # written before records existed
    with zipfile.ZipFile(old) as archive:
        assert not any(n.endswith(keys.WEIGHTS_FILE) for n in archive.namelist())
    refuse_torchscript(monkeypatch)
    with pytest.raises(ModelFileError, match="TorchScript cannot load it \\(version_ number 11"):
        load_model(old)
