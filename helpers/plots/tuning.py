"""Figures for ``09_hyperparameter_search``: score per trial, best-so-far curves, parallel coordinates
and one panel per hyperparameter. Every function takes tables from ``helpers.tuning.results_table``.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.plots.basics import COLORS

__all__ = ["plot_trial_scores", "plot_best_so_far", "plot_parallel_coordinates", "plot_hyperparameter_effects"]


def _check_results(results, what: str = "results") -> pd.DataFrame:
    if not isinstance(results, pd.DataFrame) or "score" not in results or "trial" not in results:
        raise TypeError(f"{what} must be a table from tuning.results_table. Received: {type(results).__name__}")
    if results.empty:
        raise ValueError(f"{what} is empty: run a search first.")
    return results


def _objective(results: pd.DataFrame) -> str:
    return results.attrs.get("objective", "score")


def plot_trial_scores(results: pd.DataFrame, *, title: str = "Score of every trial"):
    """One bar per trial (grey: failed), the best one highlighted, with the epochs each trained."""
    results = _check_results(results)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(results) + 2), 3.4))
    x = np.arange(len(results))
    scores = results["score"].to_numpy(dtype=float)
    finite = np.isfinite(scores)
    best = (
        np.nanargmax(scores)
        if finite.any() and results.attrs.get("direction", "max") == "max"
        else (np.nanargmin(scores) if finite.any() else None)
    )
    colors = [COLORS[0] if ok else "lightgrey" for ok in finite]
    if best is not None:
        colors[best] = COLORS[3]
    ax.bar(x, np.where(finite, scores, 0), color=colors)
    for i, (s, e) in enumerate(zip(scores, results["epochs"])):
        label = "failed" if not np.isfinite(s) else f"{int(e)}ep" if np.isfinite(e) else ""
        ax.annotate(
            label,
            (i, 0 if not np.isfinite(s) else s),
            ha="center",
            va="bottom",
            fontsize=7,
            xytext=(0, 2),
            textcoords="offset points",
        )
    if finite.any():
        lo = np.nanmin(scores)
        ax.set_ylim(max(0.0, lo - 0.1 * (np.nanmax(scores) - lo + 1e-3)), None)
    ax.set_xticks(x, [str(t) for t in results["trial"]], fontsize=8)
    ax.set(title=title, xlabel="trial", ylabel=_objective(results))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_best_so_far(runs: Mapping[str, pd.DataFrame], *, title: str = "Best score so far"):
    """Best-so-far curves of several searches side by side: against trials, epochs and seconds.

    The epoch and second axes compare the compute each search used: a search that runs many short
    trials (Hyperband) looks better per trial than it is per epoch.
    """
    if not runs:
        raise ValueError("runs is empty; pass e.g. {'random': random_results, 'hyperband': hb_results}.")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for i, (name, df) in enumerate(runs.items()):
        df = _check_results(df, f"runs[{name!r}]")
        color = COLORS[i % len(COLORS)]
        for ax, col in zip(axes, ("trial", "cum_epochs", "cum_seconds")):
            x = np.arange(1, len(df) + 1) if col == "trial" else df[col].to_numpy(dtype=float)
            ax.step(x, df["best_so_far"], where="post", color=color, label=name, linewidth=2)
            ax.plot(x, df["score"], "o", color=color, alpha=0.35, markersize=4)
    objective = _objective(next(iter(runs.values())))
    for ax, xlabel in zip(axes, ("trials finished", "epochs trained (cumulative)", "training seconds (cumulative)")):
        ax.set(xlabel=xlabel)
        ax.grid(alpha=0.3)
    for ax in axes[:2]:
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].set_ylabel(f"best {objective} so far")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title} (dots: each trial's own score)")
    fig.tight_layout()
    return fig


def _as_axis(values: pd.Series) -> tuple[np.ndarray, list[str] | None, bool]:
    """Numbers in [0, 1] for one hyperparameter: categories evenly spaced, wide ranges in log."""
    if values.map(lambda v: isinstance(v, (str, bool, np.bool_))).any() or values.nunique() <= 1:
        cats = sorted(values.astype(str).unique())
        pos = values.astype(str).map({c: i for i, c in enumerate(cats)}).to_numpy(dtype=float)
        return pos / max(1, len(cats) - 1), cats, False
    v = values.to_numpy(dtype=float)
    log = bool(np.all(v > 0) and v.max() / v.min() > 20)
    if log:
        v = np.log10(v)
    lo, hi = v.min(), v.max()
    return (v - lo) / (hi - lo if hi > lo else 1.0), None, log


def plot_parallel_coordinates(results: pd.DataFrame, *, title: str = "Hyperparameters of every trial"):
    """Parallel coordinates: one vertical axis per hyperparameter and one for the score; each trial
    is a line coloured by its score (yellow best). Lines that stay together near the top show
    which values the good trials share."""
    results = _check_results(results).dropna(subset=["score"])
    names = list(results.attrs.get("hyperparameters", []))
    if not names:
        raise ValueError("results has no hyperparameter columns; pass a table from tuning.results_table.")
    axes_data, labels = [], []
    for name in names:
        pos, cats, log = _as_axis(results[name])
        axes_data.append(pos)
        labels.append((name, cats, log, results[name]))
    score_pos, _, _ = _as_axis(results["score"])
    axes_data.append(score_pos)
    matrix = np.column_stack(axes_data)
    fig, ax = plt.subplots(figsize=(1.6 * len(axes_data) + 1.5, 4))
    cmap = plt.get_cmap("viridis")
    order = np.argsort(score_pos)  # best drawn last, on top
    for i in order:
        ax.plot(np.arange(matrix.shape[1]), matrix[i], color=cmap(score_pos[i]), alpha=0.8, linewidth=1.6)
    for j, (_name, cats, _log, col) in enumerate(labels):
        ax.axvline(j, color="grey", linewidth=0.8)
        if cats is not None:
            for k, c in enumerate(cats):
                ax.annotate(c, (j, k / max(1, len(cats) - 1)), fontsize=7, xytext=(3, 0), textcoords="offset points")
        else:
            for y, val in ((0, col.min()), (1, col.max())):
                ax.annotate(f"{val:.3g}", (j, y), fontsize=7, xytext=(3, 0), textcoords="offset points")
    last = matrix.shape[1] - 1
    ax.axvline(last, color="grey", linewidth=0.8)
    for y, val in ((0, results["score"].min()), (1, results["score"].max())):
        ax.annotate(f"{val:.3f}", (last, y), fontsize=7, xytext=(3, 0), textcoords="offset points")
    ax.set_xticks(
        range(matrix.shape[1]),
        [f"{n}{' (log)' if log else ''}" for n, _, log, _ in labels] + [_objective(results)],
        fontsize=8,
    )
    ax.set_yticks([])
    ax.set(title=title, xlabel="hyperparameter (each axis scaled to its own range)", ylabel="low  \u2192  high")
    fig.colorbar(
        plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(results["score"].min(), results["score"].max())),
        ax=ax,
        label=_objective(results),
        fraction=0.03,
    )
    fig.tight_layout()
    return fig


def plot_hyperparameter_effects(results: pd.DataFrame, *, title: str = "Score against each hyperparameter"):
    """One panel per hyperparameter: every trial's score against its value (log axis for wide
    numeric ranges). A clear trend or gap means the hyperparameter mattered; a flat cloud, not much."""
    results = _check_results(results).dropna(subset=["score"])
    names = list(results.attrs.get("hyperparameters", []))
    if not names:
        raise ValueError("results has no hyperparameter columns; pass a table from tuning.results_table.")
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), sharey=True, squeeze=False)
    rng = np.random.default_rng(0)
    for ax, name in zip(axes.flat, names):
        col = results[name]
        pos, cats, log = _as_axis(col)
        if cats is not None:
            x = pos * (len(cats) - 1) + rng.uniform(-0.08, 0.08, len(pos))
            ax.set_xticks(range(len(cats)), cats)
            ax.set_xlim(-0.5, len(cats) - 0.5)
        else:
            x = col.to_numpy(dtype=float)
            if log:
                ax.set_xscale("log")
        ax.scatter(x, results["score"], color=COLORS[0], alpha=0.75, s=22)
        ax.set(xlabel=name)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(_objective(results))
    fig.suptitle(title)
    fig.tight_layout()
    return fig
