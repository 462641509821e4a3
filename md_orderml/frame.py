"""One validated configuration: positions, types and a triclinic box (periodic by default).

The box follows HOOMD-blue's convention (``Lx, Ly, Lz, xy, xz, yz``): the lattice
vectors are the rows of :attr:`Box.matrix`::

    a1 = (Lx, 0, 0)
    a2 = (xy * Ly, Ly, 0)
    a3 = (xz * Lz, yz * Lz, Lz)

and the box spans ``origin + s1 a1 + s2 a2 + s3 a3`` for ``s`` in ``[0, 1)``. HOOMD
centres its boxes (``origin = -(a1 + a2 + a3) / 2``); LAMMPS puts the origin at
``(xlo, ylo, zlo)``. Neighbour searches do not depend on the origin; writers use it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import numpy as np

from md_orderml.errors import InputError


@dataclasses.dataclass(frozen=True)
class Box:
    """A triclinic simulation box in HOOMD-blue's convention.

    Attributes:
        Lx, Ly, Lz: Box lengths (``Lz`` is ignored in 2D but must be > 0).
        xy, xz, yz: Tilt factors (dimensionless, HOOMD-blue convention).
        is2D: True for a two-dimensional system (z components unused).
        origin: Corner of the box, shape (3,). ``None`` means centred at zero.
        periodic: Whether each lattice direction is periodic, three bools (as freud's
            ``Box.periodic``); default all. Open directions are not wrapped.

    Example:
        >>> box = Box(2.0, 3.0, 4.0, xy=0.5, periodic=(True, True, False))
        >>> box.matrix[1].tolist(), box.volume
        ([1.5, 3.0, 0.0], 24.0)
        >>> box.wrap([[2.5, 0.0, 9.0]]).tolist()  # z is open: not wrapped
        [[0.5, 0.0, 9.0]]
    """

    Lx: float
    Ly: float
    Lz: float
    xy: float = 0.0
    xz: float = 0.0
    yz: float = 0.0
    is2D: bool = False
    origin: Optional[tuple] = None
    periodic: tuple = (True, True, True)

    def __post_init__(self):
        periodic = tuple(bool(p) for p in np.asarray(self.periodic, dtype=bool).reshape(-1))
        if len(periodic) != 3:
            raise InputError(f"box periodic flags must be three bools, got {self.periodic!r}")
        object.__setattr__(self, "periodic", periodic)
        for name in ("Lx", "Ly", "Lz"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise InputError(f"box length {name}={value} must be finite and > 0")
        for name in ("xy", "xz", "yz"):
            if not np.isfinite(getattr(self, name)):
                raise InputError(f"box tilt {name} is not finite")

    @property
    def matrix(self) -> np.ndarray:
        """Lattice vectors as rows, shape (3, 3)."""
        return np.array(
            [
                [self.Lx, 0.0, 0.0],
                [self.xy * self.Ly, self.Ly, 0.0],
                [self.xz * self.Lz, self.yz * self.Lz, self.Lz],
            ]
        )

    @property
    def corner(self) -> np.ndarray:
        """The box origin (lowest corner), shape (3,)."""
        if self.origin is None:
            return -0.5 * self.matrix.sum(axis=0)
        return np.asarray(self.origin, dtype=float)

    @property
    def volume(self) -> float:
        """Volume (area in 2D) of the box."""
        return self.Lx * self.Ly if self.is2D else self.Lx * self.Ly * self.Lz

    @property
    def widths(self) -> np.ndarray:
        """Perpendicular distances between opposite faces, shape (3,)."""
        m = self.matrix
        vol = abs(np.linalg.det(m))
        a1, a2, a3 = m
        return np.array(
            [
                vol / np.linalg.norm(np.cross(a2, a3)),
                vol / np.linalg.norm(np.cross(a3, a1)),
                vol / np.linalg.norm(np.cross(a1, a2)),
            ]
        )

    def to_hoomd(self) -> list:
        """The box as HOOMD's ``[Lx, Ly, Lz, xy, xz, yz]``."""
        return [self.Lx, self.Ly, self.Lz, self.xy, self.xz, self.yz]

    @classmethod
    def from_hoomd(cls, box: Sequence[float], is2D: bool = False) -> "Box":
        """Build from HOOMD's ``[Lx, Ly, Lz, xy, xz, yz]`` (a GSD ``configuration/box``)."""
        Lx, Ly, Lz, xy, xz, yz = (float(v) for v in box)
        if is2D and Lz == 0:
            Lz = 1.0
        return cls(Lx, Ly, Lz, xy, xz, yz, is2D=is2D)

    @classmethod
    def from_lammps(
        cls,
        xlo: float,
        xhi: float,
        ylo: float,
        yhi: float,
        zlo: float,
        zhi: float,
        xy: float = 0.0,
        xz: float = 0.0,
        yz: float = 0.0,
    ) -> "Box":
        """Build from LAMMPS box bounds (``boxlo``/``boxhi``, not the dump's bounding box) and tilts.

        Args:
            xlo, xhi, ylo, yhi, zlo, zhi: Box bounds of the parallelepiped.
            xy, xz, yz: LAMMPS tilt lengths (not factors).
        """
        Lx, Ly, Lz = xhi - xlo, yhi - ylo, zhi - zlo
        return cls(Lx, Ly, Lz, xy / Ly, xz / Lz, yz / Lz, origin=(xlo, ylo, zlo))

    def to_lammps(self) -> dict:
        """Box bounds and tilt lengths as LAMMPS defines them."""
        lo = self.corner
        return dict(
            xlo=lo[0], xhi=lo[0] + self.Lx, ylo=lo[1], yhi=lo[1] + self.Ly,
            zlo=lo[2], zhi=lo[2] + self.Lz,
            xy=self.xy * self.Ly, xz=self.xz * self.Lz, yz=self.yz * self.Lz,
        )

    def fractional(self, positions: np.ndarray) -> np.ndarray:
        """Fractional coordinates relative to :attr:`corner`, shape (N, 3) from (N, 3)."""
        return (np.asarray(positions) - self.corner) @ np.linalg.inv(self.matrix)

    def wrap(self, positions: np.ndarray) -> np.ndarray:
        """Positions mapped into the box, shape (N, 3)."""
        s = self.fractional(positions)
        s -= np.floor(s) * np.asarray(self.periodic)
        if self.is2D:
            s[:, 2] = 0.5
        return s @ self.matrix + self.corner

    def scaled(self, factor: float) -> "Box":
        """This box uniformly rescaled by ``factor`` (about the origin)."""
        origin = None if self.origin is None else tuple(np.asarray(self.origin) * factor)
        return dataclasses.replace(
            self, Lx=self.Lx * factor, Ly=self.Ly * factor, Lz=self.Lz * factor, origin=origin
        )


@dataclasses.dataclass
class Frame:
    """One configuration of N particles.

    Attributes:
        positions: Cartesian positions, shape (N, 3), float64.
        box: The periodic :class:`Box`.
        types: Type index of each particle, shape (N,), int32.
        type_names: Name of each type index.
        step: Simulation time step, if known.
        source: Where the frame came from (``"file.gsd, frame 3"``), used in error messages.
        native: The reader's own record of the frame (a ``gsd.hoomd.Frame``, the dump's
            columns, ...), so writers can copy everything else through unchanged.
    """

    positions: np.ndarray
    box: Box
    types: Optional[np.ndarray] = None
    type_names: Sequence[str] = ("A",)
    step: Optional[int] = None
    source: str = "frame"
    native: Any = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.positions = np.ascontiguousarray(self.positions, dtype=np.float64)
        if self.types is None:
            self.types = np.zeros(len(self.positions), dtype=np.int32)
        self.types = np.ascontiguousarray(self.types, dtype=np.int32)
        self.type_names = list(self.type_names)

    @property
    def N(self) -> int:
        """Number of particles."""
        return int(self.positions.shape[0])

    @property
    def where(self) -> str:
        """:attr:`source` with the time step when known, for error messages:
        ``"traj.dump, frame 1 (timestep 1000)"``."""
        return self.source if self.step is None else f"{self.source} (timestep {int(self.step)})"

    def particle_name(self, i: int) -> str:
        """How error messages name particle ``i`` (0-based index in the frame): ``"particle 4
        (id 5)"`` when the reader knows the particles' ids (a LAMMPS dump's ``id`` column),
        else ``"particle 4"``."""
        ids = getattr(self.native, "ids", None)
        if ids is not None and len(ids) == self.N:
            return f"particle {i} (id {int(ids[i])})"
        return f"particle {i}"

    def validate(self, min_box_width: float = 0.0) -> "Frame":
        """Check the frame and raise :class:`InputError` with a one-line reason.

        Args:
            min_box_width: The smallest allowed perpendicular box width (2 x the
                model's absolute cutoff, for example).

        Returns:
            This frame.
        """
        where = self.where
        if self.positions.ndim != 2 or self.positions.shape[1] != 3:
            raise InputError(f"{where}: positions must have shape (N, 3), got {self.positions.shape}")
        if self.N == 0:
            raise InputError(f"{where}: the frame has no particles")
        bad = ~np.isfinite(self.positions).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{where}: {self.particle_name(i)} has a non-finite position {self.positions[i].tolist()}")
        if self.types.shape != (self.N,):
            raise InputError(f"{where}: {self.types.shape[0]} type ids for {self.N} particles")
        bad_type = (self.types < 0) | (self.types >= len(self.type_names))
        if bad_type.any():
            i = int(np.argmax(bad_type))
            raise InputError(
                f"{where}: {self.particle_name(i)} has type id {int(self.types[i])} but only "
                f"{len(self.type_names)} type names {self.type_names} are known"
            )
        periodic = np.asarray(self.box.periodic)
        widths = self.box.widths[:2][periodic[:2]] if self.box.is2D else self.box.widths[periodic]
        if min_box_width > 0 and len(widths) and widths.min() < min_box_width:
            raise InputError(
                f"{where}: box width {widths.min():.4g} is smaller than twice the model's cutoff "
                f"({min_box_width:.4g}); replicate the system or use a model with a shorter cutoff"
            )
        return self

    @property
    def number_density(self) -> float:
        """Particles per unit volume (area in 2D)."""
        return self.N / self.box.volume

    def replace(self, **changes) -> "Frame":
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)
