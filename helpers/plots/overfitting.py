"""Figures for ``08_overfitting``: the training-set-size curve and a comparison of fixes over seeds.

Both take the tidy tables of :mod:`helpers.experiments` (one row per run). A colour per model or
measurement; training solid (or hollow), validation dashed (or filled), as in ``plot_histories``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from helpers.plots.basics import COLORS

__all__ = ["plot_training_size_curve", "plot_recipe_results"]


def _as_frame(table, required: Sequence[str]):
    import pandas as pd

    if isinstance(table, (list, tuple)):
        from helpers import experiments

        table = experiments.results_table(table)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"Expected a DataFrame of results (from helpers.experiments). Received: {type(table).__name__}")
    if table.empty:
        raise ValueError("The results table is empty; train at least one run first.")
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(
            f"The results table has no column {', '.join(map(repr, missing))}. "
            f"Columns: {', '.join(map(str, table.columns))}"
        )
    return table


def plot_training_size_curve(table, *, title: str = "Training-set-size curve", log_x: bool = True):
    """Accuracy against the number of training examples, one colour per model (``name`` column).

    Training accuracy solid, validation dashed: the mean over seeds, with a band from the lowest to
    the highest seed. A gap that closes as examples grow is variance; two low curves close together
    are bias.

    Args:
        table: rows from :func:`helpers.experiments.learning_curve_by_size` (one or several models
            concatenated), with ``name``, ``train_size``, ``train_accuracy`` and ``val_accuracy``.
        log_x: logarithmic x axis (default True: sizes usually double).
    """
    table = _as_frame(table, ("name", "train_size", "train_accuracy", "val_accuracy"))
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


def plot_recipe_results(table, *, title: str = "Fixes compared on the same seeds", reference: float | None = None):
    """Training (hollow) and validation (filled) accuracy per configuration, one dot per seed.

    The bar marks the mean validation accuracy over seeds; the distance between hollow and filled
    dots is each run's generalization gap.

    Args:
        table: rows from :func:`helpers.experiments.run_recipe` runs (``results_table``), with
            ``name``, ``train_accuracy`` and ``val_accuracy``.
        reference: an optional accuracy drawn as a vertical line (e.g. the baseline's mean).
    """
    table = _as_frame(table, ("name", "train_accuracy", "val_accuracy"))
    names = list(dict.fromkeys(table["name"]))
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(names) + 1.6))
    for i, name in enumerate(names):
        rows = table[table["name"] == name]
        color = COLORS[i % len(COLORS)]
        y = np.full(len(rows), len(names) - 1 - i, dtype=float)
        jitter = np.linspace(-0.12, 0.12, len(rows)) if len(rows) > 1 else np.zeros(1)
        ax.scatter(
            rows["train_accuracy"],
            y + jitter,
            facecolors="none",
            edgecolors=color,
            s=45,
            label="train (hollow)" if i == 0 else None,
        )
        ax.scatter(
            rows["val_accuracy"],
            y + jitter,
            color=color,
            s=45,
            label="validation (filled)" if i == 0 else None,
        )
        mean = rows["val_accuracy"].mean()
        ax.plot([mean, mean], [y[0] - 0.3, y[0] + 0.3], color=color, linewidth=2.5)
        ax.annotate(f"{mean:.1%}", (mean, y[0] + 0.3), fontsize=8, ha="center", va="bottom", color=color)
    if reference is not None:
        ax.axvline(reference, color="gray", linestyle=":", linewidth=1, label=f"reference {reference:.1%}")
    ax.set_yticks(range(len(names)), names[::-1])
    ax.set_ylim(-0.6, len(names) - 0.2)
    ax.set(title=title, xlabel="accuracy (bar: mean validation accuracy)", ylabel="configuration")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
