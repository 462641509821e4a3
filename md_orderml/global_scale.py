"""The global length unit ``(V / N) ** (1 / d)`` of global-unit model files (such as ``classic``).

Local-unit model files (the default) measure every particle in its own unit
(:mod:`md_orderml.local_scale`) and need none of this; a global-unit file measures all
particles in one unit of the whole system, which is only right where the particles fill the box.
"""

from __future__ import annotations

import numpy as np

from md_orderml.errors import InputError
from md_orderml.frame import Frame
from md_orderml.system import AXES


def length_scale_of(volume: float, n_particles: int, dimensions: int = 3) -> float:
    """The model's length unit ``(V / N) ** (1 / d)`` of a whole system.

    Args:
        volume: Box volume (area in 2D) of the whole system.
        n_particles: Number of particles in the whole system (all ranks).
        dimensions: 2 or 3.
    """
    if n_particles <= 0:
        raise InputError("cannot compute the length scale of an empty system")
    return float((volume / n_particles) ** (1.0 / dimensions))


def frame_length_scale(frame: Frame, dimensions: int = 3) -> float:
    """The length scale ``(V / N) ** (1 / d)`` of a frame's box, checked where a direction is open.

    A fully periodic frame gets exactly :func:`length_scale_of` of its box. With one
    open direction (a slab, e.g. LAMMPS ``boundary p p s``) the box volume is still
    used, so the particles must fill the box there: their extent across the open
    direction must be within two length scales of the box width (no vacuum gap, which
    would inflate the scale and change every label). Two or three open directions
    (wires, clusters) are refused: whether the particles fill the box cannot be told
    from extents there. Models in the local length unit (the default model) have neither
    limit: this function is only for global-unit models such as ``classic``.

    Args:
        frame: The configuration; ``frame.box.periodic`` says which directions are periodic.
        dimensions: 2 or 3 (only x and y count in 2D).

    Raises:
        InputError: More than one open direction, or a box that the particles do not fill
            along the open one.
    """
    scale = length_scale_of(frame.box.volume, frame.N, dimensions)
    open_axes = [d for d in range(dimensions) if not frame.box.periodic[d]]
    if not open_axes:
        return scale
    names = ", ".join(AXES[d] for d in open_axes)
    if len(open_axes) > 1:
        raise InputError(f"{frame.source}: open along {names}: the model's length scale (V/N)^(1/{dimensions}) "
                         "needs periodic boxes or one open direction that the particles fill; for clusters and "
                         "wires use a local-unit model (the default model, --model default)")
    d = open_axes[0]
    normal = np.linalg.inv(frame.box.matrix)[:, d]  # perpendicular to the other two lattice vectors
    heights = frame.positions @ (normal / np.linalg.norm(normal))
    extent, width = float(np.ptp(heights)), float(frame.box.widths[d])
    if abs(width - extent) > 2.0 * scale:
        raise InputError(f"{frame.source}: open along {names}, the particles span {extent:.4g} of the box width "
                         f"{width:.4g} there; the model's length scale (V/N)^(1/{dimensions}) = {scale:.4g} needs a "
                         "box that they fill (no vacuum); for surfaces in vacuum use a local-unit model (the default "
                         "model, --model default)")
    return scale
