"""The figures of a comparison of runs (:mod:`helpers.runs`) over seeds, shared by every notebook.

* :func:`plot_run_results`: one row per variant, training accuracy hollow, validation accuracy
  filled, one pair of dots per seed joined by a line whose length is that run's generalization gap,
  a bar at the mean validation accuracy; a right-hand panel shows each variant's mean gap.
* :func:`plot_seed_comparison`: any one score (accuracy, loss, seconds) per variant, a dot per seed,
  a bar at the mean and a line over the range, so a difference can be read against the spread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.plots.basics import COLORS

__all__ = ["plot_run_results", "plot_seed_comparison"]

_REQUIRED = ("name", "train_accuracy", "val_accuracy")


def runs_frame(runs, required=_REQUIRED) -> pd.DataFrame:
    """``runs`` (a :func:`helpers.runs.table`, or Runs and rows it takes) as a checked DataFrame."""
    from helpers import runs as runs_module

    frame = runs if isinstance(runs, pd.DataFrame) else runs_module.table(runs)
    if frame.empty:
        raise ValueError("The results table is empty; train at least one run first.")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The results table has no column {', '.join(map(repr, missing))}. "
            f"Columns: {', '.join(map(str, frame.columns))}"
        )
    return frame


def plot_run_results(
    runs,
    *,
    title: str = "Train and validation accuracy of every variant",
    reference: float | None = None,
    show_gap: bool = True,
):
    """Training (hollow) and validation (filled) accuracy per variant, one pair of dots per seed.

    The bar marks a variant's mean validation accuracy; a cross marks test accuracy where the table
    has a ``test_accuracy`` column (measured once, at the end).

    Args:
        runs: a table from :func:`helpers.runs.table` (or the Runs / rows it takes), with ``name``,
            ``train_accuracy`` and ``val_accuracy``; variants are drawn in their first order.
        reference: an optional accuracy drawn as a vertical line (e.g. the baseline's mean).
        show_gap: add a panel of mean train - validation gap per variant (default True); the
            dotted line there is the first variant's gap.
    """
    frame = runs_frame(runs)
    names = list(dict.fromkeys(frame["name"]))
    if show_gap:
        fig, (ax, ax_gap) = plt.subplots(
            1, 2, figsize=(11, 0.5 * len(names) + 1.6), sharey=True, gridspec_kw={"width_ratios": [2, 1]}
        )
    else:
        fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(names) + 1.6))
    has_test = "test_accuracy" in frame.columns
    gaps = []
    for i, name in enumerate(names):
        rows = frame[frame["name"] == name]
        color = COLORS[i % len(COLORS)]
        y = float(len(names) - 1 - i)
        offsets = y + (np.linspace(-0.12, 0.12, len(rows)) if len(rows) > 1 else np.zeros(1))
        first = i == 0
        ax.hlines(offsets, rows["val_accuracy"], rows["train_accuracy"], color="gray", lw=1.5, alpha=0.5)
        ax.scatter(rows["train_accuracy"], offsets, facecolors="white", edgecolors=color, s=45, zorder=3,
                   label="train (hollow)" if first else None)  # fmt: skip
        ax.scatter(rows["val_accuracy"], offsets, color=color, s=45, zorder=3,
                   label="validation (filled)" if first else None)  # fmt: skip
        if has_test and rows["test_accuracy"].notna().any():
            ax.scatter(rows["test_accuracy"], offsets, marker="x", color="black", s=40, zorder=4,
                       label="test" if first else None)  # fmt: skip
        mean = rows["val_accuracy"].mean()
        ax.plot([mean, mean], [y - 0.3, y + 0.3], color=color, linewidth=2.5)
        ax.annotate(f"{mean:.1%}", (mean, y + 0.3), fontsize=8, ha="center", va="bottom", color=color)
        gaps.append((rows["train_accuracy"] - rows["val_accuracy"]).mean())
    if reference is not None:
        ax.axvline(reference, color="gray", linestyle=":", linewidth=1, label=f"reference {reference:.1%}")
    ax.set_yticks(range(len(names)), names[::-1])
    ax.set_ylim(-0.6, len(names) - 0.2)
    ax.set(title=title if not show_gap else "Accuracy (line = train/val gap)", ylabel="variant",
           xlabel="accuracy (bar: mean validation accuracy)")  # fmt: skip
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower left")
    if show_gap:
        y = np.arange(len(names))[::-1]
        ax_gap.barh(y, gaps, color=[COLORS[3]] + [COLORS[0]] * (len(names) - 1), alpha=0.8)
        ax_gap.axvline(gaps[0], color="gray", linestyle=":", lw=1)
        ax_gap.set(xlabel="train - val accuracy (mean)", title=f"Gap (dotted: {names[0]})")
        ax_gap.grid(alpha=0.3, axis="x")
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _scores_by_name(scores, metric: str, by: str) -> dict[str, np.ndarray]:
    if isinstance(scores, (Mapping, Sequence)) and not isinstance(scores, str) and len(scores) == 0:
        return {}
    if isinstance(scores, Mapping) and not any(k in scores for k in (by, "seed")):
        scores = dict(scores)  # {name: [score per seed]}
        if scores and all(isinstance(v, (Sequence, np.ndarray)) and not isinstance(v, str) for v in scores.values()):
            return {str(k): np.asarray(v, dtype=np.float64) for k, v in scores.items()}
    frame = runs_frame(scores, required=(by, metric))
    return {str(k): frame.loc[frame[by] == k, metric].to_numpy(np.float64) for k in dict.fromkeys(frame[by])}


def plot_seed_comparison(
    scores, *, metric: str = "val_accuracy", by: str = "name", title: str = "Same budget, several seeds"
):
    """One dot per seed for each configuration, a bar at the mean and a line over the seed range.

    A difference between two configurations means something only when it is larger than the spread
    of each over seeds; this figure puts both on one axis.

    Args:
        scores: configuration name -> one score per seed (the same seeds for every configuration),
            or a runs table (:func:`helpers.runs.table`, or the Runs and rows it takes).
        metric: for a table, the column to draw (default ``"val_accuracy"``); the y-axis label.
        by: for a table, the column naming the configurations (default ``"name"``).
    """
    values_by_name = _scores_by_name(scores, metric, by)
    if not values_by_name:
        raise ValueError("scores is empty; pass e.g. {'sgd': [0.95, 0.96], 'adam': [0.97, 0.97]} or a runs table.")
    fig, ax = plt.subplots(figsize=(max(6.5, 1.6 * len(values_by_name) + 2), 3.8))
    for i, (name, values) in enumerate(values_by_name.items()):
        if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"scores[{name!r}] must be a non-empty list of finite numbers. Received: {values}")
        color = COLORS[i % len(COLORS)]
        jitter = np.linspace(-0.08, 0.08, len(values)) if len(values) > 1 else np.zeros(1)
        ax.plot(i + jitter, values, "o", color=color, markersize=7, alpha=0.8)
        ax.plot([i - 0.2, i + 0.2], [values.mean()] * 2, color=color, linewidth=3)
        ax.plot([i, i], [values.min(), values.max()], color=color, linewidth=1)
        ax.annotate(
            f"mean {values.mean():.3f}\nrange {values.max() - values.min():.3f}\n{len(values)} seed(s)",
            (i + 0.25, values.mean()),
            va="center",
            fontsize=8,
        )
    ax.set_xticks(range(len(values_by_name)), list(values_by_name))
    ax.set_xlim(-0.5, len(values_by_name) - 0.1)
    ax.set(xlabel="configuration (dots: seeds)", ylabel=metric.replace("_", " "), title=title)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
