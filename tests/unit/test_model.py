"""The exported model: symmetries, export fidelity, ghosts, and model-file errors."""

import json
import zipfile

import numpy as np
import pytest
import torch

from md_orderml import keys, structures
from md_orderml.analysis import OrderML, length_scale_of
from md_orderml.errors import InputError, ModelFileError
from md_orderml.model_file import load_model, read_metadata


def _run(module, positions, cell, pbc=(True, True, True), owned=None, scale=None):
    n = len(positions)
    owned = np.ones(n, bool) if owned is None else owned
    scale = length_scale_of(abs(np.linalg.det(cell)), int(owned.sum())) if scale is None else scale
    with torch.inference_mode():
        out = module(
            torch.as_tensor(positions, dtype=torch.float64), torch.zeros(n, dtype=torch.int64),
            torch.as_tensor(cell, dtype=torch.float64), torch.tensor(pbc), torch.as_tensor(owned), scale,
        )
    return {k: v.numpy() for k, v in out.items()}


@pytest.fixture(scope="module")
def noisy_fcc():
    return structures.crystal("fcc", noise=0.05, seed=3)


@pytest.fixture(scope="module")
def scripted(untrained_model_path):
    return load_model(untrained_model_path).module


def test_rotation_translation_permutation_images_rescaling(scripted, noisy_fcc):
    s = noisy_fcc
    ref = _run(scripted, s.positions, s.cell)
    rng = np.random.default_rng(0)
    rot = structures.random_rotation(rng)
    out = _run(scripted, s.positions @ rot.T, s.cell @ rot.T)
    np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES], atol=2e-5)
    out = _run(scripted, s.positions + np.array([3.3, -1.7, 11.1]), s.cell)
    np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES], atol=2e-5)
    perm = rng.permutation(len(s.positions))
    out = _run(scripted, s.positions[perm], s.cell)
    np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES][perm], atol=2e-5)
    images = rng.integers(-3, 4, size=(len(s.positions), 3))
    out = _run(scripted, s.positions + images @ s.cell, s.cell)
    np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES], atol=2e-5)
    out = _run(scripted, s.positions * 3.615, s.cell * 3.615)
    np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES], atol=2e-5)
    assert (out[keys.LABEL] == ref[keys.LABEL]).all()


def test_exported_equals_eager(untrained_model_path, noisy_fcc):
    from md_orderml.nn.backbone import EquivariantBackbone
    from md_orderml.nn.labeler import StructureLabeler

    scripted = load_model(untrained_model_path).module
    eager = StructureLabeler(EquivariantBackbone(1.6, {"features": 32, "channels": 8}), 7)
    # a scripted module lists non-persistent buffers (harmonic coefficients, row
    # bookkeeping) in its state dict too; every key the eager model needs must be there
    wanted = eager.state_dict()
    eager.load_state_dict({k: v for k, v in scripted.state_dict().items() if k in wanted})
    eager.eval()
    s = noisy_fcc
    a = _run(scripted, s.positions, s.cell)
    b = _run(eager, s.positions, s.cell)
    for key in keys.OUTPUT_KEYS:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6)


def test_owned_with_ghosts_equals_periodic(scripted, untrained_model_path):
    """What an MPI rank sees: a piece of the system plus ghosts, no periodicity."""
    s = structures.crystal("bcc", noise=0.06, min_width=7.0, seed=4)
    ref = _run(scripted, s.positions, s.cell)
    meta = read_metadata(untrained_model_path)
    scale = length_scale_of(abs(np.linalg.det(s.cell)), len(s.positions))
    reach = meta["receptive_field"] * scale * 1.05
    frac = s.positions @ np.linalg.inv(s.cell)
    frac -= np.floor(frac)
    owned_mask = frac[:, 0] < 0.5  # this "rank" owns half of the box along a1
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    images = (frac[None] + shifts[:, None]).reshape(-1, 3)
    index = np.tile(np.arange(len(frac)), len(shifts))
    is_original = np.repeat((shifts == 0).all(1), len(frac))
    local = images @ s.cell
    width = s.cell[0]  # distance test in fractional units along each axis is enough here
    lo, hi = -reach / np.linalg.norm(width), 0.5 + reach / np.linalg.norm(width)
    inside = (images[:, 0] > lo) & (images[:, 0] < hi)
    keep = inside
    owned = is_original[keep] & owned_mask[index[keep]]
    out = _run(scripted, local[keep], np.zeros((3, 3)), (False, False, False), owned, scale)
    np.testing.assert_allclose(out[keys.PROBABILITIES], ref[keys.PROBABILITIES][index[keep][owned]], atol=2e-5)


def test_classifier_frame_api_and_bad_frames(untrained_model_path, noisy_fcc):
    clf = OrderML(untrained_model_path)
    frame = noisy_fcc.to_frame()
    clf.compute(frame)
    assert clf.labels.shape == (frame.N,)
    assert clf.probabilities.shape == (frame.N, 7)
    assert abs(sum(clf.fractions.values()) - 1) < 1e-9
    bad = frame.replace(positions=frame.positions.copy())
    bad.positions[17, 1] = np.nan
    with pytest.raises(InputError, match="particle 17 has a non-finite position"):
        clf.compute(bad)
    with pytest.raises(InputError, match="no particles"):
        clf.compute(frame.replace(positions=np.zeros((0, 3)), types=np.zeros(0, np.int32)))
    small = structures.crystal("fcc", min_width=2.0, seed=0).to_frame()
    with pytest.raises(InputError, match="smaller than twice the model's cutoff"):
        clf.compute(small)


def test_typed_model_rejects_unknown_type(untrained_model_path, noisy_fcc):
    clf = OrderML(untrained_model_path)
    clf.model.metadata["type_names"] = ["Cu"]
    frame = noisy_fcc.to_frame()
    frame.type_names = ["Cu", "Zr"]
    frame.types[5] = 1
    with pytest.raises(InputError, match="particle 5 has type 'Zr' unknown to the model"):
        clf.compute(frame)


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_model_file_errors(tmp_path, untrained_model_path):
    with pytest.raises(ModelFileError, match="not found") as err:
        load_model(tmp_path / "missing.pt")
    _one_line(err)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a model" * 100)
    with pytest.raises(ModelFileError, match="corrupted or foreign") as err:
        load_model(junk)
    _one_line(err)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(untrained_model_path.read_bytes()[:5000])
    with pytest.raises(ModelFileError) as err:
        load_model(truncated)
    _one_line(err)
    foreign = tmp_path / "foreign.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(foreign))
    with pytest.raises(ModelFileError, match="not an md_orderml model file") as err:
        load_model(foreign)
    _one_line(err)
    newer = tmp_path / "newer.pt"
    with zipfile.ZipFile(untrained_model_path) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith(keys.METADATA_FILE):
                meta = json.loads(data)
                meta["format_version"] = keys.FORMAT_VERSION + 1
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    with pytest.raises(ModelFileError, match="newer than this md_orderml supports") as err:
        load_model(newer)
    _one_line(err)


def test_metadata_inside_file(untrained_model_path):
    meta = read_metadata(untrained_model_path)
    assert meta["format"] == keys.FORMAT_NAME
    assert meta["class_names"][0] == "fcc"
    assert meta["receptive_field"] == pytest.approx(2 * 1.6)
    assert meta["length_scale"] == "number_density"
