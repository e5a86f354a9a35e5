"""Figures for ``05_regularization``: weight histograms and a penalty-strength sweep.

They take the :class:`helpers.runs.Run` objects that ``runs.train`` returns (or, for the
histograms, models or weight arrays). A colour per run, as in ``plot_histories``. Every variant's
train/validation gap is :func:`helpers.plots.runs.plot_run_results`.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from helpers import _validate
from helpers.plots.basics import COLORS
from helpers.runs import Run

__all__ = ["plot_weight_histograms", "plot_strength_sweep"]


def plot_weight_histograms(
    weights_by_run: Mapping[str, object],
    *,
    threshold: float | None = 1e-3,
    bins: int = 121,
    limit: float | None = None,
    title: str = "Kernel weights after training",
):
    """One histogram per run of all kernel weights (log counts), sharing the x axis.

    A shaded band marks ``|w| < threshold`` and each panel states the fraction inside it, so L1's
    spike at zero and L2's narrower bell are easy to compare.

    Args:
        weights_by_run: ``{name: model, Run, array or dict of arrays}``.
        threshold: the near-zero band to shade (default 1e-3; None for no band).
        bins: histogram bins (default 121, odd so that one bin is centred on zero).
        limit: x range ``[-limit, limit]``; default the 99.9th percentile of ``|w|`` over all runs.
            Weights beyond it are left out of the histogram (not piled into the edge bins); each
            panel states their share.
    """
    from helpers import regularization

    if not isinstance(weights_by_run, Mapping) or not weights_by_run:
        raise ValueError("weights_by_run must be a non-empty dict such as {'baseline': model}.")
    bins = _validate.int_at_least(bins, "bins", 3)
    flat = {}
    for name, item in weights_by_run.items():
        item = getattr(item, "model", item)  # a Run
        flat[name] = regularization.flat_weights(item)
    if limit is None:
        limit = float(np.quantile(np.abs(np.concatenate(list(flat.values()))), 0.999)) or 1.0
    edges = np.linspace(-limit, limit, bins + 1)
    n = len(flat)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.2), sharex=True, sharey=True, squeeze=False)
    for i, (ax, (name, w)) in enumerate(zip(axes.flat, flat.items())):
        inside = np.abs(w) <= limit
        ax.hist(w[inside], bins=edges, color=COLORS[i % len(COLORS)], alpha=0.85)
        ax.set_yscale("log")
        text = f"{len(w):,} weights"
        if not inside.all():
            text += f" ({np.sum(~inside):,} beyond \u00b1{limit:.2g})"
        if threshold:
            ax.axvspan(-threshold, threshold, color="black", alpha=0.15, lw=0)
            text += f"\n{regularization.near_zero_fraction(w, threshold):.0%} with |w| < {threshold:g}"
        ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=8)
        ax.set(title=name, xlabel="weight value")
        ax.locator_params(axis="x", nbins=5)
        ax.grid(alpha=0.3)
    axes.flat[0].set_ylabel("count (log scale)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_strength_sweep(
    families: Mapping[str, Mapping[float, object]],
    *,
    baseline=None,
    zero_threshold: float = 1e-3,
    min_span: float = 0.05,
    title: str = "Penalty strength sweep",
):
    """Gap, validation accuracy and near-zero weights against penalty strength (log x), per family.

    Args:
        families: ``{"L2": {1e-4: run, 1e-3: run}, "L1": {...}}`` with :class:`helpers.runs.Run` values.
        baseline: the unregularized ``Run``, drawn as a dotted horizontal line.
        zero_threshold: ``|w|`` below which a weight counts as zero (default 1e-3).
        min_span: the smallest y range of the gap and accuracy panels (default 0.05, five points),
            so that differences of a few validation images do not look large.
    """
    from helpers import regularization

    if not isinstance(families, Mapping) or not families:
        raise ValueError("families must be a non-empty dict such as {'L2': {1e-3: run}}.")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    measures = (
        ("train/val gap", lambda r: r.gap),
        ("validation accuracy", lambda r: r.val_accuracy),
        (f"fraction |w| < {zero_threshold:g}", lambda r: regularization.near_zero_fraction(r.model, zero_threshold)),
    )
    for i, (family, runs) in enumerate(families.items()):
        if not isinstance(runs, Mapping) or not runs:
            raise ValueError(f"Family {family!r} must map strengths to runs, e.g. {{1e-3: run}}.")
        if any(not isinstance(s, (int, float)) or s <= 0 for s in runs):
            raise ValueError(
                f"Strengths must be positive numbers (the x axis is logarithmic). Received for {family!r}: {list(runs)}"
            )
        bad = sorted({type(r).__name__ for r in runs.values() if not isinstance(r, Run)})
        if bad:
            raise TypeError(f"Family {family!r} must hold Run objects from runs.train. Received: {', '.join(bad)}")
        strengths = sorted(runs)
        for ax, (_, measure) in zip(axes, measures):
            ax.plot(
                strengths,
                [measure(runs[s]) for s in strengths],
                marker="o",
                color=COLORS[i % len(COLORS)],
                label=family,
            )
    for ax, (label, measure) in zip(axes, measures):
        if baseline is not None:
            ax.axhline(measure(baseline), color="gray", linestyle=":", label="no penalty")
        ax.set_xscale("log")
        ax.set(title=label.capitalize(), xlabel="penalty strength", ylabel=label)
        ax.grid(alpha=0.3)
    # Accuracy axes span at least min_span, so that a few images' difference does not fill the panel.
    for ax in axes[:2]:
        low, high = ax.get_ylim()
        if high - low < min_span:
            middle = (low + high) / 2
            ax.set_ylim(middle - min_span / 2, middle + min_span / 2)
    axes[2].set_ylim(-0.02, 1.02)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
