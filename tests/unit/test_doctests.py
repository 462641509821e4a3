"""The ``Example:`` sections of the public modules run as written (with the default model)."""

import doctest
import importlib

import pytest

#: Modules whose docstring examples are meant to run (fast: tiny crystals).
MODULES = ["md_orderml.analysis", "md_orderml.system", "md_orderml.frame", "md_orderml.engines.ovito"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, default_model_path):
    if name == "md_orderml.engines.ovito":
        pytest.importorskip("ovito", reason="OVITO is not installed (pip install ovito)")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (see above)"
    assert result.attempted > 0, f"{name} has no examples"
