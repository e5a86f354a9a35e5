"""Figures for ``07_transfer_learning``: accuracy vs labelled examples per strategy, what a model
trains (frozen vs trainable parameters per layer), and two-stage (head, then fine-tune) curves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from helpers.plots.basics import COLORS, _history_dict

__all__ = ["plot_label_efficiency", "plot_trainable", "plot_transfer_curves"]


def plot_label_efficiency(
    results: Mapping[str, Mapping[int, float]],
    *,
    ylabel: str = "validation accuracy",
    title: str = "Accuracy vs number of labelled target examples",
    highlight: int | None = None,
):
    """One line per strategy: accuracy (y) for each number of labelled examples (x, log scale).

    Given a table with several draws (seeds) per number of labels, the line is their mean and a band
    shows their range.

    Args:
        results: the table of ``transfer.label_efficiency`` (``name``, ``train_size``,
            ``val_accuracy``, one row per draw), or ``{strategy: {n_labelled: accuracy}}``.
        highlight: a number of labels to mark with a vertical line (e.g. the notebook's main setting).
    """
    bands = {}
    if hasattr(results, "groupby"):  # a runs table
        from helpers.plots.runs import runs_frame

        frame = runs_frame(results, ("name", "train_size", "val_accuracy"))
        stats = frame.groupby(["name", "train_size"], sort=False)["val_accuracy"].agg(["mean", "min", "max"])
        results = {}
        for name, group in stats.groupby(level="name", sort=False):
            group = group.droplevel("name").sort_index()
            results[name] = group["mean"].to_dict()
            if (group["max"] > group["min"]).any():
                bands[name] = group
    if not results or not all(isinstance(v, Mapping) and v for v in results.values()):
        raise ValueError(
            f"results must map each strategy to a non-empty {{n_labelled: accuracy}} dict. Received: {results!r}"
        )
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (name, points) in enumerate(results.items()):
        ns = sorted(points)
        color = COLORS[i % len(COLORS)]
        ax.plot(ns, [points[n] for n in ns], marker="o", color=color, label=name)
        if name in bands:
            ax.fill_between(bands[name].index, bands[name]["min"], bands[name]["max"], color=color, alpha=0.15)
    if bands:
        ylabel = f"{ylabel} (mean; band: range over draws)"
    all_n = sorted({n for points in results.values() for n in points})
    ax.set_xscale("log")
    ax.set_xticks(all_n)
    ax.set_xticklabels([str(n) for n in all_n])
    ax.minorticks_off()
    if highlight is not None:
        ax.axvline(highlight, color="gray", linestyle=":", label=f"{highlight} labels")
    ax.set(title=title, xlabel="labelled target examples (log scale)", ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_trainable(model, *, title: str | None = None):
    """Parameters per layer (log scale), blue where they train and grey where they are frozen."""
    from helpers import transfer

    flags = transfer.trainable_layers(model)
    base = transfer.base_of(model)
    counts = {}
    for layer in [*base.layers, *(layer for layer in model.layers if layer is not base)]:
        if layer.name in flags:
            counts[layer.name] = sum(int(np.prod(w.shape)) for w in layer.weights)
    names = list(counts)
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(names) + 1.4))
    colors = [COLORS[0] if flags[n] else "#bbbbbb" for n in names]
    ax.barh(range(len(names)), [counts[n] for n in names], color=colors)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    total = transfer.trainable_counts(model)
    ax.set(
        xlabel="parameters (log scale; BatchNorm counts its frozen statistics too)",
        ylabel="layer",
        title=title
        or f"{model.name}: {total['trainable']:,} trainable (blue), {total['non_trainable']:,} frozen (grey)",
    )
    fig.tight_layout()
    return fig


def plot_transfer_curves(
    runs: Mapping[str, object], metric: str = "val_accuracy", *, title: str = "Validation accuracy during training"
):
    """Accuracy per epoch for each strategy; a run given as a list of histories (head, then
    fine-tuning) is drawn as one continuous line with a dotted line where the next stage starts."""
    if not runs:
        raise ValueError("runs is empty; pass e.g. {'from scratch': history}.")
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for i, (name, run) in enumerate(runs.items()):
        stages: Sequence = run if isinstance(run, (list, tuple)) else [run]
        values: list[float] = []
        color = COLORS[i % len(COLORS)]
        for k, stage in enumerate(stages):
            h = _history_dict(stage)
            if metric not in h:
                raise ValueError(f"Run {name!r} has no {metric!r} history. Available: {', '.join(h)}")
            if k:
                ax.axvline(len(values) + 0.5, color=color, linestyle=":", alpha=0.8)
            values += list(h[metric])
        ax.plot(np.arange(1, len(values) + 1), values, color=color, label=name)
    ax.set(title=title, xlabel="epoch", ylabel=metric.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
