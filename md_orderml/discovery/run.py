"""``discover``: find the distinct environments of trajectories without labels.

Two streaming passes over the inputs (one frame in memory at a time):

1. *Fit.* The frames picked by ``frames`` are embedded with the backbone (neighbour-averaged,
   :func:`~md_orderml.discovery.cluster_model.environment_model`); at most ``fit_particles``
   particles, drawn evenly from those frames (vapour left out), are kept, with the default
   model's label of each (the nearest built-in class). They are clustered
   (:func:`~md_orderml.discovery.clustering.fit_clusters`) and the cluster model is trained
   on them (:func:`~md_orderml.discovery.cluster_model.cluster_labeler`) and saved as
   ``DIR/model.pt``.
2. *Assign.* Every frame of every input is labelled with that model file through
   :class:`~md_orderml.analysis.OrderML`, exactly as ``md-orderml label`` and the engines
   would label it; its labels are the clusters written to ``clusters.gsd`` (``unknown`` = -1).

Everything goes to a hidden directory first and moves into ``DIR`` at the end, so a failed
run leaves no partial output.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from md_orderml.errors import InputError

FIT_PARTICLES = 100_000  #: default number of particles the clusters are fitted on
REPRESENTATIVES = 3  #: environments written per cluster


@dataclasses.dataclass
class FrameRange:
    """Frames ``start:stop:stride`` of every input (the fitted frames)."""

    start: int = 0
    stop: Optional[int] = None
    stride: int = 1

    @classmethod
    def parse(cls, text: Optional[str]) -> "FrameRange":
        """``"A:B"``, ``"A:B:S"``, ``"A:"``, ``":B"`` or None (all frames).

        Raises:
            InputError: Not of that form.
        """
        if text is None or text.strip() in ("", ":"):
            return cls()
        parts = text.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            start = int(parts[0]) if parts[0] else 0
            stop = int(parts[1]) if parts[1] else None
            stride = int(parts[2]) if len(parts) == 3 and parts[2] else 1
        except ValueError:
            raise InputError(f"--frames {text!r}: expected START:STOP or START:STOP:STRIDE") from None
        if start < 0 or (stop is not None and stop <= start) or stride < 1:
            raise InputError(f"--frames {text!r}: need 0 <= START < STOP and STRIDE >= 1")
        return cls(start, stop, stride)


@dataclasses.dataclass
class Sample:
    """The fitted particles: embeddings and where they came from.

    Attributes:
        embedding: Neighbour-averaged embeddings, shape (M, D).
        builtin: The default model's label of each, shape (M,).
        where: ``(input index, frame index, particle index)`` of each, shape (M, 3).
    """

    embedding: np.ndarray
    builtin: np.ndarray
    where: np.ndarray


def fit_sample(inputs: Sequence[str], frames: FrameRange, env_model, builtin, fit_particles: int,
               seed: int, progress: bool = False) -> Sample:
    """Embed the fitted frames and keep at most ``fit_particles`` particles (pass 1).

    Args:
        inputs: Trajectory files.
        frames: The fitted frames of each input.
        env_model: :func:`~md_orderml.discovery.cluster_model.environment_model`'s model.
        builtin: An :class:`~md_orderml.analysis.OrderML` of the default model.
        fit_particles: Most particles kept.
        seed: Seed of the draw.
        progress: Print one line per frame.

    Raises:
        InputError: No fitted frame, or no particle with an environment.
    """
    from md_orderml.analysis import OrderML
    from md_orderml.io import open_trajectory

    embedder = OrderML(env_model)
    counts = [open_trajectory(p, start=frames.start, stop=frames.stop, stride=frames.stride).count() for p in inputs]
    if sum(counts) == 0:
        raise InputError(f"--frames {frames.start}:{frames.stop or ''}:{frames.stride} picks no frame of "
                         f"{', '.join(inputs)}")
    per_frame = int(np.ceil(fit_particles / sum(counts)))
    rng = np.random.default_rng(seed)
    parts, labels, where = [], [], []
    for i, path in enumerate(inputs):
        with open_trajectory(path, start=frames.start, stop=frames.stop, stride=frames.stride) as traj:
            for j, frame in enumerate(traj):
                index = frames.start + j * frames.stride
                embedder.compute(frame)
                has_env = np.flatnonzero(embedder.labels == 0)
                chosen = np.sort(rng.choice(has_env, min(per_frame, len(has_env)), replace=False))
                parts.append(embedder.embedding[chosen])
                labels.append(builtin.compute(frame).labels[chosen])
                where.append(np.column_stack([np.full(len(chosen), i), np.full(len(chosen), index), chosen]))
                if progress:
                    print(f"fit: {path} frame {index}: {len(chosen)} of {frame.N} particles", flush=True)
    embedding = np.concatenate(parts)
    if len(embedding) == 0:
        raise InputError("no particle of the fitted frames has an environment (all vapour)")
    return Sample(embedding.astype(np.float32), np.concatenate(labels), np.concatenate(where).astype(np.int64))


def nearest_builtin(clusters: np.ndarray, builtin: np.ndarray, n_clusters: int, names: Sequence[str]) -> List[Dict]:
    """The most common default-model class in each cluster and its share: ``[{"class", "fraction"}]``."""
    out = []
    for k in range(n_clusters):
        members = builtin[clusters == k]
        if len(members) == 0:
            out.append({"class": None, "fraction": 0.0})
            continue
        values, count = np.unique(members, return_counts=True)
        best = int(np.argmax(count))
        out.append({"class": str(names[int(values[best])]), "fraction": round(float(count[best] / len(members)), 4)})
    return out


def representatives(labeler, sample: Sample, clusters: np.ndarray, n_clusters: int,
                    per_cluster: int = REPRESENTATIVES) -> Dict[int, List[int]]:
    """The rows of ``sample`` most typical of each cluster (nearest its mean): ``{cluster: [rows]}``."""
    import torch

    with torch.no_grad():
        distance = labeler.unknown_rule.squared_distances(
            torch.as_tensor(sample.embedding), torch.as_tensor(clusters)).numpy()
    chosen = {}
    for k in range(n_clusters):
        rows = np.flatnonzero(clusters == k)
        chosen[k] = rows[np.argsort(distance[rows], kind="stable")[:per_cluster]].tolist()
    return chosen


class StagingDirectory:
    """A hidden directory beside ``out_dir`` whose files move into ``out_dir`` on :meth:`commit`."""

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise InputError(f"{self.out_dir}: exists and is not a directory")
        parent = self.out_dir.resolve().parent
        if not parent.is_dir():
            raise InputError(f"{self.out_dir}: the parent directory {parent} does not exist")
        self.path = parent / f".{self.out_dir.name}.{uuid.uuid4().hex[:12]}.tmp"
        self.path.mkdir()

    def commit(self) -> None:
        """Move every staged entry into ``out_dir`` (replacing entries of the same name)."""
        self.out_dir.mkdir(exist_ok=True)
        for entry in sorted(self.path.iterdir()):
            target = self.out_dir / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
        self.path.rmdir()

    def discard(self) -> None:
        """Delete the staged files."""
        shutil.rmtree(self.path, ignore_errors=True)


def discover(inputs: Sequence[str], out_dir, n_clusters: Union[str, int] = "auto", frames: Optional[str] = None,
             model: str = "default", export=None, fit_particles: int = FIT_PARTICLES, max_clusters: int = 12,
             seed: int = 0, progress: bool = False) -> Dict:
    """Find the environments of ``inputs``, write ``out_dir`` (see :mod:`md_orderml.discovery.report`).

    Args:
        inputs: Trajectory files (GSD, LAMMPS dump, XYZ).
        out_dir: Output directory (created; files of the same names are replaced).
        n_clusters: ``"auto"`` or K.
        frames: ``"A:B[:S]"``: the frames of each input the clusters are fitted on (None: all).
        model: The backbone: a model file's (``"default"``, the default classifier's, or a
            path), ``"pretrained"`` (the shipped self-supervised one) or a pretraining checkpoint.
        export: Also copy the cluster model file here.
        fit_particles: Most particles the clusters are fitted on.
        max_clusters: Most clusters ``"auto"`` tries.
        seed: Seed of the draw, the mixture and the head.
        progress: Print progress lines.

    Returns:
        The summary (also ``out_dir/summary.json``).

    Raises:
        InputError: Bad inputs or options (nothing is written then).
    """
    if not inputs:
        raise InputError("discover needs at least one input file")
    for path in inputs:
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such file")
    if fit_particles < 10:
        raise InputError(f"--fit-particles must be >= 10, got {fit_particles}")
    fit_frames = FrameRange.parse(frames)
    staging = StagingDirectory(out_dir)
    try:
        summary = _discover(list(map(str, inputs)), staging.path, n_clusters, fit_frames, model, fit_particles,
                            max_clusters, seed, progress)
        if export is not None:
            shutil.copyfile(staging.path / "model.pt", Path(export).with_name(f".{Path(export).name}.tmp"))
        staging.commit()
        if export is not None:
            os.replace(Path(export).with_name(f".{Path(export).name}.tmp"), export)
    except BaseException:
        staging.discard()
        if export is not None:
            Path(export).with_name(f".{Path(export).name}.tmp").unlink(missing_ok=True)
        raise
    return summary


def _discover(inputs: List[str], out: Path, n_clusters, fit_frames: FrameRange, model: str, fit_particles: int,
              max_clusters: int, seed: int, progress: bool) -> Dict:
    from md_orderml.analysis import OrderML
    from md_orderml.discovery.assign import assign_all
    from md_orderml.discovery.cluster_model import (AVERAGE_RADIUS, cluster_labeler, cluster_names,
                                                    environment_model, save_cluster_model)
    from md_orderml.discovery.clustering import fit_clusters
    from md_orderml.backbones import load_backbone

    backbone, info = load_backbone(model)
    if info["length_unit"] != "local":
        raise InputError(f"{model}: discovery needs a backbone in the local length unit, this one is "
                         f"{info['length_unit']!r}")
    builtin = OrderML("default")
    sample = fit_sample(inputs, fit_frames, environment_model(backbone, source=str(model)), builtin,
                        fit_particles, seed, progress)
    fit = fit_clusters(sample.embedding, n_clusters, max_clusters, seed)
    k = fit.n_clusters
    mixture_clusters = fit.predict(sample.embedding)
    labeler, unknown_record = cluster_labeler(backbone, sample.embedding, mixture_clusters, k, seed=seed)
    training = {"kind": "discovery", "backbone": info, "inputs": inputs,
                "fit_frames": dataclasses.asdict(fit_frames), "fit_particles": int(len(sample.embedding)),
                "average_radius": AVERAGE_RADIUS, "clusters": k, "bic": {str(n): b for n, b in fit.bic.items()},
                "pca_components": int(fit.pca.n_components_), "seed": seed}
    model_path = save_cluster_model(labeler, unknown_record, out / "model.pt", training)
    names = cluster_names(k)[:-1]
    rows = representatives(labeler, sample, mixture_clusters, k)
    frames_summary = assign_all(inputs, model_path, names, sample, rows, out, progress)
    import torch

    with torch.no_grad():
        head_clusters = labeler.unknown_rule(torch.as_tensor(sample.embedding),
                                             labeler.head(torch.as_tensor(sample.embedding)).argmax(1)).numpy()
    head_clusters = np.where(head_clusters >= k, -1, head_clusters)
    points = fit.reduce(sample.embedding)[:, :2]
    points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))  # one component: a line on the map
    _figures(out, points, head_clusters, names, frames_summary)
    builtin_names = [n for n in builtin.class_names]
    nearest = nearest_builtin(head_clusters, sample.builtin, k, builtin_names)
    summary = {
        "inputs": inputs, "model": "model.pt", "backbone": info, "clusters_tried": training["bic"],
        "n_clusters": k, "fit_particles": int(len(sample.embedding)), "head_agreement": unknown_record["agreement"],
        "clusters": [{"name": names[c], "fit_particles": int((head_clusters == c).sum()), "nearest_builtin": nearest[c],
                      "environments": [f"environments/{names[c]}_{j}.xyz" for j in range(len(rows[c]))]}
                     for c in range(k)],
        "frames": frames_summary,
    }
    from md_orderml.discovery.report import write_summary

    write_summary(out / "summary.json", summary)
    return summary


def _figures(out: Path, points: np.ndarray, clusters: np.ndarray, names: Sequence[str], frames: List[Dict]) -> None:
    from md_orderml.discovery.report import plot_fractions, plot_map

    sizes = np.array([f["sizes"] + [f["none"]] for f in frames], dtype=float)
    fractions = sizes / np.maximum(sizes.sum(1, keepdims=True), 1)
    plot_fractions(out / "fractions.png", fractions, names, [f"{f['input']}:{f['frame']}" for f in frames])
    keep = np.random.default_rng(0).permutation(len(points))[:20000]
    plot_map(out / "map.png", points[keep], clusters[keep], names)
