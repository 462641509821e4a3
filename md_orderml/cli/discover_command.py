"""``md-orderml discover``: find the distinct environments of trajectories without labels."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register the ``discover`` subcommand."""
    from md_orderml.threads import add_threads_option

    p = sub.add_parser(
        "discover", help="find the distinct local environments of trajectories (no labels needed)",
        description="Embed every particle's environment with a backbone (the default model's), cluster the embeddings "
                    "(Gaussian mixture, number of clusters by BIC) and write OUT/clusters.gsd (per-particle "
                    "cluster, -1 = none), OUT/summary.json, OUT/fractions.png, OUT/map.png, "
                    "OUT/environments/*.xyz and OUT/model.pt, a model file whose classes are the clusters "
                    "(label, LAMMPS and HOOMD run it).")
    p.add_argument("inputs", nargs="+", metavar="IN", help="trajectory files (GSD, LAMMPS dump, XYZ)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--clusters", default="auto", help="'auto' (lowest BIC; default) or a number of clusters")
    p.add_argument("--max-clusters", type=int, default=12, help="most clusters 'auto' tries (default 12)")
    p.add_argument("--frames", metavar="A:B[:S]", help="frames of each input the clusters are fitted on "
                   "(default: all); every frame is assigned")
    p.add_argument("--model", default="default", help="backbone: the default classifier's ('default'; it "
                   "separates environments best, see docs/discovery.md), 'pretrained' (the shipped self-supervised "
                   "one), a checkpoint of 'md-orderml pretrain', or a model file")
    p.add_argument("--export", metavar="MODEL.pt", help="also write the cluster model file here")
    p.add_argument("--fit-particles", type=int, default=100_000,
                   help="most particles the clusters are fitted on (drawn evenly from the fitted frames)")
    p.add_argument("--seed", type=int, default=0)
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml discover``."""
    from md_orderml.errors import InputError
    from md_orderml.threads import set_threads

    set_threads(args.threads)
    from md_orderml.discovery import discover

    clusters = args.clusters.strip()
    if clusters != "auto":
        try:
            clusters = int(clusters)
        except ValueError:
            raise InputError(f"--clusters must be 'auto' or a number, got {args.clusters!r}") from None
    summary = discover(args.inputs, args.output, clusters, args.frames, args.model, args.export,
                       args.fit_particles, args.max_clusters, args.seed, progress=not args.quiet)
    sizes = ", ".join(f"{c['name']} ~ {c['nearest_builtin']['class']} ({c['fit_particles']})"
                      for c in summary["clusters"])
    print(f"found {summary['n_clusters']} clusters: {sizes}")
    print(f"wrote {args.output}/clusters.gsd, summary.json, fractions.png, map.png, environments/, model.pt"
          + (f" and {args.export}" if args.export else ""))
    return 0
