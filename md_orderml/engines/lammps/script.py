"""Run an unmodified LAMMPS input script with :class:`OrderMLFix` attached.

LAMMPS reads a file as one unit (``lmp.file``), so the script is run in three parts:

1. Commands up to and including the one that creates the box (``create_box``,
   ``read_data``, ``read_restart``, also inside ``if`` or an ``include``d file) run one
   at a time with ``lmp.command``; ``include`` files are spliced in (their names are
   expanded with the variables defined so far). The fix attaches the moment
   ``box_exist`` turns true, so the script can use ``i_orderml``, ``d_orderml_conf`` and
   ``f_orderml[k]`` anywhere after that.
2. While the box has no atoms yet (``create_box`` then ``create_atoms``), commands keep
   running one at a time; once atoms exist the ghost cutoff is set (mode ``"ghost"``) and the labels are
   reset to -1.
3. The rest is written unchanged to a temporary file and run with ``lmp.file``
   (``jump``/``label`` loops, ``include`` and ``if`` work there as usual).

Not supported (clear errors): ``jump`` before the box exists, a ``jump SELF`` whose label
lies before the attach point or that has no label, and ``clear`` after the box exists.
The neighbour skin is read from ``neighbor`` commands of the script (LAMMPS does not
expose it) to size the ghost cutoff of mode ``"ghost"``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, List, Optional

from md_orderml.errors import InputError

PHASE2_STOP = ("jump", "label", "next", "if", "run", "minimize", "rerun", "clear", "quit")
JUMP_RE = re.compile(r"(?:^|[\s\"'])jump\s+(\S+)(?:\s+([^\s\"']+))?")


@dataclasses.dataclass
class Command:
    """One logical input line (continuations joined).

    Attributes:
        text: The raw text, as in the file (with its newlines and ``&``).
        source: File name, for messages.
        lineno: First line number in that file.
    """

    text: str
    source: str
    lineno: int

    @property
    def command(self) -> str:
        """The text LAMMPS executes: ``&`` continuations joined into one line."""
        return re.sub(r"&[ \t]*\r?\n", " ", self.text)

    @property
    def words(self) -> List[str]:
        """Words of the command with the comment removed."""
        return strip_comment(self.command).split()

    @property
    def word(self) -> str:
        """The command name ('' for blank or comment lines)."""
        words = self.words
        return words[0] if words else ""

    @property
    def where(self) -> str:
        """Where the command starts, ``file:line``, for messages."""
        return f"{self.source}:{self.lineno}"


def strip_comment(line: str) -> str:
    """The line without its ``#`` comment (``#`` inside quotes is kept)."""
    quote = None
    i = 0
    while i < len(line):
        if line.startswith('"""', i):
            quote = None if quote == '"""' else ('"""' if quote is None else quote)
            i += 3
            continue
        c = line[i]
        if quote is None and c in "\"'":
            quote = c
        elif quote == c:
            quote = None
        elif quote is None and c == "#":
            return line[:i]
        i += 1
    return line


def split_commands(text: str, source: str) -> List[Command]:
    """Split a script into logical commands (``&`` continuations, triple-quoted blocks)."""
    lines = text.splitlines(keepends=True)
    commands, i = [], 0
    while i < len(lines):
        start, chunk = i, lines[i]
        i += 1
        while i < len(lines) and (chunk.rstrip().endswith("&") or chunk.count('"""') % 2 == 1):
            chunk += lines[i]
            i += 1
        commands.append(Command(chunk, source, start + 1))
    return commands


def read_script(path, comm=None) -> str:
    """Text of an input file, read on rank 0 and broadcast."""
    text, error = None, None
    if comm is None or comm.Get_rank() == 0:
        try:
            text = Path(path).read_text()
        except OSError as err:
            error = f"cannot read LAMMPS input {path}: {err.strerror}"
    if comm is not None:
        text, error = comm.bcast((text, error), root=0)
    if error:
        raise InputError(error)
    return text


def script_skin(commands: List[Command], lmp) -> Optional[float]:
    """The largest skin set by ``neighbor`` commands (variables expanded if defined), or None."""
    skins = []
    for cmd in commands:
        words = cmd.words
        if len(words) >= 2 and words[0] == "neighbor":
            value = words[1]
            if "$" in value or "v_" in value:
                try:
                    value = (lmp.expand(value) or "").strip()
                except Exception:  # an undefined variable
                    continue
            try:
                skins.append(float(value))
            except ValueError:
                continue
    return max(skins) if skins else None


def check_rest(head: List[Command], rest: List[Command], script: str, ghosts: bool = False) -> List[str]:
    """Refuse loops that cross the attach point; return warnings for the rest.

    ``ghosts``: the fix labels from LAMMPS's ghost atoms (mode ``"ghost"``), so a later
    ``comm_modify cutoff`` may undercut the ghost cutoff it set.

    Raises:
        InputError: ``clear`` after the box exists; ``jump SELF`` without a label or
            to a label that is defined only before the attach point.
    """
    warnings = []
    rest_labels = {c.words[1] for c in rest if c.word == "label" and len(c.words) > 1}
    head_labels = {c.words[1] for c in head if c.word == "label" and len(c.words) > 1}
    names = {"SELF", os.path.basename(script), str(script)}
    for cmd in rest:
        if cmd.word == "clear":
            raise InputError(f"{cmd.where}: 'clear' after the box exists deletes the md-orderml fixes; "
                             "run that part as a separate script")
        if ghosts and cmd.word == "comm_modify" and "cutoff" in cmd.words:
            warnings.append(f"{cmd.where}: the script sets comm_modify cutoff after md-orderml did (mode 'ghost'); "
                            "a labelling step whose ghosts fall short of the model's reach stops with an error")
        for target, label in JUMP_RE.findall(strip_comment(cmd.command)):
            if target not in names or "$" in label:
                continue
            if not label:
                raise InputError(f"{cmd.where}: 'jump {target}' restarts the script before the box exists; "
                                 "md-orderml lammps cannot run it (use a label after the box is created)")
            if label not in rest_labels and label in head_labels:
                raise InputError(f"{cmd.where}: 'jump {target} {label}' goes back before the box is created, "
                                 "across the point where md-orderml attaches; move the label after the box command")
    return warnings


class ScriptRunner:
    """Execute a LAMMPS input script, attaching the md_orderml fix as soon as the box exists.

    Args:
        lmp: A fresh ``lammps`` instance (all ranks).
        path: The input script.
        attach: Called with ``(lmp, skin)`` once the box exists; returns the
            :class:`~md_orderml.engines.lammps.OrderMLFix`.
        comm: mpi4py communicator of the LAMMPS instance, or None.
    """

    def __init__(self, lmp, path, attach: Callable, comm=None):
        self.lmp, self.path, self.attach, self.comm = lmp, str(path), attach, comm
        self.fix = None
        self.warnings: List[str] = []

    def _run(self, cmd: Command) -> None:
        if not cmd.word:
            return
        try:
            self.lmp.command(cmd.command)
        except Exception as err:
            raise InputError(f"{cmd.where}: LAMMPS: {str(err).strip().splitlines()[0]}") from None

    def _include(self, cmd: Command) -> List[Command]:
        if len(cmd.words) != 2:
            raise InputError(f"{cmd.where}: include takes one file name")
        name = (self.lmp.expand(cmd.words[1]) or "").strip().strip("\"'")
        return split_commands(read_script(name, self.comm), name)

    def run(self, skin: Optional[float] = None):
        """Run the whole script; returns the attached fix (None if no box was created)."""
        todo = split_commands(read_script(self.path, self.comm), self.path)
        done: List[Command] = []
        lmp = self.lmp
        while todo and not lmp.extract_setting("box_exist"):
            cmd = todo.pop(0)
            if cmd.word == "include":
                todo[:0] = self._include(cmd)
                continue
            if cmd.word == "jump" or (cmd.word == "if" and JUMP_RE.search(strip_comment(cmd.command))):
                raise InputError(f"{cmd.where}: 'jump' before the box exists is not supported by md-orderml lammps")
            self._run(cmd)
            done.append(cmd)
        if not lmp.extract_setting("box_exist"):
            return None
        if skin is None:
            skin = script_skin(done + todo, lmp)
        self.fix = self.attach(lmp, skin)
        while todo and lmp.get_natoms() == 0 and todo[0].word not in PHASE2_STOP:
            cmd = todo.pop(0)
            if cmd.word == "include":
                todo[:0] = self._include(cmd)
                continue
            self._run(cmd)
            done.append(cmd)
        if lmp.get_natoms() > 0:
            self.fix.update_ghost_cutoff()
            self.fix.clear_labels()
        self.warnings += check_rest(done, todo, self.path, ghosts=getattr(self.fix, "use_ghosts", False))
        if self.comm is None or self.comm.Get_rank() == 0:
            for warning in self.warnings:
                print(f"md-orderml: warning: {warning}", file=sys.stderr, flush=True)
        if todo:
            self._run_rest(todo)
        return self.fix

    def _run_rest(self, rest: List[Command]) -> None:
        """Write the remaining commands to a temporary file (rank 0) and run it."""
        folder = tempfile.mkdtemp(prefix="orderml_lammps_") if self.comm is None or self.comm.Get_rank() == 0 else None
        if self.comm is not None:
            folder = self.comm.bcast(folder, root=0)
        path = os.path.join(folder, "rest_of_" + os.path.basename(self.path))
        try:
            if self.comm is None or self.comm.Get_rank() == 0:
                with open(path, "w") as fh:
                    fh.write("".join(c.text if c.text.endswith("\n") else c.text + "\n" for c in rest))
            try:
                self.lmp.file(path)
            except Exception as err:
                raise InputError(f"{self.path} (after line {rest[0].lineno}): LAMMPS: "
                                 f"{str(err).strip().splitlines()[0]}") from None
        finally:
            if self.comm is None or self.comm.Get_rank() == 0:
                shutil.rmtree(folder, ignore_errors=True)
