"""The protocol both HPMC examples share: melt all but a nucleus, compress, let the crystal grow.

Imported by ``examples/hoomd_hard_spheres.py`` and ``examples/hoomd_hard_polyhedra.py`` (run as
scripts, so this folder is on ``sys.path``); labels are taken every ``--every`` sweeps throughout.
"""

import hoomd


def melt_compress_grow(sim, labels, gsd_writer, args, say) -> dict:
    """Run the three phases and return the labels' fractions after each.

    Args:
        sim: The HPMC simulation, at the fluid packing fraction ``args.phi_fluid`` with a frozen nucleus.
        labels: The attached :class:`~md_orderml.engines.hoomd.OrderMLWriter`.
        gsd_writer: The GSD writer (flushed at the end).
        args: ``melt_sweeps``, ``phi_fluid``, ``phi``, ``max_compress_sweeps``, ``sweeps``.
        say: ``print`` on rank 0.

    Returns:
        ``{"melted" | "compressed" | "end": (labelled step, fractions by class name)}``.

    Raises:
        SystemExit: QuickCompress did not reach ``args.phi`` in ``args.max_compress_sweeps`` sweeps.
    """
    sim.run(args.melt_sweeps, write_at_start=True)
    phases = {"melted": (labels.labelled_step, labels.fractions)}
    target = hoomd.Box.cube(sim.state.box.Lx * (args.phi_fluid / args.phi) ** (1 / 3))
    compress = hoomd.hpmc.update.QuickCompress(trigger=hoomd.trigger.Periodic(10), target_box=target)
    sim.operations.updaters.append(compress)
    while not compress.complete and sim.timestep < args.melt_sweeps + args.max_compress_sweeps:
        sim.run(100)
    if not compress.complete:
        raise SystemExit(f"QuickCompress did not reach phi = {args.phi} in {args.max_compress_sweeps} sweeps")
    sim.operations.updaters.remove(compress)
    phases["compressed"] = (labels.labelled_step, labels.fractions)
    say(f"compressed to phi = {args.phi} in {sim.timestep - args.melt_sweeps} sweeps; growing", flush=True)
    sim.run(args.sweeps)
    phases["end"] = (labels.labelled_step, labels.fractions)
    gsd_writer.flush()
    return phases
