"""The protocol the HOOMD-blue MD growth examples share: melt around a seed, quench, grow, labelled on the fly.

Used by ``hoomd_lj_crystallization.py`` (fcc seed in LJ) and ``hoomd_opp_a15_growth.py``
(A15 seed slab with ``md.pair.OPP``); each builds its own simulation (integrator with its
pair force, no methods yet) and seed, then calls :func:`melt_around_seed`,
:func:`grow_labelled` and :func:`plot_growth`.
"""

import os

from md_orderml.engines.hoomd import OrderMLWriter  # preloads MPI, imports hoomd
import hoomd  # noqa: E402  (after md_orderml.engines.hoomd)


def melt_around_seed(sim, seed_tags, kT: float, steps: int) -> None:
    """Melt everything but the seed (not integrated: it keeps its lattice sites) with a Langevin bath.

    Args:
        sim: The simulation; its integrator holds the pair force and no methods.
        seed_tags: Tags of the seed particles, shape (S,), uint32 (may be empty).
        kT: Melt temperature.
        steps: Melt steps.
    """
    melt = hoomd.filter.All()
    if len(seed_tags):
        melt = hoomd.filter.SetDifference(hoomd.filter.All(), hoomd.filter.Tags(seed_tags))
    sim.operations.integrator.methods.append(hoomd.md.methods.Langevin(filter=melt, kT=kT))
    sim.state.thermalize_particle_momenta(filter=melt, kT=kT)
    sim.run(steps)


def grow_labelled(sim, kT: float, steps: int, every: int, model, gsd_path: str, shown) -> OrderMLWriter:
    """Quench the whole box to ``kT`` (Langevin) and run ``steps`` with md-orderml labels every ``every`` steps.

    A GSD writer stores the labels and class fractions (``log/particles/md_orderml/label``,
    ``log/md_orderml/fractions``) and a table prints the fractions of the ``shown`` classes.

    Args:
        sim: The simulation after :func:`melt_around_seed`.
        kT: Growth temperature.
        steps: Steps after the quench.
        every: Label (and write a frame) every this many steps.
        model: Model file or ``"default"``.
        gsd_path: The GSD file to write (its folder is made).
        shown: Class names whose fractions the table prints (those the model has).

    Returns:
        The writer (its ``class_names`` and last ``fractions``).
    """
    integrator = sim.operations.integrator
    integrator.methods.clear()
    integrator.methods.append(hoomd.md.methods.Langevin(filter=hoomd.filter.All(), kT=kT))
    trigger = hoomd.trigger.Periodic(every, phase=sim.timestep % every)
    labels = OrderMLWriter(trigger=trigger, model=model)
    logger = hoomd.logging.Logger(categories=["particle", "sequence", "scalar", "strings"])
    logger.add(labels)
    os.makedirs(os.path.dirname(os.path.abspath(gsd_path)), exist_ok=True)
    gsd_writer = hoomd.write.GSD(filename=gsd_path, trigger=trigger, logger=logger, mode="wb")
    table_logger = hoomd.logging.Logger(categories=["scalar"])
    table_logger.add(sim, quantities=["timestep", "tps"])
    table_logger.add(labels, quantities=[f"fraction_{name}" for name in shown
                                         if f"fraction_{name}" in labels.loggables])
    table = hoomd.write.Table(trigger=trigger, logger=table_logger)
    # The GSD writer may come first: labels are computed when it reads them.
    sim.operations.writers.extend([gsd_writer, labels, table])
    sim.run(steps, write_at_start=True)
    gsd_writer.flush()
    return labels


def plot_growth(gsd_path: str, class_names, png_path: str, title: str):
    """Plot the class fractions of the GSD log against steps after the quench (call on rank 0).

    Args:
        gsd_path: The GSD file of :func:`grow_labelled`.
        class_names: The model's class names (the columns of the fractions).
        png_path: The PNG to write.
        title: Plot title.

    Returns:
        ``(fractions (F, C), png path)``.
    """
    import gsd.hoomd

    from md_orderml.plotting import plot_fractions

    log = gsd.hoomd.read_log(gsd_path)
    steps = log["configuration/step"] - log["configuration/step"][0]
    fractions = log["log/md_orderml/fractions"]
    png = plot_fractions(steps, fractions, class_names, png_path, xlabel="steps after the quench", title=title)
    return fractions, png
