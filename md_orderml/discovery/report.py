"""What ``md-orderml discover`` writes: the clusters per frame, a summary, two figures and
representative environments.

* ``clusters.gsd`` (:class:`ClustersWriter`): one frame per input frame, particles in input
  order, the cluster of each particle as the per-particle log ``particles/md_orderml/cluster``
  (int32; -1 = none: ``unknown`` or vapour) and the cluster names as the JSON string
  ``md_orderml/cluster_names``.
* ``summary.json`` (:func:`write_summary`).
* ``fractions.png`` (:func:`plot_fractions`): the fraction of each cluster against the frame.
* ``map.png`` (:func:`plot_map`): the first two principal components of the fitted
  particles' embeddings, coloured by cluster.
* ``environments/cluster_<k>_<j>.xyz`` (:func:`environment_xyz`): a particle typical of
  cluster k with its neighbours, centred, as extended XYZ that OVITO and ASE read.
"""

from __future__ import annotations

import json
from typing import Dict, List, Sequence

import numpy as np

from md_orderml.frame import Frame
from md_orderml.io._common import AtomicFile

CLUSTER_LOG = "particles/md_orderml/cluster"  #: ``gsd.hoomd.Frame.log`` key of the clusters (int32 (N,))
CLUSTER_NAMES_LOG = "md_orderml/cluster_names"  #: ``gsd.hoomd.Frame.log`` key of the names (JSON string)
ENVIRONMENT_SHELLS = 2.0  #: an environment's radius, in units of the centre's 6th-neighbour distance


class ClustersWriter(AtomicFile):
    """Write frames with their per-particle clusters to a GSD file (atomically).

    Args:
        path: The ``.gsd`` file.
        names: Cluster names, index = cluster, length K.
    """

    def __init__(self, path, names: Sequence[str]):
        self.names = json.dumps(list(names))
        super().__init__(path)

    def _open(self, tmp_path: str) -> None:
        import gsd.hoomd

        self._traj = gsd.hoomd.open(tmp_path, mode="w")

    def _close(self) -> None:
        self._traj.close()

    def write(self, frame: Frame, clusters: np.ndarray) -> None:
        """Append ``frame`` with its clusters, shape (N,), int (-1 = none)."""
        from md_orderml.io.gsd_io import gsd_frame_from

        snap = gsd_frame_from(frame)
        snap.log[CLUSTER_LOG] = np.asarray(clusters, dtype=np.int32)
        snap.log[CLUSTER_NAMES_LOG] = self.names
        self._traj.append(snap)


def read_clusters(path) -> List[np.ndarray]:
    """The per-particle clusters of every frame of a ``clusters.gsd``: a list of (N,) int32 arrays."""
    import gsd.hoomd

    with gsd.hoomd.open(str(path), mode="r") as traj:
        return [np.asarray(f.log[CLUSTER_LOG], dtype=np.int32) for f in traj]


def write_summary(path, summary: Dict) -> None:
    """Write ``summary`` as indented JSON."""
    with open(path, "w") as handle:
        json.dump(summary, handle, indent=1)
        handle.write("\n")


def plot_fractions(path, fractions: np.ndarray, names: Sequence[str], labels: Sequence[str]) -> None:
    """Cluster fractions against the frame.

    Args:
        path: The ``.png`` to write.
        fractions: Fraction of each cluster (and last, of none) per frame, shape (F, K + 1).
        names: The K cluster names.
        labels: Tick label of each frame (``input:frame``), length F.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    x = np.arange(len(fractions))
    for k, name in enumerate(list(names) + ["none"]):
        ax.plot(x, fractions[:, k], marker="o" if len(x) < 40 else None, label=name,
                color="0.5" if name == "none" else None)
    ax.set_xlabel("frame")
    ax.set_ylabel("fraction of particles")
    ax.set_ylim(-0.02, 1.02)
    if len(x) <= 12:
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_map(path, points: np.ndarray, clusters: np.ndarray, names: Sequence[str]) -> None:
    """A 2D projection of the fitted embeddings coloured by cluster.

    Args:
        path: The ``.png`` to write.
        points: The first two principal components of each fitted particle, shape (M, 2).
        clusters: Its cluster, shape (M,) (-1 = none).
        names: The K cluster names.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 4.6))
    for k, name in enumerate(list(names) + ["none"]):
        where = clusters == (k if k < len(names) else -1)
        if where.any():
            ax.scatter(points[where, 0], points[where, 1], s=2, alpha=0.5, label=name,
                       color="0.6" if name == "none" else None)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.legend(fontsize=7, markerscale=4)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def environment_xyz(frame: Frame, index: int, comment: Dict[str, str]) -> str:
    """A particle's environment as extended XYZ text: the particle first, at the origin.

    The environment holds the particles within :data:`ENVIRONMENT_SHELLS` times the
    particle's 6th-neighbour distance (minimum image along periodic directions).

    Args:
        frame: The frame.
        index: The particle's index in it.
        comment: More ``key=value`` pairs for the comment line.

    Returns:
        The file's text.
    """
    box = frame.box
    cell = np.asarray(box.matrix, dtype=np.float64)
    d = np.asarray(frame.positions, dtype=np.float64) - frame.positions[index]
    periodic = np.asarray(box.periodic, dtype=bool)
    if periodic.any():
        frac = d @ np.linalg.inv(cell)
        frac[:, periodic] -= np.round(frac[:, periodic])
        d = frac @ cell
    r = np.linalg.norm(d, axis=1)
    order = np.argsort(r, kind="stable")
    d6 = r[order[min(6, len(order) - 1)]]
    keep = order[r[order] <= ENVIRONMENT_SHELLS * d6]
    names = [str(frame.type_names[t]) for t in frame.types[keep]]
    pairs = " ".join(f'{k}="{v}"' for k, v in comment.items())
    lines = [str(len(keep)), f'Properties=species:S:1:pos:R:3 pbc="F F F" {pairs}']
    lines += [f"{n} {x:.6f} {y:.6f} {z:.6f}" for n, (x, y, z) in zip(names, d[keep])]
    return "\n".join(lines) + "\n"
