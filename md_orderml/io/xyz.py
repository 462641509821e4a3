"""XYZ and extended XYZ (ASE / OVITO style): a streaming reader and a writer of per-particle outputs.

The comment line of extended XYZ holds ``key=value`` pairs: ``Lattice="ax ay az bx by
bz cx cy cz"`` (cell vectors as rows), ``Properties=species:S:1:pos:R:3:...``, and
optionally ``Origin="ox oy oz"``, ``pbc="T T T"`` and ``step=``. Plain XYZ has no
cell; pass ``box=`` to read it.

Periodicity: ``pbc="T T F"`` (``T``/``F``, ``True``/``False`` or ``1``/``0``; one flag means
all three) sets :attr:`Box.periodic <md_orderml.frame.Box>` per lattice direction; without
the key the frame is periodic (or takes the flags of ``box=``). A reader's ``pbc=``
argument (``md-orderml label --pbc``) overrides the file. A frame open in every direction
needs no ``Lattice=`` (a cluster as ASE writes it): its box is the particles' bounding box
(:func:`md_orderml.system.open_cell`), and an open direction whose lattice vector is zero
gets the particles' extent. The writer writes the frame's flags, so they survive a round trip.
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
from md_orderml.io._common import ALL_FRAMES, FrameSelection, ReadGuard, box_from_vectors, open_text, unchanged_native
from md_orderml.io.writer import TextOutputWriter, text_cells
from md_orderml.system import open_cell

_PAIR = re.compile(r'\s*([^\s="]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|\{[^}]*\}|[^\s"]+))?')
DEFAULT_PROPERTIES = [("species", "S", 1), ("pos", "R", 3)]
_POSITION_NAMES = ("pos", "positions", "position")
_SPECIES_NAMES = ("species", "element", "type", "Z")


def parse_comment(line: str) -> List[Tuple[str, Optional[str]]]:
    """Split an extended XYZ comment line into ``(key, raw value)`` pairs.

    Raw values keep their quotes (``'"1 0 0 0 1 0 0 0 1"'``); a bare key has ``None``.
    A line that is not ``key=value`` text (plain XYZ) gives ``[]``.
    """
    pairs, pos, line = [], 0, line.strip()
    while pos < len(line):
        m = _PAIR.match(line, pos)
        if not m or m.end() == pos:
            return []
        pairs.append((m.group(1), m.group(2)))
        pos = m.end()
    return pairs


def unquote(raw: Optional[str]) -> str:
    """A raw comment value without surrounding quotes or braces."""
    if raw is None:
        return ""
    if len(raw) >= 2 and raw[0] + raw[-1] in ('""', "{}"):
        return raw[1:-1].replace('\\"', '"')
    return raw


def parse_properties(value: str, where: str) -> List[Tuple[str, str, int]]:
    """``species:S:1:pos:R:3`` as ``[("species", "S", 1), ("pos", "R", 3)]``."""
    parts = value.split(":")
    if len(parts) % 3:
        raise InputError(f"{where}: bad Properties={value!r} (need name:type:count triples)")
    out = []
    for name, kind, count in zip(parts[0::3], parts[1::3], parts[2::3]):
        if kind not in ("S", "R", "I", "L") or not count.isdigit() or int(count) < 1:
            raise InputError(f"{where}: bad Properties entry {name}:{kind}:{count}")
        out.append((name, kind, int(count)))
    return out


@dataclasses.dataclass
class XyzRecord:
    """The reader's record of one XYZ frame (:attr:`Frame.native`).

    Attributes:
        pairs: Comment ``(key, raw value)`` pairs in file order.
        properties: ``(name, type, count)`` column groups.
        text: The N atom lines exactly as read (newline separated).
        positions: The positions given to the :class:`Frame` (to detect edits).
    """

    pairs: List[Tuple[str, Optional[str]]]
    properties: List[Tuple[str, str, int]]
    text: str
    positions: Optional[np.ndarray] = dataclasses.field(default=None, repr=False)

    def get(self, key: str) -> Optional[str]:
        """The unquoted value of comment key ``key`` (case-insensitive), or ``None``."""
        for k, raw in self.pairs:
            if k.lower() == key.lower():
                return unquote(raw)
        return None


_FLAG_WORDS = {"t": True, "true": True, "1": True, "f": False, "false": False, "0": False}


def parse_pbc(text: str, where: str) -> Tuple[bool, bool, bool]:
    """An extended XYZ ``pbc=`` value (``"T T F"``; one flag means all three) as three bools.

    Raises:
        InputError: Not one or three flags T/F (True/False, 1/0).
    """
    words = text.replace(",", " ").split()
    if len(words) not in (1, 3) or any(w.lower() not in _FLAG_WORDS for w in words):
        raise InputError(f"{where}: pbc={text!r} must be three flags T or F (periodic x, y, z), e.g. pbc=\"T T F\"")
    flags = [_FLAG_WORDS[w.lower()] for w in words]
    return tuple(flags * 3 if len(flags) == 1 else flags)


def pbc_text(periodic, is2D: bool = False) -> str:
    """Three flags as an extended XYZ ``pbc=`` value (``"T T F"``); 2D frames are open along z."""
    return " ".join("T" if p and not (is2D and d == 2) else "F" for d, p in enumerate(periodic))


def _floats(text: str, count: int, key: str, where: str) -> np.ndarray:
    try:
        values = np.array(text.replace(",", " ").split(), dtype=np.float64)
    except ValueError:
        values = np.zeros(0)
    if values.shape != (count,):
        raise InputError(f"{where}: {key}= must hold {count} numbers, got {text!r}")
    return values


def _frame(record: XyzRecord, n: int, where: str, first_line: int, box: Optional[Box],
           dimensions: Optional[int], step_default: Optional[int],
           pbc: Optional[Tuple[bool, bool, bool]] = None) -> Frame:
    props = record.properties
    ncol = sum(c for _, _, c in props)
    tokens = record.text.split()
    if len(tokens) != n * ncol:
        for i, line in enumerate(record.text.splitlines()):
            if len(line.split()) != ncol:
                raise InputError(f"{where}, particle {i} (line {first_line + i}): expected {ncol} "
                                 f"columns, found {len(line.split())}")
        raise InputError(f"{where}: the atom table has {len(tokens)} values, expected {n} x {ncol}")
    offsets = dict(zip([p[0] for p in props], itertools.accumulate([0] + [c for _, _, c in props])))
    pos_name = next((p for p in _POSITION_NAMES if p in offsets), None)
    if pos_name is None or dict((p[0], p[2]) for p in props)[pos_name] != 3:
        raise InputError(f"{where}: no 3-component 'pos' property in Properties")
    j = offsets[pos_name]
    try:
        positions = np.stack([np.array(tokens[j + k::ncol], dtype=np.float64) for k in range(3)], axis=1)
    except ValueError:
        for i, line in enumerate(record.text.splitlines()):
            for v in line.split()[j:j + 3]:
                try:
                    float(v)
                except ValueError:
                    raise InputError(f"{where}, particle {i} (line {first_line + i}): position "
                                     f"value {v!r} is not a number") from None
        raise
    species_name = next((s for s in _SPECIES_NAMES if s in offsets), None)
    if species_name is None:
        types, names = np.zeros(n, dtype=np.int32), ["A"]
    else:
        names, types = _common.type_names_from_labels(tokens[offsets[species_name]::ncol])
    file_pbc = record.get("pbc")
    periodic = pbc or (parse_pbc(file_pbc, where) if file_pbc is not None
                       else (box.periodic if box is not None and record.get("Lattice") is None else (True,) * 3))
    lattice = record.get("Lattice")
    if lattice is not None or (box is None and not any(periodic)):
        m = np.zeros((3, 3)) if lattice is None else _floats(lattice, 9, "Lattice", where).reshape(3, 3)
        origin_text = record.get("Origin")
        origin = np.zeros(3) if origin_text is None else _floats(origin_text, 3, "Origin", where)
        m, origin = open_cell(m, periodic, positions, origin)
        try:
            box, rotation = box_from_vectors(m[0], m[1], m[2], origin)
        except InputError as err:
            raise InputError(f"{where}: Lattice: {err}") from None
        positions = _common.rotate_positions(positions, rotation, box.corner)
    elif box is None:
        raise InputError(f"{where}: no Lattice= in the comment line; a periodic box is needed "
                         "(write extended XYZ, pass box= to the reader, or say pbc=\"F F F\" / --pbc none "
                         "for a cluster)")
    is2D = dimensions == 2 or bool(dimensions is None and tuple(periodic) == (True, True, False)
                                    and n > 0 and np.ptp(positions[:, 2]) == 0)
    if is2D != box.is2D or tuple(periodic) != box.periodic:
        box = dataclasses.replace(box, is2D=is2D, periodic=tuple(periodic))
    step = record.get("step") or record.get("timestep")
    try:
        step = int(float(step)) if step is not None else step_default
    except ValueError:
        step = step_default
    record.positions = positions
    return Frame(positions=positions, box=box, types=types, type_names=names, step=step,
                 source=where, native=record)


def iter_xyz(path: str, keep: FrameSelection = ALL_FRAMES, box: Optional[Box] = None,
             dimensions: Optional[int] = None, pbc: Optional[Tuple[bool, bool, bool]] = None) -> Iterator[Frame]:
    """Yield the frames of an (extended) XYZ file one at a time, in file particle order.

    Args:
        path: The file (``.gz`` is decompressed on the fly).
        keep: Which frames to yield; the others are skipped unparsed, and reading stops
            after the last selected one.
        box: Box for frames without ``Lattice=`` (plain XYZ).
        dimensions: 2 or 3 to force; ``None`` detects 2D from ``pbc="T T F"`` with
            all particles at the same z.
        pbc: Periodic flags (x, y, z) instead of the file's ``pbc=`` (``None``: the file's).

    Yields:
        :class:`Frame` with positions (N, 3) (rotated into restricted form when the
        lattice is general), types (N,) indexing the sorted species names, box,
        ``step`` (from a ``step=`` key) and ``native`` = :class:`XyzRecord`.

    Raises:
        InputError: Missing file, truncated or garbled frame, missing lattice.
    """
    with open_text(path) as fh, ReadGuard(path, "an (extended) XYZ file") as guard:
        lineno = 0
        for index in itertools.count():
            if keep.done(index):
                return
            where = guard.where = f"{path}, frame {index}"
            line = fh.readline()
            lineno += 1
            while line and not line.strip():
                line, lineno = fh.readline(), lineno + 1
            if not line:
                return
            try:
                n = int(line.split()[0])
                if n < 0:
                    raise ValueError
            except ValueError:
                hint = f" (more particle lines in frame {index - 1} than its count?)" if index else ""
                if line.startswith("ITEM:"):
                    hint = " (a LAMMPS dump: name it .dump or pass --format lammps-dump)"
                raise InputError(f"{where} (line {lineno}): expected the number of particles, "
                                 f"found {line.strip()[:60]!r}{hint}") from None
            comment = fh.readline()
            block = list(itertools.islice(fh, n))
            first_line = lineno + 2
            lineno += 1 + len(block)
            if not comment or len(block) < n:
                raise InputError(f"{where}: expected {n} particle lines, found {len(block)} (file truncated?)")
            if not keep(index):
                continue
            pairs = parse_comment(comment)
            props = dict((k.lower(), v) for k, v in pairs).get("properties")
            properties = DEFAULT_PROPERTIES if props is None else parse_properties(unquote(props), where)
            record = XyzRecord(pairs=pairs, properties=properties, text="".join(block).rstrip("\n"))
            yield _frame(record, n, where, first_line, box, dimensions, None, pbc)


def count_xyz(path: str) -> int:
    """Number of frames in an XYZ file (reads only the count lines, skips the rest)."""
    count = 0
    with open_text(path) as fh, ReadGuard(path, "an (extended) XYZ file"):
        for line in fh:
            if not line.strip():
                continue
            try:
                n = int(line.split()[0])
            except ValueError:
                raise InputError(f"{path}, frame {count}: expected the number of particles, "
                                 f"found {line.strip()[:60]!r}") from None
            skipped = sum(1 for _ in itertools.islice(fh, n + 1))
            if skipped < n + 1:
                raise InputError(f"{path}, frame {count}: file truncated")
            count += 1
    return count


def _fmt_pair(key: str, value: Optional[str]) -> str:
    return key if value is None else f"{key}={value}"


#: Extended XYZ property of each per-particle output: ``(name, type)``; a name with
#: ``{name}`` gives one property per column (see :meth:`OutputSpec.expand
#: <md_orderml.outputs.OutputSpec.expand>`).
XYZ_PROPERTIES = {keys.LABEL: ("orderml_label", "I"), keys.CONFIDENCE: ("orderml_conf", "R"),
                  keys.PROBABILITIES: ("orderml_probabilities", "R"), keys.VALUES: ("orderml_{name}", "R")}
#: Comment key listing the names (space-separated), per task.
XYZ_NAMES_KEYS = {keys.CLASSIFICATION: "orderml_classes", keys.REGRESSION: "orderml_values"}
#: Comment key of the model file's SHA-256 (written when known).
XYZ_SHA256_KEY = "orderml_model_sha256"


class XyzWriter(TextOutputWriter):
    """Write frames with their per-particle outputs as extended XYZ (atomically; see :class:`AtomicFile`).

    A frame read from XYZ keeps its comment keys and columns; other frames get
    ``species pos`` columns with ``Lattice``, ``Origin``, ``pbc`` and ``step`` keys. ``pbc=``
    always holds the frame's :attr:`Box.periodic <md_orderml.frame.Box>` flags (a copied
    key is replaced when they differ, e.g. after ``--pbc``).
    Added properties (:data:`XYZ_PROPERTIES`): ``orderml_label:I:1``, ``orderml_conf:R:1``
    and, with probabilities, ``orderml_probabilities:R:C``, with the key
    ``orderml_classes`` listing the class names; regression models
    ``orderml_<value name>:R:1`` per value, with the key ``orderml_values``. Whitespace in
    names becomes ``_``. When the model file is known, the key ``orderml_model_sha256``
    holds its SHA-256.

    Args:
        path: Output ``.xyz`` file.
        spec: The model's outputs (see :class:`~md_orderml.io.writer.OutputWriter`).
        write_probabilities: Also write the probabilities.
    """

    def _table(self, frame):
        """``(comment pairs, properties, rows)`` of a frame without md_orderml properties and keys."""
        record = unchanged_native(frame, XyzRecord)
        if record is not None:
            skip = {"properties", XYZ_SHA256_KEY} | set(XYZ_NAMES_KEYS.values())
            pairs = [(k, v) for k, v in record.pairs if k.lower() not in skip]
            props, rows, drop, col = [], record.text.splitlines(), [], 0
            for name, kind, count in record.properties:
                if name.startswith(_common.COLUMN_PREFIX):
                    drop.extend(range(col, col + count))
                else:
                    props.append((name, kind, count))
                col += count
            if drop:
                rows = _common.drop_columns(rows, drop)
            want, have = pbc_text(frame.box.periodic, frame.box.is2D), record.get("pbc")
            if parse_pbc(have or "T", frame.where) != parse_pbc(want, frame.where):  # flags overridden
                pairs = [(k, v) for k, v in pairs if k.lower() != "pbc"] + [("pbc", f'"{want}"')]
        else:
            m, lo = frame.box.matrix, frame.box.corner
            pbc = pbc_text(frame.box.periodic, frame.box.is2D)
            pairs = [("Lattice", '"' + " ".join(repr(float(v)) for v in m.ravel()) + '"'),
                     ("Origin", '"' + " ".join(repr(float(v)) for v in lo) + '"'),
                     ("pbc", f'"{pbc}"')]
            if frame.step is not None:
                pairs.append(("step", str(int(frame.step))))
            props = list(DEFAULT_PROPERTIES)
            names = [re.sub(r"\s", "_", str(t)) for t in frame.type_names]
            rows = [f"{names[t]} {p[0]:.9g} {p[1]:.9g} {p[2]:.9g}"
                    for t, p in zip(frame.types.tolist(), frame.positions.tolist())]
        return pairs, props, rows

    def _write(self, frame: Frame, arrays: Mapping[str, np.ndarray], index: int) -> None:
        pairs, props, rows = self._table(frame)
        for key in self.keys:
            name, kind = XYZ_PROPERTIES[key]
            props += [(column, kind, width) for column, width in self.spec.expand(key, name)]
        names = " ".join(re.sub(r"\s", "_", n) for n in self.spec.summary_names)
        pairs += [("Properties", ":".join(f"{n}:{k}:{c}" for n, k, c in props)),
                  (XYZ_NAMES_KEYS[self.spec.task], f'"{names}"')]
        if self.spec.model_sha256:
            pairs.append((XYZ_SHA256_KEY, f'"{self.spec.model_sha256}"'))
        out = [str(frame.N), " ".join(_fmt_pair(k, v) for k, v in pairs)]
        out += [f"{row} {cells}" for row, cells in zip(rows, text_cells(arrays, self.keys))]
        self._fh.write("\n".join(out) + "\n")
