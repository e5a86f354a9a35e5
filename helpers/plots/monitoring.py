"""Figures for ``06_monitoring_evaluation``: early stopping on a real curve, the confusion matrix
(a seaborn heatmap), the most confused pairs with example images, and the reliability diagram."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from helpers.plots.basics import COLORS, _history_dict, _image_for_display

__all__ = ["plot_early_stopping", "plot_confusion_matrix", "plot_most_confused", "plot_reliability_diagram"]


def plot_early_stopping(
    history, *, patience: int, monitor: str = "val_loss", min_delta: float = 0.0, title: str | None = None
):
    """The monitored curve with what ``EarlyStopping(patience=...)`` did on it.

    Marks the best epoch (whose weights ``restore_best_weights`` brings back), shades the
    ``patience`` epochs that followed without improvement, and marks the epoch training stopped.
    Training loss is drawn too when ``monitor`` is a validation metric.
    """
    from helpers.callbacks import early_stopping_trace

    h = _history_dict(history)
    if monitor not in h:
        raise ValueError(f"The history has no {monitor!r}. Available: {', '.join(h)}. Pass monitor= one of them.")
    values = np.asarray(h[monitor], dtype=float)
    mode = "max" if monitor.endswith(("accuracy", "auc")) else "min"
    best, stopped = early_stopping_trace(values, patience, min_delta=min_delta, mode=mode)
    epochs = np.arange(1, len(values) + 1)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    train_key = monitor[4:] if monitor.startswith("val_") else None
    if train_key in h:
        ax.plot(epochs, h[train_key], color=COLORS[0], label=f"train {train_key}")
    ax.plot(epochs, values, color=COLORS[0], linestyle="--", marker="o", markersize=4, label=monitor)
    ax.axvline(best, color=COLORS[2], linewidth=1.5, label=f"best epoch {best} (weights restored)")
    ax.plot([best], [values[best - 1]], marker="*", markersize=14, color=COLORS[2])
    if stopped > best:
        ax.axvspan(
            best + 0.5,
            min(best + patience, len(values)) + 0.5,
            color=COLORS[1],
            alpha=0.15,
            label=f"patience: {patience} epochs without improvement",
        )
    if stopped < len(values) or stopped == best + patience:
        ax.axvline(stopped, color=COLORS[3], linestyle=":", linewidth=1.5, label=f"stopped after epoch {stopped}")
    ax.set(
        title=title or f"EarlyStopping(monitor={monitor!r}, patience={patience})",
        xlabel="epoch",
        ylabel=monitor.replace("val_", "") if train_key else monitor,
    )
    if "loss" in monitor and np.all(values > 0) and (train_key not in h or np.all(np.asarray(h[train_key]) > 0)):
        ax.set_yscale("log")  # losses shrink by orders of magnitude; a log axis shows where they turn
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    cm, class_names: Sequence[str] | None = None, *, normalize: bool = False, title: str = "Confusion matrix"
):
    """A seaborn heatmap of ``cm`` (rows: true class, columns: predicted class).

    With ``normalize=True`` each row is divided by its total, so the diagonal reads as per-class
    recall and the off-diagonal cells as "share of class i taken for j"; the colour scale then
    saturates at 10 % off the diagonal so that small confusions stay visible.
    """
    import seaborn as sns

    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square matrix. Received shape={cm.shape}")
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(cm))]
    if len(names) != len(cm):
        raise ValueError(f"class_names has {len(names)} names but cm has {len(cm)} classes.")
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        values = np.divide(cm, totals, out=np.zeros(cm.shape, dtype=float), where=totals > 0)
        off = values[~np.eye(len(cm), dtype=bool)]
        vmax = max(0.1, float(off.max()) if off.size else 0.1)
        fmt, kwargs = ".0%", {"vmin": 0.0, "vmax": vmax}
    else:
        values, fmt, kwargs = cm, "d", {}
    size = max(4.5, 0.55 * len(cm) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    annot = len(cm) <= 20
    sns.heatmap(
        values,
        annot=annot,
        fmt=fmt,
        cmap="Blues",
        square=True,
        cbar=True,
        ax=ax,
        xticklabels=names,
        yticklabels=names,
        annot_kws={"fontsize": 8},
        linewidths=0.5,
        linecolor="white",
        **kwargs,
    )
    ax.set(
        title=title + (" (row-normalized: recall on the diagonal)" if normalize else ""),
        xlabel="predicted class",
        ylabel="true class",
    )
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def plot_most_confused(
    x,
    y_true,
    y_pred,
    pairs,
    class_names: Sequence[str] | None = None,
    *,
    per_pair: int = 4,
    title: str = "Most confused pairs",
):
    """One row per confused pair (from ``evaluation.most_confused_pairs``) with example images.

    Each row is labelled "true -> predicted (count)" and shows up to ``per_pair`` of the images of
    the true class that the model took for the predicted one.
    """
    from helpers.evaluation import confusion_examples

    x = np.asarray(x)
    if x.ndim not in (3, 4) or len(x) != len(y_true) or len(y_true) != len(y_pred):
        raise ValueError(
            f"x, y_true and y_pred must describe the same images. Received shapes "
            f"{x.shape}, {np.shape(y_true)}, {np.shape(y_pred)}"
        )
    records = (
        pairs.to_dict("records")
        if hasattr(pairs, "to_dict")
        else [{"true": int(t), "predicted": int(p), "count": None} for t, p in pairs]
    )
    if not records:
        raise ValueError("pairs is empty: the model made no mistakes to show. Nothing to plot.")
    label = (lambda k: str(class_names[k])) if class_names is not None else str
    fig, axes = plt.subplots(
        len(records),
        per_pair + 1,
        figsize=(1.5 * (per_pair + 1) + 1.2, 1.6 * len(records)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.8] + [1] * per_pair},
    )
    for row, rec in zip(axes, records):
        t, p = int(rec["true"]), int(rec["predicted"])
        idx = confusion_examples(y_true, y_pred, t, p, n=per_pair)
        row[0].axis("off")
        n = rec.get("count")
        count = f"\n{n} image{'s' if n != 1 else ''}" if n is not None else ""
        row[0].text(
            0.5,
            0.5,
            f"true {label(t)}\n-> predicted {label(p)}{count}",
            ha="center",
            va="center",
            fontsize=10,
            transform=row[0].transAxes,
        )
        for j, ax in enumerate(row[1:]):
            ax.axis("off")
            if j < len(idx):
                img, cmap = _image_for_display(x[idx[j]])
                ax.imshow(img, cmap=cmap)
                ax.set_title(f"#{idx[j]}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_reliability_diagram(calibrations, *, title: str = "Reliability diagram"):
    """Accuracy against confidence per bin (top) and how many predictions fall in each bin (bottom).

    ``calibrations`` is one ``evaluation.Calibration`` or a dict ``{name: Calibration}`` to compare
    models. A calibrated model follows the diagonal; bars below it mean overconfidence.
    """
    from helpers.evaluation import Calibration

    if isinstance(calibrations, Calibration):
        calibrations = {"model": calibrations}
    if not isinstance(calibrations, Mapping) or not calibrations:
        raise ValueError("Pass an evaluation.Calibration or a non-empty dict {name: Calibration}.")
    for name, cal in calibrations.items():
        if not isinstance(cal, Calibration):
            raise TypeError(f"{name!r} is a {type(cal).__name__}; use helpers.evaluation.calibration(probs, y).")
    fig, (ax, ax_count) = plt.subplots(2, 1, figsize=(6.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    n_runs = len(calibrations)
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="perfectly calibrated")
    for i, (name, cal) in enumerate(calibrations.items()):
        edges = cal.bin_edges
        width = (edges[1] - edges[0]) / n_runs
        left = edges[:-1] + i * width
        filled = cal.count > 0
        color = COLORS[i % len(COLORS)]
        ax.bar(
            left[filled],
            cal.accuracy[filled],
            width=width,
            align="edge",
            color=color,
            alpha=0.75,
            edgecolor="white",
            label=f"{name}: ECE {cal.ece:.1%}",
        )
        ax_count.bar(left, cal.count, width=width, align="edge", color=color, alpha=0.75, edgecolor="white")
    ax.set(title=title, ylabel="accuracy in the bin", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    ax_count.set(xlabel="confidence (top softmax probability)", ylabel="predictions")
    ax_count.set_yscale("symlog")
    ax_count.grid(alpha=0.3)
    fig.tight_layout()
    return fig
