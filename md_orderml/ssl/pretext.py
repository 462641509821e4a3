"""Pretext tasks on local environments: corruptions, heads and losses.

One corrupted copy of a batch goes through the backbone once; every enabled task
reads the same embedding (so tasks combine with weights at the cost of one forward):

* **denoising** (equivariant, l = 1 output): every particle is displaced by
  ``delta_i ~ N(0, sigma^2)`` per coordinate (``sigma`` drawn per configuration),
  i.e. bond ``r_ij`` becomes ``r_ij + delta_j - delta_i``. The head predicts each
  particle's displacement vector as
  ``d_i = sum_j s(e_i, e_j, |r_ij|) * r_ij / |r_ij|`` over its noisy bonds, with an
  invariant scalar ``s`` from an MLP on both embeddings and a Bessel expansion of the
  bond length times the smooth cutoff envelope. ``s`` is invariant and the unit bond
  vectors rotate with the input, so ``d`` is an exactly equivariant vector (l = 1).
  Loss: ``|d_i - delta_i|^2 / (3 v_i)`` averaged over particles, ``v_i`` the variance
  per coordinate of the particle's total displacement (including a shift, below), so
  predicting 0 scores 1.
* **noisy-bond identification**: a fraction of *directed* bonds get an extra random
  vector (only ``r_ij``, not ``r_ji``, so no particle moved); a bond classifier on
  ``(e_i, e_j, bond length, bond-angle profile of the bond in i's environment)``
  says which. The angle profile is ``sum_k w(r_ik) P_l(cos theta_jik)`` for l = 1..6
  (Legendre polynomials, radial envelope weights) - an invariant. Loss: binary
  cross-entropy, positives up-weighted to balance the classes.
* **shift identification**: a fraction of particles are shifted by a vector of fixed
  length in a random direction (on top of the denoising noise); a linear head on
  ``e_i`` says which. Loss: balanced binary cross-entropy.

* **contrast** (view invariance): a second, independently noised, rotated and
  rescaled view of the batch; InfoNCE between the two views' per-particle
  embeddings, negatives from other configurations
  (:mod:`md_orderml.ssl.contrast`). Costs a second backbone forward.
* **nearest_bond**: a fraction of particles is removed from the (noisy) graph; each
  particle whose nearest neighbour was removed predicts the bond vector to it, an
  equivariant l = 1 output (:mod:`md_orderml.ssl.nearest_bond`). Costs a second
  backbone forward (on the graph with holes).
* **pointgroup**: a batch of generated symmetric point clouds (random point group,
  random seeds, rotation and noise; :mod:`md_orderml.ssl.pointgroups`); a linear head
  on the centre's embedding classifies the group. Cross-entropy.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List

import numpy as np
import torch
from torch import nn

from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.radial import BesselBasis, PolynomialCutoff
from md_orderml.ssl.pointgroups import GROUPS, pointgroup_batch
from md_orderml.ssl.contrast import ProjectionHead, contrast_loss, pick_anchors, second_view
from md_orderml.ssl.nearest_bond import HOLE_FRACTION, holes_and_targets, nearest_bond_loss

TASKS = ("denoise", "noisy_bond", "shift", "contrast", "nearest_bond", "pointgroup")


@dataclasses.dataclass
class PretextConfig:
    """Weights and corruption strengths of the pretext tasks (lengths in model units).

    Attributes:
        weights: Task name -> loss weight; 0 (or absent) disables a task and its corruption.
        sigma_min: Smallest per-configuration denoising noise (per coordinate).
        sigma_max: Largest per-configuration denoising noise.
        bond_fraction: Fraction of directed bonds corrupted for noisy-bond identification.
        bond_noise: Std per coordinate of the extra vector of a corrupted bond.
        shift_fraction: Fraction of particles shifted for shift identification.
        shift_length: Length of the shift.
        contrast_temperature: InfoNCE temperature.
        contrast_jitter: Relative half-width of the second view's length factor.
        contrast_anchors: Particles per batch entering the InfoNCE loss.
        hole_fraction: Fraction of particles removed for nearest-bond prediction.
        pointgroup_clouds: Generated clouds per batch.
        pointgroup_noise: Largest noise (per coordinate) on the clouds' points.
    """

    weights: Dict[str, float] = dataclasses.field(
        default_factory=lambda: {"denoise": 1.0, "noisy_bond": 0.5, "shift": 0.5})
    sigma_min: float = 0.02
    sigma_max: float = 0.12
    bond_fraction: float = 0.1
    bond_noise: float = 0.25
    shift_fraction: float = 0.1
    shift_length: float = 0.25
    contrast_temperature: float = 0.1
    contrast_jitter: float = 0.05
    contrast_anchors: int = 1024
    hole_fraction: float = HOLE_FRACTION
    pointgroup_clouds: int = 32
    pointgroup_noise: float = 0.08

    def weight(self, task: str) -> float:
        """Loss weight of ``task`` (0 when disabled)."""
        return float(self.weights.get(task, 0.0))


def corrupt(batch: Dict[str, torch.Tensor], graph_of_node: torch.Tensor, n_graphs: int,
            config: PretextConfig, generator: torch.Generator) -> Dict[str, torch.Tensor]:
    """Corrupt a collated batch for the enabled tasks.

    Args:
        batch: ``types`` (N,), ``edge_index`` (2, E), ``edge_vec`` (E, 3).
        graph_of_node: Configuration index of each node, shape (N,).
        n_graphs: Number of configurations in the batch.
        config: Task settings.
        generator: Random generator (CPU).

    Returns:
        ``edge_vec`` (E, 3) noisy bonds, ``displacement`` (N, 3), ``sigma`` (N,),
        ``bond_target`` (E,) and ``shift_target`` (N,) as floats in {0, 1}; with
        ``contrast`` also ``view_vec`` (E, 3) (second view), ``anchors`` (M,) and
        ``graph`` (N,); with ``nearest_bond`` also ``nearest_keep`` (E,),
        ``nearest_centres`` (M,) and ``nearest_target`` (M, 3)
        (:func:`~md_orderml.ssl.nearest_bond.holes_and_targets`); with ``pointgroup``
        also ``pointgroup_seed`` (an int64 seed of the clouds, which
        :class:`PretextModel` generates at its cutoff).
    """
    vec = batch["edge_vec"]
    n, e = batch["types"].shape[0], vec.shape[0]
    src, dst = batch["edge_index"][0], batch["edge_index"][1]
    sigma = torch.zeros(n)
    displacement = torch.zeros(n, 3)
    if config.weight("denoise") > 0 or config.weight("contrast") > 0:
        per_graph = config.sigma_min + (config.sigma_max - config.sigma_min) * torch.rand(n_graphs, generator=generator)
        sigma = per_graph[graph_of_node]
        displacement = torch.randn(n, 3, generator=generator) * sigma[:, None]
    shift_target = torch.zeros(n)
    if config.weight("shift") > 0:
        shift_target = (torch.rand(n, generator=generator) < config.shift_fraction).float()
        direction = torch.randn(n, 3, generator=generator)
        direction = direction / torch.linalg.vector_norm(direction, dim=1, keepdim=True).clamp_min(1e-9)
        displacement = displacement + shift_target[:, None] * config.shift_length * direction
    noisy = vec + displacement[dst] - displacement[src]
    bond_target = torch.zeros(e)
    if config.weight("noisy_bond") > 0:
        bond_target = (torch.rand(e, generator=generator) < config.bond_fraction).float()
        noisy = noisy + bond_target[:, None] * config.bond_noise * torch.randn(e, 3, generator=generator)
    out = {"edge_vec": noisy, "displacement": displacement, "sigma": sigma,
           "bond_target": bond_target, "shift_target": shift_target}
    if config.weight("contrast") > 0:
        out["view_vec"] = second_view(vec, batch["edge_index"], graph_of_node, n_graphs, config.sigma_min,
                                      config.sigma_max, config.contrast_jitter, generator)
        out["anchors"] = pick_anchors(n, config.contrast_anchors, generator)
        out["graph"] = graph_of_node
    if config.weight("nearest_bond") > 0:
        out.update(holes_and_targets(batch["edge_index"], noisy, n, config.hole_fraction, generator))
    if config.weight("pointgroup") > 0:
        out["pointgroup_seed"] = torch.randint(2**62, (1,), generator=generator)
    return out


class BondFeatures(nn.Module):
    """Invariant bond-length features: a Bessel basis times the smooth cutoff envelope.

    Args:
        cutoff: Dimensionless cutoff.
        n_basis: Basis size.
    """

    def __init__(self, cutoff: float, n_basis: int = 8):
        super().__init__()
        self.cutoff = float(cutoff)
        self.basis = BesselBasis(n_basis)
        self.envelope = PolynomialCutoff(6.0)

    def forward(self, vec: torch.Tensor):
        """Features (E, n_basis), envelope (E,) and unit vectors (E, 3) of bonds ``vec`` (E, 3)."""
        length = torch.linalg.vector_norm(vec, dim=1)
        r = length / self.cutoff
        envelope = self.envelope(r)
        unit = vec / length.clamp_min(1e-9)[:, None]
        return self.basis(r.clamp(1e-6, 1.0)) * envelope[:, None], envelope, unit


def angle_profile(edge_index: torch.Tensor, unit: torch.Tensor, envelope: torch.Tensor,
                  n: int, l_max: int = 6) -> torch.Tensor:
    """Bond-angle profile of every bond within its centre's environment.

    ``F[ij, l] = sum_k w_ik P_l(u_ij . u_ik)`` for l = 1..l_max (k != j), via the
    addition theorem: ``P_l(u.v) = 4 pi / (2l+1) sum_m Y_lm(u) Y_lm(v)``.

    Args:
        edge_index: (centre, neighbour), shape (2, E).
        unit: Unit bond vectors, shape (E, 3).
        envelope: Bond weights ``w``, shape (E,).
        n: Number of nodes.
        l_max: Largest Legendre degree.

    Returns:
        Profile, shape (E, l_max).
    """
    from e3nn import o3

    sh = o3.spherical_harmonics(list(range(1, l_max + 1)), unit, normalize=False, normalization="integral")
    density = torch.zeros(n, sh.shape[1], dtype=sh.dtype).index_add_(0, edge_index[0], sh * envelope[:, None])
    density = density[edge_index[0]] - sh * envelope[:, None]  # leave the bond itself out
    out: List[torch.Tensor] = []
    start = 0
    for l in range(1, l_max + 1):
        width = 2 * l + 1
        dot = (density[:, start:start + width] * sh[:, start:start + width]).sum(1)
        out.append(dot * (4.0 * torch.pi / width))
        start += width
    return torch.stack(out, 1)


def bond_vector_sum(scalar_mlp: nn.Module, embedding: torch.Tensor, edge_index: torch.Tensor, feats: torch.Tensor,
                    envelope: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """Equivariant vector per particle: ``v_i = sum_j s(e_i, e_j, f_ij) * w_ij * u_ij``.

    ``s`` is the invariant output of ``scalar_mlp`` on both embeddings and the bond
    features, ``w`` the cutoff envelope and ``u`` the unit bond vector, so ``v``
    rotates with the input (an l = 1 output).

    Args:
        scalar_mlp: Module mapping (E, 2 D + n_basis) to (E, 1).
        embedding: Invariant embedding, shape (N, D).
        edge_index: (centre, neighbour), shape (2, E).
        feats: Bond features (:class:`BondFeatures`), shape (E, n_basis).
        envelope: Cutoff envelope, shape (E,).
        unit: Unit bond vectors, shape (E, 3).

    Returns:
        Vectors, shape (N, 3).
    """
    src, dst = edge_index[0], edge_index[1]
    s = scalar_mlp(torch.cat([embedding[src], embedding[dst], feats], 1))[:, 0] * envelope
    return torch.zeros(embedding.shape[0], 3, dtype=unit.dtype).index_add_(0, src, s[:, None] * unit)


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out))


class PretextModel(nn.Module):
    """The backbone with every pretext head.

    Args:
        backbone: The equivariant backbone being pretrained.
        hidden: Width of the heads' hidden layers.
    """

    def __init__(self, backbone: EquivariantBackbone, hidden: int = 64):
        super().__init__()
        self.backbone = backbone
        d = backbone.embedding_dim
        self.bond_features = BondFeatures(backbone.cutoff)
        nb = self.bond_features.basis.freqs.shape[0]
        self.denoise_head = _mlp(2 * d + nb, hidden, 1)
        self.bond_head = _mlp(2 * d + nb + 6, hidden, 1)
        self.shift_head = nn.Linear(d, 1)
        self.projection = ProjectionHead(d)
        self.pointgroup_head = nn.Linear(d, len(GROUPS))
        self.nearest_head = _mlp(2 * d + nb, hidden, 1)

    def denoise(self, embedding: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor,
                avg_neighbors: float = 16.0) -> torch.Tensor:
        """Equivariant displacement prediction.

        Args:
            embedding: Invariant embedding, shape (N, D).
            edge_index: (centre, neighbour), shape (2, E).
            edge_vec: Noisy bond vectors, shape (E, 3).
            avg_neighbors: Normalisation of the bond sum.

        Returns:
            Predicted displacement of every particle, shape (N, 3) (an l = 1 vector).
        """
        vectors = bond_vector_sum(self.denoise_head, embedding, edge_index, *self.bond_features(edge_vec))
        return vectors * (1.0 / avg_neighbors)

    def nearest_bond(self, embedding: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor) -> torch.Tensor:
        """Equivariant prediction of the bond to a removed nearest neighbour (:mod:`md_orderml.ssl.nearest_bond`).

        Args:
            embedding: Invariant embedding of the graph with holes, shape (N, D).
            edge_index: Its bonds, shape (2, E').
            edge_vec: Their vectors, shape (E', 3).

        Returns:
            Prediction per particle, shape (N, 3) (an l = 1 vector).
        """
        return bond_vector_sum(self.nearest_head, embedding, edge_index, *self.bond_features(edge_vec))

    def forward(self, batch: Dict[str, torch.Tensor], corrupted: Dict[str, torch.Tensor],
                config: PretextConfig) -> Dict[str, torch.Tensor]:
        """Losses of the enabled tasks on one corrupted batch (see :func:`corrupt`).

        Returns:
            Task name -> scalar loss, and ``"total"``: the weighted sum.
        """
        edge_index, vec = batch["edge_index"], corrupted["edge_vec"]
        embedding = self.backbone(batch["types"], edge_index, vec)
        losses: Dict[str, torch.Tensor] = {}
        if config.weight("denoise") > 0:
            pred = self.denoise(embedding, edge_index, vec, float(self.backbone.config["avg_neighbors"]))
            variance = corrupted["sigma"].pow(2) + corrupted["shift_target"] * (config.shift_length ** 2 / 3.0)
            err = (pred - corrupted["displacement"]).pow(2).sum(1) / (3.0 * variance.clamp_min(1e-12))
            losses["denoise"] = err.mean()
        if config.weight("noisy_bond") > 0:
            feats, envelope, unit = self.bond_features(vec)
            profile = angle_profile(edge_index, unit, envelope, embedding.shape[0])
            logits = self.bond_head(torch.cat([embedding[edge_index[0]], embedding[edge_index[1]], feats, profile], 1))
            losses["noisy_bond"] = _balanced_bce(logits[:, 0], corrupted["bond_target"])
        if config.weight("shift") > 0:
            losses["shift"] = _balanced_bce(self.shift_head(embedding)[:, 0], corrupted["shift_target"])
        if config.weight("contrast") > 0:
            other = self.backbone(batch["types"], edge_index, corrupted["view_vec"])
            losses["contrast"] = contrast_loss(self.projection, embedding, other, corrupted,
                                               config.contrast_temperature)
        if config.weight("nearest_bond") > 0:
            keep = corrupted["nearest_keep"]
            kept_index, kept_vec = edge_index[:, keep], vec[keep]
            holed = self.backbone(batch["types"], kept_index, kept_vec)
            pred = self.nearest_bond(holed, kept_index, kept_vec)
            losses["nearest_bond"] = nearest_bond_loss(pred, corrupted["nearest_centres"], corrupted["nearest_target"])
        if config.weight("pointgroup") > 0:
            rng = np.random.default_rng(int(corrupted["pointgroup_seed"]))
            clouds = pointgroup_batch(config.pointgroup_clouds, self.backbone.cutoff, config.pointgroup_noise, rng)
            centres = clouds["labels"] >= 0
            emb = self.backbone(clouds["types"], clouds["edge_index"], clouds["edge_vec"])[centres]
            losses["pointgroup"] = nn.functional.cross_entropy(self.pointgroup_head(emb), clouds["labels"][centres])
        losses["total"] = sum(config.weight(k) * v for k, v in losses.items())
        return losses


def _balanced_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    positives = target.sum().clamp_min(1.0)
    pos_weight = (target.numel() - positives) / positives
    return nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
