"""Plots of class fractions and value means (matplotlib is an optional extra, imported here only)."""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np


def _plot_series(x: np.ndarray, series: np.ndarray, names: Sequence[str], path, ylabel: str, xlabel: str,
                 title: Optional[str], skip_zero: bool, ylim: Optional[tuple]) -> str:
    """One line per column of ``series`` (F, K) against ``x`` (F,), saved atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    series = np.asarray(series)
    for k, name in enumerate(names):
        if skip_zero and not (series.shape[0] and series[:, k].max() > 0):
            continue
        ax.plot(x, series[:, k], marker="o" if len(x) < 40 else None, ms=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = os.fspath(path)
    tmp = path + ".tmp.png"
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def plot_fractions(x: np.ndarray, fractions: np.ndarray, class_names: Sequence[str], path,
                   xlabel: str = "frame", title: Optional[str] = None) -> str:
    """Save a PNG of class fractions against frame index or time step (classes never seen are left out).

    Args:
        x: Frame indices or steps, shape (F,).
        fractions: Fraction of each class per frame, shape (F, C).
        class_names: Names of the C classes.
        path: Output PNG file (written atomically).
        xlabel: Label of the x axis.
        title: Optional plot title.

    Returns:
        The path written.
    """
    return _plot_series(x, fractions, class_names, path, "fraction of particles", xlabel, title,
                        skip_zero=True, ylim=(-0.02, 1.02))


def plot_means(x: np.ndarray, means: np.ndarray, value_names: Sequence[str], path,
               xlabel: str = "frame", title: Optional[str] = None) -> str:
    """Save a PNG of the per-frame mean of regression values against frame index or time step.

    Args:
        x: Frame indices or steps, shape (F,).
        means: Mean of each value per frame, shape (F, S).
        value_names: Names of the S values.
        path: Output PNG file (written atomically).
        xlabel: Label of the x axis.
        title: Optional plot title.

    Returns:
        The path written.
    """
    return _plot_series(x, means, value_names, path, "mean over particles", xlabel, title,
                        skip_zero=False, ylim=None)


def plot_summary(x: np.ndarray, summary_table: np.ndarray, spec, path, xlabel: str = "frame",
                 title: Optional[str] = None) -> str:
    """Save a PNG of a per-frame summary table: class fractions (:func:`plot_fractions`) or,
    for a regression model, value means (:func:`plot_means`).

    Args:
        x: Frame indices or steps, shape (F,).
        summary_table: The summary per frame, shape (F, K), columns ``spec.summary_names``.
        spec: The model's :class:`~md_orderml.outputs.OutputSpec`.
        path: Output PNG file (written atomically).
        xlabel: Label of the x axis.
        title: Optional plot title.

    Returns:
        The path written.
    """
    plot = {"fractions": plot_fractions, "means": plot_means}[spec.summary_kind]
    return plot(x, summary_table, list(spec.summary_names), path, xlabel, title=title)
