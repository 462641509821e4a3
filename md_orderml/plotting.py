"""Plots of class fractions and value means (matplotlib is an optional extra, imported here only)."""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np


def plot_fractions(x: np.ndarray, fractions: np.ndarray, class_names: Sequence[str], path,
                   xlabel: str = "frame", title: Optional[str] = None) -> str:
    """Save a PNG of class fractions against frame index or time step.

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    fractions = np.asarray(fractions)
    for k, name in enumerate(class_names):
        if fractions.shape[0] and fractions[:, k].max() > 0:
            ax.plot(x, fractions[:, k], marker="o" if len(x) < 40 else None, ms=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of particles")
    ax.set_ylim(-0.02, 1.02)
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    means = np.asarray(means)
    for k, name in enumerate(value_names):
        ax.plot(x, means[:, k], marker="o" if len(x) < 40 else None, ms=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean over particles")
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
