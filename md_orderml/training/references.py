"""Reference frames of user-defined classes (``md-orderml train --reference``), read and augmented.

A reference is written ``NAME=PATH[:frames=A:B][:types=T,...][:mask=FILE]``
(:func:`parse_reference`):

* ``NAME``: the class (everything before the first ``=``; letters, digits, ``_ . + -``;
  not ``unknown``, the label of the unknown rule).
* ``PATH``: a GSD, LAMMPS dump or (extended) XYZ file (:func:`md_orderml.io.open_trajectory`),
  or any other file ASE reads (CIF, POSCAR, ...: ``ase.io.read(PATH, index=":")``).
* ``frames=A:B``: the frames ``frames[A:B]`` (Python's slice: ``B`` excluded, negative
  numbers count from the end, either end may be left out); ``frames=A`` is frame ``A`` alone.
  Default: every frame.
* ``types=T,...``: only particles of these type names (the file's names: ``"1"``, ``"2"``
  in a LAMMPS dump, chemical symbols in a CIF).
* ``mask=FILE``: only the particles this file flags, as ``md-orderml label --mask`` reads it
  (:func:`md_orderml.labelling.read_mask`: one 0/1 or true/false per particle in file order,
  as text or ``.npy``), the same for every selected frame.

The selected particles are the class's examples; the others remain neighbours, unlabelled.
:func:`read_reference` reads them (one-line :class:`~md_orderml.errors.InputError` for a
missing or unreadable file, frames out of range, an unknown type, a mask of the wrong
length, an empty selection); :func:`augmented_samples` turns one frame into labelled graphs
in the local length unit (:func:`md_orderml.local_scale.spatially_sorted_local_graph`, the
exported model's own graph), one per noise level, each with

* a random rotation (positions and cell),
* a random strain: a uniform scale factor within ``1 +- jitter`` (an exact invariance of the
  local unit, kept so that nothing depends on it) times ``1 + e`` with a random symmetric
  ``e`` of standard deviation ``strain`` per component,
* Gaussian displacements of every particle with a standard deviation of the noise level
  times the frame's median nearest-neighbour distance.

Periodic cells narrower than :data:`MIN_WIDTH` local scales times the cutoff (a CIF's unit
cell) are replicated first, so the model's box-width check passes after augmentation.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from md_orderml.errors import InputError
from md_orderml.frame import Frame
from md_orderml.keys import UNKNOWN
from md_orderml.training.data import GraphSample

#: Periodic widths below this many cutoffs times the largest local scale are replicated.
MIN_WIDTH = 2.5
#: The options of a reference after its path.
OPTIONS = ("frames", "types", "mask")
SYNTAX = "NAME=PATH[:frames=A:B][:types=T,...][:mask=FILE]"
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
_FRAMES = re.compile(r"^(-?\d+)?(?:(:)(-?\d+)?)?$")


@dataclasses.dataclass(frozen=True)
class ReferenceSpec:
    """One ``--reference`` argument.

    Attributes:
        name: The class name.
        path: The file.
        frames: ``(start, stop)`` of the frame slice (``None`` ends: open), or ``None`` for all.
        types: Type names to keep, or ``None`` for all.
        mask: The mask file, or ``None``.
        text: The argument as given (for messages).
    """

    name: str
    path: str
    frames: Optional[Tuple[Optional[int], Optional[int]]] = None
    types: Optional[Tuple[str, ...]] = None
    mask: Optional[str] = None
    text: str = ""


@dataclasses.dataclass
class ReferenceFrame:
    """A frame of a reference and its selected particles.

    Attributes:
        frame: The frame (positions (N, 3), box, types).
        selected: The class's particles, shape (N,), bool.
        where: ``"<path>, frame <i>"`` for messages and the model file's record.
    """

    frame: Frame
    selected: np.ndarray
    where: str


def parse_reference(text: str) -> ReferenceSpec:
    """Parse ``NAME=PATH[:frames=A:B][:types=T,...][:mask=FILE]`` (see the module docstring).

    Raises:
        InputError: No ``=``, an empty or reserved name, an empty path, an unknown, repeated or
            malformed option.

    Example:
        >>> parse_reference("bcc=run.gsd:frames=2:4:types=A,B")
        ReferenceSpec(name='bcc', path='run.gsd', frames=(2, 4), types=('A', 'B'), mask=None, text='bcc=run.gsd:frames=2:4:types=A,B')
        >>> parse_reference("a15=a15.cif").frames is None
        True
    """
    name, sep, rest = str(text).partition("=")
    name = name.strip()
    where = f"--reference {text!r}"
    if not sep or not name or not rest:
        raise InputError(f"{where}: expected {SYNTAX}")
    if not _NAME.match(name):
        raise InputError(f"{where}: class name {name!r} may hold only letters, digits and _ . + -")
    if name == UNKNOWN:
        raise InputError(f"{where}: {UNKNOWN!r} is the label of the unknown rule, not a class to train")
    pieces = re.split(r":(?=(?:%s)=)" % "|".join(OPTIONS), rest)
    path, options = pieces[0], {}
    if not path:
        raise InputError(f"{where}: no file before the options; expected {SYNTAX}")
    for piece in pieces[1:]:
        key, _, value = piece.partition("=")
        if key in options:
            raise InputError(f"{where}: {key}= given twice")
        if not value:
            raise InputError(f"{where}: {key}= needs a value; expected {SYNTAX}")
        options[key] = value
    frames = _frame_slice(options["frames"], where) if "frames" in options else None
    types = None
    if "types" in options:
        types = tuple(t.strip() for t in options["types"].split(",") if t.strip())
        if not types:
            raise InputError(f"{where}: types= names no type")
    return ReferenceSpec(name, path, frames, types, options.get("mask"), str(text))


def _frame_slice(value: str, where: str) -> Tuple[Optional[int], Optional[int]]:
    """``(start, stop)`` of ``frames=A:B`` or ``frames=A`` (frame ``A`` alone)."""
    match = _FRAMES.match(value.strip())
    if not match or (match.group(1) is None and match.group(2) is None):
        raise InputError(f"{where}: frames={value!r} is not A:B or A (frame numbers from 0)")
    start = None if match.group(1) is None else int(match.group(1))
    if match.group(2):
        return start, None if match.group(3) is None else int(match.group(3))
    return start, (None if start == -1 else start + 1)


def read_frames(path: str, frames: Optional[Tuple[Optional[int], Optional[int]]], where: str) -> List[Frame]:
    """The frames ``frames`` (a slice, ``None``: all) of a trajectory or of a file ASE reads.

    Raises:
        InputError: A missing or unreadable file, a slice selecting no frame.
    """
    from md_orderml import io

    if not os.path.isfile(path):
        raise InputError(f"{where}: {path}: no such file")
    try:
        fmt = io.detect_format(path)
    except InputError:
        fmt = None
    try:
        if fmt is None:
            return _ase_frames(path, frames, where)
        chosen = chosen_frames(frames, io.count_frames(path, fmt), path, where)
        with io.open_trajectory(path, fmt, start=chosen.start, stop=chosen.stop) as trajectory:
            return list(trajectory)
    except InputError as err:
        message = str(err)
        raise InputError(message if message.startswith(where) else f"{where}: {message}") from None
    except Exception as err:  # a reader's own failure on a broken file
        raise InputError(f"{where}: {path}: cannot read ({type(err).__name__}: {_first_line(err)})") from None


def _ase_frames(path: str, frames, where: str) -> List[Frame]:
    """Frames of a file ASE reads (CIF, POSCAR, ...), converted by :func:`md_orderml.system.frame_from_ase`."""
    try:
        import ase.io
    except ImportError:
        raise InputError(f"{where}: {path} is no GSD, dump or XYZ file, and ASE (pip install ase) is not "
                         "installed to read other formats") from None
    try:
        images = ase.io.read(path, index=":")
    except Exception as err:
        raise InputError(f"{where}: {path}: cannot read ({type(err).__name__}: {_first_line(err)})") from None
    from md_orderml.system import frame_from_ase

    chosen = chosen_frames(frames, len(images), path, where)
    return [frame_from_ase(images[i], f"{path}, frame {i}") for i in chosen]


def chosen_frames(frames, count: int, path: str, where: str) -> range:
    """The frame indices of the slice ``frames`` (``None``: all) of a file of ``count`` frames.

    Raises:
        InputError: An end beyond the file's frames, or no frame selected.
    """
    start, stop = frames or (None, None)
    chosen = range(count)[slice(start, stop)]
    outside = [v for v in (start, stop) if v is not None and not -count <= v <= count]
    if outside or len(chosen) == 0 or (start is not None and stop is None and start >= count):
        raise InputError(f"{where}: frames={_slice_text(frames)} is outside the {count} frame(s) of {path} "
                         f"(frames 0 to {count - 1})")
    return chosen


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


def _slice_text(frames) -> str:
    start, stop = frames or (None, None)
    if start is not None and (stop == start + 1 or (start == -1 and stop is None)):
        return str(start)
    return f"{'' if start is None else start}:{'' if stop is None else stop}"


def read_reference(spec: ReferenceSpec) -> List[ReferenceFrame]:
    """Read a reference's frames and select its particles.

    Returns:
        One :class:`ReferenceFrame` per selected frame.

    Raises:
        InputError: A missing or unreadable file or mask, frames out of range, a 2D frame, an
            unknown type name, a mask of the wrong length, a frame whose selection is empty.
    """
    from md_orderml.labelling import Subset, read_mask

    where = f"--reference {spec.name}"
    frames = read_frames(spec.path, spec.frames, where)
    try:
        subset = Subset(types=spec.types or (), mask=read_mask(spec.mask) if spec.mask else None,
                        mask_source=spec.mask or "mask")
    except InputError as err:
        raise InputError(f"{where}: {err}") from None
    out = []
    for frame in frames:
        try:
            frame.validate()
            selected = subset.of(frame)
        except InputError as err:
            raise InputError(f"{where}: {err}") from None
        if frame.box.is2D:
            raise InputError(f"{where}: {frame.where}: two-dimensional frames are not supported")
        if not selected.any():
            raise InputError(f"{where}: {frame.where}: the selection ({_selection_text(spec)}) holds no particle")
        out.append(ReferenceFrame(frame, selected, frame.where))
    return out


def _selection_text(spec: ReferenceSpec) -> str:
    parts = ([f"types={','.join(spec.types)}"] if spec.types else []) + ([f"mask={spec.mask}"] if spec.mask else [])
    return ", ".join(parts) or "all particles"


@dataclasses.dataclass
class Geometry:
    """A frame as arrays, small periodic cells replicated.

    Attributes:
        positions: Shape (N, 3), float64.
        cell: Lattice vectors as rows, shape (3, 3).
        pbc: Periodic flags, shape (3,), bool.
        selected: Flags of the frame's selected particles, shape (N,), bool (replicated with them).
        image: Index of each particle in the unreplicated frame, shape (N,).
        nn_distance: Median nearest-neighbour distance.
    """

    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    selected: np.ndarray
    image: np.ndarray
    nn_distance: float


def geometry(reference: ReferenceFrame, cutoff: float) -> Geometry:
    """The arrays of a reference frame; periodic widths below ``MIN_WIDTH * cutoff`` local scales replicated.

    Raises:
        InputError: Particles at one point (no length scale).
    """
    from md_orderml.local_scale import local_length_scales

    frame = reference.frame
    positions, cell = frame.positions.copy(), frame.box.matrix.copy()
    pbc = np.asarray(frame.box.periodic, dtype=bool)
    as_torch = (torch.as_tensor(positions), torch.as_tensor(cell), torch.as_tensor(pbc))
    try:
        scales, _ = local_length_scales(*as_torch, 1.0)
        nearest, _ = local_length_scales(*as_torch, 1.0, rank=1, unit_distance=1.0)
    except ValueError as err:
        raise InputError(f"--reference: {reference.where}: {err}") from None
    widths = frame.box.widths
    reps = np.where(pbc, np.maximum(1, np.ceil(MIN_WIDTH * cutoff * float(scales.max()) / widths)), 1).astype(int)
    image = np.arange(frame.N)
    if (reps > 1).any():
        import itertools

        shifts = np.array(list(itertools.product(*(range(r) for r in reps))), dtype=float) @ cell
        positions = (positions[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
        image = np.tile(image, len(shifts))
        cell = cell * reps[:, None]
    return Geometry(positions, cell, pbc, reference.selected[image], image, float(np.median(nearest.numpy())))


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation matrix, shape (3, 3)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def augmented_samples(geo: Geometry, labels: np.ndarray, cutoff: float, noise_levels: Sequence[float],
                      rng: np.random.Generator, strain: float = 0.01, jitter: float = 0.05) -> List[GraphSample]:
    """Augmented graphs of one frame in the local length unit, one per noise level (see the module docstring).

    Args:
        geo: The frame (:func:`geometry`), N particles.
        labels: Class index per particle of ``geo``, -1 for unlabelled, shape (N,).
        cutoff: The model's dimensionless cutoff.
        noise_levels: The noise of each graph, fractions of ``geo.nn_distance``.
        rng: Random generator.
        strain: Standard deviation of each component of the random symmetric strain.
        jitter: Half-width of the uniform scale factor.

    Returns:
        ``len(noise_levels)`` graphs; their ``labels`` (N,) in the graphs' spatial order,
        ``noise`` the level.
    """
    from md_orderml.local_scale import spatially_sorted_local_graph

    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    types = torch.zeros(len(labels_t), dtype=torch.int64)
    out = []
    for level in noise_levels:
        e = rng.normal(0.0, strain, size=(3, 3))
        deform = float(rng.uniform(1.0 - jitter, 1.0 + jitter)) * (np.eye(3) + 0.5 * (e + e.T))
        transform = deform.T @ random_rotation(rng).T  # row vectors: x -> x F^T R^T
        positions = geo.positions + rng.normal(0.0, float(level) * geo.nn_distance, size=geo.positions.shape)
        positions, cell = positions @ transform, geo.cell @ transform
        hint = geo.nn_distance * float(np.linalg.det(deform)) ** (1.0 / 3.0)
        inverse, sorted_types, edge_index, edge_vec, _, _ = spatially_sorted_local_graph(
            torch.as_tensor(positions), types, torch.as_tensor(cell), torch.as_tensor(geo.pbc), hint, cutoff,
            torch.float32)
        sorted_labels = torch.empty_like(labels_t).index_copy_(0, inverse, labels_t)
        out.append(GraphSample(sorted_types, edge_index, edge_vec.float(), sorted_labels, noise=float(level)))
    return out


def validation_slab(geo: Geometry, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random slab holding ``fraction`` of the selected particles (at least one), shape (N,), bool.

    The slab lies across the cell's first periodic direction (a window of fractional
    coordinates, wrapping around), or across the longest extent of an open frame's selected
    particles.
    """
    periodic = np.flatnonzero(geo.pbc)
    chosen = geo.selected
    if len(periodic):
        u = (geo.positions @ np.linalg.inv(geo.cell))[:, int(periodic[0])] % 1.0
    else:
        centred = geo.positions - geo.positions[chosen].mean(axis=0)
        u = centred @ np.linalg.svd(centred[chosen], full_matrices=False)[2][0]
    values = np.sort(u[chosen])
    n = len(values)
    k = min(n, max(1, int(round(fraction * n))))
    if len(periodic):
        first = int(rng.integers(n))
        low, high = values[first], values[(first + k - 1) % n]
        return ((u - low) % 1.0) <= ((high - low) % 1.0)
    first = int(rng.integers(n - k + 1))
    return (u >= values[first]) & (u <= values[first + k - 1])
