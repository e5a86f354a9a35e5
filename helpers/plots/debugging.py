"""Figures for ``10_debugging_training``: the batch as the model sees it, per-layer statistics while
training, the dumb baselines, and the overfit-one-batch curve (see :mod:`helpers.diagnostics`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.plots.basics import COLORS

__all__ = ["plot_batch", "plot_training_stats", "plot_baselines", "plot_overfit"]

_STAT_LABELS = {
    "gradient_norm": "gradient norm (log scale)",
    "activation_mean": "activation mean",
    "activation_std": "activation std",
    "dead_fraction": "dead ReLU units (fraction)",
    "update_ratio": "update / weight per step (log scale)",
}
_LOG_STATS = ("gradient_norm", "update_ratio")


def _labels_of(y, n: int) -> np.ndarray | None:
    if y is None:
        return None
    y = np.asarray(y)
    if len(y) < n:
        raise ValueError(f"y has {len(y)} labels for {n} images; pass one label per image.")
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows: show the class they encode
        return np.argmax(y[:n], axis=1)
    return y[:n].reshape(n)


def plot_batch(x, y=None, class_names: Sequence[str] | None = None, *, n: int = 16, cols: int = 8, title=None):
    """The batch exactly as the model receives it, with its labels and its value range.

    Every image is drawn on the *same* scale, the batch's own minimum to maximum, so an image that
    is much brighter or darker than the others stands out, and the title states the range: ``[0, 1]``
    is what the course's models expect, ``[0, 255]`` means the scaling was skipped, a range around 0
    means standardized inputs. Grey and colour images, any size.

    Args:
        x: images ``(N, H, W, C)`` with 1 or 3 channels (or ``(N, H, W)``), e.g. from
            ``diagnostics.first_batch(pipeline)``.
        y: their labels (class ids or one-hot rows), or None.
        class_names: names for the class ids (default: the ids).
        n: how many images to draw (default 16).
        cols: images per row (default 8).
        title: the figure title (default: says the shape, dtype and value range).
    """
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] not in (1, 3):
        raise ValueError(f"x must have 1 or 3 channels in the last axis. Received shape={x.shape}")
    if x.ndim not in (3, 4) or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of images (N, H, W[, C]). Received shape={x.shape}")
    if n < 1:
        raise ValueError(f"n must be at least 1. Received: n={n!r}")
    n = min(int(n), len(x))
    labels = _labels_of(y, n)
    low, high = float(np.min(x)), float(np.max(x))
    span = high - low if high > low else 1.0
    cols = max(1, min(int(cols), n))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.6 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = np.asarray(x[i], dtype=np.float32)
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        if img.ndim == 2:
            ax.imshow(img, cmap="gray", vmin=low, vmax=low + span)
        else:
            ax.imshow(np.clip((img - low) / span, 0, 1))
        if labels is not None:
            k = int(labels[i])
            ax.set_title(
                class_names[k] if class_names is not None and 0 <= k < len(class_names) else str(k), fontsize=9
            )
    shape = "x".join(str(d) for d in x.shape[1:])
    fig.suptitle(
        title
        or f"The batch as the model sees it: {len(x)} images {shape}, {x.dtype}, values in [{low:.3g}, {high:.3g}]"
    )
    fig.tight_layout()
    return fig


def _stats_table(stats) -> pd.DataFrame:
    table = stats.table() if hasattr(stats, "table") else stats
    if not isinstance(table, pd.DataFrame) or not {"step", "layer", "statistic", "value"} <= set(table.columns):
        raise TypeError(
            "stats must be a diagnostics.TrainingStats or its table() (columns step, layer, statistic, value). "
            f"Received: {type(stats).__name__}"
        )
    if table.empty:
        raise ValueError("Nothing was recorded: train with the TrainingStats callback for at least `every` steps.")
    return table


def plot_training_stats(stats, *, statistics: Sequence[str] | None = None, title: str = "Inside the training run"):
    """One panel per statistic of a :class:`helpers.diagnostics.TrainingStats` run, over the training
    steps, a line per layer (a colour per layer, the same in every panel).

    Gradient norms and the update/weight ratio use a log scale; the ratio's panel has a dotted guide
    at the healthy ``1e-3`` per step.

    Args:
        stats: the callback after ``fit``, or its ``table()``.
        statistics: which panels, in order (default: every statistic recorded).
        title: the figure title.
    """
    from helpers.diagnostics.stats import HEALTHY_UPDATE_RATIO, STATISTICS

    table = _stats_table(stats)
    present = [s for s in STATISTICS if s in set(table["statistic"])]
    present += [s for s in dict.fromkeys(table["statistic"]) if s not in present]
    chosen = list(statistics) if statistics is not None else present
    missing = [s for s in chosen if s not in present]
    if missing or not chosen:
        raise ValueError(f"No records of {missing or chosen}. Recorded statistics: {', '.join(present)}")
    layers = list(dict.fromkeys(table["layer"]))
    cols = min(3, len(chosen))
    rows = int(np.ceil(len(chosen) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows), squeeze=False)
    for ax, statistic in zip(axes.flat, chosen):
        part = table[table["statistic"] == statistic]
        for i, layer in enumerate(layers):
            line = part[part["layer"] == layer].sort_values("step")
            if not line.empty:
                ax.plot(line["step"], line["value"], color=COLORS[i % len(COLORS)], label=layer, marker=".")
        if statistic in _LOG_STATS and (part["value"] > 0).any():
            ax.set_yscale("log")
        if statistic == "update_ratio":
            ax.axhline(HEALTHY_UPDATE_RATIO, color="black", linestyle=":", label="healthy ~1e-3")
        ax.set(title=statistic.replace("_", " "), xlabel="training step", ylabel=_STAT_LABELS.get(statistic, statistic))
        ax.grid(alpha=0.3, which="both")
    for ax in list(axes.flat)[len(chosen) :]:
        ax.axis("off")
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 + 0.03 * (len(labels) > 6), 1, 1))
    return fig


def plot_baselines(table, *, model_scores: Mapping[str, float] | None = None, title: str = "Dumb baselines"):
    """Validation accuracy of each baseline of ``diagnostics.baselines`` as horizontal bars, with your
    models' scores (``model_scores``) drawn in another colour to compare.

    Args:
        table: the DataFrame of :func:`helpers.diagnostics.baselines` (``baseline``, ``val_accuracy``).
        model_scores: optional ``{"course CNN": 0.97}`` validation accuracies to add as bars.
        title: the figure title.
    """
    if not isinstance(table, pd.DataFrame) or not {"baseline", "val_accuracy"} <= set(table.columns) or table.empty:
        raise ValueError("table must be the DataFrame of diagnostics.baselines(data), with baseline and val_accuracy.")
    names = [str(b) for b in table["baseline"]]
    values = [float(v) for v in table["val_accuracy"]]
    colors = [COLORS[0]] * len(names)
    for name, value in dict(model_scores or {}).items():
        names.append(str(name))
        values.append(float(value))
        colors.append(COLORS[1])
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(names) + 1.4))
    positions = np.arange(len(names))[::-1]
    ax.barh(positions, values, color=colors)
    for pos, value in zip(positions, values):
        ax.text(min(value, 1.0) + 0.01, pos, f"{value:.1%}", va="center", fontsize=9)
    ax.set_yticks(positions, names)
    ax.set(xlim=(0, 1.12), xlabel="validation accuracy", title=title)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def _overfit_curves(result_or_dict) -> dict[str, object]:
    runs = dict(result_or_dict) if isinstance(result_or_dict, Mapping) else {"model": result_or_dict}
    if not runs:
        raise ValueError("Pass an OverfitResult or a non-empty {'name': result} dict.")
    for name, result in runs.items():
        if not hasattr(result, "losses") or not hasattr(result, "target_loss"):
            raise TypeError(
                f"{name!r} is not an OverfitResult (diagnostics.overfit_batch). Received: {type(result).__name__}"
            )
    return runs


def plot_overfit(result_or_dict, *, title: str = "Overfit one batch"):
    """The training loss per step of one or more ``diagnostics.overfit_batch`` runs (log scale), with
    the target loss as a dotted line; the legend says which runs passed and after how many steps.

    Args:
        result_or_dict: an :class:`helpers.diagnostics.OverfitResult`, or ``{"name": result}`` to
            compare, e.g. a healthy model with broken ones.
        title: the figure title.
    """
    runs = _overfit_curves(result_or_dict)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    targets = set()
    for i, (name, result) in enumerate(runs.items()):
        losses = np.asarray(result.losses, dtype=np.float64)
        verdict = f"passed in {result.steps_to_target} steps" if result.passed else "failed"
        ax.plot(np.arange(1, len(losses) + 1), losses, color=COLORS[i % len(COLORS)], label=f"{name}: {verdict}")
        targets.add(float(result.target_loss))
    for target in sorted(targets):
        ax.axhline(target, color="black", linestyle=":", label=f"target loss {target:g}")
    ax.set(yscale="log", xlabel="training step on the same batch", ylabel="training loss (log scale)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
