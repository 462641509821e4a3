"""Old public names keep working for one release, with a DeprecationWarning naming the new one."""

import importlib
import sys

import pytest


def test_structure_classifier_is_orderml():
    import md_orderml
    from md_orderml.analysis import OrderML

    with pytest.warns(DeprecationWarning, match="OrderML"):
        assert md_orderml.StructureClassifier is OrderML


def test_classifier_module_still_imports():
    from md_orderml.analysis import OrderML

    sys.modules.pop("md_orderml.classifier", None)
    with pytest.warns(DeprecationWarning, match="md_orderml.analysis"):
        module = importlib.import_module("md_orderml.classifier")
    assert module.StructureClassifier is OrderML
