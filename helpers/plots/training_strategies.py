"""Figures for ``04_training_strategies``: optimizer paths on 2-D surfaces, the batch size x learning
rate grid, the learning-rate range test, schedules, and a seeded comparison of optimizers.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from helpers.plots.basics import COLORS

__all__ = ["plot_optimizer_paths", "plot_batch_lr_grid", "plot_lr_range_test", "plot_schedules"]


def plot_optimizer_paths(surface, trajectories: Mapping[str, object], *, levels: int = 30, title: str | None = None):
    """Where each optimizer went on a 2-D surface (left) and how fast its loss fell (right).

    Args:
        surface: a :class:`helpers.loss_surfaces.Surface` (or its name).
        trajectories: name -> :class:`helpers.loss_surfaces.Trajectory`, e.g. from
            ``loss_surfaces.compare_optimizers``.
        levels: contour levels (default 30).
    """
    from helpers import loss_surfaces

    surface = loss_surfaces.get_surface(surface)
    if not trajectories:
        raise ValueError("trajectories is empty; pass e.g. loss_surfaces.compare_optimizers(surface).")
    X, Y, Z = surface.grid(200)
    # Levels at quantiles of the loss: shallow structure (a saddle, a valley floor) stays visible
    # next to steep walls, where evenly spaced levels would all crowd onto the walls.
    bounds = np.unique(np.quantile(Z, np.linspace(0, 1, levels)))
    fig, (ax_map, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1.35, 1]})
    ax_map.contourf(X, Y, Z, levels=bounds, cmap="Greys", alpha=0.55)
    ax_map.contour(X, Y, Z, levels=bounds, colors="grey", linewidths=0.4, alpha=0.7)
    for i, (name, traj) in enumerate(trajectories.items()):
        pts = np.asarray(traj.points)
        color = COLORS[i % len(COLORS)]
        label = f"{name} (lr={traj.learning_rate:g})"
        ax_map.plot(pts[:, 0], pts[:, 1], "-o", color=color, markersize=2.5, linewidth=1.3, label=label)
        gap = np.maximum(np.asarray(traj.losses, dtype=np.float64) - surface.min_value, 1e-12)
        ax_loss.semilogy(np.arange(len(gap)), gap, color=color, label=label)
    ax_map.plot(*surface.start, marker="*", color="black", markersize=12, linestyle="none", label="start")
    ax_map.set(
        xlim=surface.xlim,
        ylim=surface.ylim,
        xlabel="x (first parameter)",
        ylabel="y (second parameter)",
        title=surface.description,
    )
    ax_map.legend(fontsize=8, loc="lower right")
    ax_loss.set(xlabel="step", ylabel="loss - lowest possible loss (log scale)", title="Distance to the minimum value")
    ax_loss.grid(alpha=0.3, which="both")
    fig.suptitle(title or f"Four optimizers on the {surface.name}")
    fig.tight_layout()
    return fig


GRID_COLUMNS = ("batch_size", "learning_rate", "val_accuracy", "loss", "seconds_per_epoch")


def plot_batch_lr_grid(table, *, title: str = "Batch size x learning rate"):
    """Three views of a batch size x learning rate grid (one row per run).

    Left: final validation accuracy against the learning rate, a line per batch size. Middle: final
    training loss against learning rate / batch size; if the linear scaling rule holds, the lines
    fall on top of each other there. Right: seconds per epoch against batch size.

    Args:
        table: a DataFrame (or dict of columns / list of row dicts) with the columns
            ``batch_size, learning_rate, val_accuracy, loss, seconds_per_epoch``.
    """
    import pandas as pd

    df = pd.DataFrame(table)
    missing = [c for c in GRID_COLUMNS if c not in df.columns]
    if df.empty or missing:
        raise ValueError(
            f"table needs one row per run with the columns {', '.join(GRID_COLUMNS)}. "
            f"Missing: {', '.join(missing) or 'rows'}"
        )
    fig, (ax_acc, ax_loss, ax_time) = plt.subplots(1, 3, figsize=(14, 3.9))
    batch_sizes = sorted(df["batch_size"].unique())
    for i, bs in enumerate(batch_sizes):
        rows = df[df["batch_size"] == bs].sort_values("learning_rate")
        color = COLORS[i % len(COLORS)]
        ax_acc.plot(rows["learning_rate"], rows["val_accuracy"], "-o", color=color, label=f"batch {bs}")
        ax_loss.plot(rows["learning_rate"] / bs, rows["loss"], "-o", color=color, label=f"batch {bs}")
    times = df.groupby("batch_size")["seconds_per_epoch"].median()
    ax_time.bar([str(b) for b in times.index], times.values, color=[COLORS[i % len(COLORS)] for i in range(len(times))])
    for x, v in enumerate(times.values):
        ax_time.annotate(f"{v:.2f} s", (x, v), ha="center", va="bottom", fontsize=9)
    ax_acc.set(
        xscale="log",
        xlabel="learning rate",
        ylabel="final validation accuracy",
        title="Accuracy after the same number of epochs",
    )
    ax_loss.set(
        xscale="log",
        yscale="log",
        xlabel="learning rate / batch size",
        ylabel="final training loss",
        title="Linear scaling: same lr/batch, same loss?",
    )
    ax_time.set(xlabel="batch size", ylabel="seconds per epoch", title="Time per epoch")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _range_curves(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        lrs = np.asarray(result.learning_rates, dtype=np.float64)
        raw = np.asarray(result.losses, dtype=np.float64)
        smooth = np.asarray(result.smoothed_losses, dtype=np.float64)
    except AttributeError as exc:
        raise TypeError(
            "Pass the result of helpers.schedules.lr_range_test (an LRRangeTest) or a "
            f"helpers.callbacks.LRFinder after fit. Received: {type(result).__name__}"
        ) from exc
    if lrs.ndim != 1 or len(lrs) < 2 or raw.shape != lrs.shape or smooth.shape != lrs.shape:
        raise ValueError("The range test must have recorded at least 2 batches, with one loss per learning rate.")
    return lrs, raw, smooth


def plot_lr_range_test(results, *, picks: Mapping[str, float] | None = None, title: str = "Learning-rate range test"):
    """Loss against learning rate (log scale) from one or more range tests, with the picked rates.

    The raw loss of every batch is drawn faint, its smoothed version solid; a cross marks the lowest
    smoothed loss and a dashed vertical line the picked learning rate.

    Args:
        results: an ``LRRangeTest`` (or ``LRFinder``), or a mapping name -> one of them.
        picks: name -> the learning rate picked from that curve (optional).
    """
    if not isinstance(results, Mapping):
        results = {"range test": results}
    if not results:
        raise ValueError("results is empty; pass e.g. {'adam': schedules.lr_range_test(model, ds)}.")
    picks = dict(picks or {})
    unknown = [k for k in picks if k not in results]
    if unknown:
        raise ValueError(f"picks names curves that are not in results: {', '.join(unknown)}")
    fig, ax = plt.subplots(figsize=(8, 4.2))
    top, bottom = -np.inf, np.inf
    for i, (name, result) in enumerate(results.items()):
        lrs, raw, smooth = _range_curves(result)
        color = COLORS[i % len(COLORS)]
        ax.plot(lrs, raw, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(lrs, smooth, color=color, linewidth=2, label=f"{name} (smoothed)")
        best = int(np.argmin(smooth))
        ax.plot(
            lrs[best],
            smooth[best],
            "x",
            color=color,
            markersize=10,
            mew=2,
            label=f"{name}: lowest loss at {lrs[best]:.2g}",
        )
        if name in picks:
            ax.axvline(picks[name], color=color, linestyle="--", label=f"{name}: picked {picks[name]:.2g}")
        top = max(top, float(smooth[0]))
        bottom = min(bottom, float(smooth.min()))
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="training loss per batch", title=title)
    span = max(top - bottom, 1e-3)
    ax.set_ylim(bottom - 0.1 * span, top + 0.5 * span)  # divergence shoots off the top, on purpose
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_schedules(
    schedules: Mapping[str, object],
    total_steps: int,
    *,
    steps_per_epoch: int | None = None,
    title: str = "Learning-rate schedules",
):
    """The learning rate at every optimizer step of each schedule (floats are constant schedules).

    Args:
        schedules: name -> a float or a ``keras.optimizers.schedules.LearningRateSchedule``.
        total_steps: steps to draw (the training budget).
        steps_per_epoch: if given, the x axis is in epochs.
    """
    from helpers.schedules import learning_rate_values

    if not schedules:
        raise ValueError("schedules is empty; pass e.g. {'constant': 1e-3}.")
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1
    ):
        raise ValueError(f"steps_per_epoch must be a positive integer or None. Received: {steps_per_epoch!r}")
    fig, ax = plt.subplots(figsize=(8, 3.6))
    steps = np.arange(total_steps)
    x = steps / steps_per_epoch if steps_per_epoch else steps
    for i, (name, schedule) in enumerate(schedules.items()):
        ax.plot(x, learning_rate_values(schedule, total_steps), color=COLORS[i % len(COLORS)], linewidth=2, label=name)
    ax.set(xlabel="epoch" if steps_per_epoch else "optimizer step", ylabel="learning rate", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig
