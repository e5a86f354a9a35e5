"""Figures for ``08_overfitting``: the training-set-size curve.

It takes the tidy tables of :mod:`helpers.learning_curves` (one row per run). A colour per model;
training solid, validation dashed, as in ``plot_histories``. The comparison of fixes over seeds is
:func:`helpers.plots.runs.plot_run_results`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from helpers.plots.basics import COLORS
from helpers.plots.runs import runs_frame

__all__ = ["plot_training_size_curve"]


def plot_training_size_curve(table, *, title: str = "Training-set-size curve", log_x: bool = True):
    """Accuracy against the number of training examples, one colour per model (``name`` column).

    Training accuracy solid, validation dashed: the mean over seeds, with a band from the lowest to
    the highest seed. A gap that closes as examples grow is variance; two low curves close together
    are bias.

    Args:
        table: rows from :func:`helpers.learning_curves.learning_curve_by_size` (one or several models
            concatenated), with ``name``, ``train_size``, ``train_accuracy`` and ``val_accuracy``.
        log_x: logarithmic x axis (default True: sizes usually double).
    """
    table = runs_frame(table, ("name", "train_size", "train_accuracy", "val_accuracy"))
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, group) in enumerate(table.groupby("name", sort=False)):
        color = COLORS[i % len(COLORS)]
        stats = group.groupby("train_size")[["train_accuracy", "val_accuracy"]].agg(["mean", "min", "max"])
        sizes = stats.index.to_numpy()
        several_seeds = "seed" in group and group["seed"].nunique() > 1
        for key, style, label in (("train_accuracy", "-", "train"), ("val_accuracy", "--", "val")):
            ax.plot(sizes, stats[(key, "mean")], style, marker="o", color=color, label=f"{name} {label}")
            if several_seeds:
                ax.fill_between(sizes, stats[(key, "min")], stats[(key, "max")], color=color, alpha=0.15)
    if log_x:
        ax.set_xscale("log")
    sizes = np.sort(table["train_size"].unique())
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.minorticks_off()
    ax.set(title=title, xlabel="training examples", ylabel="accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
