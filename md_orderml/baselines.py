"""Classic structure identification run on the same frames, for comparisons.

OVITO's polyhedral template matching (PTM), adaptive common neighbour analysis
(a-CNA) and diamond identification, mapped onto md_orderml's class names. ``ovito``
is an optional extra (``pip install md_orderml[baselines]``) imported here only.
Particles a method does not recognise get the name ``"other"``. The frame's
:attr:`Box.periodic <md_orderml.frame.Box>` flags are OVITO's ``pbc`` (open directions are not wrapped).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from md_orderml.frame import Frame

OTHER = "other"


def _pipeline(frame: Frame, modifier):
    from ovito.data import DataCollection
    from ovito.pipeline import Pipeline, StaticSource

    data = DataCollection()
    matrix = np.zeros((3, 4))
    matrix[:, :3] = frame.box.matrix.T
    matrix[:, 3] = frame.box.corner
    periodic = frame.box.periodic
    data.create_cell(matrix, pbc=(periodic[0], periodic[1], periodic[2] and not frame.box.is2D))
    particles = data.create_particles(count=frame.N)
    particles.create_property("Position", data=frame.box.wrap(frame.positions))
    pipeline = Pipeline(source=StaticSource(data=data))
    pipeline.modifiers.append(modifier)
    return pipeline.compute()


def ptm_labels(frame: Frame, rmsd_cutoff: Optional[float] = 0.1) -> np.ndarray:
    """Polyhedral template matching with every structure template switched on.

    Args:
        frame: The configuration.
        rmsd_cutoff: OVITO's RMSD cutoff (its default is 0.1); 0 or None turns it off.

    Returns:
        Class name per particle (``fcc``, ``bcc``, ``hcp``, ``sc``, ``cd``, ``hd``,
        ``ico`` or ``other``), shape (N,).
    """
    from ovito.modifiers import PolyhedralTemplateMatchingModifier as PTM

    mod = PTM(rmsd_cutoff=float(rmsd_cutoff or 0.0))
    for t in (PTM.Type.SC, PTM.Type.CUBIC_DIAMOND, PTM.Type.HEX_DIAMOND, PTM.Type.ICO):
        mod.structures[t].enabled = True
    types = np.asarray(_pipeline(frame, mod).particles["Structure Type"])
    names = {PTM.Type.FCC: "fcc", PTM.Type.BCC: "bcc", PTM.Type.HCP: "hcp", PTM.Type.SC: "sc",
             PTM.Type.CUBIC_DIAMOND: "cd", PTM.Type.HEX_DIAMOND: "hd", PTM.Type.ICO: "ico"}
    return _to_names(types, names)


def acna_labels(frame: Frame) -> np.ndarray:
    """Adaptive common neighbour analysis (fcc, bcc, hcp, ico, other).

    Returns:
        Class name per particle, shape (N,).
    """
    from ovito.modifiers import CommonNeighborAnalysisModifier as CNA

    types = np.asarray(_pipeline(frame, CNA(mode=CNA.Mode.AdaptiveCutoff)).particles["Structure Type"])
    return _to_names(types, {CNA.Type.FCC: "fcc", CNA.Type.BCC: "bcc", CNA.Type.HCP: "hcp", CNA.Type.ICO: "ico"})


def diamond_labels(frame: Frame) -> np.ndarray:
    """OVITO's diamond identification; first and second neighbours of a diamond atom count too.

    Returns:
        Class name per particle (``cd``, ``hd``, ``other``), shape (N,).
    """
    from ovito.modifiers import IdentifyDiamondModifier as DIA

    types = np.asarray(_pipeline(frame, DIA()).particles["Structure Type"])
    names = {DIA.Type.CUBIC_DIAMOND: "cd", DIA.Type.CUBIC_DIAMOND_FIRST_NEIGHBOR: "cd",
             DIA.Type.CUBIC_DIAMOND_SECOND_NEIGHBOR: "cd", DIA.Type.HEX_DIAMOND: "hd",
             DIA.Type.HEX_DIAMOND_FIRST_NEIGHBOR: "hd", DIA.Type.HEX_DIAMOND_SECOND_NEIGHBOR: "hd"}
    return _to_names(types, names)


def cna_or_diamond_labels(frame: Frame) -> np.ndarray:
    """a-CNA, with diamond identification where a-CNA finds no fcc/bcc/hcp.

    Returns:
        Class name per particle, shape (N,).
    """
    cna = acna_labels(frame)
    dia = diamond_labels(frame)
    return np.where(np.isin(cna, ["fcc", "bcc", "hcp"]), cna, np.where(dia != OTHER, dia, cna))


def _to_names(types: np.ndarray, names: dict) -> np.ndarray:
    out = np.full(len(types), OTHER, dtype=object)
    for code, name in names.items():
        out[types == int(code)] = name
    return out
