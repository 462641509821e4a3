"""``md-orderml label IN -o OUT``: label a trajectory file."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    """Register the ``label`` subcommand."""
    p = sub.add_parser("label", help="label a GSD / LAMMPS dump / XYZ trajectory",
                       description="Label every frame of a trajectory. Under mpirun, frames are split over ranks. "
                                   "A regression model (e.g. md-orderml research train-propensity) writes its per-particle "
                                   "values instead (GSD: log/particles/md_orderml/values; dump/XYZ: columns "
                                   "orderml_<value name>) and per-frame means instead of class fractions.")
    p.add_argument("input", help="GSD, LAMMPS dump (.dump/.lammpstrj) or (extended) XYZ file")
    p.add_argument("-o", "--output", help="labelled output: .gsd, .dump/.lammpstrj or .xyz")
    p.add_argument("--model", default="default", help="model file, or 'default' (the shipped model)")
    p.add_argument("--fractions", metavar="CSV", help="write the per-frame summary to this CSV: class fractions (regression: value means)")
    p.add_argument("--plot", metavar="PNG", help="plot class fractions (regression: value means) vs frame to this PNG")
    p.add_argument("--probabilities", action="store_true", help="also write per-class probabilities")
    p.add_argument("--format", dest="fmt", help="force the input format (gsd, lammps-dump, xyz)")
    p.add_argument("--start", type=int, default=0, help="first frame (default 0)")
    p.add_argument("--stop", type=int, default=None, help="stop before this frame")
    p.add_argument("--stride", type=int, default=1, help="label every n-th frame")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--type-map", metavar="JSON", help='map file types to model types, e.g. \'{"1": "Cu"}\'')
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml label``."""
    from md_orderml.errors import InputError
    from md_orderml.labelling import label_trajectory, mpi_world

    if not (args.output or args.fractions or args.plot):
        raise InputError("nothing to write: give -o OUT, --fractions CSV and/or --plot PNG")
    comm = mpi_world()
    rank0 = comm is None or comm.Get_rank() == 0
    run_ = label_trajectory(
        args.input, args.output, model=args.model, fractions_csv=args.fractions, plot=args.plot,
        probabilities=args.probabilities, fmt=args.fmt, start=args.start, stop=args.stop,
        stride=args.stride, device=args.device,
        type_map=json.loads(args.type_map) if args.type_map else None,
        progress=rank0 and not args.quiet, comm=comm,
    )
    if rank0 and not args.quiet:
        ranks = "" if comm is None else f" on {comm.Get_size()} ranks"
        summary = run_.spec.describe(run_.mean_summary())
        print(f"labelled {run_.frames} frames, {run_.particles} particles{ranks}; mean {summary}")
        for path in run_.outputs:
            print(f"wrote {path}")
    return 0
