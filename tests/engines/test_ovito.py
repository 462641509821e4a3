"""The OVITO modifier on real ``ovito`` pipelines: a LAMMPS dump read by ``ovito.io.import_file``."""

import numpy as np
import pytest

from md_orderml import structures

ovito = pytest.importorskip("ovito", reason="OVITO is not installed (pip install ovito, or md_orderml[baselines])")


def write_dump(path, crystals):
    """A LAMMPS text dump with one frame per (orthorhombic) crystal; atom type 1."""
    with open(path, "w") as out:
        for step, s in enumerate(crystals):
            lengths = np.diag(s.cell)
            out.write(f"ITEM: TIMESTEP\n{step * 100}\nITEM: NUMBER OF ATOMS\n{s.N}\nITEM: BOX BOUNDS pp pp pp\n")
            out.writelines(f"0.0 {length:.10f}\n" for length in lengths)
            out.write("ITEM: ATOMS id type x y z\n")
            out.writelines(f"{i + 1} 1 {x:.10f} {y:.10f} {z:.10f}\n" for i, (x, y, z) in enumerate(s.positions))


@pytest.fixture(scope="module")
def crystals():
    return [structures.crystal(kind, noise=0.04, min_width=6.0, seed=5) for kind in ("fcc", "bcc")]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, crystals, default_model_path):
    from ovito.io import import_file

    from md_orderml.engines.ovito import OrderMLModifier

    path = tmp_path_factory.mktemp("ovito") / "crystals.dump"
    write_dump(path, crystals)
    pipeline = import_file(str(path))
    pipeline.modifiers.append(OrderMLModifier(model=str(default_model_path), probabilities=True))
    return pipeline


def test_fcc_and_bcc_frames_are_labelled(pipeline, crystals, default_model_path):
    from md_orderml.analysis import OrderML
    from md_orderml.engines.ovito import CONFIDENCE_PROPERTY, LABEL_PROPERTY, PROBABILITIES_PROPERTY

    clf = OrderML(default_model_path)
    assert pipeline.num_frames == 2
    for frame, crystal in ((0, crystals[0]), (1, crystals[1]), (0, crystals[0])):  # frame 0 again: no stale types
        data = pipeline.compute(frame)
        labels = data.particles[LABEL_PROPERTY]
        assert [t.name for t in labels.types] == clf.class_names
        assert [t.id for t in labels.types] == list(range(len(clf.class_names)))
        names = np.array([labels.types[int(i)].name for i in np.asarray(labels)])
        assert (names == crystal.label).mean() > 0.95, f"frame {frame}: {crystal.label} not recognised"
        assert data.attributes[f"OrderML.fraction.{crystal.label}"] > 0.95
        assert sum(data.attributes[f"OrderML.fraction.{name}"] for name in clf.class_names) == pytest.approx(1.0)
        expected = clf.compute((crystal.cell, crystal.positions))  # OVITO keeps the dump's particle order
        np.testing.assert_array_equal(np.asarray(labels), expected.labels)
        np.testing.assert_allclose(np.asarray(data.particles[CONFIDENCE_PROPERTY]), expected.confidence, atol=1e-5)
        probabilities = data.particles[PROBABILITIES_PROPERTY]
        assert list(probabilities.component_names) == clf.class_names
        np.testing.assert_allclose(np.asarray(probabilities), expected.probabilities, atol=1e-5)


def test_static_source_pipeline_and_errors(crystals, default_model_path):
    from ovito.data import DataCollection
    from ovito.pipeline import Pipeline, StaticSource

    from md_orderml.engines.ovito import LABEL_PROPERTY, OrderMLModifier

    fcc = crystals[0]

    model = "classic"  # a global-unit model: open directions with vacuum are refused

    def pipeline_of(pbc):
        data = DataCollection()
        data.create_cell(np.column_stack([fcc.cell.T, np.zeros(3)]), pbc=pbc)
        data.create_particles(count=fcc.N).create_property("Position", data=fcc.positions)
        pipeline = Pipeline(source=StaticSource(data=data))
        pipeline.modifiers.append(OrderMLModifier(model=model))
        return pipeline

    out = pipeline_of((True, True, True)).compute()
    assert out.attributes["OrderML.fraction.fcc"] > 0.95
    assert "OrderML Probabilities" not in out.particles  # only on request
    assert LABEL_PROPERTY in out.particles
    with pytest.raises(Exception, match="open along x, y"):  # a wire: the length scale is not defined
        pipeline_of((False, False, True)).compute()
