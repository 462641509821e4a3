"""Any kind of particle system as a validated :class:`~md_orderml.frame.Frame` (freud's ``system`` argument).

:func:`as_frame` accepts, like freud's ``compute(system)``:

* a :class:`~md_orderml.frame.Frame` (returned as it is, validated);
* a ``(box, positions)`` tuple: ``box`` a :class:`~md_orderml.frame.Box`, a freud
  ``Box``, freud's ``[Lx, Ly, Lz, xy, xz, yz]`` (or ``[Lx, Ly, Lz]``; ``Lz = 0`` or
  ``[Lx, Ly]`` for 2D), or a 3x3 matrix whose *rows* are the lattice vectors (ASE's
  ``cell``, :attr:`Box.matrix`), spanning from the origin; positions (N, 3);
* a ``gsd.hoomd.Frame`` or a HOOMD-blue ``hoomd.Snapshot`` (fully periodic; type names
  from ``particles.types``);
* an ASE ``Atoms`` (cell, positions, ``pbc``; chemical symbols as type names);
* an OVITO ``DataCollection`` (cell, positions, particle types, ``cell.pbc``, 2D cells).

Every kind is recognised by its attributes, so none of gsd, hoomd, ase or ovito is
imported. A general cell is rotated, with the positions, into HOOMD's box convention
(the lattice is unchanged); positions are not wrapped. Which directions are periodic
is stored in :attr:`Box.periodic <md_orderml.frame.Box>`; a ``pbc`` argument overrides
what the system says.

Example:
    >>> import numpy as np
    >>> from md_orderml import structures
    >>> from md_orderml.system import as_frame
    >>> s = structures.crystal("fcc", min_width=6.0)
    >>> frame = as_frame((s.cell, s.positions))
    >>> frame.N, frame.box.periodic
    (500, (True, True, True))
    >>> as_frame(([10.0, 10.0, 10.0, 0, 0, 0], s.positions), pbc=(True, True, False)).box.periodic
    (True, True, False)
    >>> as_frame(("not a box", s.positions))
    Traceback (most recent call last):
    ...
    md_orderml.errors.InputError: (box, positions): box must be a Box, [Lx, Ly, Lz, xy, xz, yz], [Lx, Ly, Lz] or a 3x3 matrix of lattice vectors as rows; got 'not a box'
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame

AXES = "xyz"

SUPPORTED = ("a Frame, a (box, positions) tuple, a gsd.hoomd.Frame, a hoomd.Snapshot, "
             "an ase.Atoms or an ovito DataCollection")


def pbc_flags(pbc: Any, where: str = "pbc") -> Tuple[bool, bool, bool]:
    """Periodic flags as three bools; one bool means the same for every direction.

    Raises:
        InputError: Not one or three bools.
    """
    try:
        flags = np.asarray(pbc, dtype=object).reshape(-1)
    except ValueError:  # ragged
        flags = np.zeros(0)
    if len(flags) == 1:
        flags = np.repeat(flags, 3)
    if len(flags) != 3 or not all(isinstance(f, (bool, np.bool_)) for f in flags):
        raise InputError(f"{where}: pbc must be one or three bools (periodic x, y, z), got {pbc!r}")
    return tuple(bool(f) for f in flags)


def positions_array(positions: Any, where: str) -> np.ndarray:
    """Positions as a new float64 array of shape (N, 3).

    Raises:
        InputError: Not numbers, or not of shape (N, 3).
    """
    try:
        array = np.array(positions, dtype=np.float64)  # a copy: engines' arrays may be read-only views
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: positions must be an (N, 3) array of numbers ({err})") from None
    if array.ndim != 2 or array.shape[1] != 3:
        raise InputError(f"{where}: positions must have shape (N, 3), got {array.shape}")
    return array


def open_cell(cell: Any, periodic: Sequence[bool], positions: np.ndarray,
              origin: Any = (0.0, 0.0, 0.0)) -> Tuple[np.ndarray, np.ndarray]:
    """A cell with extent along open directions that have none: a cluster without a cell, a slab with ``c = 0``.

    An open direction whose lattice vector is zero gets one that spans the particles: with
    no lattice vector at all, the particles' axis-aligned bounding box; with the other two
    given, their normal, as long as the particles' extent along it. Either is widened by
    half a mean particle spacing on each side (so a flat or one-particle system has
    extent). Local-unit models label such systems whatever the open extent; global-unit
    models refuse them (see :func:`md_orderml.global_scale.frame_length_scale`).

    Args:
        cell: Lattice vectors as rows, shape (3, 3).
        periodic: Periodicity of each lattice direction, three bools.
        positions: Cartesian positions, shape (N, 3).
        origin: Corner of the cell, shape (3,).

    Returns:
        ``(cell, origin)``: shapes (3, 3) and (3,); unchanged when no open row is zero or
        when a row cannot be filled (one lattice vector only), which
        :func:`box_from_cell` then reports.
    """
    cell = np.array(cell, dtype=np.float64).reshape(3, 3)
    origin = np.array(origin, dtype=np.float64).reshape(3)
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    zero = [not np.linalg.norm(cell[d]) > 0 for d in range(3)]
    fill = [d for d in range(3) if zero[d] and not periodic[d]]
    if not fill or len(positions) == 0 or not np.isfinite(positions).all() or sum(zero) == 2:
        return cell, origin
    extent = np.ptp(positions, axis=0)
    size = max(float(extent.max()), 1.0 if not extent.max() > 0 else 0.0)
    spacing = float(np.prod(np.maximum(extent, size / len(positions) ** (1 / 3))) / len(positions)) ** (1 / 3)
    pad = 0.5 * spacing
    if sum(zero) == 3:
        if not all(not p for p in periodic):
            return cell, origin
        lo = positions.min(axis=0) - pad
        return np.diag(extent + 2.0 * pad), lo
    d = fill[0]
    normal = np.cross(cell[(d + 1) % 3], cell[(d + 2) % 3])
    if not np.linalg.norm(normal) > 0:
        return cell, origin
    normal /= np.linalg.norm(normal)
    heights = (positions - origin) @ normal
    cell[d] = normal * (float(np.ptp(heights)) + 2.0 * pad)
    return cell, origin + normal * (float(heights.min()) - pad)


def box_from_cell(cell: Any, periodic: Sequence[bool], origin: Any = (0.0, 0.0, 0.0), is2D: bool = False,
                  where: str = "system") -> Tuple[Box, Optional[np.ndarray]]:
    """A general cell in HOOMD's box convention, and the rotation that takes it there.

    A left-handed cell uses ``-a3`` (the same lattice; the origin moves by ``a3`` so the
    box covers the same region).

    Args:
        cell: Lattice vectors as rows, shape (3, 3), any orientation.
        periodic: Periodicity of each lattice direction, three bools.
        origin: Corner of the cell, shape (3,).
        is2D: A two-dimensional system.
        where: Source description for error messages.

    Returns:
        ``(box, rotation)``: rotated positions are ``positions @ rotation`` (a proper
        rotation, shape (3, 3)); ``rotation`` is ``None`` when the cell already is in
        HOOMD's form (lower triangular, positive diagonal).

    Raises:
        InputError: A non-finite or degenerate cell (naming an open direction without extent).
    """
    cell = np.array(cell, dtype=np.float64)
    origin = np.array(origin, dtype=np.float64)
    if cell.shape != (3, 3) or not np.isfinite(cell).all() or not np.isfinite(origin).all():
        raise InputError(f"{where}: the cell must be a finite 3x3 matrix, got {cell.tolist()}")
    empty = [d for d in range(3) if not np.linalg.norm(cell[d]) > 0]
    if empty:
        d = empty[0]
        if not periodic[d]:
            raise InputError(f"{where}: the system is open along {AXES[d]} and its cell has no extent there; give "
                             "the cell at least two lattice vectors (or none, for a cluster)")
        raise InputError(f"{where}: lattice vector {d + 1} of the periodic cell is zero")
    if abs(np.linalg.det(cell)) <= 1e-12 * np.prod(np.linalg.norm(cell, axis=1)):
        raise InputError(f"{where}: the cell is degenerate (zero volume): {cell.tolist()}")
    if np.linalg.det(cell) < 0:
        origin, cell[2] = origin + cell[2], -cell[2]
    if cell[0, 1] == cell[0, 2] == cell[1, 2] == 0 and (np.diag(cell) > 0).all():
        rotation, low = None, cell
    else:
        q, r = np.linalg.qr(cell.T)
        sign = np.where(np.diag(r) < 0, -1.0, 1.0)
        rotation, low = q * sign, (sign[:, None] * r).T  # cell @ rotation == low
        origin = origin @ rotation
    box = Box(low[0, 0], low[1, 1], low[2, 2], xy=low[1, 0] / low[1, 1], xz=low[2, 0] / low[2, 2],
              yz=low[2, 1] / low[2, 2], is2D=is2D, origin=tuple(origin.tolist()), periodic=tuple(periodic))
    return box, rotation


def box_of(box: Any, where: str = "(box, positions)") -> Tuple[Box, Optional[np.ndarray]]:
    """A box given as a :class:`Box`, a freud ``Box``, a freud-style list or a 3x3 matrix (rows).

    Returns:
        ``(box, rotation)`` as :func:`box_from_cell` (``rotation`` is ``None`` unless a
        general matrix was given).
    """
    if isinstance(box, Box):
        return box, None
    if all(hasattr(box, name) for name in ("Lx", "Ly", "Lz", "xy", "xz", "yz", "is2D")):  # a freud Box
        values = [box.Lx, box.Ly, box.Lz, box.xy, box.xz, box.yz]
        periodic = pbc_flags(getattr(box, "periodic", True), where)
        return dataclasses.replace(Box.from_hoomd(values, is2D=bool(box.is2D)), periodic=periodic), None
    try:
        array = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.shape == (3, 3):
        return box_from_cell(array, (True, True, True), where=where)
    if array.shape in ((2,), (3,), (6,)) and np.isfinite(array).all():
        values = np.zeros(6)
        values[:len(array)] = array
        try:
            return Box.from_hoomd(values, is2D=len(array) == 2 or values[2] == 0), None
        except InputError as err:
            raise InputError(f"{where}: {err}") from None
    raise InputError(f"{where}: box must be a Box, [Lx, Ly, Lz, xy, xz, yz], [Lx, Ly, Lz] or a 3x3 matrix "
                     f"of lattice vectors as rows; got {box!r}"[:400])


def frame_from_box_positions(box: Any, positions: Any, where: str = "(box, positions)") -> Frame:
    """A one-type frame of a ``(box, positions)`` pair (see :func:`box_of`)."""
    frame_box, rotation = box_of(box, where)
    positions = positions_array(positions, where)
    if rotation is not None:
        positions = positions @ rotation
    return Frame(positions=positions, box=frame_box, source=where)


def frame_from_hoomd(snapshot: Any, where: str) -> Frame:
    """A frame of a ``gsd.hoomd.Frame`` or a ``hoomd.Snapshot`` (fully periodic HOOMD box)."""
    if not getattr(snapshot, "exists", True):
        raise InputError(f"{where}: this HOOMD snapshot holds no particle data on this MPI rank (only rank 0 "
                         "has it); use md_orderml.engines.hoomd.OrderMLWriter to label a running simulation")
    config, particles = snapshot.configuration, snapshot.particles
    n = int(particles.N or 0)
    try:
        values = np.asarray(config.box, dtype=np.float64).reshape(6)
        dimensions = getattr(config, "dimensions", None) or (2 if values[2] == 0 else 3)
        box = Box.from_hoomd(values, is2D=int(dimensions) == 2)
    except (InputError, ValueError, TypeError) as err:
        raise InputError(f"{where}: bad HOOMD box {config.box!r} ({err})") from None
    if n and particles.position is None:
        raise InputError(f"{where}: {n} particles but no positions")
    positions = positions_array(np.zeros((0, 3)) if n == 0 else particles.position, where)
    typeid = particles.typeid
    types = np.zeros(n, dtype=np.int32) if typeid is None or n == 0 else np.asarray(typeid).astype(np.int32)
    names = [str(t) for t in particles.types] if particles.types else ["A"]
    step = getattr(config, "step", None)
    return Frame(positions=positions, box=box, types=types, type_names=names,
                 step=None if step is None else int(step), source=where, native=snapshot)


def frame_from_ase(atoms: Any, where: str) -> Frame:
    """A frame of an ASE ``Atoms``: cell (rows), ``pbc``, chemical symbols as type names (sorted)."""
    periodic = pbc_flags(list(atoms.pbc), where)
    positions = positions_array(atoms.get_positions(), where)
    cell, origin = open_cell(np.asarray(atoms.get_cell()), periodic, positions)
    box, rotation = box_from_cell(cell, periodic, origin=origin, where=where)
    names, types = np.unique(np.asarray(atoms.get_chemical_symbols(), dtype=str), return_inverse=True)
    return Frame(positions=positions if rotation is None else positions @ rotation, box=box,
                 types=types.reshape(-1), type_names=[str(n) for n in names] or ["A"], source=where,
                 native=atoms)


def frame_from_ovito(data: Any, where: str) -> Frame:
    """A frame of an OVITO ``DataCollection``: cell (columns + origin), ``pbc``, 2D cells, particle types.

    Type names are the OVITO type names, or the numeric type ids as text where a type has
    no name (LAMMPS dumps: ``"1"``, ``"2"``, as the LAMMPS engine names them).
    """
    if data.particles is None or data.cell is None:
        raise InputError(f"{where}: the OVITO data collection has no particles or no simulation cell")
    cell = np.asarray(data.cell)
    periodic = pbc_flags(list(data.cell.pbc), where)
    positions = positions_array(data.particles.positions, where)
    vectors, origin = open_cell(cell[:, :3].T, periodic, positions, cell[:, 3])
    box, rotation = box_from_cell(vectors, periodic, origin=origin, is2D=bool(data.cell.is2D), where=where)
    type_property = data.particles.particle_types
    if type_property is None:
        types, names = np.zeros(len(positions), dtype=np.int32), ["A"]
    else:
        ids = np.asarray(type_property).astype(np.int64)
        known = {t.id: (t.name or str(t.id)) for t in type_property.types}
        for i in np.unique(ids):
            known.setdefault(int(i), str(int(i)))
        order = sorted(known)
        names = [known[i] for i in order]
        types = np.searchsorted(np.asarray(order), ids).astype(np.int32)
    return Frame(positions=positions if rotation is None else positions @ rotation, box=box, types=types,
                 type_names=names, source=where, native=data)


def as_frame(system: Any, pbc: Any = None) -> Frame:
    """Convert any supported system (see the module docstring) into a validated :class:`Frame`.

    Args:
        system: The configuration.
        pbc: Which lattice directions are periodic, one or three bools; ``None`` keeps what
            the system says (a ``(box, positions)`` tuple: all periodic unless its box is a
            :class:`Box` or freud ``Box`` with other flags).

    Returns:
        The frame, positions (N, 3) float64, with ``box.periodic`` set.

    Raises:
        InputError: Unknown system type, wrong shapes, NaN positions, a degenerate cell.
    """
    kind = type(system).__name__
    if isinstance(system, Frame):
        frame = system
    elif isinstance(system, (tuple, list)):
        if len(system) != 2:
            raise InputError(f"a system given as a tuple must be (box, positions), got {len(system)} items")
        frame = frame_from_box_positions(*system)
    elif hasattr(system, "get_chemical_symbols") and hasattr(system, "get_positions"):
        frame = frame_from_ase(system, f"ASE {kind}")
    elif hasattr(system, "configuration") and hasattr(system, "particles"):
        frame = frame_from_hoomd(system, f"HOOMD {kind}")
    elif hasattr(system, "particles") and hasattr(system, "cell"):
        frame = frame_from_ovito(system, f"OVITO {kind}")
    else:
        raise InputError(f"unknown system type {type(system).__module__}.{kind}; give {SUPPORTED}")
    if pbc is not None:
        frame = frame.replace(box=dataclasses.replace(frame.box, periodic=pbc_flags(pbc, frame.source)))
    return frame.validate()


def planar_frame(frame: Frame) -> Frame:
    """A 3D-labelled frame of a 2D system (e.g. a LAMMPS dump of a ``dimension 2`` run) as a 2D frame.

    Dumps do not say that a run was two-dimensional; a 2D model accepts their frames
    when every particle has the same z (up to 1e-6 of the box's x-y extent), and then
    ignores the (thin) z extent of the box.

    Raises:
        InputError: The positions are not planar.
    """
    import dataclasses

    z = frame.positions[:, 2] if frame.N else np.zeros(0)
    spread = float(np.ptp(z)) if len(z) else 0.0
    if not np.isfinite(spread) or spread > 1e-6 * max(frame.box.Lx, frame.box.Ly):
        raise InputError(f"{frame.source}: this 2D model needs planar frames, but z varies by {spread:.4g}; "
                         "give a 2D trajectory (LAMMPS dimension 2, HOOMD 2D)")
    if frame.box.xz or frame.box.yz:
        raise InputError(f"{frame.source}: this 2D model needs a box without xz/yz tilt")
    return frame.replace(box=dataclasses.replace(frame.box, is2D=True))
