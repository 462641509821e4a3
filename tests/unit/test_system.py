"""OrderML.compute(system): every kind of system, symmetries, periodic flags, bad input, results before compute."""

import dataclasses
import types

import numpy as np
import pytest

from md_orderml import keys, structures
from md_orderml.analysis import OrderML
from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame
from md_orderml.system import as_frame

RESULTS = ("labels", "confidence", "probabilities", "embedding", "fractions", "counts", "outputs")


@pytest.fixture(scope="module")
def clf(default_model_path):
    return OrderML(default_model_path)


@pytest.fixture(scope="module", params=["fcc", "bcc"])
def crystal(request):
    """A noisy, randomly rotated crystal (a general cell, not in HOOMD's form)."""
    return structures.crystal(request.param, noise=0.05, min_width=6.0, rotation="random", seed=7)


def reference(clf, crystal):
    out = clf.compute(crystal.to_frame()).outputs
    assert (clf.labels == clf.class_names.index(crystal.label)).mean() > 0.9  # the physics is right
    return out


def gsd_frame(frame: Frame):
    import gsd.hoomd

    snap = gsd.hoomd.Frame()
    snap.configuration.box = frame.box.to_hoomd()
    snap.particles.N = frame.N
    snap.particles.position = frame.box.wrap(frame.positions) - frame.box.corner - 0.5 * frame.box.matrix.sum(0)
    snap.particles.types = ["A"]
    snap.particles.typeid = np.zeros(frame.N, dtype=np.uint32)
    return snap


def hoomd_like_snapshot(frame: Frame, exists: bool = True):
    """What ``hoomd.Snapshot`` offers (HOOMD need not be installed)."""
    particles = types.SimpleNamespace(N=frame.N, position=frame.positions, typeid=frame.types, types=["A"])
    configuration = types.SimpleNamespace(box=frame.box.to_hoomd(), dimensions=3, step=17)
    return types.SimpleNamespace(configuration=configuration, particles=particles, exists=exists)


def ase_atoms(crystal, pbc=True):
    ase = pytest.importorskip("ase")
    return ase.Atoms(symbols=["Cu"] * crystal.N, positions=crystal.positions, cell=crystal.cell, pbc=pbc)


def ovito_data(crystal, pbc=(True, True, True)):
    pytest.importorskip("ovito", reason="OVITO is not installed (pip install ovito)")
    from ovito.data import DataCollection, ParticleType

    data = DataCollection()
    data.create_cell(np.column_stack([crystal.cell.T, [1.0, -2.0, 3.0]]), pbc=pbc)
    particles = data.create_particles(count=crystal.N)
    particles.create_property("Position", data=crystal.positions + [1.0, -2.0, 3.0])
    typed = particles.create_property("Particle Type", data=np.full(crystal.N, 3))
    typed.types.append(ParticleType(id=3, name="Cu"))
    return data


def systems(crystal):
    """Every supported kind of system holding ``crystal``."""
    frame = crystal.to_frame()
    freud = pytest.importorskip("freud")
    return {
        "frame": frame,
        "matrix": (crystal.cell, crystal.positions),
        "freud list": (frame.box.to_hoomd(), frame.positions),
        "Box": (frame.box, frame.positions),
        "freud Box": (freud.box.Box.from_box(frame.box.to_hoomd()), frame.positions),
        "gsd": gsd_frame(frame),
        "hoomd snapshot": hoomd_like_snapshot(frame),
        "ase": ase_atoms(crystal),
        "ovito": ovito_data(crystal),
    }


KINDS = ["frame", "matrix", "freud list", "Box", "freud Box", "gsd", "hoomd snapshot", "ase", "ovito"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_system_kind_gives_the_frames_labels(clf, crystal, kind):
    ref = reference(clf, crystal)
    clf.compute(systems(crystal)[kind])
    np.testing.assert_array_equal(clf.labels, ref[keys.LABEL])
    np.testing.assert_allclose(clf.probabilities, ref[keys.PROBABILITIES], atol=2e-5)


def test_rotated_translated_image_shifted_copy(clf, crystal):
    ref = reference(clf, crystal)
    rng = np.random.default_rng(11)
    rotation = structures.random_rotation(rng)
    images = rng.integers(-2, 3, size=(crystal.N, 3))
    positions = (crystal.positions + images @ crystal.cell) @ rotation.T + [5.0, -3.0, 0.7]
    moved = dataclasses.replace(crystal, positions=positions, cell=crystal.cell @ rotation.T)
    for system in ((moved.cell, moved.positions), ase_atoms(moved)):
        clf.compute(system)
        np.testing.assert_array_equal(clf.labels, ref[keys.LABEL])
        np.testing.assert_allclose(clf.probabilities, ref[keys.PROBABILITIES], atol=2e-5)


class RecordingModule:
    """Stands in for the TorchScript module and records the periodic flags it is given."""

    def __init__(self, module):
        self.module, self.pbc = module, []

    def __call__(self, positions, types, cell, pbc, owned, length_scale):
        self.pbc.append(tuple(pbc.tolist()))
        return self.module(positions, types, cell, pbc, owned, length_scale)


def test_pbc_flags_reach_the_model():
    crystal = structures.crystal("fcc", noise=0.04, min_width=6.0, seed=2)
    clf = OrderML("classic")  # a global-unit model: the recorder wraps only its forward
    recorder = clf.model.module = RecordingModule(clf.model.module)
    periodic = clf.compute((crystal.cell, crystal.positions)).embedding
    slab = clf.compute((crystal.cell, crystal.positions), pbc=(True, True, False)).embedding
    clf.compute(ase_atoms(crystal, pbc=[True, False, True]))
    clf.compute(dataclasses.replace(crystal.to_frame(), box=Box(*crystal.to_frame().box.to_hoomd(),
                                                                periodic=(False, True, True))))
    clf.compute(ovito_data(crystal, pbc=(True, False, True)), pbc=(True, True, True))  # the argument wins
    assert recorder.pbc == [(True, True, True), (True, True, False), (True, False, True), (False, True, True),
                            (True, True, True)]
    z = crystal.positions[:, 2]
    surface = (z < z.min() + 0.3) | (z > z.max() - 0.3)
    assert np.abs(slab - periodic)[surface].max() > 1.0  # the open surface changes the network's input


def test_open_directions_that_the_model_cannot_scale_are_refused():
    clf = OrderML("classic")  # global unit: clusters and vacuum are refused (local-unit models label them)
    crystal = structures.crystal("fcc", noise=0.04, min_width=6.0, seed=2)
    with pytest.raises(InputError, match="open along x, y.*clusters") as err:
        clf.compute((crystal.cell, crystal.positions), pbc=(False, False, True))
    assert "\n" not in str(err.value)
    vacuum = crystal.cell * [[1.0], [1.0], [1.6]]
    with pytest.raises(InputError, match="open along z, the particles span .* box that they fill") as err:
        clf.compute((vacuum, crystal.positions), pbc=(True, True, False))
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="open along x, y, z.*clusters"):  # a cluster without a cell: bounding box
        clf.compute(ase_atoms(dataclasses.replace(crystal, cell=np.zeros((3, 3))), pbc=False))
    wire = crystal.cell * [[0.0], [0.0], [1.0]]
    with pytest.raises(InputError, match="open along x and its cell has no extent"):
        clf.compute(ase_atoms(dataclasses.replace(crystal, cell=wire), pbc=(False, False, True)))


@pytest.mark.parametrize("system, pbc, message", [
    (object(), None, "unknown system type builtins.object; give a Frame"),
    ("fcc.xyz", None, "unknown system type builtins.str"),
    (([5.0, 5.0, 5.0], np.zeros((4, 2))), None, r"positions must have shape \(N, 3\), got \(4, 2\)"),
    (([5.0, 5.0, 5.0], [[0, 0, 0], [1, 1]]), None, r"positions must be an \(N, 3\) array of numbers"),
    (([5.0, 5.0, 5.0], [[0, 0, 0], [1, np.nan, 1]]), None, "particle 1 has a non-finite position"),
    (([5.0, 5.0, 5.0, 0.0], np.zeros((2, 3))), None, "box must be a Box"),
    ((np.eye(3) * [1, 1, 0], np.zeros((2, 3))), None, "lattice vector 3 of the periodic cell is zero"),
    ((np.ones((3, 3)), np.zeros((2, 3))), None, "degenerate"),
    (([5.0, 5.0, -5.0], np.zeros((2, 3))), None, "box length Lz=-5.0 must be finite and > 0"),
    (([5.0, 5.0, 5.0], np.zeros((2, 3)), 1), None, "must be \\(box, positions\\), got 3 items"),
    (([5.0, 5.0, 5.0], np.zeros((2, 3))), (True, False), "pbc must be one or three bools"),
    (([5.0, 5.0, 5.0], np.zeros((2, 3))), "yes", "pbc must be one or three bools"),
])
def test_bad_input_gives_one_line_input_error(clf, system, pbc, message):
    with pytest.raises(InputError, match=message) as err:
        clf.compute(system, pbc=pbc)
    assert "\n" not in str(err.value)


def test_snapshot_without_data_on_this_rank():
    frame = structures.crystal("sc", min_width=3.0).to_frame()
    with pytest.raises(InputError, match="no particle data on this MPI rank"):
        as_frame(hoomd_like_snapshot(frame, exists=False))
    converted = as_frame(hoomd_like_snapshot(frame))
    assert converted.step == 17 and converted.box.periodic == (True, True, True)


def test_ase_symbols_and_ovito_types_become_type_names():
    ase = pytest.importorskip("ase")
    crystal = structures.crystal("bcc", min_width=3.0)
    symbols = ["Fe", "Cr"] * (crystal.N // 2)
    frame = as_frame(ase.Atoms(symbols=symbols, positions=crystal.positions, cell=crystal.cell, pbc=True))
    assert [frame.type_names[t] for t in frame.types] == symbols
    data = ovito_data(crystal)
    data.particles_["Particle Type"][:2] = 5  # an id without a type entry: named by its number
    frame = as_frame(data)
    assert frame.type_names == ["Cu", "5"] and frame.types[:3].tolist() == [1, 1, 0]


def test_results_raise_attribute_error_before_compute(clf, default_model_path):
    fresh = OrderML(default_model_path)
    for name in RESULTS:
        with pytest.raises(AttributeError, match=f"OrderML.{name} is set by compute"):
            getattr(fresh, name)
        assert not hasattr(fresh, name)
    with pytest.raises(InputError, match="has no regression values"):
        fresh.values  # the wrong task is named first
    crystal = structures.crystal("fcc", min_width=6.0)
    outputs = fresh.compute((crystal.cell, crystal.positions)).outputs
    assert sorted(outputs) == sorted(keys.OUTPUT_KEYS)
    np.testing.assert_array_equal(outputs[keys.LABEL], fresh.labels)
    assert outputs[keys.PROBABILITIES].shape == (crystal.N, len(fresh.class_names))


def test_repr(clf, default_model_path):
    text = repr(clf)
    assert text == (f"OrderML(model={str(default_model_path)!r}, task='classification', "
                     f"classes={clf.class_names!r}, device='cpu')")
    assert "liquid" in text


def test_fully_periodic_length_scale_is_unchanged():
    """A global-unit model gets exactly (V / N)^(1/3) of the box for periodic systems (reference outputs rely on it)."""
    crystal = structures.crystal("hcp", noise=0.03, min_width=6.0, seed=1)
    frame = crystal.to_frame()
    clf = OrderML("classic")
    module, scales = clf.model.module, []

    def recording_module(positions, types_, cell, pbc, owned, length_scale):
        scales.append(length_scale)
        return module(positions, types_, cell, pbc, owned, length_scale)

    clf.model.module = recording_module
    clf.compute(frame)
    clf.compute((crystal.cell, crystal.positions), pbc=(True, True, False))  # a slab filling its box
    assert scales[0] == float((frame.box.volume / frame.N) ** (1.0 / 3.0))
    assert scales[1] == pytest.approx(scales[0], rel=1e-12)
