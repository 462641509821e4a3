"""Logistic probes on per-configuration features: ROC AUC, stratified folds, L2 logistic regression.

Shared by the pre-crystallization benchmark (:mod:`md_orderml.research.precrystallization`)
and the glass-vs-liquid classifier (:mod:`md_orderml.research.glassy.glass_probe`). Everything is
plain NumPy: the probes are fitted on tens to hundreds of configurations.
"""

from typing import Dict, List, Optional, Sequence

import numpy as np


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count one half).

    Args:
        scores: Shape (M,), larger = more likely positive.
        labels: Shape (M,), 0/1 or bool, both classes present.
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels).astype(bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("roc_auc needs both classes")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50) -> tuple:
    """L2-regularised logistic regression by Newton's method (intercept not penalised).

    Minimises ``sum_i logloss(x_i . w + b, y_i) + l2 / 2 * |w|^2``.

    Args:
        x: Features, shape (M, D).
        y: Labels 0/1, shape (M,).
        l2: Regularisation strength (> 0).
        iterations: Newton steps at most.

    Returns:
        ``(w (D,), b)``.
    """
    m, d = x.shape
    a = np.concatenate([x, np.ones((m, 1))], axis=1)
    theta, penalty = np.zeros(d + 1), np.r_[np.full(d, float(l2)), 1e-8]
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ theta, -30, 30)))
        grad = a.T @ (p - y) + penalty * theta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty)
        theta -= (step := np.linalg.solve(hess, grad))
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def stratified_folds(y: np.ndarray, k: int, rng: np.random.Generator) -> List[np.ndarray]:
    """``k`` disjoint test index sets with the classes spread evenly (shuffled by ``rng``)."""
    folds: List[list] = [[] for _ in range(k)]
    offset = 0  # classes continue where the previous one stopped, so fold sizes stay even
    for cls in np.unique(y):
        idx = rng.permutation(np.nonzero(y == cls)[0])
        for j, i in enumerate(idx):
            folds[(j + offset) % k].append(int(i))
        offset += len(idx)
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]


L2_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
"""Regularisation strengths tried by the inner cross-validation of :func:`probe_scores`."""


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple:
    mean, std = train.mean(0), np.maximum(train.std(0), 1e-12)
    return (train - mean) / std, (test - mean) / std


def _heldout_logloss(x: np.ndarray, y: np.ndarray, folds: Sequence[np.ndarray], l2: float) -> float:
    """Summed log-loss of out-of-fold predictions (each fold standardised on its training part)."""
    loss = 0.0
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        a, b = _standardise(x[train], x[test])
        w, c = fit_logistic(a, y[train], l2)
        z = np.clip(b @ w + c, -30, 30)
        loss += float(np.sum(np.logaddexp(0.0, z) - y[test] * z))
    return loss


def probe_scores(x: np.ndarray, y: np.ndarray, folds: Sequence[np.ndarray], inner_k: int = 3,
                 seed: int = 0, l2_grid: Sequence[float] = L2_GRID) -> np.ndarray:
    """Out-of-fold decision values of the logistic probe, shape (R,).

    For each outer fold the features are standardised with the training runs' mean
    and std, the L2 strength is picked from ``l2_grid`` by the lowest inner
    ``inner_k``-fold cross-validated log-loss on the training runs, and the probe is
    refitted on all training runs.

    Args:
        x: Features, shape (R, D).
        y: Outcomes 0/1, shape (R,).
        folds: Test index sets partitioning ``range(R)``.
        inner_k: Folds of the inner cross-validation.
        seed: Seed of the inner splits.
        l2_grid: Candidate strengths.
    """
    y, out, rng = np.asarray(y, dtype=np.float64), np.zeros(len(y)), np.random.default_rng(seed)
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        w, c = fit_probe(x[train], y[train], inner_k, rng, l2_grid)
        out[test] = x[test] @ w + c
    return out


def fit_probe(x: np.ndarray, y: np.ndarray, inner_k: int = 3, rng: Optional[np.random.Generator] = None,
              l2_grid: Sequence[float] = L2_GRID) -> tuple:
    """The logistic probe of :func:`probe_scores` fitted on all of ``x``, in raw feature units.

    Features are standardised with their mean and std, the L2 strength is picked from
    ``l2_grid`` by the lowest inner ``inner_k``-fold cross-validated log-loss, and the
    standardisation is folded into the returned weights.

    Args:
        x: Features, shape (M, D).
        y: Labels 0/1, shape (M,).
        inner_k: Folds of the inner cross-validation.
        rng: Generator of the inner splits (default: seed 0).
        l2_grid: Candidate strengths.

    Returns:
        ``(w (D,), b)``: decision value ``x @ w + b`` (log-odds of class 1).
    """
    y = np.asarray(y, dtype=np.float64)
    rng = rng if rng is not None else np.random.default_rng(0)
    mean, std = x.mean(0), np.maximum(x.std(0), 1e-12)
    inner = stratified_folds(y, inner_k, rng)
    losses = [_heldout_logloss(x, y, inner, l2) for l2 in l2_grid]
    w, c = fit_logistic((x - mean) / std, y, l2_grid[int(np.argmin(losses))])
    return w / std, float(c - (mean / std) @ w)


def probe_auc(features: Dict[str, np.ndarray], y: np.ndarray, k: int = 5, repeats: int = 5,
              seed: int = 0) -> Dict[str, np.ndarray]:
    """Cross-validated ROC AUC of the probe for several feature sets on the SAME splits.

    Each repeat draws one stratified ``k``-fold split (shared by every feature set); the
    AUC is that of the pooled out-of-fold decision values.

    Args:
        features: Feature set name -> features (R, D_name).
        y: Outcomes 0/1, shape (R,).
        k: Outer folds.
        repeats: Independent shuffles.
        seed: Seed of the splits.

    Returns:
        Name -> AUC per repeat, shape (repeats,).
    """
    y = np.asarray(y).astype(np.int64)
    out = {name: [] for name in features}
    for r in range(repeats):
        folds = stratified_folds(y, k, np.random.default_rng([seed, r]))
        for name, x in features.items():
            out[name].append(roc_auc(probe_scores(np.asarray(x, float), y, folds, seed=r), y))
    return {name: np.asarray(v) for name, v in out.items()}
