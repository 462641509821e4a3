"""md_orderml hides torch's TorchScript deprecation warnings in its own script/save/load calls, and only there."""

import warnings

import torch

from md_orderml import model_file


def _warn_then(real, message, category=FutureWarning):
    def wrapped(*args, **kwargs):
        warnings.warn(message, category, stacklevel=2)
        return real(*args, **kwargs)
    return wrapped


def test_torchscript_deprecation_silenced_in_save_and_load(untrained_model_path, tmp_path, monkeypatch):
    # torch itself warns that torch.jit.load is deprecated (a DeprecationWarning in 2.13, FutureWarnings on
    # every script / save / load in 2.14); imitate the 2.14 ones on top
    text = "`torch.jit.{}` is deprecated. Please switch to `torch.compile` or `torch.export`; TorchScript ..."
    monkeypatch.setattr(torch.jit, "load", _warn_then(torch.jit.load, text.format("load")))
    monkeypatch.setattr(torch.jit, "save", _warn_then(torch.jit.save, text.format("save"), DeprecationWarning))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = model_file.load_model(untrained_model_path)
        model_file.save_model(loaded.module, loaded.metadata, tmp_path / "again.pt")
        model_file.load_model(tmp_path / "again.pt")
        warnings.warn("an unrelated FutureWarning", FutureWarning)
    assert [str(w.message) for w in caught] == ["an unrelated FutureWarning"]
    with warnings.catch_warnings(record=True) as caught:  # the user's own call still warns
        warnings.simplefilter("always")
        torch.jit.load(str(tmp_path / "again.pt"))
    assert text.format("load") in [str(w.message) for w in caught]
    assert not any(f[1] is not None and "torchscript" in f[1].pattern.lower() for f in warnings.filters)  # never global
