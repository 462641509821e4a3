"""Pass 2 of discovery: label every frame with the cluster model file and write what it found."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np


def assign_all(inputs: Sequence[str], model_path, names: Sequence[str], sample, rows: Dict[int, List[int]],
               out: Path, progress: bool = False) -> List[Dict]:
    """Label every frame of every input with the model file; write ``clusters.gsd`` and the environments.

    Args:
        inputs: Trajectory files.
        model_path: The cluster model file (:func:`~md_orderml.discovery.cluster_model.save_cluster_model`).
        names: The K cluster names.
        sample: The fitted particles (:class:`~md_orderml.discovery.run.Sample`).
        rows: Rows of ``sample`` typical of each cluster (``{cluster: [rows]}``), written as environments.
        out: The (staging) output directory.
        progress: Print one line per frame.

    Returns:
        One record per frame: ``input``, ``frame``, ``particles``, ``sizes`` (per cluster) and
        ``none`` (unknown or vapour).
    """
    from md_orderml.analysis import OrderML
    from md_orderml.discovery.report import ClustersWriter, environment_xyz
    from md_orderml.io import open_trajectory

    k = len(names)
    labeler = OrderML(str(model_path))
    wanted: Dict[tuple, List[tuple]] = {}
    for cluster, chosen in rows.items():
        for j, row in enumerate(chosen):
            i, frame_index, particle = (int(v) for v in sample.where[row])
            wanted.setdefault((i, frame_index), []).append((cluster, j, particle))
    (out / "environments").mkdir()
    records = []
    with ClustersWriter(out / "clusters.gsd", names) as writer:
        for i, path in enumerate(inputs):
            with open_trajectory(path) as traj:
                for index, frame in enumerate(traj):
                    labels = labeler.compute(frame).labels
                    clusters = np.where(labels >= k, -1, labels).astype(np.int32)
                    writer.write(frame, clusters)
                    sizes = np.bincount(clusters[clusters >= 0], minlength=k)
                    records.append({"input": path, "frame": index, "particles": int(frame.N),
                                    "sizes": sizes.tolist(), "none": int((clusters < 0).sum())})
                    for cluster, j, particle in wanted.get((i, index), []):
                        text = environment_xyz(frame, particle, {
                            "cluster": names[cluster], "source": Path(path).name, "frame": str(index),
                            "particle": str(particle), "assigned": names[clusters[particle]]
                            if clusters[particle] >= 0 else "none"})
                        (out / "environments" / f"{names[cluster]}_{j}.xyz").write_text(text)
                    if progress:
                        print(f"assign: {path} frame {index}: " + " ".join(
                            f"{n}={s}" for n, s in zip(names, sizes)) + f" none={records[-1]['none']}", flush=True)
    return records
