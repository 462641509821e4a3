"""``md-orderml lammps in.script``: run an unmodified LAMMPS input with on-the-fly labels.

The fix attaches as soon as the script's box exists, so the script may use
``i_orderml`` (class index, -1 = not labelled), ``d_orderml_conf`` (confidence) and
``f_orderml[k]`` (atoms in class k-1; ``f_orderml[C+1]`` = atoms labelled) in dumps,
thermo output and variables. A regression model (``--model propensity.pt``) gives
``d_orderml_<value name>`` per atom and ``f_orderml[k]`` = sum of value k-1 instead.
Works under ``mpirun -np N md-orderml lammps ...``.
The index variable ``orderml_every`` holds ``--every`` so dumps can follow it
(``dump d all custom ${orderml_every} ...``); a script may define its own default.
"""

from __future__ import annotations


from md_orderml.threads import add_threads_option


def add_parser(sub) -> None:
    """Register the ``lammps`` subcommand."""
    p = sub.add_parser(
        "lammps", help="run a LAMMPS input script with on-the-fly structure labels",
        description="Run an unmodified LAMMPS input script with the md-orderml fix attached as soon as "
                    "the box exists: per-atom i_orderml (class index, -1 = not labelled) and d_orderml_conf, "
                    "global f_orderml[k] = atoms of class k-1 (k = 1..C) and f_orderml[C+1] = atoms labelled; "
                    "a regression model gives d_orderml_<value name> per atom and f_orderml[k] = sum of value "
                    "k-1 (k = 1..S). "
                    "The index variable orderml_every holds --every. Under mpirun the work is split like LAMMPS's.")
    p.add_argument("script", help="LAMMPS input script")
    p.add_argument("--model", default="default", help="model file, or 'default' or 'classic' (the shipped models)")
    p.add_argument("--every", type=int, default=1000, help="label every N steps (default 1000)")
    p.add_argument("--group", default="all", help="LAMMPS group to label (default all)")
    p.add_argument("--var", nargs="+", action="append", default=[], metavar=("NAME", "VALUE"),
                   help="define an index variable like lmp -var NAME VALUE ... (repeatable)")
    p.add_argument("--type-map", metavar="JSON", help='LAMMPS atom type -> model type, e.g. \'{"1": "Cu"}\'')
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--skin", type=float, help="neighbour skin (default: from the script's neighbor command, "
                                              "else LAMMPS's default for the unit style)")
    p.add_argument("--log", default="log.lammps", help="LAMMPS log file ('none' for no log)")
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true", help="no LAMMPS screen output")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml lammps``."""
    from md_orderml.engines.lammps import OrderMLFix
    from md_orderml.engines.lammps.script import ScriptRunner
    from md_orderml.errors import InputError
    from md_orderml.labelling import mpi_world
    from md_orderml.mpi import import_lammps
    from md_orderml.threads import ranks_on_node, set_threads

    if args.every <= 0:
        raise InputError(f"--every {args.every} must be a positive number of steps")
    from md_orderml.analysis import type_map_from_json

    type_map = type_map_from_json(args.type_map)
    cmdargs = ["-nocite", "-log", args.log, "-var", "orderml_every", str(args.every)]
    for var in args.var:
        if len(var) < 2:
            raise InputError(f"--var {var[0]} needs a name and at least one value")
        cmdargs += ["-var"] + var
    if args.quiet:
        cmdargs += ["-screen", "none"]
    lammps = import_lammps()
    comm = mpi_world()
    threads = set_threads(args.threads, share=ranks_on_node(comm))  # LAMMPS resets OpenMP; the fix sets it again
    lmp = lammps.lammps(cmdargs=cmdargs, comm=comm)

    def attach(lmp_, skin):
        return OrderMLFix(lmp_, args.model, every=args.every, group=args.group, type_map=type_map,
                          device=args.device, skin=args.skin if args.skin is not None else skin,
                          on_error="abort", threads=threads)

    try:
        fix = ScriptRunner(lmp, args.script, attach, comm).run()
        if fix is None:
            raise InputError(f"{args.script}: the script never creates a box (create_box, read_data or read_restart)")
        fix.check()
    finally:
        lmp.close()
    return 0
