"""Complex crystals (A15, sigma) for the on-the-fly tests of every engine path (issue 21).

The shipped default model must label them on the fly as it does offline: at
:data:`NOISE` at least :data:`MIN_FRACTION` of the particles get the crystal's class,
and the per-class counts an engine exposes by class name equal the numbers labelled.
Used by test_lammps_compute.py (Python fix, serial and mpirun), test_lammps_plugin.py
(native compute), test_hoomd.py and their rank helpers.
"""

import numpy as np

from md_orderml.structures import crystal

KINDS = ("a15", "sigma")  #: A15 (cP8, 8 atoms a cell) and one more complex crystal (sigma, tP30)
NOISE = 0.025  #: Gaussian displacement std per coordinate, fraction of the nearest-neighbour distance
MIN_FRACTION = 0.95


def complex_crystal(kind: str, z_copies: int = 1, seed: int = 7, min_width: float = 7.0):
    """:func:`md_orderml.structures.crystal` (nearest neighbours at 1) at :data:`NOISE`, wrapped into [0, L).

    ``min_width`` 7 keeps every periodic width above twice the default model's cutoff
    times its largest local length unit (6.24 for sigma), which ghost context needs;
    ``z_copies`` repeats the supercell along z (HOOMD splits two ranks along its longest side).

    Returns:
        ``(positions (N, 3), cell (3, 3))``: an orthogonal cell, diagonal rows.
    """
    structure = crystal(kind, noise=NOISE, min_width=min_width, seed=seed)
    cell = structure.cell.copy()
    assert np.allclose(cell, np.diag(np.diag(cell))), f"{kind}: a tilted cell"
    x = np.concatenate([structure.positions + k * cell[2] for k in range(z_copies)])
    cell[2] *= z_copies
    frac = x @ np.linalg.inv(cell)
    return (frac - np.floor(frac)) @ cell, cell


def offline_labels(model, positions, cell) -> np.ndarray:
    """What :class:`md_orderml.OrderML` gives on the periodic configuration (positions in [0, L))."""
    from md_orderml import Box, Frame
    from md_orderml.analysis import OrderML

    box = Box.from_lammps(0, cell[0, 0], 0, cell[1, 1], 0, cell[2, 2])
    return OrderML(model).compute(Frame(positions=positions, box=box)).labels


def assert_labelled_as(kind: str, labels, class_names, counts=None, expected=None) -> None:
    """At least :data:`MIN_FRACTION` of ``labels`` are ``kind``; ``counts`` (one per class, model
    order) are the numbers labelled; ``labels`` equal ``expected`` (the offline labels) where given."""
    labels = np.asarray(labels).astype(int)
    names = list(class_names)
    found = dict(zip(*np.unique(np.asarray(names)[labels], return_counts=True)))
    assert np.mean(labels == names.index(kind)) >= MIN_FRACTION, f"{kind}: {found}"
    if counts is not None:
        np.testing.assert_array_equal(counts, np.bincount(labels, minlength=len(names)))
    if expected is not None:
        np.testing.assert_array_equal(labels, expected)
