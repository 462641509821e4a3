"""LAMMPS text dumps (``dump atom`` / ``dump custom``): a streaming reader and a writer of per-particle outputs.

Boxes: orthogonal (``ITEM: BOX BOUNDS pp pp pp``), restricted triclinic whose three
lines hold the *bounding box* and the tilts (``ITEM: BOX BOUNDS xy xz yz pp pp pp``),
and general triclinic (``ITEM: BOX BOUNDS abc origin``, rotated into restricted form).
Coordinates come from ``x y z``, ``xu yu zu``, ``xs ys zs`` or ``xsu ysu zsu``.

Periodicity: the boundary flags of ``ITEM: BOX BOUNDS`` (LAMMPS ``boundary``) set
:attr:`Box.periodic <md_orderml.frame.Box>` per direction: ``pp`` is periodic; ``ff``,
``ss``, ``mm`` and mixed pairs such as ``fs`` or ``sm`` are open. A header without flags
(old dumps) means periodic. A reader's ``pbc=`` argument (``md-orderml label --pbc``)
overrides them. The writer writes the frame's flags (open directions as ``ff`` unless the
copied header already says which open style), so they survive a round trip.

The writer adds one header section before ``ITEM: ATOMS`` (:data:`HEADER_ITEM`)::

    ITEM: MD_ORDERML
    class_names fcc bcc ... unknown        (regression models: value_names ...)
    model_sha256 <64 hex digits>           (when the model file is known)

OVITO, ASE and this reader skip sections they do not know; readers that expect exactly
TIMESTEP, NUMBER OF ATOMS, BOX BOUNDS and ATOMS in fixed lines (LAMMPS ``read_dump`` and
``rerun``, MDAnalysis) do not: label a copy, or read the labels with one of the former.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Iterator, List, Mapping, Optional, Tuple

import numpy as np

from md_orderml import keys
from md_orderml.errors import InputError
from md_orderml.frame import Box, Frame
from md_orderml.io import _common
from md_orderml.io._common import (
    ALL_FRAMES, BOUNDS_WORDS, FrameSelection, ReadGuard, boundary_flags, bounding_box_lines, bounds_text,
    box_from_vectors, open_text, periodic_of_codes, unchanged_native,
)
from md_orderml.io.writer import TextOutputWriter, text_cells

#: Coordinate column sets in order of preference, with whether they are scaled.
COORDINATE_SETS = ((("x", "y", "z"), False), (("xu", "yu", "zu"), False),
                   (("xs", "ys", "zs"), True), (("xsu", "ysu", "zsu"), True))
TIMESTEP_MARK = b"ITEM: TIMESTEP"
#: The header section the writer adds: the class (value) names and the model file's SHA-256.
HEADER_ITEM = "ITEM: MD_ORDERML"
LEGACY_COLUMNS = ("id", "type", "xs", "ys", "zs", "ix", "iy", "iz")


@dataclasses.dataclass
class DumpRecord:
    """The reader's record of one dump snapshot (:attr:`Frame.native`).

    Attributes:
        items: Header sections before ``ITEM: ATOMS`` in file order, each
            ``(item_line, body_lines)``, e.g. ``("ITEM: TIMESTEP", ["100"])``.
        columns: Names of the ``ITEM: ATOMS`` columns.
        text: The N atom lines exactly as read (newline separated).
        ids: The ``id`` column, shape (N,) int64, or ``None``.
        positions: The positions given to the :class:`Frame` (to detect edits).
        rotation: Rotation applied to general triclinic coordinates, (3, 3) or ``None``.
    """

    items: List[Tuple[str, List[str]]]
    columns: List[str]
    text: str
    ids: Optional[np.ndarray] = None
    positions: Optional[np.ndarray] = dataclasses.field(default=None, repr=False)
    rotation: Optional[np.ndarray] = None

    @property
    def lines(self) -> List[str]:
        """The atom lines, without newlines."""
        return self.text.splitlines()

    @property
    def md_orderml_header(self) -> dict:
        """The writer's :data:`HEADER_ITEM` section as ``{key: [words]}``, e.g.
        ``{"class_names": ["fcc", "liquid"], "model_sha256": ["9f2c..."]}`` (empty when absent)."""
        for head, body in self.items:
            if head == HEADER_ITEM:
                return {line.split()[0]: line.split()[1:] for line in body if line.split()}
        return {}

    def column(self, name: str) -> np.ndarray:
        """One column as float64 (str when not numeric), shape (N,)."""
        j = self.columns.index(name)
        values = self.text.split()[j::len(self.columns)]
        try:
            return np.array(values, dtype=np.float64)
        except ValueError:
            return np.array(values, dtype=str)


class _Lines:
    """A line reader that counts lines (for error messages)."""

    def __init__(self, fh):
        self.fh, self.lineno = fh, 0

    def next(self) -> Optional[str]:
        line = self.fh.readline()
        if not line:
            return None
        self.lineno += 1
        return line


def _read_header(lines: _Lines, where: str, previous: Optional[str]):
    """Read the items of one snapshot up to and including ``ITEM: ATOMS``; None at EOF."""
    items = []
    line = lines.next()
    while line is not None and not line.strip():
        line = lines.next()
    if line is None:
        return None
    if previous is not None and not line.startswith("ITEM:"):
        raise InputError(f"{previous} (line {lines.lineno}): more atom lines than NUMBER OF ATOMS, "
                         f"or a garbled line {line.strip()[:60]!r}")
    while True:
        if line is None:
            raise InputError(f"{where}: the file ends before 'ITEM: ATOMS' (truncated?)")
        head = line.strip()
        if not head.startswith("ITEM:"):
            hint = " (an XYZ file? name it .xyz or pass --format xyz)" if head.split()[:1] and head.split()[0].isdigit() else ""
            raise InputError(f"{where} (line {lines.lineno}): expected an 'ITEM:' line, found {head[:60]!r}{hint}")
        if head.startswith("ITEM: ATOMS"):
            return items, head[len("ITEM: ATOMS"):].split()
        body = []
        line = lines.next()
        while line is not None and not line.startswith("ITEM:"):
            if line.strip():
                body.append(line.strip())
            line = lines.next()
        items.append((head, body))


def _item(items, name: str, where: str):
    for head, body in items:
        if head == "ITEM: " + name or head.startswith("ITEM: " + name + " "):
            return head, body
    raise InputError(f"{where}: the snapshot has no 'ITEM: {name}' section")


def _header_numbers(items, where: str):
    """Timestep, atom count and (box, rotation) from the header items (the box has the file's flags)."""
    try:
        step = int(_item(items, "TIMESTEP", where)[1][0].split()[0])
        n = int(_item(items, "NUMBER OF ATOMS", where)[1][0])
    except (IndexError, ValueError):
        raise InputError(f"{where}: bad TIMESTEP or NUMBER OF ATOMS value") from None
    if n < 0:
        raise InputError(f"{where}: negative number of atoms {n}")
    head, body = _item(items, "BOX BOUNDS", where)
    periodic = periodic_of_codes(boundary_flags(head, where))
    try:
        rows = [[float(v) for v in line.split()] for line in body]
    except ValueError:
        raise InputError(f"{where}: non-numeric BOX BOUNDS value") from None
    try:
        if "abc origin" in head:
            if len(rows) != 3 or any(len(r) != 4 for r in rows):
                raise InputError("'BOX BOUNDS abc origin' needs 3 lines of 4 numbers")
            m = np.array(rows)
            box, rotation = box_from_vectors(m[0, :3], m[1, :3], m[2, :3], m[:, 3])
            return step, n, dataclasses.replace(box, periodic=periodic), rotation
        if len(rows) != 3 or any(len(r) not in (2, 3) for r in rows):
            raise InputError("'BOX BOUNDS' needs 3 lines of 2 (or 3 with tilts) numbers")
        (xlo, xhi, *t0), (ylo, yhi, *t1), (zlo, zhi, *t2) = rows
        xy, xz, yz = (t[0] if t else 0.0 for t in (t0, t1, t2))
        # Triclinic dumps give the bounding box; undo it (LAMMPS dump docs).
        xlo -= min(0.0, xy, xz, xy + xz)
        xhi -= max(0.0, xy, xz, xy + xz)
        ylo -= min(0.0, yz)
        yhi -= max(0.0, yz)
        box = Box.from_lammps(xlo, xhi, ylo, yhi, zlo, zhi, xy, xz, yz)
        return step, n, dataclasses.replace(box, periodic=periodic), None
    except InputError as err:
        raise InputError(f"{where}: {err}") from None


def _parse_atoms(text: str, columns: List[str], n: int, where: str, first_line: int):
    """Split the atom block into column tokens, checking the table shape."""
    ncol = len(columns)
    tokens = text.split()
    if len(tokens) != n * ncol:
        for i, line in enumerate(text.splitlines()):
            if len(line.split()) != ncol:
                raise InputError(f"{where}, particle {i} (line {first_line + i}): expected {ncol} "
                                 f"columns ({' '.join(columns)}), found {len(line.split())}")
        raise InputError(f"{where}: the atom table has {len(tokens)} values, expected {n} x {ncol}")
    return tokens


def _numeric(tokens, j: int, ncol: int, name: str, where: str, first_line: int, dtype=np.float64):
    values = tokens[j::ncol]
    try:
        return np.array(values, dtype=np.float64).astype(dtype, copy=False)
    except ValueError:
        for i, v in enumerate(values):
            try:
                float(v)
            except ValueError:
                raise InputError(f"{where}, particle {i} (line {first_line + i}): column {name!r} "
                                 f"value {v!r} is not a number") from None
        raise


def _types(tokens, columns, where, first_line) -> Tuple[np.ndarray, list]:
    """Type index per particle (N,) and type names from ``type`` and/or ``element``."""
    ncol = len(columns)
    element = tokens[columns.index("element")::ncol] if "element" in columns else None
    if "type" in columns:
        raw = tokens[columns.index("type")::ncol]
        try:
            numbers = np.array(raw, dtype=np.int64)
        except ValueError:  # type labels (strings)
            numbers = None
        if numbers is not None:
            if len(numbers) and numbers.min() < 1:
                i = int(np.argmin(numbers))
                raise InputError(f"{where}, particle {i} (line {first_line + i}): type {numbers[i]} < 1")
            ntypes = int(numbers.max()) if len(numbers) else 1
            names = [str(t) for t in range(1, ntypes + 1)]
            if element is not None:
                for t, e in zip(numbers.tolist(), element):
                    names[t - 1] = e
            return (numbers - 1).astype(np.int32), names
        element = raw if element is None else element  # type labels as strings
    if element is None:
        return np.zeros(len(tokens) // ncol, dtype=np.int32), ["1"]
    names, index = _common.type_names_from_labels(element)
    return index, names


def _positions(tokens, columns, box: Box, rotation, where, first_line) -> np.ndarray:
    ncol = len(columns)
    for names, scaled in COORDINATE_SETS:
        if all(c in columns for c in names):
            xyz = np.stack([_numeric(tokens, columns.index(c), ncol, c, where, first_line)
                            for c in names], axis=1)
            if scaled:
                return box.corner + xyz @ box.matrix
            return _common.rotate_positions(xyz, rotation, box.corner)
    raise InputError(f"{where}: no coordinate columns among {' '.join(columns)}; "
                     "expected x y z, xu yu zu, xs ys zs or xsu ysu zsu")


def iter_dump(path: str, keep: FrameSelection = ALL_FRAMES, dimensions: Optional[int] = None,
              pbc: Optional[Tuple[bool, bool, bool]] = None) -> Iterator[Frame]:
    """Yield the snapshots of a LAMMPS text dump one at a time, in file particle order.

    Args:
        path: The dump file (``.gz`` is decompressed on the fly).
        keep: Which snapshots to yield; the others are skipped unparsed, and reading
            stops after the last selected one.
        dimensions: 2 to label the frames as two-dimensional (dumps do not say);
            ``None`` or 3 for 3D.
        pbc: Periodic flags (x, y, z) instead of the ``BOX BOUNDS`` flags (``None``: the file's).

    Yields:
        :class:`Frame` with positions (N, 3), types (N,) and type names (``"1"``,
        ``"2"``... or the ``element`` column), box, ``step`` and ``native`` =
        :class:`DumpRecord`.

    Raises:
        InputError: Missing file, truncated or garbled snapshot, unknown columns.
    """
    with open_text(path) as fh, ReadGuard(path, "a LAMMPS text dump") as guard:
        lines = _Lines(fh)
        for index in itertools.count():
            if keep.done(index):
                return
            where = guard.where = f"{path}, frame {index}"
            header = _read_header(lines, where, f"{path}, frame {index - 1}" if index else None)
            if header is None:
                return
            items, columns = header
            step, n, box, rotation = _header_numbers(items, where)
            first_line = lines.lineno + 1
            block = list(itertools.islice(fh, n))
            lines.lineno += len(block)
            if len(block) < n:
                raise InputError(f"{where}: expected {n} atom lines, found {len(block)} (file truncated?)")
            if not keep(index):
                continue
            if not columns:  # old dumps: a bare "ITEM: ATOMS" means id type xs ys zs [ix iy iz]
                ncol = len(block[0].split()) if block else 5
                if ncol not in (5, 8):
                    raise InputError(f"{where}: 'ITEM: ATOMS' names no columns and the {ncol} values "
                                     "per line are not the old 'id type xs ys zs [ix iy iz]' layout")
                columns = list(LEGACY_COLUMNS[:ncol])
            text = "".join(block)
            tokens = _parse_atoms(text, columns, n, where, first_line)
            positions = _positions(tokens, columns, box, rotation, where, first_line)
            types, type_names = _types(tokens, columns, where, first_line)
            ids = (_numeric(tokens, columns.index("id"), len(columns), "id", where, first_line, np.int64)
                   if "id" in columns else None)
            if dimensions == 2:
                box = dataclasses.replace(box, is2D=True)
            if pbc is not None:
                box = dataclasses.replace(box, periodic=tuple(pbc))
            record = DumpRecord(items=items, columns=columns, text=text.rstrip("\n"), ids=ids,
                                positions=positions, rotation=rotation)
            yield Frame(positions=positions, box=box, types=types, type_names=type_names,
                        step=step, source=where, native=record)


def count_dump(path: str) -> int:
    """Number of snapshots in a dump: counts ``ITEM: TIMESTEP`` lines in raw bytes."""
    import gzip

    _common.check_exists(path)
    opener = gzip.open if path.endswith(".gz") else open
    count, tail, overlap = 0, b"", len(TIMESTEP_MARK) - 1
    with opener(path, "rb") as fh, ReadGuard(path, "a LAMMPS text dump"):
        while True:
            chunk = fh.read(1 << 22)
            if not chunk:
                return count
            data = tail + chunk
            count += data.count(TIMESTEP_MARK)
            tail = data[-overlap:]  # a mark split across chunks is found once, in the next data


def _bounds_head(head: str, frame: Frame) -> str:
    """A copied ``ITEM: BOX BOUNDS`` line with the frame's periodic flags (unchanged where they agree)."""
    codes = boundary_flags(head, frame.where)
    if periodic_of_codes(codes) == frame.box.periodic:
        return head
    words = [w for w in head[len("ITEM: BOX BOUNDS"):].split() if w in BOUNDS_WORDS]
    return " ".join(["ITEM: BOX BOUNDS", *words, bounds_text(frame.box.periodic, codes)])


def _fresh_table(frame: Frame) -> Tuple[List[str], List[str]]:
    """``id type [element] x y z`` columns and rows for a frame from another format."""
    default_names = [str(i) for i in range(1, len(frame.type_names) + 1)]
    with_element = list(frame.type_names) != default_names
    columns = ["id", "type"] + (["element"] if with_element else []) + ["x", "y", "z"]
    names = list(frame.type_names)
    rows = []
    for i, (t, p) in enumerate(zip(frame.types.tolist(), frame.positions.tolist())):
        element = f" {names[t]}" if with_element else ""
        rows.append(f"{i + 1} {t + 1}{element} {p[0]:.9g} {p[1]:.9g} {p[2]:.9g}")
    return columns, rows


#: Dump column name(s) of each per-particle output (see :meth:`OutputSpec.expand
#: <md_orderml.outputs.OutputSpec.expand>`).
DUMP_COLUMNS = {keys.LABEL: "orderml_label", keys.CONFIDENCE: "orderml_conf",
                keys.PROBABILITIES: "orderml_p{index}", keys.VALUES: "orderml_{name}"}


class DumpWriter(TextOutputWriter):
    """Write frames with their per-particle outputs as a LAMMPS text dump (atomically; see :class:`AtomicFile`).

    A frame read from a dump keeps its header and columns; other frames get a fresh
    ``id type [element] x y z`` table. ``ITEM: BOX BOUNDS`` holds the frame's periodic
    flags (``pp`` periodic, ``ff`` open; a copied header keeps its own codes where they agree). Columns are appended per stored output
    (:data:`DUMP_COLUMNS`): ``orderml_label orderml_conf`` and, with probabilities,
    ``orderml_p0 ... orderml_p{C-1}``; regression models ``orderml_<value name>`` per
    value. Old ``orderml_*`` columns are replaced. Before ``ITEM: ATOMS`` goes the
    :data:`HEADER_ITEM` section with the class (value) names and the model file's
    SHA-256 (see the module docstring); an old one is replaced.

    Args:
        path: Output dump file.
        spec: The model's outputs (see :class:`~md_orderml.io.writer.OutputWriter`).
        write_probabilities: Also write the probability columns.
    """

    def _table(self, frame):
        """``(header lines, columns, atom rows)`` of a frame without ``orderml_*`` columns."""
        record = unchanged_native(frame, DumpRecord)
        if record is not None:
            header = []
            for head, body in record.items:
                if head.startswith("ITEM: BOX BOUNDS"):
                    head = _bounds_head(head, frame)
                if head != HEADER_ITEM:
                    header.append(head)
                    header.extend(body)
            columns, rows = list(record.columns), record.lines
            old = [j for j, c in enumerate(columns) if c.startswith(_common.COLUMN_PREFIX)]
            if old:
                rows = _common.drop_columns(rows, old)
                columns = [c for c in columns if not c.startswith(_common.COLUMN_PREFIX)]
        else:
            header = ["ITEM: TIMESTEP", str(frame.step or 0), "ITEM: NUMBER OF ATOMS", str(frame.N)]
            header += bounding_box_lines(frame.box, bounds_text(frame.box.periodic))
            columns, rows = _fresh_table(frame)
        return header, columns, rows

    def _write(self, frame: Frame, arrays: Mapping[str, np.ndarray], index: int) -> None:
        header, columns, rows = self._table(frame)
        extra = [name for key in self.keys for name, _ in self.spec.expand(key, DUMP_COLUMNS[key])]
        names = " ".join(re.sub(r"\s", "_", str(n)) for n in self.spec.summary_names)
        header += [HEADER_ITEM, f"{self.spec.names_kind} {names}"]
        if self.spec.model_sha256:
            header.append(f"model_sha256 {self.spec.model_sha256}")
        out = header + ["ITEM: ATOMS " + " ".join(columns + extra)]
        out += [f"{row} {cells}" for row, cells in zip(rows, text_cells(arrays, self.keys))]
        self._fh.write("\n".join(out) + "\n")
