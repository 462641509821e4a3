"""``md-orderml label IN -o OUT``: label a trajectory file."""

from __future__ import annotations


from md_orderml.threads import add_threads_option

#: Output formats ``-o`` takes (the trajectory formats; ``--fractions`` writes the CSV).
OUTPUT_FORMATS = ("gsd", "lammps-dump", "xyz")
#: Words ``--pbc`` takes besides three T/F flags.
PBC_WORDS = {"all": (True, True, True), "none": (False, False, False), "file": None}
PBC_HELP = ("which directions are periodic, instead of what the file says (extended XYZ pbc=, the dump's BOX "
            "BOUNDS flags; GSD: all): three flags T (periodic) or F (open) for x, y, z, e.g. TTF for a slab "
            "open along z, or 'all', 'none' (a cluster), 'file' (the default)")


def parse_pbc(text):
    """``--pbc`` as three bools (x, y, z), or None for the file's own flags.

    Args:
        text: ``"TTF"`` (also ``"T,T,F"``, ``"t t f"``, ``"110"``), ``"all"``, ``"none"``,
            ``"file"`` or None.

    Raises:
        InputError: Anything else (one line; the CLI exits 2).
    """
    from md_orderml.errors import InputError

    if text is None:
        return None
    word = str(text).strip().lower()
    if word in PBC_WORDS:
        return PBC_WORDS[word]
    flags = [c for c in word if c not in " ,"]
    if len(flags) != 3 or any(c not in "tf10" for c in flags):
        raise InputError(f"--pbc {text!r}: give three flags T (periodic) or F (open) for x, y, z, e.g. --pbc TTF, "
                         "or one of all, none, file")
    return tuple(c in "t1" for c in flags)


def add_parser(sub) -> None:
    """Register the ``label`` subcommand."""
    p = sub.add_parser("label", help="label a GSD / LAMMPS dump / XYZ trajectory",
                       description="Label every frame of a trajectory. Under mpirun, frames are split over ranks. "
                                   "A regression model (e.g. md-orderml research train-propensity) writes its per-particle "
                                   "values instead (GSD: log/particles/md_orderml/values; dump/XYZ: columns "
                                   "orderml_<value name>) and per-frame means instead of class fractions.")
    p.add_argument("input", help="GSD, LAMMPS dump (.dump/.lammpstrj) or (extended) XYZ file")
    p.add_argument("-o", "--output", help="labelled output: .gsd, .dump/.lammpstrj or .xyz")
    p.add_argument("--model", default="default", help="model file, or 'default' or 'classic' (the shipped models)")
    p.add_argument("--fractions", metavar="CSV", help="write the per-frame summary to this CSV: class fractions (regression: value means)")
    p.add_argument("--plot", metavar="PNG", help="plot class fractions (regression: value means) vs frame to this PNG")
    p.add_argument("--probabilities", action="store_true", help="also write per-class probabilities")
    p.add_argument("--format", dest="fmt", help="force the input format (gsd, lammps-dump, xyz)")
    p.add_argument("--output-format", dest="out_fmt", metavar="FORMAT",
                   help="force the output format (gsd, lammps-dump, xyz; default: from the -o name)")
    p.add_argument("--types", metavar="A,B", help="label only particles of these types (names as the file gives "
                   "them, before --type-map); the others still serve as neighbours and get label -1 "
                   "(NaN values) and are left out of the fractions")
    p.add_argument("--mask", metavar="FILE", help="label only the particles this file selects: one 0/1 (or "
                   "true/false) per particle in file order, as text or .npy; the same for every frame "
                   "(combines with --types)")
    p.add_argument("--start", type=int, default=0, help="first frame (default 0)")
    p.add_argument("--stop", type=int, default=None, help="stop before this frame")
    p.add_argument("--stride", type=int, default=1, help="label every n-th frame")
    p.add_argument("--pbc", metavar="FLAGS", help=PBC_HELP)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--type-map", metavar="JSON", help='map file types to model types, e.g. \'{"1": "Cu"}\'')
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(run=run)


def output_format(path, fmt=None) -> str:
    """The trajectory format of ``-o PATH`` (``--output-format`` wins), in words a CLI user can act on.

    Raises:
        InputError: Not a trajectory format, or a name that does not tell it.
    """
    from md_orderml.errors import InputError
    from md_orderml.io import detect_format

    names = ", ".join(OUTPUT_FORMATS)
    try:
        found = detect_format(path, fmt, for_writing=True)
    except InputError:
        found = None
    if fmt is not None and found not in OUTPUT_FORMATS:
        raise InputError(f"--output-format {fmt}: use one of {names}")
    if found not in OUTPUT_FORMATS:
        why = "a CSV is the per-frame summary (--fractions CSV)" if found == "csv" else \
            "cannot tell the output format from the name"
        raise InputError(f"{path}: {why}; name the output .gsd, .dump/.lammpstrj or .xyz, or pass "
                         f"--output-format ({names})")
    return found


def run(args) -> int:
    """Run ``md-orderml label``."""
    from md_orderml.errors import InputError
    from md_orderml.threads import ranks_on_node, set_threads

    if not (args.output or args.fractions or args.plot):
        raise InputError("nothing to write: give -o OUT, --fractions CSV and/or --plot PNG")
    out_fmt = output_format(args.output, args.out_fmt) if args.output else None
    pbc = parse_pbc(args.pbc)
    from md_orderml.analysis import type_map_from_json

    type_map = type_map_from_json(args.type_map)
    from md_orderml.labelling import Subset, label_trajectory, mpi_world, read_mask

    types = tuple(t.strip() for t in (args.types or "").split(",") if t.strip())
    if args.types is not None and not types:
        raise InputError("--types: give type names, e.g. --types A,B")
    subset = Subset(types=types, mask=read_mask(args.mask) if args.mask else None, mask_source=args.mask or "mask")
    comm = mpi_world()
    set_threads(args.threads, share=ranks_on_node(comm))
    rank0 = comm is None or comm.Get_rank() == 0
    run_ = label_trajectory(
        args.input, args.output, model=args.model, fractions_csv=args.fractions, plot=args.plot,
        probabilities=args.probabilities, fmt=args.fmt, out_fmt=out_fmt, start=args.start, stop=args.stop,
        stride=args.stride, device=args.device, type_map=type_map,
        progress=rank0 and not args.quiet, comm=comm, subset=subset, pbc=pbc,
    )
    if rank0 and not args.quiet:
        ranks = "" if comm is None else f" on {comm.Get_size()} ranks"
        summary = run_.spec.describe(run_.mean_summary())
        print(f"labelled {run_.frames} frames, {run_.particles} particles{ranks}; mean {summary}")
        for path in run_.outputs:
            print(f"wrote {path}")
    return 0
