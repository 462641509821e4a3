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


def test_lammps_order_ml_compute_is_order_ml_fix():
    import md_orderml.engines.lammps as lammps_engine
    from md_orderml.engines.lammps.compute import OrderMLFix

    with pytest.warns(DeprecationWarning, match="OrderMLCompute is deprecated; use OrderMLFix"):
        assert lammps_engine.OrderMLCompute is OrderMLFix
    with pytest.warns(DeprecationWarning, match="OrderMLFix"):
        from md_orderml.engines.lammps.compute import OrderMLCompute
    assert OrderMLCompute is OrderMLFix


def test_hoomd_order_ml_labels_is_order_ml_writer():
    pytest.importorskip("hoomd", reason="HOOMD-blue is not installed")
    import md_orderml.engines.hoomd as hoomd_engine
    from md_orderml.engines.hoomd.analyzer import OrderMLWriter

    with pytest.warns(DeprecationWarning, match="OrderMLLabels is deprecated; use OrderMLWriter"):
        assert hoomd_engine.OrderMLLabels is OrderMLWriter
    with pytest.warns(DeprecationWarning, match="OrderMLWriter"):
        from md_orderml.engines.hoomd.analyzer import OrderMLLabels
    assert OrderMLLabels is OrderMLWriter


def test_hoomd_package_names_the_new_writer_without_importing_hoomd():
    import md_orderml.engines.hoomd as hoomd_engine

    assert "OrderMLWriter" in hoomd_engine.__all__ and "OrderMLLabels" not in hoomd_engine.__all__
    assert hoomd_engine.DEPRECATED == {"OrderMLLabels": "OrderMLWriter"}
