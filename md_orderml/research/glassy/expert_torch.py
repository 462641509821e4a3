"""Boattini-style expert features inside a model file, and the hybrid propensity model built on them.

:func:`md_orderml.research.glassy.propensity.expert_features` (numpy + freud) feeds the ridge
baseline. :class:`ExpertFeatures` computes the same descriptors in TorchScript from a
neighbour graph, so a model file can carry them and run on the fly in LAMMPS and HOOMD.
:class:`HybridPropensityRegressor` adds the equivariant network's prediction and a ridge
regression on these features, with one weight each per time scale::

    values = a * network(graph) + b * ridge(features(graph)) + c

The ridge is fitted in closed form on the training configurations, the network as
usual (:func:`~md_orderml.research.glassy.propensity.fit_regressor`), and ``a, b, c`` by least
squares on the validation configuration (:func:`fit_blend`). Lengths are in units of
``(V/N)^(1/3)`` like everywhere in the package; the descriptors' radii are given in
``sigma`` and converted with ``unit``, the length of that unit in sigma at the training
density (``(1 / 1.2) ** (1/3)`` for the Kob-Andersen data).
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from e3nn import o3
from torch import nn

#: Shell centres of the radial descriptors, sigma (as ``expert_features``).
DEFAULT_SHELLS = tuple(float(r) for r in np.arange(0.7, 2.51, 0.1))


class ExpertFeatures(nn.Module):
    """Radial shells per neighbour type, Steinhardt ``q_l`` and their neighbour averages.

    Same definition as :func:`~md_orderml.research.glassy.propensity.expert_features`:
    ``G_k^s(i) = sum_{j of type s} exp(-(r_ij - r_k)^2 / (2 width^2))``, ``q_l(i)`` of the
    neighbours within ``first_shell`` (freud's normalisation, 0 without neighbours), then
    all of them averaged over the particles within ``coarse`` (self included) and appended.

    Args:
        unit: Length of one model unit ``(V/N)^(1/3)`` in sigma at the training density.
        shells: Shell centres, sigma.
        width: Gaussian width, sigma.
        ls: Steinhardt degrees.
        first_shell: Neighbour cutoff of ``q_l``, sigma.
        coarse: Radius of the neighbour average, sigma.
        n_types: Particle types (model types 0..n_types-1).
    """

    __jit_unused_properties__ = ["cutoff", "receptive_field"]

    def __init__(self, unit: float, shells: Sequence[float] = DEFAULT_SHELLS, width: float = 0.1,
                 ls: Sequence[int] = tuple(range(1, 9)), first_shell: float = 1.45, coarse: float = 2.0,
                 n_types: int = 2):
        super().__init__()
        self.unit = float(unit)
        self.register_buffer("shells", torch.tensor([float(s) for s in shells], dtype=torch.float32))
        self.width = float(width)
        self.ls = [int(v) for v in ls]
        self.first_shell = float(first_shell)
        self.coarse = float(coarse)
        self.n_types = int(n_types)
        self.local_radius = float(max(max(shells) + 3 * width, coarse, first_shell))
        self.sh = o3.SphericalHarmonics(self.ls, normalize=True, normalization="integral")
        blocks = []  # which degree each spherical-harmonic component belongs to
        for k, l in enumerate(self.ls):
            blocks += [k] * (2 * l + 1)
        self.register_buffer("block", torch.tensor(blocks, dtype=torch.int64))
        self.register_buffer("prefactor", torch.tensor([4 * np.pi / (2 * l + 1) for l in self.ls], dtype=torch.float32))
        self.n_features = 2 * (self.n_types * len(self.shells) + len(self.ls))

    @property
    def cutoff(self) -> float:
        """Neighbour cutoff the graph must have, model units."""
        return self.local_radius / self.unit

    @property
    def receptive_field(self) -> float:
        """Farthest particle that changes a feature, model units."""
        return (max(float(self.shells.max()) + 3 * self.width, self.first_shell) + self.coarse) / self.unit

    def forward(self, types: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor) -> torch.Tensor:
        """Features of every particle.

        Args:
            types: Model type per particle, shape (N,), int64.
            edge_index: (centre, neighbour), shape (2, E), every pair within :attr:`cutoff`.
            edge_vec: Bond vectors in model units, shape (E, 3).

        Returns:
            Features, shape (N, 2 * (n_types * len(shells) + len(ls))), float32.
        """
        n = types.shape[0]
        vec = edge_vec.to(torch.float32) * self.unit
        r = torch.sqrt((vec * vec).sum(dim=1))
        i, j = edge_index[0], edge_index[1]
        inside = r < self.local_radius
        gauss = torch.exp(-((r[:, None] - self.shells[None, :]) ** 2) / (2 * self.width ** 2))
        parts = []
        for t in range(self.n_types):
            m = inside & (types[j] == t)
            parts.append(torch.zeros(n, self.shells.shape[0], dtype=gauss.dtype, device=gauss.device)
                         .index_add_(0, i[m], gauss[m]))
        first = r < self.first_shell
        ylm = self.sh(vec[first])
        qlm = torch.zeros(n, ylm.shape[1], dtype=ylm.dtype, device=ylm.device).index_add_(0, i[first], ylm)
        count = torch.zeros(n, dtype=ylm.dtype, device=ylm.device).index_add_(
            0, i[first], torch.ones_like(r[first]))
        qlm = qlm / count.clamp_min(1.0)[:, None]
        power = torch.zeros(n, len(self.ls), dtype=ylm.dtype, device=ylm.device).index_add_(1, self.block, qlm * qlm)
        parts.append(torch.sqrt(power * self.prefactor[None, :]))
        local = torch.cat(parts, dim=1)
        near = r < self.coarse
        summed = local.index_add(0, i[near], local[j[near]])
        neighbours = 1.0 + torch.zeros(n, dtype=local.dtype, device=local.device).index_add_(
            0, i[near], torch.ones_like(r[near]))
        return torch.cat([local, summed / neighbours[:, None]], dim=1)


class HybridPropensityRegressor(nn.Module):
    """Equivariant network plus a ridge on :class:`ExpertFeatures`, blended per output.

    ``values = a * network + b * ridge + c`` with ``(a, b, c)`` per output in
    ``blend`` (S, 3); a fresh model has ``(1, 0, 0)``: the network alone. The ridge has
    its own coefficients per particle type.

    Args:
        network: A trained :class:`~md_orderml.research.glassy.propensity.PropensityRegressor`.
        features: The descriptors (their cutoff may exceed the network's).
    """

    __jit_unused_properties__ = ["receptive_field"]

    def __init__(self, network: nn.Module, features: ExpertFeatures):
        super().__init__()
        self.network = network
        self.features = features
        self.network_cutoff = float(network.backbone.cutoff)
        self.cutoff = max(self.network_cutoff, features.cutoff)
        n_out, n_feat, n_types = network.head[-1].out_features, features.n_features, features.n_types
        self.register_buffer("feature_mean", torch.zeros(n_types, n_feat))
        self.register_buffer("feature_std", torch.ones(n_types, n_feat))
        self.register_buffer("ridge_weight", torch.zeros(n_types, n_feat, n_out))
        self.register_buffer("ridge_bias", torch.zeros(n_types, n_out))
        self.register_buffer("blend", torch.tensor([[1.0, 0.0, 0.0]] * n_out))

    @property
    def receptive_field(self) -> float:
        """Farthest particle that changes a value, model units."""
        return max(self.network_cutoff * int(self.network.backbone.config["n_layers"]), self.features.receptive_field)

    def set_ridge(self, particle_type: int, mean: np.ndarray, std: np.ndarray, weight: np.ndarray,
                  bias: np.ndarray) -> None:
        """Install the ridge of one particle type: ``((f - mean) / std) @ weight + bias``.

        Args:
            particle_type: Model type index.
            mean: Feature means, shape (F,).
            std: Feature standard deviations, shape (F,).
            weight: Coefficients, shape (F, S).
            bias: Intercepts, shape (S,).
        """
        for name, value in (("feature_mean", mean), ("feature_std", std), ("ridge_weight", weight),
                            ("ridge_bias", bias)):
            getattr(self, name)[particle_type].copy_(torch.as_tensor(np.asarray(value), dtype=torch.float32))

    def parts(self, types: torch.Tensor, edge_index: torch.Tensor,
              edge_vec: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The network's and the ridge's predictions and the embedding.

        Args:
            types: Model type per particle, shape (N,).
            edge_index: (centre, neighbour), shape (2, E), every pair within :attr:`cutoff`.
            edge_vec: Bond vectors in model units, shape (E, 3).

        Returns:
            ``(network (N, S), ridge (N, S), embedding (N, D))``.
        """
        keep = (edge_vec * edge_vec).sum(dim=1) < self.network_cutoff ** 2
        embedding = self.network.backbone(types, edge_index[:, keep], edge_vec[keep])
        net = self.network.head(embedding)
        feats = self.features(types, edge_index, edge_vec)
        ridge = torch.zeros_like(net)
        for t in range(self.feature_mean.shape[0]):
            z = ((feats - self.feature_mean[t]) / self.feature_std[t]).to(net.dtype)
            pred = z @ self.ridge_weight[t].to(net.dtype) + self.ridge_bias[t].to(net.dtype)
            ridge = torch.where((types == t)[:, None], pred, ridge)
        return net, ridge, embedding

    def embed_and_predict(self, types: torch.Tensor, edge_index: torch.Tensor,
                          edge_vec: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(values (N, S), embedding (N, D))`` (see :meth:`parts`)."""
        net, ridge, embedding = self.parts(types, edge_index, edge_vec)
        blend = self.blend.to(net.dtype)
        return blend[:, 0] * net + blend[:, 1] * ridge + blend[:, 2], embedding

    def forward(self, types: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor) -> torch.Tensor:
        """Values of every particle, shape (N, S)."""
        return self.embed_and_predict(types, edge_index, edge_vec)[0]


def fit_blend(net: np.ndarray, ridge: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares ``target ~ a * net + b * ridge + c`` per output.

    Args:
        net: Network predictions, shape (M, S).
        ridge: Ridge predictions, shape (M, S).
        target: Targets, shape (M, S).

    Returns:
        ``(a, b, c)`` per output, shape (S, 3).
    """
    out = []
    for s in range(target.shape[1]):
        design = np.stack([net[:, s], ridge[:, s], np.ones(len(net))], axis=1).astype(np.float64)
        out.append(np.linalg.lstsq(design, target[:, s].astype(np.float64), rcond=None)[0])
    return np.array(out)


def build_hybrid(network: nn.Module, positions: np.ndarray, types: np.ndarray, box_length: float,
                 target: np.ndarray, train_ids: Sequence[int], val_ids: Sequence[int],
                 blend_types: Sequence[int] = (0,)) -> Tuple[HybridPropensityRegressor, Dict]:
    """Wrap a trained network into a :class:`HybridPropensityRegressor` and fit its other parts.

    The ridge of each particle type is fitted in closed form on the training
    configurations (penalty per output picked on the validation ones, as
    :func:`~md_orderml.research.glassy.propensity.fit_ridge` does for the baseline); then ``(a, b, c)``
    per output by least squares on the ``blend_types`` particles of the validation
    configurations, where the network has not been fitted.

    Args:
        network: A trained :class:`~md_orderml.research.glassy.propensity.PropensityRegressor` (shared).
        positions: Positions of every configuration, shape (C, N, 3).
        types: Model type per particle, shape (N,).
        box_length: Cubic box edge.
        target: Scaled propensities, shape (C, N, S).
        train_ids: Training configurations.
        val_ids: Validation configurations.
        blend_types: Particle types the blend weights are fitted on.

    Returns:
        ``(hybrid, info)``; ``info`` holds ``alpha`` (per type, the ridge penalties) and
        ``blend`` (S, 3).
    """
    from md_orderml.research.glassy.propensity import fit_ridge, make_graph

    n = len(types)
    features = ExpertFeatures(box_length / n ** (1.0 / 3.0), n_types=int(network.backbone.config.get("n_types", 1)))
    hybrid = HybridPropensityRegressor(network, features).eval()
    ids = list(train_ids) + list(val_ids)
    graphs = {c: make_graph(positions[c], types, box_length, target[c], hybrid.cutoff) for c in ids}
    with torch.inference_mode():
        feats = {c: features(g.types, g.edge_index, g.edge_vec).numpy() for c, g in graphs.items()}
    alphas = {}
    for t in np.unique(types):
        sel = types == t
        stack = lambda cs: (np.concatenate([feats[c][sel] for c in cs]),  # noqa: E731
                            np.concatenate([target[c][sel] for c in cs]))
        ridge = fit_ridge(*stack(train_ids), *stack(val_ids))
        hybrid.set_ridge(int(t), ridge["mean"], ridge["std"], ridge["weight"], ridge["bias"])
        alphas[int(t)] = [float(a) for a in ridge["alpha"]]
    sel = np.isin(types, list(blend_types))
    parts = []
    with torch.inference_mode():
        for c in val_ids:
            g = graphs[c]
            net, ridge_pred, _ = hybrid.parts(g.types, g.edge_index, g.edge_vec)
            parts.append((net.numpy()[sel], ridge_pred.numpy()[sel], target[c][sel]))
    blend = fit_blend(*(np.concatenate([p[k] for p in parts]) for k in range(3)))
    hybrid.blend.copy_(torch.as_tensor(blend, dtype=torch.float32))
    return hybrid, {"alpha": alphas, "blend": blend.tolist()}
